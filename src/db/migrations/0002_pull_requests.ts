import type { Kysely } from 'kysely';
import { type Dialect, idColumn, idConstraints, timestamp } from '../migrationHelpers.ts';

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('pull_requests')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('title', 'varchar(512)', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('draft', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('base_branch', 'varchar(255)', (c) => c.notNull())
    .addColumn('compare_branch', 'varchar(255)', (c) => c.notNull())
    .addColumn('head_sha', 'varchar(40)', (c) => c.notNull())
    .addColumn('base_sha', 'varchar(40)', (c) => c.notNull())
    .addColumn('merge_base_sha', 'varchar(40)')
    .addColumn('mergeable', 'integer')
    .addColumn('conflict_files', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('author_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('merged_at', timestamp)
    .addColumn('merged_by_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('merge_commit_sha', 'varchar(40)')
    .addColumn('merge_method', 'varchar(16)')
    .addColumn('closed_at', timestamp)
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('updated_at', timestamp, (c) => c.notNull())
    .addUniqueConstraint('pull_requests_number', ['repository_id', 'number'])
    .execute();
  await db.schema.createIndex('pull_requests_state').on('pull_requests').columns(['repository_id', 'state', 'number']).execute();
  await db.schema.createIndex('pull_requests_branches').on('pull_requests').columns(['repository_id', 'compare_branch']).execute();

  await db.schema
    .createTable('pull_request_reviews')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('pull_request_id', 'integer', (c) => c.notNull().references('pull_requests.id').onDelete('cascade'))
    .addColumn('author_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('state', 'varchar(32)', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('commit_sha', 'varchar(40)', (c) => c.notNull())
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('pull_request_reviews_pr').on('pull_request_reviews').column('pull_request_id').execute();

  await db.schema
    .createTable('pull_request_comments')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('pull_request_id', 'integer', (c) => c.notNull().references('pull_requests.id').onDelete('cascade'))
    .addColumn('author_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('review_id', 'integer', (c) => c.references('pull_request_reviews.id').onDelete('cascade'))
    .addColumn('in_reply_to_id', 'integer')
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('path', 'text')
    .addColumn('line', 'integer')
    .addColumn('side', 'varchar(8)')
    .addColumn('commit_sha', 'varchar(40)')
    .addColumn('line_content', 'text')
    .addColumn('diff_hunk', 'text')
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('updated_at', timestamp, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('pull_request_comments_pr').on('pull_request_comments').columns(['pull_request_id', 'id']).execute();

  await db.schema
    .createTable('commit_statuses')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('sha', 'varchar(40)', (c) => c.notNull())
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('context', 'varchar(255)', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('target_url', 'text')
    .addColumn('creator_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('updated_at', timestamp, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('commit_statuses_sha').on('commit_statuses').columns(['repository_id', 'sha', 'id']).execute();
}
