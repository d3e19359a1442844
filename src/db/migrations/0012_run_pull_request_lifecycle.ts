import { type Kysely, sql } from 'kysely';

/**
 * The life of a run's pull request and AI review defaults (issue 16):
 * - `repositories.run_branch_cleanup`: when a run's pull request is closed or merged, delete its
 *   `gitoku/run-*` branch — 'never', 'no-commits' (only a branch with no commits of its own; the
 *   default) or 'always';
 * - `pull_requests.closed_reason`: why gitoku itself closed a pull request ('run-no-commits': the run
 *   ended without commits), so that a later push to its branch reopens it; '' when a person closed it;
 * - `prompt_pull_request_jobs.resolved_model`: the model that answered, as the agent reported it (the
 *   run's `model` keeps the alias it was started with, e.g. `sonnet` or `default`);
 * - the scripted reviewer was the implicit default reviewer of every repository: it becomes '' (the
 *   server's reviewer, none unless configured), so automatic AI reviews are off until turned on.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('repositories').addColumn('run_branch_cleanup', 'varchar(16)', (c) => c.notNull().defaultTo('no-commits')).execute();
  await db.schema.alterTable('pull_requests').addColumn('closed_reason', 'varchar(32)', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.alterTable('prompt_pull_request_jobs').addColumn('resolved_model', 'varchar(255)').execute();
  await sql`UPDATE repositories SET review_driver = '' WHERE review_driver = 'script'`.execute(db);
}
