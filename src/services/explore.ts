import { sql } from 'kysely';
import type { AppContext } from './app.ts';
import type { RepositoryWithOwner } from './repositories.ts';
import type { Viewer } from '../domain/permissions.ts';
import { type SearchPage, readableRepository } from './searchScope.ts';

export const EXPLORE_SORTS = ['updated', 'stars', 'name', 'created'] as const;
export type ExploreSort = (typeof EXPLORE_SORTS)[number];

/**
 * Explore: every repository the viewer can read (public ones, and their own, shared and — for site
 * administrators — all), most recently active first, most starred, by name, or newest first; paginated.
 */
export async function exploreRepositories(app: AppContext, viewer: Viewer | null, sort: ExploreSort, page: SearchPage): Promise<{ items: RepositoryWithOwner[]; total: number }> {
  const base = () => app.db.selectFrom('repositories').innerJoin('users', 'users.id', 'repositories.owner_id').where(readableRepository(viewer));
  const total = Number((await base().select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  let qb = base().selectAll('repositories').select(['users.username as owner_name', 'users.is_admin as owner_is_admin']);
  if (sort === 'name') qb = qb.orderBy('repositories.lower_name', 'asc').orderBy('users.lower_name', 'asc');
  else if (sort === 'created') qb = qb.orderBy('repositories.created_at', 'desc');
  else if (sort === 'stars') qb = qb.orderBy('repositories.stars_count', 'desc').orderBy(sql`coalesce(repositories.pushed_at, repositories.updated_at)`, 'desc');
  else qb = qb.orderBy(sql`coalesce(repositories.pushed_at, repositories.updated_at)`, 'desc');
  const items = await qb
    .orderBy('repositories.id', 'desc')
    .limit(page.perPage)
    .offset((page.page - 1) * page.perPage)
    .execute();
  return { items, total };
}
