import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { commitFiles, gitOk } from '../helpers/git.ts';
import { createPushedRepo, runScripted, scriptPrompt, waitFor, type PushedRepo } from '../helpers/scriptedRuns.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import type { JobRunner } from '../../src/runner/runner.ts';
import { getMemoryEntry, listMemoryEntries, recordMemoryEntry, updateMemoryEntry, type MemoryEntry } from '../../src/services/memory.ts';
import { resolveCitations } from '../../src/services/memoryValidation.ts';
import { repositoryGitDir } from '../../src/services/storage.ts';
import { findRepositoryById } from '../../src/services/repositories.ts';
import { wakeDispatcher } from '../../src/events/wake.ts';
import { now } from '../../src/services/app.ts';

const A = 'export function parse(s) {\n  return s.split("-");\n}\n';
const B = 'const cache = new Map();\nconst LIMIT = 100;\nexport { cache, LIMIT };\n';

describe.each(testDialects())('memory from reviews, closed drafts and contradictions on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let reviewer: TestUser;
  let repo: PushedRepo;
  let repoId = 0;
  let runner: JobRunner | undefined;
  const path = (p = '') => `/repos/${owner.username}/src${p}`;

  /** The behavior's run for the newest event of `type` (with `match` in its payload), once it has finished. */
  async function behaviorRun(type: string, key: string, match: (payload: Record<string, unknown>) => boolean) {
    return waitFor(async () => {
      const events = await server.app.db.selectFrom('graph_events').select(['id', 'payload']).where('repository_id', '=', repoId).where('type', '=', type).orderBy('id', 'desc').execute();
      const event = events.find((e) => match(JSON.parse(e.payload) as Record<string, unknown>));
      if (!event) return null;
      const run = await server.app.db.selectFrom('behavior_runs').selectAll().where('event_id', '=', event.id).where('behavior_key', '=', key).executeTakeFirst();
      return run && run.status !== 'pending' && run.status !== 'running' ? { ...run, event_id: event.id } : null;
    });
  }

  async function branchWith(name: string, files: Record<string, string>): Promise<string> {
    await gitOk(repo.work.path, ['checkout', '-q', 'main']);
    await gitOk(repo.work.path, ['checkout', '-q', '-b', name]);
    const sha = await commitFiles(repo.work.path, files, `Change on ${name}`);
    await gitOk(repo.work.path, ['push', '-q', repo.remote, name]);
    return sha;
  }

  async function openPull(branch: string, title: string, draft = false): Promise<number> {
    const res = await api(server, 'POST', path('/pulls'), { token: owner.token, body: { title, head: branch, base: 'main', draft } });
    expect(res.status, res.text).toBe(201);
    return res.json.number as number;
  }

  const entriesBy = async (type: string, id: number): Promise<MemoryEntry[]> => (await listMemoryEntries(server.app.db, repoId, { per_page: 100 })).entries.filter((e) => e.source.type === type && e.source.id === id);

  const comments = async (number: number) => (await api(server, 'GET', path(`/issues/${number}/comments`), { token: owner.token })).json as { body: string; user: { login: string } }[];

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    reviewer = await createTestUser(server);
    repo = await createPushedRepo(server, owner, 'src', { 'README.md': '# Src\n', 'lib/a.js': A, 'lib/b.js': B });
    await api(server, 'PUT', path(`/collaborators/${reviewer.username}`), { token: owner.token, body: { permission: 'push' } });
    repoId = (await server.app.db.selectFrom('repositories').select('id').where('name', '=', 'src').executeTakeFirstOrThrow()).id;
  });

  afterAll(async () => {
    await runner?.stop();
    await repo?.work.remove();
    await server?.close();
  });

  it('a change request with a reason becomes a decision citing its line comments', async () => {
    const head = await branchWith('regex-dates', { 'lib/a.js': 'export function parse(s) {\n  return s.match(/\\d+/g);\n}\n' });
    const number = await openPull('regex-dates', 'Parse dates with a regex');
    const review = await api(server, 'POST', path(`/pulls/${number}/reviews`), {
      token: reviewer.token,
      body: { event: 'REQUEST_CHANGES', body: 'Do not parse dates with regexes: use the date library. <b>Never</b>.', comments: [{ path: 'lib/a.js', line: 2, body: 'This breaks on ISO weeks' }] },
    });
    expect(review.status, review.text).toBe(200);
    const run = await behaviorRun('review.submitted', 'memory-change-requests', (p) => p.review_id === review.json.id);
    expect(run.status).toBe('succeeded');
    expect(run.outcome).toMatch(/^recorded decision #\d+ citing 1 line comment$/);
    const [entry] = await entriesBy('review', review.json.id);
    expect(entry).toMatchObject({
      kind: 'decision',
      subject: 'Parse dates with a regex',
      fact: 'Do not parse dates with regexes: use the date library. <b>Never</b>.',
      source: { type: 'review', id: review.json.id },
      created_by_id: reviewer.id,
      status: 'live',
      citations: [{ path: 'lib/a.js', start_line: 2, end_line: 2, commit: head, content_hash: expect.stringMatching(/^[0-9a-f]{64}$/) }],
    });
    expect(entry!.reason).toBe(`${reviewer.username} requested changes on #${number} “Parse dates with a regex”`);
    // The Memory page links the decision to the review on the pull request page.
    const page = await fetch(`${server.url}/${owner.username}/src/memory/${entry!.id}`);
    expect(await page.text()).toContain(`href="/${owner.username}/src/pull/${number}#review-${review.json.id}"`);
  });

  it('an approval, a comment-only review and a change request without a reason record nothing', async () => {
    await branchWith('quiet', { 'lib/a.js': A.replace('split', 'splitting') });
    const number = await openPull('quiet', 'Quiet change');
    const noReason = await api(server, 'POST', path(`/pulls/${number}/reviews`), { token: reviewer.token, body: { event: 'REQUEST_CHANGES', body: '', comments: [{ path: 'lib/a.js', line: 2, body: 'hmm' }] } });
    expect(noReason.status, noReason.text).toBe(200);
    const run = await behaviorRun('review.submitted', 'memory-change-requests', (p) => p.review_id === noReason.json.id);
    expect(run.outcome).toBe('the change request gave no reason');
    const approve = await api(server, 'POST', path(`/pulls/${number}/reviews`), { token: reviewer.token, body: { event: 'APPROVE', body: 'Fine by me' } });
    expect(approve.status).toBe(200);
    const comment = await api(server, 'POST', path(`/pulls/${number}/reviews`), { token: reviewer.token, body: { event: 'COMMENT', body: 'Just a thought' } });
    // Wait for the dispatcher to have handled both events (another behavior ran on them), then check nothing was recorded.
    await waitFor(async () => {
      const events = await server.app.db.selectFrom('graph_events').select(['dispatched_at']).where('repository_id', '=', repoId).where('type', '=', 'review.submitted').execute();
      return events.every((e) => e.dispatched_at !== null);
    });
    for (const id of [noReason.json.id, approve.json.id, comment.json.id]) expect(await entriesBy('review', id)).toEqual([]);
  });

  it('a draft closed without merging becomes a failure: the closing comment as its reason, citing the lines it changed', async () => {
    await branchWith('bigger-cache', { 'lib/b.js': 'const cache = new Map();\nconst LIMIT = 100000;\nexport { cache, LIMIT };\n', 'lib/new.js': 'export const x = 1;\n' });
    const number = await openPull('bigger-cache', 'Grow the cache', true);
    const base = (await api(server, 'GET', path(`/pulls/${number}`), { token: owner.token })).json.base.sha as string;
    await api(server, 'POST', path(`/issues/${number}/comments`), { token: reviewer.token, body: { body: 'Looks odd' } });
    await api(server, 'POST', path(`/issues/${number}/comments`), { token: owner.token, body: { body: 'Dropping this: 100000 entries ran the workers out of memory.' } });
    const closed = await api(server, 'PATCH', path(`/pulls/${number}`), { token: owner.token, body: { state: 'closed' } });
    expect(closed.status, closed.text).toBe(200);
    const run = await behaviorRun('pull_request.closed', 'memory-closed-drafts', (p) => p.number === number);
    expect(run.status).toBe('succeeded');
    expect(run.outcome).toMatch(/^recorded failure #\d+ citing 1 range$/);
    const [entry] = await entriesBy('pull_request', number);
    expect(entry).toMatchObject({
      kind: 'failure',
      subject: 'Grow the cache',
      reason: 'Dropping this: 100000 entries ran the workers out of memory.',
      source: { type: 'pull_request', id: number },
      created_by_id: owner.id,
      // The base's line 2 (what the pull request replaced): it holds on main, where later runs start.
      citations: [{ path: 'lib/b.js', start_line: 2, end_line: 2, commit: base, content_hash: expect.stringMatching(/^[0-9a-f]{64}$/) }],
    });
    expect(entry!.fact).toContain('“Grow the cache”');
    expect(entry!.fact).toContain('closed without merging');

    // Delivered again (at-least-once), the behavior records nothing new.
    await server.app.db.deleteFrom('behavior_runs').where('event_id', '=', run.event_id).where('behavior_key', '=', 'memory-closed-drafts').execute();
    await server.app.db.updateTable('graph_events').set({ dispatched_at: null }).where('id', '=', run.event_id).execute();
    wakeDispatcher(server.app);
    const again = await behaviorRun('pull_request.closed', 'memory-closed-drafts', (p) => p.number === number);
    expect(again.outcome).toBe(`already recorded as memory entry #${entry!.id}`);
    expect(await entriesBy('pull_request', number)).toHaveLength(1);
  });

  it("an agent run's draft, closed by a person, becomes a failure that names the run", async () => {
    runner = await startInProcessRunner(server);
    const run = await runScripted(server, owner, `${owner.username}/src`, scriptPrompt('write lib/a.js\nexport const parse = (s) => s.split(/[-T]/);\nend\nsay rewrote parse'), { title: 'Rewrite parse' });
    expect(run.status).toBe('succeeded');
    const number = run.pull_request!.number;
    await api(server, 'POST', path(`/issues/${number}/comments`), { token: owner.token, body: { body: 'Rejected: splitting on T loses the time zone.' } });
    await api(server, 'PATCH', path(`/pulls/${number}`), { token: owner.token, body: { state: 'closed' } });
    const done = await behaviorRun('pull_request.closed', 'memory-closed-drafts', (p) => p.number === number);
    expect(done.status).toBe('succeeded');
    const [entry] = await entriesBy('pull_request', number);
    expect(entry).toMatchObject({ kind: 'failure', subject: 'Rewrite parse', reason: 'Rejected: splitting on T loses the time zone.', source: { label: `draft #${number} of run #${run.number}, closed by ${owner.username}` } });
    // It rewrote the whole file: the citation is the base's lines it replaced.
    expect(entry!.citations).toEqual([expect.objectContaining({ path: 'lib/a.js', start_line: 1, end_line: 3 })]);
  });

  it('a draft closed without a comment still records why it is known; ready pull requests and merges record nothing', async () => {
    await branchWith('silent-draft', { 'lib/a.js': A.replace('"-"', '"/"') });
    const silent = await openPull('silent-draft', 'Split on slashes', true);
    await api(server, 'PATCH', path(`/pulls/${silent}`), { token: reviewer.token, body: { state: 'closed' } });
    const run = await behaviorRun('pull_request.closed', 'memory-closed-drafts', (p) => p.number === silent);
    expect(run.outcome).toMatch(/\(no closing comment\)$/);
    const [entry] = await entriesBy('pull_request', silent);
    expect(entry!.reason).toBe(`${reviewer.username} closed it without a comment.`);

    await branchWith('ready', { 'README.md': '# Src!\n' });
    const ready = await openPull('ready', 'Not a draft');
    await api(server, 'PATCH', path(`/pulls/${ready}`), { token: owner.token, body: { state: 'closed' } });
    expect((await behaviorRun('pull_request.closed', 'memory-closed-drafts', (p) => p.number === ready)).outcome).toBe('not a draft');
    expect(await entriesBy('pull_request', ready)).toEqual([]);
  });

  it('a contradiction posts one notice on each open pull request that touches the cited files', async () => {
    await branchWith('touches-b', { 'lib/b.js': B.replace('100', '250') });
    const touching = await openPull('touches-b', 'Tune the cache');
    await branchWith('elsewhere', { 'README.md': '# Elsewhere\n' });
    const elsewhere = await openPull('elsewhere', 'Docs only');
    const repoRow = (await findRepositoryById(server.app.db, repoId))!;
    const mainSha = (await api(server, 'GET', path('/branches/main'), { token: owner.token })).json.commit.sha as string;
    const cite = await resolveCitations(repositoryGitDir(server.app, repoRow), mainSha, [{ path: 'lib/b.js', start_line: 2, end_line: 2 }]);
    const first = await recordMemoryEntry(server.app.db, repoId, { kind: 'claim', subject: 'cache limit', fact: 'The cache holds at most 100 entries', citations: cite, source: { type: 'person', id: owner.id }, created_by_id: owner.id }, now());
    const second = await recordMemoryEntry(server.app.db, repoId, { kind: 'claim', subject: 'Cache limit', fact: 'The cache is unbounded <img src=x onerror=alert(1)> [click](javascript:alert(1))', source: { type: 'run', id: null, label: 'agent run' } }, now());
    expect(second.contradicts.map((e) => e.id)).toEqual([first.entry.id]);
    wakeDispatcher(server.app);
    const run = await behaviorRun('memory.contradiction', 'memory-contradiction-notice', (p) => p.entry_id === second.entry.id);
    expect(run.status).toBe('succeeded');
    expect(run.outcome).toBe(`notified #${touching}`);

    const notices = (await comments(touching)).filter((c) => c.body.includes('Memory contradiction'));
    expect(notices).toHaveLength(1);
    const body = notices[0]!.body;
    expect(body).toContain('`lib/b.js`');
    expect(body).toContain(`/${owner.username}/src/memory/${first.entry.id})`);
    expect(body).toContain(`/${owner.username}/src/memory/${second.entry.id})`);
    expect(body).toContain('The cache holds at most 100 entries');
    // The other entry's text cannot add markup or links to the notice.
    expect(body).toContain('\\<img src=x onerror=alert\\(1\\)\\>');
    expect(body).not.toMatch(/[^\\]<img/);
    expect(body).not.toContain('](javascript:');
    expect((await comments(elsewhere)).filter((c) => c.body.includes('Memory contradiction'))).toEqual([]);
    // The pull request page renders the notice with the markup inert.
    const page = await (await fetch(`${server.url}/${owner.username}/src/pull/${touching}`)).text();
    expect(page).toContain('Memory contradiction');
    expect(page).not.toContain('<img src=x');
    expect(page).not.toContain('href="javascript:');

    // The same contradiction flagged again (an edit re-checks it): still one notice per pull request.
    await updateMemoryEntry(server.app.db, repoId, second.entry.id, { fact: 'The cache is unbounded, really' }, now());
    wakeDispatcher(server.app);
    await waitFor(async () => {
      const events = await server.app.db.selectFrom('graph_events').select(['id', 'dispatched_at']).where('repository_id', '=', repoId).where('type', '=', 'memory.contradiction').execute();
      return events.length >= 2 && events.every((e) => e.dispatched_at !== null);
    });
    expect((await comments(touching)).filter((c) => c.body.includes('Memory contradiction'))).toHaveLength(1);
    expect((await getMemoryEntry(server.app.db, repoId, first.entry.id))!.contradiction).toBe(true);
  });
});
