import type { AppContext } from './app.ts';
import { now } from './app.ts';
import type { RepositoryWithOwner } from './repositories.ts';
import { type SearchPage, readableRepository } from './searchScope.ts';
import type { Viewer } from '../domain/permissions.ts';
import type { DbOrTx } from '../db/index.ts';
import type { User } from '../db/schema.ts';

/**
 * Stars (GitHub's and Gitea's): a signed-in user who can read a repository bookmarks it. One row per
 * star in `repository_stars`; `repositories.stars_count` changes in the same transaction as the row, by
 * one, so concurrent stars never lose a count. Callers check read access first (authorizeRepository).
 */

/** Stars `repositoryId` for `userId`; true when it was not starred before (starring twice is a no-op). */
export async function starRepository(app: AppContext, repositoryId: number, userId: number): Promise<boolean> {
  return app.db.transaction().execute(async (tx) => {
    const added = await tx
      .insertInto('repository_stars')
      .values({ repository_id: repositoryId, user_id: userId, created_at: now() })
      .onConflict((oc) => oc.columns(['repository_id', 'user_id']).doNothing())
      .returning('user_id')
      .execute();
    if (added.length === 0) return false;
    await tx.updateTable('repositories').set((eb) => ({ stars_count: eb('stars_count', '+', 1) })).where('id', '=', repositoryId).execute();
    return true;
  });
}

/** Removes the star; true when there was one. */
export async function unstarRepository(app: AppContext, repositoryId: number, userId: number): Promise<boolean> {
  return app.db.transaction().execute(async (tx) => {
    const removed = await tx.deleteFrom('repository_stars').where('repository_id', '=', repositoryId).where('user_id', '=', userId).returning('user_id').execute();
    if (removed.length === 0) return false;
    await tx.updateTable('repositories').set((eb) => ({ stars_count: eb('stars_count', '-', 1) })).where('id', '=', repositoryId).execute();
    return true;
  });
}

export async function hasStarred(db: DbOrTx, repositoryId: number, userId: number): Promise<boolean> {
  return !!(await db.selectFrom('repository_stars').select('user_id').where('repository_id', '=', repositoryId).where('user_id', '=', userId).executeTakeFirst());
}

/**
 * Before an account is deleted (its stars then go with it, by cascade): the repositories it starred
 * count one star fewer. Run in the deleting transaction.
 */
export async function forgetStarsOf(tx: DbOrTx, userId: number): Promise<void> {
  await tx
    .updateTable('repositories')
    .set((eb) => ({ stars_count: eb('stars_count', '-', 1) }))
    .where('id', 'in', (eb) => eb.selectFrom('repository_stars').select('repository_stars.repository_id').where('repository_stars.user_id', '=', userId))
    .execute();
}

export type Stargazer = Pick<User, 'id' | 'username' | 'is_admin' | 'avatar' | 'full_name'> & { starred_at: string };

/** Who starred a repository, first stars first (GitHub's order); the total is `stars_count`. */
export async function listStargazers(db: DbOrTx, repositoryId: number, page: SearchPage): Promise<Stargazer[]> {
  return db
    .selectFrom('repository_stars')
    .innerJoin('users', 'users.id', 'repository_stars.user_id')
    .select(['users.id', 'users.username', 'users.is_admin', 'users.avatar', 'users.full_name', 'repository_stars.created_at as starred_at'])
    .where('repository_stars.repository_id', '=', repositoryId)
    .orderBy('repository_stars.created_at', 'asc')
    .orderBy('users.id', 'asc')
    .limit(page.perPage)
    .offset((page.page - 1) * page.perPage)
    .execute();
}

export type StarredRepository = RepositoryWithOwner & { starred_at: string };

/** The stars of `userId` on repositories `viewer` can read. */
function readableStarsOf(app: AppContext, userId: number, viewer: Viewer | null) {
  return app.db
    .selectFrom('repository_stars')
    .innerJoin('repositories', 'repositories.id', 'repository_stars.repository_id')
    .innerJoin('users', 'users.id', 'repositories.owner_id')
    .where('repository_stars.user_id', '=', userId)
    .where(readableRepository(viewer));
}

/** How many repositories `viewer` can read that `userId` starred. */
export async function countStarredRepositories(app: AppContext, userId: number, viewer: Viewer | null): Promise<number> {
  return Number((await readableStarsOf(app, userId, viewer).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
}

/** What `userId` starred, newest star first — only the repositories `viewer` can read. */
export async function listStarredRepositories(app: AppContext, userId: number, viewer: Viewer | null, page: SearchPage): Promise<{ items: StarredRepository[]; total: number }> {
  const items = await readableStarsOf(app, userId, viewer)
    .selectAll('repositories')
    .select(['users.username as owner_name', 'users.is_admin as owner_is_admin', 'repository_stars.created_at as starred_at'])
    .orderBy('repository_stars.created_at', 'desc')
    .orderBy('repositories.id', 'desc')
    .limit(page.perPage)
    .offset((page.page - 1) * page.perPage)
    .execute();
  return { items, total: await countStarredRepositories(app, userId, viewer) };
}
