import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestServer, api, type TestServer } from '../helpers/server.ts';
import { createTestDatabase, testDialects, type TestDatabase } from '../helpers/databases.ts';
import { runCli, type CliRun } from '../helpers/cli.ts';
import { basicAuth, freePort } from './support.ts';

const BIN = resolve(import.meta.dirname, '../../bin/gitoku.js');

/** A failed run: exit code 1, a one-line "gitoku: …" message on stderr, no stack trace, nothing on stdout. */
function expectCleanFailure(run: CliRun, message: RegExp | string): void {
  expect(run.code, run.stdout + run.stderr).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(typeof message === 'string' ? new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : message);
  expect(run.stderr).not.toMatch(/^\s+at /m);
}

// Failures found before any database is opened: run once, not per dialect (each CLI start costs a second).
describe('gitoku CLI: bad arguments and configuration', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gitoku-cli-'));
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('fails clearly (exit 1, one message naming the problem, no stack trace)', { timeout: 90_000 }, async () => {
    const env = { GITOKU_DATA_DIR: dataDir };
    const cases: [string[], Record<string, string>, string | RegExp][] = [
      [['admin', 'token', 'create', '--username', 'bob', '--scopes', 'repo,superpowers'], env, 'gitoku: unknown scope "superpowers" (known: repo, admin)'],
      [['repo', 'create', 'no-slash'], env, 'gitoku: expected OWNER/NAME, got "no-slash"'],
      [['admin', 'user', 'create', '--username', 'frank', '--password', 'frank-password'], { ...env, GITOKU_PORT: 'abc' }, /GITOKU_PORT="abc": expected a port number/],
      [['serve'], { ...env, GITOKU_PORT: 'abc' }, /GITOKU_PORT="abc": expected a port number/],
      [['admin', 'token', 'create', '--username', 'bob'], { ...env, GITOKU_DATABASE_URL: 'mysql://localhost/gitoku' }, /GITOKU_DATABASE_URL="mysql:\/\/localhost\/gitoku": expected a postgres:\/\/ URL/],
    ];
    const runs = await Promise.all(cases.map(([args, e]) => runCli(args, e)));
    runs.forEach((run, i) => expectCleanFailure(run, cases[i]![2]));

    const missingOption = await runCli(['admin', 'user', 'create', '--username', 'eve'], env);
    expect(missingOption.code).not.toBe(0);
    expect(missingOption.stderr).toMatch(/required option '--password <password>' not specified/);
  });
});

describe.each(testDialects())('gitoku CLI (%s)', (dialect) => {
  let server: TestServer;
  let bobToken = '';

  beforeAll(async () => {
    server = await startTestServer(dialect);
  });

  afterAll(async () => {
    await server?.close();
  });

  it('admin user create: human output and --json', async () => {
    const [human, json] = await Promise.all([
      runCli(['admin', 'user', 'create', '--username', 'bob', '--password', 'bob-password'], server.env),
      runCli(['admin', 'user', 'create', '--username', 'carol', '--password', 'carol-password', '--email', 'carol@example.com', '--admin', '--json'], server.env),
    ]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toBe('Created user "bob".\n');
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ id: expect.any(Number), login: 'carol', email: 'carol@example.com', site_admin: true });

    // The server (sharing the database) sees them.
    expect((await api(server, 'GET', '/users/bob')).json).toMatchObject({ login: 'bob', site_admin: false });
    expect((await api(server, 'GET', '/users/carol')).json).toMatchObject({ login: 'carol', id: JSON.parse(json.stdout).id, site_admin: true });
  });

  it('admin token create: the bare token by default, {"token": …} with --json; both work against the API', async () => {
    const [human, json] = await Promise.all([
      runCli(['admin', 'token', 'create', '--username', 'bob'], server.env),
      runCli(['admin', 'token', 'create', '--username', 'bob', '--scopes', 'repo,admin', '--name', 'ci', '--expires-in-days', '30', '--json'], server.env),
    ]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^gtk_[A-Za-z0-9]{40}\n$/);
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout);
    expect(parsed).toMatchObject({ token: expect.stringMatching(/^gtk_[A-Za-z0-9]{40}$/), name: 'ci', scopes: ['repo', 'admin'], user: 'bob' });
    expect(Date.parse(parsed.expires_at)).toBeGreaterThan(Date.now() + 29 * 86400_000);
    bobToken = human.stdout.trim();
    expect(parsed.token).not.toBe(bobToken);

    for (const token of [bobToken, parsed.token]) {
      const me = await api(server, 'GET', '/user', { token });
      expect(me.status).toBe(200);
      expect(me.json.login).toBe('bob');
    }
    // Only the hash is stored.
    const rows = await server.app.db.selectFrom('access_tokens').select('token_hash').execute();
    expect(rows.map((r) => r.token_hash)).not.toContain(parsed.token);
  });

  it('repo create OWNER/NAME [--private]: through the server, printing the clone URL from its answer', async () => {
    // The CLI's own environment names no server address: the URL printed is the one the server answered.
    const [pub, priv] = await Promise.all([
      runCli(['repo', 'create', 'bob/tools', '--server', server.url, '--token', bobToken], {}),
      runCli(['repo', 'create', 'bob/secrets', '--private', '--description', 'Hidden things', '--json'], { GITOKU_URL: server.url, GITOKU_TOKEN: bobToken }),
    ]);
    expect(pub.code, pub.stderr).toBe(0);
    expect(pub.stdout).toBe(`Created public repository bob/tools\n  clone: ${server.url}/bob/tools.git\n`);
    expect(priv.code, priv.stderr).toBe(0);
    expect(JSON.parse(priv.stdout)).toMatchObject({ id: expect.any(Number), full_name: 'bob/secrets', private: true, clone_url: `${server.url}/bob/secrets.git` });

    expect((await api(server, 'GET', '/repos/bob/tools')).json).toMatchObject({ private: false, empty: true, default_branch: 'main' });
    expect((await api(server, 'GET', '/repos/bob/secrets')).status).toBe(404);
    const secrets = await api(server, 'GET', '/repos/bob/secrets', { token: bobToken });
    expect(secrets.json).toMatchObject({ private: true, description: 'Hidden things' });

    // For another owner: a site administrator's token (Gitea's POST /admin/users/{username}/repos); anyone else's is refused.
    const carolToken = (await runCli(['admin', 'token', 'create', '--username', 'carol', '--scopes', 'repo,admin'], server.env)).stdout.trim();
    const forBob = await runCli(['repo', 'create', 'bob/by-admin', '--server', server.url, '--token', carolToken], {});
    expect(forBob.code, forBob.stderr).toBe(0);
    expect(forBob.stdout).toBe(`Created public repository bob/by-admin\n  clone: ${server.url}/bob/by-admin.git\n`);
    expect((await api(server, 'GET', '/repos/bob/by-admin')).json).toMatchObject({ owner: { login: 'bob' } });
    expectCleanFailure(await runCli(['repo', 'create', 'carol/by-bob', '--server', server.url, '--token', bobToken], {}), /gitoku: POST \/admin\/users\/carol\/repos: 403/);
  });

  it('API commands without a token say how to pass one (--token / GITOKU_TOKEN); a refused token says so', async () => {
    const none = await runCli(['repo', 'create', 'bob/tokenless', '--server', server.url], {});
    expectCleanFailure(none, 'gitoku: GET /user: 401 Requires authentication');
    expect(none.stderr).toContain('--token <token>');
    expect(none.stderr).toContain('GITOKU_TOKEN');
    const bad = await runCli(['repo', 'create', 'bob/tokenless', '--server', server.url, '--token', 'gtk_not_a_real_token'], {});
    expectCleanFailure(bad, /gitoku: GET \/user: 401 .*\n {2}The token was refused/);
    expect((await api(server, 'GET', '/repos/bob/tokenless', { token: bobToken })).status).toBe(404);
  });

  it('fails clearly on unknown users, duplicates and invalid names', { timeout: 90_000 }, async () => {
    const cases: [string[], string | RegExp][] = [
      [['admin', 'token', 'create', '--username', 'nobody'], 'gitoku: user "nobody" not found'],
      [['admin', 'user', 'create', '--username', 'BOB', '--password', 'another-password'], 'gitoku: username "BOB" is already taken'],
      [['repo', 'create', 'bob/a..b', '--server', server.url, '--token', bobToken], /gitoku: POST \/user\/repos: 422 .*repository name may not contain "\.\."/],
    ];
    const runs = await Promise.all(cases.map(([args]) => runCli(args, server.env)));
    runs.forEach((run, i) => expectCleanFailure(run, cases[i]![1]));
    expect((await api(server, 'GET', '/repos/bob/a..b')).status).toBe(404);
    expect((await server.app.db.selectFrom('users').select('username').where('lower_name', '=', 'bob').execute()).length).toBe(1);
  });
});

describe.each(testDialects())('gitoku serve (%s)', (dialect) => {
  let dataDir: string;
  let database: TestDatabase;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gitoku-serve-'));
    database = await createTestDatabase(dialect);
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Starts `gitoku serve`, resolving with everything it printed once it reports that it listens. */
  function startServe(env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string }> {
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, GITOKU_DEMO: 'false', ...(database.url ? { GITOKU_DATABASE_URL: database.url } : {}), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not report listening within 20s:\n${out}`)), 20_000);
      const check = () => {
        if (/listening on /.test(out) && out.includes('\n', out.indexOf('listening on '))) {
          // Give the first-run line (printed right after) a moment.
          setTimeout(() => {
            clearTimeout(timer);
            resolvePromise({ child, output: () => out });
          }, 100);
          child.stdout!.off('data', check);
        }
      };
      child.stdout!.on('data', check);
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`serve exited with ${code}:\n${out}`));
      });
    });
  }

  async function stop(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }

  it('a port in use: exits 1 at once with a clear message, having created nothing', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const port = (holder.address() as AddressInfo).port;
    const busyDir = await mkdtemp(join(tmpdir(), 'gitoku-busy-'));
    try {
      // The demo on (the default of `npm start`): before, it was created and then kept the process alive.
      const child = spawn(process.execPath, [BIN, 'serve'], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, GITOKU_DATA_DIR: busyDir, GITOKU_PORT: String(port), GITOKU_HOST: '127.0.0.1', ...(database.url ? { GITOKU_DATABASE_URL: database.url } : {}) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((r) => {
        const timer = setTimeout(() => r(null), 20_000);
        child.once('exit', (c) => {
          clearTimeout(timer);
          r(c);
        });
      });
      expect(code, out).toBe(1);
      expect(out).toContain(`gitoku: port ${port} is already in use on 127.0.0.1`);
      expect(out).toContain('--port or GITOKU_PORT');
      expect(out).not.toContain('First run');
    } finally {
      holder.close();
      await rm(busyDir, { recursive: true, force: true });
    }
  });

  it('starts on GITOKU_PORT, answers /healthz, prints a one-time admin password on first run only', async () => {
    const port = await freePort();
    const env = { GITOKU_DATA_DIR: dataDir, GITOKU_PORT: String(port), GITOKU_HOST: '127.0.0.1' };
    const first = await startServe(env);
    const url = `http://127.0.0.1:${port}`;
    expect(first.output()).toContain(`listening on ${url}`);
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    const match = /First run: created administrator "admin" with one-time password: (\S+)/.exec(first.output());
    expect(match, first.output()).not.toBeNull();
    const password = match![1]!;
    expect(password).toMatch(/^[A-Za-z0-9]{20}$/);
    // The password is real: git Basic auth with it is accepted (404 for a missing repository), a wrong one is not (401).
    expect((await fetch(`${url}/admin/none.git/info/refs?service=git-upload-pack`, { headers: { Authorization: basicAuth('admin', password) } })).status).toBe(404);
    expect((await fetch(`${url}/admin/none.git/info/refs?service=git-upload-pack`, { headers: { Authorization: basicAuth('admin', 'wrong-password') } })).status).toBe(401);
    await stop(first.child);
    expect(first.child.exitCode).toBe(0);

    // A second start on the same data reuses the administrator: no new password.
    const port2 = await freePort();
    const second = await startServe({ ...env, GITOKU_PORT: String(port2) });
    expect((await fetch(`http://127.0.0.1:${port2}/healthz`)).status).toBe(200);
    expect(second.output()).not.toContain('First run');
    await stop(second.child);
  });
});
