import { raw } from 'hono/html';
import type { Child, FC } from 'hono/jsx';
import type { FormError, PageContext } from '../context.ts';
import type { PullRequest } from '../../../db/schema.ts';
import type { CommentWithAuthor, ReviewWithAuthor } from '../../../services/pullComments.ts';
import type { PullConversation } from '../../../services/uiPulls.ts';
import type { CommitBrief } from '../../../services/uiBrowse.ts';
import type { DiffResult, FileDiff } from '../../../git/diff.ts';
import { parsePatchLines } from '../../../domain/diffLines.ts';
import { renderMarkdown, type ReferenceLinks } from '../../markdown.ts';
import { Avatar, EditTitleBody, FormAlert, PostForm, Time } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { CommitGroups, DiffFileChanges, DiffView, HunkSnippet, INLINE_DIFF_LINES, shortSha, StatusDot, type DiffDeferral, type DiffHooks } from '../code.tsx';
import { aiDiffLineMark, type AiLineMark } from '../aiProvenance.tsx';
import { commitUrl, pullFileDiffUrl, pullUrl, treeUrl } from '../urls.ts';
import { RepoLayout, type RepoView } from './repo.tsx';
import { PullStateBadge } from './pulls.tsx';

export type PullTab = 'conversation' | 'commits' | 'files';

export interface PullPageData {
  pr: PullRequest;
  authorName: string | null;
  mergedByName: string | null;
  commits: CommitBrief[];
  filesCount: number | null;
  /** Write access: merge, and approve/request changes on others' pull requests. */
  canWrite: boolean;
  /** The author or a writer: edit, close/reopen, change draft state. */
  canEdit: boolean;
  /** Conversation + line comments (the tab counter). */
  commentCount: number;
  /** A closed or merged pull request whose branch is gone: the page offers to restore it. */
  branchDeleted?: boolean;
  /** The page's #N, OWNER/REPO#N and @user references, resolved for the viewer (web/models/references.ts). */
  links?: ReferenceLinks;
}

/** GitHub's "Restore branch", under a closed or merged pull request whose branch was deleted. */
const RestoreBranch: FC<{ ctx: PageContext; view: RepoView; data: PullPageData }> = ({ ctx, view, data }) =>
  data.branchDeleted && data.canWrite ? (
    <PostForm ctx={ctx} action={`${pullUrl(view.repo, data.pr.number)}/restore-branch`} class="inline-form restore-branch" id="restore-branch">
      <span class="muted">
        The branch <span class="branch-chip mono">{data.pr.compare_branch}</span> was deleted.
      </span>{' '}
      <button type="submit" class="btn btn-sm">
        <Icon name="branch" /> Restore branch
      </button>
    </PostForm>
  ) : null;

const md = (text: string, links?: ReferenceLinks) => renderMarkdown(text, links);

// ---------- header ----------

const PullHeader: FC<{ ctx: PageContext; view: RepoView; data: PullPageData; tab: PullTab; editError?: FormError | null }> = ({ ctx, view, data, tab, editError }) => {
  const { repo } = view;
  const { pr } = data;
  const n = data.commits.length;
  const tabLink = (key: PullTab, href: string, label: string, count: number | null, icon: Parameters<typeof Icon>[0]['name']) => (
    <a href={href} class={tab === key ? 'tab active' : 'tab'} aria-current={tab === key ? 'page' : undefined}>
      <Icon name={icon} /> {label}
      {count !== null && <span class="counter">{count}</span>}
    </a>
  );
  return (
    <div class="pull-head">
      <div class="pull-title-row">
        <h1 class="pull-title">
          <span class="pull-title-text">{pr.title}</span> <span class="pull-number">#{pr.number}</span>
        </h1>
        {data.canEdit && (
          <EditTitleBody ctx={ctx} action={`${pullUrl(repo, pr.number)}/edit`} title={pr.title} body={pr.body} error={editError} />
        )}
      </div>
      <div class="pull-meta">
        <PullStateBadge pr={pr} />
        <span class="pull-meta-text">
          <strong>{data.authorName ?? 'ghost'}</strong>{' '}
          {pr.state === 'merged' ? (
            <>
              merged {n} {n === 1 ? 'commit' : 'commits'} into <span class="branch-chip mono">{pr.base_branch}</span> from <span class="branch-chip mono">{pr.compare_branch}</span> {pr.merged_at && <Time iso={pr.merged_at} />}
            </>
          ) : (
            <>
              wants to merge {n} {n === 1 ? 'commit' : 'commits'} into <span class="branch-chip mono">{pr.base_branch}</span> from{' '}
              <a class="branch-chip mono" href={treeUrl(repo, pr.compare_branch)}>
                {pr.compare_branch}
              </a>
            </>
          )}
        </span>
      </div>
      <div class="pull-tabs-row">
        <nav class="tabs pull-tabs" aria-label="Pull request">
          {tabLink('conversation', pullUrl(repo, pr.number), 'Conversation', data.commentCount, 'comment')}
          {tabLink('commits', pullUrl(repo, pr.number, 'commits'), 'Commits', n, 'commit')}
          {tabLink('files', pullUrl(repo, pr.number, 'files'), 'Files changed', data.filesCount, 'filediff')}
        </nav>
        {ctx.user && pr.state === 'open' && <ReviewMenu ctx={ctx} view={view} data={data} />}
      </div>
    </div>
  );
};

const ReviewMenu: FC<{ ctx: PageContext; view: RepoView; data: PullPageData }> = ({ ctx, view, data }) => {
  const { pr } = data;
  const own = ctx.user?.username === data.authorName;
  const canJudge = !own && pr.state === 'open';
  return (
    <details class="dropdown review-menu">
      <summary class="btn btn-sm btn-primary">
        Review changes <span class="caret" aria-hidden="true"></span>
      </summary>
      <div class="dropdown-panel dropdown-panel-right review-panel">
        <PostForm ctx={ctx} action={`${pullUrl(view.repo, pr.number)}/review`} class="stack">
          <input type="hidden" name="commit_id" value={pr.head_sha} />
          <div class="field">
            <label for="review-body">Finish your review</label>
            <textarea id="review-body" class="input" name="body" rows={5} placeholder="Leave a summary (Markdown)"></textarea>
          </div>
          <fieldset class="field choice-group">
            <legend class="sr-only">Review verdict</legend>
            <label class="choice">
              <input type="radio" name="event" value="COMMENT" checked />
              <span>
                <strong>Comment</strong>
                <span class="hint">Submit general feedback without explicit approval.</span>
              </span>
            </label>
            <label class={canJudge ? 'choice' : 'choice disabled'}>
              <input type="radio" name="event" value="APPROVE" disabled={!canJudge} />
              <span>
                <strong>Approve</strong>
                <span class="hint">{own ? 'You cannot approve your own pull request.' : 'Give your approval to merge these changes.'}</span>
              </span>
            </label>
            <label class={canJudge ? 'choice' : 'choice disabled'}>
              <input type="radio" name="event" value="REQUEST_CHANGES" disabled={!canJudge} />
              <span>
                <strong>Request changes</strong>
                <span class="hint">{own ? 'You cannot request changes on your own pull request.' : 'Feedback that must be addressed before merging.'}</span>
              </span>
            </label>
          </fieldset>
          <div class="form-actions form-actions-end">
            <button type="submit" class="btn btn-primary btn-sm">
              Submit review
            </button>
          </div>
        </PostForm>
      </div>
    </details>
  );
};

const PullLayout: FC<{ ctx: PageContext; view: RepoView; data: PullPageData; tab: PullTab; children?: Child; editError?: FormError | null }> = ({ ctx, view, data, tab, children, editError }) => (
  <RepoLayout ctx={ctx} view={view} title={`${data.pr.title} · Pull Request #${data.pr.number} · ${view.repo.owner_name}/${view.repo.name}`} active="pulls">
    <PullHeader ctx={ctx} view={view} data={data} tab={tab} editError={editError} />
    {children}
  </RepoLayout>
);

// ---------- comments ----------

const CommentBox: FC<{ c: { id: number; author_name: string | null; body: string; created_at: string }; prAuthor: string | null; verb?: string; badge?: Child; idPrefix?: string; links?: ReferenceLinks }> = ({ c, prAuthor, verb = 'commented', badge, idPrefix = 'comment', links }) => (
  <div class="comment" id={`${idPrefix}-${c.id}`}>
    <div class="comment-head">
      <Avatar name={c.author_name ?? 'ghost'} size="sm" />
      <strong class="comment-author">{c.author_name ?? 'ghost'}</strong>
      <span class="muted">
        {verb}{' '}
        <a href={`#${idPrefix}-${c.id}`} class="muted-link">
          <Time iso={c.created_at} />
        </a>
      </span>
      <span class="comment-badges">
        {badge}
        {prAuthor && c.author_name === prAuthor && <span class="label">Author</span>}
      </span>
    </div>
    {c.body.trim() ? <div class="markdown-body comment-body" dangerouslySetInnerHTML={{ __html: md(c.body, links) }} /> : <div class="comment-body muted comment-empty">No description provided.</div>}
  </div>
);

/** A line comment and its replies, with a reply form. */
const Thread: FC<{ ctx: PageContext; view: RepoView; pr: PullRequest; prAuthor: string | null; thread: CommentWithAuthor[]; back: PullTab; context?: boolean; links?: ReferenceLinks }> = ({ ctx, view, pr, prAuthor, thread, back, context, links }) => {
  const root = thread[0]!;
  return (
    <div class={root.outdated ? 'thread thread-outdated' : 'thread'} id={`thread-${root.id}`}>
      {context && (
        <div class="thread-context">
          <div class="thread-file">
            <Icon name="file" class="muted" />
            <span class="mono">{root.path}</span>
            {root.line !== null && <span class="muted">line {root.line}</span>}
            {root.outdated && <span class="label label-outdated">Outdated</span>}
          </div>
          {root.diff_hunk && <HunkSnippet hunk={root.diff_hunk} path={root.path ?? ''} />}
        </div>
      )}
      <div class="thread-comments">
        {thread.map((c) => (
          <CommentBox c={c} prAuthor={prAuthor} badge={!context && c === root && root.outdated ? <span class="label label-outdated">Outdated</span> : undefined} links={links} />
        ))}
      </div>
      {ctx.user && (
        <details class="thread-reply">
          <summary class="reply-trigger">
            <Avatar name={ctx.user.username} size="sm" /> <span class="reply-fake-input">Reply…</span>
          </summary>
          <PostForm ctx={ctx} action={`${pullUrl(view.repo, pr.number)}/comments`} class="stack reply-form">
            <input type="hidden" name="in_reply_to" value={String(root.id)} />
            <input type="hidden" name="back" value={back} />
            <textarea aria-label="Reply" id={`reply-${root.id}`} class="input" name="body" rows={3} placeholder="Reply (Markdown)" required></textarea>
            <div class="form-actions form-actions-end">
              <button type="submit" class="btn btn-primary btn-sm">
                Reply
              </button>
            </div>
          </PostForm>
        </details>
      )}
    </div>
  );
};

/** Line comments grouped into threads (root first, then replies in order). */
export function threadsOf(comments: CommentWithAuthor[]): CommentWithAuthor[][] {
  const byId = new Map(comments.map((c) => [c.id, c]));
  const rootOf = (c: CommentWithAuthor): CommentWithAuthor => {
    let cur = c;
    for (let i = 0; i < 100 && cur.in_reply_to_id !== null && byId.has(cur.in_reply_to_id); i++) cur = byId.get(cur.in_reply_to_id)!;
    return cur;
  };
  const threads = new Map<number, CommentWithAuthor[]>();
  for (const c of comments) {
    const root = rootOf(c);
    const list = threads.get(root.id) ?? [];
    if (root === c) list.unshift(c);
    else list.push(c);
    threads.set(root.id, list);
  }
  return [...threads.values()].filter((t) => t[0]!.in_reply_to_id === null || !byId.has(t[0]!.in_reply_to_id));
}

// ---------- conversation ----------

type TimelineItem =
  | { kind: 'comment'; at: string; comment: CommentWithAuthor }
  | { kind: 'review'; at: string; review: ReviewWithAuthor; threads: CommentWithAuthor[][] }
  | { kind: 'thread'; at: string; thread: CommentWithAuthor[] }
  | { kind: 'event'; at: string; icon: 'merge' | 'closed'; text: Child };

const REVIEW_TEXT = { APPROVED: 'approved these changes', CHANGES_REQUESTED: 'requested changes', COMMENTED: 'reviewed' } as const;

export const PullConversationPage: FC<{ ctx: PageContext; view: RepoView; data: PullPageData; conv: PullConversation; mergeError?: FormError | null; editError?: FormError | null }> = ({ ctx, view, data, conv, editError }) => {
  const { repo } = view;
  const { pr } = data;
  const threads = threadsOf(conv.lineComments);
  const items: TimelineItem[] = conv.comments.map((comment) => ({ kind: 'comment' as const, at: comment.created_at, comment }));
  for (const review of conv.reviews) items.push({ kind: 'review', at: review.created_at, review, threads: threads.filter((t) => t[0]!.review_id === review.id) });
  for (const thread of threads) if (thread[0]!.review_id === null || !conv.reviews.some((r) => r.id === thread[0]!.review_id)) items.push({ kind: 'thread', at: thread[0]!.created_at, thread });
  if (pr.state === 'merged' && pr.merged_at) {
    items.push({
      kind: 'event',
      at: pr.merged_at,
      icon: 'merge',
      text: (
        <>
          <strong>{data.mergedByName ?? 'ghost'}</strong> merged commit{' '}
          <a href={commitUrl(repo, pr.merge_commit_sha ?? pr.head_sha)} class="sha-link">
            <code class="sha">{shortSha(pr.merge_commit_sha ?? pr.head_sha)}</code>
          </a>{' '}
          into <span class="branch-chip mono">{pr.base_branch}</span>
          {pr.merge_method && pr.merge_method !== 'merge' ? ` (${pr.merge_method})` : ''} <Time iso={pr.merged_at} />
        </>
      ),
    });
  } else if (pr.state === 'closed' && pr.closed_at) {
    items.push({ kind: 'event', at: pr.closed_at, icon: 'closed', text: <>This pull request was closed <Time iso={pr.closed_at} /></> });
  }
  items.sort((a, b) => a.at.localeCompare(b.at));
  const reviewers = latestReviews(conv.reviews);
  return (
    <PullLayout ctx={ctx} view={view} data={data} tab="conversation" editError={editError}>
      <div class="pull-body">
        <div class="timeline">
          <div class="timeline-item timeline-comment">
            <Avatar name={data.authorName ?? 'ghost'} size="md" />
            <div class="comment-card">
              <CommentBox c={{ id: 0, author_name: data.authorName, body: pr.body, created_at: pr.created_at }} prAuthor={null} verb="opened this pull request" idPrefix="description" links={data.links} />
            </div>
          </div>
          {items.map((item) => (
            <TimelineEntry ctx={ctx} view={view} data={data} item={item} />
          ))}
          <ChecksBox conv={conv} />
          <MergeBox ctx={ctx} view={view} data={data} />
          {ctx.user ? (
            <div class="timeline-item timeline-comment new-comment">
              <Avatar name={ctx.user.username} size="md" />
              <PostForm ctx={ctx} action={`${pullUrl(repo, pr.number)}/comment`} class="comment-card comment-form" id="comment-form">
                <div class="comment-form-head">Add a comment</div>
                <div class="card-pad stack">
                  <textarea id="comment-body" class="input" name="body" rows={5} placeholder="Leave a comment (Markdown)" aria-label="Comment"></textarea>
                  <div class="form-actions form-actions-end">
                    {data.canEdit && pr.state === 'open' && (
                      <button type="submit" class="btn" formaction={`${pullUrl(repo, pr.number)}/state`} name="state" value="closed">
                        <Icon name="closed" class="text-del" /> Close pull request
                      </button>
                    )}
                    {data.canEdit && pr.state === 'closed' && (
                      <button type="submit" class="btn" formaction={`${pullUrl(repo, pr.number)}/state`} name="state" value="open">
                        <Icon name="pull" class="text-add" /> Reopen pull request
                      </button>
                    )}
                    <button type="submit" class="btn btn-primary">
                      Comment
                    </button>
                  </div>
                </div>
              </PostForm>
            </div>
          ) : (
            <div class="card card-pad sign-in-to-comment">
              <a href={`/-/login?next=${encodeURIComponent(pullUrl(repo, pr.number))}`}>Sign in</a> to join this conversation.
            </div>
          )}
        </div>
        <aside class="pull-side">
          <section class="side-section">
            <h3 class="side-heading">Reviewers</h3>
            {reviewers.length === 0 ? (
              <p class="muted side-empty">No reviews yet</p>
            ) : (
              <ul class="reviewer-list">
                {reviewers.map((r) => (
                  <li>
                    <Avatar name={r.author_name ?? 'ghost'} size="sm" />
                    <span class="reviewer-name">{r.author_name ?? 'ghost'}</span>
                    <span class={`review-state review-${r.state.toLowerCase()}`} title={REVIEW_TEXT[r.state]}>
                      <Icon name={r.state === 'APPROVED' ? 'check' : r.state === 'CHANGES_REQUESTED' ? 'x' : 'comment'} />
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section class="side-section">
            <h3 class="side-heading">Status</h3>
            <p class="side-text">
              {pr.state === 'open' ? (pr.draft === 1 ? 'Draft: not ready for review.' : 'Open and ready for review.') : pr.state === 'merged' ? `Merged${pr.merge_method ? ` (${pr.merge_method})` : ''}.` : 'Closed.'}
            </p>
            {data.canEdit && pr.state === 'open' && pr.draft === 0 && (
              <PostForm ctx={ctx} action={`${pullUrl(repo, pr.number)}/draft`} class="inline-form">
                <input type="hidden" name="draft" value="1" />
                <button type="submit" class="btn btn-sm btn-link">
                  Convert to draft
                </button>
              </PostForm>
            )}
          </section>
          <section class="side-section">
            <h3 class="side-heading">Branches</h3>
            <p class="side-text">
              <span class="branch-chip mono">{pr.compare_branch}</span> → <span class="branch-chip mono">{pr.base_branch}</span>
            </p>
            <p class="side-text muted">
              Head{' '}
              <a href={commitUrl(repo, pr.head_sha)} class="sha-link">
                <code class="sha">{shortSha(pr.head_sha)}</code>
              </a>
            </p>
          </section>
        </aside>
      </div>
    </PullLayout>
  );
};

function latestReviews(reviews: ReviewWithAuthor[]): ReviewWithAuthor[] {
  const byAuthor = new Map<string, ReviewWithAuthor>();
  for (const r of reviews) {
    const key = r.author_name ?? `#${r.author_id}`;
    const prev = byAuthor.get(key);
    // A later plain comment does not undo an approval or a change request.
    if (!prev || r.state !== 'COMMENTED' || prev.state === 'COMMENTED') byAuthor.set(key, r);
  }
  return [...byAuthor.values()];
}

const TimelineEntry: FC<{ ctx: PageContext; view: RepoView; data: PullPageData; item: TimelineItem }> = ({ ctx, view, data, item }) => {
  const prAuthor = data.authorName;
  if (item.kind === 'comment') {
    return (
      <div class="timeline-item timeline-comment">
        <Avatar name={item.comment.author_name ?? 'ghost'} size="md" />
        <div class="comment-card">
          <CommentBox c={item.comment} prAuthor={prAuthor} links={data.links} />
        </div>
      </div>
    );
  }
  if (item.kind === 'event') {
    return (
      <div class="timeline-item timeline-event">
        <span class={`event-badge event-${item.icon}`}>
          <Icon name={item.icon} />
        </span>
        <span class="event-text">{item.text}</span>
      </div>
    );
  }
  if (item.kind === 'thread') {
    return (
      <div class="timeline-item timeline-event timeline-thread">
        <span class="event-badge">
          <Icon name="comment" />
        </span>
        <div class="event-body">
          <span class="event-text">
            <strong>{item.thread[0]!.author_name ?? 'ghost'}</strong> commented on <span class="mono">{item.thread[0]!.path}</span> <Time iso={item.at} />
          </span>
          <Thread ctx={ctx} view={view} pr={data.pr} prAuthor={prAuthor} thread={item.thread} back="conversation" context links={data.links} />
        </div>
      </div>
    );
  }
  const r = item.review;
  const state = r.state;
  return (
    <div class="timeline-item timeline-event timeline-review" id={`review-${r.id}`}>
      <span class={`event-badge review-badge review-${state.toLowerCase()}`}>
        <Icon name={state === 'APPROVED' ? 'check' : state === 'CHANGES_REQUESTED' ? 'x' : 'eye'} />
      </span>
      <div class="event-body">
        <span class="event-text">
          <strong>{r.author_name ?? 'ghost'}</strong> {REVIEW_TEXT[state]} <Time iso={r.created_at} />
        </span>
        {(r.body.trim() || item.threads.length > 0) && (
          <div class={`comment-card review-card review-card-${state.toLowerCase()}`}>
            {r.body.trim() && <CommentBox c={{ id: r.id, author_name: r.author_name, body: r.body, created_at: r.created_at }} prAuthor={prAuthor} verb="left a review" idPrefix="review-body" links={data.links} />}
            {item.threads.map((t) => (
              <div class="review-thread">
                <Thread ctx={ctx} view={view} pr={data.pr} prAuthor={prAuthor} thread={t} back="conversation" context links={data.links} />
              </div>
            ))}
          </div>
        )}
      </div>
    </div>
  );
};

const ChecksBox: FC<{ conv: PullConversation }> = ({ conv }) => {
  const { statuses, state } = conv.statuses;
  if (statuses.length === 0) return null;
  const count = (s: string[]) => statuses.filter((x) => s.includes(x.state)).length;
  const ok = count(['success']);
  const bad = count(['failure', 'error']);
  const pending = count(['pending']);
  const headline = state === 'success' ? 'All checks have passed' : state === 'failure' ? 'Some checks were not successful' : "Some checks haven't completed yet";
  const parts = [ok ? `${ok} successful` : '', bad ? `${bad} failing` : '', pending ? `${pending} pending` : ''].filter(Boolean).join(', ');
  return (
    <div class="timeline-item timeline-box">
      <span class={`box-badge status-bg-${state === 'error' ? 'failure' : state}`}>
        <Icon name={state === 'success' ? 'check' : state === 'pending' ? 'clock' : 'x'} />
      </span>
      <div class="card checks-card" id="checks">
        <div class="checks-head">
          <strong>{headline}</strong>
          <span class="muted">
            {parts} {statuses.length === 1 ? 'check' : 'checks'}
          </span>
        </div>
        <ul class="checks-list">
          {statuses.map((s) => (
            <li class="check-row">
              <StatusDot state={s.state} />
              <strong class="check-context">{s.context}</strong>
              <span class="muted check-desc">{s.description || s.state}</span>
              {s.target_url && /^https?:\/\//i.test(s.target_url) && (
                <a class="check-link" href={s.target_url} rel="nofollow noopener noreferrer">
                  Details
                </a>
              )}
            </li>
          ))}
        </ul>
      </div>
    </div>
  );
};

const MergeBox: FC<{ ctx: PageContext; view: RepoView; data: PullPageData }> = ({ ctx, view, data }) => {
  const { repo } = view;
  const { pr } = data;
  const base = pullUrl(repo, pr.number);
  if (pr.state === 'merged') {
    return (
      <div class="timeline-item timeline-box">
        <span class="box-badge state-bg-merged">
          <Icon name="merge" />
        </span>
        <div class="card merge-card merge-card-merged" id="merge-box">
          <div class="merge-section">
            <strong>Pull request successfully merged and closed</strong>
            <p class="muted">
              The changes from <span class="branch-chip mono">{pr.compare_branch}</span> are in <span class="branch-chip mono">{pr.base_branch}</span>.
            </p>
            <RestoreBranch ctx={ctx} view={view} data={data} />
          </div>
        </div>
      </div>
    );
  }
  if (pr.state === 'closed') {
    return (
      <div class="timeline-item timeline-box">
        <span class="box-badge state-bg-closed">
          <Icon name="closed" />
        </span>
        <div class="card merge-card" id="merge-box">
          <div class="merge-section">
            <strong>{pr.closed_reason === 'run-no-commits' ? 'Closed: the agent run left no commits' : data.commits.length === 0 ? 'Closed without commits' : 'Closed with unmerged commits'}</strong>
            <p class="muted">
              {pr.closed_reason === 'run-no-commits' ? 'gitoku closed this pull request when its run ended; it reopens by itself if a later run pushes to its branch.' : 'This pull request is closed.'} {data.canEdit ? 'Reopen it to continue the review.' : ''}
            </p>
            <RestoreBranch ctx={ctx} view={view} data={data} />
            {data.canEdit && (
              <PostForm ctx={ctx} action={`${base}/state`} class="inline-form">
                <input type="hidden" name="state" value="open" />
                <button type="submit" class="btn btn-sm">
                  Reopen pull request
                </button>
              </PostForm>
            )}
          </div>
        </div>
      </div>
    );
  }
  const conflicts = JSON.parse(pr.conflict_files || '[]') as string[];
  let reason: string | null = null;
  if (pr.draft === 1) reason = 'Draft pull requests cannot be merged. Mark it ready for review first.';
  else if (pr.mergeable === 0) reason = 'This branch has conflicts that must be resolved before merging.';
  else if (pr.mergeable === null) reason = 'Checking whether the branches can be merged…';
  else if (!data.canWrite) reason = 'Only collaborators with write access can merge this pull request.';
  const n = data.commits.length;
  return (
    <div class="timeline-item timeline-box">
      <span class={`box-badge ${pr.draft === 1 ? 'state-bg-draft' : pr.mergeable === 0 ? 'state-bg-closed' : 'state-bg-open'}`}>
        <Icon name={pr.draft === 1 ? 'draft' : pr.mergeable === 0 ? 'alert' : 'merge'} />
      </span>
      <div class="card merge-card" id="merge-box">
        {pr.draft === 1 && (
          <div class="merge-section merge-draft">
            <div>
              <strong>This pull request is still a work in progress</strong>
              <p class="muted">Draft pull requests cannot be merged.</p>
            </div>
            {data.canEdit && (
              <PostForm ctx={ctx} action={`${base}/draft`} class="inline-form">
                <input type="hidden" name="draft" value="0" />
                <button type="submit" class="btn btn-sm">
                  Ready for review
                </button>
              </PostForm>
            )}
          </div>
        )}
        <div class="merge-section">
          {pr.mergeable === 0 ? (
            <>
              <strong class="text-del">
                <Icon name="alert" /> This branch has conflicts that must be resolved
              </strong>
              {conflicts.length > 0 && (
                <>
                  <p class="muted">Conflicting files:</p>
                  <ul class="conflict-list">
                    {conflicts.map((f) => (
                      <li class="mono">{f}</li>
                    ))}
                  </ul>
                </>
              )}
            </>
          ) : pr.mergeable === 1 ? (
            <strong class="text-add">
              <Icon name="check" /> This branch has no conflicts with the base branch
            </strong>
          ) : (
            <strong class="muted">Checking for the ability to merge automatically…</strong>
          )}
        </div>
        <PostForm ctx={ctx} action={`${base}/merge`} class="merge-section merge-form">
          <input type="hidden" name="sha" value={pr.head_sha} />
          <fieldset class="merge-fields" disabled={reason !== null}>
            <legend class="sr-only">Merge options</legend>
            <div class="merge-row">
              <div class="field">
                <label for="merge-method">Merge method</label>
                <select id="merge-method" name="merge_method" class="input select">
                  <option value="merge">Create a merge commit</option>
                  <option value="squash">Squash and merge</option>
                  <option value="rebase">Rebase and merge</option>
                </select>
              </div>
              <label class="checkbox-line">
                <input type="checkbox" name="delete_branch" value="1" /> Delete <span class="mono">{pr.compare_branch}</span> after merging
              </label>
            </div>
            <details class="merge-message">
              <summary>Commit message</summary>
              <div class="stack">
                <div class="field">
                  <label for="merge-title">Commit title</label>
                  <input id="merge-title" class="input" type="text" name="commit_title" maxlength={512} placeholder={`Merge pull request #${pr.number} from ${pr.compare_branch} (or "${pr.title} (#${pr.number})" when squashing)`} />
                </div>
                <div class="field">
                  <label for="merge-message">Commit message</label>
                  <textarea id="merge-message" class="input" name="commit_message" rows={3} placeholder="Optional extended description; defaults to the title (merge) or the list of commits (squash)"></textarea>
                </div>
                <span class="hint">Rebasing replays the {n === 1 ? 'commit' : `${n} commits`} on top of {pr.base_branch} and ignores these fields.</span>
              </div>
            </details>
          </fieldset>
          <div class="merge-actions">
            <button type="submit" class="btn btn-merge" disabled={reason !== null} aria-describedby={reason ? 'merge-reason' : undefined}>
              <Icon name="merge" /> Merge pull request
            </button>
            {reason && (
              <span class="muted merge-reason" id="merge-reason">
                {reason}
              </span>
            )}
          </div>
        </PostForm>
      </div>
    </div>
  );
};

// ---------- commits tab ----------

export const PullCommitsPage: FC<{ ctx: PageContext; view: RepoView; data: PullPageData }> = ({ ctx, view, data }) => (
  <PullLayout ctx={ctx} view={view} data={data} tab="commits">
    {data.commits.length === 0 ? <p class="muted">No commits.</p> : <CommitGroups repo={view.repo} commits={data.commits} />}
  </PullLayout>
);

// ---------- files tab ----------

export interface OpenLineForm {
  path: string;
  line: number;
  body?: string;
  error?: FormError | null;
}

/** `body`: the rendered PullFilesBody (HTML; cached by the route). */
export const PullFilesPage: FC<{ ctx: PageContext; view: RepoView; data: PullPageData; body: string }> = ({ ctx, view, data, body }) => (
  <PullLayout ctx={ctx} view={view} data={data} tab="files">
    {raw(body)}
  </PullLayout>
);

/**
 * The files tab's content: the diff with its threads, AI marks and comment forms. Everything it shows
 * comes from its props (the route keys its cache on them).
 */
interface PullFilesProps {
  ctx: PageContext;
  view: RepoView;
  data: PullPageData;
  diff: DiffResult | null;
  lineComments: CommentWithAuthor[];
  open: OpenLineForm | null;
  aiLines?: Map<string, Map<number, AiLineMark>>;
}

/**
 * Where a pull request's conversations go on its diff, and the hooks that draw them with the AI marks and
 * the "+" buttons: threads on a current new-side line under that line, other threads of a file at its
 * top, threads on files no longer in the diff apart (`orphans`). `threaded`: files with a thread.
 */
function pullDiffHooks({ ctx, view, data, diff, lineComments, open, aiLines }: PullFilesProps): { hooks: DiffHooks; orphans: CommentWithAuthor[][]; threaded: Set<string> } {
  const { repo } = view;
  const { pr } = data;
  const filesUrl = pullUrl(repo, pr.number, 'files');
  const threads = threadsOf(lineComments);
  const diffPaths = new Set(diff?.files.map((f) => f.path) ?? []);
  const newLines = new Map<string, Set<number>>();
  for (const f of diff?.files ?? []) {
    const set = new Set<number>();
    if (f.patch) for (const l of parsePatchLines(f.patch)) if (l.newLine !== null && l.kind !== 'del') set.add(l.newLine);
    newLines.set(f.path, set);
  }
  const placed = new Map<string, CommentWithAuthor[][]>();
  const fileTop = new Map<string, CommentWithAuthor[][]>();
  const orphans: CommentWithAuthor[][] = [];
  const threaded = new Set<string>();
  for (const t of threads) {
    const root = t[0]!;
    const path = root.path ?? '';
    if (!diffPaths.has(path)) orphans.push(t);
    else if (!root.outdated && root.side !== 'LEFT' && root.line !== null && newLines.get(path)?.has(root.line)) {
      const key = `${path}\0${root.line}`;
      placed.set(key, [...(placed.get(key) ?? []), t]);
      threaded.add(path);
    } else {
      fileTop.set(path, [...(fileTop.get(path) ?? []), t]);
      threaded.add(path);
    }
  }
  const hooks: DiffHooks = {
    lineMark: aiLines && aiLines.size > 0 ? aiDiffLineMark(repo, aiLines) : undefined,
    commentHref: ctx.user ? (file, line) => `${filesUrl}?line_path=${encodeURIComponent(file.path)}&line=${line}#new-line-comment` : undefined,
    afterLine: (file: FileDiff, line: number) => {
      const here = placed.get(`${file.path}\0${line}`);
      const formHere = open && open.path === file.path && open.line === line;
      if (!here && !formHere) return null;
      return (
        <div class="line-threads">
          {here?.map((t) => <Thread ctx={ctx} view={view} pr={pr} prAuthor={data.authorName} thread={t} back="files" links={data.links} />)}
          {formHere && <LineCommentForm ctx={ctx} view={view} pr={pr} path={file.path} line={line} body={open.body} error={open.error} id="new-line-comment" cancelHref={filesUrl} />}
        </div>
      );
    },
    fileTop: (file: FileDiff) => {
      const top = fileTop.get(file.path);
      if (!top) return null;
      return (
        <details class="outdated-group" open>
          <summary>
            <Icon name="comment" /> {top.length} outdated {top.length === 1 ? 'conversation' : 'conversations'}
          </summary>
          <div class="outdated-threads">
            {top.map((t) => (
              <Thread ctx={ctx} view={view} pr={pr} prAuthor={data.authorName} thread={t} back="files" context links={data.links} />
            ))}
          </div>
        </details>
      );
    },
  };
  return { hooks, orphans, threaded };
}

/**
 * The files tab's diff. As on a comparison, the changes render up to a budget of lines and the other
 * files wait behind "Load diff" (PullFileChanges, fetched in place) — except files with a conversation
 * or the open comment form, always in place so that their threads and links to them stay on the page.
 */
export const PullFilesBody: FC<PullFilesProps> = (props) => {
  const { ctx, view, data, diff, open } = props;
  const { repo } = view;
  const { pr } = data;
  const { hooks, orphans, threaded } = pullDiffHooks(props);
  const defer: DiffDeferral = { lines: INLINE_DIFF_LINES, href: (f) => pullFileDiffUrl(repo, pr.number, pr.head_sha, f.path), inline: (f) => threaded.has(f.path) || open?.path === f.path };
  return (
    <>
      {orphans.length > 0 && (
        <details class="card outdated-group orphan-group" open>
          <summary>
            <Icon name="comment" /> {orphans.length} {orphans.length === 1 ? 'conversation' : 'conversations'} on files no longer in this diff
          </summary>
          <div class="outdated-threads">
            {orphans.map((t) => (
              <Thread ctx={ctx} view={view} pr={pr} prAuthor={data.authorName} thread={t} back="files" context links={data.links} />
            ))}
          </div>
        </details>
      )}
      {diff === null ? (
        <div class="flash flash-warning">
          <Icon name="alert" />
          <span>The commits of this pull request are no longer in the repository.</span>
        </div>
      ) : diff.files.length === 0 ? (
        <div class="card card-pad muted">No files changed.</div>
      ) : (
        <DiffView repo={repo} diff={diff} viewRef={pr.head_sha} hooks={hooks} defer={defer} />
      )}
      {ctx.user && (
        <template id="line-comment-template">
          <div class="line-threads">
            <LineCommentForm ctx={ctx} view={view} pr={pr} path="" line={0} cancelHref="#" />
          </div>
        </template>
      )}
    </>
  );
};

/** One deferred file of the files tab, as "Load diff" puts it in place: its changes with the tab's hooks. */
export const PullFileChanges: FC<PullFilesProps & { file: FileDiff }> = (props) => <DiffFileChanges file={props.file} hooks={pullDiffHooks(props).hooks} />;

const LineCommentForm: FC<{ ctx: PageContext; view: RepoView; pr: PullRequest; path: string; line: number; body?: string; error?: FormError | null; id?: string; cancelHref: string }> = ({ ctx, view, pr, path, line, body, error, id, cancelHref }) => (
  <PostForm ctx={ctx} action={`${pullUrl(view.repo, pr.number)}/comments`} class="line-comment-form stack" id={id}>
    <FormAlert error={error} />
    <input type="hidden" name="path" value={path} />
    <input type="hidden" name="line" value={String(line)} />
    <input type="hidden" name="side" value="RIGHT" />
    <input type="hidden" name="commit_id" value={pr.head_sha} />
    <input type="hidden" name="back" value="files" />
    <textarea class="input" aria-label="Comment on this line" id={id ? `${id}-body` : undefined} name="body" rows={4} placeholder="Leave a comment on this line (Markdown)" required autofocus={!!id}>
      {body ?? ''}
    </textarea>
    <div class="form-actions form-actions-end">
      <a class="btn btn-sm" href={cancelHref} data-cancel-comment="">
        Cancel
      </a>
      <button type="submit" class="btn btn-primary btn-sm">
        Add comment
      </button>
    </div>
  </PostForm>
);
