/**
 * A ServerJobWorker in a process of its own, for crash tests (test/integration/queue-worker.test.ts):
 * opens the database named by the environment (GITOKU_DATA_DIR, GITOKU_DATABASE_URL), runs jobs of kind
 * `test_child_slow` — each never finishes by itself — with QUEUE_CONCURRENCY slots, QUEUE_PREFETCH
 * claimed ahead and leases of QUEUE_LEASE_MS, and prints `started <id>` as each job starts. The test
 * SIGKILLs it: a crash with jobs running and jobs claimed but not started.
 */
import { loadConfig } from '../../src/config/index.ts';
import { createAppContext } from '../../src/services/app.ts';
import { registerServerJobKind } from '../../src/services/jobKinds.ts';
import { ServerJobWorker } from '../../src/services/serverJobs.ts';

registerServerJobKind('test_child_slow', {
  execute: (_app, job, signal) =>
    new Promise((resolve) => {
      console.log(`started ${job.id}`);
      signal.addEventListener('abort', () => resolve({ status: 'retry', error: 'stopped' }));
    }),
});

const app = await createAppContext(loadConfig(process.env));
const worker = new ServerJobWorker(app, { concurrency: Number(process.env.QUEUE_CONCURRENCY), prefetch: Number(process.env.QUEUE_PREFETCH), leaseMs: Number(process.env.QUEUE_LEASE_MS) });
worker.start();
console.log('worker ready');
