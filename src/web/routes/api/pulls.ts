import { z } from 'zod';
import type { Context } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { ApiRegistry } from './registry.ts';
import { paginationQuery, setPaginationLinks } from './registry.ts';
import { errorSchema } from './shapes.ts';
import { repoFromPath } from './repos.ts';
import { requireIdentity } from './guards.ts';
import { commitJson, fileJson } from './code.ts';
import type { User } from '../../../db/schema.ts';
import { createPullRequest, getPullRequest, listPullRequests, mergePullRequest, updatePullRequest } from '../../../services/pulls.ts';
import { createLineComment, createReview, getReview, listLineComments, listReviews } from '../../../services/pullComments.ts';
import { combineStatuses, createCommitStatus, listCommitStatuses, STATUS_STATES } from '../../../services/statuses.ts';
import { resolveRefOr404 } from '../../../services/code.ts';
import { invalid } from '../../../services/errors.ts';
import { listCommits } from '../../../git/log.ts';
import { cachedDiff } from '../../../services/uiBrowse.ts';
import type { CommitStatus } from '../../../db/schema.ts';
import { commentJson, pullJson, reviewJson, statusJson } from '../../../services/apiShapes/pulls.ts';

export { commentJson, pullJson, reviewJson, statusJson };


const listQuery = paginationQuery.extend({ state: z.enum(['open', 'closed', 'all']).default('open'), base: z.string().optional(), head: z.string().optional() });
const createBody = z.object({ title: z.string(), head: z.string(), base: z.string(), body: z.string().nullish(), draft: z.boolean().optional() });
const updateBody = z.object({ title: z.string().optional(), body: z.string().nullish(), state: z.enum(['open', 'closed']).optional(), base: z.string().optional(), draft: z.boolean().optional() });
const mergeBody = z.object({
  merge_method: z.enum(['merge', 'squash', 'rebase']).default('merge'),
  commit_title: z.string().max(512).optional(),
  commit_message: z.string().max(65536).optional(),
  sha: z.string().regex(/^[0-9a-f]{40}$/, 'expected a 40-character sha').optional(),
  delete_branch: z.boolean().optional(),
});
const lineCommentBody = z.object({
  body: z.string(),
  path: z.string().optional(),
  line: z.number().int().positive().optional(),
  side: z.enum(['LEFT', 'RIGHT']).optional(),
  commit_id: z.string().optional(),
  in_reply_to: z.number().int().positive().optional(),
});
const reviewBody = z.object({
  body: z.string().optional(),
  event: z.enum(['APPROVE', 'REQUEST_CHANGES', 'COMMENT']).default('COMMENT'),
  commit_id: z.string().optional(),
  comments: z.array(z.object({ path: z.string(), line: z.number().int().positive(), side: z.enum(['LEFT', 'RIGHT']).optional(), body: z.string() })).max(200).optional(),
});
const statusBody = z.object({ state: z.enum(STATUS_STATES as [string, ...string[]]), target_url: z.string().nullish(), description: z.string().nullish(), context: z.string().optional() });

function prNumber(c: Context<WebEnv>): number {
  const n = Number(c.req.param('number'));
  return Number.isSafeInteger(n) && n > 0 && n <= 2_147_483_647 ? n : -1;
}

export function registerPullRoutes(api: ApiRegistry): void {
  api.add({ method: 'get', path: '/repos/{owner}/{repo}/pulls', summary: 'Pull requests', tag: 'pulls', access: 'public', query: listQuery, responses: { 200: { description: 'Pull requests' } } }, async (c, { query }) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const { items, total } = await listPullRequests(app, access, { state: query.state, base: query.base, head: query.head, page: query.page, perPage: query.per_page });
    setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, total);
    return c.json(await Promise.all(items.map((pr) => pullJson(app, access, pr))));
  });

  api.add(
    { method: 'post', path: '/repos/{owner}/{repo}/pulls', summary: 'Open a pull request (head → base, same repository)', tag: 'pulls', access: 'repo', body: createBody, responses: { 201: { description: 'Created' }, 422: { description: 'Invalid', schema: errorSchema } } },
    async (c, { body }) => {
      const app = c.get('app');
      const identity = requireIdentity(c);
      const access = await repoFromPath(c, 'write');
      const pr = await createPullRequest(app, access, identity.user, { title: body.title, body: body.body ?? '', head: body.head, base: body.base, draft: body.draft });
      return c.json(await pullJson(app, access, pr, true), 201);
    },
  );

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/pulls/{number}', summary: 'A pull request', tag: 'pulls', access: 'public', responses: { 200: { description: 'The pull request' } } }, async (c) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    return c.json(await pullJson(app, access, await getPullRequest(app, access, prNumber(c)), true));
  });

  api.add({ method: 'patch', path: '/repos/{owner}/{repo}/pulls/{number}', summary: 'Edit, close/reopen, change draft state', tag: 'pulls', access: 'repo', body: updateBody, responses: { 200: { description: 'Updated' } } }, async (c, { body }) => {
    const app = c.get('app');
    const identity = requireIdentity(c);
    const access = await repoFromPath(c);
    const pr = await updatePullRequest(app, access, identity.user, prNumber(c), { title: body.title, body: body.body === null ? '' : body.body, state: body.state, base: body.base, draft: body.draft });
    return c.json(await pullJson(app, access, pr, true));
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/pulls/{number}/commits', summary: 'Commits of a pull request', tag: 'pulls', access: 'public', query: paginationQuery, responses: { 200: { description: 'Commits' } } }, async (c, { query }) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const pr = await getPullRequest(app, access, prNumber(c));
    const commits = (await listCommits(access.gitDir, pr.head_sha, { exclude: pr.merge_base_sha ?? pr.base_sha, limit: 10_000 })).reverse();
    setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, commits.length);
    return c.json(commits.slice((query.page - 1) * query.per_page, query.page * query.per_page).map((r) => commitJson(app, access.repo, r)));
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/pulls/{number}/files', summary: 'Files changed by a pull request', tag: 'pulls', access: 'public', query: paginationQuery, responses: { 200: { description: 'Files' } } }, async (c, { query }) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const pr = await getPullRequest(app, access, prNumber(c));
    const diff = await cachedDiff(access.gitDir, pr.merge_base_sha ?? pr.base_sha, pr.head_sha);
    setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, diff.files.length);
    return c.json(diff.files.slice((query.page - 1) * query.per_page, query.page * query.per_page).map((f) => fileJson(app, access.repo, pr.head_sha, f)));
  });

  api.add(
    {
      method: 'put',
      path: '/repos/{owner}/{repo}/pulls/{number}/merge',
      summary: 'Merge a pull request (merge, squash or rebase)',
      tag: 'pulls',
      access: 'repo',
      body: mergeBody,
      responses: { 200: { description: '{merged, sha, message}' }, 405: { description: 'Not mergeable (draft, closed, conflicts)', schema: errorSchema }, 409: { description: 'Head or base moved', schema: errorSchema } },
    },
    async (c, { body }) => {
      const app = c.get('app');
      const identity = requireIdentity(c);
      const access = await repoFromPath(c, 'write');
      const result = await mergePullRequest(app, access, identity.user, prNumber(c), {
        method: body.merge_method,
        commitTitle: body.commit_title,
        commitMessage: body.commit_message,
        expectedHeadSha: body.sha,
        deleteBranch: body.delete_branch,
      });
      return c.json({ sha: result.sha, merged: true, message: 'Pull Request successfully merged' });
    },
  );

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/pulls/{number}/merge', summary: 'Whether a pull request was merged (204/404)', tag: 'pulls', access: 'public', responses: { 204: { description: 'Merged' }, 404: { description: 'Not merged' } } }, async (c) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const pr = await getPullRequest(app, access, prNumber(c));
    return pr.state === 'merged' ? c.body(null, 204) : c.json({ message: 'Not Found' }, 404);
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/pulls/{number}/comments', summary: 'Line comments of a pull request', tag: 'pulls', access: 'public', responses: { 200: { description: 'Comments' } } }, async (c) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const pr = await getPullRequest(app, access, prNumber(c));
    return c.json((await listLineComments(app, access, pr)).map((cm) => commentJson(app, access, pr, cm)));
  });

  api.add(
    { method: 'post', path: '/repos/{owner}/{repo}/pulls/{number}/comments', summary: 'Comment on a diff line (path, line, side, commit_id) or reply (in_reply_to)', tag: 'pulls', access: 'repo', body: lineCommentBody, responses: { 201: { description: 'Created' } } },
    async (c, { body }) => {
      const app = c.get('app');
      const identity = requireIdentity(c);
      const access = await repoFromPath(c);
      if (body.in_reply_to === undefined && (!body.path || !body.line)) throw invalid('path and line are required (or in_reply_to)', 'path');
      const comment = await createLineComment(app, access, identity.user, prNumber(c), { body: body.body, path: body.path ?? '', line: body.line ?? 0, side: body.side, commitSha: body.commit_id, inReplyTo: body.in_reply_to });
      const pr = await getPullRequest(app, access, prNumber(c));
      return c.json(commentJson(app, access, pr, comment), 201);
    },
  );

  // Conversation comments (`/issues/{number}/comments`) are served by the issue routes (api/issues.ts): issues and pull requests share numbers.

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/pulls/{number}/reviews', summary: 'Reviews of a pull request', tag: 'pulls', access: 'public', responses: { 200: { description: 'Reviews' } } }, async (c) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const pr = await getPullRequest(app, access, prNumber(c));
    return c.json((await listReviews(app, pr)).map((r) => reviewJson(app, access, pr, r)));
  });

  api.add(
    { method: 'post', path: '/repos/{owner}/{repo}/pulls/{number}/reviews', summary: 'Submit a review (APPROVE, REQUEST_CHANGES, COMMENT) with line comments', tag: 'pulls', access: 'repo', body: reviewBody, responses: { 200: { description: 'The review' } } },
    async (c, { body }) => {
      const app = c.get('app');
      const identity = requireIdentity(c);
      const access = await repoFromPath(c);
      const review = await createReview(app, access, identity.user as User, prNumber(c), { event: body.event, body: body.body, commitSha: body.commit_id, comments: body.comments });
      const pr = await getPullRequest(app, access, prNumber(c));
      return c.json(reviewJson(app, access, pr, review));
    },
  );

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/pulls/{number}/reviews/{id}', summary: 'A review', tag: 'pulls', access: 'public', responses: { 200: { description: 'The review' } } }, async (c) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const pr = await getPullRequest(app, access, prNumber(c));
    return c.json(reviewJson(app, access, pr, await getReview(app, pr, Number(c.req.param('id')))));
  });

  api.add(
    { method: 'post', path: '/repos/{owner}/{repo}/statuses/{sha}', summary: 'Create a commit status', tag: 'statuses', access: 'repo', body: statusBody, responses: { 201: { description: 'Created' } } },
    async (c, { body }) => {
      const app = c.get('app');
      const identity = requireIdentity(c);
      const access = await repoFromPath(c, 'write');
      const status = await createCommitStatus(app, access, identity.user.id, c.req.param('sha')!, { state: body.state as CommitStatus['state'], context: body.context, description: body.description ?? undefined, targetUrl: body.target_url ?? null });
      return c.json(statusJson(app, status), 201);
    },
  );

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/commits/{ref+}/statuses', summary: 'Statuses of a commit, newest first', tag: 'statuses', access: 'public', responses: { 200: { description: 'Statuses' } } }, async (c) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const sha = await resolveRefOr404(access, c.req.param('ref')!);
    return c.json((await listCommitStatuses(app, access.repo.id, sha)).map((s) => statusJson(app, s)));
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/commits/{ref+}/status', summary: 'Combined status of a commit', tag: 'statuses', access: 'public', responses: { 200: { description: 'Combined status' } } }, async (c) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const sha = await resolveRefOr404(access, c.req.param('ref')!);
    const combined = combineStatuses(await listCommitStatuses(app, access.repo.id, sha));
    return c.json({ state: combined.state, sha, total_count: combined.statuses.length, statuses: combined.statuses.map((s) => statusJson(app, s)) });
  });
}
