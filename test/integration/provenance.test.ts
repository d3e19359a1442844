import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitCli, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { runCli } from '../helpers/cli.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import type { JobRunner } from '../../src/runner/runner.ts';
import { scriptPrompt as script, waitFor } from '../helpers/scriptedRuns.ts';


interface Capture {
  id: number;
  commit_sha: string;
  capture_index: number;
  source_family: string;
  exact_model_name: string;
  prompt: string;
  thinking: string;
  evidence_kind: string;
  capture_confidence: number;
  modified_files: string[];
  modified_line_spans: Record<string, [number, number][]>;
  details: Record<string, unknown>;
  run: { number: number } | null;
  pull_request: { number: number } | null;
}
interface Range {
  start_line: number;
  end_line: number;
  commit: { sha: string };
  captures: Capture[];
}

/** line number → thinking (or source family) of the captures on it, '' for none. */
function lineMap(ranges: Range[], label: (c: Capture) => string = (c) => c.thinking): Map<number, string> {
  const out = new Map<number, string>();
  for (const r of ranges) for (let n = r.start_line; n <= r.end_line; n++) out.set(n, r.captures.map(label).join('+'));
  return out;
}

describe.each(testDialects())('AI provenance on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let stranger: TestUser;
  let runner: JobRunner;
  let work: { path: string; remove(): Promise<void> };
  let remote: string;
  const repoPath = (p: string) => `/repos/${owner.username}/prov${p}`;
  const sh = (args: string[]) => gitOk(work.path, args);

  async function runScript(body: string, extra: Record<string, unknown> = {}) {
    const res = await api(server, 'POST', repoPath('/runs'), { token: owner.token, body: { prompt: script(body), ...extra } });
    expect(res.status, res.text).toBe(201);
    return waitFor(async () => {
      const r = await api(server, 'GET', repoPath(`/runs/${res.json.number}`));
      return ['succeeded', 'failed', 'cancelled'].includes(r.json.status) ? r.json : null;
    });
  }

  async function aiBlame(ref: string, path: string, token?: string): Promise<Range[]> {
    const r = await api(server, 'GET', repoPath(`/ai-blame/${ref}/${path}`), { token });
    expect(r.status, r.text).toBe(200);
    return r.json.ranges;
  }

  async function fileLines(ref: string, path: string): Promise<string[]> {
    const res = await fetch(`${server.url}/api/v1${repoPath(`/raw/${ref}/${path}`)}`);
    return (await res.text()).replace(/\n$/, '').split('\n');
  }

  beforeAll(async () => {
    server = await startTestServer(dialect, { GITOKU_JOB_LEASE_MS: '3000' });
    owner = await createTestUser(server);
    stranger = await createTestUser(server);
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'prov' } });
    // AI reviews (evidence the graph keeps) need a reviewing agent since issue 16: the scripted one here.
    await api(server, 'PATCH', `/repos/${owner.username}/prov`, { token: owner.token, body: { review_driver: 'script' } });
    work = await tempDir();
    await initWorkRepo(work.path, { 'README.md': '# Provenance\n', 'src/a.txt': 'a1\na2\na3\n', 'src/b.txt': 'b1\nb2\n' });
    remote = authUrl(server.url, `${owner.username}/prov.git`, owner.username, owner.token);
    await sh(['push', '-q', remote, 'main']);
    runner = await startInProcessRunner(server);
  });

  afterAll(async () => {
    await runner?.stop();
    await work?.remove();
    await server?.close();
  });

  let first: { number: number; commit_sha: string; compare_branch: string; model: string; prompt: string; id: number; pull_request: { number: number } };

  it('a scripted run editing three files across two turns: blame shows each turn\'s capture on exactly the lines it added', async () => {
    first = await runScript(
      [
        'think Plan: extend a and rewrite b',
        'append src/a.txt',
        'a4 ai',
        'a5 ai',
        'end',
        'write src/b.txt',
        'b1',
        'B2 ai',
        'b3 ai',
        'end',
        'say Turn one done',
        'think Plan: add c',
        'write src/c.txt',
        'c1 ai',
        'c2 ai',
        'end',
        'say Turn two done',
      ].join('\n'),
      { title: 'Two turns' },
    );
    expect(first.commit_sha).toMatch(/^[0-9a-f]{40}$/);
    const contexts = await api(server, 'GET', repoPath(`/commits/${first.commit_sha}/ai-contexts`));
    expect(contexts.status, contexts.text).toBe(200);
    const captures: Capture[] = contexts.json.captures;
    expect(captures).toHaveLength(2);
    expect(captures[0]).toMatchObject({
      capture_index: 0,
      source_family: 'script',
      exact_model_name: first.model,
      prompt: first.prompt,
      thinking: 'Plan: extend a and rewrite b',
      evidence_kind: 'agent_run',
      capture_confidence: 1,
      modified_line_spans: { 'src/a.txt': [[4, 5]], 'src/b.txt': [[2, 3]] },
      run: { number: first.number },
      pull_request: { number: first.pull_request.number },
    });
    expect(captures[0]!.modified_files.sort()).toEqual(['src/a.txt', 'src/b.txt']);
    expect(captures[1]).toMatchObject({ capture_index: 1, thinking: 'Plan: add c', modified_files: ['src/c.txt'], modified_line_spans: { 'src/c.txt': [[1, 2]] }, details: expect.objectContaining({ turn: 2, messages: ['Turn two done'] }) });

    const ref = first.compare_branch;
    const a = lineMap(await aiBlame(ref, 'src/a.txt'));
    expect([...a]).toEqual([[1, ''], [2, ''], [3, ''], [4, 'Plan: extend a and rewrite b'], [5, 'Plan: extend a and rewrite b']]);
    const b = lineMap(await aiBlame(ref, 'src/b.txt'));
    expect([...b]).toEqual([[1, ''], [2, 'Plan: extend a and rewrite b'], [3, 'Plan: extend a and rewrite b']]);
    const c = lineMap(await aiBlame(ref, 'src/c.txt'));
    expect([...c]).toEqual([[1, 'Plan: add c'], [2, 'Plan: add c']]);
    // Every line is covered exactly once.
    const ranges = await aiBlame(ref, 'src/a.txt');
    expect(ranges[0]!.start_line).toBe(1);
    expect(ranges.at(-1)!.end_line).toBe(5);

    // The pull request's view of the same lines.
    const prAll = await api(server, 'GET', repoPath(`/pulls/${first.pull_request.number}/ai-contexts`));
    expect(prAll.json.commits).toEqual([expect.objectContaining({ sha: first.commit_sha, captures: [expect.objectContaining({ capture_index: 0 }), expect.objectContaining({ capture_index: 1 })] })]);
    const prFile = await api(server, 'GET', repoPath(`/pulls/${first.pull_request.number}/ai-contexts?path=src/b.txt`));
    expect(prFile.json.ranges.map((r: Range) => [r.start_line, r.end_line])).toEqual([[2, 3]]);
    const prLine = await api(server, 'GET', repoPath(`/pulls/${first.pull_request.number}/ai-contexts?path=src/b.txt&line=3`));
    expect(prLine.json.captures.map((x: Capture) => x.thinking)).toEqual(['Plan: extend a and rewrite b']);
    const prHuman = await api(server, 'GET', repoPath(`/pulls/${first.pull_request.number}/ai-contexts?path=src/b.txt&line=1`));
    expect(prHuman.json.captures).toEqual([]);
  });

  it('the CLI prints blame with an AI column', async () => {
    const out = await runCli(['blame', '--ai', `${owner.username}/prov`, 'src/a.txt', '--ref', first.compare_branch, '--server', server.url, '--token', owner.token], {});
    expect(out.code, out.stderr).toBe(0);
    const lines = out.stdout.split('\n');
    expect(lines[0]).toMatch(/^[0-9a-f]{8} ·\s+1 │ a1$/);
    expect(lines[3]).toMatch(/^[0-9a-f]{8} \[1\] script\/\S+\s+4 │ a4 ai$/);
    expect(out.stdout).toContain('AI captures:');
    expect(out.stdout).toMatch(/\[1\] commit [0-9a-f]{8} · script · .*agent_run \(confidence 1\.00\) · run #\d+ · PR #\d+/);
    const plain = await runCli(['blame', `${owner.username}/prov`, 'src/a.txt', '--ref', first.compare_branch, '--server', server.url], {});
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout.split('\n')[3]).toMatch(/^[0-9a-f]{8}\s+4 │ a4 ai$/);
  });

  it('writes the graph: a run node, an evidence node per capture, file ranges and edges', async () => {
    const runNodes = await api(server, 'GET', repoPath(`/graph/nodes?kind=run&key=${first.id}`));
    expect(runNodes.json).toHaveLength(1);
    const runNode = await api(server, 'GET', repoPath(`/graph/nodes/${runNodes.json[0].id}`));
    expect(runNode.json.data).toMatchObject({ number: first.number, status: 'succeeded', commit_sha: first.commit_sha });
    const producedBy = runNode.json.incoming.filter((e: { kind: string }) => e.kind === 'produced_by');
    expect(producedBy.map((e: { node: { key: string } }) => e.node.key).sort()).toEqual([`${first.commit_sha}:0`, `${first.commit_sha}:1`]);
    expect(runNode.json.outgoing).toEqual([expect.objectContaining({ kind: 'about', node: expect.objectContaining({ kind: 'pull_request', key: String(first.pull_request.number) }) })]);
    const evidence = await api(server, 'GET', repoPath(`/graph/nodes/${producedBy.find((e: { node: { key: string } }) => e.node.key.endsWith(':0')).node.id}`));
    expect(evidence.json).toMatchObject({ kind: 'evidence', data: { source_family: 'script', evidence_kind: 'agent_run', capture_index: 0 } });
    const ranges = evidence.json.outgoing.filter((e: { kind: string }) => e.kind === 'derived_from').map((e: { node: { key: string } }) => e.node.key).sort();
    expect(ranges).toEqual([`${first.commit_sha}:2-3:src/b.txt`, `${first.commit_sha}:4-5:src/a.txt`]);
    expect(evidence.json.outgoing.some((e: { kind: string; node: { kind: string } }) => e.kind === 'about' && e.node.kind === 'commit')).toBe(true);
    const fileNodes = await api(server, 'GET', repoPath('/graph/nodes?path=src/b.txt'));
    expect(fileNodes.json.map((n: { key: string; data: { start_line: number } }) => [n.key, n.data.start_line])).toEqual([[`${first.commit_sha}:2-3:src/b.txt`, 2]]);
    const hood = await api(server, 'GET', repoPath(`/graph/nodes/${runNodes.json[0].id}/neighbourhood?depth=2`));
    expect(hood.json.nodes.filter((n: { kind: string }) => n.kind === 'file_range')).toHaveLength(3);
    expect((await api(server, 'GET', repoPath('/graph/nodes/999999'))).status).toBe(404);
  });

  it('a forked run gets a forked_from edge and captures for its own commit only', async () => {
    const res = await api(server, 'POST', repoPath(`/runs/${first.number}/forks`), { token: owner.token, body: { prompt: script('think Plan: fork\nappend src/c.txt\nc3 fork\nend\nsay forked') } });
    expect(res.status, res.text).toBe(201);
    const fork = await waitFor(async () => {
      const r = await api(server, 'GET', repoPath(`/runs/${res.json.number}`));
      return r.json.status === 'succeeded' ? r.json : null;
    });
    const node = (await api(server, 'GET', repoPath(`/graph/nodes?kind=run&key=${fork.id}`))).json[0];
    const detail = await api(server, 'GET', repoPath(`/graph/nodes/${node.id}`));
    expect(detail.json.outgoing).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'forked_from', node: expect.objectContaining({ kind: 'run', key: String(first.id) }) })]));
    expect([...lineMap(await aiBlame(fork.compare_branch, 'src/c.txt'))]).toEqual([[1, 'Plan: add c'], [2, 'Plan: add c'], [3, 'Plan: fork']]);
  });

  it('exports the captures as git notes under refs/notes/gitoku-ai', async () => {
    await sh(['fetch', '-q', remote, 'refs/notes/*:refs/notes/*', first.compare_branch]);
    const note = JSON.parse(await sh(['notes', '--ref=gitoku-ai', 'show', first.commit_sha]));
    expect(note).toMatchObject({ schema: 'gitoku-ai/1', commit: first.commit_sha, repository: `${owner.username}/prov` });
    expect(note.captures.map((c: { thinking: string; modified_line_spans: unknown }) => [c.thinking, c.modified_line_spans])).toEqual([
      ['Plan: extend a and rewrite b', { 'src/a.txt': [[4, 5]], 'src/b.txt': [[2, 3]] }],
      ['Plan: add c', { 'src/c.txt': [[1, 2]] }],
    ]);
  });

  let squashSha = '';

  it('a later human commit rewriting a line removes its attribution; a squash merge keeps the rest', async () => {
    await sh(['fetch', '-q', remote, first.compare_branch]);
    await sh(['checkout', '-q', '-B', 'work', 'FETCH_HEAD']);
    // The human rewrites a4 and inserts a line at the top: "a5 ai" moves to line 6 unchanged and keeps its attribution.
    await writeFile(join(work.path, 'src/a.txt'), 'a0 human\na1\na2\na3\na4 human\na5 ai\n');
    await sh(['commit', '-q', '-am', 'Human rewrites a4']);
    await sh(['push', '-q', remote, `work:${first.compare_branch}`]);
    const a = lineMap(await aiBlame(first.compare_branch, 'src/a.txt'));
    expect([...a]).toEqual([[1, ''], [2, ''], [3, ''], [4, ''], [5, ''], [6, 'Plan: extend a and rewrite b']]);

    const pr = first.pull_request.number;
    expect((await api(server, 'PATCH', repoPath(`/pulls/${pr}`), { token: owner.token, body: { draft: false } })).status).toBe(200);
    await waitFor(async () => (await api(server, 'GET', repoPath(`/pulls/${pr}`))).json.mergeable === true);
    const merge = await api(server, 'PUT', repoPath(`/pulls/${pr}/merge`), { token: owner.token, body: { merge_method: 'squash' } });
    expect(merge.status, merge.text).toBe(200);
    squashSha = merge.json.sha;
    const squash = await api(server, 'GET', repoPath(`/commits/${squashSha}/ai-contexts`));
    expect(squash.json.captures.map((c: Capture) => [c.thinking, c.modified_line_spans, c.evidence_kind, c.run?.number])).toEqual([
      ['Plan: extend a and rewrite b', { 'src/a.txt': [[6, 6]], 'src/b.txt': [[2, 3]] }, 'agent_run', first.number],
      ['Plan: add c', { 'src/c.txt': [[1, 2]] }, 'agent_run', first.number],
    ]);
    expect(squash.json.captures[0].details.carried_from).toMatchObject({ commit: first.commit_sha, merge_method: 'squash' });
    expect([...lineMap(await aiBlame('main', 'src/a.txt'))]).toEqual([[1, ''], [2, ''], [3, ''], [4, ''], [5, ''], [6, 'Plan: extend a and rewrite b']]);
    expect([...lineMap(await aiBlame('main', 'src/b.txt'))]).toEqual([[1, ''], [2, 'Plan: extend a and rewrite b'], [3, 'Plan: extend a and rewrite b']]);
    expect([...lineMap(await aiBlame('main', 'src/c.txt'))]).toEqual([[1, 'Plan: add c'], [2, 'Plan: add c']]);
    // The file's AI history lists the squash commit and the run's commit is not on main.
    const history = await api(server, 'GET', repoPath('/ai-history/main/src/a.txt'));
    expect(history.json.commits.map((c: { commit: { sha: string } }) => c.commit.sha)).toEqual([squashSha]);
  });

  it('a rebase merge keeps the attributions, with lines moved by earlier commits', async () => {
    const second = await runScript(['think Plan: extend b and add d', 'append src/b.txt', 'b4 ai', 'b5 ai', 'end', 'write src/d.txt', 'd1 ai', 'end', 'say done'].join('\n'), { title: 'Rebase me' });
    expect(second.status).toBe('succeeded');
    // Meanwhile a human inserts two lines at the top of b.txt on main: the run's lines move down by two.
    await sh(['fetch', '-q', remote, 'main']);
    await sh(['checkout', '-q', '-B', 'main', 'FETCH_HEAD']);
    await writeFile(join(work.path, 'src/b.txt'), 'top1\ntop2\nb1\nB2 ai\nb3 ai\n');
    await sh(['commit', '-q', '-am', 'Human header']);
    await sh(['push', '-q', remote, 'main']);
    const pr = second.pull_request.number;
    await api(server, 'PATCH', repoPath(`/pulls/${pr}`), { token: owner.token, body: { draft: false } });
    await waitFor(async () => (await api(server, 'GET', repoPath(`/pulls/${pr}`))).json.mergeable === true);
    const merge = await api(server, 'PUT', repoPath(`/pulls/${pr}/merge`), { token: owner.token, body: { merge_method: 'rebase' } });
    expect(merge.status, merge.text).toBe(200);
    const lines = await fileLines('main', 'src/b.txt');
    expect(lines).toEqual(['top1', 'top2', 'b1', 'B2 ai', 'b3 ai', 'b4 ai', 'b5 ai']);
    expect([...lineMap(await aiBlame('main', 'src/b.txt'))]).toEqual([
      [1, ''],
      [2, ''],
      [3, ''],
      [4, 'Plan: extend a and rewrite b'],
      [5, 'Plan: extend a and rewrite b'],
      [6, 'Plan: extend b and add d'],
      [7, 'Plan: extend b and add d'],
    ]);
    expect([...lineMap(await aiBlame('main', 'src/d.txt'))]).toEqual([[1, 'Plan: extend b and add d']]);
    const landed = await api(server, 'GET', repoPath(`/commits/${merge.json.sha}/ai-contexts`));
    expect(landed.json.captures[0]).toMatchObject({ modified_line_spans: { 'src/b.txt': [[6, 7]], 'src/d.txt': [[1, 1]] }, details: expect.objectContaining({ carried_from: expect.objectContaining({ commit: second.commit_sha, merge_method: 'rebase' }) }) });
  });

  it('ingests Claude/Copilot trailers and git-ai, Agent Trace and whogitit notes pushed with or after the commits', async () => {
    await sh(['fetch', '-q', remote, 'main']);
    await sh(['checkout', '-q', '-B', 'main', 'FETCH_HEAD']);
    const claude = await commitFiles(work.path, { 'src/e.txt': 'e1\ne2\n' }, 'Add e\n\nCo-Authored-By: Claude <noreply@anthropic.com>');
    const copilot = await commitFiles(work.path, { 'src/e.txt': 'e1\nE2 copilot\ne3 copilot\n' }, 'Edit e\n\nCo-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>');
    const gitAi = await commitFiles(work.path, { 'src/f.txt': 'f1 ai\nf2 human\nf3 ai\n' }, 'Add f');
    const log = [
      'src/f.txt',
      '  0123456789abcdef 1,3',
      '---',
      JSON.stringify({ schema_version: 'authorship/3.0.0', git_ai_version: '1.0.23', base_commit_sha: copilot, prompts: { '0123456789abcdef': { agent_id: { tool: 'cursor', id: 'sess-1', model: 'gpt-5' }, messages: [{ type: 'user', text: 'Write f' }, { type: 'assistant', text: 'Writing f' }], total_additions: 2, total_deletions: 0, accepted_lines: 2, overriden_lines: 0 } } }),
    ].join('\n');
    await mkdir(join(work.path, 'tmp'), { recursive: true });
    await writeFile(join(work.path, 'tmp/log'), log);
    await sh(['notes', '--ref=ai', 'add', '-f', '-F', 'tmp/log', gitAi]);
    expect((await gitCli(work.path, ['push', '-q', remote, 'main', 'refs/notes/ai'])).code).toBe(0);

    const ctx = async (sha: string) => (await api(server, 'GET', repoPath(`/commits/${sha}/ai-contexts`))).json.captures as Capture[];
    expect(await ctx(claude)).toEqual([expect.objectContaining({ source_family: 'claude', evidence_kind: 'commit_trailer', capture_confidence: 0.3, modified_line_spans: { 'src/e.txt': [[1, 2]] }, run: null })]);
    expect(await ctx(copilot)).toEqual([expect.objectContaining({ source_family: 'copilot', evidence_kind: 'commit_trailer', modified_line_spans: { 'src/e.txt': [[2, 3]] } })]);
    expect(await ctx(gitAi)).toEqual([expect.objectContaining({ source_family: 'cursor', exact_model_name: 'gpt-5', prompt: 'Write f', thinking: 'Writing f', session_id: 'sess-1', evidence_kind: 'git_notes', capture_confidence: 0.8, modified_line_spans: { 'src/f.txt': [[1, 1], [3, 3]] } })]);
    expect([...lineMap(await aiBlame('main', 'src/e.txt'), (c) => c.source_family)]).toEqual([[1, 'claude'], [2, 'copilot'], [3, 'copilot']]);
    expect([...lineMap(await aiBlame('main', 'src/f.txt'), (c) => c.source_family)]).toEqual([[1, 'cursor'], [2, ''], [3, 'cursor']]);

    // Notes pushed after their commit: an Agent Trace record and a whogitit attribution.
    const later = await commitFiles(work.path, { 'src/g.txt': 'g1\ng2\ng3\n' }, 'Add g');
    await sh(['push', '-q', remote, 'main']);
    expect(await ctx(later)).toEqual([]);
    const trace = { version: '0.1.0', id: '550e8400-e29b-41d4-a716-446655440000', timestamp: '2026-01-23T14:30:00Z', vcs: { type: 'git', revision: later }, tool: { name: 'amp', version: '1' }, files: [{ path: 'src/g.txt', conversations: [{ url: 'https://example.com/c/1', contributor: { type: 'ai', model_id: 'anthropic/claude-sonnet-4' }, ranges: [{ start_line: 2, end_line: 3 }] }] }] };
    await writeFile(join(work.path, 'tmp/trace'), JSON.stringify(trace));
    await sh(['notes', '--ref=agent-trace', 'add', '-f', '-F', 'tmp/trace', later]);
    const who = { version: 3, session: { session_id: 'w-1', model: { id: 'claude-opus-4-5', provider: 'anthropic' } }, prompts: [{ index: 0, text: 'Write g1' }], files: [{ path: 'src/g.txt', lines: [{ line_number: 1, source: { type: 'AI', edit_id: 'x' }, prompt_index: 0, confidence: 1 }] }] };
    await writeFile(join(work.path, 'tmp/who'), JSON.stringify(who));
    await sh(['notes', '--ref=whogitit', 'add', '-f', '-F', 'tmp/who', later]);
    expect((await gitCli(work.path, ['push', '-q', remote, 'refs/notes/agent-trace', 'refs/notes/whogitit'])).code).toBe(0);
    const g = await ctx(later);
    expect(g.map((c) => [c.source_family, c.evidence_kind, c.modified_line_spans])).toEqual(
      expect.arrayContaining([
        ['amp', 'agent_trace', { 'src/g.txt': [[2, 3]] }],
        ['claude', 'whogitit', { 'src/g.txt': [[1, 1]] }],
      ]),
    );
    expect(g).toHaveLength(2);
    // Graph: ingested evidence is produced by an agent node.
    const nodes = await api(server, 'GET', repoPath(`/graph/nodes?kind=evidence&key=${gitAi}:0`));
    const node = await api(server, 'GET', repoPath(`/graph/nodes/${nodes.json[0].id}`));
    expect(node.json.outgoing).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'produced_by', node: expect.objectContaining({ kind: 'agent', key: 'cursor/gpt-5' }) })]));
  });

  it('skips malformed trailers and notes with a warning and never fails the push', async () => {
    const bad = await commitFiles(work.path, { 'src/h.txt': 'h1\n' }, 'Add h\n\nAssisted-by: <nobody@example.com>\nCo-authored-by: not an agent');
    await writeFile(join(work.path, 'tmp/garbage'), 'this is not an authorship log');
    await sh(['notes', '--ref=ai', 'add', '-f', '-F', 'tmp/garbage', bad]);
    await writeFile(join(work.path, 'tmp/garbage2'), '{"version": 3, "files": "nope"}');
    await sh(['notes', '--ref=whogitit', 'add', '-f', '-F', 'tmp/garbage2', bad]);
    await writeFile(join(work.path, 'tmp/garbage3'), '[{"version": "0.1.0", "files": [{"path": "../../x", "conversations": 5}]}');
    await sh(['notes', '--ref=agent-trace', 'add', '-f', '-F', 'tmp/garbage3', bad]);
    const push = await gitCli(work.path, ['push', remote, 'main', 'refs/notes/ai', 'refs/notes/whogitit', 'refs/notes/agent-trace']);
    expect(push.code, push.stderr).toBe(0);
    expect((await api(server, 'GET', repoPath(`/commits/${bad}/ai-contexts`))).json.captures).toEqual([]);
    expect((await gitOk(work.path, ['ls-remote', remote, 'refs/heads/main'])).split('\t')[0]).toBe(bad);
    // Notes of commits the server does not have are ignored too.
    await writeFile(join(work.path, 'tmp/blob'), 'not a commit\n');
    await sh(['notes', '--ref=ai', 'add', '-f', '-m', 'garbage', (await sh(['hash-object', '-w', 'tmp/blob'])).trim()]);
    expect((await gitCli(work.path, ['push', remote, 'refs/notes/ai'])).code).toBe(0);
  });

  it('exported notes travel: a clone with refs/notes/* pushed to another repository is re-imported', async () => {
    const clone = await tempDir();
    try {
      await gitOk(clone.path, ['clone', '-q', remote, '.']);
      await gitOk(clone.path, ['fetch', '-q', 'origin', 'refs/notes/*:refs/notes/*']);
      expect(JSON.parse(await gitOk(clone.path, ['notes', '--ref=gitoku-ai', 'show', squashSha])).schema).toBe('gitoku-ai/1');
      await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'mirror' } });
      const mirror = authUrl(server.url, `${owner.username}/mirror.git`, owner.username, owner.token);
      const push = await gitCli(clone.path, ['push', mirror, 'main', 'refs/notes/gitoku-ai']);
      expect(push.code, push.stderr).toBe(0);
      const res = await api(server, 'GET', `/repos/${owner.username}/mirror/commits/${squashSha}/ai-contexts`);
      expect(res.json.captures.map((c: Capture) => [c.source_family, c.evidence_kind, c.thinking, c.modified_line_spans, c.details.original_evidence_kind])).toEqual([
        ['script', 'gitoku_notes', 'Plan: extend a and rewrite b', { 'src/a.txt': [[6, 6]], 'src/b.txt': [[2, 3]] }, 'agent_run'],
        ['script', 'gitoku_notes', 'Plan: add c', { 'src/c.txt': [[1, 2]] }, 'agent_run'],
      ]);
      expect(res.json.captures[0].capture_confidence).toBeCloseTo(0.9);
      const blame = await api(server, 'GET', `/repos/${owner.username}/mirror/ai-blame/main/src/c.txt`);
      expect(blame.json.ranges.map((r: Range) => r.captures.length)).toEqual([1]);
    } finally {
      await clone.remove();
    }
  });

  it('captures pushed from outside link to the pull request that brings them, and its files view follows renames', async () => {
    const ctx = async (sha: string) => (await api(server, 'GET', repoPath(`/commits/${sha}/ai-contexts`))).json.captures as Capture[];
    await sh(['fetch', '-q', remote, 'main']);
    await sh(['checkout', '-q', '-B', 'linked', 'FETCH_HEAD']);
    await rm(join(work.path, 'tmp'), { recursive: true, force: true }); // the notes written above are not part of this change
    try {
      const early = await commitFiles(work.path, { 'src/k.txt': 'k1 claude\nk2 claude\n' }, 'Add k\n\nCo-authored-by: Claude <noreply@anthropic.com>');
      await sh(['push', '-q', remote, 'linked']);
      expect((await ctx(early))[0]!.pull_request).toBeNull();
      const opened = await api(server, 'POST', repoPath('/pulls'), { token: owner.token, body: { title: 'Linked', head: 'linked', base: 'main' } });
      expect(opened.status, opened.text).toBe(201);
      const number: number = opened.json.number;
      expect((await ctx(early))[0]!.pull_request).toMatchObject({ number });

      // Pushed after the pull request opened, then renamed by a human.
      const late = await commitFiles(work.path, { 'src/k.txt': 'k1 claude\nk2 claude\nk3 copilot\n' }, 'More k\n\nCo-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>');
      await sh(['mv', 'src/k.txt', 'src/renamed-k.txt']);
      await sh(['commit', '-q', '-m', 'Rename k']);
      await sh(['push', '-q', remote, 'linked']);
      expect((await ctx(late))[0]!.pull_request).toMatchObject({ number });
      const blame = await aiBlame('linked', 'src/renamed-k.txt');
      expect(blame.map((r) => [r.start_line, r.end_line, r.captures.map((c) => `${c.source_family}#${c.pull_request?.number}`).join()])).toEqual([
        [1, 2, `claude#${number}`],
        [3, 3, `copilot#${number}`],
      ]);
      const evidence = (await api(server, 'GET', repoPath(`/graph/nodes?kind=evidence&key=${late}:0`))).json[0];
      const node = await api(server, 'GET', repoPath(`/graph/nodes/${evidence.id}`));
      expect(node.json.outgoing).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'about', node: expect.objectContaining({ kind: 'pull_request', key: String(number) }) })]));

      // The files view shows the file under its new name, its AI-written lines still marked.
      const html = await (await fetch(`${server.url}/${owner.username}/prov/pull/${number}/files`)).text();
      const marked = [...html.matchAll(/<tr class="dl dl-add dl-ai[^"]*"><td class="dn" data-n="[^"]*"><\/td><td class="dn" data-n="(\d+)">/g)].map((m) => m[1]);
      expect(html).toContain('src/renamed-k.txt');
      expect(marked).toEqual(['1', '2', '3']);
    } finally {
      await sh(['checkout', '-q', 'main']);
    }
  });

  it('keeps the provenance of a private repository as private as its code', async () => {
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'secret', private: true } });
    const secret = authUrl(server.url, `${owner.username}/secret.git`, owner.username, owner.token);
    const sha = await commitFiles(work.path, { 'src/s.txt': 's1\n' }, 'Secret\n\nCo-authored-by: Claude <noreply@anthropic.com>');
    expect((await gitCli(work.path, ['push', secret, 'main'])).code).toBe(0);
    const base = `/repos/${owner.username}/secret`;
    const paths = [`${base}/ai-blame/main/src/s.txt`, `${base}/ai-history/main/src/s.txt`, `${base}/commits/${sha}/ai-contexts`, `${base}/graph/nodes`, `${base}/graph/nodes/1`];
    for (const p of paths) {
      expect((await api(server, 'GET', p)).status, p).toBe(404);
      expect((await api(server, 'GET', p, { token: stranger.token })).status, p).toBe(404);
    }
    const mine = await api(server, 'GET', `${base}/commits/${sha}/ai-contexts`, { token: owner.token });
    expect(mine.json.captures).toEqual([expect.objectContaining({ source_family: 'claude' })]);
    const nodes = await api(server, 'GET', `${base}/graph/nodes?kind=evidence`, { token: owner.token });
    expect(nodes.json.length).toBeGreaterThan(0);
    // A node of the private repository is not reachable through a public one.
    expect((await api(server, 'GET', repoPath(`/graph/nodes/${nodes.json[0].id}`), { token: stranger.token })).status).toBe(404);
  });

  it('gitoku graph backfill rebuilds the graph idempotently', async () => {
    const repo = await server.app.db.selectFrom('repositories').select('id').where('lower_name', '=', 'prov').executeTakeFirstOrThrow();
    const snapshot = async () => {
      const nodes = await server.app.db.selectFrom('graph_nodes').select(['kind', 'key']).where('repository_id', '=', repo.id).execute();
      const edges = await server.app.db.selectFrom('graph_edges').innerJoin('graph_nodes as s', 's.id', 'graph_edges.src_id').innerJoin('graph_nodes as d', 'd.id', 'graph_edges.dst_id').select(['graph_edges.kind', 's.key as src', 'd.key as dst']).where('s.repository_id', '=', repo.id).execute();
      return { nodes: nodes.map((n) => `${n.kind} ${n.key}`).sort(), edges: edges.map((e) => `${e.src} ${e.kind} ${e.dst}`).sort() };
    };
    // A review that finished while its pull request was open (earlier tests merge theirs at once): open
    // one and wait for its review's evidence node, so the graph surely has one to keep.
    await gitOk(work.path, ['checkout', '-q', '-b', 'backfill-review', 'main']);
    await commitFiles(work.path, { 'src/backfill.txt': 'reviewed\n' }, 'Backfill review');
    await gitOk(work.path, ['push', '-q', remote, 'backfill-review']);
    await gitOk(work.path, ['checkout', '-q', 'main']);
    const pr = await api(server, 'POST', `/repos/${owner.username}/prov/pulls`, { token: owner.token, body: { title: 'Backfill review', head: 'backfill-review', base: 'main' } });
    expect(pr.status, pr.text).toBe(201);
    // Quiet: every event dispatched and every job (this pull request's review included) finished.
    const busy = async () =>
      Number((await server.app.db.selectFrom('jobs').select((eb) => eb.fn.countAll<number>().as('n')).where('status', 'in', ['queued', 'running']).executeTakeFirstOrThrow()).n) +
      Number((await server.app.db.selectFrom('graph_events').select((eb) => eb.fn.countAll<number>().as('n')).where('dispatched_at', 'is', null).executeTakeFirstOrThrow()).n);
    await waitFor(async () => (await busy()) === 0 && (await snapshot()).nodes.some((n) => n.startsWith('evidence review:')), 60_000);
    const before = await snapshot();
    expect(before.nodes.filter((n) => /^evidence [0-9a-f]{40}:\d+$/.test(n))).toHaveLength(Number((await server.app.db.selectFrom('commit_ai_contexts').select((eb) => eb.fn.countAll<number>().as('n')).where('repository_id', '=', repo.id).executeTakeFirstOrThrow()).n));
    expect(before.nodes.filter((n) => n.startsWith('evidence review:')).length).toBeGreaterThan(0);
    await server.app.db.deleteFrom('graph_nodes').where('repository_id', '=', repo.id).where('kind', 'in', ['evidence', 'file_range']).where('key', 'not like', 'review:%').execute();
    const out = await runCli(['graph', 'backfill', '--repo', `${owner.username}/prov`], server.env);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/Graph rebuilt for 1 repository: \d+ runs, \d+ captures/);
    expect(await snapshot()).toEqual(before);
    const again = await runCli(['graph', 'backfill', '--json'], server.env);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ removed_evidence: 0 });
    expect(await snapshot()).toEqual(before);
  }, 90_000);

  it('a failure inside the run success point leaves neither the run\'s completion nor its provenance', async () => {
    if (dialect === 'sqlite') {
      await sql`CREATE TRIGGER gitoku_test_fail BEFORE INSERT ON commit_ai_contexts BEGIN SELECT RAISE(ABORT, 'injected failure'); END`.execute(server.app.db);
    } else {
      await sql`CREATE FUNCTION gitoku_test_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql`.execute(server.app.db);
      await sql`CREATE TRIGGER gitoku_test_fail BEFORE INSERT ON commit_ai_contexts FOR EACH ROW EXECUTE FUNCTION gitoku_test_fail()`.execute(server.app.db);
    }
    try {
      const res = await api(server, 'POST', repoPath('/runs'), { token: owner.token, body: { prompt: script('think crash\nwrite crash.txt\nboom\nend\nsay done') } });
      expect(res.status).toBe(201);
      const number = res.json.number;
      // The runner pushed and reported; completion failed inside the transaction, so the attempt failed.
      await waitFor(async () => (await api(server, 'GET', repoPath(`/runs/${number}/events`))).json.events.some((e: { kind: string }) => e.kind === 'error'));
      const run = await server.app.db.selectFrom('prompt_pull_request_jobs').selectAll().where('id', '=', res.json.id).executeTakeFirstOrThrow();
      expect(run.status).not.toBe('succeeded');
      expect(run.commit_sha).toBeNull();
      const job = await server.app.db.selectFrom('jobs').select('status').where('id', '=', run.job_id!).executeTakeFirstOrThrow();
      expect(job.status).not.toBe('succeeded');
      const pushed = (await gitOk(work.path, ['ls-remote', remote, `refs/heads/${run.compare_branch}`])).split('\t')[0]!;
      expect(pushed).not.toBe(run.source_commit);
      expect(await server.app.db.selectFrom('commit_ai_contexts').select('id').where('commit_sha', '=', pushed).execute()).toEqual([]);
      expect(await server.app.db.selectFrom('commit_ai_contexts').select('id').where('run_id', '=', run.id).execute()).toEqual([]);
      expect(await server.app.db.selectFrom('graph_nodes').select('id').where('kind', '=', 'run').where('key', '=', String(run.id)).execute()).toEqual([]);
      expect(await server.app.db.selectFrom('graph_events').select('id').where('type', '=', 'run.succeeded').where('subject', '=', `run/${number}`).execute()).toEqual([]);
      await api(server, 'POST', repoPath(`/runs/${number}/cancel`), { token: owner.token });
    } finally {
      await sql`DROP TRIGGER gitoku_test_fail${sql.raw(dialect === 'postgres' ? ' ON commit_ai_contexts' : '')}`.execute(server.app.db);
      if (dialect === 'postgres') await sql`DROP FUNCTION gitoku_test_fail()`.execute(server.app.db);
    }
  });
});
