import { randomUUID } from 'node:crypto';
import type { AppContext } from './app.ts';
import { now } from './app.ts';
import type { DbOrTx } from '../db/index.ts';
import type { ExpressionBuilder } from 'kysely';
import type { Database, User, Webhook, WebhookDelivery } from '../db/schema.ts';
import { ZERO_SHA } from '../domain/refs.ts';
import { resolveRef } from '../git/refs.ts';
import { readCommits } from '../git/refs.ts';
import { invalid, notFound } from './errors.ts';
import { enqueueJob, wakeClaimers } from './jobs.ts';
import type { RepositoryWithOwner } from './repositories.ts';
import { repositoryGitDir } from './storage.ts';
import { hookWants, WEBHOOK_EVENT_NAMES } from './webhookEvents.ts';
import { buildWebhookMessages, pingPayload, type WebhookMessage } from './webhookPayloads.ts';
import { checkHookTarget, WEBHOOK_JOB_KIND, WEBHOOK_MAX_ATTEMPTS } from './webhookDelivery.ts';

/**
 * Webhooks (issue 18): a repository's hooks (`repositoryId` set) and server-wide ones (null), their
 * deliveries and redeliveries. Deliveries are rows plus a server job each (webhookDelivery.ts sends
 * them); nothing here makes a network request except the DNS check of a new target.
 */

/** A hook's scope: one repository, or the whole server (site administrators). */
export type HookScope = { repositoryId: number } | { repositoryId: null };

export const CONTENT_TYPES = ['json', 'form'] as const;
export type ContentType = (typeof CONTENT_TYPES)[number];

export interface HookInput {
  url?: string;
  secret?: string;
  contentType?: string;
  insecureSsl?: boolean;
  events?: string[];
  addEvents?: string[];
  removeEvents?: string[];
  active?: boolean;
}

const MAX_SECRET = 512;

export function hookEvents(hook: Pick<Webhook, 'events'>): string[] {
  try {
    const value = JSON.parse(hook.events) as unknown;
    return Array.isArray(value) ? value.filter((e): e is string => typeof e === 'string') : [];
  } catch {
    return [];
  }
}

function checkEvents(events: string[], field = 'events'): string[] {
  const unique = [...new Set(events.map((e) => e.trim()).filter(Boolean))];
  if (unique.length === 0) throw invalid('events must name at least one event (or "*" for all)', field);
  const unknown = unique.filter((e) => e !== '*' && !WEBHOOK_EVENT_NAMES.includes(e));
  if (unknown.length) throw invalid(`unknown event${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')} (known: *, ${WEBHOOK_EVENT_NAMES.join(', ')})`, field);
  return unique.includes('*') ? ['*'] : unique;
}

async function checkUrl(app: AppContext, url: string): Promise<string> {
  const trimmed = url.trim();
  if (!trimmed) throw invalid('the URL is required', 'url');
  const problem = await checkHookTarget(app, trimmed);
  if (problem) throw invalid(problem, 'url');
  return trimmed;
}

function checkSecret(secret: string): string {
  if (secret.length > MAX_SECRET) throw invalid(`secret is too long (at most ${MAX_SECRET} characters)`, 'secret');
  return secret;
}

function checkContentType(value: string): ContentType {
  if (!(CONTENT_TYPES as readonly string[]).includes(value)) throw invalid('content_type must be "json" or "form"', 'content_type');
  return value as ContentType;
}

function inScope(eb: ExpressionBuilder<Database, 'webhooks'>, scope: HookScope) {
  return scope.repositoryId === null ? eb('repository_id', 'is', null) : eb('repository_id', '=', scope.repositoryId);
}

export async function listHooks(app: AppContext, scope: HookScope): Promise<Webhook[]> {
  return app.db.selectFrom('webhooks').selectAll().where((eb) => inScope(eb, scope)).orderBy('id').execute();
}

export async function getHook(app: AppContext, scope: HookScope, id: number): Promise<Webhook> {
  if (!Number.isSafeInteger(id) || id <= 0) throw notFound();
  const hook = await app.db.selectFrom('webhooks').selectAll().where((eb) => inScope(eb, scope)).where('id', '=', id).executeTakeFirst();
  if (!hook) throw notFound();
  return hook;
}

export async function createHook(app: AppContext, scope: HookScope, actor: User, input: HookInput): Promise<Webhook> {
  const url = await checkUrl(app, input.url ?? '');
  const events = checkEvents(input.events ?? ['push']);
  const at = now();
  return app.db
    .insertInto('webhooks')
    .values({
      repository_id: scope.repositoryId,
      url,
      secret: checkSecret(input.secret ?? ''),
      content_type: checkContentType(input.contentType ?? 'json'),
      insecure_ssl: input.insecureSsl ? 1 : 0,
      events: JSON.stringify(events),
      active: input.active === false ? 0 : 1,
      created_by_id: actor.id,
      created_at: at,
      updated_at: at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Changes a hook; an omitted (undefined) secret keeps the stored one, an empty one removes it. */
export async function updateHook(app: AppContext, hook: Webhook, input: HookInput): Promise<Webhook> {
  const changes: Partial<Webhook> = {};
  if (input.url !== undefined && input.url.trim() !== hook.url) changes.url = await checkUrl(app, input.url);
  if (input.secret !== undefined) changes.secret = checkSecret(input.secret);
  if (input.contentType !== undefined) changes.content_type = checkContentType(input.contentType);
  if (input.insecureSsl !== undefined) changes.insecure_ssl = input.insecureSsl ? 1 : 0;
  if (input.active !== undefined) changes.active = input.active ? 1 : 0;
  if (input.events !== undefined || input.addEvents !== undefined || input.removeEvents !== undefined) {
    let events = input.events ?? hookEvents(hook);
    if (input.addEvents) events = [...events, ...input.addEvents];
    if (input.removeEvents) events = events.filter((e) => !input.removeEvents!.includes(e));
    changes.events = JSON.stringify(checkEvents(events, input.events !== undefined ? 'events' : 'add_events'));
  }
  if (Object.keys(changes).length === 0) return hook;
  changes.updated_at = now();
  return app.db.updateTable('webhooks').set(changes).where('id', '=', hook.id).returningAll().executeTakeFirstOrThrow();
}

export async function deleteHook(app: AppContext, hook: Webhook): Promise<void> {
  await app.db.transaction().execute(async (tx) => {
    // Deliveries still waiting go with their hook: their queued jobs are cancelled.
    const waiting = await tx.selectFrom('webhook_deliveries').select('job_id').where('hook_id', '=', hook.id).where('status', 'in', ['pending', 'retrying']).execute();
    const jobIds = waiting.map((r) => r.job_id).filter((id): id is number => id !== null);
    for (let i = 0; i < jobIds.length; i += 500) {
      const at = now();
      await tx.updateTable('jobs').set({ status: 'cancelled', last_error: 'the hook was deleted', finished_at: at, updated_at: at }).where('id', 'in', jobIds.slice(i, i + 500)).where('status', '=', 'queued').execute();
    }
    await tx.deleteFrom('webhooks').where('id', '=', hook.id).execute();
  });
}

export interface EnqueueOptions {
  sourceEventId?: number | null;
  redeliveryOf?: WebhookDelivery | null;
}

/**
 * Records a delivery and queues its job, in one transaction (`db` may be the caller's). With a source
 * event, a second call for the same (hook, event, webhook event) records nothing (returns null).
 */
export async function enqueueDelivery(db: DbOrTx, hook: Webhook, repositoryId: number | null, message: WebhookMessage, opts: EnqueueOptions = {}): Promise<WebhookDelivery | null> {
  const at = now();
  const original = opts.redeliveryOf ?? null;
  const row = await db
    .insertInto('webhook_deliveries')
    .values({
      hook_id: hook.id,
      repository_id: repositoryId,
      source_event_id: opts.sourceEventId ?? null,
      event: message.event,
      action: message.action,
      guid: original?.guid ?? randomUUID(),
      redelivery_of: original?.id ?? null,
      url: hook.url,
      request_headers: '{}',
      request_body: original?.request_body ?? JSON.stringify(message.payload),
      response_status: null,
      response_headers: null,
      response_body: null,
      error: null,
      duration_ms: null,
      status: 'pending',
      attempts: 0,
      job_id: null,
      created_at: at,
      delivered_at: null,
      updated_at: at,
    })
    .onConflict((oc) => oc.columns(['hook_id', 'source_event_id', 'event']).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (!row) return null;
  const job = await enqueueJob(db, { kind: WEBHOOK_JOB_KIND, repositoryId, payload: { delivery_id: row.id, hook_id: hook.id }, maxAttempts: WEBHOOK_MAX_ATTEMPTS });
  await db.updateTable('webhook_deliveries').set({ job_id: job.id }).where('id', '=', row.id).execute();
  return { ...row, job_id: job.id };
}

/** Active hooks of a repository and the server's, for the behavior. */
export async function activeHooksFor(app: AppContext, repositoryId: number): Promise<Webhook[]> {
  return app.db
    .selectFrom('webhooks')
    .selectAll()
    .where('active', '=', 1)
    .where((eb) => eb.or([eb('repository_id', '=', repositoryId), eb('repository_id', 'is', null)]))
    .orderBy('id')
    .execute();
}

/** Queues deliveries of one outbox event's messages to every hook that wants them; returns how many. */
export async function deliverToHooks(app: AppContext, hooks: Webhook[], repositoryId: number, messages: WebhookMessage[], sourceEventId: number): Promise<number> {
  let queued = 0;
  await app.db.transaction().execute(async (tx) => {
    for (const hook of hooks) {
      const wanted = hookEvents(hook);
      for (const message of messages) {
        if (!hookWants(wanted, message.event)) continue;
        if (await enqueueDelivery(tx, hook, repositoryId, message, { sourceEventId })) queued++;
      }
    }
  });
  if (queued) await wakeClaimers(app);
  return queued;
}

export function hookConfigJson(hook: Webhook) {
  return { url: hook.url, content_type: hook.content_type, insecure_ssl: hook.insecure_ssl ? '1' : '0', ...(hook.secret ? { secret: '********' } : {}) };
}

/** Sends the ping event to a hook (also sent when a hook is created, as GitHub does). */
export async function pingHook(app: AppContext, hook: Webhook, repo: RepositoryWithOwner | null, actor: User | null): Promise<WebhookDelivery> {
  const hookSummary = { type: repo ? 'Repository' : 'Global', id: hook.id, name: 'web', active: hook.active === 1, events: hookEvents(hook), config: hookConfigJson(hook), updated_at: hook.updated_at, created_at: hook.created_at };
  const delivery = await app.db.transaction().execute((tx) => enqueueDelivery(tx, hook, repo?.id ?? null, pingPayload(app, hookSummary, repo, actor)));
  await wakeClaimers(app);
  return delivery!;
}

/**
 * POST …/hooks/{id}/tests: the latest push to the default branch delivered again as a push event,
 * when the hook subscribes to pushes and the repository has commits (else nothing, as GitHub).
 */
export async function testPushHook(app: AppContext, hook: Webhook, repo: RepositoryWithOwner, actor: User): Promise<WebhookDelivery | null> {
  if (!hookWants(hookEvents(hook), 'push')) return null;
  const gitDir = repositoryGitDir(app, repo);
  const after = await resolveRef(gitDir, `refs/heads/${repo.default_branch}`);
  if (!after) return null;
  const [head] = await readCommits(gitDir, [after]);
  const before = head?.parents[0] ?? ZERO_SHA;
  const messages = await buildWebhookMessages(app, repo, 'ref.updated', { ref: `refs/heads/${repo.default_branch}`, before, after, created: false, deleted: false, actor_id: actor.id }, [{ event: 'push', action: null }]);
  if (messages.length === 0) return null;
  const delivery = await app.db.transaction().execute((tx) => enqueueDelivery(tx, hook, repo.id, messages[0]!));
  await wakeClaimers(app);
  return delivery;
}

export interface DeliveryPage {
  items: WebhookDelivery[];
  /** The cursor of the next (older) page, or null at the end. */
  next: number | null;
}

/** Deliveries of a hook, newest first; `cursor` is the id to continue below (GitHub's cursor pagination). */
export async function listDeliveries(app: AppContext, hook: Webhook, opts: { perPage: number; cursor?: number | null; status?: 'success' | 'failure' }): Promise<DeliveryPage> {
  let q = app.db.selectFrom('webhook_deliveries').selectAll().where('hook_id', '=', hook.id);
  if (opts.cursor) q = q.where('id', '<', opts.cursor);
  if (opts.status === 'success') q = q.where('status', '=', 'delivered');
  if (opts.status === 'failure') q = q.where('status', 'in', ['failed', 'retrying']);
  const rows = await q.orderBy('id', 'desc').limit(opts.perPage + 1).execute();
  const items = rows.slice(0, opts.perPage);
  return { items, next: rows.length > opts.perPage ? items[items.length - 1]!.id : null };
}

export async function getDelivery(app: AppContext, hook: Webhook, id: number): Promise<WebhookDelivery> {
  if (!Number.isSafeInteger(id) || id <= 0) throw notFound();
  const row = await app.db.selectFrom('webhook_deliveries').selectAll().where('hook_id', '=', hook.id).where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound();
  return row;
}

/** Delivers a past delivery again: a new delivery with the same guid and payload, marked as a redelivery. */
export async function redeliver(app: AppContext, hook: Webhook, delivery: WebhookDelivery): Promise<WebhookDelivery> {
  const message: WebhookMessage = { event: delivery.event, action: delivery.action, payload: {} };
  const row = await app.db.transaction().execute((tx) => enqueueDelivery(tx, hook, delivery.repository_id, message, { redeliveryOf: delivery }));
  await wakeClaimers(app);
  return row!;
}
