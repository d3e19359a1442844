import { describe, expect, it } from 'vitest';
import { nextRepositoryState } from '../../src/services/refChanges.ts';

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
