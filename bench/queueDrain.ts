/**
 * Issue 19, goal 6: the job queue against graphile-worker on the same PostgreSQL, side by side in one
 * run (each in its own fresh database, so pg_stat_database counts only its own transactions):
 *   - drain: 10,000 trivial jobs already queued, one worker process with concurrency 8 — gitoku's
 *     ServerJobWorker (the SQL claim path: batch claims, one finishing statement per job) vs
 *     graphile-worker's `run`; jobs/s and committed transactions per job (xact_commit deltas,
 *     enqueue included: one transaction per job on both sides);
 *   - latency: jobs enqueued one by one at a steady pace into an idle worker; enqueue → start p50/p95.
 * graphile-worker is not a dependency: `npm install --no-save graphile-worker@0.18` to compare.
 */
import pg from 'pg';
import { sql } from 'kysely';
import { performance } from 'node:perf_hooks';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchCheck, type BenchOptions, check, type Cleanup, formatMs, log, percentile, printTable } from './lib.ts';
import { createTestDatabase } from '../test/helpers/databases.ts';
import { loadConfig } from '../src/config/index.ts';
import { createAppContext, type AppContext } from '../src/services/app.ts';
import { enqueueJob } from '../src/services/jobs.ts';
import { registerServerJobKind } from '../src/services/jobKinds.ts';
import { ServerJobWorker } from '../src/services/serverJobs.ts';

const DRAIN_JOBS = 10_000;
const CONCURRENCY = 8;
const LATENCY_JOBS = 200;
const LATENCY_GAP_MS = 10;
const KIND = 'bench_noop';

interface Side {
  drainPerSec: number;
  xactsPerJob: number;
  drainXactsPerJob: number;
  latencies: number[];
}

/** Committed transactions of one database so far (after the statistics of finished transactions were flushed). */
async function xactCommit(url: string): Promise<number> {
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
async function until(count: () => number, target: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (count() < target) {
    if (Date.now() > deadline) throw new Error(`only ${count()} of ${target} jobs ran in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let started = 0;
const startTimes: number[] = [];
registerServerJobKind(KIND, {
  async execute(_app, job) {
    started++;
    const t = (JSON.parse(job.payload) as { t?: number }).t;
    if (t) startTimes.push(performance.timeOrigin + performance.now() - t);
    return { status: 'succeeded', result: null };
  },
});

/** One enqueue = one transaction: the row and its wake (one NOTIFY) commit together. */
async function enqueueOne(app: AppContext, payload: Record<string, unknown>): Promise<void> {
  await app.db.transaction().execute(async (tx) => {
    await enqueueJob(tx, { kind: KIND, repositoryId: null, payload, maxAttempts: 1 });
    await sql`select pg_notify('gitoku_jobs', '')`.execute(tx);
  });
}

async function gitokuSide(opts: BenchOptions, cleanup: Cleanup): Promise<Side> {
  const database = await createTestDatabase('postgres');
  cleanup.add('gitoku queue database', () => database.drop());
  const dataDir = await mkdtemp(join(tmpdir(), 'gitoku-bench-drain-'));
  cleanup.add('gitoku queue data dir', () => rm(dataDir, { recursive: true, force: true }));
  const app = await createAppContext(loadConfig({ GITOKU_DATA_DIR: dataDir, GITOKU_DATABASE_URL: database.url!, GITOKU_DEMO: 'false' }));
  cleanup.add('gitoku queue app', () => app.close());
  // Enqueue all, then drain with one worker of concurrency 8.
  const x0 = await xactCommit(database.url!);
  for (let i = 0; i < DRAIN_JOBS; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => enqueueOne(app, { i: i + j })));
  const x1 = await xactCommit(database.url!);
  started = 0;
  const worker = new ServerJobWorker(app, { concurrency: CONCURRENCY });
  const t0 = performance.now();
  worker.start();
  await until(() => started, DRAIN_JOBS, 300_000);
  // The last completions commit just after their handlers returned.
  await waitFinished(app, DRAIN_JOBS);
  const drainMs = performance.now() - t0;
  const x2 = await xactCommit(database.url!);
  log(opts, `gitoku: drained ${DRAIN_JOBS} in ${formatMs(drainMs)}`);
  // Latency: paced single enqueues into the idle worker.
  startTimes.length = 0;
  started = 0;
  for (let i = 0; i < LATENCY_JOBS; i++) {
    await enqueueOne(app, { t: performance.timeOrigin + performance.now() });
    await new Promise((r) => setTimeout(r, LATENCY_GAP_MS));
  }
  await until(() => started, LATENCY_JOBS, 60_000);
  await worker.stop();
  return { drainPerSec: (DRAIN_JOBS / drainMs) * 1000, xactsPerJob: (x2 - x0) / DRAIN_JOBS, drainXactsPerJob: (x2 - x1) / DRAIN_JOBS, latencies: [...startTimes] };
}

async function waitFinished(app: AppContext, total: number): Promise<void> {
  for (;;) {
    const r = await app.db.selectFrom('jobs').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'succeeded').executeTakeFirstOrThrow();
    if (Number(r.n) >= total) return;
    await new Promise((res) => setTimeout(res, 5));
  }
}

/* eslint-disable @typescript-eslint/no-explicit-any */
async function graphileSide(opts: BenchOptions, cleanup: Cleanup): Promise<Side | null> {
  const moduleName = 'graphile-worker';
  let gw: any;
  try {
    gw = await import(moduleName);
  } catch {
    return null;
  }
  const database = await createTestDatabase('postgres');
  cleanup.add('graphile-worker database', () => database.drop());
  const url = database.url!;
  const logger = new gw.Logger(() => () => undefined);
  let done = 0;
  let gStarted = 0;
  const gStarts: number[] = [];
  const taskList = {
    noop: async (payload: { t?: number }) => {
      gStarted++;
      if (payload?.t) gStarts.push(performance.timeOrigin + performance.now() - payload.t);
    },
  };
  await gw.runMigrations({ connectionString: url, logger });
  const utils = await gw.makeWorkerUtils({ connectionString: url, logger });
  cleanup.add('graphile-worker utils', () => utils.release());
  const x0 = await xactCommit(url);
  for (let i = 0; i < DRAIN_JOBS; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => utils.addJob('noop', { i: i + j }, { maxAttempts: 1 })));
  const x1 = await xactCommit(url);
  const runner = await gw.run({ connectionString: url, concurrency: CONCURRENCY, taskList, logger, noHandleSignals: true, pollInterval: 2000 });
  cleanup.add('graphile-worker runner', () => runner.stop().catch(() => undefined));
  runner.events.on('job:complete', () => done++);
  const t0 = performance.now();
  await until(() => done, DRAIN_JOBS, 300_000);
  const drainMs = performance.now() - t0;
  const x2 = await xactCommit(url);
  log(opts, `graphile-worker: drained ${DRAIN_JOBS} in ${formatMs(drainMs)}`);
  gStarted = 0;
  for (let i = 0; i < LATENCY_JOBS; i++) {
    await utils.addJob('noop', { t: performance.timeOrigin + performance.now() }, { maxAttempts: 1 });
    await new Promise((r) => setTimeout(r, LATENCY_GAP_MS));
  }
  await until(() => gStarted, LATENCY_JOBS, 60_000);
  await runner.stop();
  return { drainPerSec: (DRAIN_JOBS / drainMs) * 1000, xactsPerJob: (x2 - x0) / DRAIN_JOBS, drainXactsPerJob: (x2 - x1) / DRAIN_JOBS, latencies: gStarts };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Runs both sides and returns the checks (empty, with a note, when something needed is missing). */
export async function queueDrainComparison(opts: BenchOptions, cleanup: Cleanup): Promise<{ checks: BenchCheck[]; notes: string[] }> {
  if (!process.env.GITOKU_TEST_DATABASE_URL) return { checks: [], notes: ['drain vs graphile-worker skipped: set GITOKU_TEST_DATABASE_URL (a PostgreSQL server to create databases on)'] };
  const ours = await gitokuSide(opts, cleanup);
  const theirs = await graphileSide(opts, cleanup);
  const row = (name: string, s: Side) => [name, s.drainPerSec.toFixed(0), s.xactsPerJob.toFixed(2), s.drainXactsPerJob.toFixed(2), formatMs(percentile(s.latencies, 50)), formatMs(percentile(s.latencies, 95))];
  printTable(`${DRAIN_JOBS} trivial jobs, one worker process, concurrency ${CONCURRENCY} (PostgreSQL)`, ['queue', 'drain jobs/s', 'xacts/job (all)', 'xacts/job (drain)', 'enqueue→start p50', 'p95'], [
    row('gitoku (SQL claim path)', ours),
    ...(theirs ? [row('graphile-worker 0.18', theirs)] : []),
  ]);
  const checks: BenchCheck[] = [check('transactions per job (target ≤ 3)', ours.xactsPerJob, 3, 1, 'x'), check('enqueue→start p95 (target ≤ 10 ms)', percentile(ours.latencies, 95), 10, 1)];
  if (!theirs) return { checks, notes: ['graphile-worker is not installed: npm install --no-save graphile-worker@0.18 to compare'] };
  checks.push(
    check('drain: s per 1,000 jobs, gitoku / graphile-worker', 1000 / ours.drainPerSec, 1000 / theirs.drainPerSec, 1, 's'),
    check('transactions per job, gitoku / graphile-worker', ours.xactsPerJob, theirs.xactsPerJob, 1, 'x'),
    check('enqueue→start p95, gitoku / graphile-worker', percentile(ours.latencies, 95), percentile(theirs.latencies, 95), 1),
  );
  return { checks, notes: [] };
}
