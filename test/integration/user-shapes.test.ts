import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { authUrl, commitFiles, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';

/** Every user object in API answers: a live avatar_url, the same site_admin wherever the user appears (issue 16). */
describe.each(testDialects())('API user objects (%s)', (dialect) => {
  let server: TestServer;
  let admin: TestUser;
  let plain: TestUser;
  let pr = 0;

  beforeAll(async () => {
    server = await startTestServer(dialect);
    admin = await createTestUser(server, { username: 'root16', admin: true });
    plain = await createTestUser(server, { username: 'ann16' });
    expect((await api(server, 'POST', '/user/repos', { token: admin.token, body: { name: 'tools' } })).status).toBe(201);
    const work = await tempDir();
    try {
      await initWorkRepo(work.path, { 'a.txt': 'a\n' });
      const remote = authUrl(server.url, 'root16/tools.git', admin.username, admin.token);
      await gitOk(work.path, ['push', '-q', remote, 'main']);
      await gitOk(work.path, ['checkout', '-q', '-b', 'topic']);
      await commitFiles(work.path, { 'a.txt': 'a\nb\n' }, 'More');
      await gitOk(work.path, ['push', '-q', remote, 'topic']);
    } finally {
      await work.remove();
    }
    const created = await api(server, 'POST', '/repos/root16/tools/pulls', { token: admin.token, body: { title: 'More', head: 'topic', base: 'main' } });
    expect(created.status, created.text).toBe(201);
    pr = created.json.number;
    expect((await api(server, 'POST', `/repos/root16/tools/issues/${pr}/comments`, { token: admin.token, body: { body: 'a note' } })).status).toBe(201);
    expect((await api(server, 'POST', `/repos/root16/tools/pulls/${pr}/reviews`, { token: admin.token, body: { event: 'COMMENT', body: 'looks fine' } })).status).toBe(200);
  });

  afterAll(async () => {
    await server?.close();
  });

  it('13. site_admin is the same for a user as /user, as a repository owner, a PR author, a head/base owner, a commenter and a reviewer', async () => {
    const me = (await api(server, 'GET', '/user', { token: admin.token })).json;
    expect(me.site_admin).toBe(true);
    const repo = (await api(server, 'GET', '/repos/root16/tools')).json;
    const list = (await api(server, 'GET', '/user/repos', { token: admin.token })).json;
    const pull = (await api(server, 'GET', `/repos/root16/tools/pulls/${pr}`)).json;
    const comments = (await api(server, 'GET', `/repos/root16/tools/issues/${pr}/comments`)).json;
    const reviews = (await api(server, 'GET', `/repos/root16/tools/pulls/${pr}/reviews`)).json;
    const seen = [repo.owner, list[0].owner, pull.user, pull.head.user, pull.base.user, comments[0].user, reviews[0].user];
    for (const u of seen) expect(u).toMatchObject({ login: 'root16', site_admin: true });
    expect((await api(server, 'GET', '/users/ann16')).json.site_admin).toBe(false);
  });

  it('12. avatar_url answers: a cacheable SVG of the initial, for every user object', async () => {
    const me = (await api(server, 'GET', '/user', { token: plain.token })).json;
    const repo = (await api(server, 'GET', '/repos/root16/tools')).json;
    for (const url of [me.avatar_url as string, repo.owner.avatar_url as string]) {
      expect(url.startsWith(server.url)).toBe(true);
      const res = await fetch(url);
      expect(res.status, url).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/svg+xml');
      expect(res.headers.get('cache-control')).toMatch(/max-age=\d+/);
      const svg = await res.text();
      expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      const etag = res.headers.get('etag')!;
      expect((await fetch(url, { headers: { 'if-none-match': etag } })).status).toBe(304);
    }
    expect(await (await fetch(me.avatar_url)).text()).toContain('>A</text>');
    // A name with markup is escaped in the SVG; no lookup, so any name answers alike.
    const odd = await fetch(`${server.url}/-/avatars/${encodeURIComponent('<b>x')}.svg`);
    expect(odd.status).toBe(200);
    expect(await odd.text()).not.toContain('<b>');
    expect((await fetch(`${server.url}/-/avatars/ann16.png`)).status).toBe(404);
  });
});
