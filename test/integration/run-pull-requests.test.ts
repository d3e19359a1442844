import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import type { JobRunner } from '../../src/runner/runner.ts';
import { scriptPrompt as script, waitFor } from '../helpers/scriptedRuns.ts';

/**
 * Issue 16, points 1–3: what a run leaves behind. Every terminal state rewrites the run's pull request
 * description with the outcome; a run without commits closes its pull request (reopened when its branch
 * later gets commits) and, by default, its branch goes; the branch can be restored from the pull
 * request page; run branches are folded apart in the pickers; automatic AI review is off until a
 * repository or the server names a reviewing agent.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

describe.each(testDialects())('the pull request of a finished run on %s', { timeout: 90_000 }, (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let runner: JobRunner;
  let work: { path: string; remove(): Promise<void> };
  let remote: string;
  const path = (p: string) => `/repos/${owner.username}/life${p}`;
  const page = (p: string) => `${server.url}/${owner.username}/life${p}`;

  async function start(body: Record<string, unknown>): Promise<Json> {
    const res = await api(server, 'POST', path('/runs'), { token: owner.token, body });
    expect(res.status, res.text).toBe(201);
    return res.json;
  }

  async function finished(number: number): Promise<Json> {
    return waitFor(async () => {
      const r = await api(server, 'GET', path(`/runs/${number}`));
      return ['succeeded', 'failed', 'cancelled'].includes(r.json.status) ? r.json : null;
    }, 30_000);
  }

  const pull = async (n: number): Promise<Json> => (await api(server, 'GET', path(`/pulls/${n}`))).json;
  const branchSha = async (branch: string): Promise<string | null> => {
    const out = await gitOk(work.path, ['ls-remote', remote, `refs/heads/${branch}`]);
    return out.trim() ? out.split('\t')[0]! : null;
  };
  /** Waits until every event so far has been dispatched (behaviors ran). */
  const settled = () => waitFor(async () => !(await server.app.db.selectFrom('graph_events').select('id').where('dispatched_at', 'is', null).executeTakeFirst()), 20_000);

  /** Signs in through the form and returns the Cookie header and a CSRF token. */
  async function session(user: TestUser): Promise<{ cookie: string; csrf: string }> {
    const jar = new Map<string, string>();
    const keep = (res: Response) => {
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const eq = pair!.indexOf('=');
        jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
      }
    };
    const first = await fetch(`${server.url}/-/login`);
    keep(first);
    const csrf = /name="_csrf" value="([0-9a-f]+)"/.exec(await first.text())![1]!;
    const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const login = await fetch(`${server.url}/-/login`, { method: 'POST', headers: { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf, username: user.username, password: user.password }), redirect: 'manual' });
    expect(login.status).toBe(303);
    keep(login);
    return { cookie: cookie(), csrf };
  }

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'life' } });
    work = await tempDir();
    await initWorkRepo(work.path, { 'README.md': '# Life\n', 'src/a.txt': 'a\n' });
    remote = authUrl(server.url, `${owner.username}/life.git`, owner.username, owner.token);
    await gitOk(work.path, ['push', '-q', remote, 'main']);
    runner = await startInProcessRunner(server, 2);
  });

  afterAll(async () => {
    await runner?.stop();
    await work?.remove();
    await server?.close();
  });

  it('a failed run without commits: outcome in the description, pull request closed, branch deleted and restorable, run page says so', async () => {
    const run = await finished((await start({ prompt: script('think Looking.\nfail the tests are red'), title: 'Doomed' })).number);
    expect(run.status).toBe('failed');
    const pr = await pull(run.pull_request.number);
    expect(pr.state).toBe('closed');
    expect(pr.body).not.toContain('The agent is working');
    expect(pr.body).toContain(`Agent run [#${run.number}]`);
    expect(pr.body).toContain('**failed**');
    expect(pr.body).toContain('the tests are red');
    expect(pr.body).toContain('closed because the run left no commits');
    const comments = await api(server, 'GET', path(`/issues/${run.pull_request.number}/comments`));
    expect(comments.json.at(-1).body).toContain('the tests are red');
    // The default clean-up (no-commits) deletes the empty branch once the pull request is closed.
    await waitFor(async () => (await branchSha(run.compare_branch)) === null);
    const runPage = await (await fetch(page(`/runs/${run.number}`))).text();
    expect(runPage).toContain('id="run-pr-closed"');
    expect(runPage).toContain(`its pull request #${run.pull_request.number} was closed`);

    // The pull request page says why it was closed and offers to restore the branch (to writers).
    const me = await session(owner);
    const prPage = await (await fetch(page(`/pull/${run.pull_request.number}`), { headers: { cookie: me.cookie } })).text();
    expect(prPage).toContain('Closed: the agent run left no commits');
    expect(prPage).toContain('id="restore-branch"');
    expect(await (await fetch(page(`/pull/${run.pull_request.number}`))).text()).not.toContain('id="restore-branch"');
    const restored = await fetch(page(`/pull/${run.pull_request.number}/restore-branch`), { method: 'POST', headers: { cookie: me.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: me.csrf }), redirect: 'manual' });
    expect(restored.status).toBe(303);
    expect(await branchSha(run.compare_branch)).toBe(run.source_commit);
    await settled();
    // Restoring an empty branch does not reopen the pull request (nothing new on it), nor delete it again.
    expect((await pull(run.pull_request.number)).state).toBe('closed');
    expect(await branchSha(run.compare_branch)).toBe(run.source_commit);
    const again = await fetch(page(`/pull/${run.pull_request.number}/restore-branch`), { method: 'POST', headers: { cookie: me.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: me.csrf }), redirect: 'manual' });
    expect(again.status).toBe(303); // refused with a flash: the branch exists
    expect(await branchSha(run.compare_branch)).toBe(run.source_commit);
  });

  it('reopens a pull request closed for lack of commits when its branch gets commits (a retry pushing there)', async () => {
    const run = await finished((await start({ prompt: script('fail nothing done'), title: 'Retry me' })).number);
    expect((await pull(run.pull_request.number)).state).toBe('closed');
    await waitFor(async () => (await branchSha(run.compare_branch)) === null);
    await gitOk(work.path, ['fetch', '-q', remote, 'main']);
    await gitOk(work.path, ['checkout', '-q', '-B', 'retry', 'FETCH_HEAD']);
    const sha = await commitFiles(work.path, { 'retry.txt': 'second attempt\n' }, 'A retry pushes');
    await gitOk(work.path, ['push', '-q', remote, `retry:refs/heads/${run.compare_branch}`]);
    const reopened = await waitFor(async () => {
      const pr = await pull(run.pull_request.number);
      return pr.state === 'open' && pr.head.sha === sha ? pr : null;
    });
    expect(reopened).toMatchObject({ draft: true, head: { ref: run.compare_branch, sha } });
    await settled();
    expect(await branchSha(run.compare_branch)).toBe(sha); // an open pull request's branch stays
  });

  it('a cancelled run rewrites its description too', async () => {
    const started = await start({ prompt: script('run sleep 60'), title: 'Cancel me' });
    await waitFor(async () => (await api(server, 'GET', path(`/runs/${started.number}`))).json.status === 'running');
    expect((await api(server, 'POST', path(`/runs/${started.number}/cancel`), { token: owner.token })).status).toBe(200);
    const run = await finished(started.number);
    expect(run.status).toBe('cancelled');
    const pr = await pull(run.pull_request.number);
    expect(pr.body).toContain('**was cancelled**');
    expect(pr.body).toContain(`cancelled by ${owner.username}`);
    expect(pr.body).not.toContain('The agent is working');
    expect(pr.state).toBe('closed');
  });

  it('a run that made no changes closes its pull request; one with changes keeps it open with the outcome', async () => {
    const none = await finished((await start({ prompt: script('say Nothing to change.'), title: 'Nothing' })).number);
    expect(none.status).toBe('succeeded');
    const closed = await pull(none.pull_request.number);
    expect(closed.state).toBe('closed');
    expect(closed.body).toContain('**No changes**');
    expect(closed.body).toContain('closed because the run left no commits');
    expect(await (await fetch(page(`/runs/${none.number}`))).text()).toContain('id="run-pr-closed"');

    const changed = await finished((await start({ prompt: script('write src/new.txt\nnew\nend\nsay Added new.txt'), title: 'Change' })).number);
    const open = await pull(changed.pull_request.number);
    expect(open).toMatchObject({ state: 'open', draft: true, head: { sha: changed.commit_sha } });
    expect(open.body).toContain('Added new.txt');
    expect(open.body).toContain('`src/new.txt`');
    expect(await (await fetch(page(`/runs/${changed.number}`))).text()).not.toContain('id="run-pr-closed"');
    // Closing it keeps its branch by default (it has commits) …
    await api(server, 'PATCH', path(`/pulls/${changed.pull_request.number}`), { token: owner.token, body: { state: 'closed' } });
    await settled();
    expect(await branchSha(changed.compare_branch)).toBe(changed.commit_sha);
    // … and a person's close is not undone by a push.
    expect((await pull(changed.pull_request.number)).state).toBe('closed');
  });

  it('the repository setting deletes run branches with commits when their pull request closes ("always"), or never', async () => {
    const set = await api(server, 'PATCH', path(''), { token: owner.token, body: { run_branch_cleanup: 'always' } });
    expect(set.status, set.text).toBe(200);
    expect(set.json.run_branch_cleanup).toBe('always');
    expect((await api(server, 'PATCH', path(''), { token: owner.token, body: { run_branch_cleanup: 'sometimes' } })).status).toBe(422);
    const run = await finished((await start({ prompt: script('write src/always.txt\nx\nend\nsay Wrote it'), title: 'Always' })).number);
    expect((await pull(run.pull_request.number)).state).toBe('open');
    await settled();
    expect(await branchSha(run.compare_branch)).toBe(run.commit_sha); // open: kept
    await api(server, 'PATCH', path(`/pulls/${run.pull_request.number}`), { token: owner.token, body: { state: 'closed' } });
    await waitFor(async () => (await branchSha(run.compare_branch)) === null);

    await api(server, 'PATCH', path(''), { token: owner.token, body: { run_branch_cleanup: 'never' } });
    const empty = await finished((await start({ prompt: script('fail no luck'), title: 'Never' })).number);
    expect((await pull(empty.pull_request.number)).state).toBe('closed');
    await settled();
    expect(await branchSha(empty.compare_branch)).toBe(empty.source_commit);
    await api(server, 'PATCH', path(''), { token: owner.token, body: { run_branch_cleanup: 'no-commits' } });
  });

  it('keeps run branches out of the ref switcher (found by its filter) and apart in the default-branch picker', async () => {
    await settled();
    // Inline: the default and recent people's branches only; run branches are found by typing (issue 19).
    const html = await (await fetch(page('/tree/main'))).text();
    expect(html).not.toMatch(/data-filter-text="gitoku\/run-/);
    expect(html).toContain('data-filter-text="main"');
    const found = (await (await fetch(page('/-/refs?q=gitoku/run-&kind=branch'))).json()) as { branches: string[] };
    expect(found.branches.length).toBeGreaterThan(0);
    expect(found.branches.every((b) => /^gitoku\/run-\d+-/.test(b))).toBe(true);
    const me = await session(owner);
    const settings = await (await fetch(page('/settings'), { headers: { cookie: me.cookie } })).text();
    const picker = /<select id="settings-branch"[\s\S]*?<\/select>/.exec(settings)![0];
    expect(picker).toMatch(/<optgroup label="Run branches">[\s\S]*gitoku\/run-/);
    expect(picker.slice(0, picker.indexOf('<optgroup'))).not.toContain('gitoku/run-');
  });
});

describe.each(testDialects())('automatic AI review defaults on %s', { timeout: 90_000 }, (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let runner: JobRunner;
  let work: { path: string; remove(): Promise<void> };

  async function pushAndOpen(repo: string, branch: string): Promise<Json> {
    const remote = authUrl(server.url, `${owner.username}/${repo}.git`, owner.username, owner.token);
    await gitOk(work.path, ['checkout', '-q', '-B', branch, 'main']);
    await commitFiles(work.path, { [`${branch}.txt`]: 'a line\n' }, `add ${branch}`);
    await gitOk(work.path, ['push', '-q', '-f', remote, `${branch}:${branch}`]);
    const pr = await api(server, 'POST', `/repos/${owner.username}/${repo}/pulls`, { token: owner.token, body: { title: branch, head: branch, base: 'main' } });
    expect(pr.status, pr.text).toBe(201);
    return pr.json;
  }

  async function reviewOutcome(repo: string, number: number): Promise<string> {
    const event = await waitFor(async () => {
      const events = await api(server, 'GET', `/repos/${owner.username}/${repo}/events?type=pull_request.opened`);
      const e = events.json.find((x: Json) => x.subject === `pull/${number}` && x.dispatched_at);
      return e ?? null;
    });
    return event.behaviors.find((b: Json) => b.key === 'pull-request-review').outcome;
  }

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    work = await tempDir();
    await initWorkRepo(work.path, { 'README.md': '# Reviews\n' });
    for (const name of ['quiet', 'scripted']) {
      await api(server, 'POST', '/user/repos', { token: owner.token, body: { name } });
      await gitOk(work.path, ['push', '-q', authUrl(server.url, `${owner.username}/${name}.git`, owner.username, owner.token), 'main']);
    }
    runner = await startInProcessRunner(server, 2);
  });

  afterAll(async () => {
    await runner?.stop();
    await work?.remove();
    await server?.close();
  });

  it('does not review a human pull request until a reviewing agent is chosen', async () => {
    const repo = await api(server, 'GET', `/repos/${owner.username}/quiet`, { token: owner.token });
    expect(repo.json).toMatchObject({ ai_reviews_enabled: true, review_driver: '' });
    const pr = await pushAndOpen('quiet', 'human-change');
    expect(await reviewOutcome('quiet', pr.number)).toMatch(/no reviewing agent is set/);
    expect(await server.app.db.selectFrom('jobs').select('id').where('kind', '=', 'pr_review').executeTakeFirst()).toBeUndefined();
    expect((await api(server, 'GET', `/repos/${owner.username}/quiet/pulls/${pr.number}/reviews`)).json).toEqual([]);
  });

  it('reviews with the agent a repository names explicitly (the scripted one, for tests and the demo)', async () => {
    expect((await api(server, 'PATCH', `/repos/${owner.username}/scripted`, { token: owner.token, body: { review_driver: 'script' } })).status).toBe(200);
    const pr = await pushAndOpen('scripted', 'reviewed-change');
    expect(await reviewOutcome('scripted', pr.number)).toMatch(/^queued a review of [0-9a-f]{12} by script/);
    const reviews = await waitFor(async () => {
      const r = await api(server, 'GET', `/repos/${owner.username}/scripted/pulls/${pr.number}/reviews`);
      return r.json.length ? r.json : null;
    });
    expect(reviews[0].body).toContain('AI review** (scripted)');
    // Back to "the server's reviewer": none here, so off again.
    expect((await api(server, 'PATCH', `/repos/${owner.username}/scripted`, { token: owner.token, body: { review_driver: '' } })).json.review_driver).toBe('');
    const next = await pushAndOpen('scripted', 'unreviewed-change');
    expect(await reviewOutcome('scripted', next.number)).toMatch(/no reviewing agent is set/);
  });

  it("says on the automation page that reviews are off, and doesn't offer the scripted reviewer", async () => {
    const { cookie } = await (async () => {
      const jar = new Map<string, string>();
      const keep = (res: Response) => {
        for (const c of res.headers.getSetCookie()) {
          const [pair] = c.split(';');
          jar.set(pair!.slice(0, pair!.indexOf('=')), pair!.slice(pair!.indexOf('=') + 1));
        }
      };
      const first = await fetch(`${server.url}/-/login`);
      keep(first);
      const csrf = /name="_csrf" value="([0-9a-f]+)"/.exec(await first.text())![1]!;
      const header = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      keep(await fetch(`${server.url}/-/login`, { method: 'POST', headers: { cookie: header(), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf, username: owner.username, password: owner.password }), redirect: 'manual' }));
      return { cookie: header() };
    })();
    const html = await (await fetch(`${server.url}/${owner.username}/quiet/automation`, { headers: { cookie } })).text();
    expect(html).toContain('id="setting-ai-reviews-off"');
    const select = /<select class="input select" name="review_driver"[\s\S]*?<\/select>/.exec(html)![0];
    expect(select).toContain('None: automatic AI reviews stay off');
    expect(select).not.toContain('value="script"');
  });
});

describe('automatic AI review turned on by the server (GITOKU_REVIEW_DRIVER)', { timeout: 90_000 }, () => {
  it('reviews repositories that name no reviewer with the server\'s', async () => {
    const server = await startTestServer('sqlite', { GITOKU_REVIEW_DRIVER: 'script' });
    const owner = await createTestUser(server);
    const work = await tempDir();
    const runner = await startInProcessRunner(server, 1);
    try {
      await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'served' } });
      await initWorkRepo(work.path, { 'README.md': '# Served\n' });
      const remote = authUrl(server.url, `${owner.username}/served.git`, owner.username, owner.token);
      await gitOk(work.path, ['push', '-q', remote, 'main']);
      await gitOk(work.path, ['checkout', '-q', '-b', 'topic']);
      await commitFiles(work.path, { 'topic.txt': 'topic\n' }, 'topic');
      await gitOk(work.path, ['push', '-q', remote, 'topic']);
      const pr = await api(server, 'POST', `/repos/${owner.username}/served/pulls`, { token: owner.token, body: { title: 'Topic', head: 'topic', base: 'main' } });
      const reviews = await waitFor(async () => {
        const r = await api(server, 'GET', `/repos/${owner.username}/served/pulls/${pr.json.number}/reviews`);
        return r.json.length ? r.json : null;
      });
      expect(reviews[0].body).toContain('AI review** (scripted)');
    } finally {
      await runner.stop();
      await work.remove();
      await server.close();
    }
  });
});
