import { type Expression, type ExpressionBuilder, type SqlBool, sql } from 'kysely';
import type { AppContext } from './app.ts';
import type { Database } from '../db/schema.ts';
import type { Viewer } from '../domain/permissions.ts';
import { escapeLike, type SearchQuery } from '../domain/searchQuery.ts';
import { MAX_SEARCH_RESULTS, type SearchPage, containsText, readableRepository } from './searchScope.ts';
import type { SearchResult } from './searchRepositories.ts';

export interface IssueSearchOptions extends SearchPage {
  /** 'best-match' (title matches first, then recently updated), 'created' or 'updated'. */
  sort?: 'best-match' | 'created' | 'updated' | 'comments';
  order?: 'asc' | 'desc';
}

export interface IssueSearchHit {
  kind: 'issue' | 'pr';
  id: number;
  repository_id: number;
  owner_name: string;
  repo_name: string;
  repo_private: number;
  number: number;
  title: string;
  body: string;
  /** open | closed | merged (pull requests). */
  state: string;
  draft: number;
  author_id: number | null;
  author_name: string | null;
  author_is_admin: number | null;
  created_at: string;
  updated_at: string;
  closed_at: string | null;
  merged_at: string | null;
  comments: number;
  labels: { id: number; name: string; color: string; description: string }[];
  score: number;
}

type Row = Omit<IssueSearchHit, 'comments' | 'labels'>;

/** The conditions a query puts on title/body (each word somewhere, `in:` narrowing) and state. */
function textAndState(query: SearchQuery, title: string, body: string, state: string, kind: 'pr' | 'issue') {
  const fields = query.inFields.filter((f) => f === 'title' || f === 'body');
  const inTitle = fields.length === 0 || fields.includes('title');
  const inBody = fields.length === 0 || fields.includes('body');
  return (eb: ExpressionBuilder<Database, 'repositories' | 'users'>) => {
    const parts: Expression<SqlBool>[] = query.terms.map((term) => eb.or([...(inTitle ? [containsText(title, term)] : []), ...(inBody ? [containsText(body, term)] : [])]));
    if (query.owners.length) parts.push(eb('users.lower_name', 'in', query.owners.map((o) => o.toLowerCase())));
    if (query.repos.length) parts.push(eb.or(query.repos.map((r) => eb.and([eb('users.lower_name', '=', r.owner.toLowerCase()), eb('repositories.lower_name', '=', r.name.toLowerCase())]))));
    if (query.state === 'open') parts.push(sql<SqlBool>`${sql.ref(state)} = 'open'`);
    // As on GitHub, a merged pull request is closed too.
    if (query.state === 'closed') parts.push(sql<SqlBool>`${sql.ref(state)} <> 'open'`);
    if (query.state === 'merged') parts.push(kind === 'pr' ? sql<SqlBool>`${sql.ref(state)} = 'merged'` : sql<SqlBool>`1 = 0`);
    return parts.length ? eb.and(parts) : sql<SqlBool>`1 = 1`;
  };
}

/**
 * Issues and pull requests whose title or body contains every word of the query, in repositories the
 * viewer can read; `is:open|closed|merged`, `is:issue|pr`, `repo:`, `user:` and `in:title|body` narrow it.
 * Both kinds share one numbering per repository, so a (repository, number) names one item.
 */
export async function searchIssues(app: AppContext, viewer: Viewer | null, query: SearchQuery, opts: IssueSearchOptions): Promise<SearchResult<IssueSearchHit>> {
  const text = query.text.toLowerCase();
  const titleScore = (column: string) =>
    text === '' ? sql<number>`1` : sql<number>`case when lower(${sql.ref(column)}) like ${`%${escapeLike(text)}%`} escape '\\' then 2 else 1 end`;

  const pulls = app.db
    .selectFrom('pull_requests')
    .innerJoin('repositories', 'repositories.id', 'pull_requests.repository_id')
    .innerJoin('users', 'users.id', 'repositories.owner_id')
    .leftJoin('users as author', 'author.id', 'pull_requests.author_id')
    .where(readableRepository(viewer))
    .where(textAndState(query, 'pull_requests.title', 'pull_requests.body', 'pull_requests.state', 'pr'))
    .select([
      sql<'pr' | 'issue'>`'pr'`.as('kind'),
      'pull_requests.id as id',
      'pull_requests.repository_id as repository_id',
      'users.username as owner_name',
      'repositories.name as repo_name',
      'repositories.is_private as repo_private',
      'pull_requests.number as number',
      'pull_requests.title as title',
      'pull_requests.body as body',
      sql<string>`pull_requests.state`.as('state'),
      'pull_requests.draft as draft',
      'pull_requests.author_id as author_id',
      'author.username as author_name',
      'author.is_admin as author_is_admin',
      'pull_requests.created_at as created_at',
      'pull_requests.updated_at as updated_at',
      'pull_requests.closed_at as closed_at',
      'pull_requests.merged_at as merged_at',
      titleScore('pull_requests.title').as('score'),
    ]);
  const issues = app.db
    .selectFrom('issues')
    .innerJoin('repositories', 'repositories.id', 'issues.repository_id')
    .innerJoin('users', 'users.id', 'repositories.owner_id')
    .leftJoin('users as author', 'author.id', 'issues.author_id')
    .where(readableRepository(viewer))
    .where(textAndState(query, 'issues.title', 'issues.body', 'issues.state', 'issue'))
    .select([
      sql<'pr' | 'issue'>`'issue'`.as('kind'),
      'issues.id as id',
      'issues.repository_id as repository_id',
      'users.username as owner_name',
      'repositories.name as repo_name',
      'repositories.is_private as repo_private',
      'issues.number as number',
      'issues.title as title',
      'issues.body as body',
      sql<string>`issues.state`.as('state'),
      sql<number>`0`.as('draft'),
      'issues.author_id as author_id',
      'author.username as author_name',
      'author.is_admin as author_is_admin',
      'issues.created_at as created_at',
      'issues.updated_at as updated_at',
      'issues.closed_at as closed_at',
      sql<string | null>`null`.as('merged_at'),
      titleScore('issues.title').as('score'),
    ]);
  const parts = query.kind === 'pr' ? [pulls] : query.kind === 'issue' ? [issues] : [pulls, issues];
  const union = () => (parts.length === 2 ? app.db.selectFrom(pulls.unionAll(issues).as('hits')) : app.db.selectFrom(parts[0]!.as('hits')));

  const total = Number((await union().select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const offset = (opts.page - 1) * opts.perPage;
  if (offset >= Math.min(total, MAX_SEARCH_RESULTS)) return { total, incomplete: false, items: [] };
  const direction = opts.order === 'asc' ? 'asc' : 'desc';
  let ordered = union().selectAll();
  if (opts.sort === 'created') ordered = ordered.orderBy('hits.created_at', direction);
  else if (opts.sort === 'updated' || opts.sort === 'comments') ordered = ordered.orderBy('hits.updated_at', direction);
  else ordered = ordered.orderBy('hits.score', direction).orderBy('hits.updated_at', 'desc');
  const rows = (await ordered
    .orderBy('hits.repository_id', 'desc')
    .orderBy('hits.number', 'desc')
    .limit(Math.min(opts.perPage, MAX_SEARCH_RESULTS - offset))
    .offset(offset)
    .execute()) as Row[];

  const items = await decorate(app, rows);
  return { total, incomplete: false, items };
}

/** Comment counts and labels of one page of hits (two batched queries). */
async function decorate(app: AppContext, rows: Row[]): Promise<IssueSearchHit[]> {
  if (rows.length === 0) return [];
  const prIds = rows.filter((r) => r.kind === 'pr').map((r) => r.id);
  const issueIds = rows.filter((r) => r.kind === 'issue').map((r) => r.id);
  const counts = new Map<string, number>();
  if (prIds.length) {
    const pc = await app.db
      .selectFrom('pull_request_comments')
      .select(['pull_request_id as id', (eb) => eb.fn.countAll<number>().as('n')])
      .where('pull_request_id', 'in', prIds)
      .where('path', 'is', null)
      .groupBy('pull_request_id')
      .execute();
    for (const c of pc) counts.set(`pr:${c.id}`, Number(c.n));
  }
  if (issueIds.length) {
    const ic = await app.db.selectFrom('issue_comments').select(['issue_id as id', (eb) => eb.fn.countAll<number>().as('n')]).where('issue_id', 'in', issueIds).groupBy('issue_id').execute();
    for (const c of ic) counts.set(`issue:${c.id}`, Number(c.n));
  }
  const repoIds = [...new Set(rows.map((r) => r.repository_id))];
  const labelRows = await app.db
    .selectFrom('issue_labels')
    .innerJoin('labels', 'labels.id', 'issue_labels.label_id')
    .select(['issue_labels.repository_id', 'issue_labels.number', 'labels.id', 'labels.name', 'labels.color', 'labels.description'])
    .where('issue_labels.repository_id', 'in', repoIds)
    .where('issue_labels.number', 'in', rows.map((r) => r.number))
    .orderBy('labels.lower_name')
    .execute();
  return rows.map((r) => ({
    ...r,
    number: Number(r.number),
    score: Number(r.score),
    comments: counts.get(`${r.kind}:${r.id}`) ?? 0,
    labels: labelRows.filter((l) => l.repository_id === r.repository_id && l.number === r.number).map((l) => ({ id: l.id, name: l.name, color: l.color, description: l.description })),
  }));
}
