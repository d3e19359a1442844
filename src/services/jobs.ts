import { sql } from 'kysely';
import type { AppContext } from './app.ts';
import { now } from './app.ts';
import type { DbOrTx } from '../db/index.ts';
import type { Job } from '../db/schema.ts';

/**
 * The job queue (DESIGN §3): a table with leases. A claim is one atomic UPDATE … WHERE id IN (SELECT …
 * LIMIT k) — with FOR UPDATE SKIP LOCKED on PostgreSQL — that takes up to k jobs at once, also those
 * whose lease expired (their runner died). Runners heartbeat to extend the leases (many in one statement);
 * completion is accepted only from the current lease owner of a running job, so a late duplicate
 * completion changes nothing.
 */

export interface EnqueueInput {
  kind: string;
  repositoryId: number | null;
  payload: Record<string, unknown>;
  maxAttempts?: number;
  runAfter?: Date;
  /** At most one job exists per dedup key (a unique index): behaviors use it to stay idempotent. */
  dedupKey?: string;
  /** Only this runner may claim the job during the preference window (it holds the job's snapshot). */
  preferredRunnerId?: number | null;
}

export async function enqueueJob(db: DbOrTx, input: EnqueueInput): Promise<Job> {
  const at = now();
  return db
    .insertInto('jobs')
    .values({
      kind: input.kind,
      repository_id: input.repositoryId,
      payload: JSON.stringify(input.payload),
      status: 'queued',
      run_after: (input.runAfter ?? new Date()).toISOString(),
      attempts: 0,
      max_attempts: input.maxAttempts ?? 3,
      lease_owner: null,
      lease_expires_at: null,
      last_error: null,
      result: null,
      cancel_requested: 0,
      dedup_key: input.dedupKey ?? null,
      preferred_runner_id: input.preferredRunnerId ?? null,
      created_at: at,
      updated_at: at,
      finished_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Tells waiting claimers that jobs were committed: one NOTIFY per call on PostgreSQL, an in-process signal on SQLite. */
export async function wakeClaimers(app: AppContext): Promise<void> {
  if (app.dialect === 'postgres') await sql`select pg_notify('gitoku_jobs', '')`.execute(app.db);
  else app.signals.emit('jobs');
}

/**
 * Claims one job; see claimJobs.
 */
export async function claimJob(app: AppContext, owner: string, kinds: readonly string[], leaseMs: number, preference?: { runnerId: number; windowMs: number }): Promise<Job | null> {
  return (await claimJobs(app, owner, kinds, leaseMs, preference, 1))[0] ?? null;
}

/**
 * Claims up to `limit` jobs in one statement (`UPDATE … WHERE id IN (SELECT … LIMIT k FOR UPDATE SKIP
 * LOCKED) RETURNING`), oldest first: queued jobs due now, and running jobs whose lease expired with
 * attempts left (their runner died). The literal `status in ('queued', 'running')` lets both databases
 * walk the partial index of unfinished jobs (migration 0024) instead of stepping past finished rows.
 *
 * `preference`: which runner is claiming, and how long a job with a `preferred_runner_id` (the runner
 * holding the snapshot it boots from) waits for that runner after it became claimable (`run_after`)
 * before any runner may take it.
 */
export async function claimJobs(
  app: AppContext,
  owner: string,
  kinds: readonly string[],
  leaseMs: number,
  preference: { runnerId: number; windowMs: number } | undefined,
  limit: number,
): Promise<Job[]> {
  if (kinds.length === 0 || limit < 1) return [];
  const at = now();
  const leaseUntil = new Date(Date.now() + leaseMs).toISOString();
  const lock = app.dialect === 'postgres' ? sql`for update skip locked` : sql``;
  const { runnerId, windowMs } = preference ?? { runnerId: -1, windowMs: app.config.runnerPreferenceMs };
  const preferred = sql`and (preferred_runner_id is null or preferred_runner_id = ${runnerId} or run_after <= ${new Date(Date.now() - windowMs).toISOString()})`;
  const result = await sql<Job>`
    update jobs set status = 'running', lease_owner = ${owner}, lease_expires_at = ${leaseUntil},
      attempts = attempts + 1, updated_at = ${at}
    where id in (
      select id from jobs
      where status in ('queued', 'running')
        and kind in (${sql.join(kinds.map((k) => sql`${k}`))})
        and cancel_requested = 0
        ${preferred}
        and ((status = 'queued' and run_after <= ${at})
          or (status = 'running' and lease_expires_at < ${at} and attempts < max_attempts))
      order by id
      limit ${Math.floor(limit)}
      ${lock}
    )
    returning *`.execute(app.db);
  return result.rows.sort((a, b) => a.id - b.id);
}

/** Extends a lease; returns null when the caller no longer holds it (expired and taken over, or finished). */
export async function heartbeatJob(app: AppContext, jobId: number, owner: string, leaseMs: number): Promise<{ cancelRequested: boolean } | null> {
  return (await heartbeatJobs(app, [jobId], owner, leaseMs)).get(jobId) ?? null;
}

/**
 * Extends the leases of many jobs in one statement. The answer maps each job `owner` still holds to
 * whether its cancellation was requested; a job missing from it was lost (taken over, or finished).
 */
export async function heartbeatJobs(app: AppContext, jobIds: readonly number[], owner: string, leaseMs: number): Promise<Map<number, { cancelRequested: boolean }>> {
  const out = new Map<number, { cancelRequested: boolean }>();
  if (jobIds.length === 0) return out;
  const leaseUntil = new Date(Date.now() + leaseMs).toISOString();
  const rows = await app.db
    .updateTable('jobs')
    .set({ lease_expires_at: leaseUntil, updated_at: now() })
    .where('id', 'in', [...new Set(jobIds)])
    .where('lease_owner', '=', owner)
    .where('status', '=', 'running')
    .returning(['id', 'cancel_requested'])
    .execute();
  for (const r of rows) out.set(r.id, { cancelRequested: r.cancel_requested === 1 });
  return out;
}

/** Hands a just-claimed job back to the queue without counting the attempt (its claimer went away before receiving it). */
export async function releaseJob(db: DbOrTx, jobId: number, owner: string): Promise<void> {
  await db
    .updateTable('jobs')
    .set((eb) => ({ status: 'queued', lease_owner: null, lease_expires_at: null, attempts: eb('attempts', '-', 1), updated_at: now() }))
    .where('id', '=', jobId)
    .where('lease_owner', '=', owner)
    .where('status', '=', 'running')
    .execute();
}

/** Marks a running job finished (succeeded, failed or cancelled) if `owner` holds it; false otherwise. */
export async function finishJob(db: DbOrTx, jobId: number, owner: string, status: 'succeeded' | 'failed' | 'cancelled', outcome: { result?: unknown; error?: string }): Promise<boolean> {
  const at = now();
  const res = await db
    .updateTable('jobs')
    .set({ status, result: outcome.result === undefined ? null : JSON.stringify(outcome.result), last_error: outcome.error ?? null, lease_owner: null, lease_expires_at: null, finished_at: at, updated_at: at })
    .where('id', '=', jobId)
    .where('lease_owner', '=', owner)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/**
 * Marks many running jobs held by `owner` succeeded in one transaction (one UPDATE per distinct result,
 * usually one); returns the ids it finished — a job `owner` no longer held is left alone (idempotent).
 */
export async function finishJobsSucceeded(app: AppContext, owner: string, items: readonly { id: number; result: unknown }[]): Promise<Set<number>> {
  const done = new Set<number>();
  if (items.length === 0) return done;
  const byResult = new Map<string | null, number[]>();
  for (const { id, result } of items) {
    const key = result === undefined ? null : JSON.stringify(result);
    byResult.set(key, [...(byResult.get(key) ?? []), id]);
  }
  const at = now();
  const run = async (db: DbOrTx) => {
    for (const [result, ids] of byResult) {
      const rows = await db
        .updateTable('jobs')
        .set({ status: 'succeeded', result, last_error: null, lease_owner: null, lease_expires_at: null, finished_at: at, updated_at: at })
        .where('id', 'in', ids)
        .where('lease_owner', '=', owner)
        .where('status', '=', 'running')
        .returning('id')
        .execute();
      for (const r of rows) done.add(r.id);
    }
  };
  await (byResult.size === 1 ? run(app.db) : app.db.transaction().execute(run));
  return done;
}

/**
 * Collects the completions of one worker that arrive close together (the same turn of the event loop)
 * and writes them with one finishJobsSucceeded: a worker running many short jobs then spends one
 * transaction on a batch of completions rather than one per job.
 */
export class CompletionBatcher {
  private pending: { id: number; result: unknown; resolve: (ok: boolean) => void; reject: (err: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly app: AppContext,
    private readonly owner: string,
  ) {}

  /** Resolves true once the job was marked succeeded, false when `owner` no longer held it. */
  succeed(id: number, result: unknown): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ id, result, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    try {
      const done = await finishJobsSucceeded(this.app, this.owner, batch);
      for (const item of batch) item.resolve(done.has(item.id));
    } catch (err) {
      for (const item of batch) item.reject(err);
    }
  }
}

/** Exponential backoff with a little jitter: 2s, 4s, 8s … capped at 5 minutes. */
export function retryDelayMs(attempts: number): number {
  return Math.min(300_000, 1000 * 2 ** attempts) + Math.floor(Math.random() * 250);
}

/**
 * Records a failed attempt: requeued with backoff while attempts remain and the failure is retryable,
 * else failed for good. Returns 'retry' | 'failed', or null when the caller did not hold the lease.
 */
export async function failJobAttempt(db: DbOrTx, job: Job, owner: string, error: string, retryable: boolean): Promise<'retry' | 'failed' | null> {
  if (retryable && job.attempts < job.max_attempts) {
    const at = now();
    const res = await db
      .updateTable('jobs')
      .set({ status: 'queued', lease_owner: null, lease_expires_at: null, last_error: error, run_after: new Date(Date.now() + retryDelayMs(job.attempts)).toISOString(), updated_at: at })
      .where('id', '=', job.id)
      .where('lease_owner', '=', owner)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1 ? 'retry' : null;
  }
  return (await finishJob(db, job.id, owner, 'failed', { error })) ? 'failed' : null;
}

/** Cancels a job: a queued one at once; a running one is flagged and its runner stops it at the next heartbeat. */
export async function requestJobCancel(db: DbOrTx, jobId: number, reason = 'cancelled'): Promise<'cancelled' | 'requested' | 'finished'> {
  const at = now();
  const queued = await db.updateTable('jobs').set({ status: 'cancelled', cancel_requested: 1, last_error: reason, finished_at: at, updated_at: at }).where('id', '=', jobId).where('status', '=', 'queued').executeTakeFirst();
  if (Number(queued.numUpdatedRows) === 1) return 'cancelled';
  const running = await db.updateTable('jobs').set({ cancel_requested: 1, last_error: reason, updated_at: at }).where('id', '=', jobId).where('status', '=', 'running').executeTakeFirst();
  return Number(running.numUpdatedRows) === 1 ? 'requested' : 'finished';
}

/**
 * Ends jobs whose lease expired and that will not be claimed again: those with no attempts left fail,
 * those whose cancellation was requested are cancelled. Returns them so their owners (runs) can be closed.
 */
export async function sweepExpiredJobs(app: AppContext): Promise<Job[]> {
  const at = now();
  const cancelled = await app.db
    .updateTable('jobs')
    .set({ status: 'cancelled', last_error: 'cancelled (the runner stopped responding)', lease_owner: null, lease_expires_at: null, finished_at: at, updated_at: at })
    .where('status', '=', 'running')
    .where('lease_expires_at', '<', at)
    .where('cancel_requested', '=', 1)
    .returningAll()
    .execute();
  const failed = await app.db
    .updateTable('jobs')
    .set({ status: 'failed', last_error: 'the runner stopped responding (lease expired) and no attempts are left', lease_owner: null, lease_expires_at: null, finished_at: at, updated_at: at })
    .where('status', '=', 'running')
    .where('lease_expires_at', '<', at)
    .where((eb) => eb('attempts', '>=', eb.ref('max_attempts')))
    .returningAll()
    .execute();
  return [...cancelled, ...failed];
}

export async function getJob(db: DbOrTx, id: number): Promise<Job | undefined> {
  return db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
}
