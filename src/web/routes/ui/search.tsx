import type { Context, Hono } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { AppContext } from '../../../services/app.ts';
import type { Viewer } from '../../../domain/permissions.ts';
import { ServiceError } from '../../../services/errors.ts';
import { SEARCH_TYPES, type SearchQuery, type SearchType, parseSearchQuery } from '../../../domain/searchQuery.ts';
import { searchRepositories } from '../../../services/searchRepositories.ts';
import { searchCode } from '../../../services/searchCode.ts';
import { searchIssues } from '../../../services/searchIssues.ts';
import { MAX_SEARCH_RESULTS } from '../../../services/searchScope.ts';
import { EXPLORE_SORTS, type ExploreSort, exploreRepositories } from '../../../services/explore.ts';
import type { RepositoryWithOwner } from '../../../services/repositories.ts';
import { SearchPage, type SearchPageModel } from '../../views/pages/search.tsx';
import { ExplorePage } from '../../views/pages/explore.tsx';
import { pageContext, pageNumber, render } from './render.tsx';
import { repoAccess, repoView } from './access.ts';

const PER_PAGE = 20;
const EXPLORE_PER_PAGE = 30;

function pageParam(c: Context<WebEnv>): number {
  return pageNumber(c.req.query('page'), 1000);
}

function typeParam(c: Context<WebEnv>, allowed: readonly SearchType[], fallback: SearchType): SearchType {
  const t = c.req.query('type') ?? '';
  return (allowed as readonly string[]).includes(t) ? (t as SearchType) : fallback;
}

interface RunOptions {
  types: readonly SearchType[];
  type: SearchType;
  page: number;
  repository: RepositoryWithOwner | null;
  ref: string | null;
  /** No type was asked for: show the first type with results. */
  pick: boolean;
}

/** Runs the chosen search for its page, and the others for their tab counts only. */
async function runSearch(app: AppContext, viewer: Viewer | null, query: SearchQuery, opts: RunOptions, model: SearchPageModel): Promise<void> {
  const results: Partial<Record<SearchType, { items: unknown[]; total: number; incomplete: boolean }>> = {};
  const errors: Partial<Record<SearchType, string>> = {};
  const scoped: SearchQuery = opts.repository ? { ...query, repos: [{ owner: opts.repository.owner_name, name: opts.repository.name }] } : query;
  const perPage = PER_PAGE;
  const page = Math.min(opts.page, Math.ceil(MAX_SEARCH_RESULTS / perPage));
  // Without a chosen type every tab gets its first page, and the first with results is shown.
  const shows = (type: SearchType) => opts.pick || type === opts.type;
  const pageOf = (type: SearchType) => (type === opts.type ? { page, perPage } : opts.pick ? { page: 1, perPage } : { page: 1, perPage: 1 });
  const tasks = opts.types.map(async (type) => {
    try {
      if (type === 'repositories') {
        const r = await searchRepositories(app, viewer, scoped, pageOf(type));
        model.counts.repositories = { n: r.total, incomplete: false };
        if (shows(type)) Object.assign(results, { repositories: { items: r.items, total: r.total, incomplete: r.incomplete } });
      } else if (type === 'issues') {
        const r = await searchIssues(app, viewer, scoped, pageOf(type));
        model.counts.issues = { n: r.total, incomplete: false };
        if (shows(type)) Object.assign(results, { issues: { items: r.items, total: r.total, incomplete: r.incomplete } });
      } else {
        if (query.text === '') {
          model.counts.code = null;
          if (type === opts.type) errors.code = 'Code search needs words to look for, not only qualifiers.';
          return;
        }
        // The count comes from the same (cached) search as a page of results.
        const r = await searchCode(app, viewer, scoped, { ...(type === opts.type ? { page, perPage } : { page: 1, perPage }), repository: opts.repository, ref: opts.ref });
        model.counts.code = { n: r.total, incomplete: r.incomplete };
        if (shows(type)) Object.assign(results, { code: { items: r.items, total: r.total, incomplete: r.incomplete } });
      }
    } catch (err) {
      if (err instanceof ServiceError && err.status === 422) {
        errors[type] = err.message;
        return;
      }
      throw err;
    }
  });
  await Promise.all(tasks);
  const chosen = opts.pick ? (opts.types.find((t) => (results[t]?.items.length ?? 0) > 0) ?? opts.type) : opts.type;
  const shown = results[chosen];
  model.type = chosen;
  model.page = page;
  model.error = errors[chosen] ?? null;
  if (shown) {
    model.total = shown.total;
    model.incomplete = shown.incomplete;
    if (chosen === 'repositories') model.repositories = shown.items as SearchPageModel['repositories'];
    else if (chosen === 'code') model.code = shown.items as SearchPageModel['code'];
    else model.issues = shown.items as SearchPageModel['issues'];
  }
}

function emptyModel(q: string, type: SearchType, page: number): SearchPageModel {
  return { q, type, page, perPage: PER_PAGE, counts: {}, error: null, total: 0, incomplete: false, repositories: [], code: [], issues: [], scope: null, ref: null, highlight: '' };
}

/** The search pages (everything the viewer can read, and one repository's) and Explore. */
export function registerSearchPages(ui: Hono<WebEnv>): void {
  ui.get('/search', async (c) => {
    const app = c.get('app');
    const q = (c.req.query('q') ?? '').slice(0, 1024);
    const type = typeParam(c, SEARCH_TYPES, 'repositories');
    const model = emptyModel(q.trim(), type, pageParam(c));
    let status: 200 | 422 = 200;
    if (model.q !== '') {
      const parsed = parseSearchQuery(q);
      if (!parsed.ok) {
        model.error = parsed.message;
        status = 422;
      } else {
        model.highlight = parsed.query.text;
        await runSearch(app, c.get('identity')?.viewer ?? null, parsed.query, { types: SEARCH_TYPES, type, page: model.page, repository: null, ref: null, pick: !c.req.query('type') }, model);
        if (model.error) status = 422;
      }
    }
    return render(c, <SearchPage ctx={pageContext(c)} model={model} />, status);
  });

  ui.get('/:owner/:repo/search', async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c);
    const q = (c.req.query('q') ?? '').slice(0, 1024);
    const types = ['code', 'issues'] as const;
    const type = typeParam(c, types, 'code');
    const ref = (c.req.query('ref') ?? '').trim() || null;
    const model = emptyModel(q.trim(), type, pageParam(c));
    model.scope = await repoView(c, access);
    model.ref = ref;
    let status: 200 | 422 = 200;
    if (model.q !== '') {
      const parsed = parseSearchQuery(q);
      if (!parsed.ok) {
        model.error = parsed.message;
        status = 422;
      } else {
        model.highlight = parsed.query.text;
        await runSearch(app, c.get('identity')?.viewer ?? null, parsed.query, { types, type, page: model.page, repository: access.repo, ref, pick: false }, model);
        if (model.error) status = 422;
      }
    }
    return render(c, <SearchPage ctx={pageContext(c)} model={model} />, status);
  });

  ui.get('/explore', async (c) => {
    const app = c.get('app');
    const sortParam = c.req.query('sort') ?? 'updated';
    const sort: ExploreSort = (EXPLORE_SORTS as readonly string[]).includes(sortParam) ? (sortParam as ExploreSort) : 'updated';
    const page = pageParam(c);
    const { items, total } = await exploreRepositories(app, c.get('identity')?.viewer ?? null, sort, { page, perPage: EXPLORE_PER_PAGE });
    return render(c, <ExplorePage ctx={pageContext(c)} repos={items} total={total} sort={sort} page={page} perPage={EXPLORE_PER_PAGE} />);
  });
}
