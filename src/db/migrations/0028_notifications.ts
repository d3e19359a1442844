import { type Kysely, sql } from 'kysely';
import { type Dialect, idColumn, idConstraints, timestamp } from '../migrationHelpers.ts';

/**
 * Watching and notifications (GitHub's model).
 *
 * - `repository_watches`: a user's choice for a repository — 'watching' (all its issues, pull requests
 *   and tasks) or 'ignoring' (nothing, not even mentions); no row means "participating and @mentions".
 *   Owners watch what they create; the existing repositories' owners are backfilled here.
 * - `notifications`: one thread per (user, subject) — an issue, a pull request or a task of a repository
 *   — brought back to unread, with its newest reason and action, by each new activity on the subject.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('repository_watches')
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addPrimaryKeyConstraint('repository_watches_pk', ['repository_id', 'user_id'])
    .execute();
  await db.schema.createIndex('repository_watches_by_user').on('repository_watches').column('user_id').execute();
  await sql`insert into repository_watches (repository_id, user_id, state, created_at) select id, owner_id, 'watching', created_at from repositories`.execute(db);

  await db.schema
    .createTable('notifications')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('subject_type', 'varchar(16)', (c) => c.notNull())
    .addColumn('subject_number', 'integer', (c) => c.notNull())
    .addColumn('title', 'varchar(512)', (c) => c.notNull())
    .addColumn('reason', 'varchar(32)', (c) => c.notNull())
    .addColumn('action', 'varchar(64)', (c) => c.notNull())
    .addColumn('last_actor_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('unread', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('updated_at', timestamp, (c) => c.notNull())
    .addColumn('last_read_at', timestamp)
    .execute();
  await db.schema.createIndex('notifications_subject').on('notifications').columns(['user_id', 'repository_id', 'subject_type', 'subject_number']).unique().execute();
  await db.schema.createIndex('notifications_inbox').on('notifications').columns(['user_id', 'unread', 'updated_at']).execute();
}
