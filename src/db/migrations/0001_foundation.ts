import type { Kysely } from 'kysely';
import { type Dialect, idColumn, idConstraints, timestamp } from '../migrationHelpers.ts';

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('username', 'varchar(64)', (c) => c.notNull())
    .addColumn('lower_name', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('email', 'varchar(320)', (c) => c.notNull())
    .addColumn('full_name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('updated_at', timestamp, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('users_email').on('users').column('email').execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('expires_at', timestamp, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();

  await db.schema
    .createTable('access_tokens')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('token_last_eight', 'varchar(8)', (c) => c.notNull())
    .addColumn('scopes', 'varchar(255)', (c) => c.notNull())
    .addColumn('expires_at', timestamp)
    .addColumn('last_used_at', timestamp)
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('access_tokens_user').on('access_tokens').column('user_id').execute();

  await db.schema
    .createTable('repositories')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('owner_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('lower_name', 'varchar(100)', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('is_private', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('default_branch', 'varchar(255)', (c) => c.notNull())
    .addColumn('is_empty', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('storage_path', 'text', (c) => c.notNull())
    .addColumn('ai_reviews_enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('pushed_at', timestamp)
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('updated_at', timestamp, (c) => c.notNull())
    .addUniqueConstraint('repositories_owner_name', ['owner_id', 'lower_name'])
    .execute();

  await db.schema
    .createTable('collaborators')
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role', 'varchar(16)', (c) => c.notNull())
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addPrimaryKeyConstraint('collaborators_pk', ['repository_id', 'user_id'])
    .execute();
  await db.schema.createIndex('collaborators_user').on('collaborators').column('user_id').execute();

  await db.schema
    .createTable('instance_settings')
    .addColumn('key', 'varchar(128)', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('graph_nodes')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('repository_id', 'integer', (c) => c.references('repositories.id').onDelete('cascade'))
    .addColumn('kind', 'varchar(32)', (c) => c.notNull())
    .addColumn('key', 'varchar(512)', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addUniqueConstraint('graph_nodes_identity', ['repository_id', 'kind', 'key'])
    .execute();

  await db.schema
    .createTable('graph_edges')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('src_id', 'integer', (c) => c.notNull().references('graph_nodes.id').onDelete('cascade'))
    .addColumn('dst_id', 'integer', (c) => c.notNull().references('graph_nodes.id').onDelete('cascade'))
    .addColumn('kind', 'varchar(32)', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addUniqueConstraint('graph_edges_identity', ['src_id', 'dst_id', 'kind'])
    .execute();
  await db.schema.createIndex('graph_edges_dst').on('graph_edges').columns(['dst_id', 'kind']).execute();

  await db.schema
    .createTable('graph_events')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('type', 'varchar(64)', (c) => c.notNull())
    .addColumn('repository_id', 'integer', (c) => c.references('repositories.id').onDelete('cascade'))
    .addColumn('subject', 'varchar(512)', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('dispatched_at', timestamp)
    .addColumn('lease_owner', 'varchar(128)')
    .addColumn('lease_expires_at', timestamp)
    .execute();
  await db.schema.createIndex('graph_events_undispatched').on('graph_events').columns(['dispatched_at', 'id']).execute();
  await db.schema.createIndex('graph_events_repository').on('graph_events').columns(['repository_id', 'id']).execute();

  await db.schema
    .createTable('behavior_runs')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('event_id', 'integer', (c) => c.notNull().references('graph_events.id').onDelete('cascade'))
    .addColumn('behavior_key', 'varchar(128)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('error', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('updated_at', timestamp, (c) => c.notNull())
    .addUniqueConstraint('behavior_runs_once', ['event_id', 'behavior_key'])
    .execute();
}
