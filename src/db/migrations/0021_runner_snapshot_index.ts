import type { Kysely } from 'kysely';

/** A fork asks which online runner holds a snapshot by its id alone (a restarted runner holds it under a new record). */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('runner_snapshots_snapshot_idx').on('runner_snapshots').column('snapshot_id').execute();
}
