/**
 * Branch protection rules (pure): which rule covers a branch, and what a push or a pull request merge
 * still lacks under it. GitHub's semantics:
 * - force pushes and deletions are refused for everyone, administrators included, unless the rule
 *   allows them ("rules applied to everyone including administrators");
 * - required status checks and required approving reviews bind administrators only with
 *   `enforce_admins`; without it administrators bypass them;
 * - a branch with required reviews takes changes through pull requests only: a direct push is refused;
 * - creating a branch a rule covers is allowed (its later updates are what the rule governs);
 * - a review by the pull request's author never counts; with `dismiss_stale_reviews` only approvals of
 *   the current head commit count; a reviewer's latest APPROVED/CHANGES_REQUESTED review is theirs.
 */
import { GlobError, globToRegExp } from './glob.ts';
import type { RepoRole } from './permissions.ts';

export interface ProtectionRule {
  id: number;
  pattern: string;
  requiredStatusChecks: { strict: boolean; contexts: string[] } | null;
  requiredReviews: { count: number; dismissStale: boolean } | null;
  enforceAdmins: boolean;
  allowForcePushes: boolean;
  allowDeletions: boolean;
}

export const MAX_PATTERN = 255;
export const MAX_CONTEXTS = 100;
export const MAX_REVIEW_COUNT = 6; // GitHub's upper bound

/** Why a pattern is not usable, or null. Patterns are globs over branch names: `*` within a segment, `**` across. */
export function checkPattern(pattern: string): string | null {
  if (!pattern || pattern.length > MAX_PATTERN) return `pattern must be 1..${MAX_PATTERN} characters`;
  if (/[\0\s\\~^:]/.test(pattern) || pattern.startsWith('/') || pattern.endsWith('/') || pattern.includes('..') || pattern.startsWith('refs/')) {
    return `"${pattern}" is not a valid branch name pattern`;
  }
  try {
    globToRegExp(pattern);
  } catch (err) {
    if (err instanceof GlobError) return err.message;
    throw err;
  }
  return null;
}

export function isWildcardPattern(pattern: string): boolean {
  return /[*?[\]{}]/.test(pattern);
}

export function patternMatches(pattern: string, branch: string): boolean {
  if (pattern === branch) return true;
  if (!isWildcardPattern(pattern)) return false;
  try {
    return globToRegExp(pattern).test(branch);
  } catch {
    return false;
  }
}

/**
 * The rule that governs a branch: a rule naming the branch exactly wins; among wildcard rules the most
 * specific (most literal characters) wins, then the oldest. Null when the branch is not protected.
 */
export function ruleForBranch<R extends Pick<ProtectionRule, 'id' | 'pattern'>>(rules: readonly R[], branch: string): R | null {
  const exact = rules.find((r) => r.pattern === branch);
  if (exact) return exact;
  const literal = (p: string) => p.replace(/[*?[\]{}]/g, '').length;
  const matching = rules.filter((r) => patternMatches(r.pattern, branch)).sort((a, b) => literal(b.pattern) - literal(a.pattern) || a.id - b.id);
  return matching[0] ?? null;
}

/** Whether administrators skip the checks and reviews of a rule. */
export function adminBypasses(rule: ProtectionRule, role: RepoRole): boolean {
  return role === 'admin' && !rule.enforceAdmins;
}

/** Contexts required by the rule that are not `success` in `latestStates` (context → newest state). */
export function missingStatusChecks(rule: ProtectionRule, latestStates: ReadonlyMap<string, string>): string[] {
  if (!rule.requiredStatusChecks) return [];
  return rule.requiredStatusChecks.contexts.filter((ctx) => latestStates.get(ctx) !== 'success');
}

export function statusCheckMessage(missing: readonly string[], required: number): string {
  if (missing.length === 1) return `Required status check "${missing[0]}" is expected.`;
  return `${missing.length} of ${required} required status checks are expected (${missing.map((m) => `"${m}"`).join(', ')}).`;
}

export type PushKind = 'create' | 'update' | 'delete';

export interface PushDecision {
  /** Reasons the update is refused outright. */
  deny: string[];
  /** Set when the update must be a fast-forward (checked where the pushed objects are: the pre-receive hook). */
  noForce: string | null;
}

export const FORCE_PUSH_MESSAGE = 'Cannot force-push to this branch';
export const DELETE_MESSAGE = 'Cannot delete this protected branch';
export const PULL_REQUEST_REQUIRED_MESSAGE = 'Changes must be made through a pull request.';

/** What a push of one protected branch must satisfy. `latestStates`: statuses of the new commit. */
export function decidePush(rule: ProtectionRule, role: RepoRole, kind: PushKind, latestStates: ReadonlyMap<string, string>): PushDecision {
  if (kind === 'delete') return { deny: rule.allowDeletions ? [] : [DELETE_MESSAGE], noForce: null };
  // Creating a branch a rule covers changes nothing protected yet (GitHub restricts it only with block_creations).
  if (kind === 'create') return { deny: [], noForce: null };
  const deny: string[] = [];
  const noForce = kind === 'update' && !rule.allowForcePushes ? FORCE_PUSH_MESSAGE : null;
  if (!adminBypasses(rule, role)) {
    if (rule.requiredReviews) deny.push(PULL_REQUEST_REQUIRED_MESSAGE);
    const missing = missingStatusChecks(rule, latestStates);
    if (missing.length) deny.push(statusCheckMessage(missing, rule.requiredStatusChecks!.contexts.length));
  }
  return { deny, noForce };
}

export interface ReviewFact {
  authorId: number | null;
  state: 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED';
  commitSha: string;
}

export interface MergeFacts {
  role: RepoRole;
  authorId: number | null;
  headSha: string;
  /** Whether the head contains the base branch's tip (for `strict`). */
  upToDate: boolean;
  /** Reviews oldest first. */
  reviews: readonly ReviewFact[];
  /** Statuses of the head commit: context → newest state. */
  latestStates: ReadonlyMap<string, string>;
}

/** What a pull request still lacks before it may merge into a branch under `rule` (empty: nothing). */
export function mergeBlockers(rule: ProtectionRule, facts: MergeFacts): string[] {
  if (adminBypasses(rule, facts.role)) return [];
  const out: string[] = [];
  if (rule.requiredReviews) {
    const latest = new Map<number, ReviewFact>();
    for (const r of facts.reviews) {
      if (r.authorId === null || r.authorId === facts.authorId || r.state === 'COMMENTED') continue;
      latest.set(r.authorId, r);
    }
    const verdicts = [...latest.values()];
    const approvals = verdicts.filter((r) => r.state === 'APPROVED' && (!rule.requiredReviews!.dismissStale || r.commitSha === facts.headSha)).length;
    if (verdicts.some((r) => r.state === 'CHANGES_REQUESTED')) out.push('Changes were requested by a reviewer.');
    const need = rule.requiredReviews.count;
    if (approvals < need) out.push(`At least ${need} approving review${need === 1 ? ' is' : 's are'} required by reviewers with write access (${approvals} so far).`);
  }
  if (rule.requiredStatusChecks) {
    const missing = missingStatusChecks(rule, facts.latestStates);
    if (missing.length) out.push(statusCheckMessage(missing, rule.requiredStatusChecks.contexts.length));
    if (rule.requiredStatusChecks.strict && !facts.upToDate) out.push('The head branch is not up to date with the base branch.');
  }
  return out;
}

/** One line of a refusal as `git push` prints it (no newlines, bounded). */
export function hookLine(text: string): string {
  return text.replace(/[\r\n\0]+/g, ' ').slice(0, 500);
}
