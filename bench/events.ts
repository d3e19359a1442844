/**
 * Event dispatch benchmark: events per second through the registry with the four first behaviors
 * registered (their effects replaced by no-op sinks), and the p95 latency from a `git push` returning
 * to the AI review job being enqueued (real behaviors: ref.updated → PR refresh → synchronized → review).
 */
import { performance } from 'node:perf_hooks';
import { type Benchmark, type BenchOptions, check, Cleanup, formatMs, percentile, printTable, tempDir } from './lib.ts';
import { api, createTestUser, startTestServer } from '../test/helpers/server.ts';
import { authUrl, commitFiles, gitOk, initWorkRepo } from '../test/helpers/git.ts';
import { Dispatcher } from '../src/events/dispatcher.ts';
import { BehaviorRegistry } from '../src/events/registry.ts';
import { builtInBehaviors } from '../src/events/behaviors/index.ts';
import { appendEvents } from '../src/events/outbox.ts';
import { createRepository } from '../src/services/repositories.ts';
import { findUserByName } from '../src/services/users.ts';

const FIRST_FOUR = ['branch-workflows', 'pull-request-workflows', 'pull-request-review', 'pull-request-conflicts'];

async function throughput(cleanup: Cleanup, count: number): Promise<number> {
  const server = await startTestServer('sqlite', {}, { dispatcher: false });
  cleanup.add('throughput server', () => server.close());
  await createTestUser(server, { username: 'sink' });
  const user = (await findUserByName(server.app.db, 'sink'))!;
  const repo = await createRepository(server.app, user, { name: 'sink' });
  const registry = new BehaviorRegistry();
  for (const b of builtInBehaviors().all().filter((x) => FIRST_FOUR.includes(x.key))) registry.register({ ...b, run: async () => ({ outcome: 'sink' }) });
  const at = new Date().toISOString();
  for (let i = 0; i < count; i += 1000) {
    await server.app.db.transaction().execute((tx) =>
      appendEvents(
        tx,
        Array.from({ length: Math.min(1000, count - i) }, (_, k) =>
          (i + k) % 2 === 0
            ? { type: 'ref.updated', repositoryId: repo.id, subject: 'refs/heads/main', payload: { ref: 'refs/heads/main', before: '1'.repeat(40), after: '2'.repeat(40) } }
            : { type: 'pull_request.synchronized', repositoryId: repo.id, subject: 'pull/1', payload: { pull_request_id: 1, after: '2'.repeat(40) } },
        ),
        at,
      ),
    );
  }
  const dispatcher = new Dispatcher(server.app, registry);
  const t0 = performance.now();
  let handled = 0;
  while (handled < count) handled += await dispatcher.dispatchBatch();
  const seconds = (performance.now() - t0) / 1000;
  const runs = Number((await server.app.db.selectFrom('behavior_runs').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  if (runs !== count * 2) throw new Error(`expected ${count * 2} behavior runs, got ${runs}`);
  return count / seconds;
}

async function pushToReviewLatency(cleanup: Cleanup, samples: number): Promise<number[]> {
  const server = await startTestServer('sqlite');
  cleanup.add('latency server', () => server.close());
  const owner = await createTestUser(server, { username: 'lat' });
  await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'lat' } });
  // Automatic reviews are off until a repository names its reviewer: the offline scripted one here.
  await api(server, 'PATCH', '/repos/lat/lat', { token: owner.token, body: { ai_reviews_enabled: true, review_driver: 'script' } });
  const work = await tempDir(cleanup, 'gitoku-bench-events-');
  await initWorkRepo(work.path, { 'README.md': '# lat\n' });
  const remote = authUrl(server.url, 'lat/lat.git', 'lat', owner.token);
  await gitOk(work.path, ['push', '-q', remote, 'main']);
  await gitOk(work.path, ['checkout', '-q', '-b', 'feature']);
  await commitFiles(work.path, { 'f.txt': 'start\n' }, 'start');
  await gitOk(work.path, ['push', '-q', remote, 'feature']);
  const pr = await api(server, 'POST', '/repos/lat/lat/pulls', { token: owner.token, body: { title: 'latency', head: 'feature', base: 'main' } });
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const sha = await commitFiles(work.path, { 'f.txt': `change ${i}\n` }, `change ${i}`);
    await gitOk(work.path, ['push', '-q', remote, 'feature']);
    const t0 = performance.now();
    for (;;) {
      const job = await server.app.db.selectFrom('jobs').select('id').where('dedup_key', '=', `review:${pr.json.id}:${sha}`).executeTakeFirst();
      if (job) break;
      if (performance.now() - t0 > 10_000) throw new Error('no review job within 10 s');
      await new Promise((r) => setTimeout(r, 1));
    }
    out.push(performance.now() - t0);
  }
  return out;
}

export const events: Benchmark = {
  name: 'events',
  description: 'events/s through the registry (four behaviors, no-op sinks) and git push → review job enqueued latency',
  async run(opts: BenchOptions, cleanup: Cleanup) {
    const perSecond = await throughput(cleanup, 20_000);
    const latency = await pushToReviewLatency(cleanup, opts.repeat ?? 20);
    printTable('dispatch', ['measure', 'value'], [
      ['events dispatched per second (SQLite, 4 behaviors, no-op sinks)', perSecond.toFixed(0)],
      ['push → review job enqueued, p50', formatMs(percentile(latency, 50))],
      ['push → review job enqueued, p95', formatMs(percentile(latency, 95))],
    ]);
    return {
      checks: [
        // Higher is better: compare the target with the figure so that ≤ 1 passes.
        check('events/s: 5,000 target / measured', 5000, perSecond, 1, 'events/s'),
        check('push → review enqueued p95 (vs 50 ms target)', percentile(latency, 95), 50, 1),
      ],
    };
  },
};
