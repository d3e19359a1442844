import { describe, expect, it } from 'vitest';
import { viewGraphNode } from '../../src/services/uiGraph.ts';

const repo = { owner_name: 'alice', name: 'app' };
const SHA = 'abcdef0123456789abcdef0123456789abcdef01';

describe('graph node panel facts: people-facing fields and links, no internal ids (issue 16)', () => {
  it('a run: its number, title, agent, model, status, commit and branch, each linked where it has a page', () => {
    const v = viewGraphNode(repo, { id: 17, kind: 'run', key: '3', data: { run_id: 3, number: 5, title: 'Fix it', driver: 'codex', model: 'gpt-5', status: 'succeeded', commit_sha: SHA, compare_branch: 'gitoku/run-5', pull_request_id: 9 } });
    expect(v.facts).toEqual([
      { label: 'Run', value: '#5', href: '/alice/app/runs/5' },
      { label: 'Title', value: 'Fix it', href: null },
      { label: 'Agent', value: 'codex', href: null },
      { label: 'Model', value: 'gpt-5', href: null },
      { label: 'Status', value: 'succeeded', href: null },
      { label: 'Commit', value: 'abcdef0', href: `/alice/app/commit/${SHA}` },
      { label: 'Branch', value: 'gitoku/run-5', href: '/alice/app/tree/gitoku/run-5' },
    ]);
  });

  it('evidence and a range: model, evidence, confidence, file and lines; never a *_id, a node id or a key', () => {
    const evidence = viewGraphNode(repo, { id: 4, kind: 'evidence', key: `${SHA}:0`, data: { capture_id: 8, commit_sha: SHA, capture_index: 0, source_family: 'claude', exact_model_name: 'claude-opus-4', evidence_kind: 'commit_trailer', capture_confidence: 0.3, run_id: 2 } });
    expect(evidence.facts.map((f) => [f.label, f.value])).toEqual([
      ['Agent', 'claude'],
      ['Model', 'claude-opus-4'],
      ['Evidence', 'commit trailer'],
      ['Confidence', '30%'],
      ['Commit', 'abcdef0'],
      ['Capture', '0 of abcdef0'],
    ]);
    const range = viewGraphNode(repo, { id: 5, kind: 'file_range', key: 'k', data: { path: 'src/a.ts', start_line: 3, end_line: 7, commit_sha: SHA } });
    expect(range.facts).toEqual([
      { label: 'File', value: 'src/a.ts', href: `/alice/app/blob/${SHA}/src/a.ts` },
      { label: 'Lines', value: 'L3–L7', href: `/alice/app/blob/${SHA}/src/a.ts#L3-L7` },
      { label: 'Commit', value: 'abcdef0', href: `/alice/app/commit/${SHA}` },
    ]);
    const pr = viewGraphNode(repo, { id: 6, kind: 'pull_request', key: '12', data: { pull_request_id: 30, number: 12 } });
    expect(pr.facts).toEqual([{ label: 'Pull request', value: '#12', href: '/alice/app/pull/12' }]);
    for (const v of [evidence, range, pr]) {
      const text = JSON.stringify(v.facts);
      expect(text).not.toMatch(/_id|Key|Node|"8"|"30"/);
    }
  });
});
