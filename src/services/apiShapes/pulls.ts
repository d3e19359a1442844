import type { AppContext } from '../app.ts';
import type { RepositoryAccess, RepositoryWithOwner } from '../repositories.ts';
import type { CommitStatus, PullRequest } from '../../db/schema.ts';
import type { CommentWithAuthor, ReviewWithAuthor } from '../pullComments.ts';
import { findUserById } from '../users.ts';
import { listCommits } from '../../git/log.ts';
import { diffCommits } from '../../git/diff.ts';
import { iso } from './common.ts';
import { simpleUserJson } from './users.ts';

export async function userRef(app: AppContext, id: number | null) {
  if (id === null) return null;
  const user = await findUserById(app.db, id);
  return user ? simpleUserJson(app, user) : null;
}

export function branchRef(app: AppContext, repo: RepositoryWithOwner, branch: string, sha: string) {
  return { label: `${repo.owner_name}:${branch}`, ref: branch, sha, user: simpleUserJson(app, { id: repo.owner_id, username: repo.owner_name, is_admin: repo.owner_is_admin }), repo: { id: repo.id, name: repo.name, full_name: `${repo.owner_name}/${repo.name}` } };
}

export async function pullJson(app: AppContext, access: RepositoryAccess, pr: PullRequest, detailed = false) {
  const repo = access.repo;
  const api = `${app.config.baseUrl}/api/v1/repos/${repo.owner_name}/${repo.name}`;
  const html = `${app.config.baseUrl}/${repo.owner_name}/${repo.name}/pull/${pr.number}`;
  const base = {
    id: pr.id,
    number: pr.number,
    state: pr.state === 'open' ? 'open' : 'closed',
    locked: false,
    title: pr.title,
    body: pr.body || null,
    user: await userRef(app, pr.author_id),
    draft: pr.draft === 1,
    head: branchRef(app, repo, pr.compare_branch, pr.head_sha),
    base: branchRef(app, repo, pr.base_branch, pr.base_sha),
    merged: pr.state === 'merged',
    mergeable: pr.state === 'open' ? pr.mergeable === null ? null : pr.mergeable === 1 : null,
    mergeable_state: pr.state !== 'open' ? 'unknown' : pr.mergeable === null ? 'unknown' : pr.mergeable === 0 ? 'dirty' : pr.draft === 1 ? 'draft' : 'clean',
    conflicting_files: JSON.parse(pr.conflict_files) as string[],
    merged_at: iso(pr.merged_at),
    merge_commit_sha: pr.merge_commit_sha,
    merged_by: await userRef(app, pr.merged_by_id),
    created_at: iso(pr.created_at),
    updated_at: iso(pr.updated_at),
    closed_at: iso(pr.closed_at),
    url: `${api}/pulls/${pr.number}`,
    html_url: html,
    diff_url: `${html}.diff`,
    patch_url: `${html}.patch`,
    commits_url: `${api}/pulls/${pr.number}/commits`,
    review_comments_url: `${api}/pulls/${pr.number}/comments`,
    comments_url: `${api}/issues/${pr.number}/comments`,
    statuses_url: `${api}/statuses/${pr.head_sha}`,
  };
  if (!detailed) return base;
  const from = pr.merge_base_sha ?? pr.base_sha;
  const [commits, diff] = await Promise.all([listCommits(access.gitDir, pr.head_sha, { exclude: from, limit: 10_000 }), diffCommits(access.gitDir, from, pr.head_sha, { maxPatchBytes: 1 })]);
  return {
    ...base,
    commits: commits.length,
    additions: diff.files.reduce((n, f) => n + f.additions, 0),
    deletions: diff.files.reduce((n, f) => n + f.deletions, 0),
    changed_files: diff.files.length,
  };
}

export function commentJson(app: AppContext, access: RepositoryAccess, pr: PullRequest, c: CommentWithAuthor) {
  const repo = access.repo;
  const api = `${app.config.baseUrl}/api/v1/repos/${repo.owner_name}/${repo.name}`;
  const html = `${app.config.baseUrl}/${repo.owner_name}/${repo.name}/pull/${pr.number}#comment-${c.id}`;
  const user = c.author_id !== null && c.author_name ? simpleUserJson(app, { id: c.author_id, username: c.author_name, is_admin: c.author_is_admin ?? 0 }) : null;
  const common = { id: c.id, body: c.body, user, created_at: iso(c.created_at), updated_at: iso(c.updated_at), html_url: html };
  if (c.path === null) return { ...common, url: `${api}/issues/comments/${c.id}`, issue_url: `${api}/issues/${pr.number}` };
  return {
    ...common,
    url: `${api}/pulls/comments/${c.id}`,
    pull_request_url: `${api}/pulls/${pr.number}`,
    pull_request_review_id: c.review_id,
    in_reply_to_id: c.in_reply_to_id ?? undefined,
    path: c.path,
    line: c.outdated ? null : c.line,
    original_line: c.line,
    side: c.side,
    commit_id: c.commit_sha,
    original_commit_id: c.commit_sha,
    diff_hunk: c.diff_hunk ?? '',
    outdated: c.outdated,
  };
}

export function reviewJson(app: AppContext, access: RepositoryAccess, pr: PullRequest, r: ReviewWithAuthor) {
  const repo = access.repo;
  return {
    id: r.id,
    user: r.author_id !== null && r.author_name ? simpleUserJson(app, { id: r.author_id, username: r.author_name, is_admin: r.author_is_admin ?? 0 }) : null,
    body: r.body,
    state: r.state,
    commit_id: r.commit_sha,
    submitted_at: iso(r.created_at),
    html_url: `${app.config.baseUrl}/${repo.owner_name}/${repo.name}/pull/${pr.number}#review-${r.id}`,
    pull_request_url: `${app.config.baseUrl}/api/v1/repos/${repo.owner_name}/${repo.name}/pulls/${pr.number}`,
  };
}

export function statusJson(app: AppContext, s: CommitStatus) {
  return { id: s.id, state: s.state, context: s.context, description: s.description || null, target_url: s.target_url, created_at: iso(s.created_at), updated_at: iso(s.updated_at) };
}
