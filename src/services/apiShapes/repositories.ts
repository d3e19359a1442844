import type { AppContext } from '../app.ts';
import { repositoryNetworkPolicy, type RepositoryWithOwner } from '../repositories.ts';
import { type RepoRole, roleToGithubPermissions } from '../../domain/permissions.ts';
import { iso } from './common.ts';
import { simpleUserJson } from './users.ts';

export function repositoryJson(app: AppContext, repo: RepositoryWithOwner, role: RepoRole | null) {
  const base = app.config.baseUrl;
  const fullName = `${repo.owner_name}/${repo.name}`;
  return {
    id: repo.id,
    name: repo.name,
    full_name: fullName,
    owner: simpleUserJson(app, { id: repo.owner_id, username: repo.owner_name, is_admin: repo.owner_is_admin }),
    private: repo.is_private === 1,
    visibility: repo.is_private === 1 ? ('private' as const) : ('public' as const),
    description: repo.description || null,
    fork: false,
    html_url: `${base}/${fullName}`,
    url: `${base}/api/v1/repos/${fullName}`,
    clone_url: `${base}/${fullName}.git`,
    default_branch: repo.default_branch,
    empty: repo.is_empty === 1,
    archived: repo.archived === 1,
    // GitHub's watchers_count is the star count too (a legacy name), not the watchers.
    stargazers_count: repo.stars_count,
    watchers_count: repo.stars_count,
    created_at: iso(repo.created_at)!,
    updated_at: iso(repo.updated_at)!,
    pushed_at: iso(repo.pushed_at),
    ...(role ? { permissions: roleToGithubPermissions(role) } : {}),
    ...(role === 'admin'
      ? { ai_reviews_enabled: repo.ai_reviews_enabled === 1, conflict_resolution_enabled: repo.conflict_resolution_enabled === 1, review_driver: repo.review_driver, review_model: repo.review_model, default_driver: repo.default_driver || null, default_model: repo.default_model || null, agent_network: repositoryNetworkPolicy(repo), run_branch_cleanup: repo.run_branch_cleanup }
      : {}),
  };
}
