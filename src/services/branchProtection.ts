import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { ServiceError, invalid, notFound } from './errors.ts';
import type { RepositoryAccess } from './repositories.ts';
import { isUniqueViolation } from './users.ts';
import type { BranchProtection, PullRequest } from '../db/schema.ts';
import type { DbOrTx } from '../db/index.ts';
import {
  MAX_CONTEXTS,
  MAX_REVIEW_COUNT,
  type ProtectionRule,
  checkPattern,
  decidePush,
  hookLine,
  mergeBlockers,
  ruleForBranch,
} from '../domain/branchProtection.ts';
import type { RepoRole } from '../domain/permissions.ts';
import { ZERO_SHA } from '../domain/refs.ts';
import { isAncestor } from '../git/merge.ts';

export type { ProtectionRule };

export interface ProtectionInput {
  requiredStatusChecks: { strict: boolean; contexts: string[] } | null;
  requiredReviews: { count: number; dismissStale: boolean } | null;
  enforceAdmins: boolean;
  allowForcePushes: boolean;
  allowDeletions: boolean;
}

export function ruleFromRow(row: BranchProtection): ProtectionRule {
  let contexts: string[] = [];
  try {
    const parsed: unknown = JSON.parse(row.contexts);
    if (Array.isArray(parsed)) contexts = parsed.filter((c): c is string => typeof c === 'string');
  } catch {
    contexts = [];
  }
  return {
    id: row.id,
    pattern: row.pattern,
    requiredStatusChecks: row.required_status_checks ? { strict: row.strict === 1, contexts } : null,
    requiredReviews: row.required_reviews ? { count: row.required_approving_review_count, dismissStale: row.dismiss_stale_reviews === 1 } : null,
    enforceAdmins: row.enforce_admins === 1,
    allowForcePushes: row.allow_force_pushes === 1,
    allowDeletions: row.allow_deletions === 1,
  };
}

/** Every rule of a repository, by pattern. */
export async function listProtectionRules(db: DbOrTx, repositoryId: number): Promise<ProtectionRule[]> {
  const rows = await db.selectFrom('branch_protections').selectAll().where('repository_id', '=', repositoryId).orderBy('pattern').orderBy('id').execute();
  return rows.map(ruleFromRow);
}

/** The rule stored under exactly this pattern. */
export async function findProtectionRule(db: DbOrTx, repositoryId: number, pattern: string): Promise<ProtectionRule | null> {
  if (pattern.includes('\0')) return null;
  const row = await db.selectFrom('branch_protections').selectAll().where('repository_id', '=', repositoryId).where('pattern', '=', pattern).executeTakeFirst();
  return row ? ruleFromRow(row) : null;
}

/** The rule governing a branch (exact pattern first, then the most specific wildcard), or null. */
export async function protectionForBranch(db: DbOrTx, repositoryId: number, branch: string): Promise<ProtectionRule | null> {
  return ruleForBranch(await listProtectionRules(db, repositoryId), branch);
}

function validateInput(input: ProtectionInput): ProtectionInput {
  const checks = input.requiredStatusChecks;
  if (checks) {
    const contexts = [...new Set(checks.contexts.map((c) => c.trim()).filter(Boolean))];
    if (contexts.length > MAX_CONTEXTS) throw invalid(`at most ${MAX_CONTEXTS} required status checks`, 'required_status_checks.contexts');
    if (contexts.some((c) => c.length > 255 || /[\0\r\n]/.test(c))) throw invalid('a status check context must be 1..255 characters on one line', 'required_status_checks.contexts');
    input = { ...input, requiredStatusChecks: { strict: checks.strict, contexts } };
  }
  const reviews = input.requiredReviews;
  if (reviews && (!Number.isInteger(reviews.count) || reviews.count < 0 || reviews.count > MAX_REVIEW_COUNT)) {
    throw invalid(`required_approving_review_count must be between 0 and ${MAX_REVIEW_COUNT}`, 'required_pull_request_reviews.required_approving_review_count');
  }
  return input;
}

/** Creates or replaces the rule on a pattern (GitHub's PUT .../branches/{branch}/protection). */
export async function putProtectionRule(app: AppContext, access: RepositoryAccess, pattern: string, raw: ProtectionInput): Promise<ProtectionRule> {
  const problem = checkPattern(pattern);
  if (problem) throw invalid(problem, 'pattern');
  const input = validateInput(raw);
  const at = now();
  const values = {
    required_status_checks: input.requiredStatusChecks ? 1 : 0,
    strict: input.requiredStatusChecks?.strict ? 1 : 0,
    contexts: JSON.stringify(input.requiredStatusChecks?.contexts ?? []),
    required_reviews: input.requiredReviews ? 1 : 0,
    required_approving_review_count: input.requiredReviews?.count ?? 0,
    dismiss_stale_reviews: input.requiredReviews?.dismissStale ? 1 : 0,
    enforce_admins: input.enforceAdmins ? 1 : 0,
    allow_force_pushes: input.allowForcePushes ? 1 : 0,
    allow_deletions: input.allowDeletions ? 1 : 0,
    updated_at: at,
  };
  const update = () => app.db.updateTable('branch_protections').set(values).where('repository_id', '=', access.repo.id).where('pattern', '=', pattern).executeTakeFirst();
  const res = await update();
  if (Number(res.numUpdatedRows) === 0) {
    try {
      await app.db.insertInto('branch_protections').values({ repository_id: access.repo.id, pattern, created_at: at, ...values }).execute();
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      await update(); // created meanwhile: this request's settings win, as a PUT's should
    }
  }
  return (await findProtectionRule(app.db, access.repo.id, pattern))!;
}

export async function deleteProtectionRule(app: AppContext, access: RepositoryAccess, pattern: string): Promise<void> {
  if (pattern.includes('\0')) throw notFound('Branch not protected');
  const res = await app.db.deleteFrom('branch_protections').where('repository_id', '=', access.repo.id).where('pattern', '=', pattern).executeTakeFirst();
  if (Number(res.numDeletedRows) === 0) throw notFound('Branch not protected');
}

/** The newest state of each status context of a commit. */
export async function latestStatusStates(db: DbOrTx, repositoryId: number, sha: string): Promise<Map<string, string>> {
  const rows = await db.selectFrom('commit_statuses').select(['context', 'state']).where('repository_id', '=', repositoryId).where('sha', '=', sha).orderBy('id', 'desc').execute();
  const out = new Map<string, string>();
  for (const r of rows) if (!out.has(r.context)) out.set(r.context, r.state);
  return out;
}

export interface PushCommand {
  before: string;
  after: string;
  ref: string;
}

/**
 * The pre-receive policy for a push: one line per refusal the hook must make, `deny <ref> <message>`
 * (refused outright) or `noforce <ref> <message>` (refused unless a fast-forward, which only the hook
 * can tell: the pushed objects are in its quarantine). Null when the repository has no rules.
 * `readCommands` is called only when there are rules; null from it means the push's commands could not
 * be read: the whole push is refused.
 */
export async function pushPolicy(app: AppContext, repositoryId: number, role: RepoRole, readCommands: () => Promise<readonly PushCommand[] | null>): Promise<string[] | null> {
  const rules = await listProtectionRules(app.db, repositoryId);
  if (rules.length === 0) return null;
  const commands = await readCommands();
  if (commands === null) return ['deny * Could not read the pushed ref updates; protected branches cannot be checked.'];
  const lines: string[] = [];
  for (const cmd of commands) {
    if (!cmd.ref.startsWith('refs/heads/')) continue;
    const rule = ruleForBranch(rules, cmd.ref.slice('refs/heads/'.length));
    if (!rule) continue;
    const kind = cmd.after === ZERO_SHA ? 'delete' : cmd.before === ZERO_SHA ? 'create' : 'update';
    const states = kind === 'delete' ? new Map<string, string>() : await latestStatusStates(app.db, repositoryId, cmd.after);
    const decision = decidePush(rule, role, kind, states);
    for (const reason of decision.deny) lines.push(`deny ${cmd.ref} ${hookLine(reason)}`);
    if (decision.noForce) lines.push(`noforce ${cmd.ref} ${hookLine(decision.noForce)}`);
  }
  return lines;
}

/**
 * Refuses (405, as GitHub does) a merge the base branch's rule does not allow yet, listing everything
 * still missing: approving reviews, required status checks, an up-to-date head.
 */
export async function assertMergeAllowed(app: AppContext, access: RepositoryAccess, pr: PullRequest): Promise<void> {
  const blockers = await pullRequestMergeBlockers(app, access, pr);
  if (blockers.length) throw new ServiceError(405, `Protected branch ${pr.base_branch}: ${blockers.join(' ')}`);
}

/** What a pull request still lacks under its base branch's rule (empty when nothing, or unprotected). */
export async function pullRequestMergeBlockers(app: AppContext, access: RepositoryAccess, pr: PullRequest): Promise<string[]> {
  const rule = await protectionForBranch(app.db, access.repo.id, pr.base_branch);
  if (!rule) return [];
  const [reviews, latestStates] = await Promise.all([
    app.db.selectFrom('pull_request_reviews').select(['author_id', 'state', 'commit_sha']).where('pull_request_id', '=', pr.id).orderBy('id').execute(),
    latestStatusStates(app.db, access.repo.id, pr.head_sha),
  ]);
  const upToDate = rule.requiredStatusChecks?.strict ? pr.merge_base_sha === pr.base_sha || (await isAncestor(access.gitDir, pr.base_sha, pr.head_sha)) : true;
  return mergeBlockers(rule, {
    role: access.role,
    authorId: pr.author_id,
    headSha: pr.head_sha,
    upToDate,
    reviews: reviews.map((r) => ({ authorId: r.author_id, state: r.state, commitSha: r.commit_sha })),
    latestStates,
  });
}

/** Refuses (422, GitHub's answer) deleting a branch whose rule does not allow deletions. */
export async function assertBranchDeletionAllowed(app: AppContext, repositoryId: number, branch: string): Promise<void> {
  const rule = await protectionForBranch(app.db, repositoryId, branch);
  if (rule && !rule.allowDeletions) throw new ServiceError(422, `Cannot delete protected branch ${branch}`);
}

/** Whether a branch is covered by a rule (the branch JSON's `protected`). */
export async function protectedBranchNames(db: DbOrTx, repositoryId: number, branches: readonly string[]): Promise<Set<string>> {
  const rules = await listProtectionRules(db, repositoryId);
  return new Set(rules.length ? branches.filter((b) => ruleForBranch(rules, b)) : []);
}
