import type { FC } from 'hono/jsx';
import type { FormError, PageContext } from '../context.ts';
import type { PullRequest } from '../../../db/schema.ts';
import type { PullListItem } from '../../../services/uiPulls.ts';
import { EmptyState, FormAlert, PageLinks, PostForm, StateTabs, Time, fieldInvalid } from '../components.tsx';
import { Icon, type IconName } from '../icons.tsx';
import { StatusDot } from '../code.tsx';
import { pullsUrl, pullUrl, repoUrl } from '../urls.ts';
import { RepoLayout, type RepoView } from './repo.tsx';

export type PullStateKind = 'open' | 'draft' | 'merged' | 'closed';

export function pullStateKind(pr: Pick<PullRequest, 'state' | 'draft'>): PullStateKind {
  if (pr.state === 'merged') return 'merged';
  if (pr.state === 'closed') return 'closed';
  return pr.draft === 1 ? 'draft' : 'open';
}

const STATE_ICON: Record<PullStateKind, IconName> = { open: 'pull', draft: 'draft', merged: 'merge', closed: 'closed' };
const STATE_LABEL: Record<PullStateKind, string> = { open: 'Open', draft: 'Draft', merged: 'Merged', closed: 'Closed' };

export const PullStateBadge: FC<{ pr: Pick<PullRequest, 'state' | 'draft'>; size?: 'sm' | 'lg' }> = ({ pr, size = 'lg' }) => {
  const kind = pullStateKind(pr);
  return (
    <span class={`state-badge state-${kind} state-badge-${size}`}>
      <Icon name={STATE_ICON[kind]} /> {STATE_LABEL[kind]}
    </span>
  );
};

export const PullStateIcon: FC<{ pr: Pick<PullRequest, 'state' | 'draft'> }> = ({ pr }) => {
  const kind = pullStateKind(pr);
  return (
    <span class={`state-icon state-icon-${kind}`} title={STATE_LABEL[kind]}>
      <Icon name={STATE_ICON[kind]} />
    </span>
  );
};

export interface PullsFilter {
  state: 'open' | 'closed' | 'all';
  base: string;
  author: string;
  page: number;
}

function listHref(view: RepoView, f: Partial<PullsFilter>): string {
  const q = new URLSearchParams();
  if (f.state && f.state !== 'open') q.set('state', f.state);
  if (f.base) q.set('base', f.base);
  if (f.author) q.set('author', f.author);
  if (f.page && f.page > 1) q.set('page', String(f.page));
  const qs = q.toString();
  return `${pullsUrl(view.repo)}${qs ? `?${qs}` : ''}`;
}

export const PullsListPage: FC<{ ctx: PageContext; view: RepoView; items: PullListItem[]; total: number; counts: { open: number; closed: number }; filter: PullsFilter; perPage: number; branches: string[]; canWrite: boolean }> = ({
  ctx,
  view,
  items,
  total,
  counts,
  filter,
  perPage,
  branches,
  canWrite,
}) => {
  const { repo } = view;
  const pages = Math.max(1, Math.ceil(total / perPage));
  const filtered = !!(filter.base || filter.author);
  return (
    <RepoLayout ctx={ctx} view={view} title={`Pull requests · ${repo.owner_name}/${repo.name}`} active="pulls">
      <div class="page-title-row">
        <h2 class="page-title">Pull requests</h2>
        {canWrite && repo.is_empty !== 1 && (
          <a class="btn btn-primary btn-sm" href={`${pullsUrl(repo)}/new`}>
            <Icon name="pull" /> New pull request
          </a>
        )}
      </div>
      <form method="get" action={pullsUrl(repo)} class="pull-filters" role="search">
        {filter.state !== 'open' && <input type="hidden" name="state" value={filter.state} />}
        <label class="sr-only" for="filter-base">
          Base branch
        </label>
        <select id="filter-base" name="base" class="input select select-sm">
          <option value="">All base branches</option>
          {branches.map((b) => (
            <option value={b} selected={b === filter.base}>
              base: {b}
            </option>
          ))}
        </select>
        <label class="sr-only" for="filter-author">
          Author
        </label>
        <input id="filter-author" class="input input-sm" type="text" name="author" value={filter.author} placeholder="Author (username)" />
        <button type="submit" class="btn btn-sm">
          Filter
        </button>
        {filtered && (
          <a class="btn btn-sm btn-ghost" href={listHref(view, { state: filter.state })}>
            <Icon name="x" /> Clear filters
          </a>
        )}
      </form>
      <div class="card pull-list-card">
        <div class="card-head pull-list-head">
          <StateTabs state={filter.state} counts={counts} href={(state) => listHref(view, { ...filter, state, page: 1 })} openIcon="pull" />
        </div>
        {items.length === 0 ? (
          <EmptyState icon="pull" title={filtered ? 'No pull requests match these filters' : filter.state === 'open' ? 'No open pull requests' : 'No pull requests'}>
            <p class="muted">Pull requests propose changes from one branch into another and collect review before they are merged.</p>
          </EmptyState>
        ) : (
          <ul class="pull-list">
            {items.map(({ pr, authorName, comments, status }) => (
              <li class="pull-row">
                <PullStateIcon pr={pr} />
                <div class="pull-row-main">
                  <div class="pull-row-title">
                    <a href={pullUrl(repo, pr.number)} class="pull-title-link">
                      {pr.title}
                    </a>
                    {pr.draft === 1 && pr.state === 'open' && <span class="label label-draft">Draft</span>}
                    <StatusDot state={status} />
                  </div>
                  <div class="pull-row-meta muted">
                    #{pr.number}{' '}
                    {pr.state === 'merged' && pr.merged_at ? (
                      <>
                        by {authorName ?? 'ghost'} was merged <Time iso={pr.merged_at} />
                      </>
                    ) : pr.state === 'closed' && pr.closed_at ? (
                      <>
                        by {authorName ?? 'ghost'} was closed <Time iso={pr.closed_at} />
                      </>
                    ) : (
                      <>
                        opened <Time iso={pr.created_at} /> by {authorName ?? 'ghost'}
                      </>
                    )}
                    <span class="branch-chips">
                      <span class="branch-chip mono">{pr.compare_branch}</span>
                      <span aria-hidden="true">→</span>
                      <span class="branch-chip mono">{pr.base_branch}</span>
                    </span>
                  </div>
                </div>
                {comments > 0 && (
                  <a class="pull-row-comments muted" href={pullUrl(repo, pr.number)} title={`${comments} comments`}>
                    <Icon name="comment" /> {comments}
                  </a>
                )}
              </li>
            ))}
          </ul>
        )}
      </div>
      {pages > 1 && <PageLinks page={filter.page} pages={pages} href={(n) => listHref(view, { ...filter, page: n })} prevText="← Previous" nextText="Next →" infoClass="muted pager-info" />}
    </RepoLayout>
  );
};

export interface NewPullValues {
  base: string;
  head: string;
  title: string;
  body: string;
}

/** The "open a pull request" form, on the compare page (refs fixed) and on /pulls/new (selects). */
/** The form under the compare view: the branches are chosen there (the chooser above it), title and description here. */
export const NewPullForm: FC<{ ctx: PageContext; view: RepoView; values: NewPullValues; error?: FormError | null }> = ({ ctx, view, values, error }) => (
  <PostForm ctx={ctx} action={pullsUrl(view.repo)} class="card new-pull" id="new-pull">
    <div class="card-head">
      <Icon name="pull" />
      <h3 class="h3">Open a pull request</h3>
    </div>
    <div class="card-pad stack">
      <FormAlert error={error} />
      <input type="hidden" name="base" value={values.base} />
      <input type="hidden" name="head" value={values.head} />
      <p class="muted new-pull-refs">
        Merge <span class="branch-chip mono">{values.head}</span> into <span class="branch-chip mono">{values.base}</span>
      </p>
      <div class="field">
        <label for="pr-title">Title</label>
        <input id="pr-title" class="input" type="text" name="title" value={values.title} maxlength={256} required aria-invalid={fieldInvalid(error, 'title') ? 'true' : undefined} />
      </div>
      <div class="field">
        <label for="pr-body">Description</label>
        <textarea id="pr-body" class="input" name="body" rows={7} placeholder="What does this change, and why?" aria-invalid={fieldInvalid(error, 'body') ? 'true' : undefined}>
          {values.body}
        </textarea>
        <span class="hint">Markdown is supported.</span>
      </div>
      <div class="form-actions form-actions-end">
        <button type="submit" class="btn" name="draft" value="1">
          <Icon name="draft" /> Create draft
        </button>
        <button type="submit" class="btn btn-primary" name="draft" value="0">
          <Icon name="pull" /> Create pull request
        </button>
      </div>
    </div>
  </PostForm>
);

export const NewPullPage: FC<{ ctx: PageContext; view: RepoView; values: NewPullValues; branches: string[]; error?: FormError | null; summary?: { ahead: number; files: number } | null }> = ({ ctx, view, values, branches, error, summary }) => {
  const { repo } = view;
  return (
    <RepoLayout ctx={ctx} view={view} title={`New pull request · ${repo.owner_name}/${repo.name}`} active="pulls">
      <div class="page-title-row">
        <h2 class="page-title">New pull request</h2>
        <p class="muted">
          Pick the branch with your changes and the branch to merge them into, or <a href={`${repoUrl(repo)}/compare`}>compare branches</a> first.
        </p>
      </div>
      {summary && (
        <div class="flash flash-info">
          <Icon name="info" />
          <span>
            {values.head} is {summary.ahead} {summary.ahead === 1 ? 'commit' : 'commits'} ahead of {values.base}, changing {summary.files} {summary.files === 1 ? 'file' : 'files'}.
          </span>
        </div>
      )}
      <FormAlert error={error} />
      {/* Choosing the branches opens the compare view (like GitHub's): the form there has the title
          filled in, with the commits and the diff below it. The selects submit themselves with JavaScript. */}
      <form method="get" action={`${repoUrl(repo)}/compare`} class="card card-pad new-pull-branches new-pull-chooser" id="new-pull-chooser">
        <div class="field">
          <label for="pr-base">Base (merge into)</label>
          <select id="pr-base" name="base" class="input select" data-autosubmit="">
            {branches.map((b) => (
              <option value={b} selected={b === values.base}>
                {b}
              </option>
            ))}
          </select>
        </div>
        <span class="compare-arrow" aria-hidden="true">
          ←
        </span>
        <div class="field">
          <label for="pr-head">Compare (changes from)</label>
          <select id="pr-head" name="head" class="input select" data-autosubmit="" required>
            <option value="" selected={!values.head}>
              Choose a branch…
            </option>
            {branches.map((b) => (
              <option value={b} selected={b === values.head}>
                {b}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" class="btn btn-primary" id="new-pull-compare">
          <Icon name="compare" /> Compare
        </button>
      </form>
    </RepoLayout>
  );
};
