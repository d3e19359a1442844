import type { FC } from 'hono/jsx';
import type { PageContext } from '../context.ts';
import type { Stargazer } from '../../../services/stars.ts';
import { RepoLayout, type RepoView } from './repo.tsx';
import { Avatar, EmptyState, PageLinks, Time } from '../components.tsx';
import { userAvatarPath } from '../avatarSvg.ts';

export const STARGAZERS_PER_PAGE = 48;

/** `/{owner}/{repo}/stargazers`: who starred the repository, first stars first (as GitHub lists them). */
export const StargazersPage: FC<{ ctx: PageContext; view: RepoView; users: Stargazer[]; page: number }> = ({ ctx, view, users, page }) => {
  const { repo } = view;
  const base = `/${repo.owner_name}/${repo.name}`;
  const pages = Math.max(1, Math.ceil(repo.stars_count / STARGAZERS_PER_PAGE));
  return (
    <RepoLayout ctx={ctx} view={view} title={`Stargazers · ${repo.owner_name}/${repo.name}`} active="stargazers">
      <div class="page-title-row">
        <h2 class="page-title">
          Stargazers <span class="counter">{repo.stars_count}</span>
        </h2>
      </div>
      {users.length === 0 ? (
        <EmptyState icon="star" title={page > 1 ? 'No more stargazers' : 'No stargazers yet'}>
          <p class="muted">{page > 1 ? <a href={`${base}/stargazers`}>Back to the first page</a> : 'Be the first to star this repository.'}</p>
        </EmptyState>
      ) : (
        <ul class="stargazers">
          {users.map((u) => (
            <li class="stargazer">
              <Avatar name={u.username} size="lg" src={u.avatar ? userAvatarPath(u) : null} />
              <div>
                <a href={`/${u.username}`} class="stargazer-name">
                  {u.username}
                </a>
                {u.full_name && u.full_name !== u.username ? <span class="muted"> {u.full_name}</span> : null}
                <div class="muted stargazer-when">
                  <Time iso={u.starred_at} prefix="Starred " />
                </div>
              </div>
            </li>
          ))}
        </ul>
      )}
      {pages > 1 && <PageLinks page={page} pages={pages} href={(p) => `${base}/stargazers?page=${p}`} prevText="← Previous" nextText="Next →" />}
    </RepoLayout>
  );
};
