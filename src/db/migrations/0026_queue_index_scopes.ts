import { sql, type Kysely } from 'kysely';

/**
 * Each queue index serves the statements it was made for and no other (issue 19), so that a claim reads
 * only the jobs it takes whatever the planner's statistics say.
 *
 * Statistics describe the table when autovacuum last got to it, not now. Taken on history with no
 * backlog, they make a burst of enqueues look like a handful of jobs: offered an index it could read
 * whole (a partial index whose predicate a statement implies, or one led by the status), PostgreSQL read
 * and sorted every queued job rather than walk an index in order — a claim of 16 read 5,000 entries, the
 * completion of 16 read every running entry written since the last vacuum, and a drain of 10,000 jobs
 * ran at ~4,500 jobs/s (13,000 once an ANALYZE had run first). Taken during a backlog, they make finished
 * jobs look queued: a claim ordered by id walked the primary key through all of them (~10 ms a claim).
 *
 * - `jobs_unfinished_by_kind` (kind, run_after, id), queued or running jobs with a kind: a claim walks it
 *   one kind at a time, the kind as its key, due time then id as its order — an order no other index
 *   gives, so no other plan can stop early. The checks for a waiting job of a
 *   kind use it too. The `kind is not null` in its predicate (always true) keeps it from statements that
 *   do not name a kind: without a kind they could only read it whole.
 * - `jobs_running_lease` (lease_expires_at), running jobs with a lease: the lease sweep and the live-lease
 *   counts, which bound the lease. Statements on running jobs by id (completion, heartbeat, release) name
 *   no lease, so they take the primary key.
 * - `jobs_finished` (status, id), finished jobs: the admin lists by status.
 * - `jobs_dedup` only over jobs with a dedup key.
 * - `jobs_lease` (status, lease_expires_at) goes: led by the status, it let any statement naming a status
 *   read all jobs of that status.
 * Every index dropped or narrowed is also an entry fewer written by each enqueue, claim and completion
 * (PostgreSQL writes a new entry in every index whose predicate the new row version meets).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('jobs_unfinished').execute();
  await db.schema.dropIndex('jobs_running_lease').execute();
  await db.schema.dropIndex('jobs_lease').execute();
  await db.schema.dropIndex('jobs_dedup').execute();
  await db.schema
    .createIndex('jobs_unfinished_by_kind')
    .on('jobs')
    .columns(['kind', 'run_after', 'id'])
    .where(sql<boolean>`status in ('queued', 'running') and kind is not null`)
    .execute();
  await db.schema
    .createIndex('jobs_running_lease')
    .on('jobs')
    .column('lease_expires_at')
    .where(sql<boolean>`status = 'running' and lease_expires_at is not null`)
    .execute();
  await db.schema
    .createIndex('jobs_finished')
    .on('jobs')
    .columns(['status', 'id'])
    .where(sql<boolean>`status not in ('queued', 'running')`)
    .execute();
  await db.schema.createIndex('jobs_dedup').on('jobs').column('dedup_key').unique().where(sql<boolean>`dedup_key is not null`).execute();
}
