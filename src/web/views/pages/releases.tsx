import type { FC } from 'hono/jsx';
import type { FormError, PageContext } from '../context.ts';
import type { AssetRecord, ReleaseRecord } from '../../../services/releases.ts';
import { Avatar, Badge, CsrfField, EmptyState, FormAlert, PageAssets, PageLinks, PostForm, Time, fieldInvalid } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { encodePath, formatBytes } from '../format.ts';
import { shortSha } from '../code.tsx';
import { commitUrl, repoUrl, treeUrl, type RepoRef } from '../urls.ts';
import { RepoLayout, type RepoView } from './repo.tsx';

/** URLs of the release pages and downloads. */
export const releasesUrl = (r: RepoRef, page = 1) => `${repoUrl(r)}/releases${page > 1 ? `?page=${page}` : ''}`;
export const releaseTagUrl = (r: RepoRef, tag: string) => `${repoUrl(r)}/releases/tag/${encodePath(tag)}`;
export const releaseEditUrl = (r: RepoRef, id: number) => `${repoUrl(r)}/releases/${id}/edit`;
export const assetDownloadUrl = (r: RepoRef, tag: string, name: string) => `${repoUrl(r)}/releases/download/${encodePath(tag)}/${encodeURIComponent(name)}`;
export const archiveUrl = (r: RepoRef, ref: string, format: 'zip' | 'tar.gz') => `${repoUrl(r)}/archive/${encodePath(ref)}.${format}`;

/** One release as a page shows it: the record, its notes rendered (sanitized), its tag's commit. */
export interface ReleaseItem {
  release: ReleaseRecord;
  notesHtml: string;
  /** The commit the tag points to (null for a draft whose tag does not exist yet). */
  commitSha: string | null;
  isLatest: boolean;
}

/** "Source code (zip)" and "(tar.gz)" for a ref. */
export const ArchiveLinks: FC<{ repo: RepoRef; refName: string; compact?: boolean }> = ({ repo, refName, compact }) => (
  <>
    <a class={compact ? 'btn btn-sm' : 'asset-link'} href={archiveUrl(repo, refName, 'zip')} download>
      <Icon name="download" /> {compact ? 'zip' : 'Source code (zip)'}
    </a>
    <a class={compact ? 'btn btn-sm' : 'asset-link'} href={archiveUrl(repo, refName, 'tar.gz')} download>
      <Icon name="download" /> {compact ? 'tar.gz' : 'Source code (tar.gz)'}
    </a>
  </>
);

const AssetRow: FC<{ repo: RepoRef; tag: string; asset: AssetRecord }> = ({ repo, tag, asset }) => (
  <li class="asset-row">
    <a class="asset-link" href={assetDownloadUrl(repo, tag, asset.name)} download>
      <Icon name="download" /> <span class="asset-name">{asset.name}</span>
    </a>
    {asset.label && <span class="muted asset-label">{asset.label}</span>}
    <span class="asset-facts muted">
      <span class="asset-size">{formatBytes(asset.size)}</span>
      <span title="Downloads">
        {asset.download_count} {asset.download_count === 1 ? 'download' : 'downloads'}
      </span>
    </span>
  </li>
);

/** A release card: title, badges, tag and commit, notes, assets and source archives, and the writer's actions. */
export const ReleaseCard: FC<{ ctx: PageContext; view: RepoView; item: ReleaseItem; canWrite: boolean; headingLink?: boolean }> = ({ view, item, canWrite, headingLink = true }) => {
  const { repo } = view;
  const r = item.release;
  const title = r.name || r.tag_name;
  const id = `release-${r.id}`;
  return (
    <article class="card release-card" id={id} aria-labelledby={`${id}-title`}>
      <aside class="release-meta">
        {r.published_at ? <Time iso={r.published_at} /> : <span class="muted">Not published</span>}
        <a class="release-tag mono" href={item.commitSha ? treeUrl(repo, r.tag_name) : releasesUrl(repo)} title={`Tag ${r.tag_name}`}>
          <Icon name="tag" /> {r.tag_name}
        </a>
        {item.commitSha && (
          <a class="release-commit mono muted-link" href={commitUrl(repo, item.commitSha)} title="The tagged commit">
            <Icon name="commit" /> {shortSha(item.commitSha)}
          </a>
        )}
      </aside>
      <div class="release-main">
        <header class="release-head">
          <h2 class="release-title" id={`${id}-title`}>
            {headingLink && !r.draft ? <a href={releaseTagUrl(repo, r.tag_name)}>{title}</a> : title}
          </h2>
          {r.draft === 1 && <Badge kind="danger">Draft</Badge>}
          {r.prerelease === 1 && <Badge kind="accent">Pre-release</Badge>}
          {item.isLatest && <Badge kind="success">Latest</Badge>}
          <span class="toolbar-spacer"></span>
          {canWrite && (
            <a class="btn btn-sm" href={releaseEditUrl(repo, r.id)} aria-label={`Edit ${title}`}>
              <Icon name="pencil" /> Edit
            </a>
          )}
        </header>
        <p class="release-byline muted">
          {r.author && (
            <>
              <Avatar name={r.author.username} size="sm" /> <a class="muted-link" href={`/${encodeURIComponent(r.author.username)}`}>{r.author.username}</a>{' '}
            </>
          )}
          {r.draft ? 'drafted this' : 'released this'} <Time iso={r.published_at ?? r.created_at} />
          {!r.draft && r.target_commitish && <> · target {r.target_commitish}</>}
        </p>
        {item.notesHtml ? <div class="markdown-body release-notes" dangerouslySetInnerHTML={{ __html: item.notesHtml }} /> : <p class="muted release-notes">No release notes.</p>}
        <details class="release-assets" open>
          <summary>
            <strong>Assets</strong> <span class="counter">{r.assets.length + (item.commitSha ? 2 : 0)}</span>
          </summary>
          {r.assets.length === 0 && !item.commitSha ? (
            <p class="muted asset-none">No files yet; source archives come with the tag once the release is published.</p>
          ) : (
            <ul class="asset-list">
              {r.assets.map((a) => (
                <AssetRow repo={repo} tag={r.tag_name} asset={a} />
              ))}
              {item.commitSha && (
                <li class="asset-row asset-source">
                  <ArchiveLinks repo={repo} refName={r.tag_name} />
                </li>
              )}
            </ul>
          )}
        </details>
      </div>
    </article>
  );
};

export const ReleasesPage: FC<{ ctx: PageContext; view: RepoView; items: ReleaseItem[]; page: number; pages: number; canWrite: boolean }> = ({ ctx, view, items, page, pages, canWrite }) => {
  const { repo } = view;
  return (
    <RepoLayout ctx={ctx} view={view} title={`Releases · ${repo.owner_name}/${repo.name}`} active="tags">
      <PageAssets ctx={ctx} styles={['releases.css']} />
      <div class="page-title-row">
        <h2 class="page-title">Releases</h2>
        <span class="toolbar-spacer"></span>
        <a class="btn btn-sm" href={`${repoUrl(repo)}/tags`}>
          <Icon name="tag" /> Tags
        </a>
        {canWrite && (
          <a class="btn btn-sm btn-primary" href={`${repoUrl(repo)}/releases/new`} id="new-release">
            <Icon name="plus" /> Draft a new release
          </a>
        )}
      </div>
      {items.length === 0 ? (
        <div class="card">
          <EmptyState icon="tag" title="There aren't any releases here">
            <p class="muted">Releases package software on a tag, with notes and files to download.{canWrite ? ' Draft one to get started.' : ''}</p>
          </EmptyState>
        </div>
      ) : (
        <div class="release-list">
          {items.map((item) => (
            <ReleaseCard ctx={ctx} view={view} item={item} canWrite={canWrite} />
          ))}
        </div>
      )}
      {pages > 1 && <PageLinks page={page} pages={pages} href={(p) => releasesUrl(repo, p)} />}
    </RepoLayout>
  );
};

export const ReleasePage: FC<{ ctx: PageContext; view: RepoView; item: ReleaseItem; canWrite: boolean }> = ({ ctx, view, item, canWrite }) => {
  const { repo } = view;
  const r = item.release;
  return (
    <RepoLayout ctx={ctx} view={view} title={`${r.name || r.tag_name} · ${repo.owner_name}/${repo.name}`} active="tags">
      <PageAssets ctx={ctx} styles={['releases.css']} />
      <nav class="release-crumbs" aria-label="Breadcrumb">
        <a href={releasesUrl(repo)}>Releases</a> <span class="muted">/</span> <span class="mono">{r.tag_name}</span>
      </nav>
      <ReleaseCard ctx={ctx} view={view} item={item} canWrite={canWrite} headingLink={false} />
    </RepoLayout>
  );
};

/** What the release form shows: the values typed so far and the choices for the tag and target. */
export interface ReleaseFormValues {
  tagName: string;
  target: string;
  name: string;
  body: string;
  draft: boolean;
  prerelease: boolean;
}

export interface ReleaseFormModel {
  /** null: a new release. */
  release: ReleaseRecord | null;
  values: ReleaseFormValues;
  tags: string[];
  branches: string[];
  maxAssetBytes: number;
}

export const ReleaseFormPage: FC<{ ctx: PageContext; view: RepoView; form: ReleaseFormModel; error?: FormError | null }> = ({ ctx, view, form, error }) => {
  const { repo } = view;
  const r = form.release;
  const v = form.values;
  const action = r ? releaseEditUrl(repo, r.id) : `${repoUrl(repo)}/releases`;
  return (
    <RepoLayout ctx={ctx} view={view} title={`${r ? 'Edit release' : 'New release'} · ${repo.owner_name}/${repo.name}`} active="tags">
      <PageAssets ctx={ctx} styles={['releases.css']} />
      <div class="page-title-row">
        <h2 class="page-title">{r ? `Edit release ${r.name || r.tag_name}` : 'Draft a new release'}</h2>
      </div>
      <FormAlert error={error} />
      {/* Multipart and streamed: the fields come first (form order), then the files, which go straight to disk. */}
      <form method="post" action={action} enctype="multipart/form-data" class="card card-pad stack release-form" id="release-form">
        <CsrfField ctx={ctx} />
        <div class="release-form-refs">
          <div class="field">
            <label for="release-tag">Tag</label>
            <input type="text" id="release-tag" class="input mono" name="tag_name" value={v.tagName} list="release-tag-list" required maxlength={255} autocomplete="off" spellcheck={false} aria-invalid={fieldInvalid(error, 'tag_name') ? 'true' : undefined} placeholder="v1.0.0" />
            <datalist id="release-tag-list">
              {form.tags.map((t) => (
                <option value={t} />
              ))}
            </datalist>
            <p class="hint">Choose an existing tag, or type a new one: it is created on publish.</p>
          </div>
          <div class="field">
            <label for="release-target">Target</label>
            <select id="release-target" class="input select" name="target_commitish" aria-invalid={fieldInvalid(error, 'target_commitish') ? 'true' : undefined}>
              {(form.branches.includes(v.target) ? form.branches : [v.target, ...form.branches]).map((b) => (
                <option value={b} selected={b === v.target}>
                  {b}
                </option>
              ))}
            </select>
            <p class="hint">The branch a new tag is created from.</p>
          </div>
        </div>
        <div class="field">
          <label for="release-name">Release title</label>
          <input type="text" id="release-name" class="input" name="name" value={v.name} maxlength={255} aria-invalid={fieldInvalid(error, 'name') ? 'true' : undefined} />
        </div>
        <div class="field">
          <label for="release-body">Release notes</label>
          <textarea id="release-body" class="input" name="body" rows={12} maxlength={125000} aria-invalid={fieldInvalid(error, 'body') ? 'true' : undefined} placeholder="Describe this release (Markdown)">
            {v.body}
          </textarea>
        </div>
        <label class="choice choice-check">
          <input type="checkbox" name="prerelease" value="1" checked={v.prerelease} id="release-prerelease" />
          <span>
            <strong>Set as a pre-release</strong>
            <span class="hint">Not production-ready: it is never the "latest" release.</span>
          </span>
        </label>
        <label class="choice choice-check">
          <input type="checkbox" name="draft" value="1" checked={v.draft} id="release-draft" />
          <span>
            <strong>Save as a draft</strong>
            <span class="hint">Only people with write access see it, and no tag is created until it is published.</span>
          </span>
        </label>
        {r && r.assets.length > 0 && (
          <div class="field">
            <span class="field-label">Assets</span>
            <ul class="asset-list asset-list-edit">
              {r.assets.map((a) => (
                <li class="asset-row">
                  <span class="asset-name">{a.name}</span>
                  <span class="muted asset-size">{formatBytes(a.size)}</span>
                  <button type="submit" class="btn btn-sm btn-danger-outline" form={`delete-asset-${a.id}`}>
                    <Icon name="trash" /> Delete
                  </button>
                </li>
              ))}
            </ul>
          </div>
        )}
        <div class="field">
          <label for="release-assets">Attach binaries</label>
          <input type="file" id="release-assets" name="asset" multiple class="input" />
          <p class="hint">Up to {formatBytes(form.maxAssetBytes)} per file.</p>
        </div>
        <div class="form-actions">
          <button type="submit" class="btn btn-primary" id="release-submit">
            {r ? 'Update release' : 'Save release'}
          </button>
          <a class="btn btn-ghost" href={releasesUrl(repo)}>
            Cancel
          </a>
          {r && (
            <>
              <span class="toolbar-spacer"></span>
              <button type="submit" class="btn btn-danger-outline" form="delete-release" id="release-delete">
                <Icon name="trash" /> Delete release
              </button>
            </>
          )}
        </div>
      </form>
      {r && (
        <>
          <PostForm ctx={ctx} action={`${repoUrl(repo)}/releases/${r.id}/delete`} id="delete-release" class="hidden-form">
            {''}
          </PostForm>
          {r.assets.map((a) => (
            <PostForm ctx={ctx} action={`${repoUrl(repo)}/releases/assets/${a.id}/delete`} id={`delete-asset-${a.id}`} class="hidden-form">
              {''}
            </PostForm>
          ))}
        </>
      )}
    </RepoLayout>
  );
};
