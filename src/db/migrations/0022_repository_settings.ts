import type { Kysely } from 'kysely';
import { type Dialect, idColumn, idConstraints, timestamp } from '../migrationHelpers.ts';

/**
 * Repository settings (issue 18): archived repositories (read-only), redirects that keep the old
 * owner/name of a renamed or transferred repository working, and branch protection rules.
 *
 * - `repositories.archived`: 1 = read-only for everyone (pushes, merges and other writes refused).
 * - `repository_redirects`: (owner, old lower-cased name) → the repository it now is. Consulted only
 *   when no repository has that name; a repository later created under the old name wins and drops it.
 * - `branch_protections`: one rule per branch name pattern (a glob like `main`, `release/*`), GitHub's
 *   fields: required status checks (strict + contexts as a JSON list), required approving reviews
 *   (`required_reviews` 0/1, count, dismiss stale), enforce_admins, allow_force_pushes, allow_deletions.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema.alterTable('repositories').addColumn('archived', 'integer', (c) => c.notNull().defaultTo(0)).execute();

  await db.schema
    .createTable('repository_redirects')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('owner_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('lower_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addUniqueConstraint('repository_redirects_owner_name', ['owner_id', 'lower_name'])
    .execute();
  await db.schema.createIndex('repository_redirects_repository').on('repository_redirects').column('repository_id').execute();

  await db.schema
    .createTable('branch_protections')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('pattern', 'varchar(255)', (c) => c.notNull())
    .addColumn('required_status_checks', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('strict', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('contexts', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('required_reviews', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('required_approving_review_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('dismiss_stale_reviews', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('enforce_admins', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('allow_force_pushes', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('allow_deletions', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('updated_at', timestamp, (c) => c.notNull())
    .addUniqueConstraint('branch_protections_pattern', ['repository_id', 'pattern'])
    .execute();
}
