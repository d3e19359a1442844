import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { AppContext } from '../services/app.ts';
import { now } from '../services/app.ts';
import type { GraphEvent } from '../db/schema.ts';
import { findRepositoryById, type RepositoryWithOwner } from '../services/repositories.ts';
import { type BehaviorRegistry, toDispatchedEvent } from './registry.ts';

export const MAX_BEHAVIOR_ATTEMPTS = 5;
const EVENT_LEASE_MS = 60_000;
const BATCH = 100;

/** Backoff between attempts of a failing behavior: 1 s, 2 s, 4 s, 8 s (tests shorten it). */
export function behaviorRetryDelayMs(attempt: number, baseMs: number): number {
  return baseMs * 2 ** Math.max(0, attempt - 1);
}

export interface DispatcherOptions {
  retryBaseMs?: number;
  log?: (line: string) => void;
}

/**
 * The event dispatcher (DESIGN §4.2). It leases undispatched outbox events (several instances may
 * run one: SKIP LOCKED on PostgreSQL), runs each matching behavior at most once per event — recorded
 * in behavior_runs, unique on (event, behavior) — retries failing behaviors with backoff, and marks the
 * event dispatched once every behavior has succeeded, been skipped, or failed for good.
 */
export class Dispatcher {
  readonly owner = `dispatcher-${randomUUID()}`;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private readonly onSignal = () => this.wake?.();
  private dirty = false;

  constructor(
    private readonly app: AppContext,
    private readonly registry: BehaviorRegistry,
    private readonly opts: DispatcherOptions = {},
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.app.signals.on('events', this.onSignal);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.app.signals.off('events', this.onSignal);
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running && !this.app.isClosing()) {
      this.dirty = false;
      let handled = 0;
      try {
        handled = await this.dispatchBatch();
      } catch (err) {
        if (!this.app.isClosing()) this.opts.log?.(`dispatch failed: ${(err as Error).message}`);
      }
      if (handled > 0 || this.dirty) continue;
      // Woken by a committed event; retries and expired leases are picked up within a second anyway.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 1000);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = () => {
          this.dirty = true;
          done();
        };
      });
      this.wake = null;
    }
  }

  /**
   * Claims a batch of events and dispatches them; returns how many were claimed. Behaviors run one by
   * one; what they did is recorded for the whole batch in one transaction (a crash before it means
   * they run again: delivery is at-least-once and behaviors are idempotent).
   */
  async dispatchBatch(): Promise<number> {
    const events = await this.claim();
    if (events.length === 0) return 0;
    const records: DispatchRecord[] = [];
    const repos = new Map<number, RepositoryWithOwner | null>();
    for (const row of events) records.push(await this.dispatchEvent(row, repos));
    await this.app.db.transaction().execute(async (tx) => {
      const at = now();
      for (const record of records) {
        for (const r of record.results) {
          await tx
            .insertInto('behavior_runs')
            .values({ event_id: record.eventId, behavior_key: r.key, status: r.status, outcome: r.outcome, error: r.error, attempts: r.attempts, next_attempt_at: r.nextAttemptAt, links: r.links, created_at: at, updated_at: at })
            .onConflict((oc) => oc.columns(['event_id', 'behavior_key']).doUpdateSet({ status: r.status, outcome: r.outcome, error: r.error, attempts: r.attempts, next_attempt_at: r.nextAttemptAt, links: r.links, updated_at: at }))
            .execute();
        }
      }
      const done = records.filter((r) => !r.retryAt).map((r) => r.eventId);
      if (done.length) await tx.updateTable('graph_events').set({ dispatched_at: at, lease_owner: null, lease_expires_at: null }).where('id', 'in', done).where('lease_owner', '=', this.owner).execute();
      for (const r of records.filter((x) => x.retryAt)) {
        // Come back for the retries: the event stays undispatched and becomes claimable at retryAt.
        await tx.updateTable('graph_events').set({ lease_owner: null, lease_expires_at: r.retryAt }).where('id', '=', r.eventId).where('lease_owner', '=', this.owner).execute();
      }
    });
    return events.length;
  }

  private async claim(): Promise<GraphEvent[]> {
    const at = now();
    const until = new Date(Date.now() + EVENT_LEASE_MS).toISOString();
    const lock = this.app.dialect === 'postgres' ? sql`for update skip locked` : sql``;
    const result = await sql<GraphEvent>`
      update graph_events set lease_owner = ${this.owner}, lease_expires_at = ${until}
      where id in (
        select id from graph_events
        where dispatched_at is null and (lease_expires_at is null or lease_expires_at < ${at})
        order by id limit ${BATCH} ${lock}
      )
      returning *`.execute(this.app.db);
    return result.rows.sort((a, b) => a.id - b.id);
  }

  private async dispatchEvent(row: GraphEvent, repos: Map<number, RepositoryWithOwner | null>): Promise<DispatchRecord> {
    const app = this.app;
    const event = toDispatchedEvent(row);
    const behaviors = this.registry.forType(event.type);
    const record: DispatchRecord = { eventId: event.id, results: [], retryAt: null };
    if (behaviors.length === 0) return record;
    let repo: RepositoryWithOwner | null = null;
    if (event.repositoryId) {
      if (!repos.has(event.repositoryId)) repos.set(event.repositoryId, (await findRepositoryById(app.db, event.repositoryId)) ?? null);
      repo = repos.get(event.repositoryId)!;
    }
    const ctx = { app, repo };
    const disabled = new Set(
      repo && behaviors.some((b) => b.optional) ? (await app.db.selectFrom('repository_behavior_settings').select('behavior_key').where('repository_id', '=', repo.id).where('enabled', '=', 0).execute()).map((r) => r.behavior_key) : [],
    );
    const existing = new Map((await app.db.selectFrom('behavior_runs').selectAll().where('event_id', '=', event.id).execute()).map((r) => [r.behavior_key, r]));
    for (const behavior of behaviors) {
      const prior = existing.get(behavior.key);
      if (prior && ['succeeded', 'failed', 'skipped'].includes(prior.status)) continue;
      if (prior?.status === 'retry' && prior.next_attempt_at && prior.next_attempt_at > now()) {
        record.retryAt = !record.retryAt || prior.next_attempt_at < record.retryAt ? prior.next_attempt_at : record.retryAt;
        continue;
      }
      if ((behavior.optional && disabled.has(behavior.key)) || !behavior.when(event, ctx)) continue;
      const attempts = (prior?.attempts ?? 0) + 1;
      try {
        const result = await behavior.run(event, ctx);
        record.results.push({ key: behavior.key, status: 'succeeded', outcome: result.outcome.slice(0, 2000), error: null, attempts, nextAttemptAt: null, links: JSON.stringify(result.links ?? []) });
      } catch (err) {
        const message = (err as Error).message ?? String(err);
        const final = attempts >= MAX_BEHAVIOR_ATTEMPTS;
        const next = final ? null : new Date(Date.now() + behaviorRetryDelayMs(attempts, this.opts.retryBaseMs ?? 1000)).toISOString();
        this.opts.log?.(`behavior ${behavior.key} failed on event ${event.id} (attempt ${attempts}): ${message}`);
        record.results.push({ key: behavior.key, status: final ? 'failed' : 'retry', outcome: '', error: message.slice(0, 4000), attempts, nextAttemptAt: next, links: '[]' });
        if (next) record.retryAt = !record.retryAt || next < record.retryAt ? next : record.retryAt;
      }
    }
    return record;
  }
}

interface DispatchRecord {
  eventId: number;
  results: { key: string; status: string; outcome: string; error: string | null; attempts: number; nextAttemptAt: string | null; links: string }[];
  retryAt: string | null;
}
