/**
 * The runner-protocol side of the queue drain (bench/queueDrain.ts): a gitoku server on PostgreSQL and a
 * runner-protocol client in a process of its own (bench/queueProtocolWorker.ts) that works the queue
 * with concurrency 8 over HTTP: long-polls (two, so that slots freed while one is in flight are asked
 * for by the other) claim up to four times its slots in all, running and ahead (`/claim?max=k`: batches of up to 32), carrying the
 * results of the jobs finished since (`complete` in the claim's body); results that finish while no
 * poll goes out are reported together (`POST /jobs/complete`, one request in flight at a time). The job kind is trivial (no trace, no sandbox): what is measured is the protocol and the
 * queue behind it.
 */
import { fork } from 'node:child_process';
import { resolve } from 'node:path';
import type { Cleanup } from './lib.ts';
import { CONCURRENCY, enqueueOne, type QueueSide, until, xactCommit } from './queueSides.ts';
import { startTestServer } from '../test/helpers/server.ts';
import { createRegistrationToken } from '../src/services/runners.ts';
import { finishJob, failJobAttempt, finishJobsSucceeded } from '../src/services/jobs.ts';
import { registerJobKind } from '../src/services/jobKinds.ts';
import { RunnerClient } from '../src/runner/client.ts';
import type { WorkerReport } from './queueProtocolWorker.ts';

const KIND = 'bench_runner_noop';
const WORKER = resolve(import.meta.dirname, 'queueProtocolWorker.ts');

registerJobKind(KIND, {
  prepare: async (_app, job) => JSON.parse(job.payload) as unknown,
  appendEvents: async () => undefined,
  complete: async (app, job, owner, result) => finishJob(app.db, job.id, owner, 'succeeded', { result }),
  completeMany: async (app, items, owner) => finishJobsSucceeded(app, owner, items.map(({ job, result }) => ({ id: job.id, result }))),
  fail: async (app, job, owner, error, retryable) => failJobAttempt(app.db, job, owner, error, retryable),
  cancelled: async (app, job, owner, reason) => finishJob(app.db, job.id, owner, 'cancelled', { error: reason }),
  closed: async () => undefined,
});

/**
 * The runner side runs in a process of its own, as `gitoku runner` does (bench/queueProtocolWorker.ts):
 * started and stopped over IPC, reporting how many jobs it started and had recorded, and the start
 * times of jobs whose payload carried their enqueue time.
 */
export async function startProtocolQueue(cleanup: Cleanup): Promise<QueueSide> {
  const server = await startTestServer('postgres', {}, { dispatcher: false });
  cleanup.add('runner-protocol server', () => server.close());
  const registration = await createRegistrationToken(server.app, null);
  const { token } = await RunnerClient.register(server.url, registration, 'bench-drain', [], 'bench');
  const child = fork(WORKER, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, BENCH_SERVER_URL: server.url, BENCH_RUNNER_TOKEN: token, BENCH_CONCURRENCY: String(CONCURRENCY) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  cleanup.add('runner-protocol worker process', () => void child.kill('SIGKILL'));
  let started = 0;
  let recorded = 0;
  let stopped: (() => void) | null = null;
  const latencies: number[] = [];
  child.on('message', (m: WorkerReport) => {
    started = m.started;
    recorded = m.recorded;
    latencies.push(...m.latencies);
    if (m.stopped) stopped?.();
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the runner-protocol worker exited (${code})`)));
  });
  const side: QueueSide = {
    name: 'gitoku (runner protocol)',
    latencies,
    xacts: () => xactCommit(server.env.GITOKU_DATABASE_URL!),
    enqueue: (payload) => enqueueOne(server.app, KIND, payload),
    async startWorker() {
      child.send('start');
    },
    async stopWorker() {
      await new Promise<void>((resolve) => {
        stopped = resolve;
        child.send('stop');
      });
    },
    started: () => started,
    waitRecorded: (total, timeoutMs) => until(() => recorded, total, timeoutMs),
  };
  return side;
}
