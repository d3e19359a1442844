import { z } from 'zod';
import type { Context } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { ApiRegistry } from './registry.ts';
import { paginationQuery, setPaginationLinks } from './registry.ts';
import { errorSchema, userJson, userSchema } from './shapes.ts';
import { requireIdentity } from './guards.ts';
import type { AppContext } from '../../../services/app.ts';
import type { Job } from '../../../db/schema.ts';
import { getUserByName } from '../../../services/users.ts';
import {
  ADMIN_JOB_STATUSES,
  cancelJob,
  deleteUserAccount,
  jobCountsByKind,
  listJobsForAdmin,
  listUsersForAdmin,
  retryJob,
  serverOverview,
  setSiteAdmin,
  setUserSuspended,
} from '../../../services/siteAdmin.ts';

/**
 * Site administration API (issue 18), GitHub Enterprise's shapes where they exist: suspension
 * (`PUT/DELETE /users/{username}/suspended`), site admin (`PUT/DELETE /users/{username}/site_admin`),
 * `DELETE /admin/users/{username}`; Gitea's `PATCH /admin/users/{username}` for both at once; and the
 * job queue. Every route is `access: 'admin'` (a site administrator, and a token with the admin scope).
 */

const jobSchema = z.object({
  id: z.number(),
  kind: z.string(),
  status: z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']),
  repository_id: z.number().nullable(),
  attempts: z.number(),
  max_attempts: z.number(),
  run_after: z.string(),
  lease_owner: z.string().nullable(),
  last_error: z.string().nullable(),
  cancel_requested: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
  finished_at: z.string().nullable(),
});

export function jobJson(job: Job) {
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    repository_id: job.repository_id,
    attempts: job.attempts,
    max_attempts: job.max_attempts,
    run_after: job.run_after,
    lease_owner: job.lease_owner,
    last_error: job.last_error,
    cancel_requested: job.cancel_requested === 1,
    created_at: job.created_at,
    updated_at: job.updated_at,
    finished_at: job.finished_at,
  };
}

const userListQuery = paginationQuery.extend({ q: z.string().max(200).optional() });
const jobListQuery = paginationQuery.extend({ status: z.enum(ADMIN_JOB_STATUSES as [string, ...string[]]).default('failed'), kind: z.string().max(100).optional() });
const deleteQuery = z.object({ purge: z.enum(['true', 'false', '1', '0']).optional() });

const patchUserBody = z.object({
  suspended: z.boolean().optional(),
  /** Gitea's name for it. */
  prohibit_login: z.boolean().optional(),
  site_admin: z.boolean().optional(),
  /** Gitea's name for it. */
  admin: z.boolean().optional(),
});

const idParam = (c: Context<WebEnv>) => {
  const id = Number(c.req.param('id'));
  return Number.isSafeInteger(id) && id > 0 ? id : 0;
};

async function patchUser(app: AppContext, actorId: number, username: string, body: z.infer<typeof patchUserBody>): Promise<void> {
  await getUserByName(app, username); // 404 first
  const admin = body.site_admin ?? body.admin;
  const suspended = body.suspended ?? body.prohibit_login;
  if (admin !== undefined) await setSiteAdmin(app, username, admin);
  if (suspended !== undefined) await setUserSuspended(app, actorId, username, suspended);
}

export function registerAdminApiRoutes(api: ApiRegistry): void {
  api.add(
    { method: 'get', path: '/admin/overview', summary: 'Server configuration and counts at a glance (no secrets)', tag: 'admin', access: 'admin', responses: { 200: { description: 'The overview' } } },
    async (c) => {
      const o = await serverOverview(c.get('app'));
      return c.json({
        version: o.version,
        node: o.node,
        database: o.database,
        data_dir: o.dataDir,
        base_url: o.baseUrl,
        sandbox: o.sandbox,
        signup_enabled: o.signupEnabled,
        runners: o.runners,
        jobs: o.jobs,
        users: o.users,
        repositories: o.repositories,
        disk: { data_dir_bytes: o.disk.bytes, partial: o.disk.partial },
      });
    },
  );

  api.add(
    { method: 'get', path: '/admin/users', summary: 'List users (search with q: login, name or email)', tag: 'admin', access: 'admin', query: userListQuery, responses: { 200: { description: 'Users', schema: z.array(userSchema) } } },
    async (c, { query }) => {
      const app = c.get('app');
      const { items, total } = await listUsersForAdmin(app, { q: query.q, page: query.page, perPage: query.per_page });
      setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, total);
      return c.json(items.map((u) => ({ ...userJson(app, u, true), public_repos: u.repo_count })));
    },
  );

  api.add(
    {
      method: 'patch',
      path: '/admin/users/{username}',
      summary: 'Suspend/unsuspend and promote/demote a user (suspended or prohibit_login; site_admin or admin)',
      tag: 'admin',
      access: 'admin',
      body: patchUserBody,
      responses: { 200: { description: 'The user', schema: userSchema }, 404: { description: 'No such user', schema: errorSchema }, 422: { description: 'Yourself, or the last administrator', schema: errorSchema } },
    },
    async (c, { body }) => {
      const app = c.get('app');
      const { user: actor } = requireIdentity(c);
      const username = c.req.param('username')!;
      await patchUser(app, actor.id, username, body);
      return c.json(userJson(app, await getUserByName(app, username), true));
    },
  );

  const suspension = (suspended: boolean) => async (c: Context<WebEnv>) => {
    const { user: actor } = requireIdentity(c);
    await setUserSuspended(c.get('app'), actor.id, c.req.param('username')!, suspended);
    return c.body(null, 204);
  };
  const noContent = { 204: { description: 'Done' }, 404: { description: 'No such user', schema: errorSchema }, 422: { description: 'Yourself, or the last administrator', schema: errorSchema } };
  api.add({ method: 'put', path: '/users/{username}/suspended', summary: 'Suspend a user: sign-in, sessions, tokens and git refused at once (GitHub Enterprise)', tag: 'admin', access: 'admin', responses: noContent }, suspension(true));
  api.add({ method: 'delete', path: '/users/{username}/suspended', summary: 'Unsuspend a user (GitHub Enterprise)', tag: 'admin', access: 'admin', responses: noContent }, suspension(false));

  const siteAdmin = (admin: boolean) => async (c: Context<WebEnv>) => {
    await setSiteAdmin(c.get('app'), c.req.param('username')!, admin);
    return c.body(null, 204);
  };
  api.add({ method: 'put', path: '/users/{username}/site_admin', summary: 'Make a user a site administrator (GitHub Enterprise)', tag: 'admin', access: 'admin', responses: noContent }, siteAdmin(true));
  api.add({ method: 'delete', path: '/users/{username}/site_admin', summary: 'Take site administration away (never from the last administrator)', tag: 'admin', access: 'admin', responses: noContent }, siteAdmin(false));

  api.add(
    {
      method: 'delete',
      path: '/admin/users/{username}',
      summary: 'Delete a user; refused while they own repositories unless purge=true (which deletes those first)',
      tag: 'admin',
      access: 'admin',
      query: deleteQuery,
      responses: noContent,
    },
    async (c, { query }) => {
      const { user: actor } = requireIdentity(c);
      await deleteUserAccount(c.get('app'), actor.id, c.req.param('username')!, { purge: query.purge === 'true' || query.purge === '1' });
      return c.body(null, 204);
    },
  );

  api.add(
    { method: 'get', path: '/admin/jobs', summary: 'Jobs in the queue by status (default failed) and kind', tag: 'admin', access: 'admin', query: jobListQuery, responses: { 200: { description: 'Jobs', schema: z.array(jobSchema) } } },
    async (c, { query }) => {
      const app = c.get('app');
      const { items, total } = await listJobsForAdmin(app, { status: query.status as Job['status'], kind: query.kind, page: query.page, perPage: query.per_page });
      setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, total);
      return c.json(items.map(jobJson));
    },
  );

  api.add(
    { method: 'get', path: '/admin/jobs/kinds', summary: 'Queued, running and failed jobs per kind', tag: 'admin', access: 'admin', responses: { 200: { description: 'Counts per kind' } } },
    async (c) => c.json(await jobCountsByKind(c.get('app'))),
  );

  api.add(
    { method: 'post', path: '/admin/jobs/{id}/retry', summary: 'Put a failed job back in the queue (attempts reset)', tag: 'admin', access: 'admin', responses: { 200: { description: 'The job', schema: jobSchema }, 404: { description: 'No such job', schema: errorSchema }, 422: { description: 'Not failed', schema: errorSchema } } },
    async (c) => c.json(jobJson(await retryJob(c.get('app'), idParam(c)))),
  );

  api.add(
    { method: 'post', path: '/admin/jobs/{id}/cancel', summary: 'Cancel a queued job (a running one is asked to stop)', tag: 'admin', access: 'admin', responses: { 200: { description: 'The job', schema: jobSchema }, 404: { description: 'No such job', schema: errorSchema }, 422: { description: 'Already finished', schema: errorSchema } } },
    async (c) => c.json(jobJson((await cancelJob(c.get('app'), idParam(c))).job)),
  );
}
