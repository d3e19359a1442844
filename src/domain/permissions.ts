/** Access rules for repositories and tokens (pure). */

export type RepoRole = 'none' | 'read' | 'write' | 'admin';
export type TokenScope = 'repo' | 'admin';
export const TOKEN_SCOPES: readonly TokenScope[] = ['repo', 'admin'];

const RANK: Record<RepoRole, number> = { none: 0, read: 1, write: 2, admin: 3 };

export function roleAtLeast(role: RepoRole, needed: RepoRole): boolean {
  return RANK[role] >= RANK[needed];
}

export interface Viewer {
  userId: number;
  isAdmin: boolean;
  /** Scopes of the token the request used; null when signed in with a password or session (all scopes). */
  tokenScopes: readonly TokenScope[] | null;
  /** Set for an agent job's token: it may read and write (one ref of) this repository only. */
  jobScope?: { repositoryId: number; allowedRef: string };
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
  if (viewer.tokenScopes && !viewer.tokenScopes.includes('repo')) return anonymous;
  if (viewer.isAdmin && (viewer.tokenScopes === null || viewer.tokenScopes.includes('admin'))) return 'admin';
  if (viewer.userId === repo.ownerId) return 'admin';
  const collaborator: RepoRole = repo.collaboratorRole ?? 'none';
  return RANK[collaborator] > RANK[anonymous] ? collaborator : anonymous;
}

/** Whether a viewer may use site administration (user management etc.). */
export function canAdministerSite(viewer: Viewer | null): boolean {
  return !!viewer && viewer.isAdmin && (viewer.tokenScopes === null || viewer.tokenScopes.includes('admin'));
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
