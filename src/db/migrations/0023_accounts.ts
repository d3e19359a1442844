import type { Kysely } from 'kysely';
import { type Dialect, timestamp } from '../migrationHelpers.ts';

/**
 * Accounts (issue 18): profile fields, suspension and uploaded avatars on `users`; what a session
 * list shows on `sessions`.
 *
 * - `users.bio`, `users.website`, `users.location`: the profile (GitHub's `bio`, `blog`, `location`).
 * - `users.suspended_at`: set while an administrator has disabled the account; it then signs in
 *   nowhere (form, session, token, git).
 * - `users.avatar`: the uploaded avatar's file name under `<data>/avatars/<user id>/` (content hash +
 *   extension from the file's magic bytes), or null for the generated one.
 * - `sessions.last_seen_at`, `user_agent`, `ip`: shown in the sessions list (written at sign-in,
 *   `last_seen_at` refreshed at most every few minutes).
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.alterTable('users').addColumn('bio', 'text', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.alterTable('users').addColumn('website', 'varchar(255)', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.alterTable('users').addColumn('location', 'varchar(255)', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.alterTable('users').addColumn('suspended_at', timestamp).execute();
  await db.schema.alterTable('users').addColumn('avatar', 'varchar(100)').execute();
  await db.schema.alterTable('sessions').addColumn('last_seen_at', timestamp).execute();
  await db.schema.alterTable('sessions').addColumn('user_agent', 'varchar(512)', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.alterTable('sessions').addColumn('ip', 'varchar(64)', (c) => c.notNull().defaultTo('')).execute();
}
