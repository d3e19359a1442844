import { instanceName } from '../services/instanceNames.ts';
import { sql } from 'kysely';
import type { AppContext } from '../services/app.ts';
import { now } from '../services/app.ts';
import type { BehaviorRun, GraphEvent } from '../db/schema.ts';
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
  readonly owner = instanceName('dispatcher');
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
    // Per batch, not per event: the repositories, their switched-off behaviors, and what already ran.
    const batch: BatchContext = { repos: new Map(), disabled: new Map(), existing: new Map() };
    for (const r of await this.app.db.selectFrom('behavior_runs').selectAll().where('event_id', 'in', events.map((e) => e.id)).execute()) {
      let forEvent = batch.existing.get(r.event_id);
      if (!forEvent) batch.existing.set(r.event_id, (forEvent = new Map()));
      forEvent.set(r.behavior_key, r);
    }
    for (const row of events) records.push(await this.dispatchEvent(row, batch));
    await this.app.db.transaction().execute(async (tx) => {
      const at = now();
      const rows = records.flatMap((record) =>
        record.results.map((r) => ({ event_id: record.eventId, behavior_key: r.key, status: r.status, outcome: r.outcome, error: r.error, attempts: r.attempts, next_attempt_at: r.nextAttemptAt, links: r.links, created_at: at, updated_at: at })),
      );
      // One statement per few hundred outcomes (a 3,000-ref push is 9,000 of them).
      for (let i = 0; i < rows.length; i += 500) {
        await tx
          .insertInto('behavior_runs')
          .values(rows.slice(i, i + 500))
          .onConflict((oc) =>
            oc.columns(['event_id', 'behavior_key']).doUpdateSet((eb) => ({
              status: eb.ref('excluded.status'),
              outcome: eb.ref('excluded.outcome'),
              error: eb.ref('excluded.error'),
              attempts: eb.ref('excluded.attempts'),
              next_attempt_at: eb.ref('excluded.next_attempt_at'),
              links: eb.ref('excluded.links'),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .execute();
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

  private async dispatchEvent(row: GraphEvent, batch: BatchContext): Promise<DispatchRecord> {
    const { repos } = batch;
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
    if (repo && behaviors.some((b) => b.optional) && !batch.disabled.has(repo.id)) {
      const off = await app.db.selectFrom('repository_behavior_settings').select('behavior_key').where('repository_id', '=', repo.id).where('enabled', '=', 0).execute();
      batch.disabled.set(repo.id, new Set(off.map((r) => r.behavior_key)));
    }
    const disabled = (repo && batch.disabled.get(repo.id)) || new Set<string>();
    const existing = batch.existing.get(event.id) ?? new Map<string, BehaviorRun>();
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

interface BatchContext {
  repos: Map<number, RepositoryWithOwner | null>;
  disabled: Map<number, Set<string>>;
  existing: Map<number, Map<string, BehaviorRun>>;
}

interface DispatchRecord {
  eventId: number;
  results: { key: string; status: string; outcome: string; error: string | null; attempts: number; nextAttemptAt: string | null; links: string }[];
  retryAt: string | null;
}
