/**
 * Job queue benchmark: enqueue → claim latency of agent-run jobs (embedded and remote runner, p50/p95)
 * and the wall time of 100 trivial scripted runs with 1 runner vs 2 runners. The drain of 10,000 trivial
 * jobs against graphile-worker is its own benchmark, `queue-drain` (bench/queueDrain.ts).
 */
import { performance } from 'node:perf_hooks';
import { type Benchmark, type BenchOptions, check, Cleanup, formatMs, percentile, printTable } from './lib.ts';
import { createTestUser, startTestServer, type TestServer } from '../test/helpers/server.ts';
import { initWorkRepo, gitOk, authUrl, tempDir } from '../test/helpers/git.ts';
import { startInProcessRunner, startRunnerProcess } from '../test/helpers/runner.ts';
import { createRepository, authorizeRepository, type RepositoryAccess } from '../src/services/repositories.ts';
import { startRun } from '../src/services/runs.ts';
import type { User } from '../src/db/schema.ts';
import { findUserByName } from '../src/services/users.ts';

const PROMPT = 'Trivial task.\n\n```gitoku-script\nsay hi\n```\n';

async function setup(cleanup: Cleanup): Promise<{ server: TestServer; access: RepositoryAccess; user: User }> {
  const server = await startTestServer('sqlite');
  cleanup.add('server', () => server.close());
  const test = await createTestUser(server, { username: 'bench' });
  const user = (await findUserByName(server.app.db, 'bench'))!;
  await createRepository(server.app, user, { name: 'queue' });
  const work = await tempDir('gitoku-bench-queue-');
  cleanup.add('work', () => work.remove());
  await initWorkRepo(work.path, { 'README.md': '# queue\n' });
  await gitOk(work.path, ['push', '-q', authUrl(server.url, 'bench/queue.git', 'bench', test.token), 'main']);
  const access = await authorizeRepository(server.app, 'bench', 'queue', { userId: user.id, isAdmin: false, tokenScopes: null }, 'write');
  return { server, access, user };
}

async function waitAllFinished(server: TestServer, ids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await server.app.db.selectFrom('prompt_pull_request_jobs').select('status').where('id', 'in', ids).execute();
    if (rows.every((r) => ['succeeded', 'failed', 'cancelled'].includes(r.status))) return;
    if (Date.now() > deadline) throw new Error('runs did not finish in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** enqueue → claim latency, from the job row's creation to the run's start (both stamped by the server). */
async function claimLatencies(server: TestServer, access: RepositoryAccess, user: User, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const run = await startRun(server.app, access, user, { prompt: PROMPT, title: `latency ${i}` });
    await waitAllFinished(server, [run.id], 30_000);
    const row = await server.app.db
      .selectFrom('prompt_pull_request_jobs')
      .innerJoin('jobs', 'jobs.id', 'prompt_pull_request_jobs.job_id')
      .select(['jobs.created_at as enqueued', 'prompt_pull_request_jobs.started_at as claimed'])
      .where('prompt_pull_request_jobs.id', '=', run.id)
      .executeTakeFirstOrThrow();
    samples.push(Date.parse(row.claimed!) - Date.parse(row.enqueued));
  }
  return samples;
}

async function batchWallTime(server: TestServer, access: RepositoryAccess, user: User, runs: number): Promise<number> {
  const t0 = performance.now();
  const ids: number[] = [];
  for (let i = 0; i < runs; i++) ids.push((await startRun(server.app, access, user, { prompt: PROMPT, title: `batch ${i}` })).id);
  await waitAllFinished(server, ids, 600_000);
  return performance.now() - t0;
}

export const queue: Benchmark = {
  name: 'queue',
  description: 'enqueue → claim latency (embedded and remote runner), 100 trivial scripted runs with 1 vs 2 runners',
  async run(opts: BenchOptions, cleanup: Cleanup) {
    const samples = opts.repeat ?? 30;
    const { server, access, user } = await setup(cleanup);

    const embedded = await startInProcessRunner(server, 1);
    const embeddedLatency = await claimLatencies(server, access, user, samples);
    await embedded.stop();

    const remote = await startRunnerProcess(server, 'bench-remote');
    cleanup.add('remote runner', () => remote.stop());
    const remoteLatency = await claimLatencies(server, access, user, samples);
    await remote.stop();

    const one = await startInProcessRunner(server, 1);
    const wallOne = await batchWallTime(server, access, user, 100);
    const second = await startInProcessRunner(server, 1);
    const wallTwo = await batchWallTime(server, access, user, 100);
    await Promise.all([one.stop(), second.stop()]);

    const row = (name: string, s: number[]) => [name, formatMs(percentile(s, 50)), formatMs(percentile(s, 95)), formatMs(Math.max(...s)), String(s.length)];
    printTable('enqueue → claim latency', ['runner', 'p50', 'p95', 'max', 'n'], [row('embedded', embeddedLatency), row('remote process', remoteLatency)]);
    printTable('100 trivial scripted runs', ['runners', 'wall time', 'per run'], [
      ['1', formatMs(wallOne), formatMs(wallOne / 100)],
      ['2', formatMs(wallTwo), formatMs(wallTwo / 100)],
    ]);
    return {
      checks: [
        check('claim latency p95, embedded (vs 50 ms target)', percentile(embeddedLatency, 95), 50, 1),
        check('claim latency p95, remote (vs 50 ms target)', percentile(remoteLatency, 95), 50, 1),
        check('100 runs: 2 runners / 1 runner', wallTwo, wallOne, 0.8),
      ],
      notes: ['Latency is measured from the job row being committed to the run being marked started at claim time (server clock).'],
    };
  },
};
