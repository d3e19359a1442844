import type { Child, FC } from 'hono/jsx';
import type { Flash, FormError, PageContext } from './context.ts';
import type { RepositoryWithOwner } from '../../services/repositories.ts';
import { Icon } from './icons.tsx';
import { colourSlot, fullDate, sentence, timeAgo } from './format.ts';

export const CsrfField: FC<{ ctx: PageContext }> = ({ ctx }) => <input type="hidden" name="_csrf" value={ctx.csrfToken} />;

/** A POST form with the CSRF field. */
export const PostForm: FC<{ ctx: PageContext; action: string; class?: string; id?: string; children?: Child }> = ({ ctx, action, class: className, id, children }) => (
  <form method="post" action={action} class={className} id={id}>
    <CsrfField ctx={ctx} />
    {children}
  </form>
);

/** A user's avatar: their uploaded image (`src`) when they have one, else their initial on a colour. */
export const Avatar: FC<{ name: string; size?: 'sm' | 'md' | 'lg' | 'xl'; src?: string | null }> = ({ name, size = 'md', src }) =>
  src ? (
    <img class={`avatar avatar-${size} avatar-img`} src={src} alt="" aria-hidden="true" />
  ) : (
    <span class={`avatar avatar-${size} avatar-c${colourSlot(name)}`} aria-hidden="true">
      {(name[0] ?? '?').toUpperCase()}
    </span>
  );

export const Badge: FC<{ kind?: 'neutral' | 'private' | 'accent' | 'success' | 'danger'; children?: Child }> = ({ kind = 'neutral', children }) => (
  <span class={`badge badge-${kind}`}>{children}</span>
);

export const VisibilityBadge: FC<{ isPrivate: boolean }> = ({ isPrivate }) => (isPrivate ? <Badge kind="private">Private</Badge> : <Badge>Public</Badge>);

export const FlashBanner: FC<{ flash: Flash }> = ({ flash }) => (
  <div class={`flash flash-${flash.kind}`} role={flash.kind === 'error' ? 'alert' : 'status'}>
    <Icon name={flash.kind === 'error' ? 'alert' : flash.kind === 'success' ? 'check' : 'info'} />
    <span>{flash.message}</span>
  </div>
);

/** The error a form submission produced, shown above the form. */
export const FormAlert: FC<{ error: FormError | null | undefined }> = ({ error }) =>
  error ? (
    <div class="flash flash-error form-alert" role="alert">
      <Icon name="alert" />
      <span>{sentence(error.message)}</span>
    </div>
  ) : null;

export function fieldInvalid(error: FormError | null | undefined, field: string): boolean {
  return !!error && error.field === field;
}

export const Time: FC<{ iso: string; prefix?: string }> = ({ iso, prefix }) => (
  <time datetime={iso} title={fullDate(iso)}>
    {prefix}
    {timeAgo(iso)}
  </time>
);

/** A read-only text field with a copy button (the button needs /-/static/gitoku.js; selecting the text works without it). */
export const CopyField: FC<{ value: string; id: string; label: string; class?: string; mono?: boolean }> = ({ value, id, label, class: className, mono = true }) => (
  <div class={className ? `copy-field ${className}` : 'copy-field'}>
    <label class="sr-only" for={id}>
      {label}
    </label>
    <input id={id} class={mono ? 'input mono' : 'input'} type="text" value={value} readonly data-select-on-focus="" />
    <button type="button" class="btn btn-icon" data-copy-target={id} title={`Copy ${label.toLowerCase()}`} aria-label={`Copy ${label.toLowerCase()}`}>
      <Icon name="copy" class="when-idle" />
      <Icon name="check" class="when-copied" />
    </button>
  </div>
);

export const EmptyState: FC<{ icon: Parameters<typeof Icon>[0]['name']; title: string; children?: Child }> = ({ icon, title, children }) => (
  <div class="empty-state">
    <span class="empty-icon">
      <Icon name={icon} size={24} />
    </span>
    <h3>{title}</h3>
    {children}
  </div>
);

/** One repository in a list: name, visibility, description, last activity. */
export const RepoListItem: FC<{ repo: RepositoryWithOwner; showOwner?: boolean }> = ({ repo, showOwner = true }) => (
  <li class="repo-item">
    <div class="repo-item-main">
      <div class="repo-item-title">
        <Icon name={repo.is_private ? 'lock' : 'repo'} class="muted" />
        <a href={`/${repo.owner_name}/${repo.name}`} class="repo-link">
          {showOwner && <span class="repo-owner">{repo.owner_name} / </span>}
          <span class="repo-name">{repo.name}</span>
        </a>
        <VisibilityBadge isPrivate={repo.is_private === 1} />
      </div>
      {repo.description ? <p class="repo-item-desc">{repo.description}</p> : null}
      <div class="repo-item-meta">
        {repo.is_empty ? <span>Empty repository</span> : <span>{repo.default_branch}</span>}
        {repo.stars_count > 0 && (
          <a href={`/${repo.owner_name}/${repo.name}/stargazers`} class="repo-item-stars" title={`${repo.stars_count} ${repo.stars_count === 1 ? 'star' : 'stars'}`}>
            <Icon name="star" /> {repo.stars_count}
          </a>
        )}
        <Time iso={repo.pushed_at ?? repo.updated_at} prefix="Updated " />
      </div>
    </div>
  </li>
);

export const RepoList: FC<{ repos: RepositoryWithOwner[]; showOwner?: boolean }> = ({ repos, showOwner = true }) => (
  <ul class="repo-list">
    {repos.map((repo) => (
      <RepoListItem repo={repo} showOwner={showOwner} />
    ))}
  </ul>
);

/**
 * A page's own stylesheets and scripts from /-/static (versioned for caching), and — for pages that follow
 * something live — a reload every `refreshSeconds` when JavaScript is off.
 */
export const PageAssets: FC<{ ctx: PageContext; styles?: string[]; scripts?: string[]; refreshSeconds?: number }> = ({ ctx, styles = [], scripts = [], refreshSeconds }) => (
  <>
    {styles.map((name) => (
      <link rel="stylesheet" href={`/-/static/${name}?v=${ctx.assetVersion}`} />
    ))}
    {scripts.map((name) => (
      <script src={`/-/static/${name}?v=${ctx.assetVersion}`} defer></script>
    ))}
    {refreshSeconds ? (
      <noscript>
        <meta http-equiv="refresh" content={String(refreshSeconds)} />
      </noscript>
    ) : null}
  </>
);

/**
 * Links to the previous and next page (a disabled button at either end) and, when the number of pages
 * is known, "Page N of M" between them; without `pages`, `hasMore` says whether there is a next page.
 */
export const PageLinks: FC<{
  page: number;
  pages?: number;
  hasMore?: boolean;
  href: (page: number) => string;
  navClass?: string;
  label?: string;
  prevText?: string;
  nextText?: string;
  infoClass?: string;
}> = ({ page, pages, hasMore, href, navClass = 'pager', label = 'Pages', prevText = '← Newer', nextText = 'Older →', infoClass = 'muted' }) => {
  const hasNext = pages !== undefined ? page < pages : !!hasMore;
  return (
    <nav class={navClass} aria-label={label}>
      {page > 1 ? (
        <a class="btn btn-sm" href={href(page - 1)} rel="prev">
          {prevText}
        </a>
      ) : (
        <span class="btn btn-sm disabled" aria-disabled="true">
          {prevText}
        </span>
      )}
      {pages !== undefined && (
        <span class={infoClass}>
          Page {page} of {pages}
        </span>
      )}
      {hasNext ? (
        <a class="btn btn-sm" href={href(page + 1)} rel="next">
          {nextText}
        </a>
      ) : (
        <span class="btn btn-sm disabled" aria-disabled="true">
          {nextText}
        </span>
      )}
    </nav>
  );
};

export type ListState = 'open' | 'closed' | 'all';

/** The Open / Closed / All tabs of an issue or pull request list. `idPrefix`: ids for the open and closed tabs. */
export const StateTabs: FC<{ state: ListState; counts: { open: number; closed: number }; href: (state: ListState) => string; openIcon: Parameters<typeof Icon>[0]['name']; idPrefix?: string }> = ({ state, counts, href, openIcon, idPrefix }) => {
  const tab = (s: ListState, label: Child, id?: string) => (
    <a href={href(s)} class={state === s ? 'state-tab active' : 'state-tab'} aria-current={state === s ? 'page' : undefined} id={id}>
      {label}
    </a>
  );
  return (
    <nav class="state-tabs" aria-label="State">
      {tab('open', <><Icon name={openIcon} /> {counts.open} Open</>, idPrefix && `${idPrefix}-open-tab`)}
      {tab('closed', <><Icon name="check" /> {counts.closed} Closed</>, idPrefix && `${idPrefix}-closed-tab`)}
      {tab('all', 'All')}
    </nav>
  );
};

/** The Edit dropdown of an issue or a pull request: its title and description, open again with the error after a refused save. */
export const EditTitleBody: FC<{ ctx: PageContext; action: string; title: string; body: string; error: FormError | null | undefined; id?: string }> = ({ ctx, action, title, body, error, id }) => (
  <details class="dropdown edit-pull" open={!!error} id={id}>
    <summary class="btn btn-sm">
      <Icon name="pencil" /> Edit
    </summary>
    <div class="dropdown-panel dropdown-panel-right edit-panel">
      <PostForm ctx={ctx} action={action} class="stack">
        <FormAlert error={error} />
        <div class="field">
          <label for="edit-title">Title</label>
          <input id="edit-title" class="input" type="text" name="title" value={title} maxlength={256} required aria-invalid={fieldInvalid(error, 'title') ? 'true' : undefined} />
        </div>
        <div class="field">
          <label for="edit-body">Description</label>
          <textarea id="edit-body" class="input" name="body" rows={8} aria-invalid={fieldInvalid(error, 'body') ? 'true' : undefined}>
            {body}
          </textarea>
        </div>
        <div class="form-actions form-actions-end">
          <button type="submit" class="btn btn-primary btn-sm">
            Save
          </button>
        </div>
      </PostForm>
    </div>
  </details>
);
