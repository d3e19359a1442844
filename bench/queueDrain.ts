/**
 * Issue 19, goal 6: the job queue against graphile-worker on the same PostgreSQL, side by side in one
 * run (each side in its own fresh database, so pg_stat_database counts only its own transactions):
 *   - drain: 10,000 trivial jobs already queued, one worker process with concurrency 8:
 *       · gitoku's SQL claim path: ServerJobWorker (one statement per round trip records the finished
 *         jobs and claims the next ones; claims ahead of free slots);
 *       · gitoku's runner protocol: a runner-protocol client in its own process, over HTTP
 *         (bench/queueProtocol.ts) — long-polls handing several jobs and carrying the results of the
 *         jobs finished since, or batched completions (`POST /jobs/complete`);
 *       · graphile-worker's `run`;
 *     jobs/s and committed transactions per job (xact_commit deltas, enqueue included: one transaction
 *     per job on every side). The sides take turns, for `--repeat` rounds (default 2), so a change in
 *     the machine's load hits them alike; the drain rate is all jobs over all drain time.
 *   - latency: jobs enqueued one by one at a steady pace into an idle worker; enqueue → start p50/p95.
 * graphile-worker is not a dependency: `npm install --no-save graphile-worker@0.18` to compare.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Benchmark, type BenchCheck, type BenchOptions, check, type Cleanup, formatMs, log, percentile, printTable } from './lib.ts';
import { createTestDatabase } from '../test/helpers/databases.ts';
import { loadConfig } from '../src/config/index.ts';
import { createAppContext } from '../src/services/app.ts';
import { registerServerJobKind } from '../src/services/jobKinds.ts';
import { ServerJobWorker } from '../src/services/serverJobs.ts';
import { startProtocolQueue } from './queueProtocol.ts';
import { CONCURRENCY, DRAIN_JOBS, enqueueOne, noteStart, type QueueSide, until, waitSucceeded, xactCommit } from './queueSides.ts';

const LATENCY_JOBS = 200;
const LATENCY_GAP_MS = 10;
const KIND = 'bench_noop';

interface Result {
  name: string;
  jobs: number;
  drainMs: number;
  xacts: number;
  drainXacts: number;
  latencies: number[];
}

let sqlStarted = 0;
let sqlSide: { latencies: number[] } = { latencies: [] };
registerServerJobKind(KIND, {
  async execute(_app, job) {
    sqlStarted++;
    noteStart(sqlSide, JSON.parse(job.payload) as { t?: number });
    return { status: 'succeeded', result: null };
  },
});

/** gitoku's SQL claim path: ServerJobWorker in this process. */
async function startSqlQueue(cleanup: Cleanup): Promise<QueueSide> {
  const database = await createTestDatabase('postgres');
  cleanup.add('gitoku queue database', () => database.drop());
  const dataDir = await mkdtemp(join(tmpdir(), 'gitoku-bench-drain-'));
  cleanup.add('gitoku queue data dir', () => rm(dataDir, { recursive: true, force: true }));
  const app = await createAppContext(loadConfig({ GITOKU_DATA_DIR: dataDir, GITOKU_DATABASE_URL: database.url!, GITOKU_DEMO: 'false' }));
  cleanup.add('gitoku queue app', () => app.close());
  let worker: ServerJobWorker | null = null;
  const side: QueueSide = {
    name: 'gitoku (SQL claim path)',
    latencies: [],
    xacts: () => xactCommit(database.url!),
    enqueue: (payload) => enqueueOne(app, KIND, payload),
    async startWorker() {
      worker = new ServerJobWorker(app, { concurrency: CONCURRENCY });
      worker.start();
    },
    async stopWorker() {
      await worker?.stop();
      worker = null;
    },
    started: () => sqlStarted,
    waitRecorded: (total, timeoutMs) => waitSucceeded(app, total, timeoutMs),
  };
  sqlSide = side;
  cleanup.add('gitoku queue worker', () => side.stopWorker());
  return side;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
async function startGraphileQueue(cleanup: Cleanup): Promise<QueueSide | null> {
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
  let started = 0;
  let runner: any = null;
  const taskList = {
    noop: async (payload: { t?: number }) => {
      started++;
      noteStart(side, payload);
    },
  };
  await gw.runMigrations({ connectionString: url, logger });
  const utils = await gw.makeWorkerUtils({ connectionString: url, logger });
  cleanup.add('graphile-worker utils', () => utils.release());
  const side: QueueSide = {
    name: 'graphile-worker 0.18',
    latencies: [],
    xacts: () => xactCommit(url),
    enqueue: (payload) => utils.addJob('noop', payload, { maxAttempts: 1 }),
    async startWorker() {
      runner = await gw.run({ connectionString: url, concurrency: CONCURRENCY, taskList, logger, noHandleSignals: true, pollInterval: 2000 });
      runner.events.on('job:complete', () => done++);
    },
    async stopWorker() {
      await runner?.stop();
      runner = null;
    },
    started: () => started,
    waitRecorded: (total, timeoutMs) => until(() => done, total, timeoutMs),
  };
  cleanup.add('graphile-worker runner', () => side.stopWorker().catch(() => undefined));
  return side;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

async function fill(side: QueueSide, count: number, offset: number): Promise<void> {
  for (let i = 0; i < count; i += 100) await Promise.all(Array.from({ length: Math.min(100, count - i) }, (_, j) => side.enqueue({ i: offset + i + j })));
}

/** Enqueues DRAIN_JOBS, then times one worker draining them; returns the drain time and the transactions of both phases. */
async function drainRound(opts: BenchOptions, side: QueueSide, result: Result): Promise<void> {
  const x0 = await side.xacts();
  await fill(side, DRAIN_JOBS, result.jobs);
  // (Also lets the enqueues' wake-ups settle before the drain starts, as for every side.)
  const x1 = await side.xacts();
  const target = result.jobs + DRAIN_JOBS;
  const t0 = performance.now();
  await side.startWorker();
  await until(() => side.started(), target, 300_000);
  await side.waitRecorded(target, 60_000);
  const ms = performance.now() - t0;
  await side.stopWorker();
  result.drainMs += ms;
  result.jobs = target;
  const x2 = await side.xacts();
  result.xacts += x2 - x0;
  result.drainXacts += x2 - x1;
  log(opts, `${side.name}: drained ${DRAIN_JOBS} in ${formatMs(ms)} (load ${loadavg()[0]!.toFixed(2)})`);
}

/** Paced single enqueues into an idle worker. */
async function latencyRound(side: QueueSide, result: Result): Promise<void> {
  side.latencies.length = 0;
  const before = side.started();
  await side.startWorker();
  for (let i = 0; i < LATENCY_JOBS; i++) {
    await side.enqueue({ t: performance.timeOrigin + performance.now() });
    await new Promise((r) => setTimeout(r, LATENCY_GAP_MS));
  }
  await until(() => side.started(), before + LATENCY_JOBS, 60_000);
  await side.stopWorker();
  result.latencies = [...side.latencies];
}

/** Runs every side and returns the checks (empty, with a note, when something needed is missing). */
export async function queueDrainComparison(opts: BenchOptions, cleanup: Cleanup): Promise<{ checks: BenchCheck[]; notes: string[] }> {
  if (!process.env.GITOKU_TEST_DATABASE_URL) return { checks: [], notes: ['drain vs graphile-worker skipped: set GITOKU_TEST_DATABASE_URL (a PostgreSQL server to create databases on)'] };
  const rounds = opts.repeat ?? 2;
  const sides: QueueSide[] = [await startSqlQueue(cleanup), await startProtocolQueue(cleanup)];
  const graphile = await startGraphileQueue(cleanup);
  if (graphile) sides.push(graphile);
  const results = new Map(sides.map((s) => [s, { name: s.name, jobs: 0, drainMs: 0, xacts: 0, drainXacts: 0, latencies: [] } as Result]));
  for (let round = 0; round < rounds; round++) {
    // Take turns, starting with a different side each round.
    for (let k = 0; k < sides.length; k++) {
      const side = sides[(round + k) % sides.length]!;
      await drainRound(opts, side, results.get(side)!);
    }
  }
  for (const side of sides) await latencyRound(side, results.get(side)!);

  const perSec = (r: Result) => (r.jobs / r.drainMs) * 1000;
  const row = (r: Result) => [r.name, perSec(r).toFixed(0), (r.xacts / r.jobs).toFixed(2), (r.drainXacts / r.jobs).toFixed(2), formatMs(percentile(r.latencies, 50)), formatMs(percentile(r.latencies, 95))];
  printTable(`${DRAIN_JOBS} trivial jobs × ${rounds} rounds, one worker process, concurrency ${CONCURRENCY} (PostgreSQL)`, ['queue', 'drain jobs/s', 'xacts/job (enqueue + drain)', 'xacts/job (drain)', 'enqueue→start p50', 'p95'], [...results.values()].map(row));
  const checks: BenchCheck[] = [];
  const theirs = graphile ? results.get(graphile)! : null;
  for (const side of sides.slice(0, 2)) {
    const ours = results.get(side)!;
    const path = side === sides[0] ? 'SQL claim path' : 'runner protocol';
    checks.push(check(`${path}: transactions per job (target ≤ 3)`, ours.xacts / ours.jobs, 3, 1, 'x'), check(`${path}: enqueue→start p95 (target ≤ 10 ms)`, percentile(ours.latencies, 95), 10, 1));
    if (theirs) {
      checks.push(
        check(`${path}: drain, s per 1,000 jobs, gitoku / graphile-worker`, 1000 / perSec(ours), 1000 / perSec(theirs), 1, 's'),
        check(`${path}: transactions per job, gitoku / graphile-worker`, ours.xacts / ours.jobs, theirs.xacts / theirs.jobs, 1, 'x'),
        check(`${path}: enqueue→start p95, gitoku / graphile-worker`, percentile(ours.latencies, 95), percentile(theirs.latencies, 95), 1),
      );
    }
  }
  if (!theirs) return { checks, notes: ['graphile-worker is not installed: npm install --no-save graphile-worker@0.18 to compare'] };
  return { checks, notes: [] };
}

/** The drain comparison (`npm run bench -- queue-drain`). */
export const queueDrain: Benchmark = {
  name: 'queue-drain',
  description: '10,000-job drains (SQL claim path and runner protocol), transactions per job and enqueue→start latency vs graphile-worker (PostgreSQL: GITOKU_TEST_DATABASE_URL)',
  async run(opts, cleanup) {
    return queueDrainComparison(opts, cleanup);
  },
};
