import { z } from 'zod';
import type { AppContext } from '../../../services/app.ts';
import type { ApiRegistry } from './registry.ts';
import { errorSchema, repositoryJson } from './shapes.ts';
import { repoFromPath } from './repos.ts';
import { requireIdentity } from './guards.ts';
import { ServiceError, invalid, notFound } from '../../../services/errors.ts';
import type { RepositoryWithOwner } from '../../../services/repositories.ts';
import { type ProtectionRule, deleteProtectionRule, findProtectionRule, listProtectionRules, putProtectionRule } from '../../../services/branchProtection.ts';
import { ruleForBranch } from '../../../domain/branchProtection.ts';
import { transferRepository } from '../../../services/repositorySettings.ts';

/** GitHub's PUT body: the four required keys may be null; `restrictions` (users/teams who may push) is organisation-only there, and not supported here. */
const protectionBody = z.object({
  required_status_checks: z
    .object({
      strict: z.boolean().default(false),
      contexts: z.array(z.string().max(255)).max(100).optional(),
      checks: z.array(z.object({ context: z.string().max(255), app_id: z.number().nullish() })).max(100).optional(),
    })
    .nullable(),
  enforce_admins: z.boolean().nullable(),
  required_pull_request_reviews: z
    .object({
      dismiss_stale_reviews: z.boolean().default(false),
      require_code_owner_reviews: z.boolean().optional(),
      required_approving_review_count: z.number().int().min(0).max(6).default(1),
      require_last_push_approval: z.boolean().optional(),
      dismissal_restrictions: z.unknown().optional(),
      bypass_pull_request_allowances: z.unknown().optional(),
    })
    .nullable(),
  restrictions: z.unknown().nullable(),
  required_linear_history: z.boolean().nullish(),
  allow_force_pushes: z.boolean().nullish(),
  allow_deletions: z.boolean().nullish(),
  block_creations: z.boolean().nullish(),
  required_conversation_resolution: z.boolean().nullish(),
  lock_branch: z.boolean().nullish(),
  allow_fork_syncing: z.boolean().nullish(),
});

const transferBody = z.object({ new_owner: z.string().max(255), new_name: z.string().max(100).optional(), team_ids: z.array(z.number()).optional() });

/** A rule in GitHub's branch protection shape. */
export function protectionJson(app: AppContext, repo: RepositoryWithOwner, branch: string, rule: ProtectionRule) {
  const url = `${app.config.baseUrl}/api/v1/repos/${repo.owner_name}/${repo.name}/branches/${encodeURIComponent(branch)}/protection`;
  const off = { enabled: false };
  return {
    url,
    pattern: rule.pattern,
    required_status_checks: rule.requiredStatusChecks
      ? {
          url: `${url}/required_status_checks`,
          strict: rule.requiredStatusChecks.strict,
          contexts: rule.requiredStatusChecks.contexts,
          checks: rule.requiredStatusChecks.contexts.map((context) => ({ context, app_id: null })),
          contexts_url: `${url}/required_status_checks/contexts`,
        }
      : undefined,
    required_pull_request_reviews: rule.requiredReviews
      ? {
          url: `${url}/required_pull_request_reviews`,
          dismiss_stale_reviews: rule.requiredReviews.dismissStale,
          require_code_owner_reviews: false,
          required_approving_review_count: rule.requiredReviews.count,
          require_last_push_approval: false,
        }
      : undefined,
    enforce_admins: { url: `${url}/enforce_admins`, enabled: rule.enforceAdmins },
    required_signatures: { url: `${url}/required_signatures`, enabled: false },
    required_linear_history: off,
    allow_force_pushes: { enabled: rule.allowForcePushes },
    allow_deletions: { enabled: rule.allowDeletions },
    block_creations: off,
    required_conversation_resolution: off,
    lock_branch: off,
    allow_fork_syncing: off,
  };
}

/**
 * Branch protection (GitHub's `/branches/{branch}/protection`; `{branch}` may be a pattern such as
 * `release/*`) and repository transfer. Registered before `/branches/{branch+}`, which would take
 * `main/protection` for a branch name.
 */
export function registerBranchProtectionRoutes(api: ApiRegistry): void {
  const path = '/repos/{owner}/{repo}/branches/{branch+}/protection';

  api.add(
    { method: 'get', path, summary: 'Branch protection of a branch (the rule on exactly this pattern, else the rule covering the branch)', tag: 'branches', access: 'repo', responses: { 200: { description: 'The rule' }, 404: { description: 'Branch not protected', schema: errorSchema } } },
    async (c) => {
      const app = c.get('app');
      const access = await repoFromPath(c, 'admin');
      const branch = c.req.param('branch')!;
      const rule = (await findProtectionRule(app.db, access.repo.id, branch)) ?? ruleForBranch(await listProtectionRules(app.db, access.repo.id), branch);
      if (!rule) throw notFound('Branch not protected');
      return c.json(protectionJson(app, access.repo, branch, rule));
    },
  );

  api.add(
    { method: 'put', path, summary: 'Protect a branch or branch name pattern (GitHub’s body)', tag: 'branches', access: 'repo', body: protectionBody, responses: { 200: { description: 'The rule' }, 422: { description: 'Invalid rule', schema: errorSchema } } },
    async (c, { body }) => {
      const app = c.get('app');
      const access = await repoFromPath(c, 'admin');
      const branch = c.req.param('branch')!;
      if (body.restrictions !== null && body.restrictions !== undefined) throw invalid('Only organization repositories can have users and team restrictions', 'restrictions');
      const checks = body.required_status_checks;
      const contexts = checks ? [...(checks.contexts ?? []), ...(checks.checks ?? []).map((k) => k.context)] : [];
      const reviews = body.required_pull_request_reviews;
      const rule = await putProtectionRule(app, access, branch, {
        requiredStatusChecks: checks ? { strict: checks.strict, contexts } : null,
        requiredReviews: reviews ? { count: reviews.required_approving_review_count, dismissStale: reviews.dismiss_stale_reviews } : null,
        enforceAdmins: body.enforce_admins === true,
        allowForcePushes: body.allow_force_pushes === true,
        allowDeletions: body.allow_deletions === true,
      });
      return c.json(protectionJson(app, access.repo, branch, rule));
    },
  );

  api.add(
    { method: 'delete', path, summary: 'Remove the protection rule of a branch or pattern', tag: 'branches', access: 'repo', responses: { 204: { description: 'Removed' }, 404: { description: 'Branch not protected', schema: errorSchema } } },
    async (c) => {
      const access = await repoFromPath(c, 'admin');
      await deleteProtectionRule(c.get('app'), access, c.req.param('branch')!);
      return c.body(null, 204);
    },
  );

  api.add(
    { method: 'post', path: '/repos/{owner}/{repo}/transfer', summary: 'Transfer a repository to another user (the old owner/name redirects)', tag: 'repos', access: 'repo', body: transferBody, responses: { 202: { description: 'Transferred' }, 422: { description: 'No such user, or the name is taken', schema: errorSchema } } },
    async (c, { body }) => {
      const app = c.get('app');
      const access = await repoFromPath(c, 'admin');
      if (body.team_ids?.length) throw new ServiceError(422, 'team_ids apply to organizations only', 'team_ids');
      const repo = await transferRepository(app, access, body.new_owner, requireIdentity(c).user.id, body.new_name);
      return c.json(repositoryJson(app, repo, null), 202);
    },
  );
}
