import { describe, expect, it } from 'vitest';
import {
  canAdministerSite,
  GITHUB_PERMISSION_TO_ROLE,
  hasScope,
  parseScopes,
  ROUTE_ACCESS,
  type RouteAccess,
  routeAccessDenial,
  type RepoAccessFacts,
  type RepoRole,
  repositoryRole,
  roleAtLeast,
  roleToGithubPermissions,
  type TokenScope,
  type Viewer,
} from '../../src/domain/permissions.ts';

const OWNER = 1;
const OTHER = 2;
const viewer = (userId: number, opts: { admin?: boolean; scopes?: TokenScope[] | null } = {}): Viewer => ({ userId, isAdmin: opts.admin ?? false, tokenScopes: opts.scopes === undefined ? null : opts.scopes });
const repo = (isPrivate: boolean, collaboratorRole: RepoAccessFacts['collaboratorRole'] = null): RepoAccessFacts => ({ ownerId: OWNER, isPrivate, collaboratorRole });

describe('repositoryRole', () => {
  const cases: [string, Viewer | null, RepoAccessFacts, RepoRole][] = [
    ['anonymous, public', null, repo(false), 'read'],
    ['anonymous, private', null, repo(true), 'none'],
    ['owner, private', viewer(OWNER), repo(true), 'admin'],
    ['owner via repo token', viewer(OWNER, { scopes: ['repo'] }), repo(true), 'admin'],
    ['stranger, public', viewer(OTHER), repo(false), 'read'],
    ['stranger, private', viewer(OTHER), repo(true), 'none'],
    ['read collaborator, private', viewer(OTHER), repo(true, 'read'), 'read'],
    ['write collaborator, private', viewer(OTHER), repo(true, 'write'), 'write'],
    ['admin collaborator, public', viewer(OTHER), repo(false, 'admin'), 'admin'],
    ['write collaborator, public', viewer(OTHER), repo(false, 'write'), 'write'],
    ['site admin (session), private', viewer(OTHER, { admin: true }), repo(true), 'admin'],
    ['site admin, token with admin scope', viewer(OTHER, { admin: true, scopes: ['repo', 'admin'] }), repo(true), 'admin'],
    // Token scopes cap what the user could otherwise do.
    ['site admin, token without admin scope', viewer(OTHER, { admin: true, scopes: ['repo'] }), repo(true), 'none'],
    ['site admin, token without admin scope, public', viewer(OTHER, { admin: true, scopes: ['repo'] }), repo(false), 'read'],
    ['owner, token without repo scope, private', viewer(OWNER, { scopes: ['admin'] }), repo(true), 'none'],
    ['owner, token without repo scope, public', viewer(OWNER, { scopes: ['admin'] }), repo(false), 'read'],
    ['owner, token with no scopes, public', viewer(OWNER, { scopes: [] }), repo(false), 'read'],
    ['write collaborator, token without repo scope', viewer(OTHER, { scopes: [] }), repo(true, 'write'), 'none'],
  ];
  it.each(cases)('%s', (_label, v, facts, expected) => {
    expect(repositoryRole(v, facts)).toBe(expected);
  });
});

describe('roles and scopes', () => {
  it('orders roles none < read < write < admin', () => {
    const order: RepoRole[] = ['none', 'read', 'write', 'admin'];
    for (const [i, a] of order.entries()) for (const [j, b] of order.entries()) expect(roleAtLeast(a, b), `${a} >= ${b}`).toBe(i >= j);
  });

  it('site administration needs an admin user and, with a token, the admin scope', () => {
    expect(canAdministerSite(null)).toBe(false);
    expect(canAdministerSite(viewer(OTHER))).toBe(false);
    expect(canAdministerSite(viewer(OTHER, { admin: true }))).toBe(true);
    expect(canAdministerSite(viewer(OTHER, { admin: true, scopes: ['admin'] }))).toBe(true);
    expect(canAdministerSite(viewer(OTHER, { admin: true, scopes: ['repo'] }))).toBe(false);
    expect(canAdministerSite(viewer(OTHER, { scopes: ['admin'] }))).toBe(false);
  });

  it('maps GitHub permissions to roles and back', () => {
    expect(GITHUB_PERMISSION_TO_ROLE).toEqual({ pull: 'read', triage: 'read', push: 'write', maintain: 'write', admin: 'admin' });
    expect(roleToGithubPermissions('none')).toEqual({ admin: false, maintain: false, push: false, triage: false, pull: false });
    expect(roleToGithubPermissions('read')).toEqual({ admin: false, maintain: false, push: false, triage: true, pull: true });
    expect(roleToGithubPermissions('write')).toEqual({ admin: false, maintain: false, push: true, triage: true, pull: true });
    expect(roleToGithubPermissions('admin')).toEqual({ admin: true, maintain: true, push: true, triage: true, pull: true });
  });

  it('parses scope lists', () => {
    expect(parseScopes('repo')).toEqual(['repo']);
    expect(parseScopes('repo,admin')).toEqual(['repo', 'admin']);
    expect(parseScopes(' repo , admin repo ')).toEqual(['repo', 'admin']);
    expect(parseScopes('')).toEqual([]);
    expect(parseScopes('repo,write:packages')).toEqual({ error: 'unknown scope "write:packages" (known: repo, admin)' });
    expect(parseScopes('Repo')).toHaveProperty('error');
  });
});

describe('route access (the reach of each token scope)', () => {
  const ANON = 'anonymous';
  const callers: Record<string, Viewer | null> = {
    [ANON]: null,
    session: viewer(OWNER),
    'no scopes': viewer(OWNER, { scopes: [] }),
    repo: viewer(OWNER, { scopes: ['repo'] }),
    'admin scope, not a site admin': viewer(OWNER, { scopes: ['admin'] }),
    'site admin session': viewer(OTHER, { admin: true }),
    'site admin, admin scope': viewer(OTHER, { admin: true, scopes: ['admin'] }),
    'site admin, repo scope': viewer(OTHER, { admin: true, scopes: ['repo'] }),
  };
  // The whole table: caller × access → null (allowed) or the status of the refusal.
  const expected: Record<string, Record<RouteAccess, null | 401 | 403>> = {
    [ANON]: { public: null, user: 401, repo: 401, admin: 401 },
    session: { public: null, user: null, repo: null, admin: 403 },
    'no scopes': { public: null, user: null, repo: 403, admin: 403 },
    repo: { public: null, user: null, repo: null, admin: 403 },
    'admin scope, not a site admin': { public: null, user: null, repo: 403, admin: 403 },
    'site admin session': { public: null, user: null, repo: null, admin: null },
    'site admin, admin scope': { public: null, user: null, repo: 403, admin: null },
    'site admin, repo scope': { public: null, user: null, repo: null, admin: 403 },
  };
  it.each(Object.keys(callers))('%s', (name) => {
    const got = Object.fromEntries((Object.keys(ROUTE_ACCESS) as RouteAccess[]).map((a) => [a, routeAccessDenial(callers[name]!, a)?.status ?? null]));
    expect(got).toEqual(expected[name]);
  });

  it('names the missing scope', () => {
    expect(routeAccessDenial(viewer(OWNER, { scopes: [] }), 'repo')).toEqual({ status: 403, message: 'This token needs the "repo" scope' });
    expect(routeAccessDenial(viewer(OWNER, { scopes: ['repo'] }), 'admin')).toEqual({ status: 403, message: 'This token needs the "admin" scope' });
    expect(routeAccessDenial(viewer(OWNER), 'admin')).toEqual({ status: 403, message: 'Must be a site administrator' });
  });

  it('sessions and passwords carry every scope; tokens only theirs', () => {
    expect(hasScope(viewer(OWNER), 'repo')).toBe(true);
    expect(hasScope(viewer(OWNER), 'admin')).toBe(true);
    expect(hasScope(viewer(OWNER, { scopes: [] }), 'repo')).toBe(false);
    expect(hasScope(viewer(OWNER, { scopes: ['admin'] }), 'repo')).toBe(false);
    expect(hasScope(viewer(OWNER, { scopes: ['repo'] }), 'repo')).toBe(true);
  });

  it('a token with no scopes is an anonymous caller to every repository, even its own or one it collaborates on', () => {
    for (const facts of [repo(true), repo(false), repo(true, 'admin'), repo(false, 'write')]) {
      expect(repositoryRole(viewer(OWNER, { scopes: [] }), facts)).toBe(repositoryRole(null, facts));
      expect(repositoryRole(viewer(OTHER, { scopes: [] }), facts)).toBe(repositoryRole(null, facts));
      expect(repositoryRole(viewer(OTHER, { admin: true, scopes: ['admin'] }), facts)).toBe(repositoryRole(null, facts));
    }
  });
});
