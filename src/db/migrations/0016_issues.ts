import { type Kysely, sql } from 'kysely';
import { type Dialect, idColumn, idConstraints, timestamp } from '../migrationHelpers.ts';

/**
 * Issues (issue 17).
 * - `issues`: one row per issue; its number comes from the repository's 'issue' counter
 *   (`repository_counters`), which pull requests draw from too, so `#12` is either, never both.
 * - `issue_comments`: ids start far above pull-request comment ids (GitHub has one issue-comment id
 *   space, `/issues/comments/{id}`), so an id names one comment of either kind.
 * - `labels` (per repository, unique case-insensitively; an optional `agent_key` makes the label start
 *   that agent — labels named `agent:<key>` do so by default).
 * - `issue_labels`, `issue_assignees`, `issue_events` are keyed by (repository, number): labels,
 *   assignees and timeline entries apply to pull requests too, as on GitHub. An assignee is
 *   `user:<id>` or `agent:<key>`.
 * - `issue_events`: the timeline (labeled, assigned, referenced, closed …), `data` JSON, with an
 *   optional `dedup_key` so a reference recorded twice (a redelivered event) is stored once.
 * - `prompt_pull_request_jobs.issue_id`: the issue a run was started for.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('issues')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('title', 'varchar(512)', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('state_reason', 'varchar(16)')
    .addColumn('author_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('closed_by_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('closed_at', timestamp)
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('updated_at', timestamp, (c) => c.notNull())
    .addUniqueConstraint('issues_number', ['repository_id', 'number'])
    .execute();
  await db.schema.createIndex('issues_state').on('issues').columns(['repository_id', 'state', 'number']).execute();

  await db.schema
    .createTable('issue_comments')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('issue_id', 'integer', (c) => c.notNull().references('issues.id').onDelete('cascade'))
    .addColumn('author_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('updated_at', timestamp, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('issue_comments_issue').on('issue_comments').columns(['issue_id', 'id']).execute();
  // One id space with pull-request conversation comments (see above).
  if (dialect === 'sqlite') await sql`INSERT INTO sqlite_sequence (name, seq) VALUES ('issue_comments', 1000000000)`.execute(db);
  else await sql`ALTER SEQUENCE issue_comments_id_seq RESTART WITH 1000000001`.execute(db);

  await db.schema
    .createTable('labels')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('lower_name', 'varchar(100)', (c) => c.notNull())
    .addColumn('color', 'varchar(6)', (c) => c.notNull())
    .addColumn('description', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('agent_key', 'varchar(64)')
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('updated_at', timestamp, (c) => c.notNull())
    .addUniqueConstraint('labels_name', ['repository_id', 'lower_name'])
    .execute();

  await db.schema
    .createTable('issue_labels')
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('label_id', 'integer', (c) => c.notNull().references('labels.id').onDelete('cascade'))
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addPrimaryKeyConstraint('issue_labels_pk', ['repository_id', 'number', 'label_id'])
    .execute();
  await db.schema.createIndex('issue_labels_label').on('issue_labels').columns(['label_id', 'number']).execute();

  await db.schema
    .createTable('issue_assignees')
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('assignee', 'varchar(80)', (c) => c.notNull())
    .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('agent_key', 'varchar(64)')
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addPrimaryKeyConstraint('issue_assignees_pk', ['repository_id', 'number', 'assignee'])
    .execute();
  await db.schema.createIndex('issue_assignees_assignee').on('issue_assignees').columns(['repository_id', 'assignee']).execute();

  await db.schema
    .createTable('issue_events')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('event', 'varchar(32)', (c) => c.notNull())
    .addColumn('actor_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('data', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('dedup_key', 'varchar(255)')
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addUniqueConstraint('issue_events_dedup', ['repository_id', 'number', 'dedup_key'])
    .execute();
  await db.schema.createIndex('issue_events_issue').on('issue_events').columns(['repository_id', 'number', 'id']).execute();

  await db.schema.alterTable('prompt_pull_request_jobs').addColumn('issue_id', 'integer').execute();
  await db.schema.createIndex('prompt_pull_request_jobs_issue').on('prompt_pull_request_jobs').column('issue_id').execute();

  // Pull requests and issues share the 'issue' sequence: it continues after the highest PR number.
  await sql`INSERT INTO repository_counters (repository_id, kind, value) SELECT repository_id, 'issue', MAX(number) FROM pull_requests GROUP BY repository_id`.execute(db);
}
