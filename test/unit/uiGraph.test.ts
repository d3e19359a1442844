import { describe, expect, it } from 'vitest';
import { FILE_NODE_ID, buildGraphView, graphDataJson, kindClass, kindLabel, parseDepth, viewGraphNode } from '../../src/services/uiGraph.ts';
import { graphUrl } from '../../src/web/views/urls.ts';

const repo = { owner_name: 'alice', name: 'my repo' };
const SHA = 'abcdef0123456789abcdef0123456789abcdef01';
const node = (id: number, kind: string, key: string, data: Record<string, unknown>) => ({ id, kind, key, data });

describe('viewGraphNode: labels and links of graph nodes', () => {
  it('run: "Run #N · title", the driver and status, the run page', () => {
    const v = viewGraphNode(repo, node(7, 'run', '42', { run_id: 42, number: 3, title: 'Fix the parser', driver: 'codex', model: 'gpt-5', status: 'succeeded' }));
    expect(v).toMatchObject({ label: 'Run #3 · Fix the parser', short: 'Run #3', detail: 'codex · gpt-5 — succeeded', href: '/alice/my%20repo/runs/3', hrefLabel: 'Open run', graphHref: '/alice/my%20repo/graph?node=7', root: false });
    // A bare run node (a dependency, or a capture's run before its own node was written).
    expect(viewGraphNode(repo, node(8, 'run', '43', { number: 4 }))).toMatchObject({ label: 'Run #4', detail: '', href: '/alice/my%20repo/runs/4' });
    expect(viewGraphNode(repo, node(9, 'run', '44', {}))).toMatchObject({ label: 'Run 44', href: null });
  });

  it('evidence of a capture: model, family, kind and "capture i of <sha>", the commit page', () => {
    const v = viewGraphNode(repo, node(10, 'evidence', `${SHA}:1`, { capture_id: 5, commit_sha: SHA, capture_index: 1, source_family: 'claude', exact_model_name: 'claude-opus-4', evidence_kind: 'commit_trailer', capture_confidence: 0.6, run_id: null }));
    expect(v).toMatchObject({ label: 'claude/claude-opus-4 · commit trailer · capture 1 of abcdef0', short: 'capture 1 · abcdef0', detail: 'confidence 60%', href: `/alice/my%20repo/commit/${SHA}`, hrefLabel: 'Open commit' });
  });

  it('review evidence: the pull request it reviewed', () => {
    const v = viewGraphNode(repo, node(11, 'evidence', 'review:9', { evidence_kind: 'ai_review', source_family: 'script', exact_model_name: 'script', review_id: 9, pull_request: 4, commit_sha: SHA, comments: 2 }));
    expect(v).toMatchObject({ label: 'AI review of #4 · script/script', short: 'AI review #4', detail: 'ai review · at abcdef0', href: '/alice/my%20repo/pull/4', hrefLabel: 'Open pull request' });
  });

  it('file_range: "path:L10–L20 @ sha", the blob at that commit with the line anchor', () => {
    const v = viewGraphNode(repo, node(12, 'file_range', `${SHA}:10-20:src/a b.ts`, { path: 'src/a b.ts', start_line: 10, end_line: 20, commit_sha: SHA }));
    expect(v).toMatchObject({ label: 'src/a b.ts:L10–L20 @ abcdef0', short: 'a b.ts:10–20', detail: '11 lines', href: `/alice/my%20repo/blob/${SHA}/src/a%20b.ts#L10-L20`, hrefLabel: 'Open lines' });
    const one = viewGraphNode(repo, node(13, 'file_range', 'k', { path: 'x.txt', start_line: 4, end_line: 4, commit_sha: SHA }));
    expect(one).toMatchObject({ label: 'x.txt:L4 @ abcdef0', short: 'x.txt:4', detail: '1 line', href: `/alice/my%20repo/blob/${SHA}/x.txt#L4` });
  });

  it('commit, pull request, agent and the kinds without a page', () => {
    expect(viewGraphNode(repo, node(14, 'commit', SHA, { sha: SHA }))).toMatchObject({ label: 'abcdef0', detail: SHA, href: `/alice/my%20repo/commit/${SHA}` });
    expect(viewGraphNode(repo, node(15, 'pull_request', '12', { pull_request_id: 30, number: 12 }))).toMatchObject({ label: '#12', short: 'PR #12', href: '/alice/my%20repo/pull/12' });
    expect(viewGraphNode(repo, node(16, 'pull_request', '13', {}))).toMatchObject({ label: '#13', href: '/alice/my%20repo/pull/13' });
    expect(viewGraphNode(repo, node(17, 'agent', 'claude/opus', { source_family: 'claude', exact_model_name: 'opus' }))).toMatchObject({ label: 'claude/opus', href: null });
    for (const kind of ['task', 'claim', 'decision', 'failure']) expect(viewGraphNode(repo, node(18, kind, 'the key', { any: 1 })), kind).toMatchObject({ label: 'the key', href: null, hrefLabel: '' });
  });

  it('data that is not what it should be gives no link rather than a wrong one', () => {
    // A "sha" that is not one, a path with a scheme, numbers that are not positive integers.
    expect(viewGraphNode(repo, node(20, 'commit', 'javascript:alert(1)', { sha: 'javascript:alert(1)' })).href).toBeNull();
    expect(viewGraphNode(repo, node(21, 'evidence', 'x', { commit_sha: 'nope', capture_index: 0 })).href).toBeNull();
    expect(viewGraphNode(repo, node(22, 'run', '1', { number: -3 })).href).toBeNull();
    expect(viewGraphNode(repo, node(23, 'run', '1', { number: '3' })).href).toBeNull();
    expect(viewGraphNode(repo, node(24, 'file_range', 'k', { path: 'a', start_line: 1, end_line: 2, commit_sha: 'x' })).href).toBeNull();
    expect(viewGraphNode(repo, node(25, 'file_range', 'k', { path: 'a', start_line: 1.5, end_line: 2, commit_sha: SHA })).label).toBe('k');
    // Every link is a local path.
    expect(viewGraphNode(repo, node(26, 'file_range', 'k', { path: '//evil.example/x', start_line: 1, end_line: 1, commit_sha: SHA })).href).toMatch(/^\/alice\//);
  });
});

describe('buildGraphView', () => {
  const hood = {
    nodes: [
      { id: 2, kind: 'file_range', key: 'r', data: { path: 'a.txt', start_line: 1, end_line: 2, commit_sha: SHA }, created_at: '' },
      { id: 1, kind: 'run', key: '1', data: { number: 1, title: 'T' }, created_at: '' },
      { id: 3, kind: 'evidence', key: `${SHA}:0`, data: { commit_sha: SHA, capture_index: 0 }, created_at: '' },
    ],
    edges: [
      { id: 10, src: 3, dst: 1, kind: 'produced_by' },
      { id: 11, src: 3, dst: 2, kind: 'derived_from' },
    ],
    truncated: false,
  };

  it('orders nodes by kind, marks the root and keeps the edges', () => {
    const v = buildGraphView(repo, hood, { root: 1, depth: 2, maxNodes: 150 });
    expect(v.nodes.map((n) => n.kind)).toEqual(['run', 'evidence', 'file_range']);
    expect(v.nodes.filter((n) => n.root).map((n) => n.id)).toEqual([1]);
    expect(v).toMatchObject({ root: 1, depth: 2, maxNodes: 150, truncated: false, edges: hood.edges });
  });

  it('a file: a synthetic root node (negative id) containing its ranges', () => {
    const v = buildGraphView(repo, { ...hood, truncated: true }, { root: 2, depth: 3, maxNodes: 150, file: { path: 'a.txt', ref: 'main', ranges: [2, 99] } });
    expect(v.root).toBe(FILE_NODE_ID);
    expect(v.nodes[0]).toMatchObject({ id: -1, kind: 'file', key: 'a.txt', label: 'a.txt', detail: '1 AI-written range', href: '/alice/my%20repo/blob/main/a.txt', graphHref: '/alice/my%20repo/graph?path=a.txt', root: true });
    expect(v.nodes.filter((n) => n.root)).toHaveLength(1);
    // Only ranges that made it into the neighbourhood get an edge.
    expect(v.edges.filter((e) => e.kind === 'contains')).toEqual([{ id: -1, src: -1, dst: 2, kind: 'contains' }]);
    expect(v.truncated).toBe(true);
    // Links keep a non-default depth.
    expect(v.nodes.find((n) => n.id === 3)!.graphHref).toBe('/alice/my%20repo/graph?node=3&depth=3');
  });
});

describe('the JSON data block', () => {
  it('escapes every character that could end the script element or the JavaScript string', () => {
    const v = buildGraphView(repo, { nodes: [{ id: 1, kind: 'run', key: '1', data: { number: 1, title: '</script><script>alert(1)</script> & \u2028' }, created_at: '' }], edges: [], truncated: false }, { root: 1, depth: 2, maxNodes: 150 });
    const json = graphDataJson(v);
    expect(json).not.toMatch(/[<>&\u2028\u2029]/);
    expect(json).toContain('\\u003c/script\\u003e');
    expect(JSON.parse(json).nodes[0].data.title).toBe('</script><script>alert(1)</script> & \u2028');
  });
});

describe('query helpers', () => {
  it('parseDepth: 1…3, clamped; anything else is 2', () => {
    expect([undefined, '', 'abc', '2.5', '1e2', ' ', '0x2'].map(parseDepth)).toEqual([2, 2, 2, 2, 2, 2, 2]);
    expect(['1', '2', '3', '99', '0', '-7', ' 3 '].map(parseDepth)).toEqual([1, 2, 3, 3, 1, 1, 3]);
  });

  it('graphUrl builds encoded query strings', () => {
    expect(graphUrl(repo)).toBe('/alice/my%20repo/graph');
    expect(graphUrl(repo, { run: 4 })).toBe('/alice/my%20repo/graph?run=4');
    expect(graphUrl(repo, { path: 'src/a b&c.ts', depth: 1 })).toBe('/alice/my%20repo/graph?path=src%2Fa+b%26c.ts&depth=1');
    expect(graphUrl(repo, { node: 5, depth: 2 })).toBe('/alice/my%20repo/graph?node=5');
  });

  it('kind names for labels and classes', () => {
    expect(kindLabel('file_range')).toBe('File range');
    expect(kindLabel('file_range', true)).toBe('File ranges');
    expect(kindLabel('weird')).toBe('weird');
    expect(kindClass('pull_request')).toBe('pull-request');
    expect(kindClass('x" onload="y')).toBe('other');
  });
});
