import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { authUrl, commitFiles, gitCli } from '../helpers/git.ts';
import { createPushedRepo } from '../helpers/scriptedRuns.ts';
import { runCli } from '../helpers/cli.ts';
import { flashOf, signInWithForm, type FormSession } from '../helpers/formSession.ts';
import { claimJob, enqueueJob, failJobAttempt } from '../../src/services/jobs.ts';
import { createUser } from '../../src/services/users.ts';

/**
 * Site administration (issue 18) through the real server, git and CLI on both databases: admin-only
 * pages (404 to others), the overview, users (search, pages, create, suspend with every credential
 * refused at once, promote/demote with the last-admin guard, delete with or without the repositories),
 * repositories, and the job queue (retry failed, cancel queued).
 */
describe.each(testDialects())('site administration on %s', (dialect) => {
  let server: TestServer;
  let root: TestUser;
  let rootAdminToken: string;
  let ivy: TestUser;
  let rootB: FormSession;
  let ivyB: FormSession;
  let addressSeq = 0;
  const cleanups: (() => Promise<void>)[] = [];

  async function signIn(user: TestUser, password = user.password): Promise<FormSession> {
    const { session, status } = await signInWithForm(server, user.username, password, { address: `203.0.113.${++addressSeq}` });
    expect(session, `sign-in ${user.username}: ${status}`).not.toBeNull();
    return session!;
  }

  beforeAll(async () => {
    server = await startTestServer(dialect, { GITOKU_TRUST_PROXY: 'true' });
    root = await createTestUser(server, { username: 'root18', admin: true, scopes: ['repo', 'admin'] });
    rootAdminToken = root.token;
    ivy = await createTestUser(server, { username: 'ivy18' });
    rootB = await signIn(root);
    ivyB = await signIn(ivy);
  });

  afterAll(async () => {
    for (const c of cleanups) await c();
    await server?.close();
  });

  it('is invisible to everyone but site administrators (404), and anonymous visitors are sent to sign in', async () => {
    const paths = ['/-/admin', '/-/admin/users', '/-/admin/users/root18', '/-/admin/repos', '/-/admin/jobs', '/-/admin/runners'];
    for (const path of paths) {
      expect((await ivyB.get(path)).status, path).toBe(404);
      const anon = await fetch(`${server.url}${path}`, { redirect: 'manual' });
      expect(anon.status, path).toBe(303);
      expect(anon.headers.get('location')).toContain('/-/login?next=');
      expect((await rootB.get(path)).status, path).toBe(200);
    }
    for (const action of ['/-/admin/users/root18/suspend', '/-/admin/users/root18/demote', '/-/admin/users', '/-/admin/jobs/1/retry']) {
      expect((await ivyB.post(action, { login: 'x', password: 'xxxxxxxxxx', confirm: 'root18' })).status, action).toBe(404);
    }
    // Without the CSRF field nothing happens even for an administrator.
    const forged = await fetch(`${server.url}/-/admin/users/ivy18/suspend`, { method: 'POST', headers: { Cookie: rootB.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: '', redirect: 'manual' });
    expect(forged.status).toBe(403);
    // The API: a non-admin, or an admin's token without the admin scope, is refused.
    expect((await api(server, 'GET', '/admin/users', { token: ivy.token })).status).toBe(403);
    const repoOnly = await createTestUser(server, { username: 'root18b', admin: true, scopes: ['repo'] });
    expect((await api(server, 'GET', '/admin/users', { token: repoOnly.token })).status).toBe(403);
    expect((await api(server, 'PUT', '/users/ivy18/suspended', { token: ivy.token })).status).toBe(403);
    expect((await api(server, 'GET', '/admin/users')).status).toBe(401);
    // The user menu links here for administrators only.
    expect((await rootB.get('/')).html).toContain('href="/-/admin"');
    expect((await ivyB.get('/')).html).not.toContain('href="/-/admin"');
  });

  it('shows the server configuration at a glance, without secrets', async () => {
    const page = await rootB.get('/-/admin');
    expect(page.html).toContain(dialect === 'postgres' ? 'PostgreSQL' : 'SQLite');
    expect(page.html).toContain(server.url);
    expect(page.html).toContain(server.dataDir);
    expect(page.html).toMatch(/gitoku \d+\.\d+\.\d+/);
    expect(page.html).toMatch(/runners online/);
    expect(page.html).toMatch(/\d+(\.\d+)? (B|KB|MB|GB|KiB|MiB|GiB)[^<]* in the data directory/);
    expect(page.html).not.toContain(server.app.secret);
    const overview = await api(server, 'GET', '/admin/overview', { token: rootAdminToken });
    expect(overview.status).toBe(200);
    expect(overview.json).toMatchObject({ database: dialect, base_url: server.url, data_dir: server.dataDir });
    expect(overview.json.disk.data_dir_bytes).toBeGreaterThan(0);
    expect(overview.text).not.toContain(server.app.secret);
  });

  it('lists users with search and pages; creates users (duplicate name or email refused)', async () => {
    for (let i = 0; i < 31; i++) await createUser(server.app, { username: `bulk${String(i).padStart(2, '0')}`, password: 'bulk-password' });
    const first = await rootB.get('/-/admin/users?q=bulk');
    expect(first.html).toContain('Users matching “bulk”');
    expect(first.html.match(/class="admin-item" data-user="bulk\d\d"/g)).toHaveLength(30);
    expect(first.html).toContain('Page 1 of 2');
    const second = await rootB.get('/-/admin/users?q=bulk&page=2');
    expect(second.html.match(/data-user="bulk\d\d"/g)).toEqual(['data-user="bulk30"']);
    // Wildcards are literal.
    expect((await rootB.get('/-/admin/users?q=%25')).html).toContain('No users match');
    expect((await rootB.get('/-/admin/users?q=bulk_')).html).toContain('No users match');

    const listed = await api(server, 'GET', '/admin/users?q=bulk&per_page=10&page=4', { token: rootAdminToken });
    expect(listed.status).toBe(200);
    expect(listed.json.map((u: { login: string }) => u.login)).toEqual(['bulk30']);
    expect(listed.headers.get('link')).toContain('rel="first"');

    const created = await rootB.post('/-/admin/users', { login: 'newbie18', email: 'newbie@example.com', password: 'newbie-password' });
    expect(created.status).toBe(303);
    expect(created.location).toBe('/-/admin/users/newbie18');
    expect((await signInWithForm(server, 'newbie18', 'newbie-password', { address: '203.0.113.250' })).session).not.toBeNull();
    const dupName = await rootB.post('/-/admin/users', { login: 'NEWBIE18', email: '', password: 'newbie-password' });
    expect(dupName.status).toBe(422);
    expect(dupName.html).toContain('already taken');
    const short = await rootB.post('/-/admin/users', { login: 'shorty18', email: '', password: 'short' });
    expect(short.status).toBe(422);
    expect(short.html).toContain('at least 8 characters');
    const dupEmail = await api(server, 'POST', '/admin/users', { token: rootAdminToken, body: { login: 'other18', email: 'NEWBIE@example.com', password: 'other-password' } });
    expect(dupEmail.status).toBe(422);
    expect(dupEmail.json.message).toContain('already in use');
  });

  it('disables a user: sign-in, session, token and git push refused at once; enabling restores password and tokens', async () => {
    const jay = await createTestUser(server, { username: 'jay18' });
    const repo = await createPushedRepo(server, jay, 'notes', { 'README.md': '# notes\n' });
    cleanups.push(() => repo.work.remove());
    const jayB = await signIn(jay);
    expect((await jayB.get('/-/settings/profile')).status).toBe(200);

    const res = await rootB.post('/-/admin/users/jay18/suspend', {});
    expect(res.status).toBe(303);
    expect(flashOf((await rootB.get('/-/admin/users/jay18')).html)).toContain('Suspended jay18');
    expect((await rootB.get('/-/admin/users/jay18')).html).toContain('Suspended</span> since');

    // The browser session is gone, the token is refused, the password is refused (with a clear message), git too.
    expect((await jayB.get('/-/settings/profile')).status).toBe(303);
    expect((await api(server, 'GET', '/user', { token: jay.token })).status).toBe(401);
    const signIn2 = await signInWithForm(server, 'jay18', jay.password, { address: '203.0.113.200' });
    expect(signIn2.session).toBeNull();
    expect(signIn2.status).toBe(403);
    expect(signIn2.html).toContain('This account is suspended');
    await commitFiles(repo.work.path, { 'more.txt': 'more\n' }, 'More');
    const push = await gitCli(repo.work.path, ['push', '-q', repo.remote, 'main']);
    expect(push.code).not.toBe(0);
    const byPassword = await gitCli(repo.work.path, ['push', '-q', authUrl(server.url, 'jay18/notes.git', 'jay18', jay.password), 'main']);
    expect(byPassword.code).not.toBe(0);
    expect((await api(server, 'GET', '/users/jay18', { token: rootAdminToken })).json.suspended_at).toMatch(/^\d{4}-/);

    // Nobody suspends themselves.
    const self = await rootB.post('/-/admin/users/root18/suspend', {});
    expect(self.status).toBe(422);
    expect(self.html).toContain('You cannot suspend your own account');
    expect((await api(server, 'PUT', '/users/root18/suspended', { token: rootAdminToken })).status).toBe(422);

    // Enable: the token and the password work again; the push goes through.
    expect((await api(server, 'DELETE', '/users/jay18/suspended', { token: rootAdminToken })).status).toBe(204);
    expect((await api(server, 'GET', '/user', { token: jay.token })).status).toBe(200);
    expect((await gitCli(repo.work.path, ['push', '-q', repo.remote, 'main'])).code).toBe(0);
    expect((await signInWithForm(server, 'jay18', jay.password, { address: '203.0.113.201' })).session).not.toBeNull();
    // And through the API: PUT suspends at once too.
    expect((await api(server, 'PUT', '/users/jay18/suspended', { token: rootAdminToken, body: { reason: 'spam' } })).status).toBe(204);
    expect((await api(server, 'GET', '/user', { token: jay.token })).status).toBe(401);
    expect((await api(server, 'PATCH', '/admin/users/jay18', { token: rootAdminToken, body: { suspended: false } })).json.suspended_at).toBeNull();
  });

  it('promotes and demotes, never the last administrator', async () => {
    const kim = await createTestUser(server, { username: 'kim18', scopes: ['repo', 'admin'] });
    expect((await api(server, 'GET', '/admin/users', { token: kim.token })).status).toBe(403);
    expect((await rootB.post('/-/admin/users/kim18/promote', {})).status).toBe(303);
    expect((await api(server, 'GET', '/users/kim18')).json.site_admin).toBe(true);
    expect((await api(server, 'GET', '/admin/users', { token: kim.token })).status).toBe(200);
    expect((await api(server, 'DELETE', '/users/kim18/site_admin', { token: rootAdminToken })).status).toBe(204);
    expect((await api(server, 'GET', '/users/kim18')).json.site_admin).toBe(false);

    // root18b (an admin from the first test) goes too; then root18 is the last one and stays.
    expect((await api(server, 'DELETE', '/users/root18b/site_admin', { token: rootAdminToken })).status).toBe(204);
    const last = await rootB.post('/-/admin/users/root18/demote', {});
    expect(last.status).toBe(422);
    expect(last.html).toContain('last site administrator');
    const lastApi = await api(server, 'DELETE', '/users/root18/site_admin', { token: rootAdminToken });
    expect(lastApi.status).toBe(422);
    expect(lastApi.json.message).toContain('last site administrator');
    expect((await api(server, 'PATCH', '/admin/users/root18', { token: rootAdminToken, body: { site_admin: false } })).status).toBe(422);
    expect((await api(server, 'GET', '/users/root18')).json.site_admin).toBe(true);
    expect((await api(server, 'PUT', '/users/kim18/site_admin', { token: rootAdminToken })).status).toBe(204);
    expect((await api(server, 'PATCH', '/admin/users/kim18', { token: rootAdminToken, body: { admin: false } })).json.site_admin).toBe(false);
    expect((await api(server, 'PUT', '/users/nobody18/site_admin', { token: rootAdminToken })).status).toBe(404);
  });

  it('deletes a user: refused while they own repositories unless purged; the typed name is required', async () => {
    const lou = await createTestUser(server, { username: 'lou18' });
    const repo = await createPushedRepo(server, lou, 'work', { 'a.txt': 'a\n' });
    cleanups.push(() => repo.work.remove());
    const row = await server.app.db.selectFrom('repositories').selectAll().where('lower_name', '=', 'work').executeTakeFirstOrThrow();
    const gitDir = join(server.dataDir, row.storage_path);
    expect(existsSync(gitDir)).toBe(true);

    const mistyped = await rootB.post('/-/admin/users/lou18/delete', { confirm: 'lou' });
    expect(mistyped.status).toBe(422);
    expect(mistyped.html).toContain('Type lou18 to confirm');
    const owns = await rootB.post('/-/admin/users/lou18/delete', { confirm: 'lou18' });
    expect(owns.status).toBe(422);
    expect(owns.html).toContain('owns 1 repository');
    expect((await api(server, 'DELETE', '/admin/users/lou18', { token: rootAdminToken })).status).toBe(422);
    expect(existsSync(gitDir)).toBe(true);
    expect((await api(server, 'GET', '/repos/lou18/work')).status).toBe(200);

    const purged = await rootB.post('/-/admin/users/lou18/delete', { confirm: 'lou18', purge: '1' });
    expect(purged.status).toBe(303);
    expect(flashOf((await rootB.get('/-/admin/users')).html)).toBe('Deleted lou18 and 1 repository.');
    expect(existsSync(gitDir)).toBe(false);
    expect((await api(server, 'GET', '/users/lou18')).status).toBe(404);
    expect((await api(server, 'GET', '/user', { token: lou.token })).status).toBe(401);

    const mo = await createTestUser(server, { username: 'mo18' });
    expect((await api(server, 'DELETE', '/admin/users/mo18', { token: rootAdminToken })).status).toBe(204);
    expect((await api(server, 'GET', '/user', { token: mo.token })).status).toBe(401);
    expect((await api(server, 'DELETE', '/admin/users/root18', { token: rootAdminToken })).status).toBe(422);
    expect((await rootB.get('/-/admin/users/root18')).html).not.toContain('id="delete-user"');
  });

  it('lists repositories with owner, size and visibility, linking to their settings', async () => {
    const nia = await createTestUser(server, { username: 'nia18' });
    const repo = await createPushedRepo(server, nia, 'secret-plans', { 'plan.md': 'x\n'.repeat(1000) }, { private: true });
    cleanups.push(() => repo.work.remove());
    const page = await rootB.get('/-/admin/repos?q=secret');
    expect(page.html).toContain('data-repo="nia18/secret-plans"');
    expect(page.html).toContain('Private');
    expect(page.html).toMatch(/\d+(\.\d+)? (B|KB|KiB|MB|MiB) on disk/);
    expect(page.html).toContain('href="/nia18/secret-plans/settings"');
    expect((await rootB.get('/-/admin/repos?q=nothing-like-this')).html).toContain('No repositories match');
  });

  it('shows the job queue by kind and status; retries failed jobs and cancels queued ones', async () => {
    const failed = await enqueueJob(server.app.db, { kind: 'test-only-admin', repositoryId: null, payload: {}, maxAttempts: 1 });
    const claimed = await claimJob(server.app, 'test-owner', ['test-only-admin'], 60_000);
    expect(claimed?.id).toBe(failed.id);
    expect(await failJobAttempt(server.app.db, claimed!, 'test-owner', 'boom: <script>x</script>', false)).toBe('failed');
    const queued = await enqueueJob(server.app.db, { kind: 'test-only-admin', repositoryId: null, payload: {}, runAfter: new Date(Date.now() + 3600_000) });

    const page = await rootB.get('/-/admin/jobs?status=failed');
    expect(page.html).toContain('test-only-admin');
    expect(page.html).toContain(`data-job="${failed.id}"`);
    expect(page.html).toContain('boom: &lt;script&gt;');
    expect(page.html).not.toContain('<script>x</script>');
    expect(page.html).toMatch(/status=queued&amp;kind=test-only-admin">1<\/a>/); // one queued of this kind in the counts table

    const listed = await api(server, 'GET', '/admin/jobs?status=failed&kind=test-only-admin', { token: rootAdminToken });
    expect(listed.json.map((j: { id: number }) => j.id)).toEqual([failed.id]);
    expect((await api(server, 'GET', '/admin/jobs?status=bogus', { token: rootAdminToken })).status).toBe(422);

    // Retry (UI): queued again with attempts reset. A second retry is refused: it is not failed now.
    expect((await rootB.post(`/-/admin/jobs/${failed.id}/retry`, {})).status).toBe(303);
    const again = await server.app.db.selectFrom('jobs').selectAll().where('id', '=', failed.id).executeTakeFirstOrThrow();
    expect(again).toMatchObject({ status: 'queued', attempts: 0, finished_at: null });
    const twice = await api(server, 'POST', `/admin/jobs/${failed.id}/retry`, { token: rootAdminToken });
    expect(twice.status).toBe(422);
    expect(twice.json.message).toContain('only failed jobs');

    // Cancel (API and UI).
    const cancelled = await api(server, 'POST', `/admin/jobs/${queued.id}/cancel`, { token: rootAdminToken });
    expect(cancelled.status).toBe(200);
    expect(cancelled.json.status).toBe('cancelled');
    expect((await api(server, 'POST', `/admin/jobs/${queued.id}/cancel`, { token: rootAdminToken })).status).toBe(422);
    expect((await rootB.post(`/-/admin/jobs/${failed.id}/cancel`, {})).status).toBe(303);
    expect((await server.app.db.selectFrom('jobs').select('status').where('id', '=', failed.id).executeTakeFirstOrThrow()).status).toBe('cancelled');
    // Retrying through the API: fail it again first.
    await server.app.db.updateTable('jobs').set({ status: 'failed' }).where('id', '=', queued.id).execute();
    const retried = await api(server, 'POST', `/admin/jobs/${queued.id}/retry`, { token: rootAdminToken });
    expect(retried.status).toBe(200);
    expect(retried.json).toMatchObject({ id: queued.id, status: 'queued', attempts: 0 });
    await api(server, 'POST', `/admin/jobs/${queued.id}/cancel`, { token: rootAdminToken });
    expect((await api(server, 'POST', '/admin/jobs/99999999/retry', { token: rootAdminToken })).status).toBe(404);
  });

  it('manages users from the CLI: list, disable, enable, promote, demote (last-admin guard), delete', async () => {
    const env = server.env;
    const oli = await createTestUser(server, { username: 'oli18' });
    const list = await runCli(['admin', 'user', 'list', '--query', 'oli', '--json'], env);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ login: 'oli18', site_admin: false, suspended_at: null, repositories: 0 })]);
    const table = await runCli(['admin', 'user', 'list', '--query', 'root18'], env);
    expect(table.stdout).toMatch(/root18\s+admin\s+active/);

    const disable = await runCli(['admin', 'user', 'disable', 'oli18'], env);
    expect(disable.code, disable.stderr).toBe(0);
    expect(disable.stdout).toContain('Suspended "oli18"');
    expect((await api(server, 'GET', '/user', { token: oli.token })).status).toBe(401);
    expect((await runCli(['admin', 'user', 'enable', 'oli18'], env)).code).toBe(0);
    expect((await api(server, 'GET', '/user', { token: oli.token })).status).toBe(200);

    expect((await runCli(['admin', 'user', 'promote', 'oli18'], env)).code).toBe(0);
    expect((await api(server, 'GET', '/users/oli18')).json.site_admin).toBe(true);
    expect((await runCli(['admin', 'user', 'demote', 'oli18'], env)).code).toBe(0);
    const last = await runCli(['admin', 'user', 'demote', 'root18'], env);
    expect(last.code).toBe(1);
    expect(last.stderr).toContain('last site administrator');
    const missing = await runCli(['admin', 'user', 'disable', 'ghost18'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('not found');

    expect((await runCli(['admin', 'user', 'delete', 'oli18', '--confirm', 'oli'], env)).code).toBe(1);
    const del = await runCli(['admin', 'user', 'delete', 'oli18', '--confirm', 'oli18'], env);
    expect(del.code, del.stderr).toBe(0);
    expect((await api(server, 'GET', '/users/oli18')).status).toBe(404);
  }, 60_000);
});
