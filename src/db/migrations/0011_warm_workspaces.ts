import type { Kysely } from 'kysely';
import { type Dialect, idColumn, idConstraints, timestamp } from '../migrationHelpers.ts';

/**
 * Warm workspaces (issue 13): a checkpoint per run step (code on a hidden ref, snapshot on a runner),
 * each runner's snapshot inventory, the repository set-up cache, run groups (best-of-N) and the claim
 * preference of a job for the runner holding its snapshot.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('run_checkpoints')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('run_id', 'integer', (c) => c.notNull().references('prompt_pull_request_jobs.id').onDelete('cascade'))
    .addColumn('step', 'integer', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('trace_event_id', 'integer')
    .addColumn('commit_sha', 'varchar(64)', (c) => c.notNull())
    .addColumn('ref', 'varchar(512)', (c) => c.notNull())
    .addColumn('final', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('snapshot_id', 'varchar(128)')
    .addColumn('snapshot_mode', 'varchar(16)')
    .addColumn('snapshot_bytes', 'bigint')
    .addColumn('runner_id', 'integer', (c) => c.references('runners.id').onDelete('set null'))
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addUniqueConstraint('run_checkpoints_step', ['run_id', 'step'])
    .execute();

  await db.schema
    .createTable('runner_snapshots')
    .addColumn('runner_id', 'integer', (c) => c.notNull().references('runners.id').onDelete('cascade'))
    .addColumn('snapshot_id', 'varchar(128)', (c) => c.notNull())
    .addColumn('mode', 'varchar(16)', (c) => c.notNull())
    .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('parent', 'varchar(128)')
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('last_used_at', timestamp, (c) => c.notNull())
    .addPrimaryKeyConstraint('runner_snapshots_pk', ['runner_id', 'snapshot_id'])
    .execute();

  await db.schema
    .createTable('workspace_caches')
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('cache_key', 'varchar(64)', (c) => c.notNull())
    .addColumn('snapshot_id', 'varchar(128)', (c) => c.notNull())
    .addColumn('runner_id', 'integer', (c) => c.references('runners.id').onDelete('cascade'))
    .addColumn('commit_sha', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addPrimaryKeyConstraint('workspace_caches_pk', ['repository_id', 'cache_key'])
    .execute();

  await db.schema
    .createTable('run_groups')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('created_by_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('prompt', 'text', (c) => c.notNull())
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('kept_run_id', 'integer', (c) => c.references('prompt_pull_request_jobs.id').onDelete('set null'))
    .execute();

  await db.schema.alterTable('prompt_pull_request_jobs').addColumn('forked_from_step', 'integer').execute();
  await db.schema.alterTable('prompt_pull_request_jobs').addColumn('workspace_start', 'varchar(16)').execute();
  await db.schema.alterTable('prompt_pull_request_jobs').addColumn('group_id', 'integer', (c) => c.references('run_groups.id').onDelete('set null')).execute();
  await db.schema.createIndex('prompt_pull_request_jobs_group').on('prompt_pull_request_jobs').column('group_id').execute();
  await db.schema.alterTable('jobs').addColumn('preferred_runner_id', 'integer').execute();
  // The job token may also push refs under this prefix (a run's checkpoint refs), besides allowed_ref.
  await db.schema.alterTable('job_tokens').addColumn('allowed_ref_prefix', 'varchar(512)').execute();
}
