import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Octokit } from '@octokit/rest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { commitFiles, gitOk } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { createPushedRepo, waitFor, type PushedRepo } from '../helpers/scriptedRuns.ts';
import { findRepository } from '../../src/services/repositories.ts';
import { resolveIssueReferences } from '../../src/services/issueReferences.ts';
import { runCli } from '../helpers/cli.ts';

describe.each(testDialects())('issues API on %s', { timeout: 120_000 }, (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let writer: TestUser;
  let reader: TestUser;
  let stranger: TestUser;
  let octokit: Octokit;
  let pushed: PushedRepo;
  const repo = 'tracker';
  const path = (p: string) => `/repos/${owner.username}/${repo}${p}`;

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    writer = await createTestUser(server);
    reader = await createTestUser(server);
    stranger = await createTestUser(server);
    pushed = await createPushedRepo(server, owner, repo, { 'README.md': '# tracker\n' });
    expect((await api(server, 'PUT', path(`/collaborators/${writer.username}`), { token: owner.token, body: { permission: 'push' } })).status).toBeLessThan(300);
    expect((await api(server, 'PUT', path(`/collaborators/${reader.username}`), { token: owner.token, body: { permission: 'pull' } })).status).toBeLessThan(300);
    octokit = new Octokit({ baseUrl: `${server.url}/api/v1`, auth: owner.token });
  });

  afterAll(async () => {
    await pushed?.work.remove();
    await server?.close();
  });

  it('creates, gets, lists, comments, labels, assigns, closes and reopens through Octokit', async () => {
    const created = await octokit.issues.create({ owner: owner.username, repo, title: 'Crash on start', body: 'It crashes when **started**.', labels: ['bug'], assignees: [writer.username] });
    expect(created.status).toBe(201);
    expect(created.data).toMatchObject({ title: 'Crash on start', state: 'open', state_reason: null, comments: 0, user: { login: owner.username } });
    expect(created.data.labels.map((l) => (typeof l === 'string' ? l : l.name))).toEqual(['bug']);
    expect(created.data.assignees?.map((a) => a.login)).toEqual([writer.username]);
    expect(created.data.html_url).toBe(`${server.url}/${owner.username}/${repo}/issues/${created.data.number}`);
    const number = created.data.number;

    const got = await octokit.issues.get({ owner: owner.username, repo, issue_number: number });
    expect(got.data.body).toBe('It crashes when **started**.');
    expect(got.data.pull_request).toBeUndefined();

    const comment = await octokit.issues.createComment({ owner: owner.username, repo, issue_number: number, body: 'Seen it too.' });
    expect(comment.status).toBe(201);
    expect(comment.data.issue_url).toMatch(new RegExp(`/issues/${number}$`));
    const comments = await octokit.issues.listComments({ owner: owner.username, repo, issue_number: number });
    expect(comments.data.map((c) => c.body)).toEqual(['Seen it too.']);

    const labels = await octokit.issues.addLabels({ owner: owner.username, repo, issue_number: number, labels: ['ui', 'bug'] });
    expect(labels.data.map((l) => l.name)).toEqual(['bug', 'ui']);
    const assigned = await octokit.issues.addAssignees({ owner: owner.username, repo, issue_number: number, assignees: [reader.username] });
    expect(assigned.data.assignees?.map((a) => a.login).sort()).toEqual([reader.username, writer.username].sort());

    const closed = await octokit.issues.update({ owner: owner.username, repo, issue_number: number, state: 'closed', state_reason: 'not_planned' });
    expect(closed.data).toMatchObject({ state: 'closed', state_reason: 'not_planned', closed_by: { login: owner.username } });
    expect(closed.data.closed_at).toBeTruthy();
    const reopened = await octokit.issues.update({ owner: owner.username, repo, issue_number: number, state: 'open' });
    expect(reopened.data).toMatchObject({ state: 'open', state_reason: 'reopened', closed_at: null });
    const renamed = await octokit.issues.update({ owner: owner.username, repo, issue_number: number, title: 'Crash on start-up' });
    expect(renamed.data.title).toBe('Crash on start-up');
    expect(renamed.data.comments).toBe(1);

    const timeline = await octokit.issues.listEventsForTimeline({ owner: owner.username, repo, issue_number: number });
    const events = timeline.data.map((e) => (e as { event?: string }).event);
    expect(events).toEqual(['labeled', 'assigned', 'commented', 'labeled', 'assigned', 'closed', 'reopened', 'renamed']);
    expect(timeline.data[0]).toMatchObject({ event: 'labeled', label: { name: 'bug', color: 'ededed' }, actor: { login: owner.username } });
    expect(timeline.data[5]).toMatchObject({ event: 'closed', state_reason: 'not_planned' });

    // The outbox got the events, each with the ids webhooks need.
    const outbox = await server.app.db.selectFrom('graph_events').select(['type', 'payload']).where('subject', '=', `issue/${number}`).orderBy('id').execute();
    expect(outbox.map((e) => e.type)).toEqual(['issue.opened', 'issue.labeled', 'issue.assigned', 'issue_comment.created', 'issue.labeled', 'issue.assigned', 'issue.closed', 'issue.reopened', 'issue.edited']);
    expect(JSON.parse(outbox[3]!.payload)).toMatchObject({ number, issue_id: got.data.id, comment_id: comment.data.id, actor_id: owner.id });
  });

  it('lists with filters and pagination', async () => {
    const mk = async (token: string, title: string, extra: Record<string, unknown> = {}) => {
      const r = await api(server, 'POST', path('/issues'), { token, body: { title, ...extra } });
      expect(r.status, r.text).toBe(201);
      return r.json.number as number;
    };
    const a = await mk(owner.token, 'Filter alpha needle', { labels: ['filter-x', 'filter-y'], assignees: [writer.username] });
    const b = await mk(reader.token, 'Filter beta', { body: 'has the NEEDLE in its body' });
    const c = await mk(owner.token, 'Filter gamma', { labels: ['filter-x'] });
    await octokit.issues.update({ owner: owner.username, repo, issue_number: c, state: 'closed' });
    const numbers = async (params: Record<string, string>) => (await api(server, 'GET', path(`/issues?${new URLSearchParams({ per_page: '100', ...params })}`), { token: owner.token })).json.map((i: { number: number }) => i.number);
    expect(await numbers({ labels: 'filter-x' })).toEqual([a]);
    expect(await numbers({ labels: 'filter-x', state: 'all' })).toEqual([c, a]);
    expect(await numbers({ labels: 'FILTER-X,filter-y', state: 'all' })).toEqual([a]);
    expect(await numbers({ state: 'closed', labels: 'filter-x' })).toEqual([c]);
    expect(await numbers({ creator: reader.username })).toEqual([b]);
    expect((await numbers({ assignee: writer.username })).includes(a)).toBe(true);
    expect((await numbers({ assignee: 'none' })).includes(a)).toBe(false);
    expect(await numbers({ q: 'needle' })).toEqual([b, a]);
    expect(await numbers({ q: '100%_' })).toEqual([]);
    expect(await numbers({ q: 'needle', direction: 'asc' })).toEqual([a, b]);
    expect(await numbers({ creator: 'nobody-at-all' })).toEqual([]);
    await api(server, 'POST', path(`/issues/${b}/comments`), { token: owner.token, body: { body: 'one' } });
    await api(server, 'POST', path(`/issues/${b}/comments`), { token: owner.token, body: { body: 'two' } });
    expect((await numbers({ sort: 'comments', state: 'all' }))[0]).toBe(b);
    expect((await numbers({ sort: 'updated', state: 'all', kind: 'issue' }))[0]).toBe(b);

    const octoList = await octokit.issues.listForRepo({ owner: owner.username, repo, labels: 'filter-x', state: 'all' });
    expect(octoList.data.map((i) => i.number)).toEqual([c, a]);

    const page1 = await api(server, 'GET', path('/issues?state=all&per_page=2&page=1&kind=issue'), { token: owner.token });
    expect(page1.json).toHaveLength(2);
    expect(page1.headers.get('link')).toContain('rel="next"');
    const all = await octokit.paginate(octokit.issues.listForRepo, { owner: owner.username, repo, state: 'all', per_page: 2 });
    expect(new Set(all.map((i) => i.number)).size).toBe(all.length);
    expect(all.length).toBeGreaterThanOrEqual(3);
    expect((await api(server, 'GET', path('/issues?state=bogus'), { token: owner.token })).status).toBe(422);
    for (const param of ['q', 'labels', 'creator', 'assignee']) expect((await api(server, 'GET', path(`/issues?${param}=a%00b`), { token: owner.token })).status, param).toBe(422);
    expect((await api(server, 'GET', path('/labels/a%00b'), { token: owner.token })).status).toBe(404);
  });

  it('shares one number sequence with pull requests; /issues/{n} answers for a pull request', async () => {
    const issue = await octokit.issues.create({ owner: owner.username, repo, title: 'Before the PR' });
    await gitOk(pushed.work.path, ['checkout', '-q', '-B', 'feature', 'main']);
    await commitFiles(pushed.work.path, { 'feature.txt': 'x\n' }, 'Add feature (see #' + issue.data.number + ')');
    await gitOk(pushed.work.path, ['push', '-q', pushed.remote, 'feature']);
    const pr = await octokit.pulls.create({ owner: owner.username, repo, title: 'The PR', head: 'feature', base: 'main', body: 'Implements it' });
    expect(pr.data.number).toBe(issue.data.number + 1);
    const after = await octokit.issues.create({ owner: owner.username, repo, title: 'After the PR' });
    expect(after.data.number).toBe(pr.data.number + 1);

    const asIssue = await octokit.issues.get({ owner: owner.username, repo, issue_number: pr.data.number });
    expect(asIssue.data.title).toBe('The PR');
    expect(asIssue.data.pull_request?.url).toMatch(new RegExp(`/pulls/${pr.data.number}$`));
    const listed = await octokit.issues.listForRepo({ owner: owner.username, repo, per_page: 100 });
    expect(listed.data.some((i) => i.number === pr.data.number && i.pull_request)).toBe(true);
    const onlyIssues = await api(server, 'GET', path('/issues?kind=issue&per_page=100'), { token: owner.token });
    expect(onlyIssues.json.some((i: { number: number }) => i.number === pr.data.number)).toBe(false);

    // Labels and comments through the issue API work on a pull request too; its comments are the PR conversation.
    await octokit.issues.addLabels({ owner: owner.username, repo, issue_number: pr.data.number, labels: ['needs-review'] });
    await octokit.issues.createComment({ owner: owner.username, repo, issue_number: pr.data.number, body: 'LGTM' });
    const prComments = await octokit.issues.listComments({ owner: owner.username, repo, issue_number: pr.data.number });
    expect(prComments.data.map((c) => c.body)).toEqual(['LGTM']);
    const fetched = await api(server, 'GET', path(`/issues/comments/${prComments.data[0]!.id}`), { token: owner.token });
    expect(fetched.json.body).toBe('LGTM');
    expect((await octokit.issues.get({ owner: owner.username, repo, issue_number: pr.data.number })).data.labels.map((l) => (typeof l === 'string' ? l : l.name))).toEqual(['needs-review']);
    // Pull request shapes are unchanged.
    const prGot = await octokit.pulls.get({ owner: owner.username, repo, pull_number: pr.data.number });
    expect(prGot.data.head.ref).toBe('feature');

    // The PR's commit mentioned the issue: a `referenced` entry; the PR is cross-referenced once it says so.
    await waitFor(async () => {
      const t = await octokit.issues.listEventsForTimeline({ owner: owner.username, repo, issue_number: issue.data.number });
      return t.data.some((e) => (e as { event?: string }).event === 'referenced');
    });
  });

  it('edits and deletes comments: author or writer', async () => {
    const issue = (await api(server, 'POST', path('/issues'), { token: reader.token, body: { title: 'Reader issue', body: 'by a reader' } })).json;
    const mine = await api(server, 'POST', path(`/issues/${issue.number}/comments`), { token: reader.token, body: { body: 'first' } });
    expect(mine.status).toBe(201);
    expect(mine.json.id).toBeGreaterThan(1_000_000_000);
    const theirs = await api(server, 'POST', path(`/issues/${issue.number}/comments`), { token: writer.token, body: { body: 'writer here' } });
    expect((await api(server, 'PATCH', path(`/issues/comments/${theirs.json.id}`), { token: reader.token, body: { body: 'hijack' } })).status).toBe(403);
    expect((await api(server, 'PATCH', path(`/issues/comments/${mine.json.id}`), { token: reader.token, body: { body: 'edited' } })).json.body).toBe('edited');
    expect((await api(server, 'GET', path(`/issues/comments/${mine.json.id}`), { token: stranger.token })).json.body).toBe('edited');
    expect((await api(server, 'DELETE', path(`/issues/comments/${theirs.json.id}`), { token: reader.token })).status).toBe(403);
    expect((await api(server, 'DELETE', path(`/issues/comments/${theirs.json.id}`), { token: owner.token })).status).toBe(204);
    expect((await api(server, 'GET', path(`/issues/comments/${theirs.json.id}`), { token: owner.token })).status).toBe(404);
    // The author may edit and close their own issue, but not label it.
    expect((await api(server, 'PATCH', path(`/issues/${issue.number}`), { token: reader.token, body: { title: 'Reader issue (edited)', state: 'closed' } })).json).toMatchObject({ state: 'closed', title: 'Reader issue (edited)' });
    expect((await api(server, 'POST', path(`/issues/${issue.number}/labels`), { token: reader.token, body: { labels: ['x'] } })).status).toBe(403);
    expect((await api(server, 'PATCH', path(`/issues/${issue.number}`), { token: stranger.token, body: { title: 'nope' } })).status).toBe(403);
  });

  it('manages labels: colours, unique names, edit, delete', async () => {
    const made = await octokit.issues.createLabel({ owner: owner.username, repo, name: 'Priority: High', color: 'D73A4A', description: 'Do it now' });
    expect(made.data).toMatchObject({ name: 'Priority: High', color: 'd73a4a', description: 'Do it now', default: false });
    const bad = await api(server, 'POST', path('/labels'), { token: owner.token, body: { name: 'bad', color: 'red' } });
    expect(bad.status).toBe(422);
    expect(bad.json.message).toMatch(/color/);
    for (const color of ['#d73a4a', 'd73a4', 'gggggg', '']) expect((await api(server, 'POST', path('/labels'), { token: owner.token, body: { name: `c-${color}`, color } })).status).toBe(422);
    expect((await api(server, 'POST', path('/labels'), { token: owner.token, body: { name: 'priority: HIGH', color: '000000' } })).status).toBe(422);
    expect((await api(server, 'POST', path('/labels'), { token: owner.token, body: { name: 'a,b', color: '000000' } })).status).toBe(422);
    expect((await api(server, 'POST', path('/labels'), { token: reader.token, body: { name: 'reader-label', color: '000000' } })).status).toBe(403);
    const got = await api(server, 'GET', path(`/labels/${encodeURIComponent('priority: high')}`), { token: reader.token });
    expect(got.json.name).toBe('Priority: High');
    const edited = await octokit.issues.updateLabel({ owner: owner.username, repo, name: 'Priority: High', new_name: 'P1', color: '00ff00' });
    expect(edited.data).toMatchObject({ name: 'P1', color: '00ff00' });
    expect((await api(server, 'PATCH', path('/labels/P1'), { token: owner.token, body: { color: 'xyz' } })).status).toBe(422);
    const issue = await octokit.issues.create({ owner: owner.username, repo, title: 'Labelled', labels: ['P1'] });
    expect((await api(server, 'DELETE', path(`/issues/${issue.data.number}/labels/nope`), { token: owner.token })).status).toBe(404);
    await octokit.issues.deleteLabel({ owner: owner.username, repo, name: 'P1' });
    expect((await octokit.issues.get({ owner: owner.username, repo, issue_number: issue.data.number })).data.labels).toEqual([]);
    const list = await octokit.issues.listLabelsForRepo({ owner: owner.username, repo, per_page: 100 });
    expect(list.data.some((l) => l.name === 'P1')).toBe(false);
  });

  it('refuses bad input with clear errors', async () => {
    const big = 'x'.repeat(65_537);
    const tooBig = await api(server, 'POST', path('/issues'), { token: owner.token, body: { title: 'big', body: big } });
    expect(tooBig.status).toBe(413);
    expect(tooBig.json.message).toMatch(/too long/);
    expect((await api(server, 'POST', path('/issues'), { token: owner.token, body: { title: 'ok', body: 'x'.repeat(65_536) } })).status).toBe(201);
    expect((await api(server, 'POST', path('/issues'), { token: owner.token, body: { title: '   ' } })).status).toBe(422);
    expect((await api(server, 'POST', path('/issues'), { token: owner.token, body: { title: 't'.repeat(257) } })).status).toBe(422);
    expect((await api(server, 'POST', path('/issues'), { token: owner.token, body: { body: 'no title' } })).status).toBe(422);
    const issue = (await api(server, 'POST', path('/issues'), { token: owner.token, body: { title: 'target' } })).json;
    expect((await api(server, 'POST', path(`/issues/${issue.number}/comments`), { token: owner.token, body: { body: big } })).status).toBe(413);
    expect((await api(server, 'POST', path(`/issues/${issue.number}/comments`), { token: owner.token, body: { body: '  ' } })).status).toBe(422);
    expect((await api(server, 'PATCH', path(`/issues/${issue.number}`), { token: owner.token, body: { body: big } })).status).toBe(413);
    expect((await api(server, 'PATCH', path(`/issues/${issue.number}`), { token: owner.token, body: { state: 'closed', state_reason: 'reopened' } })).status).toBe(422);
    expect((await api(server, 'PATCH', path(`/issues/${issue.number}`), { token: owner.token, body: { state_reason: 'bogus' } })).status).toBe(422);
    // Assignees: unknown users, users who cannot read the (private) repository, unknown agents.
    expect((await api(server, 'POST', path(`/issues/${issue.number}/assignees`), { token: owner.token, body: { assignees: ['no-such-user'] } })).status).toBe(422);
    expect((await api(server, 'POST', path(`/issues/${issue.number}/assignees`), { token: owner.token, body: { assignees: ['agent:no-such-agent'] } })).status).toBe(422);
    expect((await api(server, 'POST', path(`/issues/${issue.number}/assignees`), { token: writer.token, body: { assignees: [stranger.username] } })).status).toBe(201); // public repository: everyone can read
    const secret = await createPushedRepo(server, owner, 'secret-tracker', { 'README.md': '# secret\n' }, { private: true });
    try {
      const sp = (p: string) => `/repos/${owner.username}/secret-tracker${p}`;
      const s = (await api(server, 'POST', sp('/issues'), { token: owner.token, body: { title: 'Secret plan' } })).json;
      const refused = await api(server, 'POST', sp(`/issues/${s.number}/assignees`), { token: owner.token, body: { assignees: [stranger.username] } });
      expect(refused.status).toBe(422);
      expect(refused.json.message).toMatch(/cannot read/);
      for (const [method, p] of [
        ['GET', sp(`/issues/${s.number}`)],
        ['GET', sp('/issues')],
        ['GET', sp('/labels')],
        ['GET', sp(`/issues/${s.number}/timeline`)],
        ['POST', sp(`/issues/${s.number}/comments`)],
      ] as const) {
        expect((await api(server, method, p, { token: stranger.token, body: method === 'POST' ? { body: 'hi' } : undefined })).status, `${method} ${p}`).toBe(404);
        expect((await api(server, method, p, { body: method === 'POST' ? { body: 'hi' } : undefined })).status, `${method} ${p} anonymous`).toBe(method === 'POST' ? 401 : 404);
      }
    } finally {
      await secret.work.remove();
    }
    // Agents: only writers may assign them (403), and unknown numbers are 404.
    expect((await api(server, 'POST', path(`/issues/${issue.number}/assignees`), { token: reader.token, body: { assignees: ['agent:script'] } })).status).toBe(403);
    expect((await api(server, 'POST', path('/issues'), { token: reader.token, body: { title: 'sneaky', assignees: ['agent:script'] } })).status).toBe(403);
    expect((await api(server, 'GET', path('/issues/999999'), { token: owner.token })).status).toBe(404);
    expect((await api(server, 'GET', path('/issues/abc'), { token: owner.token })).status).toBe(404);
    expect((await api(server, 'POST', path('/issues'), { token: owner.token, body: '{"title": "x", "body": "a\\u0000b"}' })).status).toBe(422);
  });

  it('cross references: mentions add timeline entries; another repository\'s private issue is never linked or leaked', async () => {
    const target = await octokit.issues.create({ owner: owner.username, repo, title: 'Referenced one' });
    const mention = await octokit.issues.create({ owner: owner.username, repo, title: 'Mentions', body: `Related to #${target.data.number}` });
    const privateRepo = await createPushedRepo(server, owner, 'private-side', { 'README.md': '# p\n' }, { private: true });
    try {
      const pp = (p: string) => `/repos/${owner.username}/private-side${p}`;
      const secret = (await api(server, 'POST', pp('/issues'), { token: owner.token, body: { title: 'Top secret title', body: `see ${owner.username}/${repo}#${target.data.number}` } })).json;
      const timeline = async (token?: string) => (await api(server, 'GET', path(`/issues/${target.data.number}/timeline`), { token })).json as { event: string; source?: { issue: { title: string; repository: { full_name: string } } } }[];
      await waitFor(async () => (await timeline(owner.token)).filter((e) => e.event === 'cross-referenced').length === 2);
      const forOwner = (await timeline(owner.token)).filter((e) => e.event === 'cross-referenced');
      expect(forOwner.map((e) => e.source!.issue.title).sort()).toEqual(['Mentions', 'Top secret title']);
      // Readers of the public repository who cannot read the private one see only the public mention.
      for (const token of [reader.token, undefined]) {
        const seen = await timeline(token);
        expect(JSON.stringify(seen)).not.toContain('Top secret');
        expect(JSON.stringify(seen)).not.toContain('private-side');
        expect(seen.filter((e) => e.event === 'cross-referenced').map((e) => e.source!.issue.title)).toEqual(['Mentions']);
      }
      // Rendering: the resolver links a private repository's issue only for viewers who can read it.
      const publicRepo = (await findRepository(server.app.db, owner.username, repo))!;
      const refs = [{ owner: owner.username, repo: 'private-side', number: secret.number }, { owner: null, repo: null, number: mention.data.number }];
      const asReader = await resolveIssueReferences(server.app, { userId: reader.id, isAdmin: false, tokenScopes: null }, publicRepo, refs);
      expect([...asReader.keys()]).toEqual([`#${mention.data.number}`]);
      const asOwner = await resolveIssueReferences(server.app, { userId: owner.id, isAdmin: false, tokenScopes: null }, publicRepo, refs);
      expect(asOwner.get(`${owner.username}/private-side#${secret.number}`)?.title).toBe('Top secret title');
      // A `fixes` from a public issue body pointing at the private issue by someone who cannot read it does nothing.
      await api(server, 'POST', path('/issues'), { token: reader.token, body: { title: 'probe', body: `fixes ${owner.username}/private-side#${secret.number}` } });
      await waitFor(async () => !(await server.app.db.selectFrom('graph_events').select('id').where('dispatched_at', 'is', null).executeTakeFirst()));
      const probeRun = await server.app.db.selectFrom('behavior_runs').select('outcome').where('behavior_key', '=', 'issue-cross-references').orderBy('id', 'desc').executeTakeFirstOrThrow();
      expect(probeRun.outcome).toBe('0 cross-reference(s) recorded');
      const secretTimeline = await api(server, 'GET', pp(`/issues/${secret.number}/timeline`), { token: owner.token });
      expect(secretTimeline.json.filter((e: { event: string }) => e.event === 'cross-referenced')).toEqual([]);
    } finally {
      await privateRepo.work.remove();
    }
  });

  it('the CLI lists, opens and shows issues', async () => {
    const slug = `${owner.username}/${repo}`;
    const opts = ['--server', server.url, '--token', owner.token];
    const created = await runCli(['issue', 'create', slug, '--title', 'From the CLI', '--body', 'Made in a shell', '--label', 'cli', '--json', ...opts], {});
    expect(created.code, created.stderr).toBe(0);
    const number = JSON.parse(created.stdout).number as number;
    await api(server, 'POST', path(`/issues/${number}/comments`), { token: writer.token, body: { body: 'a comment' } });
    const list = await runCli(['issue', 'list', slug, '--label', 'cli', ...opts], {});
    expect(list.stdout).toContain(`#${number}\topen\tFrom the CLI  [cli]`);
    const view = await runCli(['issue', 'view', slug, String(number), ...opts], {});
    expect(view.stdout).toContain('Made in a shell');
    expect(view.stdout).toContain(`— ${writer.username}`);
    const missing = await runCli(['issue', 'view', slug, '999999', ...opts], {});
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/404/);
  });
});
