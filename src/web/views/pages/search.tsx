import type { Child, FC } from 'hono/jsx';
import type { PageContext } from '../context.ts';
import type { RepositorySearchHit } from '../../../services/searchRepositories.ts';
import type { CodeSearchHit } from '../../../services/searchCode.ts';
import type { IssueSearchHit } from '../../../services/searchIssues.ts';
import type { GrepLine } from '../../../git/grep.ts';
import { type SearchType, matchRanges } from '../../../domain/searchQuery.ts';
import { Layout } from '../layout.tsx';
import { EmptyState, PageAssets, PageLinks, RepoList, Time } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { RepoLayout, type RepoView } from './repo.tsx';
import { PullStateIcon } from './pulls.tsx';
import { SearchIcon } from '../searchBox.tsx';
import { blobUrl, repoUrl } from '../urls.ts';

export interface SearchCount {
  n: number;
  /** The count is a lower bound (the search stopped early). */
  incomplete: boolean;
}

export interface SearchPageModel {
  q: string;
  type: SearchType;
  page: number;
  perPage: number;
  /** Tab counters; null when not computed (e.g. the query was invalid). */
  counts: Partial<Record<SearchType, SearchCount | null>>;
  /** Why the query could not run (shown instead of results). */
  error: string | null;
  total: number;
  incomplete: boolean;
  repositories: RepositorySearchHit[];
  code: CodeSearchHit[];
  issues: IssueSearchHit[];
  /** The repository searched, for a repository's own search page. */
  scope: RepoView | null;
  /** The ref searched inside the repository (null: its default branch). */
  ref: string | null;
  /** Text the search highlights in results. */
  highlight: string;
}

const TYPE_LABELS: Record<SearchType, string> = { repositories: 'Repositories', code: 'Code', issues: 'Issues and pull requests' };

export function searchHref(model: Pick<SearchPageModel, 'q' | 'scope' | 'ref'>, type: SearchType, page = 1): string {
  const params = new URLSearchParams({ q: model.q, type });
  if (model.scope && model.ref) params.set('ref', model.ref);
  if (page > 1) params.set('page', String(page));
  const base = model.scope ? `${repoUrl(model.scope.repo)}/search` : '/search';
  return `${base}?${params.toString()}`;
}

/** `text` with every occurrence of `needle` wrapped in <mark> (escaped like all JSX text). */
export const Highlighted: FC<{ text: string; needle: string }> = ({ text, needle }) => {
  const parts: Child[] = [];
  let at = 0;
  for (const [start, end] of matchRanges(text, needle)) {
    if (start > at) parts.push(text.slice(at, start));
    parts.push(<mark>{text.slice(start, end)}</mark>);
    at = end;
  }
  if (at < text.length) parts.push(text.slice(at));
  return <>{parts}</>;
};

function formatCount(count: SearchCount | null | undefined): string | null {
  if (!count) return null;
  const n = count.n >= 1000 ? `${Math.floor(count.n / 1000)}k` : String(count.n);
  return count.incomplete ? `${n}+` : n;
}

const SearchForm: FC<{ model: SearchPageModel }> = ({ model }) => (
  <form class="search-form" method="get" action={model.scope ? `${repoUrl(model.scope.repo)}/search` : '/search'} role="search">
    <label class="sr-only" for="search-q">
      Search
    </label>
    <div class="search-form-field">
      <SearchIcon />
      <input id="search-q" class="input search-form-input" type="search" name="q" value={model.q} maxlength={256} autofocus={model.q === ''} placeholder={model.scope ? 'Search code, issues and pull requests' : 'Search repositories, code, issues and pull requests'} />
    </div>
    <input type="hidden" name="type" value={model.type} />
    {model.scope && model.ref ? <input type="hidden" name="ref" value={model.ref} /> : null}
    <button class="btn btn-primary" type="submit">
      Search
    </button>
  </form>
);

const SearchTabs: FC<{ model: SearchPageModel; types: readonly SearchType[] }> = ({ model, types }) => (
  <nav class="search-tabs" aria-label="Result types">
    {types.map((type) => {
      const count = formatCount(model.counts[type]);
      return (
        <a href={searchHref(model, type)} class={model.type === type ? 'search-tab active' : 'search-tab'} aria-current={model.type === type ? 'page' : undefined}>
          <Icon name={type === 'repositories' ? 'repo' : type === 'code' ? 'code' : 'pull'} />
          <span>{TYPE_LABELS[type]}</span>
          {count !== null && <span class="counter">{count}</span>}
        </a>
      );
    })}
  </nav>
);

/** Lines of one file's result, with a gap row between groups that are not adjacent. */
const CodeLines: FC<{ hit: CodeSearchHit; needle: string }> = ({ hit, needle }) => {
  const rows: Child[] = [];
  let previous: GrepLine | null = null;
  const href = blobUrl(hit.repository, hit.ref, hit.path);
  for (const line of hit.file.lines) {
    if (previous && line.line > previous.line + 1) {
      rows.push(
        <tr class="search-gap">
          <td colspan={2}>⋯</td>
        </tr>,
      );
    }
    rows.push(
      <tr class={line.match ? 'search-line is-match' : 'search-line'}>
        <td class="search-num">
          <a href={`${href}#L${line.line}`} aria-label={`Line ${line.line}`}>
            {line.line}
          </a>
        </td>
        <td class="search-text">
          <code>{line.match ? <Highlighted text={line.text} needle={needle} /> : line.text}</code>
        </td>
      </tr>,
    );
    previous = line;
  }
  return (
    <table class="search-lines">
      <tbody>{rows}</tbody>
    </table>
  );
};

const CodeResults: FC<{ model: SearchPageModel }> = ({ model }) => (
  <div class="search-code-results">
    {model.code.map((hit) => {
      const first = hit.file.lines.find((l) => l.match) ?? hit.file.lines[0];
      return (
        <article class="card search-file">
          <header class="search-file-head">
            {!model.scope && (
              <a class="search-file-repo" href={repoUrl(hit.repository)}>
                {hit.repository.owner_name}/{hit.repository.name}
              </a>
            )}
            <a class="search-file-path mono" href={`${blobUrl(hit.repository, hit.ref, hit.path)}${first ? `#L${first.line}` : ''}`}>
              {hit.path}
            </a>
            <span class="muted search-file-count">
              {hit.file.matches} {hit.file.matches === 1 ? 'match' : 'matches'}
            </span>
          </header>
          <CodeLines hit={hit} needle={model.highlight} />
        </article>
      );
    })}
  </div>
);

const IssueStateIcon: FC<{ hit: IssueSearchHit }> = ({ hit }) => {
  if (hit.kind === 'pr') return <PullStateIcon pr={{ state: hit.state as 'open' | 'closed' | 'merged', draft: hit.draft }} />;
  return (
    <span class={`state-icon state-icon-${hit.state === 'open' ? 'open' : 'merged'}`} title={hit.state === 'open' ? 'Open issue' : 'Closed issue'}>
      <Icon name={hit.state === 'open' ? 'issueOpen' : 'check'} />
    </span>
  );
};

const IssueResults: FC<{ model: SearchPageModel }> = ({ model }) => (
  <div class="card">
    <ul class="pull-list">
      {model.issues.map((hit) => {
        const repo = { owner_name: hit.owner_name, name: hit.repo_name };
        const href = `${repoUrl(repo)}/${hit.kind === 'pr' ? 'pull' : 'issues'}/${hit.number}`;
        return (
          <li class="pull-row">
            <IssueStateIcon hit={hit} />
            <div class="pull-row-main">
              <div class="pull-row-title">
                {!model.scope && (
                  <a class="muted search-issue-repo" href={repoUrl(repo)}>
                    {hit.owner_name}/{hit.repo_name}
                  </a>
                )}
                <a href={href} class="pull-title-link">
                  <Highlighted text={hit.title} needle={model.highlight} />
                </a>
                {hit.labels.map((l) => (
                  <span class="label search-label" title={l.description || undefined}>
                    {l.name}
                  </span>
                ))}
              </div>
              <div class="pull-row-meta muted">
                #{hit.number} {hit.kind === 'pr' ? 'pull request' : 'issue'} by {hit.author_name ?? 'ghost'} · updated <Time iso={hit.updated_at} />
                {hit.comments > 0 && (
                  <span class="search-comments">
                    {' '}
                    · <Icon name="comment" /> {hit.comments}
                  </span>
                )}
              </div>
            </div>
          </li>
        );
      })}
    </ul>
  </div>
);

const NO_RESULTS: Record<SearchType, string> = {
  repositories: 'No repositories matched',
  code: 'No code matched',
  issues: 'No issues or pull requests matched',
};

const Results: FC<{ model: SearchPageModel }> = ({ model }) => {
  if (model.error) {
    return (
      <div class="card">
        <EmptyState icon="alert" title="That search could not run">
          <p class="muted search-error">{model.error}</p>
        </EmptyState>
      </div>
    );
  }
  if (model.q === '') {
    return (
      <div class="card">
        <EmptyState icon="book" title={model.scope ? `Search ${model.scope.repo.owner_name}/${model.scope.repo.name}` : 'Search gitoku'}>
          <p class="muted">
            Words match anywhere, case-insensitively; "quote a phrase". Narrow with qualifiers: <code>repo:owner/name</code>, <code>user:name</code>, <code>path:src/</code>,{' '}
            <code>language:typescript</code>, <code>is:open</code>, <code>is:pr</code>.
          </p>
        </EmptyState>
      </div>
    );
  }
  const shown = model.type === 'repositories' ? model.repositories.length : model.type === 'code' ? model.code.length : model.issues.length;
  if (shown === 0) {
    return (
      <div class="card">
        <EmptyState icon="book" title={NO_RESULTS[model.type]}>
          <p class="muted">
            Nothing {model.scope ? `in ${model.scope.repo.owner_name}/${model.scope.repo.name}` : 'you can read'} matches <strong>{model.q}</strong>
            {model.type === 'code' && model.scope ? ` at ${model.ref ?? model.scope.repo.default_branch}` : ''}.
          </p>
        </EmptyState>
      </div>
    );
  }
  const pages = Math.max(1, Math.ceil(Math.min(model.total, 1000) / model.perPage));
  return (
    <>
      <p class="muted search-summary">
        {model.incomplete ? 'More than ' : ''}
        {model.total} {model.type === 'code' ? (model.total === 1 ? 'file' : 'files') : 'results'}
        {model.type === 'code' && model.scope ? ` at ${model.ref ?? model.scope.repo.default_branch}` : ''}
        {model.incomplete ? ' — the search stopped early; narrow it with more words, path: or repo:.' : ''}
      </p>
      {model.type === 'repositories' && (
        <div class="card">
          <RepoList repos={model.repositories} />
        </div>
      )}
      {model.type === 'code' && <CodeResults model={model} />}
      {model.type === 'issues' && <IssueResults model={model} />}
      {(pages > 1 || model.incomplete) && (
        <PageLinks page={model.page} pages={model.incomplete ? undefined : pages} hasMore={model.page < pages} href={(n) => searchHref(model, model.type, n)} prevText="← Previous" nextText="Next →" infoClass="muted pager-info" />
      )}
    </>
  );
};

const Body: FC<{ model: SearchPageModel; types: readonly SearchType[] }> = ({ model, types }) => (
  <div class="search-page">
    <SearchForm model={model} />
    <div class="search-layout">
      <aside class="search-side">
        <SearchTabs model={model} types={types} />
        {model.scope && model.q !== '' && (
          <a class="muted-link search-everywhere" href={`/search?${new URLSearchParams({ q: model.q, type: model.type }).toString()}`}>
            Search all repositories instead
          </a>
        )}
      </aside>
      <section class="search-main">
        <Results model={model} />
      </section>
    </div>
  </div>
);

export const SearchPage: FC<{ ctx: PageContext; model: SearchPageModel }> = ({ ctx, model }) => {
  const title = model.q ? `Search: ${model.q}` : 'Search';
  if (model.scope) {
    return (
      <RepoLayout ctx={ctx} view={model.scope} title={`${title} · ${model.scope.repo.owner_name}/${model.scope.repo.name}`} active="code">
        <PageAssets ctx={ctx} styles={['search.css']} />
        <Body model={model} types={['code', 'issues']} />
      </RepoLayout>
    );
  }
  return (
    <Layout ctx={ctx} title={title} head={<PageAssets ctx={ctx} styles={['search.css']} />}>
      <Body model={model} types={['repositories', 'code', 'issues']} />
    </Layout>
  );
};
