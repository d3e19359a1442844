import { createSession } from '../../src/services/sessions.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitCli, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { runCli } from '../helpers/cli.ts';
import { scriptPrompt as script, waitFor } from '../helpers/scriptedRuns.ts';
import { createRegistrationToken } from '../../src/services/runners.ts';

/**
 * Warm workspaces, server side (issue 13): the run payload (checkpoint prefix, set-up with its cache key,
 * from_snapshot, resume_session), the job token's hidden refs, the checkpoint and inventory routes, the
 * claim preference, forks from a step and best-of-N groups — driven through the real runner protocol
 * (two registered runners, no agent) and the real git client.
 */
const MANIFEST = '[workspace]\nsetup = "npm ci"\ncache_key_files = ["package-lock.json", "missing.lock"]\ntimeout = 120\n';
const PREFERENCE_MS = 1500;

interface Claimed {
  id: number;
  attempt: number;
  runner_id: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  payload: any;
}

describe.each(testDialects())('warm workspaces on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let stranger: TestUser;
  let work: { path: string; remove(): Promise<void> };
  let remote: string;
  const runners: { id: number; token: string }[] = [];
  const path = (p: string) => `/repos/${owner.username}/warm${p}`;

  async function runnerCall(token: string, method: string, p: string, body?: unknown) {
    const res = await fetch(`${server.url}/api/v1/runner${p}`, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null, text };
  }

  async function claim(i: number): Promise<Claimed | null> {
    const res = await runnerCall(runners[i]!.token, 'POST', '/claim?wait=0', {});
    if (res.status === 204) return null;
    expect(res.status, res.text).toBe(200);
    return res.json.job as Claimed;
  }

  async function startRun(body: Record<string, unknown> = {}) {
    const res = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script('say hi'), ...body } });
    expect(res.status, res.text).toBe(201);
    return res.json;
  }

  /** Commits `files` on top of `base` and pushes the commit to `ref` with `token` (a job token). */
  async function pushWith(token: string, base: string, files: Record<string, string>, ref: string) {
    await gitOk(work.path, ['checkout', '-q', '--detach', base]);
    const sha = await commitFiles(work.path, files, `change ${Object.keys(files).join(', ')}`);
    const push = await gitCli(work.path, ['push', authUrl(server.url, `${owner.username}/warm.git`, 'x', token), `${sha}:${ref}`]);
    return { sha, push };
  }

  beforeAll(async () => {
    server = await startTestServer(dialect, { GITOKU_RUNNER_PREFERENCE_MS: String(PREFERENCE_MS), GITOKU_JOB_LEASE_MS: '60000' });
    owner = await createTestUser(server);
    stranger = await createTestUser(server);
    expect((await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'warm', private: true } })).status).toBe(201);
    work = await tempDir();
    await initWorkRepo(work.path, { 'gitoku.toml': MANIFEST, 'package-lock.json': '{"lockfileVersion":3}\n', 'README.md': '# warm\n' });
    remote = authUrl(server.url, `${owner.username}/warm.git`, owner.username, owner.token);
    await gitOk(work.path, ['push', '-q', remote, 'main']);
    for (const name of ['runner-a', 'runner-b']) {
      const registration = await createRegistrationToken(server.app, null);
      const res = await fetch(`${server.url}/api/v1/runner/register`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token: registration, name }) });
      const json = (await res.json()) as { id: number; token: string };
      runners.push({ id: json.id, token: json.token });
    }
  });

  afterAll(async () => {
    await work?.remove();
    await server?.close();
  });

  // State shared by the steps below (they build on each other, in order).
  let first: Claimed;
  let firstRun: { number: number; compare_branch: string; source_commit: string };
  const steps: Record<number, string> = {};

  it('claims a run with the checkpoint prefix, the [workspace] set-up and its cache key, and the runner id', async () => {
    firstRun = await startRun();
    first = (await claim(0))!;
    expect(first.runner_id).toBe(runners[0]!.id);
    const lockBlob = (await gitOk(work.path, ['rev-parse', 'main:package-lock.json'])).trim();
    const key = createHash('sha256').update('npm ci').update(`\0missing.lock\0missing`).update(`\0package-lock.json\0${lockBlob}`).digest('hex');
    expect(first.payload).toMatchObject({
      number: firstRun.number,
      checkpoint_ref_prefix: `refs/gitoku/runs/${firstRun.number}/steps/`,
      from_snapshot: null,
      setup: { command: 'npm ci', cache_key: key, timeout_ms: 120_000, snapshot: null },
      resume_session: null,
      forked_from_step: null,
    });
  });

  it('lets the job token push its compare branch and step refs, and nothing else', async () => {
    const token = first.payload.token as string;
    const prefix = first.payload.checkpoint_ref_prefix as string;
    const base = firstRun.source_commit;
    const s0 = await pushWith(token, base, { 'node_modules.txt': 'installed\n' }, `${prefix}0`);
    expect(s0.push.code, s0.push.stderr).toBe(0);
    steps[0] = s0.sha;
    const s1 = await pushWith(token, s0.sha, { 'a.txt': 'step one\n' }, `${prefix}1`);
    expect(s1.push.code, s1.push.stderr).toBe(0);
    steps[1] = s1.sha;
    expect((await pushWith(token, s1.sha, { 'b.txt': 'b\n' }, `refs/heads/${firstRun.compare_branch}`)).push.code).toBe(0);
    for (const ref of [`refs/gitoku/runs/${firstRun.number + 50}/steps/0`, `${prefix}x`, `${prefix}1/evil`, `${prefix}`, 'refs/gitoku/runs/1', 'refs/heads/main', 'refs/tags/v1', `refs/heads/${prefix.slice(5)}0`]) {
      const refused = await gitCli(work.path, ['push', authUrl(server.url, `${owner.username}/warm.git`, 'x', token), `${s1.sha}:${ref}`]);
      expect(refused.code, `${ref} should be refused`).not.toBe(0);
      expect(refused.stderr).toMatch(/may only push|refused|invalid|not a valid/i);
    }
    const refs = await gitOk(work.path, ['ls-remote', remote]);
    expect(refs).toContain(`${s0.sha}\t${prefix}0`);
    expect(refs).not.toContain(`refs/gitoku/runs/${firstRun.number + 50}/`);
  });

  it('keeps hidden refs out of branch lists and out of push behaviors', async () => {
    const branches = await api(server, 'GET', path('/branches'), { token: owner.token });
    expect(branches.status).toBe(200);
    expect(branches.json.map((b: { name: string }) => b.name).some((n: string) => n.includes('gitoku/runs/'))).toBe(false);
    const subject = `${first.payload.checkpoint_ref_prefix}0`;
    const event = await waitFor(() => server.app.db.selectFrom('graph_events').selectAll().where('type', '=', 'ref.updated').where('subject', '=', subject).where('dispatched_at', 'is not', null).executeTakeFirst());
    const ran = await server.app.db.selectFrom('behavior_runs').selectAll().where('event_id', '=', event.id).execute();
    expect(ran.map((r) => r.behavior_key)).toEqual([]);
    const page = await fetch(`${server.url}/${owner.username}/warm/branches`, { headers: { Cookie: `gitoku_session=${await createSession(server.app, owner.id)}` } });
    expect(await page.text()).not.toContain('runs/1/steps');
  });

  it('records checkpoints only from the lease holder at the current attempt; a retry of a step replaces it', async () => {
    const job = first.id;
    const body = { attempt: first.attempt, step: 0, trace_event_id: null, commit_sha: steps[0], final: false, snapshot: { id: 'snap-setup', mode: 'overlay', bytes: 1234 } };
    expect((await runnerCall(runners[1]!.token, 'POST', `/jobs/${job}/checkpoints`, body)).status).toBe(409);
    expect((await runnerCall(runners[0]!.token, 'POST', `/jobs/${job}/checkpoints`, { ...body, attempt: first.attempt + 1 })).status).toBe(409);
    const unknown = await runnerCall(runners[0]!.token, 'POST', `/jobs/${job}/checkpoints`, { ...body, commit_sha: 'f'.repeat(40) });
    expect(unknown.status).toBe(422);
    expect(unknown.json.message).toMatch(/not in the repository/);
    expect((await runnerCall(runners[0]!.token, 'POST', `/jobs/${job}/checkpoints`, { ...body, step: -1 })).status).toBe(422);
    // The events the runner streamed before the checkpoint: the checkpoint points at the last one.
    expect((await runnerCall(runners[0]!.token, 'POST', `/jobs/${job}/events`, { attempt: first.attempt, events: [{ kind: 'command', data: { command: 'npm ci', exit_code: 0 } }] })).status).toBe(200);
    const ok = await runnerCall(runners[0]!.token, 'POST', `/jobs/${job}/checkpoints`, { ...body, setup_cache_key: first.payload.setup.cache_key });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.json).toEqual({ ref: `${first.payload.checkpoint_ref_prefix}0` });
    // Step 1, first with a wrong commit, then again (a retry of the step replaces it).
    expect((await runnerCall(runners[0]!.token, 'POST', `/jobs/${job}/events`, { attempt: first.attempt, events: [{ kind: 'file_edit', data: { action: 'write', path: 'a.txt' } }] })).status).toBe(200);
    expect((await runnerCall(runners[0]!.token, 'POST', `/jobs/${job}/checkpoints`, { ...body, step: 1, commit_sha: steps[0], snapshot: { id: 'snap-old', mode: 'copy', bytes: 1 } })).status).toBe(201);
    expect((await runnerCall(runners[0]!.token, 'POST', `/jobs/${job}/checkpoints`, { ...body, step: 1, commit_sha: steps[1], snapshot: { id: 'snap-step1', mode: 'overlay', bytes: 99 } })).status).toBe(201);
    const list = await api(server, 'GET', path(`/runs/${firstRun.number}/checkpoints`), { token: owner.token });
    expect(list.status).toBe(200);
    expect(list.json.map((c: { step: number; commit_sha: string }) => [c.step, c.commit_sha])).toEqual([
      [0, steps[0]],
      [1, steps[1]],
    ]);
    const events = await server.app.db.selectFrom('run_events').select('id').orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(list.json[1]).toMatchObject({ trace_event_id: events.id, snapshot: { id: 'snap-step1', mode: 'overlay', bytes: 99, runner_id: runners[0]!.id, available: false } });
    expect(list.json[0].trace_event_id).toBeLessThan(events.id);
  });

  it('replaces a runner inventory, validating it', async () => {
    const at = new Date().toISOString();
    const bad = await runnerCall(runners[0]!.token, 'PUT', '/snapshots', { snapshots: [{ id: '../etc', mode: 'overlay', bytes: 1, parent: null, created_at: at, last_used_at: at }] });
    expect(bad.status).toBe(422);
    const snaps = ['snap-setup', 'snap-step1', 'snap-gone'].map((id) => ({ id, mode: 'overlay', bytes: 10, parent: null, created_at: at, last_used_at: at }));
    expect((await runnerCall(runners[0]!.token, 'PUT', '/snapshots', { snapshots: snaps })).status).toBe(204);
    expect((await runnerCall(runners[0]!.token, 'PUT', '/snapshots', { snapshots: snaps.slice(0, 2) })).status).toBe(204);
    const held = await server.app.db.selectFrom('runner_snapshots').select('snapshot_id').where('runner_id', '=', runners[0]!.id).orderBy('snapshot_id').execute();
    expect(held.map((h) => h.snapshot_id)).toEqual(['snap-setup', 'snap-step1']);
    const list = await api(server, 'GET', path(`/runs/${firstRun.number}/checkpoints`), { token: owner.token });
    expect(list.json.map((c: { snapshot: { available: boolean } }) => c.snapshot.available)).toEqual([true, true]);
  });

  it('stores how the workspace started and the session at completion', async () => {
    const done = await runnerCall(runners[0]!.token, 'POST', `/jobs/${first.id}/complete`, { result: { commit_sha: steps[1], changed: true, summary: 'did it', files: ['a.txt'], session_id: 'session-1', workspace: 'cold' } });
    expect(done.status, done.text).toBe(200);
    const run = await api(server, 'GET', path(`/runs/${firstRun.number}`), { token: owner.token });
    expect(run.json).toMatchObject({ status: 'succeeded', workspace_start: 'cold', session_id: 'session-1' });
  });

  it('forks from a step: 422 for an unknown step, 404 for an unreadable run, default the last step, lineage edge', async () => {
    const unknown = await api(server, 'POST', path(`/runs/${firstRun.number}/forks`), { token: owner.token, body: { step: 7 } });
    expect(unknown.status).toBe(422);
    expect(unknown.json.errors[0].field).toBe('step');
    expect(unknown.json.message).toMatch(/no step 7 \(steps: 0, 1\)/);
    const hidden = await api(server, 'POST', path(`/runs/${firstRun.number}/forks`), { token: stranger.token, body: {} });
    expect(hidden.status).toBe(404);
    expect(hidden.json).toEqual({ message: expect.any(String) });
    const missing = await api(server, 'POST', path('/runs/999/forks'), { token: owner.token, body: {} });
    expect(missing.status).toBe(404);

    const fork = await api(server, 'POST', path(`/runs/${firstRun.number}/forks`), { token: owner.token, body: { prompt: script('say again') } });
    expect(fork.status, fork.text).toBe(201);
    expect(fork.json).toMatchObject({ forked_from: { number: firstRun.number, step: 1 }, forked_from_step: 1, source_commit: steps[1], status: 'queued' });
    const job = await server.app.db.selectFrom('jobs').selectAll().where('id', '=', (await server.app.db.selectFrom('prompt_pull_request_jobs').select('job_id').where('id', '=', fork.json.id).executeTakeFirstOrThrow()).job_id!).executeTakeFirstOrThrow();
    expect(job.preferred_runner_id).toBe(runners[0]!.id);
    const edge = await server.app.db
      .selectFrom('graph_edges')
      .innerJoin('graph_nodes as s', 's.id', 'graph_edges.src_id')
      .innerJoin('graph_nodes as d', 'd.id', 'graph_edges.dst_id')
      .select(['graph_edges.data', 's.key as src', 'd.key as dst'])
      .where('graph_edges.kind', '=', 'derived_from')
      .where('s.kind', '=', 'run')
      .where('s.key', '=', String(fork.json.id))
      .executeTakeFirstOrThrow();
    expect(edge.dst).toBe(String(first.payload.run_id));
    expect(JSON.parse(edge.data)).toMatchObject({ step: 1, commit_sha: steps[1] });

    // The preferred runner (it holds the snapshot) gets it; the other one does not, during the window.
    expect(await claim(1)).toBeNull();
    const warm = (await claim(0))!;
    expect(warm.payload).toMatchObject({
      number: fork.json.number,
      from_snapshot: { id: 'snap-step1', runner_id: runners[0]!.id },
      resume_session: { driver: 'script', session_id: 'session-1' },
      forked_from_step: 1,
      setup: { command: 'npm ci', snapshot: { id: 'snap-setup', runner_id: runners[0]!.id } },
      checkpoint_ref_prefix: `refs/gitoku/runs/${fork.json.number}/steps/`,
    });
  });

  it('hands a preferred job to another runner only after the window; with another driver, no session resume', async () => {
    const fork = await api(server, 'POST', path(`/runs/${firstRun.number}/forks`), { token: owner.token, body: { step: 0, prompt: script('say zero') } });
    expect(fork.status, fork.text).toBe(201);
    const queuedAt = Date.now();
    expect(await claim(1)).toBeNull();
    const other = await waitFor(() => claim(1), 10_000);
    expect(Date.now() - queuedAt).toBeGreaterThanOrEqual(PREFERENCE_MS - 200);
    expect(other.runner_id).toBe(runners[1]!.id);
    // The payload still names runner A's snapshot: runner B sees the runner id and boots cold.
    expect(other.payload).toMatchObject({ number: fork.json.number, from_snapshot: { id: 'snap-setup', runner_id: runners[0]!.id }, forked_from_step: 0 });
  });

  it('boots cold when the runner holding the snapshot is offline', async () => {
    await server.app.db.updateTable('runners').set({ last_seen_at: new Date(Date.now() - 10 * 60_000).toISOString() }).where('id', '=', runners[0]!.id).execute();
    const fork = await api(server, 'POST', path(`/runs/${firstRun.number}/forks`), { token: owner.token, body: { step: 1 } });
    expect(fork.status).toBe(201);
    const job = (await claim(1))!;
    expect(job.payload).toMatchObject({ number: fork.json.number, from_snapshot: null, setup: { snapshot: null }, forked_from_step: 1 });
  });

  it('runs a task N ways, ranks the attempts by checks, review and diff size, and keeps one', async () => {
    expect((await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script('say x'), attempts: 9 } })).status).toBe(422);
    expect((await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script('say x'), attempts: 0 } })).status).toBe(422);
    expect((await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script('say x'), variants: [] } })).status).toBe(422);
    const created = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script('say best of three'), title: 'Best of three', attempts: 3 } });
    expect(created.status, created.text).toBe(201);
    const group = created.json;
    expect(group.attempts).toHaveLength(3);
    expect(group.html_url).toMatch(new RegExp(`/${owner.username}/warm/runs/groups/${group.id}$`));
    const numbers: number[] = group.attempts.map((a: { run: { number: number } }) => a.run.number).sort((x: number, y: number) => x - y);
    const branches = new Set(group.attempts.map((a: { run: { compare_branch: string } }) => a.run.compare_branch));
    expect(branches.size).toBe(3);
    // Each attempt: claimed and completed with its own change; the checks differ.
    const outcome: Record<number, { files: Record<string, string>; check: 'success' | 'failure' }> = {
      [numbers[0]!]: { files: { 'x.txt': 'first\n' }, check: 'failure' },
      [numbers[1]!]: { files: { 'x.txt': 'second\n' }, check: 'success' },
      [numbers[2]!]: { files: { 'x.txt': 'x\ny\nz\n', 'w.txt': 'w\n' }, check: 'success' },
    };
    for (let i = 0; i < 3; i++) {
      const job = (await claim(1))!;
      const want = outcome[job.payload.number]!;
      const { sha, push } = await pushWith(job.payload.token, job.payload.source_commit, want.files, `refs/heads/${job.payload.compare_branch}`);
      expect(push.code, push.stderr).toBe(0);
      expect((await runnerCall(runners[1]!.token, 'POST', `/jobs/${job.id}/complete`, { result: { commit_sha: sha, changed: true, summary: 'ok', files: Object.keys(want.files), usage: { total_tokens: 100 + i } } })).status).toBe(200);
      expect((await api(server, 'POST', path(`/statuses/${sha}`), { token: owner.token, body: { state: want.check, context: 'ci/test' } })).status).toBe(201);
    }
    const compared = await api(server, 'GET', path(`/run-groups/${group.id}`), { token: owner.token });
    expect(compared.status).toBe(200);
    const order = compared.json.attempts.map((a: { run: { number: number } }) => a.run.number);
    expect(order).toEqual([numbers[1], numbers[2], numbers[0]]);
    expect(compared.json.attempts[0]).toMatchObject({ rank: 1, checks: { state: 'success' }, diff: { files: 1, additions: 1, deletions: 0 }, tokens: expect.any(Number), duration_ms: expect.any(Number) });
    expect(compared.json.attempts[0].reason).toMatch(/smaller diff/);
    expect(compared.json.attempts[1].reason).toMatch(/checks passed/);
    expect(compared.json.ranking_reason).toContain(`#${numbers[1]} ranks first`);

    expect((await api(server, 'POST', path(`/run-groups/${group.id}/keep`), { token: owner.token, body: { run: 999 } })).status).toBe(422);
    expect((await api(server, 'POST', path(`/run-groups/${group.id}/keep`), { token: stranger.token, body: { run: numbers[1] } })).status).toBe(404);
    const kept = await api(server, 'POST', path(`/run-groups/${group.id}/keep`), { token: owner.token, body: { run: numbers[1] } });
    expect(kept.status, kept.text).toBe(200);
    expect(kept.json.kept_run).toBe(numbers[1]);
    const prs = Object.fromEntries(kept.json.attempts.map((a: { run: { number: number; pull_request: { state: string; draft: boolean } } }) => [a.run.number, a.run.pull_request]));
    expect(prs[numbers[1]!]).toMatchObject({ state: 'open', draft: false });
    expect(prs[numbers[0]!]).toMatchObject({ state: 'closed' });
    expect(prs[numbers[2]!]).toMatchObject({ state: 'closed' });
    const refs = await gitOk(work.path, ['ls-remote', remote]);
    for (const b of branches) expect(refs).toContain(`refs/heads/${b}`);
  });

  it('shows each attempt\'s diff on the group page, and keeping one cancels the attempts still at work', async () => {
    const created = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script('say two ways'), title: 'Two ways', attempts: 2 } });
    expect(created.status, created.text).toBe(201);
    const [a, b] = (created.json.attempts as { run: { number: number } }[]).map((x) => x.run.number).sort((x, y) => x - y);
    let done: number | null = null;
    for (let i = 0; i < 2 && done === null; i++) {
      const job = (await claim(1))!;
      if (job.payload.number !== a) continue;
      const { sha } = await pushWith(job.payload.token, job.payload.source_commit, { 'kept-way.txt': 'the kept way\n' }, `refs/heads/${job.payload.compare_branch}`);
      expect((await runnerCall(runners[1]!.token, 'POST', `/jobs/${job.id}/complete`, { result: { commit_sha: sha, changed: true, summary: 'ok', files: ['kept-way.txt'] } })).status).toBe(200);
      done = job.payload.number;
    }
    expect(done).toBe(a);
    const page = await fetch(`${server.url}/${owner.username}/warm/runs/groups/${created.json.id}`, { headers: { Cookie: `gitoku_session=${await createSession(server.app, owner.id)}` } });
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain('id="run-group-diffs"');
    expect(html).toContain('kept-way.txt');
    expect(html).toContain('the kept way');

    const kept = await api(server, 'POST', path(`/run-groups/${created.json.id}/keep`), { token: owner.token, body: { run: a } });
    expect(kept.status, kept.text).toBe(200);
    const other = await api(server, 'GET', path(`/runs/${b}`), { token: owner.token });
    expect(other.json.status).toBe('cancelled');
    expect(other.json.pull_request).toMatchObject({ state: 'closed' });
  });

  it('lists a run\'s family: its first ancestor and every fork, in tree order, with their steps', async () => {
    const child = await api(server, 'POST', path(`/runs/${firstRun.number}/forks`), { token: owner.token, body: { step: 0, prompt: script('say child') } });
    expect(child.status, child.text).toBe(201);
    const grandchild = await api(server, 'POST', path(`/runs/${child.json.number}/forks`), { token: owner.token, body: { prompt: script('say grandchild') } });
    expect(grandchild.status, grandchild.text).toBe(201);
    const lineage = await api(server, 'GET', path(`/runs/${grandchild.json.number}/lineage`), { token: owner.token });
    expect(lineage.status, lineage.text).toBe(200);
    const family = lineage.json as { number: number; depth: number; forked_from: number | null; forked_from_step: number | null; current: boolean }[];
    expect(family[0]).toMatchObject({ number: firstRun.number, depth: 0, forked_from: null });
    const childAt = family.findIndex((n) => n.number === child.json.number);
    expect(family[childAt]).toMatchObject({ depth: 1, forked_from: firstRun.number, forked_from_step: 0 });
    expect(family[childAt + 1]).toMatchObject({ number: grandchild.json.number, depth: 2, forked_from: child.json.number, current: true });
    expect(family.filter((n) => n.current)).toHaveLength(1);
    expect((await api(server, 'GET', path(`/runs/${grandchild.json.number}/lineage`), { token: stranger.token })).status).toBe(404);
    const page = await fetch(`${server.url}/${owner.username}/warm/runs/${child.json.number}`, { headers: { Cookie: `gitoku_session=${await createSession(server.app, owner.id)}` } });
    const html = await page.text();
    expect(html).toContain('id="run-lineage"');
    expect(html).toMatch(new RegExp(`data-run="${grandchild.json.number}"`));
  });

  it('CLI: gitoku run fork and gitoku run --attempts', async () => {
    const env = { GITOKU_URL: server.url, GITOKU_TOKEN: owner.token };
    const forked = await runCli(['run', 'fork', `${owner.username}/warm`, String(firstRun.number), '--step', '0', '--prompt', script('say from cli')], env);
    expect(forked.code, forked.stderr).toBe(0);
    expect(forked.stdout).toMatch(new RegExp(`Forked run #${firstRun.number} at step 0 as run #\\d+`));
    const json = await runCli(['run', 'fork', `${owner.username}/warm`, String(firstRun.number), '--json'], env);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ forked_from: { number: firstRun.number, step: 1 } });
    const bad = await runCli(['run', 'fork', `${owner.username}/warm`, String(firstRun.number), '--step', '42'], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/no step 42/);

    const group = await runCli(['run', `${owner.username}/warm`, script('say cli group'), '--attempts', '2'], env);
    expect(group.code, group.stderr).toBe(0);
    expect(group.stdout).toMatch(/Started 2 attempts/);
    expect(group.stdout).toMatch(new RegExp(`/${owner.username}/warm/runs/groups/\\d+`));
    expect(group.stdout.match(/run #\d+/g)?.length).toBeGreaterThanOrEqual(2);
    const tooMany = await runCli(['run', `${owner.username}/warm`, script('say no'), '--attempts', '9'], env);
    expect(tooMany.code).not.toBe(0);
    expect(tooMany.stderr).toMatch(/attempts/);
  });
});
