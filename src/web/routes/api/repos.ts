import { z } from 'zod';
import { RUN_BRANCH_CLEANUP } from '../../../domain/runs.ts';
import type { Context } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { ApiRegistry } from './registry.ts';
import { paginationQuery, setPaginationLinks } from './registry.ts';
import { branchJson, branchSchema, errorSchema, gitCommitJson, repositoryJson, repositorySchema, simpleUserJson, simpleUserSchema } from './shapes.ts';
import { requireIdentity, viewerOf } from './guards.ts';
import { registerBranchProtectionRoutes } from './branchProtection.ts';
import { protectedBranchNames, protectionForBranch } from '../../../services/branchProtection.ts';
import { renameRepository, setRepositoryArchived } from '../../../services/repositorySettings.ts';
import { removeRepositoryData } from '../../../services/repositoryDeletion.ts';
import {
  authorizeRepository,
  listCollaboratorsFor,
  removeCollaborator,
  setCollaborator,
  updateRepository,
} from '../../../services/repositories.ts';
import { listBranches, readCommits } from '../../../git/refs.ts';
import { type RepoRole, GITHUB_PERMISSION_TO_ROLE, roleToGithubPermissions } from '../../../domain/permissions.ts';
import { notFound } from '../../../services/errors.ts';
import { isValidBranchName } from '../../../domain/refs.ts';

const updateRepoBody = z.object({
  name: z.string().optional(),
  description: z.string().max(2000).nullish(),
  private: z.boolean().optional(),
  visibility: z.enum(['public', 'private']).optional(),
  default_branch: z.string().optional(),
  ai_reviews_enabled: z.boolean().optional(),
  conflict_resolution_enabled: z.boolean().optional(),
  review_driver: z.string().optional(),
  review_model: z.string().max(255).optional(),
  review_instructions: z.string().max(65536).optional(),
  default_driver: z.string().max(32).optional(),
  default_model: z.string().max(255).optional(),
  agent_network: z.enum(['none', 'model-only', 'allow-list', 'open']).optional(),
  agent_network_hosts: z.union([z.string().max(8192), z.array(z.string().max(253)).max(100)]).optional(),
  run_branch_cleanup: z.enum(RUN_BRANCH_CLEANUP).optional(),
  archived: z.boolean().optional(),
});

const collaboratorBody = z.object({ permission: z.enum(['pull', 'triage', 'push', 'maintain', 'admin']).default('push') });

/** Loads the repository named in the path with the caller's access, requiring `needed`. */
export async function repoFromPath(c: Context<WebEnv>, needed: RepoRole = 'read') {
  return authorizeRepository(c.get('app'), c.req.param('owner')!, c.req.param('repo')!, viewerOf(c), needed);
}

export function registerRepoRoutes(api: ApiRegistry): void {
  const repoResponses = { 200: { description: 'The repository', schema: repositorySchema }, 404: { description: 'Not found or no access', schema: errorSchema } };

  api.add({ method: 'get', path: '/repos/{owner}/{repo}', summary: 'A repository', tag: 'repos', access: 'public', responses: repoResponses }, async (c) => {
    const access = await repoFromPath(c);
    return c.json(repositoryJson(c.get('app'), access.repo, viewerOf(c) ? access.role : null));
  });

  api.add({ method: 'patch', path: '/repos/{owner}/{repo}', summary: 'Update a repository', tag: 'repos', access: 'repo', body: updateRepoBody, responses: repoResponses }, async (c, { body }) => {
    const app = c.get('app');
    let access = await repoFromPath(c, 'admin');
    // A rename first (it moves the directory and leaves a redirect), then the rest on the renamed repository.
    if (body.name !== undefined && body.name !== access.repo.name) {
      const renamed = await renameRepository(app, access, body.name, requireIdentity(c).user.id);
      access = await authorizeRepository(app, renamed.owner_name, renamed.name, viewerOf(c), 'admin');
    }
    const isPrivate = body.visibility ? body.visibility === 'private' : body.private;
    let repo = await updateRepository(app, access, {
      description: body.description === null ? '' : body.description,
      isPrivate,
      defaultBranch: body.default_branch,
      aiReviewsEnabled: body.ai_reviews_enabled,
      conflictResolutionEnabled: body.conflict_resolution_enabled,
      reviewDriver: body.review_driver,
      reviewModel: body.review_model,
      reviewInstructions: body.review_instructions,
      defaultDriver: body.default_driver,
      defaultModel: body.default_model,
      agentNetwork: body.agent_network,
      agentNetworkHosts: Array.isArray(body.agent_network_hosts) ? body.agent_network_hosts.join(' ') : body.agent_network_hosts,
      runBranchCleanup: body.run_branch_cleanup,
    });
    if (body.archived !== undefined) repo = await setRepositoryArchived(app, { ...access, repo }, body.archived);
    return c.json(repositoryJson(app, repo, access.role));
  });

  api.add({ method: 'delete', path: '/repos/{owner}/{repo}', summary: 'Delete a repository', tag: 'repos', access: 'repo', responses: { 204: { description: 'Deleted' } } }, async (c) => {
    const access = await repoFromPath(c, 'admin');
    await removeRepositoryData(c.get('app'), access);
    return c.body(null, 204);
  });

  api.add(
    { method: 'get', path: '/repos/{owner}/{repo}/branches', summary: 'Branches', tag: 'branches', access: 'public', query: paginationQuery, responses: { 200: { description: 'Branches', schema: z.array(branchSchema) } } },
    async (c, { query }) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const branches = await listBranches(access.gitDir);
      setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, branches.length);
      const page = branches.slice((query.page - 1) * query.per_page, query.page * query.per_page);
      const protectedNames = await protectedBranchNames(app.db, access.repo.id, page.map((b) => b.name));
      return c.json(page.map((b) => branchJson(app, access.repo, b.name, b.sha, protectedNames.has(b.name))));
    },
  );

  registerBranchProtectionRoutes(api); // before /branches/{branch+}, which would take "main/protection" for a branch
  api.add(
    { method: 'get', path: '/repos/{owner}/{repo}/branches/{branch+}', summary: 'A branch with its head commit', tag: 'branches', access: 'public', responses: { 200: { description: 'The branch' }, 404: { description: 'No such branch', schema: errorSchema } } },
    async (c) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const name = c.req.param('branch')!;
      if (!isValidBranchName(name)) throw notFound('Branch not found');
      const branch = (await listBranches(access.gitDir)).find((b) => b.name === name);
      if (!branch) throw notFound('Branch not found');
      const [commit] = await readCommits(access.gitDir, [branch.sha]);
      const base = `${app.config.baseUrl}/api/v1/repos/${access.repo.owner_name}/${access.repo.name}`;
      const rule = await protectionForBranch(app.db, access.repo.id, branch.name);
      return c.json({
        ...branchJson(app, access.repo, branch.name, branch.sha, rule !== null),
        protection: rule ? { enabled: true, required_status_checks: { enforcement_level: rule.enforceAdmins ? 'everyone' : 'non_admins', contexts: rule.requiredStatusChecks?.contexts ?? [] } } : { enabled: false, required_status_checks: { enforcement_level: 'off', contexts: [] } },
        protection_url: `${base}/branches/${encodeURIComponent(branch.name)}/protection`,
        commit: gitCommitJson(app, access.repo, commit!),
        _links: { self: `${base}/branches/${encodeURIComponent(branch.name)}`, html: `${app.config.baseUrl}/${access.repo.owner_name}/${access.repo.name}/tree/${branch.name}` },
      });
    },
  );

  api.add(
    {
      method: 'get',
      path: '/repos/{owner}/{repo}/collaborators',
      summary: 'Collaborators',
      tag: 'collaborators',
      access: 'repo',
      query: paginationQuery,
      responses: { 200: { description: 'Collaborators with their permissions', schema: z.array(simpleUserSchema) } },
    },
    async (c, { query }) => {
      const app = c.get('app');
      const rows = await listCollaboratorsFor(app, await repoFromPath(c));
      setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, rows.length);
      const page = rows.slice((query.page - 1) * query.per_page, query.page * query.per_page);
      return c.json(
        page.map((r) => ({
          ...simpleUserJson(app, r.user),
          permissions: roleToGithubPermissions(r.role),
          role_name: r.role,
        })),
      );
    },
  );

  api.add(
    {
      method: 'put',
      path: '/repos/{owner}/{repo}/collaborators/{username}',
      summary: 'Add a collaborator or change their permission',
      tag: 'collaborators',
      access: 'repo',
      body: collaboratorBody,
      responses: { 201: { description: 'Added' }, 204: { description: 'Permission updated' } },
    },
    async (c, { body }) => {
      const app = c.get('app');
      const access = await repoFromPath(c, 'admin');
      const { created } = await setCollaborator(app, access.repo, c.req.param('username')!, GITHUB_PERMISSION_TO_ROLE[body.permission]);
      return created ? c.json({ permissions: body.permission }, 201) : c.body(null, 204);
    },
  );

  api.add(
    { method: 'delete', path: '/repos/{owner}/{repo}/collaborators/{username}', summary: 'Remove a collaborator', tag: 'collaborators', access: 'repo', responses: { 204: { description: 'Removed' } } },
    async (c) => {
      const access = await repoFromPath(c, 'admin');
      await removeCollaborator(c.get('app'), access.repo, c.req.param('username')!);
      return c.body(null, 204);
    },
  );

  api.add(
    { method: 'get', path: '/repos/{owner}/{repo}/collaborators/{username}/permission', summary: "A user's permission on the repository", tag: 'collaborators', access: 'repo', responses: { 200: { description: 'Permission' } } },
    async (c) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const rows = await listCollaboratorsFor(app, access);
      const username = c.req.param('username')!.toLowerCase();
      const row = rows.find((r) => r.user.lower_name === username);
      const isOwner = access.repo.owner_name.toLowerCase() === username;
      if (!row && !isOwner) throw notFound('Not a collaborator');
      const role = isOwner ? 'admin' : row!.role;
      return c.json({ permission: role === 'read' ? 'read' : role, role_name: role, user: isOwner ? null : simpleUserJson(app, row!.user) });
    },
  );
}
