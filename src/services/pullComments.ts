import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { invalid, notFound, ServiceError } from './errors.ts';
import type { RepositoryAccess } from './repositories.ts';
import { getPullRequest, pullRequestEvent } from './pulls.ts';
import type { Transaction } from 'kysely';
import type { Database, PullRequest, PullRequestComment, PullRequestReview, User } from '../db/schema.ts';
import type { DbOrTx } from '../db/index.ts';
import { appendEvents } from '../events/outbox.ts';
import { diffCommits } from '../git/diff.ts';
import { isSafeRepoPath, readBlobAtPath } from '../git/tree.ts';
import { catFilePool } from '../git/catFile.ts';
import { isSha } from '../domain/refs.ts';
import { hunkUpToLine } from '../domain/diffLines.ts';
import { wakeDispatcher } from '../events/wake.ts';

export const MAX_COMMENT = 65536;

export interface CommentWithAuthor extends PullRequestComment {
  author_name: string | null;
  author_is_admin: number | null;
  /** For line comments: the line no longer reads the same at the pull request's head. */
  outdated: boolean;
}

function checkBody(body: string, required = true): void {
  if (required && body.trim().length === 0) throw invalid('body is required', 'body');
  if (body.length > MAX_COMMENT) throw invalid(`body is too long (at most ${MAX_COMMENT} characters)`, 'body');
}

function withAuthors(db: DbOrTx) {
  return db.selectFrom('pull_request_comments').leftJoin('users', 'users.id', 'pull_request_comments.author_id').selectAll('pull_request_comments').select(['users.username as author_name', 'users.is_admin as author_is_admin']);
}

async function fileLines(access: RepositoryAccess, commitSha: string, path: string): Promise<string[] | null> {
  const blob = await readBlobAtPath(access.gitDir, commitSha, path, 5 * 1024 * 1024);
  if (!blob || blob.truncated) return null;
  return blob.content.toString('utf8').split('\n');
}

/** Conversation comments (GitHub's issue comments), oldest first. */
export async function listConversationComments(app: AppContext, pr: PullRequest): Promise<CommentWithAuthor[]> {
  const rows = await withAuthors(app.db).where('pull_request_id', '=', pr.id).where('path', 'is', null).orderBy('pull_request_comments.id').execute();
  return rows.map((r) => ({ ...r, outdated: false }));
}

/** Line comments, oldest first, each marked outdated when its line changed at the current head. */
export async function listLineComments(app: AppContext, access: RepositoryAccess, pr: PullRequest): Promise<CommentWithAuthor[]> {
  const rows = await withAuthors(app.db).where('pull_request_id', '=', pr.id).where('path', 'is not', null).orderBy('pull_request_comments.id').execute();
  const headFiles = new Map<string, string[] | null>();
  const out: CommentWithAuthor[] = [];
  for (const row of rows) {
    let outdated = false;
    if (row.commit_sha !== pr.head_sha && row.side !== 'LEFT' && row.path && row.line) {
      if (!headFiles.has(row.path)) headFiles.set(row.path, await fileLines(access, pr.head_sha, row.path));
      const lines = headFiles.get(row.path);
      outdated = !lines || lines[row.line - 1] !== row.line_content;
    }
    out.push({ ...row, outdated });
  }
  return out;
}

export async function createConversationComment(app: AppContext, access: RepositoryAccess, actor: User, number: number, body: string): Promise<CommentWithAuthor> {
  checkBody(body);
  const pr = await getPullRequest(app, access, number);
  const at = now();
  const comment = await app.db.transaction().execute(async (tx) => {
    const row = await tx
      .insertInto('pull_request_comments')
      .values({ pull_request_id: pr.id, author_id: actor.id, review_id: null, in_reply_to_id: null, body, path: null, line: null, side: null, commit_sha: null, line_content: null, diff_hunk: null, created_at: at, updated_at: at })
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendEvents(tx, [pullRequestEvent('pull_request.comment_created', pr, actor.id, { comment_id: row.id })], at);
    return row;
  });
  wakeDispatcher(app);
  return { ...comment, author_name: actor.username, author_is_admin: actor.is_admin, outdated: false };
}

export interface LineCommentInput {
  body: string;
  path: string;
  line: number;
  side?: 'LEFT' | 'RIGHT';
  commitSha?: string;
  inReplyTo?: number;
}

interface PreparedLineComment {
  path: string;
  line: number;
  side: 'LEFT' | 'RIGHT';
  commitSha: string;
  lineContent: string;
  diffHunk: string | null;
}

/** Validates a line anchor against the pull request's diff at the given commit. */
async function prepareLineComment(access: RepositoryAccess, pr: PullRequest, input: LineCommentInput): Promise<PreparedLineComment> {
  const commitSha = input.commitSha ?? pr.head_sha;
  if (!isSha(commitSha) || !(await catFilePool.info(access.gitDir, commitSha))) throw invalid('commit_id is not a commit of this repository', 'commit_id');
  if (!Number.isInteger(input.line) || input.line < 1) throw invalid('line must be a positive integer', 'line');
  if (!isSafeRepoPath(input.path) || input.path === '') throw invalid(`path "${input.path}" is not part of this pull request's diff`, 'path');
  const side = input.side ?? 'RIGHT';
  const base = pr.merge_base_sha ?? pr.base_sha;
  const diff = await diffCommits(access.gitDir, base, commitSha, { path: input.path });
  const file = diff.files.find((f) => f.path === input.path || f.previousPath === input.path);
  if (!file) throw invalid(`path "${input.path}" is not part of this pull request's diff`, 'path');
  const lines = await fileLines(access, side === 'RIGHT' ? commitSha : base, side === 'RIGHT' ? file.path : (file.previousPath ?? file.path));
  if (!lines || input.line > lines.length) throw invalid(`line ${input.line} is outside the file`, 'line');
  return { path: file.path, line: input.line, side, commitSha, lineContent: lines[input.line - 1]!, diffHunk: file.patch ? hunkUpToLine(file.patch, input.line, side) : null };
}

/** Whether a line anchor (path, line, side at a commit) lies in the pull request's diff and file. */
export async function isValidLineAnchor(access: RepositoryAccess, pr: PullRequest, input: LineCommentInput): Promise<boolean> {
  try {
    await prepareLineComment(access, pr, input);
    return true;
  } catch (err) {
    if (err instanceof ServiceError) return false;
    throw err;
  }
}

export async function createLineComment(app: AppContext, access: RepositoryAccess, actor: User, number: number, input: LineCommentInput, reviewId: number | null = null, db?: DbOrTx): Promise<CommentWithAuthor> {
  checkBody(input.body);
  const pr = await getPullRequest(app, access, number);
  let anchor: PreparedLineComment;
  if (input.inReplyTo !== undefined) {
    const parent = await app.db.selectFrom('pull_request_comments').selectAll().where('id', '=', input.inReplyTo).where('pull_request_id', '=', pr.id).executeTakeFirst();
    if (!parent || !parent.path) throw invalid('in_reply_to is not a line comment of this pull request', 'in_reply_to');
    anchor = { path: parent.path, line: parent.line!, side: parent.side ?? 'RIGHT', commitSha: parent.commit_sha!, lineContent: parent.line_content ?? '', diffHunk: parent.diff_hunk };
  } else {
    anchor = await prepareLineComment(access, pr, input);
  }
  const at = now();
  const write = async (tx: DbOrTx) => {
    const row = await tx
      .insertInto('pull_request_comments')
      .values({
        pull_request_id: pr.id,
        author_id: actor.id,
        review_id: reviewId,
        in_reply_to_id: input.inReplyTo ?? null,
        body: input.body,
        path: anchor.path,
        line: anchor.line,
        side: anchor.side,
        commit_sha: anchor.commitSha,
        line_content: anchor.lineContent,
        diff_hunk: anchor.diffHunk,
        created_at: at,
        updated_at: at,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    if (reviewId === null) await appendEvents(tx, [pullRequestEvent('pull_request.review_comment_created', pr, actor.id, { comment_id: row.id, path: anchor.path, line: anchor.line })], at);
    return row;
  };
  const row = db ? await write(db) : await app.db.transaction().execute(write);
  if (!db) wakeDispatcher(app);
  return { ...row, author_name: actor.username, author_is_admin: actor.is_admin, outdated: false };
}

export interface ReviewWithAuthor extends PullRequestReview {
  author_name: string | null;
  author_is_admin: number | null;
}

export async function listReviews(app: AppContext, pr: PullRequest): Promise<ReviewWithAuthor[]> {
  return app.db
    .selectFrom('pull_request_reviews')
    .leftJoin('users', 'users.id', 'pull_request_reviews.author_id')
    .selectAll('pull_request_reviews')
    .select(['users.username as author_name', 'users.is_admin as author_is_admin'])
    .where('pull_request_id', '=', pr.id)
    .orderBy('pull_request_reviews.id')
    .execute();
}

export type ReviewEvent = 'APPROVE' | 'REQUEST_CHANGES' | 'COMMENT';

export interface ReviewInput {
  event: ReviewEvent;
  body?: string;
  commitSha?: string;
  comments?: { path: string; line: number; side?: 'LEFT' | 'RIGHT'; body: string }[];
}

const REVIEW_STATE = { APPROVE: 'APPROVED', REQUEST_CHANGES: 'CHANGES_REQUESTED', COMMENT: 'COMMENTED' } as const;

/** Submits a review with its summary and line comments in one transaction. */
/**
 * Submits a review (with its line comments and the `review.submitted` event) in one transaction;
 * `alongside` writes what belongs with it (an AI review's evidence node) in that same transaction, so
 * no reader — the behaviors the event wakes included — sees the review without it.
 */
export async function createReview(app: AppContext, access: RepositoryAccess, actor: User, number: number, input: ReviewInput, alongside?: (tx: Transaction<Database>, review: PullRequestReview) => Promise<void>): Promise<ReviewWithAuthor> {
  const pr = await getPullRequest(app, access, number);
  const body = input.body ?? '';
  checkBody(body, false);
  const comments = input.comments ?? [];
  if (input.event !== 'APPROVE' && body.trim() === '' && comments.length === 0) throw invalid('a review needs a body or line comments', 'body');
  if (input.event !== 'COMMENT' && pr.author_id === actor.id) throw new ServiceError(422, `Can not ${input.event === 'APPROVE' ? 'approve' : 'request changes on'} your own pull request`, 'event');
  if (pr.state !== 'open' && input.event !== 'COMMENT') throw invalid('Only open pull requests can be approved or have changes requested', 'event');
  const commitSha = input.commitSha ?? pr.head_sha;
  const prepared: (PreparedLineComment & { body: string })[] = [];
  for (const c of comments) {
    checkBody(c.body);
    prepared.push({ ...(await prepareLineComment(access, pr, { ...c, commitSha })), body: c.body });
  }
  const at = now();
  const review = await app.db.transaction().execute(async (tx) => {
    const row = await tx
      .insertInto('pull_request_reviews')
      .values({ pull_request_id: pr.id, author_id: actor.id, state: REVIEW_STATE[input.event], body, commit_sha: commitSha, created_at: at })
      .returningAll()
      .executeTakeFirstOrThrow();
    for (const c of prepared) {
      await tx
        .insertInto('pull_request_comments')
        .values({ pull_request_id: pr.id, author_id: actor.id, review_id: row.id, in_reply_to_id: null, body: c.body, path: c.path, line: c.line, side: c.side, commit_sha: c.commitSha, line_content: c.lineContent, diff_hunk: c.diffHunk, created_at: at, updated_at: at })
        .execute();
    }
    await appendEvents(tx, [pullRequestEvent('review.submitted', pr, actor.id, { review_id: row.id, state: row.state, commit_sha: commitSha, comments: prepared.length })], at);
    await alongside?.(tx, row);
    return row;
  });
  wakeDispatcher(app);
  return { ...review, author_name: actor.username, author_is_admin: actor.is_admin };
}

export async function getReview(app: AppContext, pr: PullRequest, id: number): Promise<ReviewWithAuthor> {
  const review = (await listReviews(app, pr)).find((r) => r.id === id);
  if (!review) throw notFound('Review not found');
  return review;
}
