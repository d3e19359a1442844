import type { AppContext } from './app.ts';
import { tokensOf } from '../domain/runs.ts';
import { now } from './app.ts';
import { forbidden, invalid, notFound, ServiceError } from './errors.ts';
import type { RepositoryAccess } from './repositories.ts';
import { buildPromptPullRequestJob, cancelRun, draftPromptPullRequestJob, launchPromptPullRequestJob, type RunRequest, type ValidatedRun } from './runs.ts';
import { combineStatuses, listCommitStatuses } from './statuses.ts';
import { updatePullRequest } from './pulls.ts';
import { runDiff } from './uiRuns.ts';
import type { DiffResult } from '../git/diff.ts';
import type { Run, RunGroup, User } from '../db/schema.ts';
import { roleAtLeast } from '../domain/permissions.ts';

/**
 * Best-of-N (issue 13): one task run N ways — N attempts of the same request, or N variants (driver,
 * model, prompt) — as sibling runs through the one launch path, each with its own branch and draft PR.
 * The group compares them, ranks them (checks passed, then the AI review's verdict, then the smaller
 * diff) and keeps one: its PR is marked ready for review, the others are closed (their branches stay).
 */
export const MAX_ATTEMPTS = 8;

export interface Variant {
  driver?: string;
  model?: string;
  prompt?: string;
}

export async function createRunGroup(app: AppContext, access: RepositoryAccess, actor: User, base: RunRequest, opts: { attempts?: number; variants?: Variant[] }): Promise<{ group: RunGroup; runs: Run[] }> {
  if (!roleAtLeast(access.role, 'write')) throw forbidden(`${actor.username} needs write access to start an agent run`);
  if (opts.attempts !== undefined && opts.variants !== undefined) throw invalid('give either attempts or variants, not both', 'attempts');
  let variants: Variant[];
  if (opts.variants !== undefined) {
    if (!Array.isArray(opts.variants) || opts.variants.length < 1 || opts.variants.length > MAX_ATTEMPTS) throw invalid(`variants must list 1 to ${MAX_ATTEMPTS} variants`, 'variants');
    variants = opts.variants;
  } else {
    const n = opts.attempts ?? 1;
    if (!Number.isInteger(n) || n < 1 || n > MAX_ATTEMPTS) throw invalid(`attempts must be between 1 and ${MAX_ATTEMPTS}`, 'attempts');
    variants = Array.from({ length: n }, () => ({}));
  }
  // Every attempt is validated before anything is created.
  const drafts: ValidatedRun[] = [];
  for (const [i, v] of variants.entries()) {
    const driverChanged = !!v.driver && v.driver !== base.driver;
    const request: RunRequest = { ...base, prompt: v.prompt ?? base.prompt, driver: v.driver ?? base.driver, model: v.model ?? (driverChanged ? undefined : base.model) };
    const draft = buildPromptPullRequestJob(app, access, request);
    const suffix = ` [${i + 1}/${variants.length}]`;
    draft.title = draft.title.slice(0, 256 - suffix.length) + suffix;
    drafts.push(await draftPromptPullRequestJob(app, access, actor, draft));
  }
  const group = await app.db
    .insertInto('run_groups')
    .values({ repository_id: access.repo.id, created_by_id: actor.id, prompt: base.prompt, created_at: now(), kept_run_id: null })
    .returningAll()
    .executeTakeFirstOrThrow();
  const runs: Run[] = [];
  for (const d of drafts) runs.push(await launchPromptPullRequestJob(app, access, actor, { ...d, groupId: group.id }));
  return { group, runs };
}

export async function getRunGroup(app: AppContext, repositoryId: number, id: number): Promise<RunGroup> {
  if (!Number.isSafeInteger(id) || id < 1 || id > 2_147_483_647) throw notFound('Run group not found');
  const group = await app.db.selectFrom('run_groups').selectAll().where('id', '=', id).where('repository_id', '=', repositoryId).executeTakeFirst();
  if (!group) throw notFound('Run group not found');
  return group;
}

export async function groupRuns(app: AppContext, groupId: number): Promise<Run[]> {
  return app.db.selectFrom('prompt_pull_request_jobs').selectAll().where('group_id', '=', groupId).orderBy('number').execute();
}

export type ChecksState = 'success' | 'failure' | 'pending' | 'none';
export type ReviewVerdict = 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED' | null;

export interface AttemptFacts {
  run: Run;
  pullRequest: { id: number; number: number; state: string; draft: boolean } | null;
  diff: { files: number; additions: number; deletions: number } | null;
  /** The files the attempt changed (the first 200), for the side-by-side view. */
  files: { path: string; additions: number; deletions: number }[];
  /** The attempt's whole diff (from its source commit), for the page; null before it has a result. */
  patch: DiffResult | null;
  checks: { state: ChecksState; contexts: { context: string; state: string; description: string }[] };
  review: ReviewVerdict;
  tokens: number | null;
  durationMs: number | null;
}

export interface RankedAttempt extends AttemptFacts {
  rank: number;
  reason: string;
}


/** What the group page and API compare per attempt. */
export async function attemptFacts(app: AppContext, access: RepositoryAccess, run: Run): Promise<AttemptFacts> {
  const pr = run.pull_request_id ? await app.db.selectFrom('pull_requests').select(['id', 'number', 'state', 'draft']).where('id', '=', run.pull_request_id).executeTakeFirst() : undefined;
  const diff = await runDiff(access, run).catch(() => null);
  let checks: AttemptFacts['checks'] = { state: 'none', contexts: [] };
  if (run.commit_sha) {
    const combined = combineStatuses(await listCommitStatuses(app, access.repo.id, run.commit_sha));
    checks = { state: !combined.statuses.length ? 'none' : combined.state === 'error' ? 'failure' : combined.state, contexts: combined.statuses.map((s) => ({ context: s.context, state: s.state, description: s.description })) };
  }
  const review = pr ? await app.db.selectFrom('pull_request_reviews').select('state').where('pull_request_id', '=', pr.id).orderBy('id', 'desc').executeTakeFirst() : undefined;
  return {
    run,
    pullRequest: pr ? { id: pr.id, number: pr.number, state: pr.state, draft: pr.draft === 1 } : null,
    diff: diff ? { files: diff.files.length, additions: diff.files.reduce((n, f) => n + f.additions, 0), deletions: diff.files.reduce((n, f) => n + f.deletions, 0) } : null,
    files: (diff?.files ?? []).slice(0, 200).map((f) => ({ path: f.path, additions: f.additions, deletions: f.deletions })),
    patch: diff,
    checks,
    review: review?.state ?? null,
    tokens: tokensOf(run.usage),
    durationMs: run.started_at && run.finished_at ? Date.parse(run.finished_at) - Date.parse(run.started_at) : null,
  };
}

const CHECK_ORDER: Record<ChecksState, number> = { success: 0, none: 1, pending: 2, failure: 3 };
const REVIEW_ORDER = (v: ReviewVerdict) => (v === 'APPROVED' ? 0 : v === 'CHANGES_REQUESTED' ? 2 : 1);
const CHECK_WORDS: Record<ChecksState, string> = { success: 'its checks passed', none: 'it has no checks', pending: 'its checks are pending', failure: 'its checks failed' };
const REVIEW_WORDS = (v: ReviewVerdict) => (v === 'APPROVED' ? 'the AI review approved it' : v === 'CHANGES_REQUESTED' ? 'the AI review requested changes' : v === 'COMMENTED' ? 'the AI review only commented' : 'it has no AI review');
const lines = (a: AttemptFacts) => (a.diff ? a.diff.additions + a.diff.deletions : Number.MAX_SAFE_INTEGER);

/**
 * Ranks attempts: succeeded runs first, then checks passed, then the review's verdict, then the smaller
 * diff (then the earlier run). Each attempt's reason says what put it above the next one.
 */
export function rankAttempts(attempts: AttemptFacts[]): RankedAttempt[] {
  const key = (a: AttemptFacts): number[] => [a.run.status === 'succeeded' ? 0 : 1, CHECK_ORDER[a.checks.state], REVIEW_ORDER(a.review), lines(a), a.run.number];
  const sorted = [...attempts].sort((x, y) => {
    const kx = key(x);
    const ky = key(y);
    for (let i = 0; i < kx.length; i++) if (kx[i] !== ky[i]) return kx[i]! - ky[i]!;
    return 0;
  });
  return sorted.map((a, i) => {
    const next = sorted[i + 1];
    let reason: string;
    if (a.run.status !== 'succeeded') reason = `the run ${a.run.status}`;
    else if (!next) reason = sorted.length === 1 ? 'the only attempt' : 'ranked last';
    else if (next.run.status !== 'succeeded') reason = `it succeeded (#${next.run.number} ${next.run.status})`;
    else if (CHECK_ORDER[a.checks.state] !== CHECK_ORDER[next.checks.state]) reason = `${CHECK_WORDS[a.checks.state]} (#${next.run.number}: ${CHECK_WORDS[next.checks.state].replace(/^its |^it /, '')})`;
    else if (REVIEW_ORDER(a.review) !== REVIEW_ORDER(next.review)) reason = `${REVIEW_WORDS(a.review)} (#${next.run.number}: ${REVIEW_WORDS(next.review)})`;
    else if (lines(a) !== lines(next)) reason = `smaller diff: ${a.diff ? lines(a) : '?'} changed lines vs ${next.diff ? lines(next) : '?'} in #${next.run.number}`;
    else reason = `tied with #${next.run.number}; the earlier run first`;
    return { ...a, rank: i + 1, reason };
  });
}

export async function compareRunGroup(app: AppContext, access: RepositoryAccess, group: RunGroup): Promise<RankedAttempt[]> {
  const runs = await groupRuns(app, group.id);
  return rankAttempts(await Promise.all(runs.map((r) => attemptFacts(app, access, r))));
}

/**
 * Keeps one attempt: its pull request becomes ready for review; the other attempts still at work are
 * cancelled and every other open pull request of the group is closed (branches stay).
 */
export async function keepRunGroupAttempt(app: AppContext, access: RepositoryAccess, actor: User, group: RunGroup, runNumber: number): Promise<RunGroup> {
  if (!roleAtLeast(access.role, 'write')) throw forbidden('You need write access to keep an attempt');
  const runs = await groupRuns(app, group.id);
  const kept = runs.find((r) => r.number === runNumber);
  if (!kept) throw invalid(`run #${runNumber} is not an attempt of this group (attempts: ${runs.map((r) => `#${r.number}`).join(', ')})`, 'run');
  if (kept.status !== 'succeeded') throw new ServiceError(409, `run #${runNumber} has not succeeded (${kept.status}); only a finished attempt can be kept`);
  const prNumber = async (r: Run) => (r.pull_request_id ? await app.db.selectFrom('pull_requests').select(['number', 'state', 'draft']).where('id', '=', r.pull_request_id).executeTakeFirst() : undefined);
  const keptPr = await prNumber(kept);
  if (keptPr && keptPr.state === 'open' && keptPr.draft === 1) await updatePullRequest(app, access, actor, keptPr.number, { draft: false });
  for (const r of runs) {
    if (r.id === kept.id) continue;
    // An attempt still at work is abandoned: cancelled, so it neither spends tokens nor reopens its PR.
    if (r.status === 'queued' || r.status === 'running') await cancelRun(app, access, actor, r.number).catch(() => undefined);
    const pr = await prNumber(r);
    if (pr && pr.state === 'open') await updatePullRequest(app, access, actor, pr.number, { state: 'closed' });
  }
  await app.db.updateTable('run_groups').set({ kept_run_id: kept.id }).where('id', '=', group.id).execute();
  return { ...group, kept_run_id: kept.id };
}

/** The group a run belongs to, if any (for the run page's link). */
export async function findGroupOfRun(app: AppContext, run: Run): Promise<RunGroup | undefined> {
  if (run.group_id === null) return undefined;
  return app.db.selectFrom('run_groups').selectAll().where('id', '=', run.group_id).executeTakeFirst();
}
