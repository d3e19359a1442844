import type { Kysely } from 'kysely';
import { type Dialect, timestamp } from '../migrationHelpers.ts';

/**
 * Stars: a signed-in user bookmarks a repository (GitHub's and Gitea's stars).
 *
 * - `repository_stars (repository_id, user_id)`: one row per star, gone with the repository or the user.
 *   Its primary key answers "has this user starred it?" and lists a repository's stargazers; the index
 *   on `(user_id, created_at)` lists what a user starred, newest first.
 * - `repositories.stars_count`: the count every repository list and header shows without counting,
 *   kept by the same transaction that adds or removes a star (and an account deletion).
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('repository_stars')
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addPrimaryKeyConstraint('repository_stars_pk', ['repository_id', 'user_id'])
    .execute();
  await db.schema.createIndex('repository_stars_by_user').on('repository_stars').columns(['user_id', 'created_at']).execute();
  await db.schema.alterTable('repositories').addColumn('stars_count', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}
