import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { ServiceError, forbidden, invalid, notFound } from './errors.ts';
import { type RepositoryAccess, assertNotArchived } from './repositories.ts';
import { assertMergeAllowed, protectionForBranch } from './branchProtection.ts';
import { handleRepositoryRefChanges } from './refChanges.ts';
import { isUniqueViolation } from './users.ts';
import type { PullRequest, User } from '../db/schema.ts';
import type { DbOrTx } from '../db/index.ts';
import { roleAtLeast } from '../domain/permissions.ts';
import { isValidBranchName, ZERO_SHA } from '../domain/refs.ts';
import { listRefs } from '../git/refs.ts';
import { resolveCommit } from '../git/tree.ts';
import { mergeBase, mergeTree } from '../git/merge.ts';
import { compareAndSwapRef, createMergeCommit, createSquashCommit, MergeConflictError, type MergeMethod, rebaseCommits } from '../git/mergeCommits.ts';
import { listCommits } from '../git/log.ts';
import { appendEvents } from '../events/outbox.ts';
import { runGit } from '../git/exec.ts';
import { wakeDispatcher } from '../events/wake.ts';
import { carryProvenanceThroughMerge } from './provenanceMerge.ts';
import { commitsToLink, linkCapturesToPullRequest } from './provenance.ts';
import { nextIssueNumber } from './issueNumbers.ts';

export const MAX_TITLE = 256;
export const MAX_BODY = 65536;

export interface CreatePullRequestInput {
  title: string;
  body?: string;
  head: string;
  base: string;
  draft?: boolean;
}

function checkText(title: string | undefined, body: string | undefined): void {
  if (title !== undefined && (title.trim().length === 0 || title.length > MAX_TITLE)) throw invalid(`title is required (at most ${MAX_TITLE} characters)`, 'title');
  if (body !== undefined && body.length > MAX_BODY) throw invalid(`body is too long (at most ${MAX_BODY} characters)`, 'body');
}

async function branchSha(access: RepositoryAccess, branch: string): Promise<string | null> {
  if (!isValidBranchName(branch)) return null;
  // Through the long-lived cat-file process: no git spawn per lookup on hot pages.
  return resolveCommit(access.gitDir, `refs/heads/${branch}`);
}

/** "owner:branch" (GitHub's head label) → branch; only same-repository heads exist in gitoku. */
function branchFromLabel(access: RepositoryAccess, label: string): string {
  const colon = label.indexOf(':');
  if (colon < 0) return label;
  if (label.slice(0, colon).toLowerCase() !== access.repo.owner_name.toLowerCase()) throw invalid('head must be a branch of this repository', 'head');
  return label.slice(colon + 1);
}

export async function createPullRequest(app: AppContext, access: RepositoryAccess, actor: User, input: CreatePullRequestInput, db: DbOrTx = app.db): Promise<PullRequest> {
  assertNotArchived(access);
  if (!roleAtLeast(access.role, 'write')) throw forbidden('You need write access to open a pull request');
  checkText(input.title, input.body);
  const head = branchFromLabel(access, input.head);
  const base = branchFromLabel(access, input.base);
  const headSha = await branchSha(access, head);
  if (!headSha) throw invalid(`head branch "${head}" does not exist`, 'head');
  const baseSha = await branchSha(access, base);
  if (!baseSha) throw invalid(`base branch "${base}" does not exist`, 'base');
  if (head === base) throw invalid('head and base must be different branches', 'head');
  const existing = await db
    .selectFrom('pull_requests')
    .select('number')
    .where('repository_id', '=', access.repo.id)
    .where('state', '=', 'open')
    .where('compare_branch', '=', head)
    .where('base_branch', '=', base)
    .executeTakeFirst();
  if (existing) throw invalid(`A pull request already exists for ${head} → ${base} (#${existing.number})`, 'head');
  const mb = await mergeBase(access.gitDir, baseSha, headSha);
  if (!mb) throw invalid(`${head} and ${base} have no history in common`, 'head');
  const merged = await mergeTree(access.gitDir, baseSha, headSha);
  const toLink = await commitsToLink(db, access, { head_sha: headSha, base_sha: baseSha, merge_base_sha: mb });

  for (let attempt = 0; attempt < 5; attempt++) {
    const at = now();
    try {
      const insert = async (tx: DbOrTx) => {
        // One sequence with issues (services/issueNumbers.ts): #N is an issue or a pull request, never both.
        const number = await nextIssueNumber(tx, access.repo.id);
        const pr = await tx
          .insertInto('pull_requests')
          .values({
            repository_id: access.repo.id,
            number,
            title: input.title.trim(),
            body: input.body ?? '',
            state: 'open',
            draft: input.draft ? 1 : 0,
            base_branch: base,
            compare_branch: head,
            head_sha: headSha,
            base_sha: baseSha,
            merge_base_sha: mb,
            mergeable: merged.clean ? 1 : 0,
            conflict_files: JSON.stringify(merged.conflicts),
            author_id: actor.id,
            merged_at: null,
            merged_by_id: null,
            merge_commit_sha: null,
            merge_method: null,
            closed_at: null,
            created_at: at,
            updated_at: at,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        await linkCapturesToPullRequest(tx, access.repo.id, pr, toLink);
        await appendEvents(tx, [pullRequestEvent('pull_request.opened', pr, actor.id, { head_sha: headSha, base_sha: baseSha, draft: pr.draft === 1 })], at);
        return pr;
      };
      const pr = db === app.db ? await app.db.transaction().execute(insert) : await insert(db);
      wakeDispatcher(app);
      return pr;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
  }
  throw new ServiceError(409, 'Could not allocate a pull request number; try again');
}

export function pullRequestEvent(type: string, pr: PullRequest, actorId: number | null, extra: Record<string, unknown> = {}) {
  return {
    type,
    repositoryId: pr.repository_id,
    subject: `pull/${pr.number}`,
    payload: { pull_request_id: pr.id, number: pr.number, base_branch: pr.base_branch, compare_branch: pr.compare_branch, actor_id: actorId, ...extra },
  };
}

export interface ListPullRequestsOptions {
  state: 'open' | 'closed' | 'all';
  base?: string;
  head?: string;
  authorId?: number;
  page: number;
  perPage: number;
}

export async function listPullRequests(app: AppContext, access: RepositoryAccess, opts: ListPullRequestsOptions): Promise<{ items: PullRequest[]; total: number }> {
  let q = app.db.selectFrom('pull_requests').where('repository_id', '=', access.repo.id);
  if (opts.state === 'open') q = q.where('state', '=', 'open');
  else if (opts.state === 'closed') q = q.where('state', 'in', ['closed', 'merged']);
  if (opts.base) q = q.where('base_branch', '=', opts.base);
  if (opts.head) q = q.where('compare_branch', '=', branchFromLabel(access, opts.head));
  if (opts.authorId) q = q.where('author_id', '=', opts.authorId);
  const items = await q
    .selectAll()
    .orderBy('number', 'desc')
    .limit(opts.perPage)
    .offset((opts.page - 1) * opts.perPage)
    .execute();
  const total = Number((await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  return { items, total };
}

async function findPullRequest(db: DbOrTx, repositoryId: number, number: number): Promise<PullRequest | undefined> {
  return db.selectFrom('pull_requests').selectAll().where('repository_id', '=', repositoryId).where('number', '=', number).executeTakeFirst();
}

/**
 * Loads a pull request with its head and mergeability brought up to date: when either branch moved
 * since the last computation, the head is synchronised and `merge-tree` recomputes mergeability.
 */
export async function getPullRequest(app: AppContext, access: RepositoryAccess, number: number): Promise<PullRequest> {
  if (!Number.isSafeInteger(number) || number < 1 || number > 2_147_483_647) throw notFound('Pull request not found');
  const pr = await findPullRequest(app.db, access.repo.id, number);
  if (!pr) throw notFound('Pull request not found');
  return refreshPullRequest(app, access, pr);
}

export async function refreshPullRequest(app: AppContext, access: RepositoryAccess, pr: PullRequest): Promise<PullRequest> {
  if (pr.state !== 'open') return pr;
  const headSha = (await branchSha(access, pr.compare_branch)) ?? pr.head_sha;
  const baseSha = (await branchSha(access, pr.base_branch)) ?? pr.base_sha;
  if (headSha === pr.head_sha && baseSha === pr.base_sha && pr.mergeable !== null) return pr;
  const mb = await mergeBase(access.gitDir, baseSha, headSha);
  const merged = mb ? await mergeTree(access.gitDir, baseSha, headSha) : { clean: false, conflicts: [] as string[] };
  const toLink = headSha !== pr.head_sha ? await commitsToLink(app.db, access, { head_sha: headSha, base_sha: baseSha, merge_base_sha: mb }) : [];
  const changes = {
    head_sha: headSha,
    base_sha: baseSha,
    merge_base_sha: mb,
    mergeable: merged.clean ? 1 : 0,
    conflict_files: JSON.stringify(merged.conflicts),
  };
  const at = now();
  await app.db.transaction().execute(async (tx) => {
    // Only the first refresher of a given head/base writes (and emits), so concurrent viewers agree.
    const res = await tx
      .updateTable('pull_requests')
      .set({ ...changes, updated_at: headSha !== pr.head_sha ? at : pr.updated_at })
      .where('id', '=', pr.id)
      .where('head_sha', '=', pr.head_sha)
      .where('base_sha', '=', pr.base_sha)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return;
    await linkCapturesToPullRequest(tx, access.repo.id, pr, toLink);
    const events = [];
    if (headSha !== pr.head_sha) events.push(pullRequestEvent('pull_request.synchronized', pr, null, { before: pr.head_sha, after: headSha }));
    if (baseSha !== pr.base_sha) events.push(pullRequestEvent('pull_request.base_moved', pr, null, { before: pr.base_sha, after: baseSha }));
    await appendEvents(tx, events, at);
  });
  wakeDispatcher(app);
  return (await findPullRequest(app.db, access.repo.id, pr.number))!;
}

export interface UpdatePullRequestInput {
  title?: string;
  body?: string;
  state?: 'open' | 'closed';
  base?: string;
  draft?: boolean;
}

function canEdit(access: RepositoryAccess, pr: PullRequest, actor: User): boolean {
  return roleAtLeast(access.role, 'write') || pr.author_id === actor.id;
}

export async function updatePullRequest(app: AppContext, access: RepositoryAccess, actor: User, number: number, input: UpdatePullRequestInput): Promise<PullRequest> {
  const pr = await getPullRequest(app, access, number);
  if (!canEdit(access, pr, actor)) throw forbidden('Only the author or collaborators with write access can edit this pull request');
  checkText(input.title, input.body);
  const changes: Partial<PullRequest> = {};
  const events: ReturnType<typeof pullRequestEvent>[] = [];
  if (input.title !== undefined) changes.title = input.title.trim();
  if (input.body !== undefined) changes.body = input.body;
  if (input.base !== undefined && input.base !== pr.base_branch) {
    if (pr.state !== 'open') throw invalid('Cannot change the base of a closed pull request', 'base');
    const baseSha = await branchSha(access, input.base);
    if (!baseSha) throw invalid(`base branch "${input.base}" does not exist`, 'base');
    if (input.base === pr.compare_branch) throw invalid('head and base must be different branches', 'base');
    changes.base_branch = input.base;
    changes.base_sha = ZERO_SHA; // forces a mergeability refresh
    changes.mergeable = null;
  }
  if (input.draft !== undefined && (input.draft ? 1 : 0) !== pr.draft) {
    if (pr.state !== 'open') throw invalid('Only open pull requests can change draft state', 'draft');
    changes.draft = input.draft ? 1 : 0;
    events.push(pullRequestEvent(input.draft ? 'pull_request.converted_to_draft' : 'pull_request.ready_for_review', pr, actor.id, { head_sha: pr.head_sha }));
  }
  if (input.state !== undefined && input.state !== (pr.state === 'merged' ? 'closed' : pr.state)) {
    if (pr.state === 'merged') throw invalid('A merged pull request cannot be reopened', 'state');
    if (input.state === 'closed') {
      changes.state = 'closed';
      changes.closed_at = now();
      events.push(pullRequestEvent('pull_request.closed', pr, actor.id, { merged: false }));
    } else {
      if (!(await branchSha(access, pr.compare_branch))) throw invalid(`Cannot reopen: branch "${pr.compare_branch}" no longer exists`, 'state');
      const other = await app.db.selectFrom('pull_requests').select('number').where('repository_id', '=', access.repo.id).where('state', '=', 'open').where('compare_branch', '=', pr.compare_branch).where('base_branch', '=', changes.base_branch ?? pr.base_branch).executeTakeFirst();
      if (other) throw invalid(`Another open pull request (#${other.number}) exists for this branch`, 'state');
      changes.state = 'open';
      changes.closed_at = null;
      changes.mergeable = null;
      events.push(pullRequestEvent('pull_request.reopened', pr, actor.id));
    }
  }
  if (Object.keys(changes).length > 0) {
    const at = now();
    changes.updated_at = at;
    await app.db.transaction().execute(async (tx) => {
      await tx.updateTable('pull_requests').set(changes).where('id', '=', pr.id).execute();
      await appendEvents(tx, events, at);
    });
    if (events.length) wakeDispatcher(app);
  }
  return getPullRequest(app, access, number);
}

export interface MergeInput {
  method: MergeMethod;
  commitTitle?: string;
  commitMessage?: string;
  /** The head sha the caller reviewed; the merge is refused (409) when the head moved since. */
  expectedHeadSha?: string;
  deleteBranch?: boolean;
}

export interface MergeOutcome {
  sha: string;
  pr: PullRequest;
  /** Original head commits → the commits that landed on the base (squash: all map to one; merge: identity). */
  rewritten: Map<string, string>;
}

/**
 * Merges a pull request inside the bare repository (no worktree): the new base commit is built with
 * merge-tree/commit-tree and the base ref is moved with a compare-and-swap, so a base that moved
 * meanwhile or a concurrent merge fails cleanly with 409 and leaves the repository unchanged.
 */
export async function mergePullRequest(app: AppContext, access: RepositoryAccess, actor: User, number: number, input: MergeInput): Promise<MergeOutcome> {
  assertNotArchived(access);
  if (!roleAtLeast(access.role, 'write')) throw forbidden('You need write access to merge');
  const pr = await getPullRequest(app, access, number);
  if (pr.state === 'merged') throw new ServiceError(405, 'Pull request is already merged');
  if (pr.state !== 'open') throw new ServiceError(405, 'Pull request is closed');
  if (pr.draft === 1) throw new ServiceError(405, 'Pull request is in draft state; mark it ready for review first');
  if (input.expectedHeadSha && input.expectedHeadSha !== pr.head_sha) throw new ServiceError(409, 'Head branch was modified. Review and try the merge again.');
  if (pr.mergeable !== 1) throw new ServiceError(405, `Pull request is not mergeable: conflicts in ${JSON.parse(pr.conflict_files).join(', ') || 'the branches'}`);
  await assertMergeAllowed(app, access, pr); // the base branch's protection: reviews, status checks (405 listing what is missing)
  const who = { name: actor.full_name || actor.username, email: actor.email };
  const title = input.commitTitle?.trim();
  const commits = await listCommits(access.gitDir, pr.head_sha, { exclude: pr.base_sha, limit: 250 });
  let sha: string;
  let rewritten = new Map<string, string>();
  try {
    if (input.method === 'merge') {
      const message = `${title || `Merge pull request #${pr.number} from ${pr.compare_branch}`}\n\n${input.commitMessage ?? pr.title}\n`;
      sha = await createMergeCommit(access.gitDir, pr.base_sha, pr.head_sha, message, who);
      rewritten = new Map(commits.map((c) => [c.sha, c.sha]));
    } else if (input.method === 'squash') {
      const body = input.commitMessage ?? commits.map((c) => `* ${c.message.split('\n')[0]}`).reverse().join('\n');
      const message = `${title || `${pr.title} (#${pr.number})`}\n\n${body}\n`;
      const first = commits[commits.length - 1];
      const author = first ? { name: first.authorName, email: first.authorEmail } : who;
      sha = await createSquashCommit(access.gitDir, pr.base_sha, pr.head_sha, message, author, who);
      rewritten = new Map(commits.map((c) => [c.sha, sha]));
    } else {
      const result = await rebaseCommits(access.gitDir, pr.base_sha, pr.head_sha, who);
      sha = result.tip;
      rewritten = result.rewritten;
    }
  } catch (err) {
    if (err instanceof MergeConflictError) throw new ServiceError(405, `Merge conflict: ${err.files.join(', ')}`);
    throw err;
  }
  const baseRef = `refs/heads/${pr.base_branch}`;
  if (!(await compareAndSwapRef(access.gitDir, baseRef, sha, pr.base_sha))) {
    throw new ServiceError(409, 'Base branch was modified. Review and try the merge again.');
  }
  const at = now();
  const updated = await app.db.transaction().execute(async (tx) => {
    const res = await tx
      .updateTable('pull_requests')
      .set({ state: 'merged', merged_at: at, merged_by_id: actor.id, merge_commit_sha: sha, merge_method: input.method, closed_at: at, updated_at: at })
      .where('id', '=', pr.id)
      .where('state', '=', 'open')
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return false;
    await appendEvents(tx, [pullRequestEvent('pull_request.merged', pr, actor.id, { merge_commit_sha: sha, merge_method: input.method, head_sha: pr.head_sha })], at);
    return true;
  });
  if (!updated) {
    // Lost a race with another merge after moving the ref: put the base back where it was.
    await compareAndSwapRef(access.gitDir, baseRef, pr.base_sha, sha);
    throw new ServiceError(409, 'Pull request was merged or closed meanwhile');
  }
  await handleRepositoryRefChanges(app, access.repo, [{ ref: baseRef, before: pr.base_sha, after: sha }], {
    kind: 'merge',
    actorId: actor.id,
    details: { pull_request_id: pr.id, number: pr.number, merge_method: input.method },
  });
  await carryProvenanceThroughMerge(app, access, pr, input.method, rewritten, sha); // logs, never throws
  if (input.deleteBranch) await deleteMergedBranch(app, access, pr, actor);
  return { sha, pr: (await findPullRequest(app.db, access.repo.id, pr.number))!, rewritten };
}

async function deleteMergedBranch(app: AppContext, access: RepositoryAccess, pr: PullRequest, actor: User): Promise<void> {
  const ref = `refs/heads/${pr.compare_branch}`;
  if (pr.compare_branch === access.repo.default_branch) return;
  if ((await protectionForBranch(app.db, access.repo.id, pr.compare_branch))?.allowDeletions === false) return; // protected: kept
  const current = (await listRefs(access.gitDir, ref)).find((r) => r.name === ref);
  if (!current || current.sha !== pr.head_sha) return; // moved since: keep the new work
  const r = await runGit(['update-ref', '-d', '--end-of-options', ref, current.sha], { gitDir: access.gitDir });
  if (r.code === 0) await handleRepositoryRefChanges(app, access.repo, [{ ref, before: current.sha, after: ZERO_SHA }], { kind: 'merge', actorId: actor.id, details: { pull_request_id: pr.id } });
}
