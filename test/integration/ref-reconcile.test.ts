/**
 * Issue 12, point 4a: a push is never lost on a crash. git moves a pushed ref before gitoku's
 * transaction records it; the reconciler finds such refs on disk and reports them through the ingress,
 * exactly once (compare-and-set against repository_refs).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitCli, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { createTestDatabase, testDialects, type TestDatabase } from '../helpers/databases.ts';
import { runCli } from '../helpers/cli.ts';
import { waitFor } from '../helpers/scriptedRuns.ts';
import { freePort, refUpdatedEvents, repositoryRow } from './support.ts';
import { loadConfig } from '../../src/config/index.ts';
import { type AppContext, createAppContext } from '../../src/services/app.ts';
import { handleRepositoryRefChanges } from '../../src/services/refChanges.ts';
import { reconcileRepository } from '../../src/services/refReconciler.ts';
import { repositoryGitDir } from '../../src/services/storage.ts';
import { ZERO_SHA } from '../../src/domain/refs.ts';

const BIN = resolve(import.meta.dirname, '../../bin/gitoku.js');

const MANIFEST = `[workflow.check]
events = ["push"]
branches = ["feature"]
steps = [{ run = "echo checked" }]
`;

/** Moves a ref in the bare repository as git's receive-pack does — and as a crash leaves it: nothing recorded. */
async function moveOnDisk(gitDir: string, ref: string, sha: string): Promise<void> {
  await gitOk(gitDir, ['--git-dir', gitDir, 'update-ref', ref, sha]);
}

async function diskSha(gitDir: string, ref: string): Promise<string> {
  return (await gitOk(gitDir, ['--git-dir', gitDir, 'rev-parse', '--verify', ref])).trim();
}

describe.each(testDialects())('gitoku serve killed between the ref update and the outbox (%s)', (dialect) => {
  let dataDir: string;
  let database: TestDatabase;
  let work: { path: string; remove(): Promise<void> };
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gitoku-crash-'));
    database = await createTestDatabase(dialect);
    work = await tempDir();
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
    await work?.remove();
  });

  const baseEnv = () => ({
    GITOKU_DATA_DIR: dataDir,
    GITOKU_DEMO: 'false',
    GITOKU_HOST: '127.0.0.1',
    GITOKU_ADMIN_PASSWORD: 'admin-password-123',
    // One process: the failpoint SIGKILLs the process that serves the push (in a cluster, a worker the primary restarts).
    GITOKU_WORKERS: '1',
    ...(database.url ? { GITOKU_DATABASE_URL: database.url } : {}),
  });

  /** Starts the real `gitoku serve` (no embedded runner: workflow runs stay queued, which is what is checked). */
  async function startServe(extra: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string; exited: Promise<void>; output: () => string }> {
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'serve', '--no-embedded-runner'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...baseEnv(), GITOKU_PORT: String(port), ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    await waitFor(async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`serve exited:\n${out}`);
      return /listening on /.test(out);
    }, 30_000);
    return { child, url: `http://127.0.0.1:${port}`, exited, output: () => out };
  }

  async function stop(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }

  it('restarts and records the lost push exactly once: ref.updated, workflow run, PR sync and repository state', async () => {
    // 1. A normal server: a repository with main and a pull request feature → main; an empty second repository.
    let server = await startServe();
    const created = await runCli(['admin', 'token', 'create', '--username', 'admin'], baseEnv());
    expect(created.code, created.stderr).toBe(0);
    const token = created.stdout.trim();
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${server.url}/api/v1${path}`, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, json: (await res.json().catch(() => null)) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
    };
    expect((await call('POST', '/user/repos', { name: 'crash' })).status).toBe(201);
    expect((await call('POST', '/user/repos', { name: 'fresh' })).status).toBe(201);
    const remote = (name: string) => authUrl(server.url, `admin/${name}.git`, 'admin', token);
    await initWorkRepo(work.path, { 'README.md': '# crash\n', 'gitoku.toml': MANIFEST });
    await gitOk(work.path, ['push', '-q', remote('crash'), 'main:main']);
    await gitOk(work.path, ['checkout', '-q', '-b', 'feature']);
    const first = await commitFiles(work.path, { 'a.txt': 'one\n' }, 'feature one');
    await gitOk(work.path, ['push', '-q', remote('crash'), 'feature:feature']);
    const pr = await call('POST', '/repos/admin/crash/pulls', { title: 'Feature', head: 'feature', base: 'main' });
    expect(pr.status).toBe(201);
    await waitFor(async () => (await call('GET', '/repos/admin/crash/events?per_page=100')).json.every((e: { dispatched_at: string | null }) => e.dispatched_at));
    await stop(server.child);

    // 2. A server that dies (SIGKILL, by the test-only failpoint) after git moved the refs, before the ingress recorded them.
    server = await startServe({ GITOKU_FAILPOINT: 'after-receive-pack' });
    const second = await commitFiles(work.path, { 'a.txt': 'two\n' }, 'feature two');
    await gitOk(work.path, ['tag', 'v1']);
    const push = await gitCli(work.path, ['push', remote('crash'), 'feature:feature', 'v1:refs/tags/v1']);
    await server.exited;
    expect(server.child.signalCode).toBe('SIGKILL');
    expect(push.code).not.toBe(0);
    const crashDir = join(dataDir, 'repos', 'admin', 'crash.git');
    expect(await diskSha(crashDir, 'refs/heads/feature')).toBe(second); // git did move the refs…

    // 3. Restarted on the same data: the start-up reconcile reports them once; behaviors react as to a push.
    server = await startServe({ GITOKU_FAILPOINT: 'after-receive-pack' });
    const refEvents = async () => ((await call('GET', '/repos/admin/crash/events?type=ref.updated&per_page=100')).json as { payload: Record<string, unknown>; dispatched_at: string | null }[]).map((e): Record<string, unknown> => ({ ...e.payload, dispatched: !!e.dispatched_at }));
    await waitFor(async () => (await refEvents()).filter((e) => e.cause === 'reconcile' && e.dispatched).length === 2);
    const synced = async () => ((await call('GET', '/repos/admin/crash/events?type=pull_request.synchronized&per_page=100')).json as { payload: Record<string, unknown> }[]).filter((e) => e.payload.after === second);
    await waitFor(async () => (await synced()).length === 1);
    const reconciled = (await refEvents()).filter((e) => e.cause === 'reconcile');
    expect(reconciled).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ref: 'refs/heads/feature', before: first, after: second, created: false }),
        expect.objectContaining({ ref: 'refs/tags/v1', before: ZERO_SHA, after: second, created: true }),
      ]),
    );
    expect((await call('GET', '/repos/admin/crash/pulls/1')).json.head.sha).toBe(second);
    await waitFor(async () => (await call('GET', `/repos/admin/crash/actions/runs?head_sha=${second}`)).json.workflow_runs.length === 1);
    // Pushing again: git says everything is up to date — and now that is true.
    expect((await gitCli(work.path, ['push', remote('crash'), 'feature:feature'])).stderr).toContain('Everything up-to-date');

    // 4. The first push into the empty repository dies too (a "master" branch into a "main" repository).
    await gitOk(work.path, ['checkout', '-q', '-b', 'master', 'main']);
    const masterSha = (await gitOk(work.path, ['rev-parse', 'HEAD'])).trim();
    await gitCli(work.path, ['push', remote('fresh'), 'master:master']);
    await server.exited;
    expect(server.child.signalCode).toBe('SIGKILL');

    // 5. A normal restart: the repository's state (not empty, default branch master) comes from the reconcile;
    //    nothing is emitted twice — neither for the first crash nor for the second.
    server = await startServe();
    await waitFor(async () => (await call('GET', '/repos/admin/fresh')).json.empty === false);
    expect((await call('GET', '/repos/admin/fresh')).json).toMatchObject({ empty: false, default_branch: 'master' });
    const freshEvents = (await call('GET', '/repos/admin/fresh/events?type=ref.updated&per_page=100')).json as { payload: Record<string, unknown> }[];
    expect(freshEvents.map((e) => e.payload)).toEqual([expect.objectContaining({ ref: 'refs/heads/master', before: ZERO_SHA, after: masterSha, cause: 'reconcile' })]);
    // Give the periodic and request-triggered checks their chance to misbehave, then count again.
    await gitOk(work.path, ['ls-remote', remote('crash')]);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await refEvents()).filter((e) => e.after === second)).toHaveLength(2);
    expect(await synced()).toHaveLength(1);
    expect((await call('GET', `/repos/admin/crash/actions/runs?head_sha=${second}`)).json.workflow_runs).toHaveLength(1);
    await stop(server.child);
  }, 120_000);
});

describe.each(testDialects())('ref reconciler (%s)', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let work: { path: string; remove(): Promise<void> };
  let repoId: number;
  let gitDir: string;
  let remote: string;
  const others: AppContext[] = [];

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    const repo = await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'rec' } });
    repoId = repo.json.id;
    gitDir = repositoryGitDir(server.app, await repositoryRow(server, repoId));
    remote = authUrl(server.url, `${owner.username}/rec.git`, owner.username, owner.token);
    work = await tempDir();
    await initWorkRepo(work.path, { 'README.md': '# rec\n' });
    await gitOk(work.path, ['push', '-q', remote, 'main:main']);
  });

  afterAll(async () => {
    for (const other of others) await other.close();
    await server?.close();
    await work?.remove();
  });

  /** A new commit in the work repository (not pushed): a sha a ref can be moved to. */
  async function newCommit(label: string): Promise<string> {
    return commitFiles(work.path, { [`${label}.txt`]: `${label}\n` }, label);
  }

  async function pushObjects(sha: string): Promise<void> {
    // The objects must be in the bare repository; a scratch ref brings them, then goes (untracked namespace).
    await gitOk(work.path, ['push', '-q', remote, `${sha}:refs/scratch/objects`]);
  }

  const eventsFor = async (ref: string, after: string) => (await refUpdatedEvents(server, repoId)).filter((e) => e.ref === ref && e.after === after);

  it('reconcile twice: one event per lost change; the second finds nothing', async () => {
    const sha = await newCommit('twice');
    await pushObjects(sha);
    const before = await diskSha(gitDir, 'refs/heads/main');
    await moveOnDisk(gitDir, 'refs/heads/main', sha);
    await moveOnDisk(gitDir, 'refs/heads/lost', sha);
    const firstRun = await reconcileRepository(server.app, repoId, { settleMs: 0 });
    expect(firstRun.emitted).toEqual([
      { ref: 'refs/heads/lost', before: ZERO_SHA, after: sha },
      { ref: 'refs/heads/main', before, after: sha },
    ]);
    expect((await reconcileRepository(server.app, repoId, { settleMs: 0 })).emitted).toEqual([]);
    expect(await eventsFor('refs/heads/main', sha)).toEqual([expect.objectContaining({ before, cause: 'reconcile', actor_id: null })]);
    expect(await eventsFor('refs/heads/lost', sha)).toHaveLength(1);
    // A deletion that was never recorded is one too.
    await gitOk(gitDir, ['--git-dir', gitDir, 'update-ref', '-d', 'refs/heads/lost']);
    expect((await reconcileRepository(server.app, repoId, { settleMs: 0 })).emitted).toEqual([{ ref: 'refs/heads/lost', before: sha, after: ZERO_SHA }]);
    expect((await reconcileRepository(server.app, repoId, { settleMs: 0 })).emitted).toEqual([]);
  });

  it('reconcile concurrently with itself (in one process, and from a second server on PostgreSQL): one event per change', async () => {
    const apps = [server.app];
    if (dialect === 'postgres') {
      // A second "server": its own database pool and its own in-process turns; only the database serialises them.
      const other = await createAppContext(loadConfig(server.env));
      others.push(other);
      apps.push(other);
    }
    for (let round = 0; round < 3; round++) {
      const sha = await newCommit(`concurrent-${round}`);
      await pushObjects(sha);
      await moveOnDisk(gitDir, 'refs/heads/main', sha);
      await moveOnDisk(gitDir, `refs/tags/c${round}`, sha);
      const results = await Promise.all(apps.flatMap((app) => [0, 1, 2].map(() => reconcileRepository(app, repoId, { settleMs: 0 }))));
      expect(results.flatMap((r) => r.emitted)).toHaveLength(2);
      expect(await eventsFor('refs/heads/main', sha)).toHaveLength(1);
      expect(await eventsFor(`refs/tags/c${round}`, sha)).toHaveLength(1);
    }
  });

  it('a reconcile racing a push that records the same change: one event, with the push or the reconcile as cause', async () => {
    const repo = await repositoryRow(server, repoId);
    const app2 = dialect === 'postgres' ? others[0]! : server.app;
    for (let round = 0; round < 4; round++) {
      const sha = await newCommit(`race-${round}`);
      await pushObjects(sha);
      const before = await diskSha(gitDir, 'refs/heads/main');
      await moveOnDisk(gitDir, 'refs/heads/main', sha); // git moved it; the push's ingress call is on its way
      const [pushed, reconciled] = await Promise.all([
        handleRepositoryRefChanges(server.app, repo, [{ ref: 'refs/heads/main', before, after: sha }], { kind: 'push', actorId: owner.id }),
        reconcileRepository(app2, repoId, { settleMs: 0 }),
      ]);
      expect(pushed.length + reconciled.emitted.length).toBe(1);
      const events = await eventsFor('refs/heads/main', sha);
      expect(events).toHaveLength(1);
      expect(events[0]!.before).toBe(before);
    }
    // And a real push, while reconciles run alongside it: one event per push.
    const work2 = await tempDir();
    try {
      await gitOk(work2.path, ['clone', '-q', remote, '.']);
      const shas: string[] = [];
      for (let i = 0; i < 3; i++) {
        const sha = await commitFiles(work2.path, { 'live.txt': `${i}\n` }, `live ${i}`);
        shas.push(sha);
        const pushing = gitOk(work2.path, ['push', '-q', remote, 'HEAD:refs/heads/live']);
        const reconciling = Promise.all([0, 1, 2].map(async (k) => {
          await new Promise((r) => setTimeout(r, k * 15));
          return reconcileRepository(app2, repoId, { settleMs: 0 });
        }));
        await Promise.all([pushing, reconciling]);
      }
      await reconcileRepository(server.app, repoId, { settleMs: 0 });
      const live = (await refUpdatedEvents(server, repoId)).filter((e) => e.ref === 'refs/heads/live');
      expect(live.map((e) => e.after)).toEqual(shas);
      expect(live.map((e) => e.before)).toEqual([ZERO_SHA, shas[0], shas[1]]);
    } finally {
      await work2.remove();
    }
  });

  it('the ingress compares and sets: one lost change reported by several reconcilers and by its push emits once; a late report emits nothing', async () => {
    const repo = await repositoryRow(server, repoId);
    const app2 = dialect === 'postgres' ? others[0]! : server.app;
    const sha = await newCommit('cas');
    await pushObjects(sha);
    const before = await diskSha(gitDir, 'refs/heads/main');
    await moveOnDisk(gitDir, 'refs/heads/main', sha);
    const change = [{ ref: 'refs/heads/main', before, after: sha }];
    const results = await Promise.all([
      ...[server.app, app2, server.app].map((app) => handleRepositoryRefChanges(app, repo, change, { kind: 'reconcile', actorId: null })),
      handleRepositoryRefChanges(app2, repo, change, { kind: 'push', actorId: owner.id }),
    ]);
    expect(results.flat()).toEqual([{ ref: 'refs/heads/main', before, after: sha }]);
    expect(await eventsFor('refs/heads/main', sha)).toHaveLength(1);

    // The ref moves on (recorded by its push); the earlier report arriving only now must not move the record back.
    const later = await newCommit('cas-later');
    await pushObjects(later);
    await moveOnDisk(gitDir, 'refs/heads/main', later);
    expect(await handleRepositoryRefChanges(server.app, repo, [{ ref: 'refs/heads/main', before: sha, after: later }], { kind: 'push', actorId: owner.id })).toHaveLength(1);
    expect(await handleRepositoryRefChanges(app2, repo, change, { kind: 'push', actorId: owner.id })).toEqual([]);
    expect((await reconcileRepository(server.app, repoId, { settleMs: 0 })).emitted).toEqual([]);
    expect(await eventsFor('refs/heads/main', sha)).toHaveLength(1);
  });

  it('a git request reconciles its repository in the background', async () => {
    // A repository no git request touched yet (the check is debounced per repository).
    const created = await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'by-request', auto_init: true } });
    const dir = repositoryGitDir(server.app, await repositoryRow(server, created.json.id));
    const sha = await diskSha(dir, 'refs/heads/main');
    await moveOnDisk(dir, 'refs/heads/lost', sha);
    const lost = async () => (await refUpdatedEvents(server, created.json.id)).filter((e) => e.ref === 'refs/heads/lost');
    expect(await lost()).toHaveLength(0);
    await gitOk(work.path, ['ls-remote', authUrl(server.url, `${owner.username}/by-request.git`, owner.username, owner.token)]);
    const [event] = await waitFor(async () => {
      const found = await lost();
      return found.length ? found : null;
    }, 15_000);
    expect(event).toMatchObject({ cause: 'reconcile', created: true, after: sha });
  });

  it('baselines an existing repository (no record yet) without events; later changes compare against it', async () => {
    const sha = await newCommit('baseline');
    await pushObjects(sha);
    // As migration 0009 leaves repositories that existed before it: no recorded refs, not baselined.
    await server.app.db.deleteFrom('repository_refs').where('repository_id', '=', repoId).execute();
    await server.app.db.updateTable('repositories').set({ refs_baselined: 0 }).where('id', '=', repoId).execute();
    await moveOnDisk(gitDir, 'refs/heads/old-history', sha); // moved long ago, before the record existed
    const count = (await refUpdatedEvents(server, repoId)).length;
    const result = await reconcileRepository(server.app, repoId, { settleMs: 0 });
    expect(result).toEqual({ baselined: true, emitted: [] });
    expect((await reconcileRepository(server.app, repoId, { settleMs: 0 })).emitted).toEqual([]);
    expect((await refUpdatedEvents(server, repoId)).length).toBe(count);
    const recorded = await server.app.db.selectFrom('repository_refs').select(['ref', 'sha']).where('repository_id', '=', repoId).orderBy('ref').execute();
    expect(recorded).toContainEqual({ ref: 'refs/heads/old-history', sha });
    expect(recorded.map((r) => r.ref)).not.toContain('refs/scratch/objects');
    expect((await repositoryRow(server, repoId)).refs_baselined).toBe(1);

    // A push into a repository not baselined yet emits its changes as reported and baselines it.
    await server.app.db.updateTable('repositories').set({ refs_baselined: 0 }).where('id', '=', repoId).execute();
    await server.app.db.deleteFrom('repository_refs').where('repository_id', '=', repoId).execute();
    const next = await newCommit('after-baseline');
    await gitOk(work.path, ['push', '-q', remote, `${next}:refs/heads/old-history`]);
    expect(await eventsFor('refs/heads/old-history', next)).toEqual([expect.objectContaining({ before: sha, cause: 'push' })]);
    expect((await repositoryRow(server, repoId)).refs_baselined).toBe(1);
    expect((await reconcileRepository(server.app, repoId, { settleMs: 0 })).emitted).toEqual([]);
  });

  it('a new repository starts with an empty, complete record', async () => {
    const repo = await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'brand-new', auto_init: true } });
    const row = await repositoryRow(server, repo.json.id);
    expect(row.refs_baselined).toBe(1);
    const recorded = await server.app.db.selectFrom('repository_refs').select(['ref']).where('repository_id', '=', row.id).execute();
    expect(recorded).toEqual([{ ref: 'refs/heads/main' }]);
    expect(await reconcileRepository(server.app, row.id, { settleMs: 0 })).toEqual({ baselined: false, emitted: [] });
  });
});
