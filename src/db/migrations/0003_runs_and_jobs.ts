import type { Kysely } from 'kysely';
import { type Dialect, idColumn, idConstraints, timestamp } from '../migrationHelpers.ts';

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('jobs')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('kind', 'varchar(64)', (c) => c.notNull())
    .addColumn('repository_id', 'integer', (c) => c.references('repositories.id').onDelete('cascade'))
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('run_after', timestamp, (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('max_attempts', 'integer', (c) => c.notNull().defaultTo(3))
    .addColumn('lease_owner', 'varchar(128)')
    .addColumn('lease_expires_at', timestamp)
    .addColumn('last_error', 'text')
    .addColumn('result', 'text')
    .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('updated_at', timestamp, (c) => c.notNull())
    .addColumn('finished_at', timestamp)
    .execute();
  await db.schema.createIndex('jobs_claimable').on('jobs').columns(['status', 'run_after', 'id']).execute();
  await db.schema.createIndex('jobs_lease').on('jobs').columns(['status', 'lease_expires_at']).execute();

  await db.schema
    .createTable('runners')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('labels', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('version', 'varchar(64)', (c) => c.notNull().defaultTo(''))
    .addColumn('embedded', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('busy_jobs', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_seen_at', timestamp)
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('runner_registration_tokens')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('created_by_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('expires_at', timestamp)
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('prompt_pull_request_jobs')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('prompt', 'text', (c) => c.notNull())
    .addColumn('title', 'varchar(512)', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('mode', 'varchar(32)', (c) => c.notNull().defaultTo('code'))
    .addColumn('agent_key', 'varchar(128)')
    .addColumn('driver', 'varchar(32)', (c) => c.notNull())
    .addColumn('model', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('base_branch', 'varchar(255)', (c) => c.notNull())
    .addColumn('source_branch', 'varchar(255)')
    .addColumn('source_commit', 'varchar(40)', (c) => c.notNull())
    .addColumn('compare_branch', 'varchar(255)', (c) => c.notNull())
    .addColumn('commit_sha', 'varchar(40)')
    .addColumn('pull_request_id', 'integer', (c) => c.references('pull_requests.id').onDelete('set null'))
    .addColumn('forked_from_job_id', 'integer', (c) => c.references('prompt_pull_request_jobs.id').onDelete('set null'))
    .addColumn('job_id', 'integer', (c) => c.references('jobs.id').onDelete('set null'))
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('result_summary', 'text')
    .addColumn('usage', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('rendered_prompt', 'text')
    .addColumn('session_id', 'varchar(255)')
    .addColumn('created_by_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('started_at', timestamp)
    .addColumn('finished_at', timestamp)
    .addColumn('updated_at', timestamp, (c) => c.notNull())
    .addUniqueConstraint('prompt_pull_request_jobs_number', ['repository_id', 'number'])
    .execute();

  await db.schema
    .createTable('run_events')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('run_id', 'integer', (c) => c.notNull().references('prompt_pull_request_jobs.id').onDelete('cascade'))
    .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('kind', 'varchar(32)', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addUniqueConstraint('run_events_seq', ['run_id', 'attempt', 'seq'])
    .execute();

  await db.schema
    .createTable('job_tokens')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('job_id', 'integer', (c) => c.notNull().references('jobs.id').onDelete('cascade'))
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('allowed_ref', 'varchar(512)', (c) => c.notNull())
    .addColumn('expires_at', timestamp, (c) => c.notNull())
    .addColumn('revoked_at', timestamp)
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .execute();
}
