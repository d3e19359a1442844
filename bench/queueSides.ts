/** What the queue-drain benchmark's sides share (bench/queueDrain.ts, bench/queueProtocol.ts). */
import pg from 'pg';
import { performance } from 'node:perf_hooks';
import type { AppContext } from '../src/services/app.ts';
import { enqueueJobAndWake } from '../src/services/jobs.ts';

export const DRAIN_JOBS = 10_000;
export const CONCURRENCY = 8;

/** One queue under test, driven the same way whatever it is. */
export interface QueueSide {
  name: string;
  /** Committed transactions of its database so far. */
  xacts(): Promise<number>;
  /** Enqueues one job (one transaction). */
  enqueue(payload: Record<string, unknown>): Promise<void>;
  /** Starts a worker (concurrency 8) that counts the jobs it starts and the ones whose completion was recorded. */
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  /** Jobs started by the workers so far. */
  started(): number;
  /** Resolves once `total` jobs were recorded finished in all. */
  waitRecorded(total: number, timeoutMs: number): Promise<void>;
  /** enqueue → start samples of jobs whose payload carried `t`. */
  readonly latencies: number[];
}

/** Committed transactions of one database so far (after the statistics of finished transactions were flushed). */
export async function xactCommit(url: string): Promise<number> {
  await new Promise((r) => setTimeout(r, 1_200));
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ n: string }>('select xact_commit::text as n from pg_stat_database where datname = current_database()');
    return Number(r.rows[0]!.n);
  } finally {
    await c.end();
  }
}

/** Resolves when `count()` reaches `target` (polled every 5 ms). */
export async function until(count: () => number, target: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (count() < target) {
    if (Date.now() > deadline) throw new Error(`only ${count()} of ${target} jobs ran in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Records the start of a job: counts it, and its enqueue → start latency when the payload carried `t`. */
export function noteStart(side: { latencies: number[] }, payload: { t?: number } | null | undefined): void {
  if (payload?.t) side.latencies.push(performance.timeOrigin + performance.now() - payload.t);
}

/** One enqueue = one transaction: the row and its wake (one NOTIFY) commit together, in one statement (as graphile-worker's addJob). */
export async function enqueueOne(app: AppContext, kind: string, payload: Record<string, unknown>): Promise<void> {
  await enqueueJobAndWake(app, { kind, repositoryId: null, payload, maxAttempts: 1 });
}

/** Counts finished jobs in the table until `total` are (the last completions commit just after their handlers returned). */
export async function waitSucceeded(app: AppContext, total: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await app.db.selectFrom('jobs').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'succeeded').executeTakeFirstOrThrow();
    if (Number(r.n) >= total) return;
    if (Date.now() > deadline) throw new Error(`only ${r.n} of ${total} jobs finished in ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 5));
  }
}
