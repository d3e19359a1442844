import type { FC } from 'hono/jsx';
import type { PageContext } from '../context.ts';
import type { RepositoryWithOwner } from '../../../services/repositories.ts';
import type { ExploreSort } from '../../../services/explore.ts';
import { Layout } from '../layout.tsx';
import { EmptyState, PageAssets, PageLinks, RepoList } from '../components.tsx';
import { SearchIcon } from '../searchBox.tsx';

const SORT_LABELS: Record<ExploreSort, string> = { updated: 'Recently updated', stars: 'Most stars', name: 'Name', created: 'Newest' };

const exploreHref = (sort: ExploreSort, page = 1) => `/explore?${new URLSearchParams({ sort, ...(page > 1 ? { page: String(page) } : {}) }).toString()}`;

export const ExplorePage: FC<{ ctx: PageContext; repos: RepositoryWithOwner[]; total: number; sort: ExploreSort; page: number; perPage: number }> = ({ ctx, repos, total, sort, page, perPage }) => {
  const pages = Math.max(1, Math.ceil(total / perPage));
  return (
    <Layout ctx={ctx} title="Explore" head={<PageAssets ctx={ctx} styles={['search.css']} />}>
      <div class="section-head explore-head">
        <h1 class="h2">
          Explore repositories <span class="counter">{total}</span>
        </h1>
        <form class="search-form explore-search" method="get" action="/search" role="search">
          <input type="hidden" name="type" value="repositories" />
          <label class="sr-only" for="explore-q">
            Find a repository
          </label>
          <div class="search-form-field">
            <SearchIcon />
            <input id="explore-q" class="input search-form-input" type="search" name="q" maxlength={256} placeholder="Find a repository…" />
          </div>
        </form>
      </div>
      <nav class="explore-sorts" aria-label="Sort">
        <span class="muted">Sort:</span>
        {(Object.keys(SORT_LABELS) as ExploreSort[]).map((key) => (
          <a href={exploreHref(key)} class={key === sort ? 'explore-sort active' : 'explore-sort'} aria-current={key === sort ? 'true' : undefined}>
            {SORT_LABELS[key]}
          </a>
        ))}
      </nav>
      {repos.length ? (
        <div class="card">
          <RepoList repos={repos} />
        </div>
      ) : (
        <div class="card">
          <EmptyState icon="repo" title={page > 1 ? 'No more repositories' : 'No repositories to explore yet'}>
            <p class="muted">Public repositories on this instance, and private ones shared with you, show up here.</p>
          </EmptyState>
        </div>
      )}
      {pages > 1 && <PageLinks page={page} pages={pages} href={(n) => exploreHref(sort, n)} prevText="← Previous" nextText="Next →" infoClass="muted pager-info" />}
    </Layout>
  );
};
