import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import type { JobRunner } from '../../src/runner/runner.ts';
import { Dispatcher } from '../../src/events/dispatcher.ts';
import { BehaviorRegistry } from '../../src/events/registry.ts';
import { appendEvents } from '../../src/events/outbox.ts';
import { REVIEW_BOT } from '../../src/services/reviews.ts';
import { waitFor } from '../helpers/scriptedRuns.ts';

const script = (body: string) => `Task.\n\n\`\`\`gitoku-script\n${body}\n\`\`\`\n`;

const MANIFEST = `[workflow.test]
name = "Tests"
events = ["push", "pull_request", "manual"]
branches = ["main", "feature/**"]

[[workflow.test.steps]]
name = "check"
run = "test -f README.md && echo checked"

[workflow.docs]
events = ["push"]
paths = ["docs/**"]
steps = [{ run = "echo docs" }]

[workflow.broken]
events = ["push"]
branches = ["broken/**"]
steps = [{ name = "fails", run = "echo about to fail; exit 3" }]
`;

describe.each(testDialects())('reactive behaviors on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let runner: JobRunner;
  let work: { path: string; remove(): Promise<void> };
  let remote: string;
  const path = (p: string) => `/repos/${owner.username}/auto${p}`;

  async function statusOf(sha: string, context: string) {
    const res = await api(server, 'GET', path(`/commits/${sha}/status`));
    return res.json.statuses.find((s: { context: string }) => s.context === context) ?? null;
  }

  async function pushBranch(branch: string, files: Record<string, string>, from = 'main'): Promise<string> {
    await gitOk(work.path, ['fetch', '-q', remote, `+refs/heads/*:refs/remotes/origin/*`]);
    await gitOk(work.path, ['checkout', '-q', '-B', branch, `origin/${from}`]);
    const sha = await commitFiles(work.path, files, `change ${branch}`);
    await gitOk(work.path, ['push', '-q', '-f', remote, `${branch}:${branch}`]);
    return sha;
  }

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'auto' } });
    // Automatic AI review is off until a repository names a reviewing agent (issue 16): these tests use the scripted one.
    await api(server, 'PATCH', `/repos/${owner.username}/auto`, { token: owner.token, body: { review_driver: 'script' } });
    work = await tempDir();
    await initWorkRepo(work.path, { 'README.md': '# auto\n', 'gitoku.toml': MANIFEST, 'src/app.txt': 'one\ntwo\nthree\nfour\n' });
    remote = authUrl(server.url, `${owner.username}/auto.git`, owner.username, owner.token);
    await gitOk(work.path, ['push', '-q', remote, 'main']);
    runner = await startInProcessRunner(server, 2);
  });

  afterAll(async () => {
    await runner?.stop();
    await work?.remove();
    await server?.close();
  });

  it('runs matching push workflows and reports their result as commit statuses', async () => {
    const main = (await gitOk(work.path, ['rev-parse', 'main'])).trim();
    const status = await waitFor(async () => {
      const s = await statusOf(main, 'gitoku/test');
      return s && s.state !== 'pending' ? s : null;
    });
    expect(status).toMatchObject({ state: 'success', description: 'All steps passed' });
    expect(status.target_url).toContain('/actions/runs/');
    expect(await statusOf(main, 'gitoku/docs')).toBeNull(); // paths filter: no docs change
    const runs = await api(server, 'GET', path(`/actions/runs?head_sha=${main}`));
    expect(runs.json.workflow_runs.map((r: { workflow: string }) => r.workflow)).toEqual(['test']);
    const logs = await api(server, 'GET', path(`/actions/runs/${runs.json.workflow_runs[0].run_number}/logs`));
    expect(JSON.stringify(logs.json.events)).toContain('checked');

    const broken = await pushBranch('broken/x', { 'x.txt': 'x\n' });
    const failed = await waitFor(async () => {
      const s = await statusOf(broken, 'gitoku/broken');
      return s && s.state !== 'pending' ? s : null;
    });
    expect(failed.state).toBe('failure');
    const combined = await api(server, 'GET', path(`/commits/${broken}/status`));
    expect(combined.json.state).toBe('failure');
  });

  it('accepts a push with a bad gitoku.toml and reports the problem with file, line and key', async () => {
    const bad = await pushBranch('bad-manifest', { 'gitoku.toml': '[workflow.test]\nsteps = []\nbogus = 1\n' });
    const status = await waitFor(() => statusOf(bad, 'gitoku.toml'));
    expect(status.state).toBe('failure');
    expect(status.description).toMatch(/gitoku\.toml:\d+ \[workflow\.test\.(steps|bogus)\]/);
    const automation = await api(server, 'GET', path('/automation?ref=bad-manifest'));
    expect(automation.json.manifest.ok).toBe(false);
    expect(automation.json.manifest.messages.length).toBeGreaterThan(0);
    const huge = await pushBranch('huge-manifest', { 'gitoku.toml': `# ${'x'.repeat(10 * 1024 * 1024)}\n` });
    const hugeStatus = await waitFor(() => statusOf(huge, 'gitoku.toml'));
    expect(hugeStatus.description).toContain('too large');
  });

  it('reviews a pull request once per commit, with a line comment, and lists what happened on the Events API', async () => {
    await pushBranch('feature/review', { 'src/new.txt': 'first added line\nsecond\n' });
    const pr = await api(server, 'POST', path('/pulls'), { token: owner.token, body: { title: 'Review me', head: 'feature/review', base: 'main' } });
    expect(pr.status).toBe(201);
    const reviews = await waitFor(async () => {
      const r = await api(server, 'GET', path(`/pulls/${pr.json.number}/reviews`));
      return r.json.length ? r.json : null;
    });
    expect(reviews).toHaveLength(1);
    expect(reviews[0].user.login).toBe(REVIEW_BOT);
    expect(reviews[0].body).toContain('Scripted review');
    expect(reviews[0].body).toContain('AI review** (scripted)');
    // The review's evidence node is written right after the review itself (its own transaction).
    const evidence = await waitFor(() => server.app.db.selectFrom('graph_nodes').selectAll().where('kind', '=', 'evidence').where('key', '=', `review:${reviews[0].id}`).executeTakeFirst());
    expect(JSON.parse(evidence.data)).toMatchObject({ evidence_kind: 'ai_review', source_family: 'script', pull_request: pr.json.number });
    const about = await server.app.db.selectFrom('graph_edges').innerJoin('graph_nodes', 'graph_nodes.id', 'graph_edges.dst_id').select(['graph_nodes.kind', 'graph_nodes.key']).where('graph_edges.src_id', '=', evidence.id).where('graph_edges.kind', '=', 'about').execute();
    expect(about).toEqual([{ kind: 'pull_request', key: String(pr.json.number) }]);
    const comments = await api(server, 'GET', path(`/pulls/${pr.json.number}/comments`));
    expect(comments.json).toEqual([expect.objectContaining({ path: 'src/new.txt', line: 1, pull_request_review_id: reviews[0].id })]);

    // Redeliver the opened event (as after a crash before it was marked): no second review job, no second review.
    const opened = await server.app.db.selectFrom('graph_events').selectAll().where('type', '=', 'pull_request.opened').where('subject', '=', `pull/${pr.json.number}`).executeTakeFirstOrThrow();
    await server.app.db.deleteFrom('behavior_runs').where('event_id', '=', opened.id).execute();
    await server.app.db.updateTable('graph_events').set({ dispatched_at: null, lease_owner: null, lease_expires_at: null }).where('id', '=', opened.id).execute();
    server.app.signals.emit('events');
    await waitFor(async () => (await server.app.db.selectFrom('graph_events').select('dispatched_at').where('id', '=', opened.id).executeTakeFirstOrThrow()).dispatched_at);
    const jobs = await server.app.db.selectFrom('jobs').select('id').where('kind', '=', 'pr_review').where('dedup_key', 'like', `review:${pr.json.id}:%`).execute();
    expect(jobs).toHaveLength(1);
    expect((await api(server, 'GET', path(`/pulls/${pr.json.number}/reviews`))).json).toHaveLength(1);

    const events = await api(server, 'GET', path('/events?type=pull_request.opened'));
    const mine = events.json.find((e: { subject: string }) => e.subject === `pull/${pr.json.number}`);
    expect(mine.behaviors.map((b: { key: string }) => b.key).sort()).toEqual(['agent-routing', 'issue-cross-references', 'notifications', 'pull-request-conflicts', 'pull-request-review', 'pull-request-workflows', 'webhooks']);
    expect(mine.behaviors.every((b: { status: string }) => b.status === 'succeeded')).toBe(true);
  });

  it('does not review drafts or repositories with AI reviews off, and honours switched-off behaviors', async () => {
    await pushBranch('feature/draft', { 'd.txt': 'd\n' });
    const draft = await api(server, 'POST', path('/pulls'), { token: owner.token, body: { title: 'Draft', head: 'feature/draft', base: 'main', draft: true } });
    await waitFor(async () => (await api(server, 'GET', path('/events?type=pull_request.opened'))).json.find((e: { subject: string; dispatched_at: string | null }) => e.subject === `pull/${draft.json.number}` && e.dispatched_at));
    const events = await api(server, 'GET', path('/events?type=pull_request.opened'));
    const review = events.json.find((e: { subject: string }) => e.subject === `pull/${draft.json.number}`).behaviors.find((b: { key: string }) => b.key === 'pull-request-review');
    expect(review.outcome).toBe('pull request is a draft');
    const off = await api(server, 'PUT', path('/behaviors/pull-request-review'), { token: owner.token, body: { enabled: false } });
    expect(off.status).toBe(200);
    expect((await api(server, 'PUT', path('/behaviors/task-dependencies'), { token: owner.token, body: { enabled: false } })).status).toBe(422);
    await api(server, 'PATCH', path(`/pulls/${draft.json.number}`), { token: owner.token, body: { draft: false } });
    await waitFor(async () => (await api(server, 'GET', path('/events?type=pull_request.ready_for_review'))).json[0]?.dispatched_at);
    const ready = (await api(server, 'GET', path('/events?type=pull_request.ready_for_review'))).json[0];
    expect(ready.behaviors.map((b: { key: string }) => b.key)).not.toContain('pull-request-review');
    await api(server, 'PUT', path('/behaviors/pull-request-review'), { token: owner.token, body: { enabled: true } });
  });

  it('starts a conflict-resolution run when a base push makes a pull request conflict', async () => {
    await api(server, 'PATCH', path(''), { token: owner.token, body: { conflict_resolution_enabled: true } });
    await pushBranch('feature/conflict', { 'src/app.txt': 'one\nTWO from the branch\nthree\nfour\n' });
    const pr = await api(server, 'POST', path('/pulls'), { token: owner.token, body: { title: 'Conflict', head: 'feature/conflict', base: 'main' } });
    expect(pr.json.mergeable).toBe(true);
    await pushBranch('main', { 'src/app.txt': 'one\nTWO from main\nthree\nfour\n' });
    const run = await waitFor(async () => {
      const runs = await api(server, 'GET', path('/runs'));
      return runs.json.find((r: { mode: string; base_branch: string }) => r.mode === 'conflict-resolution' && r.base_branch === 'feature/conflict');
    });
    expect(run.title).toBe(`Resolve conflicts of #${pr.json.number} with main`);
    const done = await waitFor(async () => {
      const r = await api(server, 'GET', path(`/runs/${run.number}`));
      return ['succeeded', 'failed'].includes(r.json.status) ? r.json : null;
    });
    expect(done.status, done.error).toBe('succeeded');
    expect(done.commit_sha, JSON.stringify(done)).toBeTruthy();
    await gitOk(work.path, ['fetch', '-q', remote, done.compare_branch]);
    const resolved = await gitOk(work.path, ['show', 'FETCH_HEAD:src/app.txt']);
    expect(resolved).toBe('one\nTWO from the branch\nthree\nfour\n');
    const parents = (await gitOk(work.path, ['rev-list', '--parents', '-n', '1', 'FETCH_HEAD~1'])).trim().split(' ');
    expect(parents).toHaveLength(3); // the merge of main into the branch
  });

  it('starts a dependent task when its dependency succeeds, and fails one whose dependency failed', async () => {
    const first = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script('sleep 0.5\nwrite dep1.txt\n1\nend') } });
    const second = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script('write dep2.txt\n2\nend'), depends_on: [first.json.number] } });
    expect(second.status, second.text).toBe(201);
    expect(second.json.status).toBe('blocked');
    expect(second.json.depends_on).toEqual([{ number: first.json.number, status: expect.any(String) }]);
    const tasks = await (await fetch(`${server.url}/${owner.username}/auto/runs`)).text();
    expect(tasks).toContain(`href="/${owner.username}/auto/runs/${first.json.number}" title="#${first.json.number}:`);
    const done = await waitFor(async () => {
      const r = await api(server, 'GET', path(`/runs/${second.json.number}`));
      return r.json.status === 'succeeded' ? r.json : null;
    });
    expect(done.status).toBe('succeeded');
    const failing = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script('sleep 0.5\nfail nope') } });
    const blocked = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script('say never'), depends_on: [failing.json.number] } });
    const closed = await waitFor(async () => {
      const r = await api(server, 'GET', path(`/runs/${blocked.json.number}`));
      return r.json.status === 'failed' ? r.json : null;
    });
    expect(closed.error).toContain(`dependency #${failing.json.number} failed`);
    expect((await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script('say x'), depends_on: [9999] } })).status).toBe(422);
    const edges = await server.app.db.selectFrom('graph_edges').selectAll().where('kind', '=', 'depends_on').execute();
    expect(edges.length).toBeGreaterThanOrEqual(2);
  });

  it('flags overlapping AI edits on both pull requests', async () => {
    const a = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script('write src/app.txt\none\nTWO by agent A\nthree\nfour\nend') } });
    const b = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script('write src/app.txt\none\nTWO by agent B\nthree\nfour\nend') } });
    const prA = a.json.pull_request.number;
    const prB = b.json.pull_request.number;
    // Other open agent pull requests of this repository may overlap too; look for the A↔B pair.
    const flagged = await waitFor(async () => {
      const ca = await api(server, 'GET', path(`/issues/${prA}/comments`));
      const cb = await api(server, 'GET', path(`/issues/${prB}/comments`));
      const hit = (list: { body: string }[], other: number) => list.find((c) => c.body.includes('Overlapping AI edits') && c.body.includes(`#${other} `));
      return hit(ca.json, prB) && hit(cb.json, prA) ? [hit(ca.json, prB)!, hit(cb.json, prA)!] : null;
    });
    expect(flagged[0]!.body).toContain(`#${b.json.pull_request.number}`);
    expect(flagged[1]!.body).toContain(`#${a.json.pull_request.number}`);
    expect(flagged[0]!.body).toContain('src/app.txt');
  });

  it('names a new file both runs add as a new file, not "lines 0–0" (issue 16, point 20)', async () => {
    const a = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script('write NOTES.md\nnotes by A\nend') } });
    const b = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script('write NOTES.md\nnotes by B\nmore\nend') } });
    const prA = a.json.pull_request.number;
    const prB = b.json.pull_request.number;
    const comment = await waitFor(async () => {
      const list = (await api(server, 'GET', path(`/issues/${prA}/comments`))).json as { body: string }[];
      return list.find((c) => c.body.includes('Overlapping AI edits') && c.body.includes(`#${prB} `)) ?? null;
    });
    expect(comment.body).toContain('`NOTES.md` (a new file)');
    expect(comment.body).not.toMatch(/lines 0–0/);
  });

  it('dispatches a workflow by hand', async () => {
    const res = await api(server, 'POST', path('/workflows/test/dispatches'), { token: owner.token, body: { ref: 'main' } });
    expect(res.status).toBe(204);
    expect((await api(server, 'POST', path('/workflows/docs/dispatches'), { token: owner.token, body: { ref: 'main' } })).status).toBe(422);
    expect((await api(server, 'POST', path('/workflows/nope/dispatches'), { token: owner.token, body: {} })).status).toBe(404);
    const runs = await api(server, 'GET', path('/actions/runs'));
    expect(runs.json.workflow_runs.some((r: { event: string }) => r.event === 'manual')).toBe(true);
  });
});

describe.each(testDialects())('dispatcher guarantees on %s', (dialect) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(dialect, {}, { dispatcher: false });
  });
  afterAll(async () => server?.close());

  async function emit(count: number, type: string): Promise<void> {
    await server.app.db.transaction().execute((tx) => appendEvents(tx, Array.from({ length: count }, (_, i) => ({ type, repositoryId: null, subject: `s${i}`, payload: { i } })), new Date().toISOString()));
  }

  it('dispatches events written while no dispatcher ran, each behavior once; retries a throwing behavior, then marks it failed', async () => {
    const seen: number[] = [];
    let throws = 0;
    const registry = new BehaviorRegistry();
    registry.register({ key: 'count', description: '', on: ['test.a'], optional: false, when: () => true, run: async (e) => (seen.push(e.id), { outcome: 'ok' }) });
    registry.register({ key: 'boom', description: '', on: ['test.a'], optional: false, when: (e) => e.payload.i === 0, run: async () => { throws++; throw new Error('kaboom'); } });
    await emit(20, 'test.a'); // "the server was down": nothing dispatched them yet
    const dispatcher = new Dispatcher(server.app, registry, { retryBaseMs: 20 });
    dispatcher.start();
    await waitFor(async () => (await server.app.db.selectFrom('behavior_runs').select('status').where('behavior_key', '=', 'boom').executeTakeFirst())?.status === 'failed', 20_000);
    await waitFor(async () => Number((await server.app.db.selectFrom('graph_events').select((eb) => eb.fn.countAll<number>().as('n')).where('type', '=', 'test.a').where('dispatched_at', 'is', null).executeTakeFirstOrThrow()).n) === 0);
    await dispatcher.stop();
    expect(seen).toHaveLength(20);
    expect(new Set(seen).size).toBe(20);
    expect(throws).toBe(5);
    const boom = await server.app.db.selectFrom('behavior_runs').selectAll().where('behavior_key', '=', 'boom').executeTakeFirstOrThrow();
    expect(boom).toMatchObject({ status: 'failed', attempts: 5, error: 'kaboom' });
  });

  it('never runs a behavior twice for one event with two dispatchers at once', async () => {
    const seen: number[] = [];
    const registry = new BehaviorRegistry();
    registry.register({ key: 'count2', description: '', on: ['test.b'], optional: false, when: () => true, run: async (e) => (seen.push(e.id), { outcome: 'ok' }) });
    const dispatchers = [new Dispatcher(server.app, registry), new Dispatcher(server.app, registry)];
    dispatchers.forEach((d) => d.start());
    await emit(300, 'test.b');
    server.app.signals.emit('events');
    await waitFor(async () => seen.length >= 300);
    await new Promise((r) => setTimeout(r, 300));
    await Promise.all(dispatchers.map((d) => d.stop()));
    expect(seen).toHaveLength(300);
    expect(new Set(seen).size).toBe(300);
  });
});

