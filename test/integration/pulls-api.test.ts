import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Octokit } from '@octokit/rest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitCli, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { repositoryGitDir } from '../../src/services/storage.ts';
import { findRepository } from '../../src/services/repositories.ts';

describe.each(testDialects())('pull requests API on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let reviewer: TestUser;
  let work: { path: string; remove(): Promise<void> };
  let remote: string;
  let gitDir: string;
  let counter = 0;

  const path = (p: string) => `/repos/${owner.username}/prs${p}`;

  /** Creates a branch from main with the given files and pushes it. */
  async function pushBranch(branch: string, files: Record<string, string>, from = 'main'): Promise<string> {
    await gitOk(work.path, ['checkout', '-q', '-B', branch, `origin/${from}`]);
    const sha = await commitFiles(work.path, files, `Change on ${branch} (${++counter})`);
    await gitOk(work.path, ['push', '-q', '-f', remote, `${branch}:${branch}`]);
    return sha;
  }

  async function fetchOrigin() {
    await gitOk(work.path, ['fetch', '-q', remote, '+refs/heads/*:refs/remotes/origin/*']);
  }

  async function openPr(branch: string, files: Record<string, string>, extra: Record<string, unknown> = {}) {
    await fetchOrigin();
    await pushBranch(branch, files);
    const res = await api(server, 'POST', path('/pulls'), { token: owner.token, body: { title: `PR ${branch}`, head: branch, base: 'main', body: 'Please review', ...extra } });
    expect(res.status, res.text).toBe(201);
    return res.json;
  }

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    reviewer = await createTestUser(server);
    await api(server, 'POST', path('').replace(`/repos/${owner.username}/prs`, '/user/repos'), { token: owner.token, body: { name: 'prs' } });
    await api(server, 'PUT', path(`/collaborators/${reviewer.username}`), { token: owner.token, body: { permission: 'push' } });
    work = await tempDir();
    await initWorkRepo(work.path, { 'README.md': '# PRs\n', 'app.txt': 'one\ntwo\nthree\nfour\nfive\n' });
    remote = authUrl(server.url, `${owner.username}/prs.git`, owner.username, owner.token);
    await gitOk(work.path, ['push', '-q', remote, 'main']);
    await gitOk(work.path, ['remote', 'add', 'origin', remote]);
    const repo = await findRepository(server.app.db, owner.username, 'prs');
    gitDir = repositoryGitDir(server.app, repo!);
  });

  afterAll(async () => {
    await work?.remove();
    await server?.close();
  });

  it('opens, lists, shows and edits a pull request', async () => {
    const pr = await openPr('feature-a', { 'a.txt': 'hello\n' });
    expect(pr).toMatchObject({ state: 'open', draft: false, title: 'PR feature-a', body: 'Please review', head: { ref: 'feature-a' }, base: { ref: 'main' }, mergeable: true, merged: false, merged_at: null, merge_commit_sha: null, user: { login: owner.username }, commits: 1, changed_files: 1 });
    expect(pr.html_url).toBe(`${server.url}/${owner.username}/prs/pull/${pr.number}`);
    const list = await api(server, 'GET', path('/pulls'));
    expect(list.json.map((p: { number: number }) => p.number)).toContain(pr.number);
    const dup = await api(server, 'POST', path('/pulls'), { token: owner.token, body: { title: 'dup', head: 'feature-a', base: 'main' } });
    expect(dup.status).toBe(422);
    const edited = await api(server, 'PATCH', path(`/pulls/${pr.number}`), { token: owner.token, body: { title: 'Better title', body: 'New body' } });
    expect(edited.json).toMatchObject({ title: 'Better title', body: 'New body' });
    const closed = await api(server, 'PATCH', path(`/pulls/${pr.number}`), { token: owner.token, body: { state: 'closed' } });
    expect(closed.json.state).toBe('closed');
    expect((await api(server, 'GET', path('/pulls?state=closed'))).json.map((p: { number: number }) => p.number)).toContain(pr.number);
    const reopened = await api(server, 'PATCH', path(`/pulls/${pr.number}`), { token: owner.token, body: { state: 'open' } });
    expect(reopened.json.state).toBe('open');
    const files = await api(server, 'GET', path(`/pulls/${pr.number}/files`));
    expect(files.json).toEqual([expect.objectContaining({ filename: 'a.txt', status: 'added', additions: 1 })]);
    const commits = await api(server, 'GET', path(`/pulls/${pr.number}/commits`));
    expect(commits.json).toHaveLength(1);
  });

  it('rejects bad input with clear 4xx', async () => {
    for (const body of [{ title: '', head: 'feature-a', base: 'main' }, { title: 'x', head: 'nope', base: 'main' }, { title: 'x', head: 'main', base: 'main' }, { title: 'x', head: '--output=/tmp/x', base: 'main' }, { title: 5, head: 'a', base: 'main' }]) {
      const res = await api(server, 'POST', path('/pulls'), { token: owner.token, body });
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.json.message).toBeTruthy();
    }
    expect((await api(server, 'GET', path('/pulls/999'))).status).toBe(404);
    expect((await api(server, 'GET', path('/pulls/abc'))).status).toBe(404);
  });

  it('merges three ways, guarded by draft, stale sha and conflicts', async () => {
    for (const method of ['merge', 'squash', 'rebase'] as const) {
      const pr = await openPr(`m-${method}`, { [`${method}.txt`]: `${method}\n`, [`${method}-2.txt`]: 'two\n' }, { draft: true });
      const draftMerge = await api(server, 'PUT', path(`/pulls/${pr.number}/merge`), { token: owner.token, body: { merge_method: method } });
      expect(draftMerge.status).toBe(405);
      await api(server, 'PATCH', path(`/pulls/${pr.number}`), { token: owner.token, body: { draft: false } });
      const stale = await api(server, 'PUT', path(`/pulls/${pr.number}/merge`), { token: owner.token, body: { merge_method: method, sha: '0'.repeat(40) } });
      expect(stale.status).toBe(409);
      const before = (await gitOk(work.path, ['ls-remote', remote, 'refs/heads/main'])).split('\t')[0]!;
      const merged = await api(server, 'PUT', path(`/pulls/${pr.number}/merge`), { token: owner.token, body: { merge_method: method, sha: pr.head.sha } });
      expect(merged.status, merged.text).toBe(200);
      expect(merged.json.merged).toBe(true);
      const after = (await gitOk(work.path, ['ls-remote', remote, 'refs/heads/main'])).split('\t')[0]!;
      expect(after).toBe(merged.json.sha);
      const parents = (await gitOk(work.path, ['-C', gitDir, 'rev-list', '--parents', '-n', '1', after])).trim().split(' ').slice(1);
      if (method === 'merge') expect(parents).toEqual([before, pr.head.sha]);
      else expect(parents).toHaveLength(1);
      if (method === 'squash') expect(parents).toEqual([before]);
      if (method === 'rebase') {
        const replayed = (await gitOk(work.path, ['-C', gitDir, 'rev-list', `${before}..${after}`])).trim().split('\n');
        expect(replayed).toHaveLength(1);
      }
      const tree = await gitOk(work.path, ['-C', gitDir, 'ls-tree', '--name-only', after]);
      expect(tree).toContain(`${method}.txt`);
      const shown = await api(server, 'GET', path(`/pulls/${pr.number}`));
      expect(shown.json).toMatchObject({ merged: true, state: 'closed', merge_commit_sha: after });
      const twice = await api(server, 'PUT', path(`/pulls/${pr.number}/merge`), { token: owner.token, body: { merge_method: method } });
      expect(twice.status).toBe(405);
      const events = await server.app.db.selectFrom('graph_events').select('payload').where('type', '=', 'ref.updated').orderBy('id', 'desc').limit(1).execute();
      expect(JSON.parse(events[0]!.payload)).toMatchObject({ cause: 'merge', after, number: pr.number });
    }
    const fsck = await gitCli(work.path, ['-C', gitDir, 'fsck', '--no-dangling']);
    expect(fsck.code).toBe(0);
  });

  it('refuses conflicting merges and recomputes mergeability when the base moves', async () => {
    await fetchOrigin();
    const pr = await openPr('conflicting', { 'app.txt': 'one\nTWO-branch\nthree\nfour\nfive\n' });
    expect(pr.mergeable).toBe(true);
    await fetchOrigin();
    await pushBranch('main', { 'app.txt': 'one\nTWO-main\nthree\nfour\nfive\n' });
    const shown = await api(server, 'GET', path(`/pulls/${pr.number}`));
    expect(shown.json).toMatchObject({ mergeable: false, mergeable_state: 'dirty', conflicting_files: ['app.txt'] });
    const mainBefore = (await gitOk(work.path, ['ls-remote', remote, 'refs/heads/main'])).split('\t')[0];
    const res = await api(server, 'PUT', path(`/pulls/${pr.number}/merge`), { token: owner.token, body: { merge_method: 'merge' } });
    expect(res.status).toBe(405);
    expect(res.json.message).toContain('app.txt');
    expect((await gitOk(work.path, ['ls-remote', remote, 'refs/heads/main'])).split('\t')[0]).toBe(mainBefore);
  });

  it('lets only one of two concurrent merges win', async () => {
    const pr = await openPr('race', { 'race.txt': 'race\n' });
    const results = await Promise.all(['merge', 'squash'].map((m) => api(server, 'PUT', path(`/pulls/${pr.number}/merge`), { token: owner.token, body: { merge_method: m } })));
    expect(results.map((r) => r.status).sort()).toEqual([200, expect.any(Number)]);
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.find((r) => r.status !== 200)!.status).toBeGreaterThanOrEqual(400);
    expect(results.find((r) => r.status !== 200)!.status).toBeLessThan(500);
    const fsck = await gitCli(work.path, ['-C', gitDir, 'fsck', '--no-dangling']);
    expect(fsck.code).toBe(0);
  });

  it('comments on the conversation and on diff lines, marks moved lines outdated, and reviews', async () => {
    const pr = await openPr('review-me', { 'notes.txt': 'alpha\nbeta\ngamma\n' });
    const convo = await api(server, 'POST', path(`/issues/${pr.number}/comments`), { token: reviewer.token, body: { body: 'Looks interesting' } });
    expect(convo.status).toBe(201);
    const line = await api(server, 'POST', path(`/pulls/${pr.number}/comments`), { token: reviewer.token, body: { body: 'Rename beta?', path: 'notes.txt', line: 2, side: 'RIGHT', commit_id: pr.head.sha } });
    expect(line.status, line.text).toBe(201);
    expect(line.json).toMatchObject({ path: 'notes.txt', line: 2, commit_id: pr.head.sha, outdated: false });
    expect(line.json.diff_hunk).toContain('+beta');
    const badLine = await api(server, 'POST', path(`/pulls/${pr.number}/comments`), { token: reviewer.token, body: { body: 'x', path: 'notes.txt', line: 99 } });
    expect(badLine.status).toBe(422);
    const badPath = await api(server, 'POST', path(`/pulls/${pr.number}/comments`), { token: reviewer.token, body: { body: 'x', path: 'README.md', line: 1 } });
    expect(badPath.status).toBe(422);
    const reply = await api(server, 'POST', path(`/pulls/${pr.number}/comments`), { token: owner.token, body: { body: 'Done', in_reply_to: line.json.id } });
    expect(reply.json).toMatchObject({ in_reply_to_id: line.json.id, path: 'notes.txt' });

    const review = await api(server, 'POST', path(`/pulls/${pr.number}/reviews`), { token: reviewer.token, body: { event: 'REQUEST_CHANGES', body: 'Some changes', comments: [{ path: 'notes.txt', line: 3, body: 'gamma!' }] } });
    expect(review.status, review.text).toBe(200);
    expect(review.json.state).toBe('CHANGES_REQUESTED');
    const selfApprove = await api(server, 'POST', path(`/pulls/${pr.number}/reviews`), { token: owner.token, body: { event: 'APPROVE' } });
    expect(selfApprove.status).toBe(422);

    await fetchOrigin();
    await gitOk(work.path, ['checkout', '-q', '-B', 'review-me', 'origin/review-me']);
    await commitFiles(work.path, { 'notes.txt': 'alpha\nBETA\ngamma\n' }, 'Rename beta');
    await gitOk(work.path, ['push', '-q', remote, 'review-me']);
    const comments = await api(server, 'GET', path(`/pulls/${pr.number}/comments`));
    const byBody = Object.fromEntries(comments.json.map((c: { body: string }) => [c.body, c]));
    expect(byBody['Rename beta?']).toMatchObject({ outdated: true, line: null, original_line: 2 });
    expect(byBody['gamma!']).toMatchObject({ outdated: false, line: 3, pull_request_review_id: review.json.id });
    const approve = await api(server, 'POST', path(`/pulls/${pr.number}/reviews`), { token: reviewer.token, body: { event: 'APPROVE' } });
    expect(approve.json.state).toBe('APPROVED');
    const reviews = await api(server, 'GET', path(`/pulls/${pr.number}/reviews`));
    expect(reviews.json.map((r: { state: string }) => r.state)).toEqual(['CHANGES_REQUESTED', 'APPROVED']);
    const convoList = await api(server, 'GET', path(`/issues/${pr.number}/comments`));
    expect(convoList.json.map((c: { body: string }) => c.body)).toEqual(['Looks interesting']);
  });

  it('records commit statuses and combines them', async () => {
    const pr = await openPr('checked', { 'c.txt': 'c\n' });
    const sha = pr.head.sha;
    expect((await api(server, 'POST', path(`/statuses/${sha}`), { token: owner.token, body: { state: 'pending', context: 'ci/test' } })).status).toBe(201);
    expect((await api(server, 'GET', path(`/commits/${sha}/status`))).json).toMatchObject({ state: 'pending', total_count: 1 });
    await api(server, 'POST', path(`/statuses/${sha}`), { token: owner.token, body: { state: 'success', context: 'ci/test', target_url: 'http://ci.example/1' } });
    await api(server, 'POST', path(`/statuses/${sha}`), { token: owner.token, body: { state: 'success', context: 'lint' } });
    const combined = await api(server, 'GET', path('/commits/checked/status'));
    expect(combined.json).toMatchObject({ state: 'success', total_count: 2, sha });
    await api(server, 'POST', path(`/statuses/${sha}`), { token: owner.token, body: { state: 'failure', context: 'lint' } });
    expect((await api(server, 'GET', path(`/commits/${sha}/status`))).json.state).toBe('failure');
    expect((await api(server, 'GET', path(`/commits/${sha}/statuses`))).json).toHaveLength(4);
    expect((await api(server, 'POST', path(`/statuses/${sha}`), { token: owner.token, body: { state: 'bogus' } })).status).toBe(422);
    expect((await api(server, 'POST', path(`/statuses/${'1'.repeat(40)}`), { token: owner.token, body: { state: 'success' } })).status).toBe(422);
  });

  it('works through @octokit/rest', async () => {
    await fetchOrigin();
    await pushBranch('octo-branch', { 'octo.txt': 'octo\n' });
    const octokit = new Octokit({ baseUrl: `${server.url}/api/v1`, auth: owner.token });
    const created = await octokit.pulls.create({ owner: owner.username, repo: 'prs', title: 'Octo', head: 'octo-branch', base: 'main' });
    expect(created.status).toBe(201);
    const list = await octokit.pulls.list({ owner: owner.username, repo: 'prs', state: 'open' });
    expect(list.data.some((p) => p.number === created.data.number)).toBe(true);
    const got = await octokit.pulls.get({ owner: owner.username, repo: 'prs', pull_number: created.data.number });
    expect(got.data.head.ref).toBe('octo-branch');
    const files = await octokit.pulls.listFiles({ owner: owner.username, repo: 'prs', pull_number: created.data.number });
    expect(files.data.map((f) => f.filename)).toEqual(['octo.txt']);
    const merged = await octokit.pulls.merge({ owner: owner.username, repo: 'prs', pull_number: created.data.number, merge_method: 'squash' });
    expect(merged.data.merged).toBe(true);
  });
});
