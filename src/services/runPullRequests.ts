import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { ServiceError, forbidden, notFound } from './errors.ts';
import type { RepositoryAccess, RepositoryWithOwner } from './repositories.ts';
import { handleRepositoryRefChanges } from './refChanges.ts';
import { pullRequestEvent, refreshPullRequest } from './pulls.ts';
import type { DbOrTx } from '../db/index.ts';
import type { PullRequest, Run, User } from '../db/schema.ts';
import { roleAtLeast } from '../domain/permissions.ts';
import type { RunBranchCleanup } from '../domain/runs.ts';
import { isValidBranchName, ZERO_SHA } from '../domain/refs.ts';
import { runGit } from '../git/exec.ts';
import { resolveCommit } from '../git/tree.ts';
import { compareAndSwapRef } from '../git/mergeCommits.ts';
import { appendEvents } from '../events/outbox.ts';
import { wakeDispatcher } from '../events/wake.ts';

/**
 * The life of a run's draft pull request after the run ends (issue 16): its description tells the
 * outcome; a run that left no commits closes it (and a later push to its branch reopens it); the
 * repository's `run_branch_cleanup` deletes the run's branch once the pull request is closed or merged;
 * a deleted branch can be restored from the pull request.
 */

/** `pull_requests.closed_reason` of a pull request gitoku closed because its run left no commits. */
export const RUN_NO_COMMITS = 'run-no-commits';

async function isAncestor(gitDir: string, ancestor: string, of: string): Promise<boolean> {
  const r = await runGit(['merge-base', '--is-ancestor', '--end-of-options', ancestor, of], { gitDir });
  return r.code === 0;
}

/**
 * Whether a run's branch at `tip` holds no commit of the run's own: it is gone, never moved from where
 * the run cut it, or everything on it is already in the base branch.
 */
export async function runBranchIsEmpty(gitDir: string, run: Pick<Run, 'source_commit' | 'base_branch'>, tip: string | null): Promise<boolean> {
  if (!tip || tip === run.source_commit) return true;
  const base = await resolveCommit(gitDir, `refs/heads/${run.base_branch}`);
  return base ? isAncestor(gitDir, tip, base) : false;
}

export type RunOutcome = { status: 'succeeded'; changed: boolean; summary: string; files: string[] } | { status: 'failed' | 'cancelled'; error: string };

const fence = (text: string) => '```text\n' + text.replace(/```/g, '`​``') + '\n```';

/** The pull request description of a finished run: what happened, what it changed, and the prompt. */
export function runOutcomeBody(run: Pick<Run, 'number' | 'driver' | 'model' | 'prompt' | 'compare_branch'>, repo: Pick<RepositoryWithOwner, 'owner_name' | 'name'>, outcome: RunOutcome, closed: boolean): string {
  const link = `[#${run.number}](/${repo.owner_name}/${repo.name}/runs/${run.number})`;
  const agent = `${run.driver}${run.model ? ` · ${run.model}` : ''}`;
  const lines: string[] = [];
  if (outcome.status === 'succeeded') {
    lines.push(`🤖 Agent run ${link} finished (${agent}).`);
    if (!outcome.changed) lines.push('**No changes**: the agent finished without modifying the repository.');
    if (outcome.summary) lines.push(`### What the agent did\n\n${outcome.summary}`);
    if (outcome.files.length) lines.push(`### Files changed\n\n${outcome.files.slice(0, 100).map((f) => `- \`${f}\``).join('\n')}${outcome.files.length > 100 ? `\n- … and ${outcome.files.length - 100} more` : ''}`);
  } else {
    lines.push(`🤖 Agent run ${link} ${outcome.status === 'failed' ? '**failed**' : '**was cancelled**'} (${agent}).`);
    if (outcome.error) lines.push(fence(outcome.error.slice(0, 4000)));
  }
  if (closed) lines.push(`This pull request was closed because the run left no commits on \`${run.compare_branch}\`. It reopens by itself if a later run pushes to that branch.`);
  else if (outcome.status !== 'succeeded') lines.push(`The commits the run pushed before it stopped are kept on \`${run.compare_branch}\`.`);
  lines.push(`<details><summary>Prompt</summary>\n\n${fence(run.prompt.slice(0, 4000))}\n</details>`);
  return lines.join('\n\n');
}

/**
 * Inside a run's terminal transaction: rewrites its pull request's description with the outcome (unless
 * it was merged), moves its head to the run's commit, and closes it when the run left no commits.
 * Returns the pull request as it was before, and whether this closed it.
 */
export async function settleRunPullRequest(tx: DbOrTx, run: Run, body: string, opts: { headSha?: string; close: boolean }, at: string): Promise<{ pr: PullRequest; closed: boolean } | null> {
  if (!run.pull_request_id) return null;
  const pr = await tx.selectFrom('pull_requests').selectAll().where('id', '=', run.pull_request_id).executeTakeFirst();
  if (!pr || pr.state === 'merged') return null;
  const open = pr.state === 'open';
  const close = open && opts.close;
  await tx
    .updateTable('pull_requests')
    .set({
      body,
      updated_at: at,
      ...(open && opts.headSha ? { head_sha: opts.headSha, mergeable: null } : {}),
      ...(close ? { state: 'closed' as const, closed_at: at, closed_reason: RUN_NO_COMMITS } : {}),
    })
    .where('id', '=', pr.id)
    .where('state', '=', pr.state)
    .execute();
  if (close) await appendEvents(tx, [pullRequestEvent('pull_request.closed', pr, null, { merged: false, reason: RUN_NO_COMMITS, run_id: run.id })], at);
  return { pr, closed: close };
}

/**
 * A branch moved: pull requests gitoku closed because their run left no commits on it are reopened when
 * it now holds commits of its own (a retry or a later run pushed there). Returns the reopened ones.
 */
export async function reopenRunPullRequests(app: AppContext, access: RepositoryAccess, branch: string, tip: string): Promise<PullRequest[]> {
  const closed = await app.db
    .selectFrom('pull_requests')
    .selectAll()
    .where('repository_id', '=', access.repo.id)
    .where('state', '=', 'closed')
    .where('closed_reason', '=', RUN_NO_COMMITS)
    .where('compare_branch', '=', branch)
    .execute();
  const reopened: PullRequest[] = [];
  for (const pr of closed) {
    const base = await resolveCommit(access.gitDir, `refs/heads/${pr.base_branch}`);
    if (!base || tip === pr.head_sha || (await isAncestor(access.gitDir, tip, base))) continue;
    const at = now();
    const done = await app.db.transaction().execute(async (tx) => {
      const other = await tx.selectFrom('pull_requests').select('id').where('repository_id', '=', access.repo.id).where('state', '=', 'open').where('compare_branch', '=', pr.compare_branch).where('base_branch', '=', pr.base_branch).executeTakeFirst();
      if (other) return false;
      const res = await tx
        .updateTable('pull_requests')
        .set({ state: 'open', closed_at: null, closed_reason: '', mergeable: null, updated_at: at })
        .where('id', '=', pr.id)
        .where('state', '=', 'closed')
        .where('closed_reason', '=', RUN_NO_COMMITS)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) return false;
      await appendEvents(tx, [pullRequestEvent('pull_request.reopened', pr, null, { reason: 'branch-pushed', head_sha: tip })], at);
      return true;
    });
    if (!done) continue;
    wakeDispatcher(app);
    const fresh = (await app.db.selectFrom('pull_requests').selectAll().where('id', '=', pr.id).executeTakeFirstOrThrow()) as PullRequest;
    reopened.push(await refreshPullRequest(app, access, fresh));
  }
  return reopened;
}

/**
 * Deletes a finished run's branch once its pull request is closed or merged, as the repository's
 * `run_branch_cleanup` says: never, only when the branch holds no commit of the run's own (the default),
 * or always — and then only when nobody moved the branch since the pull request's head. The deletion
 * goes through the ref ingress. Returns what happened, for the behavior's outcome.
 */
export async function cleanUpRunBranch(app: AppContext, access: RepositoryAccess, run: Run, pr: PullRequest): Promise<string> {
  if (pr.state === 'open') return 'the pull request is open';
  if (!['succeeded', 'failed', 'cancelled'].includes(run.status)) return 'the run has not finished';
  const setting = (access.repo.run_branch_cleanup || 'no-commits') as RunBranchCleanup;
  if (setting === 'never') return 'run branch clean-up is off for this repository';
  const ref = `refs/heads/${run.compare_branch}`;
  if (run.compare_branch === access.repo.default_branch || !isValidBranchName(run.compare_branch)) return 'the branch is not a run branch';
  const tip = await resolveCommit(access.gitDir, ref);
  if (!tip) return `${run.compare_branch} is already deleted`;
  const empty = await runBranchIsEmpty(access.gitDir, run, tip);
  if (setting === 'no-commits' && !empty) return `${run.compare_branch} holds commits: kept (the repository deletes only run branches without commits)`;
  if (!empty && tip !== pr.head_sha) return `${run.compare_branch} moved since the pull request's head: kept`;
  const r = await runGit(['update-ref', '-d', '--end-of-options', ref, tip], { gitDir: access.gitDir });
  if (r.code !== 0) return `${run.compare_branch} moved meanwhile: kept`;
  await handleRepositoryRefChanges(app, access.repo, [{ ref, before: tip, after: ZERO_SHA }], { kind: 'api', actorId: null, details: { pull_request_id: pr.id, run_id: run.id, reason: 'run-branch-cleanup' } });
  return `deleted ${run.compare_branch}`;
}

/** GitHub's "Restore branch": recreates a closed or merged pull request's deleted branch at its head. */
export async function restorePullRequestBranch(app: AppContext, access: RepositoryAccess, actor: User, number: number): Promise<PullRequest> {
  if (!roleAtLeast(access.role, 'write')) throw forbidden('You need write access to restore a branch');
  const pr = await app.db.selectFrom('pull_requests').selectAll().where('repository_id', '=', access.repo.id).where('number', '=', number).executeTakeFirst();
  if (!pr) throw notFound('Pull request not found');
  if (pr.state === 'open') throw new ServiceError(422, 'The pull request is open: its branch is in use');
  const ref = `refs/heads/${pr.compare_branch}`;
  if (await resolveCommit(access.gitDir, ref)) throw new ServiceError(422, `Branch ${pr.compare_branch} already exists`);
  if (!(await resolveCommit(access.gitDir, pr.head_sha))) throw new ServiceError(422, `The branch's last commit ${pr.head_sha.slice(0, 7)} no longer exists`);
  if (!(await compareAndSwapRef(access.gitDir, ref, pr.head_sha, ZERO_SHA))) throw new ServiceError(409, `Branch ${pr.compare_branch} was created meanwhile`);
  await handleRepositoryRefChanges(app, access.repo, [{ ref, before: ZERO_SHA, after: pr.head_sha }], { kind: 'api', actorId: actor.id, details: { pull_request_id: pr.id, reason: 'restore-branch' } });
  return pr;
}

/** Whether a closed or merged pull request's branch is gone (the page offers to restore it). */
export async function pullRequestBranchDeleted(access: RepositoryAccess, pr: PullRequest): Promise<boolean> {
  if (pr.state === 'open') return false;
  return !(await resolveCommit(access.gitDir, `refs/heads/${pr.compare_branch}`));
}
