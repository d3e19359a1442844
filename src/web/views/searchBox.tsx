import type { FC } from 'hono/jsx';
import type { PageContext } from './context.ts';
import { isValidRepositoryName, isValidUsername } from '../../domain/names.ts';

/** First path segments that are gitoku's own pages, never an owner. */
const NOT_OWNERS = new Set(['-', 'api', 'search', 'explore']);

/** The repository a page belongs to (`/{owner}/{repo}/…`), from its path; null elsewhere. */
export function repositoryOfPath(path: string): { owner: string; repo: string } | null {
  const pathname = path.split(/[?#]/)[0] ?? '';
  const [, owner, repo] = pathname.split('/');
  if (!owner || !repo || NOT_OWNERS.has(owner)) return null;
  let o: string;
  let r: string;
  try {
    o = decodeURIComponent(owner);
    r = decodeURIComponent(repo);
  } catch {
    return null;
  }
  if (!isValidUsername(o) || !isValidRepositoryName(r) || /\.git$/i.test(r)) return null;
  return { owner: o, repo: r };
}

/** The query of the search page being shown (to keep it in the box), else ''. */
function currentQuery(path: string): string {
  const [pathname, search] = path.split('?');
  if (!search || !/(^|\/)search$/.test(pathname ?? '')) return '';
  return new URLSearchParams(search).get('q') ?? '';
}

export const SearchIcon: FC<{ size?: number }> = ({ size = 16 }) => (
  <svg class="icon" width={size} height={size} viewBox="0 0 16 16" aria-hidden="true" fill="currentColor">
    <path d="M10.68 11.74a6 6 0 1 1 1.06-1.06l3.04 3.04a.75.75 0 1 1-1.06 1.06l-3.04-3.04zM11.5 7a4.5 4.5 0 1 0-9 0 4.5 4.5 0 0 0 9 0z" />
  </svg>
);

/**
 * The search box of the top bar. Inside a repository it searches that repository's code (its results
 * page links to searching everything); elsewhere it searches all repositories the viewer can read.
 */
export const HeaderSearch: FC<{ ctx: PageContext }> = ({ ctx }) => {
  const scope = repositoryOfPath(ctx.path);
  const action = scope ? `/${encodeURIComponent(scope.owner)}/${encodeURIComponent(scope.repo)}/search` : '/search';
  const label = scope ? `Search ${scope.owner}/${scope.repo}` : 'Search gitoku';
  return (
    <form class="header-search" method="get" action={action} role="search">
      <label class="sr-only" for="header-search-q">
        {label}
      </label>
      <span class="header-search-icon">
        <SearchIcon />
      </span>
      <input id="header-search-q" class="header-search-input" type="search" name="q" value={currentQuery(ctx.path)} placeholder={scope ? 'Search this repository' : 'Search or jump to…'} maxlength={256} autocomplete="off" />
    </form>
  );
};
