import type { Context } from 'hono';
import { z } from 'zod';
import type { WebEnv } from '../../context.ts';
import type { AppContext } from '../../../services/app.ts';
import type { ApiRegistry } from './registry.ts';
import { setPaginationLinks } from './registry.ts';
import { errorSchema, repositoryJson, repositorySchema, simpleUserJson } from './shapes.ts';
import { viewerOf } from './guards.ts';
import { ServiceError, invalid } from '../../../services/errors.ts';
import { type SearchQuery, matchRanges, parseSearchQuery } from '../../../domain/searchQuery.ts';
import { searchRepositories } from '../../../services/searchRepositories.ts';
import { type CodeSearchHit, searchCode } from '../../../services/searchCode.ts';
import { type IssueSearchHit, searchIssues } from '../../../services/searchIssues.ts';
import { MAX_SEARCH_RESULTS } from '../../../services/searchScope.ts';
import { authorizeRepository } from '../../../services/repositories.ts';
import { encodePath } from '../../views/format.ts';

/** GitHub's search parameters: q, sort, order, per_page (≤ 100), page. */
const searchQuery = (sorts: readonly [string, ...string[]]) =>
  z.object({
    q: z.string().max(1024).optional(),
    sort: z.enum(sorts).optional(),
    order: z.enum(['asc', 'desc']).optional(),
    page: z.coerce.number().int().min(1).default(1),
    per_page: z.coerce.number().int().min(1).max(100).default(30),
  });

const repoSearchQuery = searchQuery(['stars', 'forks', 'help-wanted-issues', 'updated', 'name']);
const codeSearchQuery = searchQuery(['indexed']).extend({
  /** gitoku: a branch, tag or commit to search at (with exactly one repo: qualifier). */
  ref: z.string().max(255).optional(),
});
const issueSearchQuery = searchQuery(['comments', 'reactions', 'reactions-+1', 'reactions--1', 'reactions-smile', 'reactions-thinking_face', 'reactions-heart', 'reactions-tada', 'interactions', 'created', 'updated']);

const textMatchSchema = z.object({
  object_url: z.string(),
  object_type: z.string(),
  property: z.string(),
  fragment: z.string(),
  matches: z.array(z.object({ text: z.string(), indices: z.array(z.number()) })),
});

const searchResultSchema = (item: z.ZodType) => z.object({ total_count: z.number(), incomplete_results: z.boolean(), items: z.array(item) });

const codeItemSchema = z.object({
  name: z.string(),
  path: z.string(),
  sha: z.string(),
  url: z.string(),
  git_url: z.string(),
  html_url: z.string(),
  repository: repositorySchema,
  score: z.number(),
  text_matches: z.array(textMatchSchema).optional(),
});

const issueItemSchema = z.object({
  id: z.number(),
  number: z.number(),
  title: z.string(),
  state: z.enum(['open', 'closed']),
  html_url: z.string(),
  repository_url: z.string(),
  pull_request: z.object({ url: z.string(), html_url: z.string(), merged_at: z.string().nullable() }).optional(),
});

/** Parses q (422 as GitHub answers for a missing or malformed one) and refuses pages past the first 1,000 results. */
function parseQ(q: string | undefined, page: number, perPage: number): SearchQuery {
  const parsed = parseSearchQuery(q);
  if (!parsed.ok) throw invalid(parsed.message, 'q');
  if ((page - 1) * perPage >= MAX_SEARCH_RESULTS) throw invalid(`Only the first ${MAX_SEARCH_RESULTS} search results are available`, 'page');
  return parsed.query;
}

const wantsTextMatches = (c: Context<WebEnv>) => (c.req.header('accept') ?? '').includes('text-match');
const iso = (s: string | null) => (s ? s.replace(/\.\d{3}Z$/, 'Z') : null);

function codeItem(app: AppContext, hit: CodeSearchHit, pattern: string, textMatches: boolean) {
  const base = app.config.baseUrl;
  const full = `${hit.repository.owner_name}/${hit.repository.name}`;
  const sha = hit.sha ?? '';
  const apiUrl = `${base}/api/v1/repos/${full}/contents/${encodePath(hit.path)}?ref=${encodeURIComponent(hit.commitSha)}`;
  return {
    name: hit.path.slice(hit.path.lastIndexOf('/') + 1),
    path: hit.path,
    sha,
    url: apiUrl,
    git_url: `${base}/api/v1/repos/${full}/git/blobs/${sha}`,
    html_url: `${base}/${full}/blob/${encodePath(hit.ref)}/${encodePath(hit.path)}`,
    repository: repositoryJson(app, hit.repository, null),
    score: hit.file.matches,
    /** gitoku: the matching lines and their context, with line numbers. */
    lines: hit.file.lines.map((l) => ({ line_number: l.line, text: l.text, match: l.match })),
    ...(textMatches ? { text_matches: codeTextMatches(apiUrl, hit, pattern) } : {}),
  };
}

/** GitHub's text_matches: one fragment per group of adjacent lines, with the match offsets in it. */
function codeTextMatches(objectUrl: string, hit: CodeSearchHit, pattern: string) {
  const groups: (typeof hit.file.lines)[] = [];
  for (const line of hit.file.lines) {
    const last = groups.at(-1);
    if (last && last.at(-1)!.line + 1 === line.line) last.push(line);
    else groups.push([line]);
  }
  return groups.map((lines) => {
    let fragment = '';
    const matches: { text: string; indices: [number, number] }[] = [];
    for (const line of lines) {
      if (line.match) for (const [s, e] of matchRanges(line.text, pattern)) matches.push({ text: line.text.slice(s, e), indices: [fragment.length + s, fragment.length + e] });
      fragment += `${line.text}\n`;
    }
    return { object_url: objectUrl, object_type: 'FileContent', property: 'content', fragment, matches };
  });
}

function issueItem(app: AppContext, hit: IssueSearchHit) {
  const base = app.config.baseUrl;
  const full = `${hit.owner_name}/${hit.repo_name}`;
  const apiRepo = `${base}/api/v1/repos/${full}`;
  const author = hit.author_id !== null && hit.author_name !== null ? simpleUserJson(app, { id: hit.author_id, username: hit.author_name, is_admin: hit.author_is_admin ?? 0 }) : null;
  const isPr = hit.kind === 'pr';
  return {
    url: `${apiRepo}/issues/${hit.number}`,
    repository_url: apiRepo,
    labels_url: `${apiRepo}/issues/${hit.number}/labels{/name}`,
    comments_url: `${apiRepo}/issues/${hit.number}/comments`,
    html_url: `${base}/${full}/${isPr ? 'pull' : 'issues'}/${hit.number}`,
    id: hit.id,
    number: hit.number,
    title: hit.title,
    user: author,
    labels: hit.labels.map((l) => ({ id: l.id, name: l.name, color: l.color, description: l.description || null, default: false, url: `${apiRepo}/labels/${encodeURIComponent(l.name)}` })),
    state: hit.state === 'open' ? ('open' as const) : ('closed' as const),
    state_reason: null,
    locked: false,
    assignee: null,
    assignees: [],
    milestone: null,
    comments: hit.comments,
    created_at: iso(hit.created_at),
    updated_at: iso(hit.updated_at),
    closed_at: iso(hit.closed_at ?? hit.merged_at),
    author_association: 'NONE',
    draft: isPr ? hit.draft === 1 : undefined,
    body: hit.body || null,
    score: hit.score,
    ...(isPr
      ? {
          pull_request: {
            url: `${apiRepo}/pulls/${hit.number}`,
            html_url: `${base}/${full}/pull/${hit.number}`,
            diff_url: `${base}/${full}/pull/${hit.number}.diff`,
            patch_url: `${base}/${full}/pull/${hit.number}.patch`,
            merged_at: iso(hit.merged_at),
          },
        }
      : {}),
  };
}

/** GitHub's search API: /search/repositories, /search/code and /search/issues (issues and pull requests). */
export function registerSearchRoutes(api: ApiRegistry): void {
  api.add(
    {
      method: 'get',
      path: '/search/repositories',
      summary: 'Search repositories by name, description and owner (only those the caller can read)',
      tag: 'search',
      access: 'public',
      query: repoSearchQuery,
      responses: { 200: { description: 'Results', schema: searchResultSchema(repositorySchema.extend({ score: z.number() })) }, 422: { description: 'Missing or invalid q', schema: errorSchema } },
    },
    async (c, { query }) => {
      const app = c.get('app');
      const q = parseQ(query.q, query.page, query.per_page);
      const sort = query.sort === 'updated' ? 'updated' : query.sort === 'name' ? 'name' : 'best-match';
      const result = await searchRepositories(app, viewerOf(c), q, { page: query.page, perPage: query.per_page, sort, order: query.order });
      setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, Math.min(result.total, MAX_SEARCH_RESULTS));
      return c.json({ total_count: result.total, incomplete_results: result.incomplete, items: result.items.map((r) => ({ ...repositoryJson(app, r, null), score: r.score })) });
    },
  );

  api.add(
    {
      method: 'get',
      path: '/search/code',
      summary: 'Search code (a fixed string, case-insensitive) at the default branch of repositories the caller can read; `ref` with one repo: qualifier',
      tag: 'search',
      access: 'public',
      query: codeSearchQuery,
      responses: { 200: { description: 'Files with matches', schema: searchResultSchema(codeItemSchema) }, 422: { description: 'Missing or invalid q', schema: errorSchema } },
    },
    async (c, { query }) => {
      const app = c.get('app');
      const q = parseQ(query.q, query.page, query.per_page);
      const viewer = viewerOf(c);
      let repository = null;
      if (query.ref !== undefined) {
        if (q.repos.length !== 1) throw invalid('ref needs exactly one repo: qualifier in q', 'ref');
        try {
          repository = (await authorizeRepository(app, q.repos[0]!.owner, q.repos[0]!.name, viewer)).repo;
        } catch (err) {
          // A repository the caller cannot read is no different from a missing one: nothing to search.
          if (!(err instanceof ServiceError && err.status === 404)) throw err;
          return c.json({ total_count: 0, incomplete_results: false, items: [] });
        }
      }
      const result = await searchCode(app, viewer, q, { page: query.page, perPage: query.per_page, repository, ref: query.ref ?? null });
      setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, result.total);
      const textMatches = wantsTextMatches(c);
      return c.json({ total_count: result.total, incomplete_results: result.incomplete, items: result.items.map((hit) => codeItem(app, hit, q.text, textMatches)) });
    },
  );

  api.add(
    {
      method: 'get',
      path: '/search/issues',
      summary: 'Search issues and pull requests by title and body (only in repositories the caller can read)',
      tag: 'search',
      access: 'public',
      query: issueSearchQuery,
      responses: { 200: { description: 'Results', schema: searchResultSchema(issueItemSchema) }, 422: { description: 'Missing or invalid q', schema: errorSchema } },
    },
    async (c, { query }) => {
      const app = c.get('app');
      const q = parseQ(query.q, query.page, query.per_page);
      const sort = query.sort === 'created' ? 'created' : query.sort === 'updated' ? 'updated' : query.sort === 'comments' ? 'comments' : 'best-match';
      const result = await searchIssues(app, viewerOf(c), q, { page: query.page, perPage: query.per_page, sort, order: query.order });
      setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, Math.min(result.total, MAX_SEARCH_RESULTS));
      return c.json({ total_count: result.total, incomplete_results: result.incomplete, items: result.items.map((hit) => issueItem(app, hit)) });
    },
  );
}
