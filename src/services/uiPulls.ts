import type { AppContext } from './app.ts';
import type { RepositoryAccess } from './repositories.ts';
import type { PullRequest } from '../db/schema.ts';
import { combineStatuses, listCommitStatuses, type StatusState } from './statuses.ts';
import { refreshPullRequest } from './pulls.ts';
import { notFound } from './errors.ts';
import { listConversationComments, listLineComments, listReviews, type CommentWithAuthor, type ReviewWithAuthor } from './pullComments.ts';
import { briefFromSummary, cachedDiff, combinedStatusesFor, heldDiff, repoRefMap, type CommitBrief } from './uiBrowse.ts';
import { refCommit } from '../git/refCache.ts';
import { listCommits } from '../git/log.ts';
import { LruCache } from '../git/lru.ts';
import { catFilePool } from '../git/catFile.ts';
import type { DiffResult } from '../git/diff.ts';
import type { CommitStatus } from '../db/schema.ts';

/** Read models for the pull request pages (no HTML here; the rules live in pulls.ts and pullComments.ts). */

export async function usernamesById(app: AppContext, ids: (number | null)[]): Promise<Map<number, string>> {
  const unique = [...new Set(ids.filter((id): id is number => id !== null))];
  if (unique.length === 0) return new Map();
  const rows = await app.db.selectFrom('users').select(['id', 'username']).where('id', 'in', unique).execute();
  return new Map(rows.map((r) => [r.id, r.username]));
}

export interface PullListItem {
  pr: PullRequest;
  authorName: string | null;
  comments: number;
  status: StatusState | null;
}

/** Authors, comment counts and head statuses for a page of pull requests: three queries, whatever the page size. */
export async function enrichPullList(app: AppContext, access: RepositoryAccess, prs: PullRequest[]): Promise<PullListItem[]> {
  if (prs.length === 0) return [];
  const ids = prs.map((p) => p.id);
  const [names, counts, statuses] = await Promise.all([
    usernamesById(app, prs.map((p) => p.author_id)),
    app.db
      .selectFrom('pull_request_comments')
      .select(['pull_request_id', (eb) => eb.fn.countAll<number>().as('n')])
      .where('pull_request_id', 'in', ids)
      .groupBy('pull_request_id')
      .execute(),
    combinedStatusesFor(app, access.repo.id, prs.map((p) => p.head_sha)),
  ]);
  const byPr = new Map(counts.map((r) => [r.pull_request_id, Number(r.n)]));
  return prs.map((pr) => ({ pr, authorName: pr.author_id !== null ? (names.get(pr.author_id) ?? null) : null, comments: byPr.get(pr.id) ?? 0, status: statuses.get(pr.head_sha) ?? null }));
}

export async function countPullsByState(app: AppContext, repositoryId: number): Promise<{ open: number; closed: number }> {
  const rows = await app.db.selectFrom('pull_requests').select(['state', (eb) => eb.fn.countAll<number>().as('n')]).where('repository_id', '=', repositoryId).groupBy('state').execute();
  let open = 0;
  let closed = 0;
  for (const r of rows) {
    if (r.state === 'open') open += Number(r.n);
    else closed += Number(r.n);
  }
  return { open, closed };
}

const rangeCache = new LruCache<string, CommitBrief[]>(1_000, 32 * 1024 * 1024, 'ui.pullCommits');

/** The commits of a pull request, oldest first (cached: a range between two object ids never changes). */
export async function pullCommits(access: RepositoryAccess, pr: PullRequest, limit = 250): Promise<CommitBrief[]> {
  const from = pr.merge_base_sha ?? pr.base_sha;
  const key = `${access.gitDir}\0${pr.head_sha}\0${from}\0${limit}`;
  const hit = rangeCache.get(key);
  if (hit) return hit;
  if (!(await catFilePool.info(access.gitDir, pr.head_sha))) return [];
  const commits = (await listCommits(access.gitDir, pr.head_sha, { exclude: from, limit })).map(briefFromSummary).reverse();
  rangeCache.set(key, commits, commits.reduce((n, c) => n + c.message.length + 300, 0));
  return commits;
}

/** The pull request's diff (merge base → head); null when its commits are gone from the repository. */
export async function pullDiff(access: RepositoryAccess, pr: PullRequest, maxPatchBytes: number): Promise<DiffResult | null> {
  const from = pr.merge_base_sha ?? pr.base_sha;
  // A diff held for these ids proves both commits exist: no git round trip per view.
  const held = heldDiff(access.gitDir, from, pr.head_sha, maxPatchBytes);
  if (held) return held;
  const [head, base] = await Promise.all([catFilePool.info(access.gitDir, pr.head_sha), catFilePool.info(access.gitDir, from)]);
  if (head?.type !== 'commit' || base?.type !== 'commit') return null;
  return cachedDiff(access.gitDir, from, pr.head_sha, maxPatchBytes);
}

export interface PullConversation {
  comments: CommentWithAuthor[];
  lineComments: CommentWithAuthor[];
  reviews: ReviewWithAuthor[];
  statuses: { state: StatusState; statuses: CommitStatus[] };
}

/** Everything the conversation tab shows besides the pull request itself. */
export async function loadConversation(app: AppContext, access: RepositoryAccess, pr: PullRequest): Promise<PullConversation> {
  const [comments, lineComments, reviews, statuses] = await Promise.all([
    listConversationComments(app, pr),
    listLineComments(app, access, pr),
    listReviews(app, pr),
    listCommitStatuses(app, access.repo.id, pr.head_sha).then(combineStatuses),
  ]);
  return { comments, lineComments, reviews, statuses };
}

/**
 * getPullRequest for pages: the same row, brought up to date by refreshPullRequest whenever a branch
 * moved or mergeability is unknown. The branches are read through the cat-file pool, so the common case
 * (nothing moved) costs no git process; getPullRequest's check spawns for-each-ref twice per call.
 */
export async function loadPullRequest(app: AppContext, access: RepositoryAccess, number: number): Promise<PullRequest> {
  if (!Number.isInteger(number) || number < 1) throw notFound('Pull request not found');
  const pr = await app.db.selectFrom('pull_requests').selectAll().where('repository_id', '=', access.repo.id).where('number', '=', number).executeTakeFirst();
  if (!pr) throw notFound('Pull request not found');
  if (pr.state !== 'open') return pr;
  // From the repository's ref map (kept until a ref moves), not a git round trip per view.
  const refs = await repoRefMap(access);
  const head = refCommit(refs, 'branch', pr.compare_branch);
  const base = refCommit(refs, 'branch', pr.base_branch);
  if ((head ?? pr.head_sha) === pr.head_sha && (base ?? pr.base_sha) === pr.base_sha && pr.mergeable !== null) return pr;
  return refreshPullRequest(app, access, pr);
}

/** Conversation and line comments of a pull request (the conversation tab's counter). */
export async function countPullComments(app: AppContext, pullRequestId: number): Promise<number> {
  const row = await app.db.selectFrom('pull_request_comments').select((eb) => eb.fn.countAll<number>().as('n')).where('pull_request_id', '=', pullRequestId).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The user id of a username, for the author filter (undefined when there is no such user). */
export async function userIdByName(app: AppContext, username: string): Promise<number | undefined> {
  if (!username || username.length > 100 || username.includes('\0')) return undefined;
  const row = await app.db.selectFrom('users').select('id').where('lower_name', '=', username.toLowerCase()).executeTakeFirst();
  return row?.id;
}
