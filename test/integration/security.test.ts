import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { startTestServer, createTestUser, api, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { authUrl, commitFiles, gitCli, gitOk, tempDir } from '../helpers/git.ts';
import { createAccessToken } from '../../src/services/tokens.ts';
import { createSession, deleteExpiredSessions } from '../../src/services/sessions.ts';
import { sha256Hex } from '../../src/domain/secrets.ts';
import { basicAuth, rawRequest } from './support.ts';

/** Every file and directory under `dir`, relative to it. */
async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String).sort();
}

describe.each(testDialects())('bad input and security (%s)', (dialect) => {
  let server: TestServer;
  let work: Awaited<ReturnType<typeof tempDir>>;
  let owner: TestUser;
  let stranger: TestUser;
  let admin: TestUser;

  beforeAll(async () => {
    server = await startTestServer(dialect);
    work = await tempDir();
    [owner, stranger, admin] = await Promise.all([createTestUser(server), createTestUser(server), createTestUser(server, { admin: true, scopes: ['repo', 'admin'] })]);
    for (const [name, isPrivate] of [
      ['hidden', true],
      ['open', false],
    ] as const) {
      const res = await api(server, 'POST', '/user/repos', { token: owner.token, body: { name, private: isPrivate, auto_init: true } });
      expect(res.status, res.text).toBe(201);
    }
  });

  afterAll(async () => {
    await server?.close();
    await work?.remove();
  });

  const gitInfoRefs = (path: string, headers: Record<string, string> = {}) => fetch(`${server.url}/${path}/info/refs?service=git-upload-pack`, { headers });

  describe('private repositories are invisible', () => {
    it('API: 404 (not 403) for strangers and anonymous callers, exactly like a missing repository', async () => {
      const hidden = `/repos/${owner.username}/hidden`;
      const missing = `/repos/${owner.username}/no-such-repo`;
      for (const token of [stranger.token, undefined]) {
        const a = await api(server, 'GET', hidden, { token });
        const b = await api(server, 'GET', missing, { token });
        expect(a.status).toBe(404);
        expect(a.json).toEqual(b.json);
        expect((await api(server, 'GET', `${hidden}/branches`, { token })).status).toBe(404);
        expect((await api(server, 'GET', `${hidden}/branches/main`, { token })).status).toBe(404);
      }
      // Writes to it are 404 too, not 403: nothing says it exists.
      expect((await api(server, 'PATCH', hidden, { token: stranger.token, body: { description: 'x' } })).status).toBe(404);
      expect((await api(server, 'DELETE', hidden, { token: stranger.token })).status).toBe(404);
      expect((await api(server, 'PUT', `${hidden}/collaborators/${stranger.username}`, { token: stranger.token, body: { permission: 'push' } })).status).toBe(404);
      // It does not show up in the owner's public listing either.
      const listing = await api(server, 'GET', `/users/${owner.username}/repos`, { token: stranger.token });
      expect(listing.json.map((r: { name: string }) => r.name)).toEqual(['open']);
      expect((await api(server, 'GET', hidden, { token: owner.token })).status).toBe(200);
    });

    it('git: 404 for strangers, a 401 challenge for anonymous clients (same as for a missing repository)', async () => {
      const asStranger = { Authorization: basicAuth(stranger.username, stranger.token) };
      const hidden = await gitInfoRefs(`${owner.username}/hidden.git`, asStranger);
      const missing = await gitInfoRefs(`${owner.username}/no-such-repo.git`, asStranger);
      expect(hidden.status).toBe(404);
      expect(await hidden.text()).toBe(await missing.text());
      expect(missing.status).toBe(404);

      for (const path of [`${owner.username}/hidden.git`, `${owner.username}/no-such-repo.git`]) {
        const anonymous = await gitInfoRefs(path);
        expect(anonymous.status, path).toBe(401);
        expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      }

      const clone = await gitCli(work.path, ['clone', authUrl(server.url, `${owner.username}/hidden.git`, stranger.username, stranger.token), join(work.path, 'stolen')]);
      expect(clone.code).not.toBe(0);
      expect(existsSync(join(work.path, 'stolen', 'README.md'))).toBe(false);
      expect((await gitInfoRefs(`${owner.username}/hidden.git`, { Authorization: basicAuth(owner.username, owner.token) })).status).toBe(200);
    });
  });

  describe('names', () => {
    const badRepoNames = ['..', 'a..b', 'x.git.git', 'x.git', 'has space', 'a'.repeat(101), '.', '-leading-dash', 'a/b', '../../escape', 'semi;colon', 'ünïcode', ''];

    it.each(badRepoNames)('rejects the repository name %j with 422 naming the field', async (name) => {
      const res = await api(server, 'POST', '/user/repos', { token: owner.token, body: { name } });
      expect(res.status).toBe(422);
      expect(res.json.message).toMatch(/name/);
      expect(res.json.errors).toEqual([expect.objectContaining({ field: 'name' })]);
    });

    it('rejects invalid names on rename too, and nothing lands outside the repositories directory', async () => {
      for (const name of ['..', 'a..b', 'x.git.git', 'with space', 'b'.repeat(101)]) {
        const res = await api(server, 'PATCH', `/repos/${owner.username}/open`, { token: owner.token, body: { name } });
        expect(res.status, name).toBe(422);
        expect(res.json.errors[0].field).toBe('name');
      }
      expect(await listTree(join(server.dataDir, 'repos'))).not.toContainEqual(expect.stringMatching(/escape|\.\./));
      expect(existsSync(join(server.dataDir, 'escape.git'))).toBe(false);
      expect(existsSync(join(dirname(server.dataDir), 'escape.git'))).toBe(false);
      expect((await api(server, 'GET', `/repos/${owner.username}/open`, { token: owner.token })).json.name).toBe('open');
    });

    it('rejects invalid usernames with 422 naming the field', async () => {
      for (const login of ['..', 'a..b', 'has space', 'x'.repeat(40), '-dash', 'api', 'a/b']) {
        const res = await api(server, 'POST', '/admin/users', { token: admin.token, body: { login, password: 'long-enough-password' } });
        expect(res.status, login).toBe(422);
        expect(res.json.errors).toEqual([expect.objectContaining({ field: 'login' })]);
        expect(res.json.message).toMatch(/login|username/);
      }
      const ok = await api(server, 'POST', '/admin/users', { token: admin.token, body: { login: 'valid-name', password: 'long-enough-password' } });
      expect(ok.status, ok.text).toBe(201);
      for (const login of ['a..b', 'x.git.git', 'has%20space']) expect((await api(server, 'GET', `/users/${login}`)).status).toBe(404);
    });
  });

  describe('path traversal in URL components', () => {
    const traversalPaths = () => [
      '/api/v1/repos/..%2F..%2Fetc/passwd',
      `/api/v1/repos/${owner.username}/..%2F..%2Fetc`,
      `/api/v1/repos/${owner.username}%2Fopen`,
      `/api/v1/repos/${owner.username}/open%2F..%2F..%2Fhidden`,
      `/api/v1/repos/${owner.username}/open/branches/..%2F..%2F..%2Fetc%2Fpasswd`,
      `/api/v1/repos/${owner.username}/open/branches/%2e%2e/%2e%2e/HEAD`,
      '/api/v1/users/..%2F..%2Fetc',
      '/api/v1/repos/%00/x',
      `/api/v1/repos/${owner.username}/open%00`,
      '/api/v1/users/a%00b',
      '/api/v1/users/a%00b/repos',
      '/%2e%2e/x.git/info/refs?service=git-upload-pack',
      '/%2e%2e/%2e%2e/etc.git/info/refs?service=git-upload-pack',
      `/${owner.username}/..%2Fhidden.git/info/refs?service=git-upload-pack`,
      `/${owner.username}/%2e%2e%2F%2e%2e%2Fescape.git/info/refs?service=git-receive-pack`,
      `/${owner.username}%2Fopen.git/info/refs?service=git-upload-pack`,
      `/${owner.username}/open%00.git/info/refs?service=git-upload-pack`,
      `/${owner.username}/open%E0%A4%A.git/info/refs?service=git-upload-pack`,
      '/../../etc/passwd',
    ];

    it('answers 400/404 without a 5xx and touches nothing outside the data directory', async () => {
      for (const path of traversalPaths()) {
        const res = await rawRequest(server.url, path, { headers: { Authorization: `Bearer ${owner.token}` } });
        expect([400, 404], `${path} → ${res.status} ${res.text.slice(0, 200)}`).toContain(res.status);
        expect(res.text).not.toMatch(/root:x:0:0/);
      }
      // Pushes to traversal-looking repository paths are refused before git runs.
      for (const path of [`/${owner.username}/..%2F..%2Fescape.git/git-receive-pack`, '/%2e%2e/escape.git/git-receive-pack']) {
        const res = await rawRequest(server.url, path, {
          method: 'POST',
          headers: { Authorization: basicAuth(owner.username, owner.token), 'Content-Type': 'application/x-git-receive-pack-request' },
          body: '0000',
        });
        // (A path the URL parser normalises may land on a browser form route, which refuses it without a CSRF token: 403.)
        expect([400, 403, 404], path).toContain(res.status);
      }
      // Repositories live only under repos/<owner>/, and nothing was created next to the data directory.
      expect(await readdir(join(server.dataDir, 'repos'))).toEqual([owner.username.toLowerCase()]);
      expect((await readdir(join(server.dataDir, 'repos', owner.username.toLowerCase()))).sort()).toEqual(['hidden.git', 'open.git']);
      expect(await listTree(server.dataDir)).not.toContainEqual(expect.stringMatching(/escape|passwd|(^|\/)etc(\/|$)/));
      for (const name of ['escape', 'escape.git', 'etc.git', 'x.git', 'hidden.git']) {
        expect(existsSync(join(dirname(server.dataDir), name)), name).toBe(false);
        expect(existsSync(join(server.dataDir, name)), name).toBe(false);
      }
    });
  });

  describe('git service parameter', () => {
    it('refuses option-looking and unknown services (403/400) and never runs them', async () => {
      const marker = join(work.path, 'pwned');
      const base = `${server.url}/${owner.username}/open.git`;
      for (const service of [`--upload-pack=touch ${marker}`, `git-upload-pack --upload-pack=touch ${marker}`, 'git-upload-archive', 'upload-pack', 'git-daemon', '']) {
        const res = await fetch(`${base}/info/refs?service=${encodeURIComponent(service)}`, { headers: { Authorization: basicAuth(owner.username, owner.token) } });
        expect([400, 403], service).toContain(res.status);
      }
      const dumb = await fetch(`${base}/info/refs`);
      expect([400, 403]).toContain(dumb.status);
      for (const service of ['git-upload-archive', `--upload-pack=touch ${marker}`]) {
        const res = await fetch(`${base}/${encodeURIComponent(service)}`, { method: 'POST', headers: { 'Content-Type': `application/x-${service}-request` }, body: '0000' });
        expect([400, 403, 404], service).toContain(res.status);
      }
      // A Git-Protocol header carrying options is ignored, not passed to git.
      const v = await fetch(`${base}/info/refs?service=git-upload-pack`, { headers: { 'Git-Protocol': `version=2 --upload-pack=touch ${marker}` } });
      expect(v.status).toBe(200);
      expect(await v.text()).toContain('# service=git-upload-pack');
      // A request body of the wrong type is refused.
      const wrongType = await fetch(`${base}/git-upload-pack`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '0000' });
      expect(wrongType.status).toBe(400);
      expect(existsSync(marker)).toBe(false);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    });
  });

  describe('request bodies', () => {
    it('answers 413 to a JSON body over 1 MiB (with or without Content-Length) and closes that connection', async () => {
      const big = JSON.stringify({ name: 'too-big', description: 'x'.repeat(1024 * 1024 + 10) });
      for (let i = 0; i < 3; i++) {
        // fetch with Content-Length, then a normal request: a reused connection must not break.
        const sized = await api(server, 'POST', '/user/repos', { token: owner.token, body: big });
        expect(sized.status).toBe(413);
        expect(sized.json.message).toMatch(/too large/);
        expect(sized.headers.get('connection')).toBe('close');
        expect((await api(server, 'GET', '/user', { token: owner.token })).status).toBe(200);
        // Chunked, without Content-Length.
        const chunked = await rawRequest(server.url, '/api/v1/user/repos', {
          method: 'POST',
          headers: { Authorization: `Bearer ${owner.token}`, 'Content-Type': 'application/json' },
          body: [big.slice(0, 600_000), big.slice(600_000)],
        });
        expect(chunked.status).toBe(413);
      }
      // Just under the limit is parsed (and then refused for the too-long description, by field).
      const under = await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'under', description: 'x'.repeat(1024 * 1024 - 100) } });
      expect(under.status).toBe(422);
      expect(under.json.errors[0].field).toBe('description');
      expect((await api(server, 'GET', `/repos/${owner.username}/too-big`, { token: owner.token })).status).toBe(404);
    });

    it('answers 400 with a message to malformed JSON', async () => {
      for (const body of ['{"name": ', '{name: "x"}', "{'name': 'x'}", '{"name":"x",}']) {
        const res = await api(server, 'POST', '/user/repos', { token: owner.token, body });
        expect(res.status, body).toBe(400);
        expect(res.json.message).toEqual(expect.stringMatching(/JSON/));
      }
      const patch = await api(server, 'PATCH', `/repos/${owner.username}/open`, { token: owner.token, body: '{"description": tru' });
      expect(patch.status).toBe(400);
    });

    it('answers 422 naming the field to values of the wrong type', async () => {
      const cases: [string, unknown, string, string][] = [
        ['POST', { name: 5 }, '/user/repos', 'name'],
        ['POST', { name: 'typed', private: 'yes' }, '/user/repos', 'private'],
        ['POST', { name: 'typed', description: 5 }, '/user/repos', 'description'],
        ['POST', { name: 'typed', auto_init: 'true' }, '/user/repos', 'auto_init'],
        ['POST', { name: ['typed'] }, '/user/repos', 'name'],
        ['POST', { name: null }, '/user/repos', 'name'],
        ['PATCH', { private: 'yes' }, `/repos/${owner.username}/open`, 'private'],
        ['PATCH', { visibility: 'secret' }, `/repos/${owner.username}/open`, 'visibility'],
        ['PATCH', { default_branch: 7 }, `/repos/${owner.username}/open`, 'default_branch'],
        ['PATCH', { default_branch: '-x' }, `/repos/${owner.username}/open`, 'default_branch'],
        ['PATCH', { default_branch: 'a..b' }, `/repos/${owner.username}/open`, 'default_branch'],
        ['PUT', { permission: 5 }, `/repos/${owner.username}/open/collaborators/${stranger.username}`, 'permission'],
      ];
      for (const [method, body, path, field] of cases) {
        const res = await api(server, method, path, { token: owner.token, body });
        expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(422);
        expect(res.json.errors.map((e: { field: string }) => e.field)).toContain(field);
        expect(res.json.message).toContain(field);
      }
      // NUL characters are refused up front (PostgreSQL cannot store them in text).
      for (const [body, field] of [
        [{ name: 'nul', description: 'a\u0000b' }, 'description'],
        [{ name: 'a\u0000b' }, 'name'],
      ] as const) {
        const res = await api(server, 'POST', '/user/repos', { token: owner.token, body });
        expect(res.status, JSON.stringify(body)).toBe(422);
        expect(res.json.errors.map((e: { field: string }) => e.field)).toContain(field);
      }
      for (const body of ['[]', 'null', '"name"', '42']) {
        const res = await api(server, 'POST', '/user/repos', { token: owner.token, body });
        expect(res.status, body).toBe(422);
        expect(res.json.message).toEqual(expect.any(String));
      }
      expect((await api(server, 'GET', '/user/repos?per_page=abc', { token: owner.token })).status).toBe(422);
      expect((await api(server, 'GET', `/repos/${owner.username}/typed`, { token: owner.token })).status).toBe(404);
    });
  });

  describe('credentials', () => {
    it('an expired session signs nobody in and is deleted by the clean-up; live sessions stay', async () => {
      const [expired, live] = [await createSession(server.app, owner.id), await createSession(server.app, owner.id)];
      const page = (cookie: string) => fetch(`${server.url}/-/settings/tokens`, { headers: { Cookie: `gitoku_session=${cookie}` }, redirect: 'manual' });
      expect((await page(expired)).status).toBe(200);
      await server.app.db.updateTable('sessions').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id_hash', '=', sha256Hex(expired)).execute();
      expect((await page(expired)).status).toBe(303);
      expect(await deleteExpiredSessions(server.app)).toBeGreaterThanOrEqual(1);
      const left = await server.app.db.selectFrom('sessions').select('id_hash').where('id_hash', 'in', [sha256Hex(expired), sha256Hex(live)]).execute();
      expect(left.map((r) => r.id_hash)).toEqual([sha256Hex(live)]);
      expect((await page(live)).status).toBe(200);
    });

    it('git Basic: 401 with the same message for an unknown user and a wrong password or token', async () => {
      const path = `${owner.username}/open.git`;
      const unknownUser = await gitInfoRefs(path, { Authorization: basicAuth('nobody-at-all', 'some-password') });
      const wrongPassword = await gitInfoRefs(path, { Authorization: basicAuth(owner.username, 'wrong-password') });
      const wrongToken = await gitInfoRefs(path, { Authorization: basicAuth(owner.username, 'gtk_' + 'x'.repeat(40)) });
      const garbage = await gitInfoRefs(path, { Authorization: 'Basic !!!not-base64' });
      const nulUser = await gitInfoRefs(path, { Authorization: basicAuth('a\u0000b', 'some-password') });
      const responses = [unknownUser, wrongPassword, wrongToken, garbage, nulUser];
      const texts = await Promise.all(responses.map((r) => r.text()));
      for (const r of responses) {
        expect(r.status).toBe(401);
        expect(r.headers.get('www-authenticate')).toMatch(/^Basic /);
      }
      expect(new Set(texts).size).toBe(1);
      expect(texts[0]).not.toMatch(/unknown user|no such user|not exist/i);

      // The right password and the right token both work.
      expect((await gitInfoRefs(path, { Authorization: basicAuth(owner.username, owner.password) })).status).toBe(200);
      expect((await gitInfoRefs(path, { Authorization: basicAuth('anything', owner.token) })).status).toBe(200);

      // git sends credentials only when challenged, so use the private repository.
      const clone = await gitCli(work.path, ['clone', authUrl(server.url, `${owner.username}/hidden.git`, owner.username, 'wrong-password'), join(work.path, 'wrong-pw')]);
      expect(clone.code).not.toBe(0);
      expect(clone.stderr).toMatch(/Authentication failed|401/);
    });

    it('API: 401 with the same message for an unknown user, a wrong password and a wrong token', async () => {
      const variants = [
        { Authorization: basicAuth('nobody-at-all', 'some-password') },
        { Authorization: basicAuth(owner.username, 'wrong-password') },
        { Authorization: `Bearer gtk_${'y'.repeat(40)}` },
        { Authorization: `token not-a-token` },
        { Authorization: 'Bearer' },
        { Authorization: 'Weird scheme' },
      ];
      const messages = new Set<string>();
      for (const headers of variants) {
        const res = await api(server, 'GET', '/user', { headers });
        expect(res.status, headers.Authorization).toBe(401);
        messages.add(res.json.message);
      }
      expect(messages.size).toBe(1);
      // Bad credentials are refused even on routes that allow anonymous access.
      expect((await api(server, 'GET', `/repos/${owner.username}/open`, { headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
    });

    it('a token without the repo scope gets 403 on POST /user/repos', async () => {
      const limited = await createTestUser(server, { scopes: ['admin'] });
      const res = await api(server, 'POST', '/user/repos', { token: limited.token, body: { name: 'scoped' } });
      expect(res.status).toBe(403);
      expect(res.json.message).toMatch(/repo/);
      expect((await api(server, 'GET', '/user', { token: limited.token })).status).toBe(200);
      expect((await api(server, 'GET', `/repos/${limited.username}/scoped`, { token: limited.token })).status).toBe(404);
      // Nor can it push: without `repo`, a token reaches only what anonymous visitors can.
      const asLimited = await fetch(`${server.url}/${owner.username}/open.git/info/refs?service=git-receive-pack`, { headers: { Authorization: basicAuth(limited.username, limited.token) } });
      expect(asLimited.status).toBe(403);
    });

    it('an expired token gets 401 from the API and from git', async () => {
      const user = await createTestUser(server);
      const { token, record } = await createAccessToken(server.app, { userId: user.id, name: 'short-lived', scopes: ['repo'], expiresAt: new Date(Date.now() + 3600_000) });
      expect((await api(server, 'GET', '/user', { token })).status).toBe(200);
      await server.app.db.updateTable('access_tokens').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', record.id).execute();

      const res = await api(server, 'GET', '/user', { token });
      expect(res.status).toBe(401);
      expect(res.json.message).toEqual(expect.any(String));
      expect((await api(server, 'POST', '/user/repos', { token, body: { name: 'late' } })).status).toBe(401);
      const git = await gitInfoRefs(`${owner.username}/open.git`, { Authorization: basicAuth(user.username, token) });
      expect(git.status).toBe(401);
    });

    it('never answers a push by a stranger with anything but a refusal', async () => {
      const src = join(work.path, 'stranger-src');
      await gitOk(work.path, ['clone', '-q', `${server.url}/${owner.username}/open.git`, src]);
      await commitFiles(src, { 'evil.txt': 'evil\n' }, 'Evil');
      const push = await gitCli(src, ['push', authUrl(server.url, `${owner.username}/open.git`, stranger.username, stranger.token), 'main']);
      expect(push.code).not.toBe(0);
      expect(push.stderr).toMatch(/403/);
      const hiddenPush = await gitCli(src, ['push', authUrl(server.url, `${owner.username}/hidden.git`, stranger.username, stranger.token), 'main']);
      expect(hiddenPush.code).not.toBe(0);
      expect(hiddenPush.stderr).toMatch(/not found/i);
    });
  });

  if (dialect === 'postgres') {
    it('survives PostgreSQL terminating its idle connections', async () => {
      expect((await api(server, 'GET', '/user', { token: owner.token })).status).toBe(200);
      const database = new URL(server.env.GITOKU_DATABASE_URL!).pathname.slice(1);
      const admin = new pg.Client({ connectionString: process.env.GITOKU_TEST_DATABASE_URL });
      await admin.connect();
      try {
        const { rows } = await admin.query('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
        expect(rows.length).toBeGreaterThan(0);
      } finally {
        await admin.end();
      }
      await new Promise((r) => setTimeout(r, 200));
      // The pool replaces the lost connections; the process did not crash.
      expect((await api(server, 'GET', '/user', { token: owner.token })).status).toBe(200);
      expect((await api(server, 'GET', `/repos/${owner.username}/open`)).status).toBe(200);
    });
  }
});
