import { sql, type SqlBool } from 'kysely';
import { noneOf, oneOf, prepared } from '../db/pgPrepared.ts';
import type { AppContext } from './app.ts';
import { now } from './app.ts';
import type { DbOrTx } from '../db/index.ts';
import type { Job, JobStatus } from '../db/schema.ts';

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
  return insertJob(db, input).returningAll().executeTakeFirstOrThrow();
}

/**
 * Enqueues a job on its own (no other state to commit with it) and wakes the claimers: on PostgreSQL one
 * statement, the row and its NOTIFY committed together (one round trip, where enqueueJob then
 * wakeClaimers take two, or four in a transaction); on SQLite the insert, then the in-process signal.
 */
export async function enqueueJobAndWake(app: AppContext, input: EnqueueInput): Promise<Job> {
  if (app.dialect !== 'postgres') {
    const job = await enqueueJob(app.db, input);
    await wakeClaimers(app);
    return job;
  }
  const { woken: _, ...job } = await app.db
    .with('job', () => insertJob(app.db, input).returningAll())
    .selectFrom('job')
    .selectAll()
    .select(sql<string>`pg_notify('gitoku_jobs', '')`.as('woken'))
    .executeTakeFirstOrThrow();
  return job;
}

function insertJob(db: DbOrTx, input: EnqueueInput) {
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
    });
}

/** Tells waiting claimers that jobs were committed: one NOTIFY per call on PostgreSQL, an in-process signal on SQLite. */
export async function wakeClaimers(app: AppContext): Promise<void> {
  if (app.dialect === 'postgres') await sql`select pg_notify('gitoku_jobs', '')`.execute(app.db);
  else app.signals.emit('jobs');
}

/**
 * Claims one job; see claimJobs.
 */
export async function claimJob(app: AppContext, owner: string, kinds: readonly string[], leaseMs: number, preference?: ClaimingRunner): Promise<Job | null> {
  return (await claimJobs(app, owner, kinds, leaseMs, preference, 1))[0] ?? null;
}

/**
 * Claims up to `limit` jobs in one statement (`UPDATE … WHERE id IN (SELECT … LIMIT k FOR UPDATE SKIP
 * LOCKED) RETURNING`), earliest due first (then oldest): queued jobs due now, and running jobs whose
 * lease expired with attempts left (their runner died). See claimStatement.
 *
 * `preference`: which runner is claiming (ClaimingRunner), and how long a job with a `preferred_runner_id`
 * (the runner holding the snapshot it boots from) waits for that runner after it became claimable
 * (`run_after`) before any runner may take it.
 *
 * `exclude`: jobs the caller is finishing at the same time (an expired lease must not hand them out again).
 */
export async function claimJobs(
  app: AppContext,
  owner: string,
  kinds: readonly string[],
  leaseMs: number,
  preference: ClaimingRunner | undefined,
  limit: number,
  exclude: readonly number[] = [],
): Promise<Job[]> {
  if (kinds.length === 0 || limit < 1) return [];
  const result = await prepared(claimStatement(app, { owner, kinds, leaseMs, preference, limit }, exclude)).execute(app.db);
  return result.rows.sort(claimOrder);
}

/** The order claims take jobs in: earliest due first, then oldest (RETURNING does not keep it). */
function claimOrder(a: Job, b: Job): number {
  return a.run_after < b.run_after ? -1 : a.run_after > b.run_after ? 1 : a.id - b.id;
}

/**
 * The runner claiming: how long a job preferring another runner waits for it (see claimJobs) and, with
 * the runner's token hash, a guard — the claim takes nothing once that runner was deleted or re-keyed,
 * checked in the claim itself (a runner revoked during a long poll is never handed a job).
 */
export interface ClaimingRunner {
  runnerId: number;
  windowMs: number;
  tokenHash?: string;
}

/** What one claim asks for: see claimJobs. */
export interface ClaimRequest {
  owner: string;
  kinds: readonly string[];
  leaseMs: number;
  preference?: ClaimingRunner;
  limit: number;
}

/**
 * The claim statement (`UPDATE … WHERE id IN (SELECT … LIMIT k [FOR UPDATE SKIP LOCKED]) RETURNING *`);
 * see claimJobs. `exclude`: jobs the same statement finishes (a row must not be updated twice in one statement).
 *
 * The candidates come from the index of unfinished jobs by kind (migration 0026), walked kind by kind
 * in its order — due time, then id — so a claim reads about as many entries as it takes whatever the
 * planner's statistics say (they usually describe the table at another moment: history and no backlog,
 * or a backlog since finished). The order is also one the primary key cannot give: ordered by id alone,
 * statistics taken during a backlog made PostgreSQL walk the primary key through every finished job.
 * On PostgreSQL a lateral subquery per kind, each locking up to k (rows locked there but not taken are
 * released at commit, a moment later): a btree walk for several kinds returns them kind by kind, so a
 * single scan would sort every queued job. The kinds and the excluded ids are array parameters there:
 * the text never varies (prepared by name). SQLite stops each kind's walk at k by itself, and is told
 * the index (`INDEXED BY`: statistics from a manual ANALYZE during a backlog made it scan the table).
 */
export function claimStatement(app: AppContext, { owner, kinds, leaseMs, preference, limit }: ClaimRequest, exclude: readonly number[] = []) {
  const at = now();
  const leaseUntil = new Date(Date.now() + leaseMs).toISOString();
  const { runnerId, windowMs, tokenHash } = preference ?? { runnerId: -1, windowMs: app.config.runnerPreferenceMs };
  const k = Math.floor(limit);
  const holder = tokenHash === undefined ? sql`` : sql`and exists (select 1 from runners where runners.id = ${runnerId} and runners.token_hash = ${tokenHash})`;
  const claimable = sql`status in ('queued', 'running')
        ${holder}
        and cancel_requested = 0
        and (preferred_runner_id is null or preferred_runner_id = ${runnerId} or run_after <= ${new Date(Date.now() - windowMs).toISOString()})
        and ${noneOf(app.dialect, 'id', exclude)}
        and ((status = 'queued' and run_after <= ${at})
          or (status = 'running' and lease_expires_at < ${at} and attempts < max_attempts))`;
  const candidates =
    app.dialect === 'postgres'
      ? sql`select c.id from unnest(cast(${[...kinds]} as text[])) as k(kind)
      cross join lateral (
        select id, run_after from jobs where jobs.kind = k.kind and ${claimable}
        order by run_after, id limit ${k} for update skip locked
      ) c
      order by c.run_after, c.id limit ${k}`
      : sql`select id from jobs indexed by jobs_unfinished_by_kind where ${oneOf(app.dialect, 'kind', kinds)} and ${claimable} order by run_after, id limit ${k}`;
  return sql<Job>`
    update jobs set status = 'running', lease_owner = ${owner}, lease_expires_at = ${leaseUntil},
      attempts = attempts + 1, updated_at = ${at}
    where id in (${candidates})
    returning *`;
}

/**
 * One round trip of a worker draining the queue: records the jobs `owner` finished (succeeded, each with
 * its result) and claims up to `claim.limit` more. On PostgreSQL both are one statement — two
 * data-modifying CTEs, so one transaction and one round trip; on SQLite (one writer, in-process) two
 * statements. A finished job is recorded only while `owner` still holds it (idempotent, as
 * finishJobsSucceeded); until it is recorded it stays leased, so a crash in between runs it again after
 * the lease (at least once), never loses it. Returns the ids recorded and the jobs claimed (in claim order: earliest due, then oldest).
 */
export async function completeAndClaimJobs(
  app: AppContext,
  finished: readonly { id: number; result: unknown }[],
  claim: ClaimRequest,
): Promise<{ done: Set<number>; claimed: Job[] }> {
  const wantsClaim = claim.kinds.length > 0 && claim.limit >= 1;
  if (app.dialect !== 'postgres' || finished.length === 0 || !wantsClaim) {
    const done = await finishJobsSucceeded(app, claim.owner, finished);
    return { done, claimed: wantsClaim ? await claimJobs(app, claim.owner, claim.kinds, claim.leaseMs, claim.preference, claim.limit) : [] };
  }
  const result = await completeAndClaimStatement(app, finished, claim).execute(app.db);
  const done = new Set<number>(result.rows[0]?.done_ids ?? []);
  const claimed = result.rows
    .filter((r) => r.id !== null)
    .map(({ done_ids: _, ...job }) => job as Job)
    .sort(claimOrder);
  return { done, claimed };
}

/**
 * completeAndClaimJobs' statement on PostgreSQL: two data-modifying CTEs. The finished jobs go as two
 * arrays (ids, results), so the text never varies (prepared by name); they are found by primary key
 * (no other index's predicate is implied by `status = 'running'` alone: migration 0026).
 */
export function completeAndClaimStatement(app: AppContext, finished: readonly { id: number; result: unknown }[], claim: ClaimRequest) {
  const at = now();
  const ids = finished.map((f) => f.id);
  const results = finished.map(({ result }) => (result === undefined ? null : JSON.stringify(result)));
  return prepared(sql<Job & { done_ids: number[] | null }>`
    with done as (
      update jobs set status = 'succeeded', result = v.result, last_error = null, lease_owner = null,
        lease_expires_at = null, finished_at = ${at}, updated_at = ${at}
      from unnest(cast(${ids} as integer[]), cast(${results} as text[])) as v(id, result)
      where jobs.id = v.id and jobs.lease_owner = ${claim.owner} and jobs.status = 'running'
      returning jobs.id
    ), claimed as (${claimStatement(app, claim, ids)})
    select claimed.*, d.done_ids from (select json_agg(id) as done_ids from done) d left join claimed on true`);
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
  await releaseJobs(db, [jobId], owner);
}

/** Hands many claimed-but-not-started jobs back at once (see releaseJob); returns how many `owner` still held. */
export async function releaseJobs(db: DbOrTx, jobIds: readonly number[], owner: string): Promise<number> {
  if (jobIds.length === 0) return 0;
  const res = await db
    .updateTable('jobs')
    .set((eb) => ({ status: 'queued', lease_owner: null, lease_expires_at: null, attempts: eb('attempts', '-', 1), updated_at: now() }))
    .where('id', 'in', [...jobIds])
    .where('lease_owner', '=', owner)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
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
      const { rows } = await prepared(sql<{ id: number }>`update jobs set status = 'succeeded', result = ${result}, last_error = null, lease_owner = null, lease_expires_at = null, finished_at = ${at}, updated_at = ${at}
        where ${oneOf(app.dialect, 'id', ids)} and lease_owner = ${owner} and status = 'running' returning id`).execute(db);
      for (const r of rows) done.add(r.id);
    }
  };
  await (byResult.size === 1 ? run(app.db) : app.db.transaction().execute(run));
  return done;
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
  // One statement for both (it runs on every runner poll): cancelled when asked, failed when out of attempts.
  return app.db
    .updateTable('jobs')
    .set({
      status: sql<JobStatus>`case when cancel_requested = 1 then 'cancelled' else 'failed' end`,
      last_error: sql<string>`case when cancel_requested = 1 then 'cancelled (the runner stopped responding)' else 'the runner stopped responding (lease expired) and no attempts are left' end`,
      lease_owner: null,
      lease_expires_at: null,
      finished_at: at,
      updated_at: at,
    })
    .where('status', '=', 'running')
    .where('lease_expires_at', '<', at)
    .where((eb) => eb.or([eb('cancel_requested', '=', 1), eb('attempts', '>=', eb.ref('max_attempts'))]))
    .returningAll()
    .execute();
}

/**
 * The predicate of the partial index that holds the jobs of `status` (migration 0026). A statement that
 * filters by a status without a kind names it, so both databases read that index rather than the table
 * (SQLite uses a partial index only when the statement repeats its predicate).
 */
export function jobStatusScope(status: JobStatus) {
  return status === 'queued' || status === 'running' ? sql<SqlBool>`status in ('queued', 'running') and kind is not null` : sql<SqlBool>`status not in ('queued', 'running')`;
}

/** A job of `kind` (for `repositoryId` when given) still waiting in the queue, if any: schedulers enqueue only when none waits. */
export async function findQueuedJob(db: DbOrTx, kind: string, repositoryId?: number): Promise<{ id: number } | undefined> {
  let query = db.selectFrom('jobs').select('id').where(jobStatusScope('queued')).where('kind', '=', kind).where('status', '=', 'queued');
  if (repositoryId !== undefined) query = query.where('repository_id', '=', repositoryId);
  return query.limit(1).executeTakeFirst();
}

export async function getJob(db: DbOrTx, id: number): Promise<Job | undefined> {
  return db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
}
