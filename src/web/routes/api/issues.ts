import { z } from 'zod';
import type { Context } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { ApiRegistry } from './registry.ts';
import { paginationQuery, setPaginationLinks } from './registry.ts';
import { errorSchema, simpleUserJson } from './shapes.ts';
import { repoFromPath } from './repos.ts';
import { requireIdentity, viewerOf } from './guards.ts';
import { commentJson } from './pulls.ts';
import type { AppContext } from '../../../services/app.ts';
import type { RepositoryAccess } from '../../../services/repositories.ts';
import { notFound } from '../../../services/errors.ts';
import { addIssueAssignees, addIssueComment, createIssue, deleteIssueComment, deletePullConversationComment, findPullConversationComment, updatePullConversationComment, findIssueComment, getIssueItem, type IssueCommentItem, listAssignableUsers, listIssueComments, listIssues, removeIssueAssignees, updateIssue, updateIssueComment } from '../../../services/issues.ts';
import { addIssueLabels, createLabel, deleteLabel, getLabel, listLabels, removeIssueLabel, setIssueLabels, updateLabel } from '../../../services/issueLabels.ts';
import { issueRuns, issueTimeline, type IssueRunRef, type TimelineItem } from '../../../services/issueTimeline.ts';
import { listIssueAgents } from '../../../services/issueAgentKeys.ts';
import { getPullRequest, updatePullRequest } from '../../../services/pulls.ts';
import { createConversationComment, listConversationComments } from '../../../services/pullComments.ts';
import { findUserByName } from '../../../services/users.ts';
import { agentUserJson, issueJson, labelJson, repoApi } from '../../../services/apiShapes/issues.ts';

export { issueJson, labelJson };

/**
 * GitHub's issues API (`/repos/{owner}/{repo}/issues…`, labels, assignees, timeline): issues and pull
 * requests share numbers, so `/issues/{n}` answers for a pull request too (with a `pull_request` key)
 * and `/issues` lists both unless `kind` says otherwise. Agents are assignees `agent:<key>` (type Bot).
 */

const iso = (s: string | null) => (s ? s.replace(/\.\d{3}Z$/, 'Z') : null);

function issueCommentJson(app: AppContext, access: RepositoryAccess, c: IssueCommentItem) {
  const api = repoApi(app, access);
  return {
    id: c.id,
    node_id: `IC_${c.id}`,
    body: c.body,
    user: c.author ? simpleUserJson(app, c.author) : null,
    created_at: iso(c.created_at),
    updated_at: iso(c.updated_at),
    author_association: 'NONE',
    url: `${api}/issues/comments/${c.id}`,
    html_url: `${app.config.baseUrl}/${access.repo.owner_name}/${access.repo.name}/issues/${c.number}#issuecomment-${c.id}`,
    issue_url: `${api}/issues/${c.number}`,
  };
}

function runRefJson(app: AppContext, access: RepositoryAccess, r: IssueRunRef) {
  const html = `${app.config.baseUrl}/${access.repo.owner_name}/${access.repo.name}`;
  return {
    id: r.id,
    number: r.number,
    status: r.status,
    title: r.title,
    driver: r.driver,
    model: r.model || null,
    agent_key: r.agent_key,
    created_at: iso(r.created_at),
    started_at: iso(r.started_at),
    finished_at: iso(r.finished_at),
    html_url: `${html}/runs/${r.number}`,
    url: `${repoApi(app, access)}/runs/${r.number}`,
    pull_request: r.pull_request ? { number: r.pull_request.number, state: r.pull_request.state, title: r.pull_request.title, html_url: `${html}/pull/${r.pull_request.number}` } : null,
    created_by: r.created_by ? simpleUserJson(app, r.created_by) : null,
  };
}

function timelineJson(app: AppContext, access: RepositoryAccess, t: TimelineItem) {
  const actor = t.actor ? simpleUserJson(app, t.actor) : null;
  const common = { id: t.id, node_id: `${t.type}_${t.id}`, actor, event: t.type, created_at: iso(t.created_at) };
  const base = app.config.baseUrl;
  switch (t.type) {
    case 'commented':
      return { ...common, ...issueCommentJson(app, access, t.comment), event: 'commented' };
    case 'labeled':
    case 'unlabeled':
      return { ...common, label: t.label };
    case 'assigned':
    case 'unassigned':
      return { ...common, assignee: t.assignee.startsWith('agent:') ? agentUserJson(app, access, t.assignee) : { login: t.login, type: 'User' } };
    case 'renamed':
      return { ...common, rename: { from: t.from, to: t.to } };
    case 'reopened':
      return common;
    case 'closed':
      return {
        ...common,
        state_reason: t.state_reason,
        commit_id: t.commit_id,
        commit_url: t.commit_id && t.repository ? `${base}/api/v1/repos/${t.repository.owner}/${t.repository.name}/commits/${t.commit_id}` : null,
        ...(t.pull_request ? { source: { type: 'pull_request', number: t.pull_request.number, title: t.pull_request.title, html_url: `${base}/${t.pull_request.repository.owner}/${t.pull_request.repository.name}/pull/${t.pull_request.number}`, repository: { full_name: `${t.pull_request.repository.owner}/${t.pull_request.repository.name}` } } } : {}),
      };
    case 'referenced':
      return { ...common, commit_id: t.commit_id, commit_url: `${base}/api/v1/repos/${t.repository.owner}/${t.repository.name}/commits/${t.commit_id}`, message: t.message, repository: { full_name: `${t.repository.owner}/${t.repository.name}` } };
    case 'cross-referenced': {
      const s = t.source;
      const htmlUrl = `${base}/${s.repository.owner}/${s.repository.name}/${s.kind === 'pull' ? 'pull' : 'issues'}/${s.number}`;
      return { ...common, source: { type: 'issue', issue: { number: s.number, title: s.title, state: s.state === 'open' ? 'open' : 'closed', html_url: htmlUrl, repository: { full_name: `${s.repository.owner}/${s.repository.name}` }, ...(s.kind === 'pull' ? { pull_request: { html_url: htmlUrl, merged: s.state === 'merged' } } : {}) } } };
    }
    case 'run_started':
      return { ...common, trigger: t.trigger, run: runRefJson(app, access, t.run) };
    case 'run_not_started':
      return { ...common, trigger: t.trigger, agent: t.agent, reason: t.reason };
  }
}

const labelNames = z.array(z.union([z.string(), z.object({ name: z.string() })])).max(100);
const toNames = (labels: z.infer<typeof labelNames>) => labels.map((l) => (typeof l === 'string' ? l : l.name));

/** A query string parameter (PostgreSQL cannot take a NUL in a text parameter). */
const text = (max: number) => z.string().max(max).refine((v) => !v.includes('\0'), 'must not contain NUL characters');
const listQuery = paginationQuery.extend({
  state: z.enum(['open', 'closed', 'all']).default('open'),
  labels: text(2000).optional(),
  assignee: text(100).optional(),
  creator: text(100).optional(),
  q: text(256).optional(),
  kind: z.enum(['issue', 'pull', 'all']).default('all'),
  sort: z.enum(['created', 'updated', 'comments']).default('created'),
  direction: z.enum(['asc', 'desc']).default('desc'),
  since: z.string().datetime({ offset: true }).optional(),
  milestone: z.string().optional(),
});
const createBody = z.object({
  title: z.union([z.string(), z.number()]).transform(String),
  body: z.string().nullish(),
  labels: labelNames.optional(),
  assignees: z.array(z.string()).max(100).optional(),
  assignee: z.string().nullish(),
  milestone: z.union([z.string(), z.number()]).nullish(),
});
const updateBody = z.object({
  title: z.union([z.string(), z.number()]).transform(String).optional(),
  body: z.string().nullish(),
  state: z.enum(['open', 'closed']).optional(),
  state_reason: z.enum(['completed', 'not_planned', 'reopened']).nullish(),
  labels: labelNames.optional(),
  assignees: z.array(z.string()).max(100).optional(),
  assignee: z.string().nullish(),
  milestone: z.union([z.string(), z.number()]).nullish(),
});
const commentBody = z.object({ body: z.string() });
const labelsBody = z.union([z.object({ labels: labelNames }), labelNames]);
const assigneesBody = z.object({ assignees: z.array(z.string()).max(100) });
const createLabelBody = z.object({ name: z.string(), color: z.string().optional(), description: z.string().nullish(), agent: z.string().nullish() });
const updateLabelBody = z.object({ new_name: z.string().optional(), name: z.string().optional(), color: z.string().optional(), description: z.string().nullish(), agent: z.string().nullish() });

function issueNumber(c: Context<WebEnv>): number {
  const n = Number(c.req.param('number'));
  return Number.isSafeInteger(n) && n > 0 && n <= 2_147_483_647 ? n : -1;
}

function idParam(c: Context<WebEnv>, name = 'id'): number {
  const n = Number(c.req.param(name));
  return Number.isSafeInteger(n) && n > 0 && n <= 2_147_483_647 ? n : -1;
}

function withAssignee(assignees: string[] | undefined, assignee: string | null | undefined): string[] | undefined {
  if (assignees !== undefined) return assignees;
  if (assignee === undefined) return undefined;
  return assignee === null ? [] : [assignee];
}

export function registerIssueRoutes(api: ApiRegistry): void {
  api.add({ method: 'get', path: '/repos/{owner}/{repo}/issues', summary: 'Issues and pull requests (filters: state, labels, assignee, creator, q, kind)', tag: 'issues', access: 'public', query: listQuery, responses: { 200: { description: 'Issues' } } }, async (c, { query }) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const { issues, total } = await listIssues(app, access, {
      state: query.state,
      labels: query.labels ? query.labels.split(',').map((s) => s.trim()).filter(Boolean) : undefined,
      assignee: query.assignee,
      creator: query.creator,
      q: query.q,
      kind: query.kind,
      sort: query.sort,
      direction: query.direction,
      since: query.since ? new Date(query.since).toISOString() : undefined,
      page: query.page,
      per_page: query.per_page,
    });
    setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, total);
    return c.json(issues.map((i) => issueJson(app, access, i)));
  });

  api.add(
    { method: 'post', path: '/repos/{owner}/{repo}/issues', summary: 'Open an issue (labels and assignees, users or agent:<key>, need write access)', tag: 'issues', access: 'repo', body: createBody, responses: { 201: { description: 'Created' }, 403: { description: 'Labels, assignees or agents without write access', schema: errorSchema }, 413: { description: 'Body too long', schema: errorSchema }, 422: { description: 'Invalid', schema: errorSchema } } },
    async (c, { body }) => {
      const app = c.get('app');
      const identity = requireIdentity(c);
      const access = await repoFromPath(c);
      const item = await createIssue(app, access, identity.user, { title: body.title, body: body.body ?? '', labels: body.labels ? toNames(body.labels) : undefined, assignees: withAssignee(body.assignees, body.assignee) });
      return c.json(issueJson(app, access, item), 201);
    },
  );

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/issues/comments', summary: 'Issue comments of the repository', tag: 'issues', access: 'public', query: paginationQuery, responses: { 200: { description: 'Comments' } } }, async (c, { query }) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const rows = await app.db.selectFrom('issue_comments').select('id').where('repository_id', '=', access.repo.id).orderBy('id').limit(query.per_page).offset((query.page - 1) * query.per_page).execute();
    const comments = await Promise.all(rows.map((r) => findIssueComment(app, access, r.id)));
    return c.json(comments.filter((x): x is IssueCommentItem => !!x).map((x) => issueCommentJson(app, access, x)));
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/issues/comments/{id}', summary: 'An issue comment', tag: 'issues', access: 'public', responses: { 200: { description: 'The comment' } } }, async (c) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const id = idParam(c);
    const comment = await findIssueComment(app, access, id);
    if (comment) return c.json(issueCommentJson(app, access, comment));
    // A pull request's conversation comment (one id space with issue comments).
    const found = await findPullConversationComment(app, access, id);
    if (!found) throw notFound('Comment not found');
    const pr = found.pr;
    const cm = (await listConversationComments(app, pr)).find((x) => x.id === id);
    if (!cm) throw notFound('Comment not found');
    return c.json(commentJson(app, access, pr, cm));
  });

  api.add({ method: 'patch', path: '/repos/{owner}/{repo}/issues/comments/{id}', summary: 'Edit an issue comment or a pull request\'s conversation comment (author or writer)', tag: 'issues', access: 'repo', body: commentBody, responses: { 200: { description: 'The comment' }, 413: { description: 'Body too long', schema: errorSchema } } }, async (c, { body }) => {
    const app = c.get('app');
    const identity = requireIdentity(c);
    const access = await repoFromPath(c);
    const id = idParam(c);
    if (!(await findIssueComment(app, access, id))) {
      const pr = await updatePullConversationComment(app, access, identity.user, id, body.body);
      const cm = (await listConversationComments(app, pr)).find((x) => x.id === id);
      if (!cm) throw notFound('Comment not found');
      return c.json(commentJson(app, access, pr, cm));
    }
    return c.json(issueCommentJson(app, access, await updateIssueComment(app, access, identity.user, id, body.body)));
  });

  api.add({ method: 'delete', path: '/repos/{owner}/{repo}/issues/comments/{id}', summary: 'Delete an issue comment or a pull request\'s conversation comment (author or writer)', tag: 'issues', access: 'repo', responses: { 204: { description: 'Deleted' } } }, async (c) => {
    const app = c.get('app');
    const identity = requireIdentity(c);
    const access = await repoFromPath(c);
    const id = idParam(c);
    if (await findIssueComment(app, access, id)) await deleteIssueComment(app, access, identity.user, id);
    else await deletePullConversationComment(app, access, identity.user, id);
    return c.body(null, 204);
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/issues/{number}', summary: 'An issue (or a pull request, with a pull_request key)', tag: 'issues', access: 'public', responses: { 200: { description: 'The issue' }, 404: { description: 'Not found', schema: errorSchema } } }, async (c) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    return c.json(issueJson(app, access, await getIssueItem(app, access, issueNumber(c))));
  });

  api.add(
    { method: 'patch', path: '/repos/{owner}/{repo}/issues/{number}', summary: 'Edit, close (state_reason completed | not_planned) or reopen; replace labels and assignees', tag: 'issues', access: 'repo', body: updateBody, responses: { 200: { description: 'The issue' }, 403: { description: 'Not allowed', schema: errorSchema }, 413: { description: 'Body too long', schema: errorSchema } } },
    async (c, { body }) => {
      const app = c.get('app');
      const identity = requireIdentity(c);
      const access = await repoFromPath(c);
      const number = issueNumber(c);
      const item = await getIssueItem(app, access, number);
      const assignees = withAssignee(body.assignees, body.assignee);
      if (item.kind === 'pull') {
        // GitHub edits a pull request through the issue API too: title, body and state on the pull request.
        if (body.title !== undefined || body.body !== undefined || body.state !== undefined) await updatePullRequest(app, access, identity.user, number, { title: body.title, body: body.body === null ? '' : body.body, state: body.state });
        if (body.labels !== undefined) await setIssueLabels(app, access, identity.user, number, toNames(body.labels));
        if (assignees !== undefined) {
          const current = item.assignees.map((a) => (a.kind === 'user' ? a.user.username : a.key));
          await removeIssueAssignees(app, access, identity.user, number, current.filter((x) => !assignees.includes(x)));
          if (assignees.length) await addIssueAssignees(app, access, identity.user, number, assignees);
        }
        return c.json(issueJson(app, access, await getIssueItem(app, access, number)));
      }
      const updated = await updateIssue(app, access, identity.user, number, {
        title: body.title,
        body: body.body === null ? '' : body.body,
        state: body.state,
        state_reason: body.state_reason,
        labels: body.labels ? toNames(body.labels) : undefined,
        assignees,
      });
      return c.json(issueJson(app, access, updated));
    },
  );

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/issues/{number}/comments', summary: 'Comments of an issue (or the conversation of a pull request)', tag: 'issues', access: 'public', query: paginationQuery.extend({ since: z.string().datetime({ offset: true }).optional() }), responses: { 200: { description: 'Comments' } } }, async (c, { query }) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const number = issueNumber(c);
    const item = await getIssueItem(app, access, number);
    if (item.kind === 'pull') {
      const pr = await getPullRequest(app, access, number);
      const all = await listConversationComments(app, pr);
      setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, all.length);
      return c.json(all.slice((query.page - 1) * query.per_page, query.page * query.per_page).map((cm) => commentJson(app, access, pr, cm)));
    }
    const { comments, total } = await listIssueComments(app, access, number, { page: query.page, per_page: query.per_page, since: query.since ? new Date(query.since).toISOString() : undefined });
    setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, total);
    return c.json(comments.map((cm) => issueCommentJson(app, access, cm)));
  });

  api.add({ method: 'post', path: '/repos/{owner}/{repo}/issues/{number}/comments', summary: 'Comment on an issue or a pull request (`/run <instructions>` by a writer starts the issue\'s agent again)', tag: 'issues', access: 'repo', body: commentBody, responses: { 201: { description: 'Created' }, 413: { description: 'Body too long', schema: errorSchema } } }, async (c, { body }) => {
    const app = c.get('app');
    const identity = requireIdentity(c);
    const access = await repoFromPath(c);
    const number = issueNumber(c);
    const item = await getIssueItem(app, access, number);
    if (item.kind === 'pull') {
      const comment = await createConversationComment(app, access, identity.user, number, body.body);
      return c.json(commentJson(app, access, await getPullRequest(app, access, number), comment), 201);
    }
    return c.json(issueCommentJson(app, access, await addIssueComment(app, access, identity.user, number, body.body)), 201);
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/issues/{number}/labels', summary: 'Labels of an issue', tag: 'issues', access: 'public', responses: { 200: { description: 'Labels' } } }, async (c) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    return c.json((await getIssueItem(app, access, issueNumber(c))).labels.map((l) => labelJson(app, access, l)));
  });

  for (const method of ['post', 'put'] as const) {
    api.add(
      { method, path: '/repos/{owner}/{repo}/issues/{number}/labels', summary: method === 'post' ? 'Add labels (missing ones are created; an agent label starts its agent)' : 'Replace the labels', tag: 'issues', access: 'repo', body: labelsBody, responses: { 200: { description: 'The labels now' }, 403: { description: 'No write access', schema: errorSchema } } },
      async (c, { body }) => {
        const app = c.get('app');
        const identity = requireIdentity(c);
        const access = await repoFromPath(c);
        const names = toNames(Array.isArray(body) ? body : body.labels);
        const labels = await (method === 'post' ? addIssueLabels : setIssueLabels)(app, access, identity.user, issueNumber(c), names);
        return c.json(labels.map((l) => labelJson(app, access, l)));
      },
    );
  }

  api.add({ method: 'delete', path: '/repos/{owner}/{repo}/issues/{number}/labels/{name}', summary: 'Remove a label', tag: 'issues', access: 'repo', responses: { 200: { description: 'The labels left' }, 404: { description: 'The issue does not have it', schema: errorSchema } } }, async (c) => {
    const app = c.get('app');
    const identity = requireIdentity(c);
    const access = await repoFromPath(c);
    const labels = await removeIssueLabel(app, access, identity.user, issueNumber(c), c.req.param('name')!);
    return c.json(labels.map((l) => labelJson(app, access, l)));
  });

  api.add({ method: 'delete', path: '/repos/{owner}/{repo}/issues/{number}/labels', summary: 'Remove every label', tag: 'issues', access: 'repo', responses: { 204: { description: 'Removed' } } }, async (c) => {
    const app = c.get('app');
    const identity = requireIdentity(c);
    const access = await repoFromPath(c);
    await setIssueLabels(app, access, identity.user, issueNumber(c), []);
    return c.body(null, 204);
  });

  api.add(
    { method: 'post', path: '/repos/{owner}/{repo}/issues/{number}/assignees', summary: 'Assign users or agents (agent:<key>: starts the agent; writers only)', tag: 'issues', access: 'repo', body: assigneesBody, responses: { 201: { description: 'The issue' }, 403: { description: 'No write access', schema: errorSchema }, 422: { description: 'Unknown user or agent, or a user who cannot read the repository', schema: errorSchema } } },
    async (c, { body }) => {
      const app = c.get('app');
      const identity = requireIdentity(c);
      const access = await repoFromPath(c);
      return c.json(issueJson(app, access, await addIssueAssignees(app, access, identity.user, issueNumber(c), body.assignees)), 201);
    },
  );

  api.add({ method: 'delete', path: '/repos/{owner}/{repo}/issues/{number}/assignees', summary: 'Unassign users or agents', tag: 'issues', access: 'repo', body: assigneesBody, responses: { 200: { description: 'The issue' } } }, async (c, { body }) => {
    const app = c.get('app');
    const identity = requireIdentity(c);
    const access = await repoFromPath(c);
    return c.json(issueJson(app, access, await removeIssueAssignees(app, access, identity.user, issueNumber(c), body.assignees)));
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/issues/{number}/timeline', summary: 'Timeline of an issue (comments, labels, assignments, references, closing, runs)', tag: 'issues', access: 'public', query: paginationQuery, responses: { 200: { description: 'Timeline events' } } }, async (c, { query }) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const items = await issueTimeline(app, access, viewerOf(c), issueNumber(c));
    setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, items.length);
    return c.json(items.slice((query.page - 1) * query.per_page, query.page * query.per_page).map((t) => timelineJson(app, access, t)));
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/issues/{number}/runs', summary: 'Agent runs started for an issue, with their status', tag: 'issues', access: 'public', responses: { 200: { description: 'Runs' } } }, async (c) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const item = await getIssueItem(app, access, issueNumber(c));
    if (item.kind !== 'issue') return c.json([]);
    return c.json((await issueRuns(app, item.id)).map((r) => runRefJson(app, access, r)));
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/assignees', summary: 'Users who can be assigned (write access)', tag: 'issues', access: 'repo', query: paginationQuery, responses: { 200: { description: 'Users' } } }, async (c, { query }) => {
    const app = c.get('app');
    // Who collaborates is for those who can push (as the collaborators list): readers cannot assign anyway.
    const access = await repoFromPath(c, 'write');
    const users = await listAssignableUsers(app, access);
    setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, users.length);
    return c.json(users.slice((query.page - 1) * query.per_page, query.page * query.per_page).map((u) => simpleUserJson(app, u)));
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/assignees/{assignee}', summary: 'Whether a user can be assigned (204) or not (404); write access', tag: 'issues', access: 'repo', responses: { 204: { description: 'Assignable' }, 404: { description: 'Not assignable' } } }, async (c) => {
    const app = c.get('app');
    const access = await repoFromPath(c, 'write');
    const user = await findUserByName(app.db, c.req.param('assignee')!);
    const ok = user && (await listAssignableUsers(app, access)).some((u) => u.id === user.id);
    return ok ? c.body(null, 204) : c.json({ message: 'Not Found' }, 404);
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/assignable-agents', summary: 'Agents an issue can be assigned to (agent:<key>): drivers and the repository\'s named agents', tag: 'issues', access: 'public', responses: { 200: { description: 'Agents' } } }, async (c) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    return c.json((await listIssueAgents(app, access)).map((a) => ({ login: `agent:${a.key}`, key: a.key, name: a.name, kind: a.kind, available: a.available, reason: a.reason, description: a.description })));
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/labels', summary: 'Labels of the repository', tag: 'issues', access: 'public', query: paginationQuery, responses: { 200: { description: 'Labels' } } }, async (c, { query }) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const { labels, total } = await listLabels(app, access, { page: query.page, per_page: query.per_page });
    setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, total);
    return c.json(labels.map((l) => labelJson(app, access, l)));
  });

  api.add({ method: 'post', path: '/repos/{owner}/{repo}/labels', summary: 'Create a label (color: six hex digits; agent: the agent it starts)', tag: 'issues', access: 'repo', body: createLabelBody, responses: { 201: { description: 'Created' }, 422: { description: 'Invalid name or color, or the name exists', schema: errorSchema } } }, async (c, { body }) => {
    const app = c.get('app');
    requireIdentity(c);
    const access = await repoFromPath(c);
    const label = await createLabel(app, access, { name: body.name, color: body.color, description: body.description, agent: body.agent });
    return c.json(labelJson(app, access, label), 201);
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/labels/{name}', summary: 'A label', tag: 'issues', access: 'public', responses: { 200: { description: 'The label' } } }, async (c) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    return c.json(labelJson(app, access, await getLabel(app, access, c.req.param('name')!)));
  });

  api.add({ method: 'patch', path: '/repos/{owner}/{repo}/labels/{name}', summary: 'Edit a label (new_name, color, description, agent)', tag: 'issues', access: 'repo', body: updateLabelBody, responses: { 200: { description: 'The label' }, 422: { description: 'Invalid', schema: errorSchema } } }, async (c, { body }) => {
    const app = c.get('app');
    requireIdentity(c);
    const access = await repoFromPath(c);
    const label = await updateLabel(app, access, c.req.param('name')!, { name: body.new_name ?? body.name, color: body.color, description: body.description, agent: body.agent });
    return c.json(labelJson(app, access, label));
  });

  api.add({ method: 'delete', path: '/repos/{owner}/{repo}/labels/{name}', summary: 'Delete a label', tag: 'issues', access: 'repo', responses: { 204: { description: 'Deleted' } } }, async (c) => {
    const app = c.get('app');
    requireIdentity(c);
    const access = await repoFromPath(c);
    await deleteLabel(app, access, c.req.param('name')!);
    return c.body(null, 204);
  });
}

