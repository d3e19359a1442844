/**
 * A push of 3,000 branches end to end (issue 12, point 4d): from `git push` starting to the last
 * `ref.updated` event dispatched, on SQLite (and PostgreSQL with GITOKU_BENCH_DATABASE_URL or
 * GITOKU_TEST_DATABASE_URL), against the same push to a bare repository with plain `git` (no server) as
 * the reference. Target: ≤ 10 s end to end.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { type Benchmark, type BenchCheck, check, log, printTable, run, tempDir } from './lib.ts';
import { api, createTestUser, startTestServer } from '../test/helpers/server.ts';
import { authUrl, gitOk, initWorkRepo } from '../test/helpers/git.ts';

const BRANCHES = 3000;

export const refs: Benchmark = {
  name: 'refs',
  description: 'a 3,000-branch push, end to end (push + every event dispatched), vs git push to a bare repository',
  async run(opts, cleanup) {
    const dialects: ('sqlite' | 'postgres')[] = process.env.GITOKU_TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
    const work = await tempDir(cleanup, 'gitoku-bench-refs-');
    await initWorkRepo(work.path, { 'README.md': '# many\n' });
    const head = (await gitOk(work.path, ['rev-parse', 'HEAD'])).trim();
    execFileSync('git', ['update-ref', '--stdin'], { cwd: work.path, input: Array.from({ length: BRANCHES }, (_, i) => `create refs/heads/b${i} ${head}\n`).join('') });
    const bare = join(work.path, '..', `${work.path.split('/').pop()}-bare.git`);
    await run('git', ['init', '-q', '--bare', bare]);
    cleanup.add('bare repository', () => run('rm', ['-rf', bare]).then(() => undefined));
    await gitOk(work.path, ['push', '-q', bare, 'main:main']);
    const started = Date.now();
    await gitOk(work.path, ['push', '-q', bare, 'refs/heads/b*:refs/heads/b*']);
    const reference = Date.now() - started;
    const rows: string[][] = [];
    const checks: BenchCheck[] = [];
    for (const dialect of dialects) {
      log(opts, `refs: ${BRANCHES}-branch push on ${dialect}`);
      const server = await startTestServer(dialect);
      try {
        const owner = await createTestUser(server);
        const repo = await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'many' } });
        const remote = authUrl(server.url, `${owner.username}/many.git`, owner.username, owner.token);
        await gitOk(work.path, ['push', '-q', remote, 'main:main']);
        const undispatched = async () => Number((await server.app.db.selectFrom('graph_events').select((eb) => eb.fn.countAll<number>().as('n')).where('repository_id', '=', repo.json.id).where('dispatched_at', 'is', null).executeTakeFirstOrThrow()).n);
        const t0 = Date.now();
        await gitOk(work.path, ['push', '-q', remote, 'refs/heads/b*:refs/heads/b*']);
        const pushed = Date.now() - t0;
        while ((await undispatched()) > 0) await new Promise((r) => setTimeout(r, 50));
        const total = Date.now() - t0;
        rows.push([dialect, `${(pushed / 1000).toFixed(1)} s`, `${(total / 1000).toFixed(1)} s`, `${(reference / 1000).toFixed(1)} s`]);
        checks.push(check(`${BRANCHES} branches, end to end (${dialect}) / git push to a bare repository`, total, reference, Math.max(1, 10_000 / Math.max(reference, 1))));
      } finally {
        await server.close();
      }
    }
    printTable(`${BRANCHES}-branch push`, ['database', 'push returns', 'all events dispatched', 'git push (bare)'], rows);
    return { checks, notes: ['target: ≤ 10 s end to end (the check\'s target ratio is 10 s over the reference)'] };
  },
};
