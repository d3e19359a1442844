import { z } from 'zod';
import type { Context } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { ApiRegistry } from './registry.ts';
import { paginationQuery, setPaginationLinks } from './registry.ts';
import { errorSchema } from './shapes.ts';
import { repoFromPath } from './repos.ts';
import { requireIdentity } from './guards.ts';
import type { AppContext } from '../../../services/app.ts';
import type { RouteAccess } from '../../../domain/permissions.ts';
import type { Webhook, WebhookDelivery } from '../../../db/schema.ts';
import type { RepositoryWithOwner } from '../../../services/repositories.ts';
import {
  createHook,
  deleteHook,
  getDelivery,
  getHook,
  hookConfigJson,
  hookEvents,
  type HookInput,
  type HookScope,
  listDeliveries,
  listHooks,
  pingHook,
  redeliver,
  testPushHook,
  updateHook,
} from '../../../services/webhooks.ts';

const iso = (s: string | null) => (s ? s.replace(/\.\d{3}Z$/, 'Z') : null);

/** GitHub accepts insecure_ssl as "0"/"1" or a number. */
const insecureSsl = z.union([z.enum(['0', '1']), z.literal(0), z.literal(1)]).optional();

const configSchema = z.object({
  url: z.string().max(2048).optional(),
  content_type: z.enum(['json', 'form']).optional(),
  secret: z.string().max(512).optional(),
  insecure_ssl: insecureSsl,
});

const createBody = z.object({
  name: z.literal('web').optional(),
  config: configSchema.extend({ url: z.string().max(2048) }),
  events: z.array(z.string().max(64)).max(50).optional(),
  active: z.boolean().optional(),
});

const updateBody = z.object({
  config: configSchema.optional(),
  events: z.array(z.string().max(64)).max(50).optional(),
  add_events: z.array(z.string().max(64)).max(50).optional(),
  remove_events: z.array(z.string().max(64)).max(50).optional(),
  active: z.boolean().optional(),
});

const deliveriesQuery = z.object({
  per_page: z.coerce.number().int().min(1).max(100).default(30),
  cursor: z.coerce.number().int().positive().optional(),
  status: z.enum(['success', 'failure']).optional(),
});

function hookInput(config: z.infer<typeof configSchema> | undefined, rest: { events?: string[]; add_events?: string[]; remove_events?: string[]; active?: boolean }): HookInput {
  return {
    url: config?.url,
    secret: config?.secret,
    contentType: config?.content_type,
    insecureSsl: config?.insecure_ssl === undefined ? undefined : String(config.insecure_ssl) === '1',
    events: rest.events,
    addEvents: rest.add_events,
    removeEvents: rest.remove_events,
    active: rest.active,
  };
}

/** GitHub's status text of a delivery. */
function deliveryStatus(d: WebhookDelivery): string {
  if (d.status === 'pending') return 'pending';
  if (d.status === 'delivered') return 'OK';
  return d.error ?? (d.response_status ? `Invalid HTTP Response: ${d.response_status}` : 'failed');
}

export function hookJson(app: AppContext, hook: Webhook, base: string, last: WebhookDelivery | undefined) {
  const url = `${base}/${hook.id}`;
  return {
    type: hook.repository_id === null ? 'Global' : 'Repository',
    id: hook.id,
    name: 'web',
    active: hook.active === 1,
    events: hookEvents(hook),
    config: hookConfigJson(hook),
    updated_at: iso(hook.updated_at),
    created_at: iso(hook.created_at),
    url,
    test_url: `${url}/tests`,
    ping_url: `${url}/pings`,
    deliveries_url: `${url}/deliveries`,
    last_response: last ? { code: last.response_status, status: last.status === 'delivered' ? 'active' : last.status === 'pending' ? 'unused' : 'failed', message: last.status === 'pending' ? null : deliveryStatus(last) } : { code: null, status: 'unused', message: null },
  };
}

export function deliveryJson(d: WebhookDelivery) {
  return {
    id: d.id,
    guid: d.guid,
    delivered_at: iso(d.delivered_at ?? d.created_at),
    redelivery: d.redelivery_of !== null,
    duration: d.duration_ms === null ? 0 : d.duration_ms / 1000,
    status: deliveryStatus(d),
    status_code: d.response_status ?? 0,
    event: d.event,
    action: d.action,
    installation_id: null,
    repository_id: d.repository_id,
    throttled_at: null,
    // gitoku's additions: the delivery's state, attempts so far and the last error.
    state: d.status,
    attempts: d.attempts,
    error: d.error,
    redelivery_of: d.redelivery_of,
  };
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export function deliveryDetailJson(d: WebhookDelivery) {
  return {
    ...deliveryJson(d),
    url: d.url,
    request: { headers: parseJson(d.request_headers), payload: parseJson(d.request_body) },
    response: { headers: parseJson(d.response_headers) ?? {}, payload: d.response_body },
  };
}

async function lastDeliveries(app: AppContext, hooks: Webhook[]): Promise<Map<number, WebhookDelivery>> {
  const out = new Map<number, WebhookDelivery>();
  for (const hook of hooks) {
    const row = await app.db.selectFrom('webhook_deliveries').selectAll().where('hook_id', '=', hook.id).orderBy('id', 'desc').limit(1).executeTakeFirst();
    if (row) out.set(hook.id, row);
  }
  return out;
}

function idParam(c: Context<WebEnv>, name: string): number {
  const n = Number(c.req.param(name));
  return Number.isSafeInteger(n) && n > 0 && n <= 2_147_483_647 ? n : -1;
}

interface HookContext {
  scope: HookScope;
  repo: RepositoryWithOwner | null;
  /** The API URL of the hook collection. */
  base: string;
}

/**
 * The hook routes under one collection path: a repository's (`/repos/{owner}/{repo}/hooks`, its admins)
 * and the server's (`/admin/hooks`, site administrators). Same shapes as GitHub's.
 */
function registerHookCollection(api: ApiRegistry, path: string, tag: string, access: RouteAccess, resolve: (c: Context<WebEnv>) => Promise<HookContext>): void {
  api.add({ method: 'get', path, summary: 'Webhooks', tag, access, query: paginationQuery, responses: { 200: { description: 'Hooks' }, 404: { description: 'Not found or no admin access', schema: errorSchema } } }, async (c, { query }) => {
    const app = c.get('app');
    const { scope, base } = await resolve(c);
    const hooks = await listHooks(app, scope);
    setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, hooks.length);
    const page = hooks.slice((query.page - 1) * query.per_page, query.page * query.per_page);
    const last = await lastDeliveries(app, page);
    return c.json(page.map((h) => hookJson(app, h, base, last.get(h.id))));
  });

  api.add(
    { method: 'post', path, summary: 'Create a webhook (a ping is delivered at once)', tag, access, body: createBody, responses: { 201: { description: 'Created' }, 422: { description: 'Invalid (internal target, unknown event …)', schema: errorSchema } } },
    async (c, { body }) => {
      const app = c.get('app');
      const identity = requireIdentity(c);
      const { scope, repo, base } = await resolve(c);
      const hook = await createHook(app, scope, identity.user, hookInput(body.config, body));
      const ping = await pingHook(app, hook, repo, identity.user);
      const json = hookJson(app, hook, base, ping);
      return c.json(json, 201, { Location: json.url });
    },
  );

  api.add({ method: 'get', path: `${path}/{hook_id}`, summary: 'A webhook', tag, access, responses: { 200: { description: 'The hook' } } }, async (c) => {
    const app = c.get('app');
    const { scope, base } = await resolve(c);
    const hook = await getHook(app, scope, idParam(c, 'hook_id'));
    return c.json(hookJson(app, hook, base, (await lastDeliveries(app, [hook])).get(hook.id)));
  });

  api.add({ method: 'patch', path: `${path}/{hook_id}`, summary: 'Update a webhook (config, events, add_events, remove_events, active)', tag, access, body: updateBody, responses: { 200: { description: 'Updated' }, 422: { description: 'Invalid', schema: errorSchema } } }, async (c, { body }) => {
    const app = c.get('app');
    const { scope, base } = await resolve(c);
    const hook = await updateHook(app, await getHook(app, scope, idParam(c, 'hook_id')), hookInput(body.config, body));
    return c.json(hookJson(app, hook, base, (await lastDeliveries(app, [hook])).get(hook.id)));
  });

  api.add({ method: 'post', path: `${path}/{hook_id}/pings`, summary: 'Deliver the ping event to a webhook', tag, access, responses: { 204: { description: 'Queued' } } }, async (c) => {
    const app = c.get('app');
    const identity = requireIdentity(c);
    const { scope, repo } = await resolve(c);
    await pingHook(app, await getHook(app, scope, idParam(c, 'hook_id')), repo, identity.user);
    return c.body(null, 204);
  });

  api.add({ method: 'get', path: `${path}/{hook_id}/deliveries`, summary: 'Deliveries of a webhook, newest first (cursor pagination)', tag, access, query: deliveriesQuery, responses: { 200: { description: 'Deliveries' } } }, async (c, { query }) => {
    const app = c.get('app');
    const { scope } = await resolve(c);
    const hook = await getHook(app, scope, idParam(c, 'hook_id'));
    const page = await listDeliveries(app, hook, { perPage: query.per_page, cursor: query.cursor ?? null, status: query.status });
    if (page.next !== null) {
      const next = new URL(app.config.baseUrl + new URL(c.req.url).pathname);
      next.searchParams.set('per_page', String(query.per_page));
      next.searchParams.set('cursor', String(page.next));
      if (query.status) next.searchParams.set('status', query.status);
      c.header('Link', `<${next.toString()}>; rel="next"`);
    }
    return c.json(page.items.map(deliveryJson));
  });

  api.add({ method: 'get', path: `${path}/{hook_id}/deliveries/{delivery_id}`, summary: 'A delivery with its request and response', tag, access, responses: { 200: { description: 'The delivery' } } }, async (c) => {
    const app = c.get('app');
    const { scope } = await resolve(c);
    const hook = await getHook(app, scope, idParam(c, 'hook_id'));
    return c.json(deliveryDetailJson(await getDelivery(app, hook, idParam(c, 'delivery_id'))));
  });

  api.add({ method: 'post', path: `${path}/{hook_id}/deliveries/{delivery_id}/attempts`, summary: 'Redeliver a delivery', tag, access, responses: { 202: { description: 'Accepted' } } }, async (c) => {
    const app = c.get('app');
    const { scope } = await resolve(c);
    const hook = await getHook(app, scope, idParam(c, 'hook_id'));
    const again = await redeliver(app, hook, await getDelivery(app, hook, idParam(c, 'delivery_id')));
    return c.json({ id: again.id, guid: again.guid }, 202);
  });

  // Last: a route table walked in order (the token-scope matrix) reaches the hook's other routes first.
  api.add({ method: 'delete', path: `${path}/{hook_id}`, summary: 'Delete a webhook', tag, access, responses: { 204: { description: 'Deleted' } } }, async (c) => {
    const app = c.get('app');
    const { scope } = await resolve(c);
    await deleteHook(app, await getHook(app, scope, idParam(c, 'hook_id')));
    return c.body(null, 204);
  });
}

export function registerWebhookRoutes(api: ApiRegistry): void {
  registerHookCollection(api, '/repos/{owner}/{repo}/hooks', 'webhooks', 'repo', async (c) => {
    const access = await repoFromPath(c, 'admin');
    const repo = access.repo;
    return { scope: { repositoryId: repo.id }, repo, base: `${c.get('app').config.baseUrl}/api/v1/repos/${repo.owner_name}/${repo.name}/hooks` };
  });

  api.add({ method: 'post', path: '/repos/{owner}/{repo}/hooks/{hook_id}/tests', summary: 'Deliver the latest push to the default branch again (if the hook takes push events)', tag: 'webhooks', access: 'repo', responses: { 204: { description: 'Queued (or nothing to send)' } } }, async (c) => {
    const app = c.get('app');
    const identity = requireIdentity(c);
    const access = await repoFromPath(c, 'admin');
    const hook = await getHook(app, { repositoryId: access.repo.id }, idParam(c, 'hook_id'));
    await testPushHook(app, hook, access.repo, identity.user);
    return c.body(null, 204);
  });

  // Server-wide hooks (GitHub Enterprise's global webhooks): every repository's events.
  registerHookCollection(api, '/admin/hooks', 'admin', 'admin', async (c) => ({ scope: { repositoryId: null }, repo: null, base: `${c.get('app').config.baseUrl}/api/v1/admin/hooks` }));
}
