import type { Kysely } from 'kysely';

/** Per-repository default agent for new runs (empty: the server's default). */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('repositories').addColumn('default_driver', 'varchar(32)', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.alterTable('repositories').addColumn('default_model', 'varchar(255)', (c) => c.notNull().defaultTo('')).execute();
}
