import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Octokit } from '@octokit/rest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitCli, gitOk } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { createPushedRepo, type PushedRepo } from '../helpers/scriptedRuns.ts';
import { enqueueJob } from '../../src/services/jobs.ts';
import { createJobToken } from '../../src/services/jobTokens.ts';
import { createSession } from '../../src/services/sessions.ts';

/**
 * Branch protection (issue 18) with the real git client and server on both databases: force pushes,
 * deletions and pushes without the required checks refused in receive-pack with `remote: error:` lines;
 * merges refused without approvals or checks (405 listing what is missing) then allowed; administrators
 * bypassing checks and reviews unless enforce_admins; job tokens; GitHub's API through Octokit.
 */
describe.each(testDialects())('branch protection on %s', (dialect) => {
  let server: TestServer;
  let alice: TestUser; // owner (admin)
  let bob: TestUser; // write collaborator
  let carol: TestUser; // write collaborator, reviewer
  let repo: PushedRepo;
  let bobRemote: string;
  let octokit: Octokit;
  const name = 'guarded';
  const path = (p: string) => `/repos/${alice.username}/${name}${p}`;
  /** The server's main, fetched into the working copy (merges happen on the server). */
  const fetchMain = async () => {
    await gitOk(repo.work.path, ['fetch', '-q', repo.remote, 'main']);
    return (await gitOk(repo.work.path, ['rev-parse', 'FETCH_HEAD'])).trim();
  };
  const head = async (branch: string) => (await api(server, 'GET', path(`/branches/${branch}`), { token: alice.token })).json?.commit?.sha as string | undefined;

  beforeAll(async () => {
    server = await startTestServer(dialect);
    alice = await createTestUser(server);
    bob = await createTestUser(server);
    carol = await createTestUser(server);
    repo = await createPushedRepo(server, alice, name, { 'README.md': '# guarded\n' });
    for (const u of [bob, carol]) await api(server, 'PUT', path(`/collaborators/${u.username}`), { token: alice.token, body: { permission: 'push' } });
    bobRemote = authUrl(server.url, `${alice.username}/${name}.git`, bob.username, bob.token);
    octokit = new Octokit({ baseUrl: `${server.url}/api/v1`, auth: alice.token });
  });

  afterAll(async () => {
    await repo?.work.remove();
    await server?.close();
  });

  async function protect(branch: string, body: Partial<Parameters<Octokit['repos']['updateBranchProtection']>[0]> = {}) {
    return octokit.repos.updateBranchProtection({
      owner: alice.username,
      repo: name,
      branch,
      required_status_checks: null,
      enforce_admins: null,
      required_pull_request_reviews: null,
      restrictions: null,
      ...body,
    });
  }

  /** Posts a commit status (as CI would); the commit is pushed to an unprotected scratch branch first, so the server has it. */
  async function status(sha: string, state: 'success' | 'failure' | 'pending', context = 'ci') {
    await gitOk(repo.work.path, ['push', '-q', '--force', repo.remote, `${sha}:refs/heads/ci-scratch`]);
    const res = await api(server, 'POST', path(`/statuses/${sha}`), { token: alice.token, body: { state, context } });
    expect(res.status).toBe(201);
  }

  it('stores GitHub-shaped rules through Octokit; branches say they are protected', async () => {
    const put = await protect('main', { required_status_checks: { strict: false, contexts: ['ci'] } });
    expect(put.data.required_status_checks?.contexts).toEqual(['ci']);
    expect(put.data.enforce_admins?.enabled).toBe(false);
    expect(put.data.allow_force_pushes?.enabled).toBe(false);
    const got = await octokit.repos.getBranchProtection({ owner: alice.username, repo: name, branch: 'main' });
    expect(got.data.required_status_checks).toMatchObject({ strict: false, contexts: ['ci'], checks: [{ context: 'ci', app_id: null }] });
    expect(got.data.required_pull_request_reviews).toBeUndefined();
    const branches = await octokit.repos.listBranches({ owner: alice.username, repo: name });
    expect(branches.data.find((b) => b.name === 'main')?.protected).toBe(true);
    expect((await octokit.repos.getBranch({ owner: alice.username, repo: name, branch: 'main' })).data.protected).toBe(true);
    await expect(octokit.repos.getBranchProtection({ owner: alice.username, repo: name, branch: 'nothing-here' })).rejects.toMatchObject({ status: 404 });
    // Readers and writers cannot see or change rules.
    expect((await api(server, 'GET', path('/branches/main/protection'), { token: bob.token })).status).toBe(403);
    expect((await api(server, 'PUT', path('/branches/main/protection'), { token: bob.token, body: { required_status_checks: null, enforce_admins: null, required_pull_request_reviews: null, restrictions: null } })).status).toBe(403);
  });

  it('refuses bad rules: restrictions, review counts, patterns, missing keys', async () => {
    const base = { required_status_checks: null, enforce_admins: null, required_pull_request_reviews: null, restrictions: null };
    const restricted = await api(server, 'PUT', path('/branches/main/protection'), { token: alice.token, body: { ...base, restrictions: { users: ['x'], teams: [] } } });
    expect(restricted.status).toBe(422);
    const tooMany = await api(server, 'PUT', path('/branches/main/protection'), { token: alice.token, body: { ...base, required_pull_request_reviews: { required_approving_review_count: 7 } } });
    expect(tooMany.status).toBe(422);
    const badPattern = await api(server, 'PUT', path('/branches/a%20b/protection'), { token: alice.token, body: base });
    expect(badPattern.status).toBe(422);
    const unclosed = await api(server, 'PUT', path('/branches/release%2F%7Bx/protection'), { token: alice.token, body: base });
    expect(unclosed.status).toBe(422);
    const missingKeys = await api(server, 'PUT', path('/branches/main/protection'), { token: alice.token, body: {} });
    expect(missingKeys.status).toBe(422);
    // The rule on main is unchanged.
    expect((await octokit.repos.getBranchProtection({ owner: alice.username, repo: name, branch: 'main' })).data.required_status_checks?.contexts).toEqual(['ci']);
  });

  it('refuses a push to the protected branch until the required check is green on the pushed commit', async () => {
    const before = await head('main');
    const sha = await commitFiles(repo.work.path, { 'one.txt': '1\n' }, 'one');
    const push = await gitCli(repo.work.path, ['push', bobRemote, 'HEAD:main']);
    expect(push.code).not.toBe(0);
    expect(push.stderr).toContain('remote: error: GH006: Protected branch update failed for refs/heads/main.');
    expect(push.stderr).toContain('remote: error: Required status check "ci" is expected.');
    expect(await head('main')).toBe(before);

    // A failing check is not enough either.
    expect((await gitCli(repo.work.path, ['push', bobRemote, 'HEAD:refs/heads/feature'])).code).toBe(0);
    await status(sha, 'failure');
    expect((await gitCli(repo.work.path, ['push', bobRemote, 'HEAD:main'])).code).not.toBe(0);
    await status(sha, 'success');
    const ok = await gitCli(repo.work.path, ['push', bobRemote, 'HEAD:main']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await head('main')).toBe(sha);
  });

  it('refuses force pushes and deletions of a protected branch, for administrators too; unprotected branches are free', async () => {
    const main = await fetchMain();
    await gitOk(repo.work.path, ['checkout', '-q', '-B', 'rewrite', `${main}~1`]);
    const rewritten = await commitFiles(repo.work.path, { 'rewrite.txt': 'r\n' }, 'rewrite');
    await status(rewritten, 'success');
    for (const remote of [bobRemote, repo.remote]) {
      const force = await gitCli(repo.work.path, ['push', '--force', remote, 'HEAD:main']);
      expect(force.code).not.toBe(0);
      expect(force.stderr).toContain('remote: error: Cannot force-push to this branch');
      const del = await gitCli(repo.work.path, ['push', remote, ':main']);
      expect(del.code).not.toBe(0);
    }
    expect(await head('main')).toBe(main);

    // An unprotected branch: force push and deletion are fine.
    expect((await gitCli(repo.work.path, ['push', '--force', bobRemote, 'HEAD:feature'])).code).toBe(0);
    expect((await gitCli(repo.work.path, ['push', bobRemote, ':feature'])).code).toBe(0);
    expect(await head('feature')).toBeUndefined();

    // Deletion refused for a pattern rule, through git and the API; allowed once the rule allows it.
    await gitOk(repo.work.path, ['push', '-q', bobRemote, `${main}:refs/heads/release/1`]);
    await protect('release/*');
    const gitDelete = await gitCli(repo.work.path, ['push', bobRemote, ':release/1']);
    expect(gitDelete.code).not.toBe(0);
    expect(gitDelete.stderr).toContain('Cannot delete this protected branch');
    const apiDelete = await api(server, 'DELETE', path('/git/refs/heads/release/1'), { token: alice.token });
    expect(apiDelete.status).toBe(422);
    expect(apiDelete.json.message).toContain('Cannot delete protected branch release/1');
    expect(await head('release/1')).toBe(main);
    await protect('release/*', { allow_deletions: true, allow_force_pushes: true });
    expect((await gitCli(repo.work.path, ['push', '--force', bobRemote, 'HEAD:release/1'])).code).toBe(0);
    expect((await api(server, 'DELETE', path('/git/refs/heads/release/1'), { token: alice.token })).status).toBe(204);
    await gitOk(repo.work.path, ['checkout', '-q', 'main']);
  });

  it('lets administrators bypass required checks unless enforce_admins; nobody with it', async () => {
    await gitOk(repo.work.path, ['reset', '-q', '--hard', await fetchMain()]);
    const unchecked = await commitFiles(repo.work.path, { 'admin.txt': 'a\n' }, 'admin change');
    expect((await gitCli(repo.work.path, ['push', bobRemote, 'HEAD:main'])).code).not.toBe(0); // bob: no
    const adminPush = await gitCli(repo.work.path, ['push', repo.remote, 'HEAD:main']);
    expect(adminPush.code, adminPush.stderr).toBe(0); // alice, an administrator: bypasses
    expect(await head('main')).toBe(unchecked);

    await protect('main', { required_status_checks: { strict: false, contexts: ['ci'] }, enforce_admins: true });
    await commitFiles(repo.work.path, { 'admin.txt': 'b\n' }, 'admin change 2');
    const enforced = await gitCli(repo.work.path, ['push', repo.remote, 'HEAD:main']);
    expect(enforced.code).not.toBe(0);
    expect(enforced.stderr).toContain('Required status check "ci" is expected.');
    expect(await head('main')).toBe(unchecked);
    await gitOk(repo.work.path, ['reset', '-q', '--hard', unchecked]);
  });

  it('takes changes only through pull requests with the required approvals and checks; stale approvals dismissed', async () => {
    await protect('main', { required_status_checks: { strict: false, contexts: ['ci'] }, required_pull_request_reviews: { required_approving_review_count: 1, dismiss_stale_reviews: true } });
    const main = await fetchMain();
    await gitOk(repo.work.path, ['checkout', '-q', '-B', 'topic', main]);
    const first = await commitFiles(repo.work.path, { 'topic.txt': 't1\n' }, 'topic 1');
    await status(first, 'success');
    const direct = await gitCli(repo.work.path, ['push', bobRemote, 'HEAD:main']);
    expect(direct.code).not.toBe(0);
    expect(direct.stderr).toContain('Changes must be made through a pull request.');
    await gitOk(repo.work.path, ['push', '-q', bobRemote, 'HEAD:topic']);
    const pr = await api(server, 'POST', path('/pulls'), { token: bob.token, body: { title: 'Topic', head: 'topic', base: 'main' } });
    expect(pr.status).toBe(201);
    const merge = () => api(server, 'PUT', path(`/pulls/${pr.json.number}/merge`), { token: bob.token, body: { merge_method: 'merge' } });

    const none = await merge();
    expect(none.status).toBe(405);
    expect(none.json.message).toContain('At least 1 approving review is required');
    // The author's own approval never counts.
    await api(server, 'POST', path(`/pulls/${pr.json.number}/reviews`), { token: bob.token, body: { event: 'APPROVE' } });
    expect((await merge()).status).toBe(405);
    expect((await api(server, 'POST', path(`/pulls/${pr.json.number}/reviews`), { token: carol.token, body: { event: 'APPROVE' } })).status).toBe(200);

    // A new commit: the approval is stale, and the new head has no green check.
    const second = await commitFiles(repo.work.path, { 'topic.txt': 't2\n' }, 'topic 2');
    await gitOk(repo.work.path, ['push', '-q', bobRemote, 'HEAD:topic']);
    const stale = await merge();
    expect(stale.status).toBe(405);
    expect(stale.json.message).toContain('approving review');
    expect(stale.json.message).toContain('Required status check "ci" is expected.');
    expect(await head('main')).toBe(main);

    expect((await api(server, 'POST', path(`/pulls/${pr.json.number}/reviews`), { token: carol.token, body: { event: 'APPROVE' } })).status).toBe(200);
    const checks = await merge();
    expect(checks.status).toBe(405);
    expect(checks.json.message).not.toContain('approving review');
    expect(checks.json.message).toContain('"ci"');
    await status(second, 'success');
    const ok = await merge();
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json.merged).toBe(true);
  });

  it('blocks a merge when a reviewer requested changes; an administrator bypasses reviews unless enforce_admins', async () => {
    const main = await fetchMain();
    await gitOk(repo.work.path, ['checkout', '-q', '-B', 'topic2', main]);
    const sha = await commitFiles(repo.work.path, { 'topic2.txt': 'x\n' }, 'topic2');
    await status(sha, 'success');
    await gitOk(repo.work.path, ['push', '-q', bobRemote, 'HEAD:topic2']);
    const pr = await api(server, 'POST', path('/pulls'), { token: bob.token, body: { title: 'Topic 2', head: 'topic2', base: 'main' } });
    await api(server, 'POST', path(`/pulls/${pr.json.number}/reviews`), { token: carol.token, body: { event: 'REQUEST_CHANGES', body: 'no' } });
    const blocked = await api(server, 'PUT', path(`/pulls/${pr.json.number}/merge`), { token: bob.token, body: {} });
    expect(blocked.status).toBe(405);
    expect(blocked.json.message).toContain('Changes were requested');
    // The merge button: the pull request page says what is missing.
    const session = `gitoku_session=${await createSession(server.app, bob.id)}`;
    const login = await fetch(`${server.url}/-/login`, { headers: { Cookie: session }, redirect: 'manual' });
    const cookie = `${session}; ${login.headers.getSetCookie().find((c) => c.startsWith('gitoku_csrf='))!.split(';')[0]!}`;
    const csrf = /name="_csrf" value="([0-9a-f]+)"/.exec(await (await fetch(`${server.url}/`, { headers: { Cookie: cookie } })).text())![1]!;
    const prUrl = `${server.url}/${alice.username}/${name}/pull/${pr.json.number}`;
    const form = await fetch(`${prUrl}/merge`, { method: 'POST', headers: { Cookie: cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ merge_method: 'merge', confirmed: '1', _csrf: csrf }), redirect: 'manual' });
    expect(form.status).toBe(303);
    expect(form.headers.get('location')).toBe(`/${alice.username}/${name}/pull/${pr.json.number}`);
    const flash = form.headers.getSetCookie().map((c) => c.split(';')[0]!);
    const page = await (await fetch(prUrl, { headers: { Cookie: [cookie, ...flash].join('; ') } })).text();
    expect(page).toContain('Protected branch main: Changes were requested by a reviewer.');

    await protect('main', { required_status_checks: { strict: false, contexts: ['ci'] }, required_pull_request_reviews: { required_approving_review_count: 1 }, enforce_admins: true });
    const adminEnforced = await api(server, 'PUT', path(`/pulls/${pr.json.number}/merge`), { token: alice.token, body: {} });
    expect(adminEnforced.status).toBe(405);
    await protect('main', { required_status_checks: { strict: false, contexts: ['ci'] }, required_pull_request_reviews: { required_approving_review_count: 1 }, enforce_admins: false });
    const adminBypass = await api(server, 'PUT', path(`/pulls/${pr.json.number}/merge`), { token: alice.token, body: {} });
    expect(adminBypass.status, adminBypass.text).toBe(200);
  });

  it('refuses a stale head with strict status checks', async () => {
    await protect('main', { required_status_checks: { strict: true, contexts: ['ci'] } });
    const main = await fetchMain();
    await gitOk(repo.work.path, ['checkout', '-q', '-B', 'behind', `${main}~1`]);
    const sha = await commitFiles(repo.work.path, { 'behind.txt': 'b\n' }, 'behind');
    await status(sha, 'success');
    await gitOk(repo.work.path, ['push', '-q', bobRemote, 'HEAD:behind']);
    const pr = await api(server, 'POST', path('/pulls'), { token: bob.token, body: { title: 'Behind', head: 'behind', base: 'main' } });
    const res = await api(server, 'PUT', path(`/pulls/${pr.json.number}/merge`), { token: bob.token, body: {} });
    expect(res.status).toBe(405);
    expect(res.json.message).toContain('not up to date');
  });

  it('never lets a job token push to a protected branch; its own compare branch is fine', async () => {
    const repoRow = await server.app.db.selectFrom('repositories').select('id').where('lower_name', '=', name).executeTakeFirstOrThrow();
    const job = await enqueueJob(server.app.db, { kind: 'test-only', repositoryId: repoRow.id, payload: {} });
    await server.app.db.updateTable('jobs').set({ status: 'running', lease_owner: 'test' }).where('id', '=', job.id).execute();
    const token = await createJobToken(server.app.db, { jobId: job.id, repositoryId: repoRow.id, userId: alice.id, allowedRef: 'refs/heads/agent/run-1', ttlMs: 60_000 });
    const url = authUrl(server.url, `${alice.username}/${name}.git`, 'x-access-token', token);
    const main = await fetchMain();
    await gitOk(repo.work.path, ['checkout', '-q', '-B', 'agent', main]);
    const sha = await commitFiles(repo.work.path, { 'agent.txt': 'a\n' }, 'agent');
    await status(sha, 'success');
    const toMain = await gitCli(repo.work.path, ['push', url, 'HEAD:main']);
    expect(toMain.code).not.toBe(0);
    expect(toMain.stderr).toContain('may only push refs/heads/agent/run-1');
    expect(await head('main')).toBe(main);
    const own = await gitCli(repo.work.path, ['push', url, 'HEAD:refs/heads/agent/run-1']);
    expect(own.code, own.stderr).toBe(0);
    // Even when a rule covers the compare branch, the job token is no administrator: the rule holds.
    await protect('agent/*', { required_status_checks: { strict: false, contexts: ['lint'] } });
    await commitFiles(repo.work.path, { 'agent.txt': 'b\n' }, 'agent 2');
    const covered = await gitCli(repo.work.path, ['push', url, 'HEAD:refs/heads/agent/run-1']);
    expect(covered.code).not.toBe(0);
    expect(covered.stderr).toContain('Required status check "lint" is expected.');
    await octokit.repos.deleteBranchProtection({ owner: alice.username, repo: name, branch: 'agent/*' });
  });

  it('removes protection through Octokit: pushes are free again', async () => {
    await octokit.repos.deleteBranchProtection({ owner: alice.username, repo: name, branch: 'main' });
    await expect(octokit.repos.deleteBranchProtection({ owner: alice.username, repo: name, branch: 'main' })).rejects.toMatchObject({ status: 404 });
    expect((await octokit.repos.getBranch({ owner: alice.username, repo: name, branch: 'main' })).data.protected).toBe(false);
    await gitOk(repo.work.path, ['checkout', '-q', '-B', 'free', await fetchMain()]);
    const sha = await commitFiles(repo.work.path, { 'free.txt': 'f\n' }, 'free');
    const push = await gitCli(repo.work.path, ['push', bobRemote, 'HEAD:main']);
    expect(push.code, push.stderr).toBe(0);
    expect(await head('main')).toBe(sha);
  });
});
