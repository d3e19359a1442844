import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { createTestDatabase, testDialects, type TestDatabase } from '../helpers/databases.ts';
import { startRunnerProcess } from '../helpers/runner.ts';
import { scriptPrompt as script, waitFor } from '../helpers/scriptedRuns.ts';
import { crashReports, freePort, spawnGitoku, type GitokuProcess } from '../helpers/gitokuProcess.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createAppContext, type AppContext } from '../../src/services/app.ts';
import { startHttpServer } from '../../src/web/server.ts';
import { createUser } from '../../src/services/users.ts';
import { createAccessToken } from '../../src/services/tokens.ts';
import { createRegistrationToken, pruneStaleEmbeddedRunners, registerRunner } from '../../src/services/runners.ts';
import { releaseJob } from '../../src/services/jobs.ts';
import { startEmbeddedRunner, type EmbeddedRunner } from '../../src/runner/embedded.ts';
import { randomToken, sha256Hex } from '../../src/domain/secrets.ts';

const LEASE_MS = 3000;

async function jobOfRun(app: AppContext, number: number) {
  return app.db
    .selectFrom('jobs')
    .selectAll('jobs')
    .innerJoin('prompt_pull_request_jobs', 'prompt_pull_request_jobs.job_id', 'jobs.id')
    .where('prompt_pull_request_jobs.number', '=', number)
    .executeTakeFirstOrThrow();
}

/** Sets a runner's token hash to something no one holds (a revoked token) and returns the old hash. */
async function revokeToken(app: AppContext, runnerId: number): Promise<string> {
  const row = await app.db.selectFrom('runners').select('token_hash').where('id', '=', runnerId).executeTakeFirstOrThrow();
  await app.db.updateTable('runners').set({ token_hash: sha256Hex(randomToken(20)) }).where('id', '=', runnerId).execute();
  return row.token_hash;
}

describe.each(testDialects())('runner resilience on %s', { timeout: 60_000 }, (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let admin: TestUser;
  let work: { path: string; remove(): Promise<void> };
  const path = (p: string) => `/repos/${owner.username}/res${p}`;

  async function startRun(body: string): Promise<number> {
    const res = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script(body) } });
    expect(res.status, res.text).toBe(201);
    return res.json.number as number;
  }

  async function finished(number: number, ms = 40_000) {
    return waitFor(async () => {
      const r = await api(server, 'GET', path(`/runs/${number}`), { token: owner.token });
      return ['succeeded', 'failed', 'cancelled'].includes(r.json.status) ? r.json : null;
    }, ms);
  }

  async function running(number: number) {
    return waitFor(async () => {
      const job = await jobOfRun(server.app, number);
      return job.status === 'running' && job.lease_owner ? job : null;
    });
  }

  beforeAll(async () => {
    server = await startTestServer(dialect, { GITOKU_JOB_LEASE_MS: String(LEASE_MS) });
    owner = await createTestUser(server);
    admin = await createTestUser(server, { admin: true, scopes: ['repo', 'admin'] });
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'res' } });
    work = await tempDir();
    await initWorkRepo(work.path, { 'README.md': '# Resilience\n' });
    await gitOk(work.path, ['push', '-q', authUrl(server.url, `${owner.username}/res.git`, owner.username, owner.token), 'main']);
  });

  afterAll(async () => {
    await work?.remove();
    await server?.close();
  });

  it('a runner whose lease is lost mid-run logs it, drops the job, keeps running and completes the next jobs', async () => {
    const runner = await startRunnerProcess(server, 'lease-runner');
    try {
      const number = await startRun('sleep 5\nsay first');
      const job = await running(number);
      // Another claimer takes the job over (as after an expired lease).
      await server.app.db.updateTable('jobs').set({ lease_owner: 'runner-thief' }).where('id', '=', job.id).execute();
      await waitFor(async () => runner.output().includes(`job ${job.id}: lease lost`), 15_000);
      await waitFor(async () => runner.output().includes(`job ${job.id} dropped`), 15_000);
      // The thief hands the job back: the same runner process takes it again and finishes it.
      await releaseJob(server.app.db, job.id, 'runner-thief');
      const first = await finished(number);
      expect(first.status, runner.output()).toBe('succeeded');
      const next = await finished(await startRun('say next'));
      expect(next.status, runner.output()).toBe('succeeded');
      expect(runner.child.exitCode, runner.output()).toBeNull();
      expect(crashReports(runner.output())).toEqual([]);
    } finally {
      await runner.stop();
    }
  });

  it('an embedded runner whose token is revoked mid-run drops the job, registers again through the services and resumes', async () => {
    const lines: string[] = [];
    const embedded = await startEmbeddedRunner(server.app, server.url, 1, (l) => lines.push(l));
    try {
      const before = embedded.runnerId();
      const number = await startRun('sleep 4\nsay after revocation');
      await running(number);
      await revokeToken(server.app, before);
      await waitFor(async () => embedded.runnerId() !== before, 15_000);
      const run = await finished(number);
      expect(run.status, lines.join('\n')).toBe('succeeded');
      expect((await jobOfRun(server.app, number)).attempts).toBeGreaterThanOrEqual(2);
      expect(lines.join('\n')).toMatch(/dropped: the server rejected this runner's token/);
      expect(lines.join('\n')).toContain('registered again');
      // The new identity replaced the old record, which is gone; the new one is listed online.
      const listed = await api(server, 'GET', '/admin/runners', { token: admin.token });
      expect(listed.status, listed.text).toBe(200);
      const ids = listed.json.map((r: { id: number }) => r.id);
      expect(ids).not.toContain(before);
      expect(listed.json.find((r: { id: number }) => r.id === embedded.runnerId())).toMatchObject({ embedded: true, online: true });
      expect((await finished(await startRun('say again'))).status).toBe('succeeded');
    } finally {
      await embedded.stop();
    }
    // A clean stop leaves no record behind.
    expect(await server.app.db.selectFrom('runners').select('id').where('id', '=', embedded.runnerId()).executeTakeFirst()).toBeUndefined();
  });

  it('a remote runner started with a runner token keeps retrying, with a clear message, while its token is refused', async () => {
    const registered = (await registerRunner(server.app, await createRegistrationToken(server.app, null), { name: 'token-runner', labels: [], version: 'test' }))!;
    const runner = await spawnGitoku(['runner', '--server', server.url, '--token', registered.token, '--name', 'token-runner'], {}, /polling/);
    try {
      const hash = await revokeToken(server.app, registered.runner.id);
      const number = await startRun('say waited for a runner');
      const refusals = () => runner.output().split('restart it with a registration token').length - 1;
      await waitFor(async () => refusals() >= 2, 20_000);
      expect(runner.child.exitCode, runner.output()).toBeNull();
      // Refused, it took no job.
      expect((await jobOfRun(server.app, number)).status).toBe('queued');
      // Once the token is accepted again (here: restored), the same process resumes work.
      await server.app.db.updateTable('runners').set({ token_hash: hash }).where('id', '=', registered.runner.id).execute();
      const run = await finished(number);
      expect(run.status, runner.output()).toBe('succeeded');
      expect(crashReports(runner.output())).toEqual([]);
    } finally {
      await runner.stop();
    }
  });

  it('a remote runner started with a registration token registers again after its record is deleted mid-run', async () => {
    const runner = await startRunnerProcess(server, 'reg-runner');
    try {
      const number = await startRun('sleep 4\nsay re-registered');
      const job = await running(number);
      const id = Number(job.lease_owner!.replace('runner-', ''));
      await server.app.db.deleteFrom('runners').where('id', '=', id).execute();
      const run = await finished(number);
      expect(run.status, runner.output()).toBe('succeeded');
      expect(runner.output().match(/Registered runner #/g)?.length).toBeGreaterThanOrEqual(2);
      expect(runner.child.exitCode).toBeNull();
      expect(crashReports(runner.output())).toEqual([]);
    } finally {
      await runner.stop();
    }
  });

  // Two servers in one process on one SQLite file can stall each other: better-sqlite3 waits for the write
  // lock synchronously, while the other handle's open transaction needs this same thread to finish (a
  // 5 s stall, then SQLITE_BUSY). Servers sharing a SQLite database are separate processes: tested below.
  it.skipIf(dialect === 'sqlite')('two servers on one database each run an embedded runner: both keep their identity and work; stale embedded records are pruned', async () => {
    const app2 = await createAppContext(loadConfig(server.env));
    const server2 = await startHttpServer(app2, '127.0.0.1', 0);
    let a: EmbeddedRunner | null = null;
    let b: EmbeddedRunner | null = null;
    try {
      const stale = new Date(Date.now() - 3_600_000).toISOString();
      const staleEmbedded = await server.app.db.insertInto('runners').values({ name: 'embedded@gone', token_hash: sha256Hex(randomToken(20)), labels: '[]', version: 'embedded', embedded: 1, busy_jobs: 0, last_seen_at: stale, created_at: stale }).returning('id').executeTakeFirstOrThrow();
      const staleRemote = await server.app.db.insertInto('runners').values({ name: 'remote@gone', token_hash: sha256Hex(randomToken(20)), labels: '[]', version: '', embedded: 0, busy_jobs: 0, last_seen_at: stale, created_at: stale }).returning('id').executeTakeFirstOrThrow();
      a = await startEmbeddedRunner(server.app, server.url, 1, () => undefined);
      b = await startEmbeddedRunner(app2, server2.url, 1, () => undefined);
      expect(a.runnerId()).not.toBe(b.runnerId());
      // Starting an embedded runner pruned the long-gone embedded record; the remote one is an administrator's to delete.
      const ids = (await server.app.db.selectFrom('runners').select('id').execute()).map((r) => r.id);
      expect(ids).toEqual(expect.arrayContaining([a.runnerId(), b.runnerId(), staleRemote.id]));
      expect(ids).not.toContain(staleEmbedded.id);
      expect(await pruneStaleEmbeddedRunners(server.app)).toBe(0);

      const numbers = await Promise.all([startRun('sleep 1\nsay one'), startRun('sleep 1\nsay two'), startRun('say three')]);
      for (const n of numbers) expect((await finished(n)).status).toBe('succeeded');
      const listed = await api(server, 'GET', '/admin/runners', { token: admin.token });
      for (const id of [a.runnerId(), b.runnerId()]) expect(listed.json.find((r: { id: number }) => r.id === id)).toMatchObject({ embedded: true, online: true });
      expect(listed.json.find((r: { id: number }) => r.id === staleRemote.id)).toMatchObject({ embedded: false, online: false });
    } finally {
      await a?.stop();
      await b?.stop();
      await server2.close();
      await app2.close();
    }
  });
});

describe.each(testDialects())('gitoku serve processes on one %s database', (dialect) => {
  let database: TestDatabase;
  let dataDir: string;
  const children: GitokuProcess[] = [];

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    dataDir = await mkdtemp(join(tmpdir(), 'gitoku-resilience-'));
  });

  afterAll(async () => {
    for (const c of children) await c.stop();
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a second server does not take the first one\'s runner identity, and a revoked runner token does not kill the server', async () => {
    const env = { GITOKU_DATA_DIR: dataDir, GITOKU_DEMO: 'false', GITOKU_HOST: '127.0.0.1', GITOKU_JOB_LEASE_MS: String(LEASE_MS), ...(database.url ? { GITOKU_DATABASE_URL: database.url } : {}) };
    const portA = await freePort();
    const a = await spawnGitoku(['serve'], { ...env, GITOKU_PORT: String(portA) }, /listening on .*\n/);
    children.push(a);
    const urlA = `http://127.0.0.1:${portA}`;
    const app = await createAppContext(loadConfig(env));
    let work: { path: string; remove(): Promise<void> } | null = null;
    try {
      const user = await createUser(app, { username: 'alice', password: 'correct-horse-battery', isAdmin: true });
      const { token } = await createAccessToken(app, { userId: user.id, name: 't', scopes: ['repo', 'admin'] });
      const call = async (method: string, p: string, body?: unknown) => {
        const res = await fetch(`${urlA}/api/v1${p}`, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
        return { status: res.status, json: (await res.json().catch(() => null)) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
      };
      expect((await call('POST', '/user/repos', { name: 'two' })).status).toBe(201);
      work = await tempDir();
      await initWorkRepo(work.path, { 'a.txt': 'a\n' });
      await gitOk(work.path, ['push', '-q', authUrl(urlA, 'alice/two.git', 'alice', token), 'main']);
      const embeddedOf = async (pid: number) => (await call('GET', '/admin/runners')).json.find((r: { name: string }) => r.name.includes(`/${pid}-`)) as { id: number; online: boolean } | undefined;
      const runnerA = await waitFor(() => embeddedOf(a.child.pid!));

      const started = await call('POST', '/repos/alice/two/runs', { prompt: script('sleep 4\nsay done') });
      expect(started.status).toBe(201);
      await waitFor(async () => (await call('GET', `/repos/alice/two/runs/${started.json.number}`)).json.status === 'running');

      // A second server on the same database (this used to replace the first one's runner and kill it)…
      const portB = await freePort();
      const b = await spawnGitoku(['serve'], { ...env, GITOKU_PORT: String(portB) }, /listening on .*\n/);
      children.push(b);
      const runnerB = await waitFor(() => embeddedOf(b.child.pid!));
      expect(runnerB.id).not.toBe(runnerA.id);
      expect(await embeddedOf(a.child.pid!)).toMatchObject({ id: runnerA.id });
      // …and then the first server's runner token is revoked mid-job: its runner cannot report that job.
      await revokeToken(app, runnerA.id);

      const run = await waitFor(async () => {
        const r = await call('GET', `/repos/alice/two/runs/${started.json.number}`);
        return ['succeeded', 'failed', 'cancelled'].includes(r.json.status) ? r.json : null;
      }, 40_000);
      expect(run.status, a.output()).toBe('succeeded');
      expect(a.child.exitCode, a.output()).toBeNull();
      expect((await fetch(`${urlA}/healthz`)).status).toBe(200);
      // The first server's runner registered again under a new identity; both servers' runners are listed online.
      await waitFor(async () => (await embeddedOf(a.child.pid!))?.id !== runnerA.id, 15_000);
      expect(await embeddedOf(a.child.pid!)).toMatchObject({ online: true });
      expect(await embeddedOf(b.child.pid!)).toMatchObject({ id: runnerB.id, online: true });
      expect(a.output()).toContain('registered again');
      expect(crashReports(a.output() + b.output())).toEqual([]);

      const next = await call('POST', '/repos/alice/two/runs', { prompt: script('say next') });
      await waitFor(async () => (await call('GET', `/repos/alice/two/runs/${next.json.number}`)).json.status === 'succeeded', 30_000);

      // Both stop cleanly and leave no runner record behind.
      for (const c of [a, b]) {
        const exited = new Promise<number | null>((r) => c.child.once('exit', (code) => r(code)));
        c.child.kill('SIGTERM');
        expect(await exited).toBe(0);
      }
      expect(await app.db.selectFrom('runners').select('id').where('embedded', '=', 1).execute()).toEqual([]);
    } finally {
      await work?.remove();
      await app.close();
    }
  }, 120_000);
});

describe('process guards of gitoku serve and gitoku runner', () => {
  /** Runs a small program that installs the guards (as serve and runner do) and then misbehaves. */
  function guarded(misbehave: string): Promise<{ code: number | null; out: string }> {
    const program = `import { register } from 'tsx/esm/api'; register();
const { installProcessGuards } = await import(${JSON.stringify(resolve(import.meta.dirname, '../../src/cli/processGuards.ts'))});
installProcessGuards('test');
${misbehave}
setTimeout(() => { console.log('still alive'); }, 300);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', program], { cwd: resolve(import.meta.dirname, '../..'), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    return new Promise((r) => child.on('exit', (code) => r({ code, out })));
  }

  it('an unhandled rejection is logged loudly and the process keeps running', async () => {
    const { code, out } = await guarded("Promise.reject(new Error('report refused'));");
    expect(out).toMatch(/\[test\] BUG: unhandled promise rejection .*report refused/);
    expect(out).toContain('still alive');
    // The tests' crash check finds this line, and not a random token that happens to spell "bug".
    expect(crashReports(out)).toHaveLength(1);
    expect(crashReports('Registered runner #6. Its token: gtr_i8N7fvrzUPLnOa0XODRFd0MZSxesfjNvnJCbuG3U\n')).toEqual([]);
    expect(code).toBe(0);
  });

  it('an uncaught exception is still fatal', async () => {
    const { code, out } = await guarded("setTimeout(() => { throw new Error('broken state'); }, 10);");
    expect(out).toContain('broken state');
    expect(out).not.toContain('still alive');
    expect(code).not.toBe(0);
  });
});
