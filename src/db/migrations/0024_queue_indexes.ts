import { sql, type Kysely } from 'kysely';

/**
 * The queue's claim (src/services/jobs.ts) walks unfinished jobs in id order. Indexes over every row
 * make it step past the finished ones as the table grows (~2 ms a claim under a backlog, issue 19):
 * these partial indexes hold only queued and running rows, so the claim, the lease sweep and the
 * batched heartbeat touch just the live part of the queue. SQLite and PostgreSQL both take `WHERE`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('jobs_unfinished')
    .on('jobs')
    .columns(['id', 'kind'])
    .where(sql<boolean>`status in ('queued', 'running')`)
    .execute();
  await db.schema
    .createIndex('jobs_running_lease')
    .on('jobs')
    .columns(['lease_expires_at'])
    .where(sql<boolean>`status = 'running'`)
    .execute();
  // Superseded by jobs_unfinished: every enqueue, claim and completion no longer maintains it. (jobs_lease
  // stays: queries that bind the status as a parameter, e.g. the admin job list, cannot use a partial index on SQLite.)
  await db.schema.dropIndex('jobs_claimable').execute();
}
