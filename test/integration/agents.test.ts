import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { commitFiles, gitOk } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { runCli } from '../helpers/cli.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import { createPushedRepo, waitFor } from '../helpers/scriptedRuns.ts';
import type { JobRunner } from '../../src/runner/runner.ts';
import { reviewBot } from '../../src/services/reviews.ts';
import { createConversationComment } from '../../src/services/pullComments.ts';
import { findRepository, repositoryGitDir, setCollaborator } from '../../src/services/repositories.ts';

const MANIFEST = `[workflow.noop]
events = ["manual"]
steps = [{ run = "true" }]

[agent.reviewer]
name = "Reviewer"
description = "Reviews pull requests"
driver = "script"
events = ["pull_request.opened", "pull_request.synchronize"]
branches = ["main"]
instructions_file = ".gitoku/agents/reviewer.md"
`;

const REVIEWER = 'You review pull requests and leave notes in REVIEW.md.\n\n```gitoku-script\nwrite REVIEW.md\nReviewed by the reviewer agent.\nend\nsay reviewed\n```\n';
const DOCS = '---\nname: Docs\ndescription: Keeps the README true\ntools: ["edit", "search"]\nmodel: GPT-4.1\n---\nYou keep the README true.\n\n```gitoku-script\nappend README.md\nUpdated by the docs agent.\nend\nsay README updated\n```\n';
const AGENTS_MD = '# Repository rules\n\nAlways write British English.\n';

describe.each(testDialects())('repository agents on %s', { timeout: 120_000 }, (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let reader: TestUser;
  let runner: JobRunner;
  let work: { path: string; remove(): Promise<void> };
  let remote: string;
  const repoPath = () => `${owner.username}/agents`;
  const path = (p: string) => `/repos/${repoPath()}${p}`;

  async function finished(number: number) {
    return waitFor(async () => {
      const r = await api(server, 'GET', path(`/runs/${number}`), { token: owner.token });
      return ['succeeded', 'failed', 'cancelled'].includes(r.json.status) ? r.json : null;
    });
  }

  async function agentRuns(key: string) {
    return server.app.db.selectFrom('prompt_pull_request_jobs').selectAll().where('agent_key', '=', key).orderBy('id').execute();
  }

  async function pushBranch(branch: string, files: Record<string, string>, from = 'main'): Promise<string> {
    await gitOk(work.path, ['fetch', '-q', remote, '+refs/heads/*:refs/remotes/origin/*']);
    await gitOk(work.path, ['checkout', '-q', '-B', branch, `origin/${from}`]);
    const sha = await commitFiles(work.path, files, `change ${branch}`);
    await gitOk(work.path, ['push', '-q', '-f', remote, `${branch}:${branch}`]);
    return sha;
  }

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    reader = await createTestUser(server);
    ({ work, remote } = await createPushedRepo(server, owner, 'agents', {
      'README.md': '# Agents\n',
      'AGENTS.md': AGENTS_MD,
      'gitoku.toml': MANIFEST,
      '.gitoku/agents/reviewer.md': REVIEWER,
      '.github/agents/docs.agent.md': DOCS,
      '.claude/agents/docs.md': '---\nname: docs\n---\nShadowed by the Copilot file.\n',
      '.claude/agents/tester.md': '---\nname: tester\ndescription: Writes tests\nmodel: inherit\n---\nWrite tests.\n',
    }));
    const repo = (await findRepository(server.app.db, owner.username, 'agents'))!;
    await setCollaborator(server.app, repo, reader.username, 'read');
    runner = await startInProcessRunner(server, 2);
  });

  afterAll(async () => {
    await runner?.stop();
    await work?.remove();
    await server?.close();
  });

  it('lists the agents of all three formats with precedence, AGENTS.md and their sources', async () => {
    const res = await api(server, 'GET', path('/agents'), { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.json.agents.map((a: { key: string; source: string }) => [a.key, a.source])).toEqual([
      ['docs', '.github/agents/docs.agent.md'],
      ['reviewer', 'gitoku.toml'],
      ['tester', '.claude/agents/tester.md'],
    ]);
    expect(res.json.shadowed).toEqual([{ key: 'docs', source: '.claude/agents/docs.md', by: '.github/agents/docs.agent.md' }]);
    expect(res.json.repository_instructions.path).toBe('AGENTS.md');
    const reviewer = res.json.agents.find((a: { key: string }) => a.key === 'reviewer');
    expect(reviewer).toMatchObject({ instructions_path: '.gitoku/agents/reviewer.md', events: ['pull_request.opened', 'pull_request.synchronized'], driver: 'script', instructions: REVIEWER });
    expect(res.json.problems).toEqual([]);
  });

  it('launches a run with an agent: AGENTS.md, then the instructions, then the task; the definition is recorded; lineage in the graph', async () => {
    const before = await agentRuns('docs');
    const res = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: 'update the README', agent: 'docs' } });
    expect(res.status, res.text).toBe(201);
    expect(res.json.agent_key).toBe('docs');
    expect(res.json.driver).toBe('script'); // GPT-4.1 is not served here: the repository default, and the run says so
    const run = await finished(res.json.number);
    expect(run.status, run.error).toBe('succeeded');
    const prompt: string = run.rendered_prompt;
    const [rules, instructions, task] = ['Always write British English.', 'You keep the README true.', '## Task: update the README'].map((s) => prompt.indexOf(s));
    expect(rules).toBeGreaterThan(0);
    expect(instructions).toBeGreaterThan(rules!);
    expect(task).toBeGreaterThan(instructions!);
    const blob = (await gitOk(work.path, ['rev-parse', 'main:.github/agents/docs.agent.md'])).trim();
    const commit = (await gitOk(work.path, ['log', '-1', '--format=%H', 'main', '--', '.github/agents/docs.agent.md'])).trim();
    expect(run.agent.definition).toMatchObject({ source: '.github/agents/docs.agent.md', blob_sha: blob, commit_sha: commit, instructions_blob_sha: blob, driver_note: expect.stringContaining('"GPT-4.1" is not served') });
    expect(run.agent.repository_instructions.blob_sha).toBe((await gitOk(work.path, ['rev-parse', 'main:AGENTS.md'])).trim());
    await gitOk(work.path, ['fetch', '-q', remote, run.compare_branch]);
    expect(await gitOk(work.path, ['show', 'FETCH_HEAD:README.md'])).toContain('Updated by the docs agent.');
    expect(await agentRuns('docs')).toHaveLength(before.length + 1);

    const edge = await waitFor(() =>
      server.app.db
        .selectFrom('graph_edges')
        .innerJoin('graph_nodes as src', 'src.id', 'graph_edges.src_id')
        .innerJoin('graph_nodes as dst', 'dst.id', 'graph_edges.dst_id')
        .select(['src.kind as src_kind', 'src.key as src_key', 'dst.kind as dst_kind', 'dst.key as dst_key', 'graph_edges.data'])
        .where('graph_edges.kind', '=', 'produced_by')
        .where('src.key', '=', String(run.id))
        .where('dst.kind', '=', 'agent')
        .executeTakeFirst(),
    );
    expect(edge).toMatchObject({ src_kind: 'run', dst_kind: 'agent', dst_key: 'docs' });
    expect(JSON.parse(edge.data)).toMatchObject({ blob_sha: blob, commit_sha: commit });

    // A fork keeps the agent, resolved again at the fork's source (the parent's result commit).
    const fork = await api(server, 'POST', path(`/runs/${run.number}/forks`), { token: owner.token, body: {} });
    expect(fork.status, fork.text).toBe(201);
    const forked = await finished(fork.json.number);
    expect(forked.agent_key).toBe('docs');
    expect(forked.agent.resolved_at).toBe(run.commit_sha);
    expect(forked.rendered_prompt).toContain('You keep the README true.');

    // A run without an agent still gets AGENTS.md.
    const plain = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: 'Plain.\n\n```gitoku-script\nsay hi\n```\n' } });
    expect(plain.json.agent_key).toBeNull();
    expect((await finished(plain.json.number)).rendered_prompt).toContain('Always write British English.');
  });

  it('refuses unknown agents and broken definitions with clear errors, and starts nothing', async () => {
    const count = async () => (await server.app.db.selectFrom('prompt_pull_request_jobs').select('id').execute()).length;
    const before = await count();
    const unknown = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: 'x', agent: 'nope' } });
    expect(unknown.status).toBe(422);
    expect(unknown.json.message).toContain('unknown agent "nope" at branch main (defined: docs, reviewer, tester)');

    const bad = await pushBranch('bad-agents', {
      'gitoku.toml': `${MANIFEST}\n[agent.missing]\ninstructions_file = ".gitoku/agents/missing.md"\n\n[agent.big]\ninstructions_file = "big.md"\n\n[agent.bin]\ninstructions_file = "bin.md"\n\n[agent.link]\ninstructions_file = "link.md"\n`,
      'big.md': 'x'.repeat(70 * 1024),
      'bin.md': 'a\0b',
      '.github/agents/notyaml.agent.md': '---\nname: x\nnot yaml at all\n---\nbody\n',
    });
    // A symbolic link pointing out of the repository, as instructions_file.
    const target = execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: work.path, input: '../../../etc/passwd' }).toString().trim();
    await gitOk(work.path, ['update-index', '--add', '--cacheinfo', `120000,${target},link.md`]);
    await gitOk(work.path, ['commit', '-q', '-m', 'symlink']);
    await gitOk(work.path, ['push', '-q', remote, 'bad-agents:bad-agents']);
    const head = (await gitOk(work.path, ['rev-parse', 'HEAD'])).trim();
    expect(head).not.toBe(bad);

    const listed = await api(server, 'GET', path('/agents?ref=bad-agents'), { token: owner.token });
    const messages = listed.json.problems.flatMap((p: { messages: string[] }) => p.messages).join('\n');
    expect(messages).toMatch(/gitoku\.toml:\d+ \[agent\.missing\.instructions_file\]: instructions file "\.gitoku\/agents\/missing\.md" does not exist/);
    expect(messages).toMatch(/\[agent\.big\.instructions_file\]: instructions file "big\.md" is too large/);
    expect(messages).toMatch(/\[agent\.bin\.instructions_file\]: instructions file "bin\.md" is a binary file/);
    expect(messages).toMatch(/\[agent\.link\.instructions_file\]: instructions file "link\.md" is a symbolic link/);
    expect(messages).toContain('.github/agents/notyaml.agent.md:3: front matter is not valid YAML');
    expect(listed.json.agents.map((a: { key: string }) => a.key)).toEqual(['docs', 'reviewer', 'tester']);

    const broken = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: 'x', agent: 'missing', source_branch: 'bad-agents' } });
    expect(broken.status).toBe(422);
    expect(broken.json.message).toMatch(/agent "missing" at branch bad-agents has problems: gitoku\.toml:\d+ \[agent\.missing\.instructions_file\]/);
    expect(await count()).toBe(before);

    // The push was accepted and reported as a failed gitoku.toml status naming file, line and key.
    const status = await waitFor(async () => {
      const r = await api(server, 'GET', path(`/commits/${head}/status`));
      return r.json.statuses.find((s: { context: string }) => s.context === 'gitoku.toml') ?? null;
    });
    expect(status.state).toBe('failure');
    expect(status.description).toMatch(/gitoku\.toml:\d+ \[agent\.missing\.instructions_file\]/);
  });

  it('routes a pull request to reviewer once per (agent, event, commit), never on runs\' own pull requests', async () => {
    await pushBranch('feature/one', { 'src/one.txt': 'one\n' });
    const pr = await api(server, 'POST', path('/pulls'), { token: owner.token, body: { title: 'Feature one', head: 'feature/one', base: 'main' } });
    expect(pr.status).toBe(201);
    const run = await waitFor(async () => (await agentRuns('reviewer')).find((r) => r.base_branch === 'feature/one'));
    expect(run).toMatchObject({ source_branch: 'feature/one', source_commit: pr.json.head.sha, created_by_id: owner.id });
    const done = await finished(run.number);
    expect(done.status, done.error).toBe('succeeded');
    expect(done.rendered_prompt).toContain('You review pull requests and leave notes in REVIEW.md.');
    expect(done.rendered_prompt).toContain('Always write British English.');
    expect(done.rendered_prompt).toMatch(/<untrusted-data id="[0-9a-f]{32}" source="pull request title">\nFeature one\n/);
    // The child pull request goes into the PR's branch.
    const child = await api(server, 'GET', path(`/pulls/${done.pull_request.number}`));
    expect(child.json.base.ref).toBe('feature/one');

    // Redeliver the opened event: the dedup record keeps it to one run.
    const opened = await server.app.db.selectFrom('graph_events').selectAll().where('type', '=', 'pull_request.opened').where('subject', '=', `pull/${pr.json.number}`).executeTakeFirstOrThrow();
    await server.app.db.deleteFrom('behavior_runs').where('event_id', '=', opened.id).execute();
    await server.app.db.updateTable('graph_events').set({ dispatched_at: null, lease_owner: null, lease_expires_at: null }).where('id', '=', opened.id).execute();
    server.app.signals.emit('events');
    await waitFor(async () => (await server.app.db.selectFrom('graph_events').select('dispatched_at').where('id', '=', opened.id).executeTakeFirstOrThrow()).dispatched_at);
    const behavior = await server.app.db.selectFrom('behavior_runs').selectAll().where('event_id', '=', opened.id).where('behavior_key', '=', 'agent-routing').executeTakeFirstOrThrow();
    expect(behavior.outcome).toContain('reviewer already ran for pull_request.opened');
    expect((await agentRuns('reviewer')).filter((r) => r.base_branch === 'feature/one')).toHaveLength(1);

    // A push to the PR's branch: synchronize, at the new commit.
    const second = await pushBranch('feature/one', { 'src/two.txt': 'two\n' }, 'feature/one');
    const again = await waitFor(async () => (await agentRuns('reviewer')).find((r) => r.source_commit === second));
    expect(again.base_branch).toBe('feature/one');
    // The child runs' own pull requests (opened, synchronized) never started a reviewer.
    await finished(again.number);
    await new Promise((r) => setTimeout(r, 500));
    expect((await agentRuns('reviewer')).filter((r) => r.base_branch.startsWith('gitoku/'))).toHaveLength(0);

    // branches = ["main"]: a pull request into another base does not route.
    await pushBranch('feature/side', { 's.txt': 's\n' });
    const side = await api(server, 'POST', path('/pulls'), { token: owner.token, body: { title: 'Side', head: 'feature/side', base: 'feature/one' } });
    expect(side.status, side.text).toBe(201);
    const sideEvent = await waitFor(async () => {
      const events = await api(server, 'GET', path('/events?type=pull_request.opened'));
      const e = events.json.find((x: { subject: string; dispatched_at: string | null }) => x.subject === `pull/${side.json.number}` && x.dispatched_at);
      return e?.behaviors.find((b: { key: string }) => b.key === 'agent-routing');
    });
    expect(sideEvent.outcome).toBe('no matching agent');
  });

  it('starts a mentioned agent on the PR branch with a child pull request and replies in the thread; refuses readers; agents never summon agents', async () => {
    await pushBranch('feature/two', { 'src/three.txt': 'three\n' });
    const pr = await api(server, 'POST', path('/pulls'), { token: owner.token, body: { title: 'Feature two', head: 'feature/two', base: 'main' } });
    const number = pr.json.number;
    const comment = await api(server, 'POST', path(`/issues/${number}/comments`), { token: owner.token, body: { body: '@docs update the README' } });
    expect(comment.status, comment.text).toBe(201);
    const run = await waitFor(async () => (await agentRuns('docs')).find((r) => r.base_branch === 'feature/two'));
    expect(run.prompt.startsWith('update the README')).toBe(true);
    const done = await finished(run.number);
    expect(done.status, done.error).toBe('succeeded');
    const child = await api(server, 'GET', path(`/pulls/${done.pull_request.number}`));
    expect(child.json).toMatchObject({ base: { ref: 'feature/two' }, draft: true });
    const reply = await waitFor(async () => {
      const list = await api(server, 'GET', path(`/issues/${number}/comments`));
      return list.json.find((c: { user: { login: string }; body: string }) => c.user.login === 'gitoku-bot' && c.body.includes(`/pull/${done.pull_request.number}`));
    });
    expect(reply.body).toContain(`@${owner.username}`);
    expect(reply.body).toContain(`/runs/${run.number}`);

    // A reader's mention: a clear reply, no run.
    const runsBefore = (await agentRuns('docs')).length;
    await api(server, 'POST', path(`/issues/${number}/comments`), { token: reader.token, body: { body: '@docs rewrite everything' } });
    const refusal = await waitFor(async () => {
      const list = await api(server, 'GET', path(`/issues/${number}/comments`));
      return list.json.find((c: { user: { login: string }; body: string }) => c.user.login === 'gitoku-bot' && c.body.includes(`@${reader.username} only people with write access`));
    });
    expect(refusal.body).toContain('@docs was not started');

    // The bot's own comment mentioning an agent starts nothing (loop guard).
    const repo = (await findRepository(server.app.db, owner.username, 'agents'))!;
    const botComment = await createConversationComment(server.app, { repo, role: 'admin', gitDir: repositoryGitDir(server.app, repo) }, await reviewBot(server.app), number, '@docs please also fix the typos');
    await waitFor(async () => {
      const b = await server.app.db.selectFrom('behavior_runs').innerJoin('graph_events', 'graph_events.id', 'behavior_runs.event_id').select(['behavior_runs.outcome']).where('behavior_runs.behavior_key', '=', 'agent-mentions').where('graph_events.payload', 'like', `%"comment_id":${botComment.id}%`).executeTakeFirst();
      return b?.outcome;
    }).then((o) => expect(o).toBe('comment by an agent: agents never summon agents'));
    expect(await agentRuns('docs')).toHaveLength(runsBefore);

    // A line comment: the reply joins its thread.
    const head = (await api(server, 'GET', path(`/pulls/${number}`))).json.head.sha;
    const line = await api(server, 'POST', path(`/pulls/${number}/comments`), { token: owner.token, body: { body: 'Please @docs document this file', path: 'src/three.txt', line: 1, commit_id: head, side: 'RIGHT' } });
    expect(line.status, line.text).toBe(201);
    const threaded = await waitFor(async () => {
      const list = await api(server, 'GET', path(`/pulls/${number}/comments`));
      return list.json.find((c: { user: { login: string }; in_reply_to_id?: number }) => c.user.login === 'gitoku-bot' && c.in_reply_to_id === line.json.id);
    });
    expect(threaded.body).toContain('**@docs** is on it');
    const lineRun = await waitFor(async () => (await agentRuns('docs')).find((r) => r.prompt.startsWith('document this file')));
    expect(lineRun.base_branch).toBe('feature/two');
    await finished(lineRun.number);
  });

  it('gitoku run --agent KEY starts the agent; an unknown key fails clearly', async () => {
    const ok = await runCli(['run', repoPath(), 'update the README', '--agent', 'docs', '--json', '--server', server.url, '--token', owner.token], {});
    expect(ok.code, ok.stderr).toBe(0);
    const run = JSON.parse(ok.stdout);
    expect(run.agent_key).toBe('docs');
    expect((await finished(run.number)).rendered_prompt).toContain('You keep the README true.');
    const bad = await runCli(['run', repoPath(), 'x', '--agent', 'nope', '--server', server.url, '--token', owner.token], {});
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('unknown agent "nope" at branch main');
  });
});
