import type { Kysely } from 'kysely';
import { type Dialect, idColumn, idConstraints, timestamp } from '../migrationHelpers.ts';

/**
 * Webhooks (issue 18).
 * - `webhooks`: a repository's hooks (repository_id set) and server-wide ones (repository_id null, site
 *   administrators'): target URL, the secret deliveries are signed with (kept to sign, never shown),
 *   content type (json | form), the events it wants (JSON array; "*" for all) and whether it is active.
 * - `webhook_deliveries`: one row per delivery (a redelivery is a new row pointing at the original
 *   and keeping its guid): the request as sent, the last attempt's response (bodies truncated), how
 *   long it took, its status and how many attempts were made. `source_event_id` is the outbox event it
 *   came from; unique with the hook and the event name, so a behavior retried after a crash cannot
 *   deliver twice.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('webhooks')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('repository_id', 'integer', (c) => c.references('repositories.id').onDelete('cascade'))
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('secret', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('content_type', 'varchar(16)', (c) => c.notNull().defaultTo('json'))
    .addColumn('insecure_ssl', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('events', 'text', (c) => c.notNull())
    .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_by_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('updated_at', timestamp, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('webhooks_repository').on('webhooks').column('repository_id').execute();

  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('hook_id', 'integer', (c) => c.notNull().references('webhooks.id').onDelete('cascade'))
    .addColumn('repository_id', 'integer', (c) => c.references('repositories.id').onDelete('cascade'))
    .addColumn('source_event_id', 'integer')
    .addColumn('event', 'varchar(64)', (c) => c.notNull())
    .addColumn('action', 'varchar(64)')
    .addColumn('guid', 'varchar(64)', (c) => c.notNull())
    .addColumn('redelivery_of', 'integer', (c) => c.references('webhook_deliveries.id').onDelete('set null'))
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('request_headers', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('request_body', 'text', (c) => c.notNull())
    .addColumn('response_status', 'integer')
    .addColumn('response_headers', 'text')
    .addColumn('response_body', 'text')
    .addColumn('error', 'text')
    .addColumn('duration_ms', 'integer')
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('job_id', 'integer')
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('delivered_at', timestamp)
    .addColumn('updated_at', timestamp, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('webhook_deliveries_hook').on('webhook_deliveries').columns(['hook_id', 'id']).execute();
  await db.schema.createIndex('webhook_deliveries_source').on('webhook_deliveries').columns(['hook_id', 'source_event_id', 'event']).unique().execute();
}
