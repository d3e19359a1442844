import { describe, expect, it } from 'vitest';
import { blameGroups } from '../../src/web/routes/ui/code.tsx';
import type { AiBlameRange } from '../../src/services/provenance.ts';

const commit = (sha: string, authoredAt: string) => ({ sha: sha.repeat(40), summary: `commit ${sha}`, author_name: 'Ada', author_email: 'ada@example.com', authored_at: authoredAt, path: 'f.txt' });
const range = (start: number, end: number, c: ReturnType<typeof commit>, captures = 0): AiBlameRange => ({ start_line: start, end_line: end, commit: c, captures: Array.from({ length: captures }, () => ({}) as AiBlameRange['captures'][number]) });

describe('blameGroups', () => {
  const old = commit('a', '2020-01-01T00:00:00Z');
  const mid = commit('b', '2022-01-01T00:00:00Z');
  const recent = commit('c', '2024-01-01T00:00:00Z');
  const html = ['l1', 'l2', 'l3', 'l4', 'l5', 'l6'];

  it('joins the ranges a commit\'s captures split into one group per run of lines, with its age', () => {
    const groups = blameGroups([range(1, 2, old), range(3, 3, recent, 1), range(4, 5, recent), range(6, 6, mid)], html);
    expect(groups.map((g) => [g.commit.sha[0], g.start, g.lines, g.age])).toEqual([
      ['a', 1, ['l1', 'l2'], 0],
      ['c', 3, ['l3', 'l4', 'l5'], 9],
      ['b', 6, ['l6'], 5],
    ]);
    expect(groups[1]!.commit).toMatchObject({ title: 'commit c', authorName: 'Ada', authorDate: '2024-01-01T00:00:00Z' });
  });

  it('keeps separate groups when the same commit returns after another one', () => {
    expect(blameGroups([range(1, 1, old), range(2, 2, mid), range(3, 3, old)], html).map((g) => [g.commit.sha[0], g.start])).toEqual([
      ['a', 1],
      ['b', 2],
      ['a', 3],
    ]);
  });

  it('an empty file has no groups; a single commit is the newest', () => {
    expect(blameGroups([], [])).toEqual([]);
    expect(blameGroups([range(1, 2, old)], html)[0]!.age).toBe(9);
  });
});
