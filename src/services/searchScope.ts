import { type Expression, type ExpressionBuilder, type SqlBool, sql } from 'kysely';
import type { Database } from '../db/schema.ts';
import { type Viewer, hasScope } from '../domain/permissions.ts';
import { escapeLike } from '../domain/searchQuery.ts';

/**
 * Which repositories a viewer can read, as a SQL condition on `repositories` — the same rule as
 * `repositoryRole` (domain/permissions.ts) applied to every row at once, for search, explore and
 * listings: public ones; with a `repo`-scoped credential also the viewer's own and those they
 * collaborate on; everything for a site administrator with the `admin` scope; a job token adds its one
 * repository.
 */
export function readableRepository(viewer: Viewer | null) {
  return (eb: ExpressionBuilder<Database, 'repositories'>): Expression<SqlBool> => {
    const isPublic = eb('repositories.is_private', '=', 0);
    if (!viewer) return isPublic;
    if (viewer.jobScope) return eb.or([isPublic, eb('repositories.id', '=', viewer.jobScope.repositoryId)]);
    if (!hasScope(viewer, 'repo')) return isPublic;
    if (viewer.isAdmin && hasScope(viewer, 'admin')) return sql<SqlBool>`1 = 1`;
    return eb.or([
      isPublic,
      eb('repositories.owner_id', '=', viewer.userId),
      eb.exists(eb.selectFrom('collaborators').select('collaborators.user_id').whereRef('collaborators.repository_id', '=', 'repositories.id').where('collaborators.user_id', '=', viewer.userId)),
    ]);
  };
}

/** `lower(column) LIKE '%text%'` with the text's wildcards escaped (case-insensitive on both databases). */
export function containsText(column: string, text: string) {
  return sql<SqlBool>`lower(${sql.ref(column)}) like ${`%${escapeLike(text.toLowerCase())}%`} escape '\\'`;
}

/** `lower(column) LIKE 'text%'`, escaped. */
export function startsWithText(column: string, text: string) {
  return sql<SqlBool>`lower(${sql.ref(column)}) like ${`${escapeLike(text.toLowerCase())}%`} escape '\\'`;
}

export interface SearchPage {
  page: number;
  perPage: number;
}

/** GitHub answers at most the first 1,000 results of a search. */
export const MAX_SEARCH_RESULTS = 1000;
