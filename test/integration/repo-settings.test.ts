import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitCli, gitOk, tempDir } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { createPushedRepo, type PushedRepo } from '../helpers/scriptedRuns.ts';
import { createSession } from '../../src/services/sessions.ts';
import { runCli } from '../helpers/cli.ts';

interface Browser {
  cookie: string;
  csrf: string;
}

/**
 * Repository settings (issue 18): rename with redirects (UI, API, git clone and push on the old URL),
 * visibility, archive (a real push refused with the remote message, API writes 403, the banner),
 * transfer, and delete with the typed confirmation — on both databases, through the real server.
 */
describe.each(testDialects())('repository settings on %s', (dialect) => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let aliceB: Browser;
  const cleanups: (() => Promise<void>)[] = [];

  async function browser(user: TestUser): Promise<Browser> {
    const session = `gitoku_session=${await createSession(server.app, user.id)}`;
    const res = await fetch(`${server.url}/-/login`, { headers: { Cookie: session }, redirect: 'manual' });
    const csrfCookie = res.headers
      .getSetCookie()
      .find((c) => c.startsWith('gitoku_csrf='))!
      .split(';')[0]!;
    const cookie = `${session}; ${csrfCookie}`;
    const html = await (await fetch(`${server.url}/`, { headers: { Cookie: cookie } })).text();
    return { cookie, csrf: /name="_csrf" value="([0-9a-f]+)"/.exec(html)![1]! };
  }

  async function get(path: string, b?: Browser) {
    const res = await fetch(`${server.url}${path}`, { headers: b ? { Cookie: b.cookie } : {}, redirect: 'manual' });
    return { status: res.status, html: await res.text(), location: res.headers.get('location') };
  }

  async function post(path: string, b: Browser, fields: Record<string, string>) {
    const body = new URLSearchParams({ ...fields, _csrf: b.csrf });
    const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { Cookie: b.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body, redirect: 'manual' });
    return { status: res.status, html: await res.text(), location: res.headers.get('location') };
  }

  async function pushed(owner: TestUser, name: string, opts: { private?: boolean } = {}): Promise<PushedRepo> {
    const repo = await createPushedRepo(server, owner, name, { 'README.md': `# ${name}\n` }, opts);
    cleanups.push(() => repo.work.remove());
    return repo;
  }

  const row = (id: number) => server.app.db.selectFrom('repositories').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const rowByName = (name: string) => server.app.db.selectFrom('repositories').selectAll().where('lower_name', '=', name.toLowerCase()).executeTakeFirstOrThrow();

  beforeAll(async () => {
    server = await startTestServer(dialect);
    alice = await createTestUser(server);
    bob = await createTestUser(server);
    carol = await createTestUser(server);
    aliceB = await browser(alice);
  });

  afterAll(async () => {
    for (const c of cleanups) await c();
    await server?.close();
  });

  it('renames through the API: the directory moves, the old API path, page and git URL lead to it', async () => {
    const repo = await pushed(alice, 'old-name');
    const before = await rowByName('old-name');
    const res = await api(server, 'PATCH', `/repos/${alice.username}/old-name`, { token: alice.token, body: { name: 'new-name', description: 'renamed' } });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ name: 'new-name', full_name: `${alice.username}/new-name`, description: 'renamed' });
    const after = await row(before.id);
    expect(after.storage_path).toBe(join('repos', alice.username.toLowerCase(), 'new-name.git'));
    expect(existsSync(join(server.dataDir, before.storage_path))).toBe(false);
    expect(existsSync(join(server.dataDir, after.storage_path, 'HEAD'))).toBe(true);

    // API: 301 with Location (query kept), and a client following it gets the repository.
    const moved = await fetch(`${server.url}/api/v1/repos/${alice.username}/old-name/branches?per_page=5`, { headers: { Authorization: `Bearer ${alice.token}` }, redirect: 'manual' });
    expect(moved.status).toBe(301);
    expect(moved.headers.get('location')).toBe(`/api/v1/repos/${alice.username}/new-name/branches?per_page=5`);
    const followed = await api(server, 'GET', `/repos/${alice.username}/old-name`, { token: alice.token });
    expect(followed.status).toBe(200);
    expect(followed.json.name).toBe('new-name');
    // Octokit follows the redirect too.
    const octokit = new Octokit({ baseUrl: `${server.url}/api/v1`, auth: alice.token });
    expect((await octokit.repos.get({ owner: alice.username, repo: 'old-name' })).data.full_name).toBe(`${alice.username}/new-name`);

    // UI: 301 to the same path under the new name, query kept.
    const page = await get(`/${alice.username}/old-name/commits/main?page=1`);
    expect(page.status).toBe(301);
    expect(page.location).toBe(`/${alice.username}/new-name/commits/main?page=1`);
    expect((await get(`/${alice.username}/new-name`)).status).toBe(200);

    // git: clone the old URL, push to it; the push lands in the renamed repository.
    const clone = await tempDir();
    cleanups.push(clone.remove);
    const oldUrl = authUrl(server.url, `${alice.username}/old-name.git`, alice.username, alice.token);
    await gitOk(clone.path, ['clone', '-q', oldUrl, 'c']);
    const dir = join(clone.path, 'c');
    const sha = await commitFiles(dir, { 'after-rename.txt': 'pushed to the old URL\n' }, 'Push through the old name');
    const push = await gitCli(dir, ['push', 'origin', 'main']);
    expect(push.code, push.stderr).toBe(0);
    const branch = await api(server, 'GET', `/repos/${alice.username}/new-name/branches/main`, { token: alice.token });
    expect(branch.json.commit.sha).toBe(sha);
    // The original working copy's remote (the old URL) keeps fetching.
    expect((await gitCli(repo.work.path, ['fetch', '-q', repo.remote, 'main'])).code).toBe(0);
  });

  it('refuses a rename onto an existing name or an invalid one (422), changing nothing', async () => {
    await pushed(alice, 'taken-a');
    await pushed(alice, 'taken-b');
    const onto = await api(server, 'PATCH', `/repos/${alice.username}/taken-a`, { token: alice.token, body: { name: 'Taken-B' } });
    expect(onto.status).toBe(422);
    expect(onto.text).toContain('already exists');
    for (const bad of ['', 'a/b', '..', 'x.git', '-lead', 'a'.repeat(101), 'spa ce']) {
      const res = await api(server, 'PATCH', `/repos/${alice.username}/taken-a`, { token: alice.token, body: { name: bad } });
      expect(res.status, `${JSON.stringify(bad)}: ${res.text}`).toBe(422);
    }
    expect((await api(server, 'GET', `/repos/${alice.username}/taken-a`)).json.name).toBe('taken-a');
    expect((await api(server, 'GET', `/repos/${alice.username}/taken-b`)).json.name).toBe('taken-b');
    // The settings form shows the error in its section.
    const form = await post(`/${alice.username}/taken-a/settings/rename`, aliceB, { name: 'taken-b' });
    expect(form.status).toBe(422);
    expect(form.html).toContain('already exists');
  });

  it('renames through the settings form; a new repository under the old name takes precedence over the redirect', async () => {
    await pushed(alice, 'formy');
    const res = await post(`/${alice.username}/formy/settings/rename`, aliceB, { name: 'formy2' });
    expect(res.status, res.html.slice(0, 300)).toBe(303);
    expect(res.location).toBe(`/${alice.username}/formy2/settings`);
    const settings = await get(`/${alice.username}/formy2/settings`, aliceB);
    expect(settings.html).toContain(`${alice.username}/formy`);
    expect((await get(`/${alice.username}/formy`)).status).toBe(301);

    // A new repository named like the old one wins, and the redirect is gone.
    const created = await api(server, 'POST', '/user/repos', { token: alice.token, body: { name: 'formy' } });
    expect(created.status).toBe(201);
    expect((await get(`/${alice.username}/formy`)).status).toBe(200);
    const redirects = await server.app.db.selectFrom('repository_redirects').selectAll().where('lower_name', '=', 'formy').execute();
    expect(redirects).toHaveLength(0);
    expect((await api(server, 'GET', `/repos/${alice.username}/formy`)).json.id).toBe(created.json.id);
  });

  it('does not reveal a private repository through its old name', async () => {
    await pushed(alice, 'secret-old', { private: true });
    expect((await api(server, 'PATCH', `/repos/${alice.username}/secret-old`, { token: alice.token, body: { name: 'secret-new' } })).status).toBe(200);
    expect((await get(`/${alice.username}/secret-old`)).status).toBe(404);
    const anon = await fetch(`${server.url}/api/v1/repos/${alice.username}/secret-old`, { redirect: 'manual' });
    expect(anon.status).toBe(404);
    const strangers = await fetch(`${server.url}/api/v1/repos/${alice.username}/secret-old`, { headers: { Authorization: `Bearer ${carol.token}` }, redirect: 'manual' });
    expect(strangers.status).toBe(404);
    expect((await fetch(`${server.url}/api/v1/repos/${alice.username}/secret-old`, { headers: { Authorization: `Bearer ${alice.token}` }, redirect: 'manual' })).status).toBe(301);
  });

  it('switches visibility: a private repository is 404 to non-collaborators at once, public again is readable', async () => {
    await pushed(alice, 'vis');
    expect((await api(server, 'GET', `/repos/${alice.username}/vis`, { token: carol.token })).status).toBe(200);
    const octokit = new Octokit({ baseUrl: `${server.url}/api/v1`, auth: alice.token });
    const updated = await octokit.repos.update({ owner: alice.username, repo: 'vis', private: true });
    expect(updated.data.private).toBe(true);
    expect((await api(server, 'GET', `/repos/${alice.username}/vis`, { token: carol.token })).status).toBe(404);
    expect((await get(`/${alice.username}/vis`)).status).toBe(404);
    const clone = await tempDir();
    cleanups.push(clone.remove);
    const anonClone = await gitCli(clone.path, ['clone', '-q', `${server.url}/${alice.username}/vis.git`, 'x']);
    expect(anonClone.code).not.toBe(0);
    // Through the settings form back to public.
    const res = await post(`/${alice.username}/vis/settings`, aliceB, { description: '', visibility: 'public', default_branch: 'main' });
    expect(res.status).toBe(303);
    expect((await api(server, 'GET', `/repos/${alice.username}/vis`, { token: carol.token })).status).toBe(200);
  });

  it('archives: a real push is refused with the remote message, API writes are 403, pages show the banner; unarchive restores writes', async () => {
    const repo = await pushed(alice, 'frozen');
    await api(server, 'PUT', `/repos/${alice.username}/frozen/collaborators/${bob.username}`, { token: alice.token, body: { permission: 'push' } });
    await gitOk(repo.work.path, ['checkout', '-q', '-b', 'topic']);
    await commitFiles(repo.work.path, { 'topic.txt': 'x\n' }, 'topic');
    await gitOk(repo.work.path, ['push', '-q', repo.remote, 'topic']);
    const pr = await api(server, 'POST', `/repos/${alice.username}/frozen/pulls`, { token: alice.token, body: { title: 'T', head: 'topic', base: 'main' } });
    expect(pr.status).toBe(201);

    const octokit = new Octokit({ baseUrl: `${server.url}/api/v1`, auth: alice.token });
    const archived = await octokit.repos.update({ owner: alice.username, repo: 'frozen', archived: true });
    expect(archived.data.archived).toBe(true);

    await commitFiles(repo.work.path, { 'late.txt': 'too late\n' }, 'late');
    const push = await gitCli(repo.work.path, ['push', repo.remote, 'topic']);
    expect(push.code).not.toBe(0);
    expect(push.stderr).toContain('remote: ERROR: This repository was archived so it is read-only.');
    const bobPush = await gitCli(repo.work.path, ['push', authUrl(server.url, `${alice.username}/frozen.git`, bob.username, bob.token), 'topic']);
    expect(bobPush.stderr).toContain('archived');
    // Reads still work.
    expect((await gitCli(repo.work.path, ['fetch', '-q', repo.remote, 'main'])).code).toBe(0);

    const merge = await api(server, 'PUT', `/repos/${alice.username}/frozen/pulls/${pr.json.number}/merge`, { token: alice.token, body: {} });
    expect(merge.status).toBe(403);
    expect(merge.json.message).toContain('archived');
    const newPr = await api(server, 'POST', `/repos/${alice.username}/frozen/pulls`, { token: bob.token, body: { title: 'U', head: 'topic', base: 'main' } });
    expect(newPr.status).toBe(403);
    const ref = await api(server, 'DELETE', `/repos/${alice.username}/frozen/git/refs/heads/topic`, { token: alice.token });
    expect(ref.status).toBe(403);
    expect(ref.json.message).toContain('archived');
    // Reader-level writes too: opening an issue, commenting, reviewing.
    const issue = await api(server, 'POST', `/repos/${alice.username}/frozen/issues`, { token: carol.token, body: { title: 'Too late' } });
    expect(issue.status).toBe(403);
    expect(issue.json.message).toContain('archived');
    expect((await api(server, 'POST', `/repos/${alice.username}/frozen/pulls/${pr.json.number}/reviews`, { token: carol.token, body: { event: 'COMMENT', body: 'x' } })).status).toBe(403);
    const carolB = await browser(carol);
    const form = await post(`/${alice.username}/frozen/issues`, carolB, { title: 'Through the form' });
    expect(form.status).toBe(403);
    expect(form.html).toContain('archived');
    const run = await api(server, 'POST', `/repos/${alice.username}/frozen/runs`, { token: alice.token, body: { prompt: 'do something' } });
    expect(run.status).toBe(403);
    expect(await server.app.db.selectFrom('prompt_pull_request_jobs').select('id').where('repository_id', '=', (await rowByName('frozen')).id).execute()).toHaveLength(0);

    const page = await get(`/${alice.username}/frozen`, aliceB);
    expect(page.html).toContain('This repository has been archived by the owner. It is now read-only.');
    expect(page.html).toContain(`/${alice.username}/frozen/settings`); // the admin can still reach the settings
    expect((await get(`/${alice.username}/frozen/pulls`)).html).toContain('archived by the owner');

    // Archiving asks for confirmation in the UI; unarchiving brings writes back.
    const res = await post(`/${alice.username}/frozen/settings/archive`, aliceB, { archived: '0' });
    expect(res.status).toBe(303);
    expect((await row((await rowByName('frozen')).id)).archived).toBe(0);
    expect((await gitCli(repo.work.path, ['push', repo.remote, 'topic'])).code).toBe(0);
    const ask = await post(`/${alice.username}/frozen/settings/archive`, aliceB, { archived: '1' });
    expect(ask.status).toBe(200);
    expect(ask.html).toContain('Archive this repository');
    expect((await rowByName('frozen')).archived).toBe(0);
    const confirmed = await post(`/${alice.username}/frozen/settings/archive`, aliceB, { archived: '1', confirmed: '1' });
    expect(confirmed.status).toBe(303);
    expect((await rowByName('frozen')).archived).toBe(1);
  });

  it('transfers to another user: collaborators kept, old owner/name redirects, git served; a missing user or a taken name is 422', async () => {
    const repo = await pushed(alice, 'moving');
    await api(server, 'PUT', `/repos/${alice.username}/moving/collaborators/${carol.username}`, { token: alice.token, body: { permission: 'push' } });
    const octokit = new Octokit({ baseUrl: `${server.url}/api/v1`, auth: alice.token });

    const missing = await api(server, 'POST', `/repos/${alice.username}/moving/transfer`, { token: alice.token, body: { new_owner: 'nobody-here-at-all' } });
    expect(missing.status).toBe(422);
    expect(missing.text).toContain('does not exist');
    await pushed(bob, 'moving');
    const taken = await api(server, 'POST', `/repos/${alice.username}/moving/transfer`, { token: alice.token, body: { new_owner: bob.username } });
    expect(taken.status).toBe(422);
    expect(taken.text).toContain('already exists');
    const notAdmin = await api(server, 'POST', `/repos/${alice.username}/moving/transfer`, { token: carol.token, body: { new_owner: carol.username } });
    expect(notAdmin.status).toBe(403);

    const res = await octokit.repos.transfer({ owner: alice.username, repo: 'moving', new_owner: bob.username, new_name: 'moved' });
    expect(res.status).toBe(202);
    expect(res.data.full_name).toBe(`${bob.username}/moved`);
    const moved = await rowByName('moved');
    expect(moved.owner_id).toBe(bob.id);
    expect(moved.storage_path).toBe(join('repos', bob.username.toLowerCase(), 'moved.git'));
    // Collaborators are kept; the old owner is no longer one.
    const collaborators = await api(server, 'GET', `/repos/${bob.username}/moved/collaborators`, { token: bob.token });
    expect(collaborators.json.map((u: { login: string }) => u.login)).toEqual([carol.username]);
    expect((await api(server, 'GET', `/repos/${bob.username}/moved`, { token: alice.token })).json.permissions.admin).toBe(false);
    // The old path redirects; git on the old URL is served (carol pushes through it).
    const old = await fetch(`${server.url}/api/v1/repos/${alice.username}/moving`, { redirect: 'manual', headers: { Authorization: `Bearer ${carol.token}` } });
    expect(old.status).toBe(301);
    expect(old.headers.get('location')).toBe(`/api/v1/repos/${bob.username}/moved`);
    const sha = await commitFiles(repo.work.path, { 'carol.txt': 'hi\n' }, 'carol');
    const push = await gitCli(repo.work.path, ['push', authUrl(server.url, `${alice.username}/moving.git`, carol.username, carol.token), 'main']);
    expect(push.code, push.stderr).toBe(0);
    expect((await api(server, 'GET', `/repos/${bob.username}/moved/branches/main`)).json.commit.sha).toBe(sha);
  });

  it('transfers through the settings form only with the typed full name', async () => {
    await pushed(alice, 'handover');
    const wrong = await post(`/${alice.username}/handover/settings/transfer`, aliceB, { new_owner: carol.username, confirm: 'handover' });
    expect(wrong.status).toBe(422);
    expect(wrong.html).toContain(`type ${alice.username}/handover exactly`);
    const nobody = await post(`/${alice.username}/handover/settings/transfer`, aliceB, { new_owner: 'no-such-user-x', confirm: `${alice.username}/handover` });
    expect(nobody.status).toBe(422);
    expect(nobody.html).toContain('does not exist');
    const ok = await post(`/${alice.username}/handover/settings/transfer`, aliceB, { new_owner: carol.username, confirm: `${alice.username}/handover` });
    expect(ok.status).toBe(303);
    expect(ok.location).toBe(`/${carol.username}/handover`); // public: the previous owner still sees it
  });

  it('deletes only with the full name typed; the data is gone', async () => {
    await pushed(alice, 'doomed');
    const id = (await rowByName('doomed')).id;
    const gitDir = join(server.dataDir, (await row(id)).storage_path);
    const wrong = await post(`/${alice.username}/doomed/settings/delete`, aliceB, { confirm: 'doomed' });
    expect(wrong.status).toBe(422);
    expect(existsSync(gitDir)).toBe(true);
    const ok = await post(`/${alice.username}/doomed/settings/delete`, aliceB, { confirm: `${alice.username}/doomed` });
    expect(ok.status).toBe(303);
    expect(existsSync(gitDir)).toBe(false);
    expect(await server.app.db.selectFrom('repositories').select('id').where('id', '=', id).execute()).toHaveLength(0);
  });

  it('renames and archives from the command line, as gh does', async () => {
    await pushed(alice, 'cli-old');
    await pushed(alice, 'cli-other');
    const env = { GITOKU_URL: server.url, GITOKU_TOKEN: alice.token };
    const renamed = await runCli(['repo', 'rename', `${alice.username}/cli-old`, 'cli-new'], env);
    expect(renamed.code, renamed.stderr).toBe(0);
    expect(renamed.stdout).toContain(`Renamed ${alice.username}/cli-old to ${alice.username}/cli-new`);
    const taken = await runCli(['repo', 'rename', `${alice.username}/cli-new`, 'cli-other'], env);
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toContain('already exists');
    const archived = await runCli(['repo', 'archive', `${alice.username}/cli-old`], env); // through the old name
    expect(archived.code, archived.stderr).toBe(0);
    expect((await rowByName('cli-new')).archived).toBe(1);
    expect((await runCli(['repo', 'unarchive', `${alice.username}/cli-new`], env)).code).toBe(0);
    expect((await rowByName('cli-new')).archived).toBe(0);
    const stranger = await runCli(['repo', 'archive', `${alice.username}/cli-new`], { GITOKU_URL: server.url, GITOKU_TOKEN: carol.token });
    expect(stranger.code).not.toBe(0);
  });

  it('keeps settings for administrators only', async () => {
    await pushed(alice, 'guarded');
    await api(server, 'PUT', `/repos/${alice.username}/guarded/collaborators/${bob.username}`, { token: alice.token, body: { permission: 'push' } });
    const bobB = await browser(bob);
    expect((await post(`/${alice.username}/guarded/settings/rename`, bobB, { name: 'stolen' })).status).toBe(403);
    expect((await api(server, 'PATCH', `/repos/${alice.username}/guarded`, { token: bob.token, body: { archived: true } })).status).toBe(403);
    expect((await rowByName('guarded')).archived).toBe(0);
  });
});
