import type { FC } from 'hono/jsx';
import type { PageContext } from '../context.ts';
import { Icon } from '../icons.tsx';
import { treeUrl } from '../urls.ts';
import { RepoLayout, type RepoView } from './repo.tsx';

/** What was asked for inside a repository and not found: a ref, or a path at a ref. */
export interface MissingInRepo {
  /** The ref as typed when it exists (the path is what is missing), else null (the ref is unknown). */
  ref: string | null;
  /** The part of the URL after the page kind ("main/src/nope.ts"). */
  asked: string;
}

/**
 * A 404 inside a repository the viewer can see: the repository header and tabs stay, the page says what
 * is missing and links to the root of the branch (or of the default branch when the ref is unknown).
 */
export const RepoNotFoundPage: FC<{ ctx: PageContext; view: RepoView; missing: MissingInRepo }> = ({ ctx, view, missing }) => {
  const { repo } = view;
  const root = missing.ref ?? repo.default_branch;
  return (
    <RepoLayout ctx={ctx} view={view} title={`Not found · ${repo.owner_name}/${repo.name}`} active="code">
      <section class="card card-pad repo-404" id="repo-404">
        <Icon name="alert" size={24} class="muted" />
        <h1 class="repo-404-title">{missing.ref ? 'No such file or directory' : 'No such branch, tag or commit'}</h1>
        <p class="muted">
          {missing.ref ? (
            <>
              <code>{missing.asked.slice(missing.ref.length + 1) || missing.asked}</code> does not exist at <code>{missing.ref}</code>.
            </>
          ) : (
            <>
              Nothing in this repository is called <code>{missing.asked.split('/')[0]}</code>.
            </>
          )}
        </p>
        <div class="hero-actions">
          <a class="btn btn-primary" href={treeUrl(repo, root)} id="repo-404-root">
            Go to the root of {root}
          </a>
          {missing.ref && missing.ref !== repo.default_branch ? (
            <a class="btn" href={treeUrl(repo, repo.default_branch)}>
              Go to {repo.default_branch}
            </a>
          ) : null}
        </div>
      </section>
    </RepoLayout>
  );
};
