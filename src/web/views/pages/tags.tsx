import type { FC } from 'hono/jsx';
import type { PageContext } from '../context.ts';
import type { CommitBrief } from '../../../services/uiBrowse.ts';
import { Badge, EmptyState, PageAssets, Time } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { shortSha } from '../code.tsx';
import { commitUrl, repoUrl, treeUrl } from '../urls.ts';
import { RepoLayout, type RepoView } from './repo.tsx';
import { ArchiveLinks, releaseTagUrl } from './releases.tsx';

export interface TagItem {
  name: string;
  sha: string;
  commit: CommitBrief | null;
  /** The published release on this tag, if any. */
  release: { name: string; prerelease: boolean } | null;
}

/** Tags, newest first, each with its date, commit, source archives and release. */
export const TagsPage: FC<{ ctx: PageContext; view: RepoView; tags: TagItem[]; canWrite: boolean }> = ({ ctx, view, tags, canWrite }) => {
  const { repo } = view;
  return (
    <RepoLayout ctx={ctx} view={view} title={`Tags · ${repo.owner_name}/${repo.name}`} active="tags">
      <PageAssets ctx={ctx} styles={['releases.css']} />
      <div class="page-title-row">
        <h2 class="page-title">Tags</h2>
        <span class="toolbar-spacer"></span>
        <a class="btn btn-sm" href={`${repoUrl(repo)}/releases`} id="releases-link">
          <Icon name="book" /> Releases
        </a>
        <a class="btn btn-sm" href={`${repoUrl(repo)}/branches`}>
          <Icon name="branch" /> Branches
        </a>
      </div>
      {tags.length === 0 ? (
        <div class="card">
          <EmptyState icon="tag" title="No tags yet">
            <p class="muted">Tags mark specific points in history, such as releases. Push one with git push --tags{canWrite ? ', or draft a release' : ''}.</p>
          </EmptyState>
        </div>
      ) : (
        <ul class="card ref-list tag-list">
          {tags.map((t) => (
            <li class="ref-row tag-row">
              <div class="ref-row-main">
                <a class="ref-row-name mono" href={treeUrl(repo, t.name)}>
                  <Icon name="tag" /> {t.name}
                </a>
                {t.release && (
                  <a class="tag-release" href={releaseTagUrl(repo, t.name)}>
                    {t.release.name || t.name}
                  </a>
                )}
                {t.release?.prerelease && <Badge kind="accent">Pre-release</Badge>}
                {t.commit && (
                  <span class="ref-row-meta muted">
                    <Time iso={t.commit.committerDate} /> ·{' '}
                    <a href={commitUrl(repo, t.sha)} class="muted-link">
                      {t.commit.title}
                    </a>
                  </span>
                )}
              </div>
              <div class="ref-row-actions">
                <ArchiveLinks repo={repo} refName={t.name} compact />
                {!t.release && canWrite && (
                  <a class="btn btn-sm" href={`${repoUrl(repo)}/releases/new?tag=${encodeURIComponent(t.name)}`}>
                    Create release
                  </a>
                )}
                <a class="btn btn-sm sha-button" href={commitUrl(repo, t.sha)}>
                  <code>{shortSha(t.sha)}</code>
                </a>
              </div>
            </li>
          ))}
        </ul>
      )}
    </RepoLayout>
  );
};
