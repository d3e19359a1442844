import type { AppContext } from './app.ts';
import type { PullRequest, User } from '../db/schema.ts';
import { ZERO_SHA } from '../domain/refs.ts';
import { git, runGit } from '../git/exec.ts';
import { listCommits } from '../git/log.ts';
import type { CommitSummary } from '../git/refs.ts';
import { readCommits } from '../git/refs.ts';
import { repositoryGitDir } from './storage.ts';
import type { RepositoryAccess, RepositoryWithOwner } from './repositories.ts';
import { findUserById } from './users.ts';
import { getReview, type CommentWithAuthor } from './pullComments.ts';
import { findIssueComment, getIssueItem } from './issues.ts';
import type { WebhookEventKind } from './webhookEvents.ts';
// The payloads carry the API's own shapes (GitHub's), built by the same builders the API routes use so the two never drift.
import { simpleUserJson } from './apiShapes/users.ts';
import { repositoryJson } from './apiShapes/repositories.ts';
import { commentJson, pullJson, reviewJson, statusJson } from './apiShapes/pulls.ts';
import { workflowRunJson } from './apiShapes/workflowRuns.ts';
import { runJson } from './apiShapes/runs.ts';
import { issueJson } from './apiShapes/issues.ts';
import { releaseJson } from './apiShapes/releases.ts';
import { getRelease } from './releases.ts';

/** One message to deliver: the webhook event name, its action and the JSON payload. */
export interface WebhookMessage {
  event: string;
  action: string | null;
  payload: Record<string, unknown>;
}

/** GitHub lists at most this many commits in a push payload; gitoku keeps payloads small the same way. */
export const PUSH_COMMITS_LIMIT = 20;

const iso = (s: string | null | undefined) => (s ? s.replace(/\.\d{3}Z$/, 'Z') : null);

function accessOf(app: AppContext, repo: RepositoryWithOwner): RepositoryAccess {
  return { repo, role: 'read', gitDir: repositoryGitDir(app, repo) };
}

async function sender(app: AppContext, repo: RepositoryWithOwner, actorId: unknown) {
  const user = typeof actorId === 'number' ? await findUserById(app.db, actorId) : undefined;
  return user ? simpleUserJson(app, user) : simpleUserJson(app, { id: repo.owner_id, username: repo.owner_name, is_admin: repo.owner_is_admin });
}

/** Builds the payloads for the webhook events an outbox event produces (skipping any whose subject is gone). */
export async function buildWebhookMessages(app: AppContext, repo: RepositoryWithOwner, type: string, payload: Record<string, unknown>, kinds: WebhookEventKind[]): Promise<WebhookMessage[]> {
  if (kinds.length === 0) return [];
  const common = { repository: repositoryJson(app, repo, null), sender: await sender(app, repo, payload.actor_id) };
  const out: WebhookMessage[] = [];
  for (const kind of kinds) {
    const body = await buildOne(app, repo, type, payload, kind);
    if (body) out.push({ event: kind.event, action: kind.action, payload: { ...(kind.action ? { action: kind.action } : {}), ...body, ...common } });
  }
  return out;
}

async function buildOne(app: AppContext, repo: RepositoryWithOwner, type: string, p: Record<string, unknown>, kind: WebhookEventKind): Promise<Record<string, unknown> | null> {
  switch (kind.event) {
    case 'push':
      return pushPayload(app, repo, p);
    case 'create':
    case 'delete':
      return refPayload(repo, p, kind.event);
    case 'pull_request':
      return pullRequestPayload(app, repo, p, kind.action!);
    case 'pull_request_review':
      return reviewPayload(app, repo, p);
    case 'pull_request_review_comment':
    case 'issue_comment':
      return type === 'issue_comment.created' ? issueCommentPayload(app, repo, p) : pullCommentPayload(app, repo, p, kind.event);
    case 'issues':
      return issuePayload(app, repo, p);
    case 'release':
      return releasePayload(app, repo, p, kind.action!);
    case 'status':
      return statusPayload(app, repo, p);
    case 'workflow_run':
      return workflowRunPayload(app, repo, p);
    case 'run':
      return runPayload(app, repo, p);
  }
}

function shortRef(ref: string): { name: string; type: 'branch' | 'tag' } {
  return ref.startsWith('refs/tags/') ? { name: ref.slice('refs/tags/'.length), type: 'tag' } : { name: ref.replace(/^refs\/heads\//, ''), type: 'branch' };
}

function refPayload(repo: RepositoryWithOwner, p: Record<string, unknown>, event: 'create' | 'delete') {
  const { name, type } = shortRef(String(p.ref));
  return { ref: name, ref_type: type, ...(event === 'create' ? { master_branch: repo.default_branch, description: repo.description || null } : {}), pusher_type: 'user' };
}

/** Added/removed/modified paths of each commit (first-parent diff for merges), in one git call. */
async function changedPaths(gitDir: string, shas: string[]): Promise<Map<string, { added: string[]; removed: string[]; modified: string[] }>> {
  const out = new Map<string, { added: string[]; removed: string[]; modified: string[] }>();
  if (shas.length === 0) return out;
  const res = await runGit(['log', '--no-walk=unsorted', '--stdin', '--format=%x1e%H', '--name-status', '--no-renames', '--diff-merges=first-parent', '-z'], { gitDir, input: shas.join('\n') + '\n', maxOutput: 16 * 1024 * 1024 });
  if (res.code !== 0) return out;
  for (const record of res.stdout.toString('utf8').split('\x1e')) {
    if (!record) continue;
    const [sha, ...rest] = record.split('\0');
    const files = { added: [] as string[], removed: [] as string[], modified: [] as string[] };
    const tokens = rest.map((t) => t.replace(/^\n/, '')).filter((t, i, all) => t.length > 0 || i < all.length - 1);
    for (let i = 0; i + 1 < tokens.length; i += 2) {
      const status = tokens[i]!;
      const path = tokens[i + 1]!;
      if (status.startsWith('A')) files.added.push(path);
      else if (status.startsWith('D')) files.removed.push(path);
      else if (status) files.modified.push(path);
    }
    out.set(sha!.trim(), files);
  }
  return out;
}

function pushCommitJson(app: AppContext, repo: RepositoryWithOwner, c: CommitSummary, files?: { added: string[]; removed: string[]; modified: string[] }) {
  return {
    id: c.sha,
    tree_id: c.treeSha,
    distinct: true,
    message: c.message,
    timestamp: c.authorDate,
    url: `${app.config.baseUrl}/${repo.owner_name}/${repo.name}/commit/${c.sha}`,
    author: { name: c.authorName, email: c.authorEmail },
    committer: { name: c.committerName, email: c.committerEmail },
    added: files?.added ?? [],
    removed: files?.removed ?? [],
    modified: files?.modified ?? [],
  };
}

async function isAncestor(gitDir: string, a: string, b: string): Promise<boolean> {
  const res = await runGit(['merge-base', '--is-ancestor', '--end-of-options', a, b], { gitDir });
  return res.code === 0;
}

async function pushPayload(app: AppContext, repo: RepositoryWithOwner, p: Record<string, unknown>) {
  const gitDir = repositoryGitDir(app, repo);
  const ref = String(p.ref);
  const before = String(p.before ?? ZERO_SHA);
  const after = String(p.after ?? ZERO_SHA);
  const created = before === ZERO_SHA;
  const deleted = after === ZERO_SHA;
  let commits: CommitSummary[] = [];
  let head: CommitSummary | undefined;
  if (!deleted) {
    [head] = await readCommits(gitDir, [after]).catch(() => [] as CommitSummary[]);
    if (head && ref.startsWith('refs/heads/')) {
      // The commits this push brought: for a new branch, those on no other branch or tag.
      const range = created
        ? await git(['rev-list', `--max-count=${PUSH_COMMITS_LIMIT}`, '--not', `--exclude=${ref.slice('refs/heads/'.length)}`, '--branches', '--tags', '--not', '--end-of-options', after], { gitDir }).catch(() => '')
        : null;
      commits = created
        ? await readCommits(gitDir, range!.split('\n').filter(Boolean))
        : await listCommits(gitDir, after, { exclude: before, limit: PUSH_COMMITS_LIMIT }).catch(() => []);
      commits.reverse(); // oldest first, as GitHub lists them
    }
  }
  const files = await changedPaths(gitDir, [...new Set([...commits.map((c) => c.sha), ...(head ? [head.sha] : [])])]);
  const forced = !created && !deleted && !(await isAncestor(gitDir, before, after));
  const pusher = typeof p.actor_id === 'number' ? await findUserById(app.db, p.actor_id) : undefined;
  const html = `${app.config.baseUrl}/${repo.owner_name}/${repo.name}`;
  return {
    ref,
    before,
    after,
    created,
    deleted,
    forced,
    base_ref: null,
    compare: created || deleted ? `${html}/commit/${created ? after : before}` : `${html}/compare/${before.slice(0, 12)}...${after.slice(0, 12)}`,
    commits: commits.map((c) => pushCommitJson(app, repo, c, files.get(c.sha))),
    head_commit: head ? pushCommitJson(app, repo, head, files.get(head.sha)) : null,
    pusher: pusher ? { name: pusher.username, email: pusher.email || null } : { name: repo.owner_name, email: null },
  };
}

async function loadPullRequest(app: AppContext, repo: RepositoryWithOwner, p: Record<string, unknown>): Promise<PullRequest | undefined> {
  if (typeof p.pull_request_id !== 'number') return undefined;
  return app.db.selectFrom('pull_requests').selectAll().where('id', '=', p.pull_request_id).where('repository_id', '=', repo.id).executeTakeFirst();
}

async function pullRequestPayload(app: AppContext, repo: RepositoryWithOwner, p: Record<string, unknown>, action: string) {
  const pr = await loadPullRequest(app, repo, p);
  if (!pr) return null;
  const body: Record<string, unknown> = { number: pr.number, pull_request: await pullJson(app, accessOf(app, repo), pr, true) };
  if (action === 'synchronize') Object.assign(body, { before: p.before ?? null, after: p.after ?? pr.head_sha });
  Object.assign(body, labelOrAssignee(p));
  return body;
}

async function reviewPayload(app: AppContext, repo: RepositoryWithOwner, p: Record<string, unknown>) {
  const pr = await loadPullRequest(app, repo, p);
  if (!pr || typeof p.review_id !== 'number') return null;
  const access = accessOf(app, repo);
  const review = await getReview(app, pr, p.review_id).catch(() => null);
  if (!review) return null;
  const shaped = reviewJson(app, access, pr, review);
  // Webhooks spell review states in lower case (the REST API in upper case).
  return { review: { ...shaped, state: String(shaped.state).toLowerCase() }, pull_request: await pullJson(app, access, pr, false) };
}

async function loadComment(app: AppContext, id: number): Promise<CommentWithAuthor | undefined> {
  const row = await app.db
    .selectFrom('pull_request_comments')
    .leftJoin('users', 'users.id', 'pull_request_comments.author_id')
    .selectAll('pull_request_comments')
    .select(['users.username as author_name', 'users.is_admin as author_is_admin'])
    .where('pull_request_comments.id', '=', id)
    .executeTakeFirst();
  return row ? { ...row, outdated: false } : undefined;
}

/** An issue — or a pull request as the issue it also is — in the issue API's shape; null when gone. */
async function issueShape(app: AppContext, repo: RepositoryWithOwner, number: unknown) {
  if (typeof number !== 'number') return null;
  const access = accessOf(app, repo);
  const item = await getIssueItem(app, access, number).catch(() => null);
  return item ? issueJson(app, access, item) : null;
}

async function pullCommentPayload(app: AppContext, repo: RepositoryWithOwner, p: Record<string, unknown>, event: 'pull_request_review_comment' | 'issue_comment') {
  const pr = await loadPullRequest(app, repo, p);
  if (!pr || typeof p.comment_id !== 'number') return null;
  const comment = await loadComment(app, p.comment_id);
  if (!comment) return null;
  const access = accessOf(app, repo);
  const shaped = commentJson(app, access, pr, comment);
  if (event === 'issue_comment') {
    const issue = await issueShape(app, repo, pr.number);
    return issue ? { issue, comment: shaped } : null;
  }
  return { comment: shaped, pull_request: await pullJson(app, access, pr, false) };
}

/** What a label or assignee event names, in the payload's terms. */
function labelOrAssignee(p: Record<string, unknown>): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  if (typeof p.label === 'string') extra.label = { id: p.label_id ?? null, name: p.label };
  if (typeof p.assignee === 'string') extra.assignee = { login: p.assignee.replace(/^(user|agent):/, ''), type: p.assignee.startsWith('agent:') ? 'Bot' : 'User' };
  return extra;
}

async function issuePayload(app: AppContext, repo: RepositoryWithOwner, p: Record<string, unknown>) {
  const issue = await issueShape(app, repo, p.number);
  if (!issue) return null;
  return { issue, ...labelOrAssignee(p), ...(p.changes && typeof p.changes === 'object' ? { changes: p.changes } : {}) };
}

async function issueCommentPayload(app: AppContext, repo: RepositoryWithOwner, p: Record<string, unknown>) {
  const issue = await issueShape(app, repo, p.number);
  if (!issue || typeof p.comment_id !== 'number') return null;
  const access = accessOf(app, repo);
  const c = await findIssueComment(app, access, p.comment_id);
  if (!c) return null;
  const api = `${app.config.baseUrl}/api/v1/repos/${repo.owner_name}/${repo.name}`;
  const comment = {
    id: c.id,
    body: c.body,
    user: c.author ? simpleUserJson(app, c.author) : null,
    created_at: iso(c.created_at),
    updated_at: iso(c.updated_at),
    url: `${api}/issues/comments/${c.id}`,
    html_url: `${issue.html_url}#issuecomment-${c.id}`,
    issue_url: `${api}/issues/${c.number}`,
  };
  return { issue, comment };
}

/** The release as the API shows it (drafts included: hooks are set up by the repository's admins); a deleted one from the event itself. */
async function releasePayload(app: AppContext, repo: RepositoryWithOwner, p: Record<string, unknown>, action: string) {
  if (action === 'deleted') return { release: { id: p.release_id, tag_name: p.tag_name, name: p.name ?? null, draft: !!p.draft, prerelease: !!p.prerelease } };
  const release = await getRelease(app, { ...accessOf(app, repo), role: 'admin' }, Number(p.release_id)).catch(() => null);
  return release ? { release: releaseJson(app, repo, release) } : null;
}

async function statusPayload(app: AppContext, repo: RepositoryWithOwner, p: Record<string, unknown>) {
  if (typeof p.status_id !== 'number') return null;
  const status = await app.db.selectFrom('commit_statuses').selectAll().where('id', '=', p.status_id).executeTakeFirst();
  if (!status) return null;
  const gitDir = repositoryGitDir(app, repo);
  const [commit] = await readCommits(gitDir, [String(p.sha)]).catch(() => [] as CommitSummary[]);
  const shaped = statusJson(app, status);
  const branches = await git(['for-each-ref', '--format=%(refname:short)', '--points-at', String(p.sha), 'refs/heads/'], { gitDir }).catch(() => '');
  return {
    ...shaped,
    sha: String(p.sha),
    name: `${repo.owner_name}/${repo.name}`,
    commit: commit ? { sha: commit.sha, commit: { message: commit.message, author: { name: commit.authorName, email: commit.authorEmail, date: commit.authorDate } }, html_url: `${app.config.baseUrl}/${repo.owner_name}/${repo.name}/commit/${commit.sha}` } : { sha: String(p.sha) },
    branches: branches.split('\n').filter(Boolean).map((name) => ({ name, commit: { sha: String(p.sha) } })),
  };
}

async function workflowRunPayload(app: AppContext, repo: RepositoryWithOwner, p: Record<string, unknown>) {
  if (typeof p.workflow_run_id !== 'number') return null;
  const run = await app.db.selectFrom('workflow_runs').selectAll().where('id', '=', p.workflow_run_id).executeTakeFirst();
  if (!run) return null;
  return { workflow_run: workflowRunJson(app, accessOf(app, repo), run), workflow: { name: run.name, path: `gitoku.toml#workflow.${run.workflow_key}` } };
}

async function runPayload(app: AppContext, repo: RepositoryWithOwner, p: Record<string, unknown>) {
  if (typeof p.run_id !== 'number') return null;
  const run = await app.db.selectFrom('prompt_pull_request_jobs').selectAll().where('id', '=', p.run_id).executeTakeFirst();
  if (!run) return null;
  return { run: await runJson(app, accessOf(app, repo), run) };
}

/** The `ping` event GitHub sends when a hook is created (and on request). */
export function pingPayload(app: AppContext, hook: Record<string, unknown>, repo: RepositoryWithOwner | null, senderUser: Pick<User, 'id' | 'username' | 'is_admin'> | null): WebhookMessage {
  const zen = 'Responsive is better than fast.';
  return {
    event: 'ping',
    action: null,
    payload: {
      zen,
      hook_id: hook.id,
      hook,
      ...(repo ? { repository: repositoryJson(app, repo, null) } : {}),
      ...(senderUser ? { sender: simpleUserJson(app, senderUser) } : {}),
    },
  };
}
