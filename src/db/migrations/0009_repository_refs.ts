import type { Kysely } from 'kysely';

/**
 * What the ref-change ingress has recorded of each repository's refs (issue 12): one row per tracked ref
 * (branches, tags, notes), written in the same transaction as the ref.updated events that describe its
 * moves. The reconciler compares it with the refs on disk and emits what a crash lost between git's ref
 * update and that transaction.
 *
 * `refs_baselined` says whether repository_refs is a complete record. Repositories that exist when this
 * migration runs have no record yet (0): their first reconcile — or first recorded change — takes the refs
 * on disk as the baseline, without events. The column's default is 1 so that a repository created later
 * starts with an empty, complete record (a new bare repository has no refs).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('repository_refs')
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('ref', 'varchar(1024)', (c) => c.notNull())
    .addColumn('sha', 'varchar(64)', (c) => c.notNull())
    .addPrimaryKeyConstraint('repository_refs_pk', ['repository_id', 'ref'])
    .execute();
  await db.schema.alterTable('repositories').addColumn('refs_baselined', 'integer', (c) => c.notNull().defaultTo(1)).execute();
  await (db as Kysely<{ repositories: { refs_baselined: number } }>).updateTable('repositories').set({ refs_baselined: 0 }).execute();
}
