import { sql } from 'kysely';
import type { AppContext } from './app.ts';
import type { RepositoryWithOwner } from './repositories.ts';
import type { Viewer } from '../domain/permissions.ts';
import { escapeLike, type SearchQuery } from '../domain/searchQuery.ts';
import { MAX_SEARCH_RESULTS, type SearchPage, containsText, readableRepository } from './searchScope.ts';

export interface RepositorySearchOptions extends SearchPage {
  /** 'best-match' (relevance, then recent activity) or 'updated' (recent activity only). */
  sort?: 'best-match' | 'updated' | 'name';
  order?: 'asc' | 'desc';
}

export interface RepositorySearchHit extends RepositoryWithOwner {
  score: number;
}

export interface SearchResult<T> {
  total: number;
  incomplete: boolean;
  items: T[];
}

/**
 * Repositories whose name, description or owner contains every word of the query, among those the
 * viewer can read; `user:`, `repo:`, `is:public|private` and `in:name|description` narrow it. Ranked
 * by where the text matched (exact name, name prefix, name, owner, description), then recent activity.
 */
export async function searchRepositories(app: AppContext, viewer: Viewer | null, query: SearchQuery, opts: RepositorySearchOptions): Promise<SearchResult<RepositorySearchHit>> {
  const fields = query.inFields.filter((f) => f === 'name' || f === 'description');
  const inName = fields.length === 0 || fields.includes('name');
  const inDescription = fields.length === 0 || fields.includes('description');
  const text = query.text.toLowerCase();
  const base = () => {
    let qb = app.db.selectFrom('repositories').innerJoin('users', 'users.id', 'repositories.owner_id').where(readableRepository(viewer));
    for (const term of query.terms) {
      qb = qb.where((eb) =>
        eb.or([
          ...(inName ? [containsText('repositories.lower_name', term), containsText('users.lower_name', term)] : []),
          ...(inDescription ? [containsText('repositories.description', term)] : []),
        ]),
      );
    }
    if (query.owners.length) qb = qb.where('users.lower_name', 'in', query.owners.map((o) => o.toLowerCase()));
    if (query.repos.length) {
      qb = qb.where((eb) => eb.or(query.repos.map((r) => eb.and([eb('users.lower_name', '=', r.owner.toLowerCase()), eb('repositories.lower_name', '=', r.name.toLowerCase())]))));
    }
    if (query.visibility) qb = qb.where('repositories.is_private', '=', query.visibility === 'private' ? 1 : 0);
    return qb;
  };
  const total = Number((await base().select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const offset = (opts.page - 1) * opts.perPage;
  if (offset >= Math.min(total, MAX_SEARCH_RESULTS)) return { total, incomplete: false, items: [] };
  const like = (prefix: string, suffix: string) => `${prefix}${escapeLike(text)}${suffix}`;
  const score =
    text === ''
      ? sql<number>`1`
      : sql<number>`case
          when repositories.lower_name = ${text} then 100
          when repositories.lower_name like ${like('', '%')} escape '\\' then 60
          when repositories.lower_name like ${like('%', '%')} escape '\\' then 40
          when users.lower_name like ${like('%', '%')} escape '\\' then 20
          else 10 end`;
  const activity = sql<string>`coalesce(repositories.pushed_at, repositories.updated_at)`;
  const direction = opts.order === 'asc' ? 'asc' : 'desc';
  let qb = base().selectAll('repositories').select(['users.username as owner_name', 'users.is_admin as owner_is_admin']).select(score.as('score'));
  if (opts.sort === 'updated') qb = qb.orderBy(activity, direction);
  else if (opts.sort === 'name') qb = qb.orderBy('repositories.lower_name', opts.order === 'desc' ? 'desc' : 'asc').orderBy('users.lower_name', 'asc');
  else qb = qb.orderBy(sql`score`, direction).orderBy(activity, 'desc');
  const rows = await qb
    .orderBy('repositories.id', 'desc')
    .limit(Math.min(opts.perPage, MAX_SEARCH_RESULTS - offset))
    .offset(offset)
    .execute();
  return { total, incomplete: false, items: rows.map((r) => ({ ...r, score: Number(r.score) })) };
}
