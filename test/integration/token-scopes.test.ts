import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import { Hono } from 'hono';
import type { z } from 'zod';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { authUrl, commitFiles, gitCli, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { scriptPrompt } from '../helpers/scriptedRuns.ts';
import { upsertNode } from '../../src/services/graph.ts';
import { createAccessToken } from '../../src/services/tokens.ts';
import type { TokenScope } from '../../src/domain/permissions.ts';
import { ApiRegistry, type RouteSpec } from '../../src/web/routes/api/registry.ts';
import { registerApiRoutes } from '../../src/web/routes/api/index.ts';
import type { WebEnv } from '../../src/web/context.ts';

type Spec = RouteSpec<z.ZodType | undefined, z.ZodType | undefined>;
/** Every JSON API route, read from the same registry the server mounts. */
const SPECS: Spec[] = registerApiRoutes(new ApiRegistry(new Hono<WebEnv>())).specs;
const label = (s: Spec) => `${s.method.toUpperCase()} ${s.path}`;
const touchesRepo = (s: Spec) => s.path.startsWith('/repos/{owner}/{repo}');

const MANIFEST = `[workflow.test]
events = ["manual"]
steps = [{ run = "echo checked" }]
`;

/** What one repository of the matrix holds, so that its owner's calls find every resource. */
interface Fixture {
  name: string;
  headSha: string;
  pr: number;
  reviewId: number;
  run: number;
  workflowRun: number;
  nodeId: number;
  behavior: string;
  /** A best-of-N run group. */
  group: number;
  /** A webhook and one of its deliveries (the ping). */
  hook: number;
  delivery: number;
  /** A published release (on the tag `${name}-v1`) and one of its assets. */
  release: number;
  asset: number;
  memory: number;
  /** Strings that only this repository's data contains: none may appear in a response to a caller without access. */
  markers: string[];
}

type Outcome = 'allowed' | 401 | 403 | 404;

describe.each(testDialects())('token scopes: every route × scope (%s)', (dialect) => {
  let server: TestServer;
  let work: Awaited<ReturnType<typeof tempDir>>;
  let owner: TestUser;
  let stranger: TestUser;
  let collaborator: TestUser;
  let siteAdmin: TestUser;
  /** The user /admin/users/{username} routes act on (suspended, promoted, deleted by the site administrator's pass). */
  let adminTarget: TestUser;
  /** The owner's tokens with no scopes and with `admin` only; the site administrator's token with `admin` only and with `repo` only. */
  let ownerNoScope = '';
  let ownerAdminOnly = '';
  let siteAdminOnly = '';
  let siteAdminRepoOnly = '';
  let priv: Fixture;
  let pub: Fixture;
  /** A server-wide webhook and its ping delivery, for /admin/hooks/…. */
  let adminHook = { hook: 0, delivery: 0 };

  const token = async (user: TestUser, scopes: TokenScope[]) => (await createAccessToken(server.app, { userId: user.id, name: `t-${scopes.join('-') || 'none'}`, scopes })).token;

  async function ok(method: string, path: string, body?: unknown, expected = [200, 201, 204]) {
    const res = await api(server, method, path, { token: owner.token, body });
    expect(expected, `${method} ${path}: ${res.status} ${res.text}`).toContain(res.status);
    return res;
  }

  async function setupRepo(name: string, isPrivate: boolean): Promise<Fixture> {
    const marker = `${name}-marker`;
    const repoId = (await ok('POST', '/user/repos', { name, private: isPrivate, description: `${marker} description` })).json.id as number;
    const dir = `${work.path}/${name}`;
    await mkdir(dir);
    await initWorkRepo(dir, { 'README.md': `# ${marker}\n`, 'gitoku.toml': MANIFEST });
    const remote = authUrl(server.url, `${owner.username}/${name}.git`, owner.username, owner.token);
    await gitOk(dir, ['checkout', '-q', '-b', 'feature']);
    await commitFiles(dir, { 'feature.txt': `${marker} feature\n` }, `${marker} feature commit`);
    await gitOk(dir, ['push', '-q', remote, 'main', 'feature', 'feature:throwaway']);
    const headSha = (await gitOk(dir, ['rev-parse', 'main'])).trim();
    const base = `/repos/${owner.username}/${name}`;
    const pr = (await ok('POST', `${base}/pulls`, { title: `${marker} pull`, head: 'feature', base: 'main' })).json.number as number;
    await ok('POST', `${base}/issues/${pr}/labels`, { labels: ['bug'] });
    const reviewId = (await ok('POST', `${base}/pulls/${pr}/reviews`, { event: 'COMMENT', body: `${marker} review` })).json.id as number;
    await ok('POST', `${base}/issues/${pr}/comments`, { body: `${marker} comment` });
    await ok('PUT', `${base}/collaborators/${collaborator.username}`, { permission: 'pull' });
    await ok('POST', `${base}/statuses/${headSha}`, { state: 'success', context: `${marker}-ci` });
    const run = (await ok('POST', `${base}/runs`, { prompt: scriptPrompt(`say ${marker}`, `${marker} prompt`) })).json.number as number;
    await ok('POST', `${base}/workflows/test/dispatches`, { ref: 'main' });
    const group = (await ok('POST', `${base}/runs`, { prompt: scriptPrompt(`say ${marker}`, `${marker} group`), attempts: 2 })).json.id as number;
    const workflowRun = (await ok('GET', `${base}/actions/runs`)).json.workflow_runs[0].run_number as number;
    const nodeId = await upsertNode(server.app.db, repoId, 'task', `${marker}-task`, { title: `${marker} task` });
    const behaviors = (await ok('GET', `${base}/behaviors`)).json as { key: string }[];
    // A public address literal: accepted without DNS; its deliveries fail in the background, which is fine.
    const hook = (await ok('POST', `${base}/hooks`, { config: { url: `http://93.184.215.14/${marker}` }, events: ['push'] })).json.id as number;
    const delivery = (await ok('GET', `${base}/hooks/${hook}/deliveries`)).json[0].id as number;
    const release = (await ok('POST', `${base}/releases`, { tag_name: `${name}-v1`, name: `${marker} release` })).json.id as number;
    const asset = (await api(server, 'POST', `${base}/releases/${release}/assets?name=${marker}.txt`, { token: owner.token, body: `${marker} asset`, headers: { 'Content-Type': 'text/plain' } })).json.id as number;
    const memory = (await ok('POST', `${base}/memory`, { kind: 'claim', subject: `${marker} subject`, fact: `${marker} fact` })).json.id as number;
    return { name, headSha, pr, reviewId, run, workflowRun, nodeId, behavior: behaviors[0]!.key, group, hook, delivery, release, asset, memory, markers: [name, marker, collaborator.username] };
  }

  /** The concrete URL of a route spec for a fixture repository; fails on a path parameter it does not know. */
  function concretePath(spec: Spec, f: Fixture): string {
    const p = spec.path;
    const values: Record<string, string> = {
      owner: owner.username,
      repo: f.name,
      // Site administration acts on a user of its own (the admin pass deletes it), never on the fixture's collaborator.
      username: p.startsWith('/users/') ? owner.username : p.startsWith('/admin/users/') ? adminTarget.username : collaborator.username,
      number: p.includes('/runs/{number}') ? String(p.includes('/actions/') ? f.workflowRun : f.run) : String(f.pr),
      id: p.includes('/graph/') ? String(f.nodeId) : p.includes('/run-groups/') ? String(f.group) : p.includes('/memory/') ? String(f.memory) : String(f.reviewId),
      key: p.includes('/behaviors/') ? f.behavior : 'test',
      name: 'bug',
      hook_id: String(p.startsWith('/admin/hooks') ? adminHook.hook : f.hook),
      delivery_id: String(p.startsWith('/admin/hooks') ? adminHook.delivery : f.delivery),
      release_id: String(f.release),
      asset_id: String(f.asset),
      'tag+': `${f.name}-v1`,
      assignee: collaborator.username,
      sha: f.headSha,
      'sha+': 'main',
      'branch+': 'main',
      'path+': 'README.md',
      'refpath+': 'main/README.md',
      'ref+': p.includes('/git/refs/') ? 'heads/throwaway' : 'main',
      'basehead+': 'main...feature',
      thread_id: '1',
    };
    return p.replace(/\{(\w+\+?)\}/g, (_, name: string) => {
      const v = values[name];
      if (v === undefined) throw new Error(`${label(spec)}: no test value for {${name}} — add one to concretePath`);
      return v;
    });
  }

  /** Calls a route with an empty body (writes may fail validation: that is still "allowed"). */
  async function call(spec: Spec, f: Fixture, bearer: string) {
    return api(server, spec.method.toUpperCase(), concretePath(spec, f), { token: bearer, body: spec.body ? {} : undefined });
  }

  function classify(status: number): Outcome | 'error' {
    if (status >= 500) return 'error';
    if (status === 401 || status === 403 || status === 404) return status;
    return 'allowed';
  }

  /** Routes whose 404 is their answer, not a refusal (GitHub: GET …/merge is 404 while not merged). */
  const answersWith404 = new Set([
    'GET /repos/{owner}/{repo}/pulls/{number}/merge',
    // GitHub: "Branch not protected" while no rule covers the branch.
    'GET /repos/{owner}/{repo}/branches/{branch+}/protection',
    'DELETE /repos/{owner}/{repo}/branches/{branch+}/protection',
    // GitHub: 404 while not starred; a repository the caller cannot see is a 404 there too.
    'GET /user/starred/{owner}/{repo}',
    'PUT /user/starred/{owner}/{repo}',
    'DELETE /user/starred/{owner}/{repo}',
    // A thread of someone else's is a 404; so is the subscription of a repository one neither watches nor ignores.
    'GET /notifications/threads/{thread_id}',
    'PATCH /notifications/threads/{thread_id}',
    'DELETE /notifications/threads/{thread_id}',
    'GET /repos/{owner}/{repo}/subscription',
  ]);

  /**
   * Calls every route with `bearer` and compares the outcome class with `expectedOf`. A route refused
   * with 404 (the repository is invisible) must answer exactly as it does for a repository that does not
   * exist: where the body is validated before the repository is looked up, that answer is the same 422.
   * No response may contain a marker of a repository the caller cannot see.
   */
  async function checkMatrix(f: Fixture, bearer: string, expectedOf: (s: Spec) => Outcome, leakMarkers: string[], opts: { specs?: Spec[]; leakExempt?: (s: Spec) => boolean } = {}) {
    const wrong: string[] = [];
    for (const spec of opts.specs ?? SPECS) {
      const res = await call(spec, f, bearer);
      const want = expectedOf(spec);
      let got = classify(res.status);
      if (got === 404 && want === 'allowed' && answersWith404.has(label(spec))) got = 'allowed';
      if (want === 404 && touchesRepo(spec)) {
        const missing = await call(spec, { ...f, name: 'no-such-repository' }, bearer);
        if (missing.status !== res.status || missing.text !== res.text) wrong.push(`${label(spec)}: answers differently than for a missing repository: ${res.status} vs ${missing.status}`);
        else if (got === 'allowed' && (res.status === 400 || res.status === 422)) got = 404;
      }
      if (got !== want) wrong.push(`${label(spec)} [${spec.access}]: expected ${want}, got ${res.status} ${res.text.slice(0, 200)}`);
      if (opts.leakExempt?.(spec)) continue;
      const text = res.text.toLowerCase();
      for (const m of leakMarkers) if (text.includes(m.toLowerCase())) wrong.push(`${label(spec)}: response leaks "${m}": ${res.text.slice(0, 200)}`);
    }
    expect(wrong, wrong.join('\n')).toEqual([]);
  }

  beforeAll(async () => {
    server = await startTestServer(dialect);
    work = await tempDir();
    [owner, stranger, collaborator, siteAdmin] = await Promise.all([createTestUser(server), createTestUser(server), createTestUser(server), createTestUser(server, { admin: true, scopes: ['repo', 'admin'] })]);
    adminTarget = await createTestUser(server);
    ownerNoScope = await token(owner, []);
    ownerAdminOnly = await token(owner, ['admin']);
    siteAdminOnly = await token(siteAdmin, ['admin']);
    siteAdminRepoOnly = await token(siteAdmin, ['repo']);
    priv = await setupRepo(`secret${process.pid}`, true);
    const globalHook = (await api(server, 'POST', '/admin/hooks', { token: siteAdmin.token, body: { config: { url: 'http://93.184.215.14/global' } } })).json.id as number;
    adminHook = { hook: globalHook, delivery: (await api(server, 'GET', `/admin/hooks/${globalHook}/deliveries`, { token: siteAdmin.token })).json[0].id as number };
    pub = await setupRepo(`open${process.pid}`, false);
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await work?.remove();
  });

  it('every route declares its access, and the OpenAPI document states the scope each needs', async () => {
    expect(SPECS.length).toBeGreaterThan(50);
    for (const s of SPECS) expect(['public', 'user', 'repo', 'admin'], label(s)).toContain(s.access);
    // Reads are public; anything that writes needs the repo or admin scope.
    for (const s of SPECS.filter((x) => x.method !== 'get')) expect(['repo', 'admin'], label(s)).toContain(s.access);
    for (const s of SPECS.filter((x) => x.path.includes('collaborators') || x.path.startsWith('/admin/'))) expect(['repo', 'admin'], label(s)).toContain(s.access);
    const doc = (await api(server, 'GET', '/openapi.json')).json as { paths: Record<string, Record<string, { security?: { bearer: string[] }[] }>> };
    for (const s of SPECS) {
      const op = doc.paths[s.path.replace(/\{(\w+)\+\}/g, '{$1}')]![s.method]!;
      const scope = s.access === 'repo' || s.access === 'admin' ? [s.access] : [];
      expect(op.security, label(s)).toEqual(s.access === 'public' ? undefined : [{ bearer: scope }]);
    }
  });

  it('a token with no scopes reaches only what an anonymous caller does (plus its own profile), even its owner’s private repository', async () => {
    await checkMatrix(priv, ownerNoScope, (s) => (s.access === 'repo' || s.access === 'admin' ? 403 : s.access === 'public' && touchesRepo(s) ? 404 : 'allowed'), priv.markers);
  });

  it('a token with only the admin scope of a non-administrator: the same, and no site administration', async () => {
    await checkMatrix(priv, ownerAdminOnly, (s) => (s.access === 'repo' || s.access === 'admin' ? 403 : s.access === 'public' && touchesRepo(s) ? 404 : 'allowed'), priv.markers);
  });

  it("a stranger's repo token: the private repository does not exist for it, and it cannot administer the site", async () => {
    await checkMatrix(priv, stranger.token, (s) => (s.access === 'admin' ? 403 : touchesRepo(s) ? 404 : 'allowed'), priv.markers);
  });

  it("a site administrator's admin-only token: site administration, but repositories only as an anonymous caller", async () => {
    // Site administration itself (the instance's events) covers every repository: that is what the admin scope is for.
    await checkMatrix(priv, siteAdminOnly, (s) => (s.access === 'repo' ? 403 : s.access === 'public' && touchesRepo(s) ? 404 : 'allowed'), priv.markers, { leakExempt: (s) => s.access === 'admin' });
  });

  it("a site administrator's repo-only token: a stranger's reach (a site administrator's reach needs the admin scope)", async () => {
    await checkMatrix(priv, siteAdminRepoOnly, (s) => (s.access === 'admin' ? 403 : touchesRepo(s) ? 404 : 'allowed'), priv.markers);
  });

  it('a token with no scopes reads a public repository like an anonymous caller and changes nothing', async () => {
    await checkMatrix(pub, ownerNoScope, (s) => (s.access === 'repo' || s.access === 'admin' ? 403 : 'allowed'), priv.markers);
  });

  it('nothing changed through the refused calls', async () => {
    const base = `/repos/${owner.username}/${priv.name}`;
    expect((await ok('GET', base)).json.description).toBe(`${priv.name}-marker description`);
    expect((await ok('GET', `${base}/pulls/${priv.pr}`)).json.state).toBe('open');
    expect((await ok('GET', `${base}/branches/throwaway`)).json.name).toBe('throwaway');
    expect(((await ok('GET', `${base}/collaborators`)).json as { login: string }[]).map((c) => c.login)).toEqual([collaborator.username]);
    expect((await ok('GET', `${base}/runs/${priv.run}`)).json.status).not.toBe('cancelled');
  });

  it("the owner's repo token reaches every non-admin route (last: it merges, cancels and deletes)", async () => {
    const rank = (s: Spec) => (s.method === 'delete' ? (s.path === '/repos/{owner}/{repo}' ? 6 : 5) : ['get', 'post', 'put', 'patch'].indexOf(s.method) + 1);
    const ordered = [...SPECS].sort((a, b) => rank(a) - rank(b));
    await checkMatrix(priv, owner.token, (s) => (s.access === 'admin' ? 403 : 'allowed'), [], { specs: ordered });
    expect((await api(server, 'GET', `/repos/${owner.username}/${priv.name}`, { token: owner.token })).status).toBe(404);
  });
});

describe.each(testDialects())('token scopes: the verified leaks and git (%s)', (dialect) => {
  let server: TestServer;
  let work: Awaited<ReturnType<typeof tempDir>>;
  let owner: TestUser;
  let stranger: TestUser;
  let reader: TestUser;
  let writer: TestUser;
  let noScope = '';
  let adminOnly = '';
  const SECRET = 'hidden-project';
  const OPEN = 'open-project';

  beforeAll(async () => {
    server = await startTestServer(dialect, {}, { dispatcher: false });
    work = await tempDir();
    [owner, stranger, reader, writer] = await Promise.all([createTestUser(server), createTestUser(server), createTestUser(server), createTestUser(server)]);
    noScope = (await createAccessToken(server.app, { userId: owner.id, name: 'none', scopes: [] })).token;
    adminOnly = (await createAccessToken(server.app, { userId: owner.id, name: 'admin', scopes: ['admin'] })).token;
    for (const [name, isPrivate] of [
      [SECRET, true],
      [OPEN, false],
    ] as const) {
      const res = await api(server, 'POST', '/user/repos', { token: owner.token, body: { name, private: isPrivate, description: `${name} description`, auto_init: true } });
      expect(res.status, res.text).toBe(201);
      for (const [user, permission] of [
        [reader, 'pull'],
        [writer, 'push'],
      ] as const) {
        expect((await api(server, 'PUT', `/repos/${owner.username}/${name}/collaborators/${user.username}`, { token: owner.token, body: { permission } })).status).toBe(201);
      }
    }
  });

  afterAll(async () => {
    await server?.close();
    await work?.remove();
  });

  it('GET /user/repos with a token without repo lists public repositories only; with repo, all', async () => {
    for (const t of [noScope, adminOnly]) {
      const res = await api(server, 'GET', '/user/repos', { token: t });
      expect(res.status).toBe(200);
      expect((res.json as { name: string }[]).map((r) => r.name)).toEqual([OPEN]);
      expect(res.text).not.toContain(SECRET);
    }
    // A collaborator's scope-less token: the same rule.
    const readerNoScope = (await createAccessToken(server.app, { userId: reader.id, name: 'none', scopes: [] })).token;
    expect(((await api(server, 'GET', '/user/repos', { token: readerNoScope })).json as { name: string }[]).map((r) => r.name)).toEqual([OPEN]);
    const full = await api(server, 'GET', '/user/repos', { token: owner.token });
    expect((full.json as { name: string }[]).map((r) => r.name).sort()).toEqual([OPEN, SECRET].sort());
    expect(((await api(server, 'GET', '/user/repos', { token: reader.token })).json as { name: string }[]).map((r) => r.name).sort()).toEqual([OPEN, SECRET].sort());
  });

  it('a token without repo cannot add, change or remove collaborators, nor list them', async () => {
    for (const t of [noScope, adminOnly]) {
      for (const name of [SECRET, OPEN]) {
        const base = `/repos/${owner.username}/${name}/collaborators`;
        expect((await api(server, 'PUT', `${base}/${stranger.username}`, { token: t, body: { permission: 'admin' } })).status).toBe(403);
        expect((await api(server, 'PUT', `${base}/${reader.username}`, { token: t, body: { permission: 'admin' } })).status).toBe(403);
        expect((await api(server, 'DELETE', `${base}/${writer.username}`, { token: t })).status).toBe(403);
        const list = await api(server, 'GET', base, { token: t });
        expect(list.status).toBe(403);
        expect(list.text).not.toContain(reader.username);
        expect((await api(server, 'GET', `${base}/${reader.username}/permission`, { token: t })).status).toBe(403);
      }
    }
    const after = await api(server, 'GET', `/repos/${owner.username}/${OPEN}/collaborators`, { token: owner.token });
    expect((after.json as { login: string; role_name: string }[]).map((c) => [c.login, c.role_name]).sort()).toEqual(
      [
        [reader.username, 'read'],
        [writer.username, 'write'],
      ].sort(),
    );
  });

  it('collaborator lists need push access, as on GitHub: not any signed-in user, not a reader', async () => {
    const base = `/repos/${owner.username}/${OPEN}/collaborators`;
    expect((await api(server, 'GET', base)).status).toBe(401);
    for (const t of [stranger.token, reader.token]) {
      const res = await api(server, 'GET', base, { token: t });
      expect(res.status, res.text).toBe(403);
      expect(res.text).not.toContain(writer.username);
      expect((await api(server, 'GET', `${base}/${writer.username}/permission`, { token: t })).status).toBe(403);
    }
    // A stranger does not learn that the private repository exists.
    expect((await api(server, 'GET', `/repos/${owner.username}/${SECRET}/collaborators`, { token: stranger.token })).status).toBe(404);
    expect((await api(server, 'GET', `/repos/${owner.username}/${SECRET}/collaborators`, { token: reader.token })).status).toBe(403);
    for (const t of [writer.token, owner.token]) {
      const res = await api(server, 'GET', base, { token: t });
      expect(res.status, res.text).toBe(200);
      expect((res.json as { login: string }[]).map((c) => c.login).sort()).toEqual([reader.username, writer.username].sort());
      expect((await api(server, 'GET', `${base}/${reader.username}/permission`, { token: t })).json.role_name).toBe('read');
    }
  });

  it('git: a token without repo clones only public repositories and pushes nowhere; repo tokens and passwords keep full reach', async () => {
    const url = (name: string, secret: string) => authUrl(server.url, `${owner.username}/${name}.git`, owner.username, secret);
    for (const t of [noScope, adminOnly]) {
      const denied = await gitCli(work.path, ['ls-remote', url(SECRET, t)]);
      expect(denied.code).not.toBe(0);
      expect(denied.stdout).toBe('');
      expect(denied.stderr).toMatch(/not found|403|401/i);
      expect((await gitCli(work.path, ['clone', '-q', url(SECRET, t), `secret-${t.slice(-6)}`])).code).not.toBe(0);
      expect((await gitOk(work.path, ['ls-remote', url(OPEN, t)])).trim()).toMatch(/refs\/heads\/main/);
    }
    const clone = `${work.path}/open`;
    await gitOk(work.path, ['clone', '-q', url(OPEN, noScope), clone]);
    const sha = await commitFiles(clone, { 'x.txt': 'x\n' }, 'Change');
    for (const t of [noScope, adminOnly]) {
      const push = await gitCli(clone, ['push', url(OPEN, t), 'HEAD:refs/heads/scoped']);
      expect(push.code).not.toBe(0);
      expect(push.stderr).toMatch(/403|denied/i);
    }
    expect((await api(server, 'GET', `/repos/${owner.username}/${OPEN}/branches/scoped`, { token: owner.token })).status).toBe(404);
    await gitOk(clone, ['push', '-q', url(OPEN, owner.token), 'HEAD:refs/heads/scoped']);
    expect((await api(server, 'GET', `/repos/${owner.username}/${OPEN}/branches/scoped`, { token: owner.token })).json.commit.sha).toBe(sha);
    expect((await gitOk(work.path, ['ls-remote', url(SECRET, owner.password)])).trim()).toMatch(/refs\/heads\/main/);
    expect((await gitOk(work.path, ['ls-remote', url(SECRET, owner.token)])).trim()).toMatch(/refs\/heads\/main/);
  });
});
