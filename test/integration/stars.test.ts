/**
 * Stars: the GitHub API (`/user/starred…`, `/repos/{owner}/{repo}/stargazers`, `stargazers_count`) driven
 * through Octokit, the counts under concurrent stars and an account deletion, who may star what (private
 * repositories, job tokens), and the pages: the header's Star form, the stargazers page, explore by stars.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Octokit } from '@octokit/rest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { signInWithForm } from '../helpers/formSession.ts';
import { enqueueJob } from '../../src/services/jobs.ts';
import { createJobToken } from '../../src/services/jobTokens.ts';

describe.each(testDialects())('stars (%s)', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let fan: TestUser;
  let stranger: TestUser;
  let admin: TestUser;
  const octokit = (token?: string) => new Octokit({ baseUrl: `${server.url}/api/v1`, auth: token, request: { retries: 0 } });
  const repoJson = async (name: string, token = owner.token) => (await api(server, 'GET', `/repos/${owner.username}/${name}`, { token })).json;
  const starRows = async (name: string) =>
    Number(
      (
        await server.app.db
          .selectFrom('repository_stars')
          .innerJoin('repositories', 'repositories.id', 'repository_stars.repository_id')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('repositories.lower_name', '=', name)
          .executeTakeFirstOrThrow()
      ).n,
    );

  beforeAll(async () => {
    server = await startTestServer(dialect, {}, { dispatcher: false });
    [owner, fan, stranger, admin] = await Promise.all([createTestUser(server), createTestUser(server), createTestUser(server), createTestUser(server, { admin: true, scopes: ['repo', 'admin'] })]);
    for (const [name, isPrivate] of [['shiny', false], ['hidden', true], ['quiet', false]] as const) {
      expect((await api(server, 'POST', '/user/repos', { token: owner.token, body: { name, private: isPrivate, auto_init: true } })).status).toBe(201);
    }
  }, 60_000);

  afterAll(async () => {
    await server?.close();
  });

  it('stars and unstars through the GitHub API (Octokit): idempotent, counted, listed both ways', async () => {
    const gh = octokit(fan.token);
    await expect(gh.activity.checkRepoIsStarredByAuthenticatedUser({ owner: owner.username, repo: 'shiny' })).rejects.toMatchObject({ status: 404 });
    expect((await gh.activity.starRepoForAuthenticatedUser({ owner: owner.username, repo: 'shiny' })).status).toBe(204);
    expect((await gh.activity.starRepoForAuthenticatedUser({ owner: owner.username, repo: 'shiny' })).status).toBe(204);
    expect((await gh.activity.checkRepoIsStarredByAuthenticatedUser({ owner: owner.username, repo: 'shiny' })).status).toBe(204);
    await octokit(owner.token).activity.starRepoForAuthenticatedUser({ owner: owner.username, repo: 'shiny' });
    await octokit(owner.token).activity.starRepoForAuthenticatedUser({ owner: owner.username, repo: 'hidden' });

    const repo = (await gh.repos.get({ owner: owner.username, repo: 'shiny' })).data;
    expect(repo.stargazers_count).toBe(2);
    expect(repo.watchers_count).toBe(2);
    expect(await starRows('shiny')).toBe(2);

    // Stargazers: first stars first; with star+json, each star's time beside the user.
    const gazers = (await octokit().activity.listStargazersForRepo({ owner: owner.username, repo: 'shiny' })).data as { login: string }[];
    expect(gazers.map((u) => u.login)).toEqual([fan.username, owner.username]);
    const timed = await api(server, 'GET', `/repos/${owner.username}/shiny/stargazers?per_page=1`, { headers: { Accept: 'application/vnd.github.star+json' } });
    expect(timed.status).toBe(200);
    expect(timed.json).toEqual([{ starred_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/), user: expect.objectContaining({ login: fan.username }) }]);
    expect(timed.headers.get('link')).toContain('rel="next"');

    // What a user starred, newest first; another viewer never sees the private one.
    const mine = (await octokit(owner.token).activity.listReposStarredByAuthenticatedUser()).data as { full_name: string }[];
    expect(mine.map((r) => r.full_name)).toEqual([`${owner.username}/hidden`, `${owner.username}/shiny`]);
    const seenByStranger = await api(server, 'GET', `/users/${owner.username}/starred`, { token: stranger.token });
    expect(seenByStranger.json.map((r: { full_name: string }) => r.full_name)).toEqual([`${owner.username}/shiny`]);
    expect(seenByStranger.text).not.toContain('hidden');
    const anonymous = await api(server, 'GET', `/users/${owner.username}/starred`, { headers: { Accept: 'application/vnd.github.star+json' } });
    expect(anonymous.json).toEqual([{ starred_at: expect.any(String), repo: expect.objectContaining({ full_name: `${owner.username}/shiny`, stargazers_count: 2 }) }]);

    // Unstar, twice: 204 both times; the count follows.
    expect((await gh.activity.unstarRepoForAuthenticatedUser({ owner: owner.username, repo: 'shiny' })).status).toBe(204);
    expect((await gh.activity.unstarRepoForAuthenticatedUser({ owner: owner.username, repo: 'shiny' })).status).toBe(204);
    await expect(gh.activity.checkRepoIsStarredByAuthenticatedUser({ owner: owner.username, repo: 'shiny' })).rejects.toMatchObject({ status: 404 });
    expect((await repoJson('shiny')).stargazers_count).toBe(1);
    expect(await starRows('shiny')).toBe(1);
  });

  it('a repository the caller cannot read cannot be starred and answers as a missing one; a job token never stars', async () => {
    for (const method of ['PUT', 'GET', 'DELETE']) {
      const hidden = await api(server, method, `/user/starred/${owner.username}/hidden`, { token: stranger.token });
      const missing = await api(server, method, `/user/starred/${owner.username}/no-such-repo`, { token: stranger.token });
      expect([hidden.status, hidden.text]).toEqual([missing.status, missing.text]);
      expect(hidden.status).toBe(404);
    }
    expect((await api(server, 'GET', `/repos/${owner.username}/hidden/stargazers`, { token: stranger.token })).status).toBe(404);
    expect((await api(server, 'PUT', `/user/starred/${owner.username}/shiny`)).status).toBe(401);
    expect((await repoJson('hidden')).stargazers_count).toBe(1);

    const repoRow = await server.app.db.selectFrom('repositories').select('id').where('lower_name', '=', 'shiny').executeTakeFirstOrThrow();
    const job = await enqueueJob(server.app.db, { kind: 'test-only', repositoryId: repoRow.id, payload: {} });
    await server.app.db.updateTable('jobs').set({ status: 'running', lease_owner: 'test' }).where('id', '=', job.id).execute();
    const jobToken = await createJobToken(server.app.db, { jobId: job.id, repositoryId: repoRow.id, userId: fan.id, allowedRef: 'refs/heads/agent/x', ttlMs: 60_000 });
    const refused = await api(server, 'PUT', `/user/starred/${owner.username}/shiny`, { token: jobToken });
    // A job token is no user's sign-in here (401); were it accepted, starringUser refuses it (403).
    expect([401, 403]).toContain(refused.status);
    expect(await starRows('shiny')).toBe(1);
  });

  it('concurrent stars and unstars keep the count equal to the stars', async () => {
    const users = await Promise.all(Array.from({ length: 12 }, () => createTestUser(server)));
    const star = (u: TestUser, method: 'PUT' | 'DELETE') => api(server, method, `/user/starred/${owner.username}/quiet`, { token: u.token });
    // Each user twice at once: the second is a no-op, never a second count.
    expect((await Promise.all(users.flatMap((u) => [star(u, 'PUT'), star(u, 'PUT')]))).map((r) => r.status)).toEqual(Array(24).fill(204));
    expect((await repoJson('quiet')).stargazers_count).toBe(12);
    expect(await starRows('quiet')).toBe(12);
    await Promise.all(users.slice(0, 5).flatMap((u) => [star(u, 'DELETE'), star(u, 'DELETE')]));
    expect((await repoJson('quiet')).stargazers_count).toBe(7);
    expect(await starRows('quiet')).toBe(7);
  });

  it('a deleted account takes its stars with it, and the counts follow; a deleted repository leaves no star behind', async () => {
    const leaving = await createTestUser(server);
    for (const name of ['shiny', 'quiet']) await api(server, 'PUT', `/user/starred/${owner.username}/${name}`, { token: leaving.token });
    const before = { shiny: (await repoJson('shiny')).stargazers_count, quiet: (await repoJson('quiet')).stargazers_count };
    expect((await api(server, 'DELETE', `/admin/users/${leaving.username}`, { token: admin.token })).status).toBe(204);
    expect((await repoJson('shiny')).stargazers_count).toBe(before.shiny - 1);
    expect((await repoJson('quiet')).stargazers_count).toBe(before.quiet - 1);
    expect(await starRows('shiny')).toBe(before.shiny - 1);

    const temp = await createTestUser(server);
    expect((await api(server, 'POST', '/user/repos', { token: temp.token, body: { name: 'fleeting' } })).status).toBe(201);
    await api(server, 'PUT', `/user/starred/${temp.username}/fleeting`, { token: fan.token });
    expect((await api(server, 'DELETE', `/repos/${temp.username}/fleeting`, { token: temp.token })).status).toBe(204);
    const fans = await api(server, 'GET', '/user/starred', { token: fan.token });
    expect(fans.json.map((r: { full_name: string }) => r.full_name)).not.toContain(`${temp.username}/fleeting`);
  });

  it('pages: the header star form (back to the page it was on), the stargazers page, explore by stars; archived repositories can be starred', async () => {
    const signed = await signInWithForm(server, stranger.username, stranger.password);
    const web = signed.session!;
    const blob = `/${owner.username}/quiet/blob/main/README.md`;
    let page = await web.get(blob);
    expect(page.html).toMatch(new RegExp(`<form method="post" action="/${owner.username}/quiet/star">`));
    expect(page.html).toContain(`href="/${owner.username}/quiet/stargazers"`);

    let res = await web.post(`/${owner.username}/quiet/star`, { _csrf: web.csrf, next: blob });
    expect([res.status, res.location]).toEqual([303, blob]);
    page = await web.get(blob);
    expect(page.html).toMatch(new RegExp(`action="/${owner.username}/quiet/unstar"`));
    expect(page.html).toMatch(/aria-pressed="true"[^>]*>.*Starred/s);
    const count = (await repoJson('quiet')).stargazers_count;
    expect(page.html).toContain(`${count} users starred this repository`);

    // A `next` outside the repository goes to its home instead; without the CSRF field nothing happens.
    res = await web.post(`/${owner.username}/quiet/unstar`, { _csrf: web.csrf, next: 'https://evil.example/' });
    expect([res.status, res.location]).toEqual([303, `/${owner.username}/quiet`]);
    res = await web.post(`/${owner.username}/quiet/star`, { _csrf: 'forged', next: blob });
    expect(res.status).toBe(403);
    expect((await repoJson('quiet')).stargazers_count).toBe(count - 1);

    // Signed out: the count and a Star link to sign in; a POST goes to sign in.
    const anonymous = await fetch(`${server.url}/${owner.username}/shiny`);
    const html = await anonymous.text();
    expect(html).toContain(`href="/-/login?next=${encodeURIComponent(`/${owner.username}/shiny`)}"`);
    expect(html).not.toContain('/shiny/star"');

    const gazers = await web.get(`/${owner.username}/shiny/stargazers`);
    expect(gazers.status).toBe(200);
    expect(gazers.html).toContain(`href="/${owner.username}"`);
    expect(gazers.html).toContain('Stargazers');
    expect((await web.get(`/${owner.username}/hidden/stargazers`)).status).toBe(404);

    // The profile's Stars tab: what the owner starred that this viewer can read (not the private one).
    const profile = await web.get(`/${owner.username}?tab=stars`);
    expect(profile.status).toBe(200);
    expect(profile.html).toContain(`href="/${owner.username}/shiny"`);
    expect(profile.html).not.toContain(`/${owner.username}/hidden"`);
    expect(profile.html).toMatch(/aria-current="page"[^>]*>.*Stars.*<span class="counter">1<\/span>/s);
    const ownProfile = await (await signInWithForm(server, owner.username, owner.password)).session!.get(`/${owner.username}?tab=stars`);
    expect(ownProfile.html).toContain(`href="/${owner.username}/hidden"`);
    const strangersStars = await web.get(`/${fan.username}?tab=stars`);
    expect(strangersStars.html).toMatch(new RegExp(`${fan.username} hasn(&#39;|')t starred any repositories yet`));

    const explore = await web.get('/explore?sort=stars');
    const order = ['quiet', 'shiny'].map((n) => explore.html.indexOf(`/${owner.username}/${n}"`));
    const counts = { quiet: (await repoJson('quiet')).stargazers_count, shiny: (await repoJson('shiny')).stargazers_count };
    expect(counts.quiet).toBeGreaterThan(counts.shiny);
    expect(order[0]).toBeGreaterThan(-1);
    expect(order[0]).toBeLessThan(order[1]!);
    expect(explore.html).toContain(`href="/${owner.username}/quiet/stargazers"`);

    expect((await api(server, 'PATCH', `/repos/${owner.username}/shiny`, { token: owner.token, body: { archived: true } })).status).toBe(200);
    res = await web.post(`/${owner.username}/shiny/star`, { _csrf: web.csrf });
    expect([res.status, res.location]).toEqual([303, `/${owner.username}/shiny`]);
    expect(await api(server, 'GET', `/user/starred/${owner.username}/shiny`, { token: stranger.token })).toMatchObject({ status: 204 });
    // Still read-only otherwise.
    expect((await web.post(`/${owner.username}/shiny/issues/new`, { _csrf: web.csrf, title: 'x' })).status).toBe(403);
  });
});
