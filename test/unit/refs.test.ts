import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { branchFromRef, isSafeRevision, isSha, isValidBranchName, isValidRefName, ZERO_SHA } from '../../src/domain/refs.ts';

const exec = promisify(execFile);

/** What git itself says about a full ref name. */
async function gitAccepts(ref: string): Promise<boolean> {
  try {
    await exec('git', ['check-ref-format', ref], { env: { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: '1' } });
    return true;
  } catch {
    return false;
  }
}

const VALID_BRANCHES = ['main', 'master', 'feature/x', 'feature/login-page', 'release/v1.2.3', 'a', 'user/name/topic', 'with_underscore', 'UPPER', 'ünïcode', 'a-b.c', 'x@y', 'v1.0'];
const INVALID_BRANCHES = [
  '',
  '-rf',
  '--upload-pack=x',
  'HEAD',
  'refs/heads/main',
  'a..b',
  '..',
  '.hidden',
  'feature/.hidden',
  'a.lock',
  'feature/a.lock',
  'ends.',
  'ends/',
  '/starts',
  'double//slash',
  'has space',
  'tab\there',
  'new\nline',
  'nul\u0000',
  'tilde~1',
  'caret^',
  'colon:x',
  'question?',
  'star*',
  'bracket[',
  'back\\slash',
  'at@{1}',
  'del\u007f',
  'b'.repeat(256),
];

describe('branch names', () => {
  it.each(VALID_BRANCHES)('accepts %j', (name) => {
    expect(isValidBranchName(name)).toBe(true);
  });

  it.each(INVALID_BRANCHES)('rejects %j', (name) => {
    expect(isValidBranchName(name)).toBe(false);
  });

  it('agrees with `git check-ref-format` (never accepts what git rejects)', async () => {
    const names = [...VALID_BRANCHES, ...INVALID_BRANCHES.filter((n) => !n.includes('\u0000') && n.length > 0 && n.length < 256)];
    const verdicts = await Promise.all(names.map(async (n) => [n, await gitAccepts(`refs/heads/${n}`)] as const));
    for (const [name, git] of verdicts) {
      if (isValidBranchName(name)) expect(git, `git rejects ${JSON.stringify(name)} but we accept it`).toBe(true);
    }
    for (const name of VALID_BRANCHES) expect(verdicts.find(([n]) => n === name)![1], name).toBe(true);
  });
});

describe('ref names', () => {
  it('validates full ref names', () => {
    for (const ok of ['refs/heads/main', 'refs/tags/v1.0', 'refs/pull/1/head', 'refs/heads/feature/x']) expect(isValidRefName(ok), ok).toBe(true);
    for (const bad of ['', 'refs/heads/', 'refs/heads/a..b', '/refs/heads/x', 'refs//heads', 'refs/heads/x.lock', 'refs/heads/.x', '@', 'refs/heads/a b', 'refs/heads/x@{0}', 'r'.repeat(1025)]) {
      expect(isValidRefName(bad), bad).toBe(false);
    }
  });
});

describe('revisions and shas', () => {
  it('accepts branch, tag and sha revisions but nothing option-like', () => {
    for (const ok of ['main', 'feature/x', 'v1.0', 'abcd', 'a1b2c3d4', ZERO_SHA, 'refs/heads/main', 'refs/tags/v1']) expect(isSafeRevision(ok), ok).toBe(true);
    for (const bad of ['', '-n', '--output=/tmp/x', 'a..b', 'main~1', 'main^', 'HEAD@{1}', 'x'.repeat(256), 'a b', 'main:path']) expect(isSafeRevision(bad), bad).toBe(false);
  });

  it('recognises full lowercase shas only', () => {
    expect(isSha(ZERO_SHA)).toBe(true);
    expect(isSha('0123456789abcdef0123456789abcdef01234567')).toBe(true);
    expect(isSha('0123456789ABCDEF0123456789ABCDEF01234567')).toBe(false);
    expect(isSha('0123456')).toBe(false);
    expect(isSha('g'.repeat(40))).toBe(false);
    expect(ZERO_SHA).toBe('0'.repeat(40));
  });

  it('extracts the branch from a refs/heads/ ref', () => {
    expect(branchFromRef('refs/heads/main')).toBe('main');
    expect(branchFromRef('refs/heads/feature/x')).toBe('feature/x');
    expect(branchFromRef('refs/tags/v1')).toBeNull();
    expect(branchFromRef('main')).toBeNull();
  });
});
