import type { Kysely } from 'kysely';
import { type Dialect, idColumn, idConstraints, timestamp } from '../migrationHelpers.ts';

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  // Behaviors enqueue jobs idempotently: a job with a dedup key exists at most once.
  await db.schema.alterTable('jobs').addColumn('dedup_key', 'varchar(255)').execute();
  await db.schema.createIndex('jobs_dedup').on('jobs').column('dedup_key').unique().execute();

  await db.schema.alterTable('behavior_runs').addColumn('next_attempt_at', timestamp).execute();
  await db.schema.alterTable('behavior_runs').addColumn('links', 'text', (c) => c.notNull().defaultTo('[]')).execute();

  await db.schema.alterTable('repositories').addColumn('review_driver', 'varchar(32)', (c) => c.notNull().defaultTo('script')).execute();
  await db.schema.alterTable('repositories').addColumn('review_model', 'varchar(255)', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.alterTable('repositories').addColumn('review_instructions', 'text', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.alterTable('repositories').addColumn('conflict_resolution_enabled', 'integer', (c) => c.notNull().defaultTo(0)).execute();

  await db.schema
    .createTable('repository_behavior_settings')
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('behavior_key', 'varchar(128)', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('repository_behavior_settings_pk', ['repository_id', 'behavior_key'])
    .execute();

  await db.schema
    .createTable('workflow_runs')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('workflow_key', 'varchar(128)', (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('event', 'varchar(32)', (c) => c.notNull())
    .addColumn('ref', 'varchar(512)', (c) => c.notNull())
    .addColumn('sha', 'varchar(40)', (c) => c.notNull())
    .addColumn('pull_request_id', 'integer', (c) => c.references('pull_requests.id').onDelete('set null'))
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('conclusion', 'varchar(16)')
    .addColumn('job_id', 'integer', (c) => c.references('jobs.id').onDelete('set null'))
    .addColumn('steps', 'text', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('created_by_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('started_at', timestamp)
    .addColumn('finished_at', timestamp)
    .addUniqueConstraint('workflow_runs_number', ['repository_id', 'number'])
    .execute();
  await db.schema.createIndex('workflow_runs_sha').on('workflow_runs').columns(['repository_id', 'sha']).execute();

  await db.schema
    .createTable('workflow_run_events')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('workflow_run_id', 'integer', (c) => c.notNull().references('workflow_runs.id').onDelete('cascade'))
    .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('kind', 'varchar(32)', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addUniqueConstraint('workflow_run_events_seq', ['workflow_run_id', 'attempt', 'seq'])
    .execute();

  await db.schema
    .createTable('run_dependencies')
    .addColumn('run_id', 'integer', (c) => c.notNull().references('prompt_pull_request_jobs.id').onDelete('cascade'))
    .addColumn('depends_on_run_id', 'integer', (c) => c.notNull().references('prompt_pull_request_jobs.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('run_dependencies_pk', ['run_id', 'depends_on_run_id'])
    .execute();
  await db.schema.createIndex('run_dependencies_target').on('run_dependencies').column('depends_on_run_id').execute();
}
