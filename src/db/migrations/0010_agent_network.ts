import type { Kysely } from 'kysely';

/** Per-repository network policy of agent sandboxes (domain/network.ts): mode and, for `allow-list`, the hosts. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('repositories').addColumn('agent_network', 'varchar(16)', (c) => c.notNull().defaultTo('model-only')).execute();
  await db.schema.alterTable('repositories').addColumn('agent_network_hosts', 'text', (c) => c.notNull().defaultTo('')).execute();
}
