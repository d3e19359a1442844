import { describe, expect, it } from 'vitest';
import { diffRefs, isTrackedRef, nextRepositoryState, planRefChanges } from '../../src/services/refChanges.ts';
import { ZERO_SHA } from '../../src/domain/refs.ts';

describe('nextRepositoryState', () => {
  const main = { default_branch: 'main' };

  it('is empty without branches and keeps the configured default', () => {
    expect(nextRepositoryState(main, [])).toEqual({ isEmpty: true, defaultBranch: 'main' });
    expect(nextRepositoryState({ default_branch: 'trunk' }, [])).toEqual({ isEmpty: true, defaultBranch: 'trunk' });
  });

  it('keeps the default branch while it exists', () => {
    expect(nextRepositoryState(main, ['main'])).toEqual({ isEmpty: false, defaultBranch: 'main' });
    expect(nextRepositoryState(main, ['dev', 'main', 'master'])).toEqual({ isEmpty: false, defaultBranch: 'main' });
    expect(nextRepositoryState({ default_branch: 'dev' }, ['dev', 'main'])).toEqual({ isEmpty: false, defaultBranch: 'dev' });
  });

  it('moves to master when a first push brings only master into a "main" repository', () => {
    expect(nextRepositoryState(main, ['master'])).toEqual({ isEmpty: false, defaultBranch: 'master' });
  });

  it('prefers main, then master, then the first branch when the default is missing', () => {
    expect(nextRepositoryState({ default_branch: 'trunk' }, ['feature', 'main', 'master'])).toEqual({ isEmpty: false, defaultBranch: 'main' });
    expect(nextRepositoryState({ default_branch: 'trunk' }, ['feature', 'master'])).toEqual({ isEmpty: false, defaultBranch: 'master' });
    expect(nextRepositoryState(main, ['feature/x', 'zeta'])).toEqual({ isEmpty: false, defaultBranch: 'feature/x' });
    expect(nextRepositoryState(main, ['only'])).toEqual({ isEmpty: false, defaultBranch: 'only' });
  });
});

describe('planRefChanges (compare-and-set against the recorded refs)', () => {
  const [X, Y, Z, W] = ['1', '2', '3', '4'].map((d) => d.repeat(40)) as [string, string, string, string];
  const main = 'refs/heads/main';
  const map = (entries: Record<string, string>) => new Map(Object.entries(entries));

  it('emits the next move of a ref and records it', () => {
    const plan = planRefChanges([{ ref: main, before: X, after: Y }], map({ [main]: X }), map({ [main]: Y }));
    expect(plan.emit).toEqual([{ ref: main, before: X, after: Y }]);
    expect([...plan.writes]).toEqual([[main, Y]]);
  });

  it('emits nothing for a change already recorded (a reconcile got there first)', () => {
    const plan = planRefChanges([{ ref: main, before: X, after: Y }], map({ [main]: Y }), map({ [main]: Y }));
    expect(plan.emit).toEqual([]);
    expect(plan.writes.size).toBe(0);
  });

  it('takes `before` from the record when moves in between were lost, and records deletions as ZERO_SHA', () => {
    const plan = planRefChanges(
      [
        { ref: main, before: Y, after: Z },
        { ref: 'refs/tags/v1', before: W, after: ZERO_SHA },
      ],
      map({ [main]: X, 'refs/tags/v1': X }),
      map({ [main]: Z }),
    );
    expect(plan.emit).toEqual([
      { ref: main, before: X, after: Z },
      { ref: 'refs/tags/v1', before: X, after: ZERO_SHA },
    ]);
    expect(plan.writes.get('refs/tags/v1')).toBe(ZERO_SHA);
  });

  it('never moves the record backwards: a change recorded after a later one of the same ref emits nothing', () => {
    // Two pushes X→Y then Y→Z; the second records first (net X→Z), then the first arrives late.
    const first = planRefChanges([{ ref: main, before: Y, after: Z }], map({ [main]: X }), map({ [main]: Z }));
    expect(first.emit).toEqual([{ ref: main, before: X, after: Z }]);
    const late = planRefChanges([{ ref: main, before: X, after: Y }], map({ [main]: Z }), map({ [main]: Z }));
    expect(late.emit).toEqual([]);
    expect(late.writes.size).toBe(0);
  });

  it('records in order when the older move records first while the disk already moved on', () => {
    const plan = planRefChanges([{ ref: main, before: X, after: Y }], map({ [main]: X }), map({ [main]: Z }));
    expect(plan.emit).toEqual([{ ref: main, before: X, after: Y }]);
    expect(plan.writes.get(main)).toBe(Y);
  });

  it('passes untracked refs (gitoku-ai notes, other namespaces) through as reported', () => {
    const changes = [
      { ref: 'refs/notes/gitoku-ai', before: X, after: Y },
      { ref: 'refs/pull/1/head', before: ZERO_SHA, after: Y },
    ];
    const plan = planRefChanges(changes, map({}), map({}));
    expect(plan.emit).toEqual(changes);
    expect(plan.writes.size).toBe(0);
  });
});

describe('isTrackedRef and diffRefs', () => {
  const [X, Y] = ['1', '2'].map((d) => d.repeat(40)) as [string, string];

  it('tracks branches, tags and notes, except gitoku’s own notes', () => {
    expect(['refs/heads/a', 'refs/tags/v1', 'refs/notes/commits', 'refs/notes/ai'].every(isTrackedRef)).toBe(true);
    expect(['refs/notes/gitoku-ai', 'refs/pull/1/head', 'refs/remotes/origin/main', 'HEAD'].some(isTrackedRef)).toBe(false);
  });

  it('lists created, moved and deleted tracked refs, recorded → disk, by name', () => {
    const recorded = new Map([
      ['refs/heads/moved', X],
      ['refs/heads/same', X],
      ['refs/tags/gone', X],
    ]);
    const disk = new Map([
      ['refs/heads/moved', Y],
      ['refs/heads/same', X],
      ['refs/heads/new', Y],
      ['refs/notes/gitoku-ai', Y],
    ]);
    expect(diffRefs(recorded, disk)).toEqual([
      { ref: 'refs/heads/moved', before: X, after: Y },
      { ref: 'refs/heads/new', before: ZERO_SHA, after: Y },
      { ref: 'refs/tags/gone', before: X, after: ZERO_SHA },
    ]);
  });
});
