import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, createTestUser, api, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { authUrl, commitFiles, gitOk, tempDir } from '../helpers/git.ts';
import { refUpdatedEvents } from './support.ts';

/** Parses a `Link` header into { rel: url }. */
function parseLinks(header: string | null): Record<string, string> {
  const links: Record<string, string> = {};
  for (const part of (header ?? '').split(',')) {
    const m = /<([^>]+)>;\s*rel="(\w+)"/.exec(part.trim());
    if (m) links[m[2]!] = m[1]!;
  }
  return links;
}

describe.each(testDialects())('JSON API (%s)', (dialect) => {
  let server: TestServer;
  let work: Awaited<ReturnType<typeof tempDir>>;
  let owner: TestUser;
  let other: TestUser;

  beforeAll(async () => {
    server = await startTestServer(dialect);
    work = await tempDir();
    [owner, other] = await Promise.all([createTestUser(server), createTestUser(server)]);
  });

  afterAll(async () => {
    await server?.close();
    await work?.remove();
  });

  it('GET /user returns the authenticated user, with either Authorization scheme', async () => {
    for (const authorization of [`token ${owner.token}`, `Bearer ${owner.token}`]) {
      const res = await api(server, 'GET', '/user', { headers: { Authorization: authorization } });
      expect(res.status, authorization).toBe(200);
      expect(res.json).toMatchObject({ login: owner.username, id: owner.id, type: 'User', site_admin: false });
      expect(res.json.email).toEqual(expect.stringContaining('@'));
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
    }
    const anonymous = await api(server, 'GET', '/user');
    expect(anonymous.status).toBe(401);
    expect(anonymous.json.message).toEqual(expect.any(String));
  });

  it('GET /users/{username} shows a user (without their email to others) and 404s for unknown users', async () => {
    const res = await api(server, 'GET', `/users/${owner.username}`, { token: other.token });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ login: owner.username, id: owner.id, email: null });
    expect(res.json.url).toBe(`${server.url}/api/v1/users/${owner.username}`);
    const self = await api(server, 'GET', `/users/${owner.username}`, { token: owner.token });
    expect(self.json.email).toEqual(expect.stringContaining('@'));
    const anonymous = await api(server, 'GET', `/users/${owner.username}`);
    expect(anonymous.status).toBe(200);
    const missing = await api(server, 'GET', '/users/nobody-here');
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ message: expect.any(String) });
  });

  it('POST /user/repos creates a repository (201) and GET /user/repos lists it', async () => {
    const res = await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'Hello-World', description: 'My first repo', private: false } });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({
      id: expect.any(Number),
      name: 'Hello-World',
      full_name: `${owner.username}/Hello-World`,
      private: false,
      visibility: 'public',
      description: 'My first repo',
      default_branch: 'main',
      empty: true,
      clone_url: `${server.url}/${owner.username}/Hello-World.git`,
      html_url: `${server.url}/${owner.username}/Hello-World`,
      owner: { login: owner.username, id: owner.id },
      permissions: { admin: true, push: true, pull: true },
    });

    const list = await api(server, 'GET', '/user/repos', { token: owner.token });
    expect(list.status).toBe(200);
    expect(list.json.map((r: { full_name: string }) => r.full_name)).toContain(`${owner.username}/Hello-World`);

    const duplicate = await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'hello-world' } });
    expect(duplicate.status).toBe(422);
    expect(duplicate.json.errors[0].field).toBe('name');

    const anonymous = await api(server, 'POST', '/user/repos', { body: { name: 'anon' } });
    expect(anonymous.status).toBe(401);
  });

  it('auto_init creates a README commit on the default branch', async () => {
    const res = await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'initialized', description: 'Has a README', auto_init: true } });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({ empty: false, default_branch: 'main' });

    const branch = await api(server, 'GET', `/repos/${owner.username}/initialized/branches/main`, { token: owner.token });
    expect(branch.status, branch.text).toBe(200);
    expect(branch.json.commit.commit.message).toBe('Initial commit');
    expect(branch.json.commit.parents).toEqual([]);

    const gitDir = join(server.dataDir, 'repos', owner.username.toLowerCase(), 'initialized.git');
    expect(await gitOk(gitDir, ['--git-dir', gitDir, 'show', 'main:README.md'])).toBe('# initialized\n\nHas a README\n');

    const events = await refUpdatedEvents(server, res.json.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ ref: 'refs/heads/main', after: branch.json.commit.sha, cause: 'api' });
  });

  it('GET, PATCH and DELETE /repos/{owner}/{repo}; branches, including names with a slash', async () => {
    const created = await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'lifecycle', auto_init: true } });
    expect(created.status).toBe(201);
    const base = `/repos/${owner.username}/lifecycle`;

    // A second branch with a slash in its name, pushed with git.
    const clone = join(work.path, 'lifecycle');
    const url = authUrl(server.url, `${owner.username}/lifecycle.git`, owner.username, owner.token);
    await gitOk(work.path, ['clone', '-q', url, clone]);
    await gitOk(clone, ['checkout', '-q', '-b', 'feature/x']);
    const featureSha = await commitFiles(clone, { 'x.txt': 'x\n' }, 'Feature x');
    await gitOk(clone, ['push', '-q', 'origin', 'feature/x']);

    const got = await api(server, 'GET', base, { token: owner.token });
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({ name: 'lifecycle', full_name: `${owner.username}/lifecycle`, private: false, default_branch: 'main' });

    const branches = await api(server, 'GET', `${base}/branches`);
    expect(branches.status).toBe(200);
    expect(branches.json.map((b: { name: string }) => b.name)).toEqual(['feature/x', 'main']);
    expect(branches.json[0]).toMatchObject({ name: 'feature/x', commit: { sha: featureSha }, protected: false });

    for (const path of [`${base}/branches/feature/x`, `${base}/branches/feature%2Fx`]) {
      const one = await api(server, 'GET', path);
      expect(one.status, path).toBe(200);
      expect(one.json).toMatchObject({ name: 'feature/x', commit: { sha: featureSha, commit: { message: 'Feature x' } } });
    }
    expect((await api(server, 'GET', `${base}/branches/nope`)).status).toBe(404);

    const patched = await api(server, 'PATCH', base, { token: owner.token, body: { description: 'Updated', visibility: 'private', default_branch: 'feature/x' } });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.json).toMatchObject({ description: 'Updated', private: true, visibility: 'private', default_branch: 'feature/x' });
    const head = await gitOk(work.path, ['ls-remote', '--symref', url, 'HEAD']);
    expect(head).toContain('ref: refs/heads/feature/x\tHEAD');

    // Now private: others cannot see it; with private=false it is public again.
    expect((await api(server, 'GET', base, { token: other.token })).status).toBe(404);
    expect((await api(server, 'GET', base)).status).toBe(404);
    const reopened = await api(server, 'PATCH', base, { token: owner.token, body: { private: false, default_branch: 'main' } });
    expect(reopened.json).toMatchObject({ private: false, default_branch: 'main' });
    expect((await api(server, 'GET', base, { token: other.token })).status).toBe(200);

    const missingBranch = await api(server, 'PATCH', base, { token: owner.token, body: { default_branch: 'does-not-exist' } });
    expect(missingBranch.status).toBe(422);
    expect(missingBranch.json.errors[0].field).toBe('default_branch');

    // Only admins may change or delete it.
    expect((await api(server, 'PATCH', base, { token: other.token, body: { description: 'hijack' } })).status).toBe(403);
    expect((await api(server, 'DELETE', base, { token: other.token })).status).toBe(403);

    const gitDir = join(server.dataDir, 'repos', owner.username.toLowerCase(), 'lifecycle.git');
    expect(existsSync(gitDir)).toBe(true);
    const deleted = await api(server, 'DELETE', base, { token: owner.token });
    expect(deleted.status).toBe(204);
    expect((await api(server, 'GET', base, { token: owner.token })).status).toBe(404);
    expect(existsSync(gitDir)).toBe(false);
  });

  it('adds, lists, updates and removes collaborators', async () => {
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'team', private: true } });
    const base = `/repos/${owner.username}/team`;
    expect((await api(server, 'GET', base, { token: other.token })).status).toBe(404);

    const added = await api(server, 'PUT', `${base}/collaborators/${other.username}`, { token: owner.token, body: { permission: 'pull' } });
    expect(added.status, added.text).toBe(201);
    const seen = await api(server, 'GET', base, { token: other.token });
    expect(seen.status).toBe(200);
    expect(seen.json.permissions).toMatchObject({ pull: true, push: false, admin: false });

    const updated = await api(server, 'PUT', `${base}/collaborators/${other.username}`, { token: owner.token, body: { permission: 'push' } });
    expect(updated.status).toBe(204);
    const list = await api(server, 'GET', `${base}/collaborators`, { token: owner.token });
    expect(list.status).toBe(200);
    expect(list.json).toEqual([expect.objectContaining({ login: other.username, role_name: 'write', permissions: expect.objectContaining({ push: true, admin: false }) })]);
    const permission = await api(server, 'GET', `${base}/collaborators/${other.username}/permission`, { token: owner.token });
    expect(permission.json).toMatchObject({ permission: 'write', user: { login: other.username } });

    // A collaborator with push rights still may not manage collaborators.
    expect((await api(server, 'PUT', `${base}/collaborators/${owner.username}`, { token: other.token, body: { permission: 'admin' } })).status).toBe(403);
    expect((await api(server, 'PUT', `${base}/collaborators/nobody-here`, { token: owner.token, body: { permission: 'push' } })).status).toBe(404);
    expect((await api(server, 'PUT', `${base}/collaborators/${other.username}`, { token: owner.token, body: { permission: 'superuser' } })).status).toBe(422);

    const removed = await api(server, 'DELETE', `${base}/collaborators/${other.username}`, { token: owner.token });
    expect(removed.status).toBe(204);
    expect((await api(server, 'GET', `${base}/collaborators`, { token: owner.token })).json).toEqual([]);
    expect((await api(server, 'GET', base, { token: other.token })).status).toBe(404);
  });

  it('paginates with page/per_page and Link headers', async () => {
    const user = await createTestUser(server);
    for (const name of ['p1', 'p2', 'p3', 'p4', 'p5']) {
      expect((await api(server, 'POST', '/user/repos', { token: user.token, body: { name } })).status).toBe(201);
    }
    const first = await api(server, 'GET', '/user/repos?per_page=2', { token: user.token });
    expect(first.status).toBe(200);
    expect(first.json).toHaveLength(2);
    const links = parseLinks(first.headers.get('link'));
    expect(Object.keys(links).sort()).toEqual(['last', 'next']);
    expect(new URL(links.next!).searchParams.get('page')).toBe('2');
    expect(new URL(links.last!).searchParams.get('page')).toBe('3');
    expect(links.next!.startsWith(`${server.url}/api/v1/user/repos?`)).toBe(true);

    const names: string[] = first.json.map((r: { name: string }) => r.name);
    let next: string | undefined = links.next;
    let lastLinks: Record<string, string> = {};
    while (next) {
      const page = await api(server, 'GET', next.slice(`${server.url}/api/v1`.length), { token: user.token });
      names.push(...page.json.map((r: { name: string }) => r.name));
      lastLinks = parseLinks(page.headers.get('link'));
      next = lastLinks.next;
    }
    expect(names.sort()).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
    expect(Object.keys(lastLinks).sort()).toEqual(['first', 'prev']);
    expect(new URL(lastLinks.prev!).searchParams.get('page')).toBe('2');

    const beyond = await api(server, 'GET', '/user/repos?per_page=2&page=9', { token: user.token });
    expect(beyond.json).toEqual([]);
    expect((await api(server, 'GET', '/user/repos?per_page=101', { token: user.token })).status).toBe(422);
    expect((await api(server, 'GET', '/user/repos?page=0', { token: user.token })).status).toBe(422);

    const ofUser = await api(server, 'GET', `/users/${user.username}/repos?per_page=4`);
    expect(ofUser.json.map((r: { name: string }) => r.name)).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect(parseLinks(ofUser.headers.get('link')).next).toContain('page=2');
  });

  it('serves an OpenAPI 3.1 document listing the paths with their request schemas', async () => {
    const res = await fetch(`${server.url}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      info: { title: string; version: string };
      servers: { url: string }[];
      paths: Record<string, Record<string, { summary: string; responses: object; parameters: { name: string; in: string }[]; requestBody?: { content: Record<string, { schema: { type: string; properties: Record<string, { type?: string; enum?: string[] }>; required?: string[] } }> } }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toEqual(expect.any(String));
    expect(doc.servers[0]!.url).toBe(`${server.url}/api/v1`);
    for (const [path, verbs] of Object.entries({
      '/user': ['get'],
      '/user/repos': ['get', 'post'],
      '/users/{username}': ['get'],
      '/repos/{owner}/{repo}': ['get', 'patch', 'delete'],
      '/repos/{owner}/{repo}/branches': ['get'],
      '/repos/{owner}/{repo}/branches/{branch}': ['get'],
      '/repos/{owner}/{repo}/collaborators': ['get'],
      '/repos/{owner}/{repo}/collaborators/{username}': ['put', 'delete'],
    })) {
      expect(doc.paths[path], path).toBeDefined();
      for (const verb of verbs) {
        const op = doc.paths[path]![verb];
        expect(op, `${verb} ${path}`).toBeDefined();
        expect(op!.summary).toEqual(expect.any(String));
        expect(Object.keys(op!.responses).length).toBeGreaterThan(0);
        const pathParams = op!.parameters.filter((p) => p.in === 'path').map((p) => p.name);
        expect(pathParams).toEqual([...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]));
      }
    }
    const createRepo = doc.paths['/user/repos']!.post!.requestBody!.content['application/json']!.schema;
    expect(createRepo.type).toBe('object');
    expect(createRepo.required).toContain('name');
    expect(createRepo.properties.name!.type).toBe('string');
    expect(createRepo.properties.private!.type).toBe('boolean');
    expect(createRepo.properties.auto_init!.type).toBe('boolean');
    const updateRepo = doc.paths['/repos/{owner}/{repo}']!.patch!.requestBody!.content['application/json']!.schema;
    expect(Object.keys(updateRepo.properties)).toEqual(expect.arrayContaining(['description', 'private', 'visibility', 'default_branch']));
    const collaborator = doc.paths['/repos/{owner}/{repo}/collaborators/{username}']!.put!.requestBody!.content['application/json']!.schema;
    expect(collaborator.properties.permission!.enum).toEqual(expect.arrayContaining(['pull', 'push', 'admin']));
    const listRepos = doc.paths['/user/repos']!.get!.parameters.map((p) => `${p.in}:${p.name}`);
    expect(listRepos).toEqual(expect.arrayContaining(['query:page', 'query:per_page']));
  });
});
