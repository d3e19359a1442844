import type { Kysely } from 'kysely';

/**
 * Per-repository number sequences (runs today): one atomic increment per number, so concurrent
 * launches never compute the same "max + 1" and retry into each other.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('repository_counters')
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('kind', 'varchar(32)', (c) => c.notNull())
    .addColumn('value', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('repository_counters_pk', ['repository_id', 'kind'])
    .execute();
}
