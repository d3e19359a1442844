/** Access rules for repositories and tokens (pure). */

export type RepoRole = 'none' | 'read' | 'write' | 'admin';
export type TokenScope = 'repo' | 'admin';
export const TOKEN_SCOPES: readonly TokenScope[] = ['repo', 'admin'];

/**
 * What an API route needs from its caller. Every route declares one (`RouteSpec.access`) and the API
 * registry checks it before the handler runs: this table is the one place that says how far each
 * token scope reaches. Sessions and passwords (browser, git Basic with a password) carry every scope.
 *
 * - `public`: reads of public resources. No sign-in, no scope. Repository data still goes through
 *   `repositoryRole`, where a token without `repo` counts as an anonymous caller, so such a token (or
 *   one with no scopes at all) sees exactly what an anonymous visitor sees.
 * - `user`: the caller's own account (`GET /user`, `GET /user/repos`). Any sign-in, any token; what
 *   it lists is still cut down to public repositories for a token without `repo`.
 * - `repo`: anything touching private repositories, every write, collaborators, runs and tokens
 *   (GitHub's `repo` scope).
 * - `admin`: site administration: a site administrator, with the `admin` scope when using a token.
 */
export type RouteAccess = 'public' | 'user' | 'repo' | 'admin';

export interface RouteAccessRule {
  /** A caller must be signed in (else 401). */
  signIn: boolean;
  /** A token must carry this scope (else 403). */
  scope: TokenScope | null;
  /** The user must be a site administrator (else 403). */
  siteAdmin: boolean;
}

export const ROUTE_ACCESS: Readonly<Record<RouteAccess, RouteAccessRule>> = {
  public: { signIn: false, scope: null, siteAdmin: false },
  user: { signIn: true, scope: null, siteAdmin: false },
  repo: { signIn: true, scope: 'repo', siteAdmin: false },
  admin: { signIn: true, scope: 'admin', siteAdmin: true },
};

const RANK: Record<RepoRole, number> = { none: 0, read: 1, write: 2, admin: 3 };

export function roleAtLeast(role: RepoRole, needed: RepoRole): boolean {
  return RANK[role] >= RANK[needed];
}

export interface Viewer {
  userId: number;
  isAdmin: boolean;
  /** Scopes of the token the request used; null when signed in with a password or session (all scopes). */
  tokenScopes: readonly TokenScope[] | null;
  /**
   * Set for an agent job's token: it may read and write this repository only, and push only
   * `allowedRef` and (when set) refs named `allowedRefPrefix` + a step number (a run's checkpoint refs).
   */
  jobScope?: { repositoryId: number; allowedRef: string; allowedRefPrefix?: string | null };
}

/** Whether the credentials a viewer used carry `scope` (sessions and passwords carry every scope). */
export function hasScope(viewer: Viewer, scope: TokenScope): boolean {
  return viewer.tokenScopes === null || viewer.tokenScopes.includes(scope);
}

/** Why a viewer may not call a route of the given access class, or null when it may. */
export function routeAccessDenial(viewer: Viewer | null, access: RouteAccess): { status: 401 | 403; message: string } | null {
  const rule = ROUTE_ACCESS[access];
  if (!rule.signIn) return null;
  if (!viewer) return { status: 401, message: 'Requires authentication' };
  if (rule.scope && !hasScope(viewer, rule.scope)) return { status: 403, message: `This token needs the "${rule.scope}" scope` };
  if (rule.siteAdmin && !viewer.isAdmin) return { status: 403, message: 'Must be a site administrator' };
  return null;
}

export interface RepoAccessFacts {
  repositoryId?: number;
  ownerId: number;
  isPrivate: boolean;
  collaboratorRole: 'read' | 'write' | 'admin' | null;
}

/**
 * The role a viewer has on a repository. A token without the `repo` scope reaches only what
 * anonymous visitors can (public repositories, read-only), as on GitHub.
 */
export function repositoryRole(viewer: Viewer | null, repo: RepoAccessFacts): RepoRole {
  const anonymous: RepoRole = repo.isPrivate ? 'none' : 'read';
  if (!viewer) return anonymous;
  if (viewer.jobScope) return viewer.jobScope.repositoryId === repo.repositoryId ? 'write' : anonymous;
  if (!hasScope(viewer, 'repo')) return anonymous;
  if (viewer.isAdmin && hasScope(viewer, 'admin')) return 'admin';
  if (viewer.userId === repo.ownerId) return 'admin';
  const collaborator: RepoRole = repo.collaboratorRole ?? 'none';
  return RANK[collaborator] > RANK[anonymous] ? collaborator : anonymous;
}

/** Whether a viewer may use site administration (user management etc.). */
export function canAdministerSite(viewer: Viewer | null): boolean {
  return !!viewer && routeAccessDenial(viewer, 'admin') === null;
}

/** GitHub's collaborator permission names ↔ gitoku roles. */
export const GITHUB_PERMISSION_TO_ROLE = { pull: 'read', triage: 'read', push: 'write', maintain: 'write', admin: 'admin' } as const;

export function roleToGithubPermissions(role: RepoRole) {
  return {
    admin: role === 'admin',
    maintain: role === 'admin',
    push: roleAtLeast(role, 'write'),
    triage: roleAtLeast(role, 'read'),
    pull: roleAtLeast(role, 'read'),
  };
}

export function parseScopes(input: string): TokenScope[] | { error: string } {
  const parts = input
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = parts.filter((p) => !TOKEN_SCOPES.includes(p as TokenScope));
  if (bad.length) return { error: `unknown scope ${bad.map((b) => `"${b}"`).join(', ')} (known: ${TOKEN_SCOPES.join(', ')})` };
  return [...new Set(parts as TokenScope[])];
}
