import { describe, expect, it } from 'vitest';
import { checkRepositoryName, checkUsername, isValidEmail, isValidRepositoryName, isValidUsername, stripGitSuffix } from '../../src/domain/names.ts';

describe('usernames', () => {
  it.each(['a', 'alice', 'Alice-Smith', 'a_b', 'a.b', 'x1', '0day', 'a'.repeat(39), 'a-b-c'])('accepts %j', (name) => {
    expect(checkUsername(name)).toEqual({ ok: true });
    expect(isValidUsername(name)).toBe(true);
  });

  it.each([
    ['', /required/],
    ['a'.repeat(40), /too long/],
    ['..', /may only contain/],
    ['a..b', /may only contain/],
    ['-alice', /may only contain/],
    ['alice-', /may only contain/],
    ['.alice', /may only contain/],
    ['a--b', /may only contain/],
    ['has space', /may only contain/],
    ['a/b', /may only contain/],
    ['ünïcode', /may only contain/],
    ['a\u0000b', /may only contain/],
    ['api', /reserved/],
    ['API', /reserved/],
    ['healthz', /reserved/],
  ])('rejects %j', (name, reason) => {
    const check = checkUsername(name);
    expect(check.ok).toBe(false);
    expect(check.ok ? '' : check.reason).toMatch(reason);
    expect(isValidUsername(name)).toBe(false);
  });
});

describe('repository names', () => {
  it.each(['repo', 'Hello-World', 'my_repo', 'a.b', 'v1.2.3', '.github', 'x', 'r'.repeat(100), '_private', 'gitx'])('accepts %j', (name) => {
    expect(checkRepositoryName(name)).toEqual({ ok: true });
    expect(isValidRepositoryName(name)).toBe(true);
  });

  it.each([
    ['', /required/],
    ['r'.repeat(101), /too long/],
    ['..', /\.\./],
    ['a..b', /\.\./],
    ['.', /"\."/],
    ['-rf', /start with "-"/],
    ['x.git', /\.git/],
    ['x.git.git', /\.git/],
    ['X.GIT', /\.git/],
    ['has space', /may only contain/],
    ['a/b', /may only contain/],
    ['../etc', /may only contain/],
    ['a\\b', /may only contain/],
    ['a\u0000', /may only contain/],
    ['semi;colon', /may only contain/],
    ['ünïcode', /may only contain/],
  ])('rejects %j', (name, reason) => {
    const check = checkRepositoryName(name);
    expect(check.ok).toBe(false);
    expect(check.ok ? '' : check.reason).toMatch(reason);
  });

  it('strips exactly one trailing .git (any case) from URL segments', () => {
    expect(stripGitSuffix('repo.git')).toBe('repo');
    expect(stripGitSuffix('repo.GIT')).toBe('repo');
    expect(stripGitSuffix('repo.git.git')).toBe('repo.git');
    expect(stripGitSuffix('repo')).toBe('repo');
    expect(stripGitSuffix('.git')).toBe('');
  });
});

describe('email addresses', () => {
  it('accepts ordinary addresses and rejects malformed ones', () => {
    expect(isValidEmail('a@example.com')).toBe(true);
    expect(isValidEmail('first.last+tag@sub.example.org')).toBe(true);
    for (const bad of ['', 'plain', 'a@b', '@example.com', 'a@@example.com', 'a b@example.com', 'a@exa mple.com', '<a@example.com>', `${'a'.repeat(320)}@example.com`]) {
      expect(isValidEmail(bad), bad).toBe(false);
    }
  });
});
