import type { Context } from 'hono';
import { z } from 'zod';
import type { WebEnv } from '../../context.ts';
import type { AppContext } from '../../../services/app.ts';
import type { ApiRegistry } from './registry.ts';
import { setPaginationLinks } from './registry.ts';
import { errorSchema } from './shapes.ts';
import { requireIdentity } from './guards.ts';
import { repoFromPath } from './repos.ts';
import { ServiceError } from '../../../services/errors.ts';
import { iso } from '../../../services/apiShapes/common.ts';
import { deleteNotification, getNotification, listNotifications, markAllNotificationsRead, markNotificationRead, setWatchState, watchState, type NotificationRow } from '../../../services/notifications.ts';

const SUBJECT_TYPES = { issue: 'Issue', pull_request: 'PullRequest', run: 'Task' } as const;

/** GitHub's notification thread object. */
function threadJson(app: AppContext, n: NotificationRow) {
  const base = app.config.baseUrl;
  const full = `${n.owner_name}/${n.repo_name}`;
  const subjectPath = n.subject_type === 'run' ? `runs/${n.subject_number}` : n.subject_type === 'pull_request' ? `pulls/${n.subject_number}` : `issues/${n.subject_number}`;
  return {
    id: String(n.id),
    unread: n.unread === 1,
    reason: n.reason,
    updated_at: iso(n.updated_at),
    last_read_at: iso(n.last_read_at),
    subject: { title: n.title, url: `${base}/api/v1/repos/${full}/${subjectPath}`, latest_comment_url: null, type: SUBJECT_TYPES[n.subject_type] },
    repository: { id: n.repository_id, name: n.repo_name, full_name: full, private: n.is_private === 1, html_url: `${base}/${full}`, url: `${base}/api/v1/repos/${full}` },
    url: `${base}/api/v1/notifications/threads/${n.id}`,
  };
}

const threadSchema = z.object({
  id: z.string(),
  unread: z.boolean(),
  reason: z.string(),
  updated_at: z.string().nullable(),
  last_read_at: z.string().nullable(),
  subject: z.object({ title: z.string(), url: z.string(), latest_comment_url: z.null(), type: z.string() }),
  repository: z.object({ id: z.number(), name: z.string(), full_name: z.string(), private: z.boolean(), html_url: z.string(), url: z.string() }),
  url: z.string(),
});

const listQuery = z.object({
  all: z.enum(['true', 'false']).optional(),
  page: z.coerce.number().int().min(1).default(1),
  per_page: z.coerce.number().int().min(1).max(50).default(50),
});
const markBody = z.object({ last_read_at: z.string().datetime({ offset: true }).optional(), read: z.boolean().optional() });
const subscriptionBody = z.object({ subscribed: z.boolean().optional(), ignored: z.boolean().optional() });

const threadId = (c: Context<WebEnv>) => {
  const id = Number(c.req.param('thread_id'));
  if (!Number.isSafeInteger(id) || id < 1) throw new ServiceError(404, 'Not Found');
  return id;
};

export function registerNotificationRoutes(api: ApiRegistry): void {
  api.add(
    { method: 'get', path: '/notifications', summary: 'The authenticated user’s notification threads, newest first (unread only unless all=true)', tag: 'notifications', access: 'user', query: listQuery, responses: { 200: { description: 'Threads', schema: z.array(threadSchema) } } },
    async (c, { query }) => {
      const app = c.get('app');
      const { viewer } = requireIdentity(c);
      const { items, total } = await listNotifications(app, viewer, { all: query.all === 'true', page: { page: query.page, perPage: query.per_page } });
      setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, total);
      return c.json(items.map((n) => threadJson(app, n)));
    },
  );

  api.add(
    { method: 'put', path: '/notifications', summary: 'Mark the threads read (those updated at or before last_read_at, default now)', tag: 'notifications', access: 'repo', body: markBody, responses: { 205: { description: 'Marked read' } } },
    async (c, { body }) => {
      const { user } = requireIdentity(c);
      await markAllNotificationsRead(c.get('app').db, user.id, body.last_read_at ? { before: new Date(body.last_read_at).toISOString() } : {});
      return c.body(null, 205);
    },
  );

  api.add(
    { method: 'get', path: '/notifications/threads/{thread_id}', summary: 'A notification thread', tag: 'notifications', access: 'user', responses: { 200: { description: 'The thread', schema: threadSchema }, 404: { description: 'Not yours, or gone', schema: errorSchema } } },
    async (c) => {
      const app = c.get('app');
      const n = await getNotification(app, requireIdentity(c).viewer, threadId(c));
      if (!n) throw new ServiceError(404, 'Not Found');
      return c.json(threadJson(app, n));
    },
  );

  api.add(
    { method: 'patch', path: '/notifications/threads/{thread_id}', summary: 'Mark a thread read', tag: 'notifications', access: 'repo', responses: { 205: { description: 'Marked read' }, 404: { description: 'Not yours, or gone', schema: errorSchema } } },
    async (c) => {
      if (!(await markNotificationRead(c.get('app').db, requireIdentity(c).user.id, threadId(c)))) throw new ServiceError(404, 'Not Found');
      return c.body(null, 205);
    },
  );

  api.add(
    { method: 'delete', path: '/notifications/threads/{thread_id}', summary: 'Mark a thread done (it leaves the inbox until there is news)', tag: 'notifications', access: 'repo', responses: { 204: { description: 'Done' }, 404: { description: 'Not yours, or gone', schema: errorSchema } } },
    async (c) => {
      if (!(await deleteNotification(c.get('app').db, requireIdentity(c).user.id, threadId(c)))) throw new ServiceError(404, 'Not Found');
      return c.body(null, 204);
    },
  );

  const subscriptionJson = (c: Context<WebEnv>, state: 'watching' | 'ignoring', full: string) => {
    const base = c.get('app').config.baseUrl;
    return { subscribed: state === 'watching', ignored: state === 'ignoring', reason: null, created_at: null, url: `${base}/api/v1/repos/${full}/subscription`, repository_url: `${base}/api/v1/repos/${full}` };
  };

  api.add(
    { method: 'get', path: '/repos/{owner}/{repo}/subscription', summary: 'Whether the authenticated user watches (or ignores) a repository; 404 when neither', tag: 'notifications', access: 'user', responses: { 200: { description: 'The subscription' }, 404: { description: 'Not subscribed, or no such repository', schema: errorSchema } } },
    async (c) => {
      const access = await repoFromPath(c);
      const state = await watchState(c.get('app').db, access.repo.id, requireIdentity(c).user.id);
      if (!state) throw new ServiceError(404, 'Not Found');
      return c.json(subscriptionJson(c, state, `${access.repo.owner_name}/${access.repo.name}`));
    },
  );

  api.add(
    { method: 'put', path: '/repos/{owner}/{repo}/subscription', summary: 'Watch ({"subscribed": true}) or ignore ({"ignored": true}) a repository', tag: 'notifications', access: 'repo', body: subscriptionBody, responses: { 200: { description: 'The subscription' }, 404: { description: 'No such repository, or no access', schema: errorSchema } } },
    async (c, { body }) => {
      const access = await repoFromPath(c);
      const state = body.ignored ? 'ignoring' : 'watching';
      await setWatchState(c.get('app'), access.repo.id, requireIdentity(c).user.id, state);
      return c.json(subscriptionJson(c, state, `${access.repo.owner_name}/${access.repo.name}`));
    },
  );

  api.add(
    { method: 'delete', path: '/repos/{owner}/{repo}/subscription', summary: 'Stop watching or ignoring a repository (participating and @mentions only)', tag: 'notifications', access: 'repo', responses: { 204: { description: 'Removed' }, 404: { description: 'No such repository, or no access', schema: errorSchema } } },
    async (c) => {
      const access = await repoFromPath(c);
      await setWatchState(c.get('app'), access.repo.id, requireIdentity(c).user.id, null);
      return c.body(null, 204);
    },
  );
}
