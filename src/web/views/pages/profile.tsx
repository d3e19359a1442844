import type { FC } from 'hono/jsx';
import type { PageContext } from '../context.ts';
import type { User } from '../../../db/schema.ts';
import type { RepositoryWithOwner } from '../../../services/repositories.ts';
import { Layout } from '../layout.tsx';
import { Avatar, Badge, EmptyState, RepoList } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { shortDate } from '../format.ts';
import { userAvatarPath } from '../avatarSvg.ts';

export type ProfileTab = 'repositories' | 'stars';

/**
 * A user's profile: who they are, and either their repositories or (`?tab=stars`, as on GitHub) what they
 * starred, newest star first — in both, only what the viewer can read. `counts` are for the tab row.
 */
export const ProfilePage: FC<{ ctx: PageContext; owner: User; tab: ProfileTab; repos: RepositoryWithOwner[]; counts: Record<ProfileTab, number> }> = ({ ctx, owner, tab, repos, counts }) => {
  const isSelf = ctx.user?.username === owner.username;
  const tabLink = (key: ProfileTab, label: string, icon: 'repo' | 'star') => (
    <a href={key === 'repositories' ? `/${owner.username}` : `/${owner.username}?tab=${key}`} class={tab === key ? 'tab active' : 'tab'} aria-current={tab === key ? 'page' : undefined}>
      <Icon name={icon} /> {label} <span class="counter">{counts[key]}</span>
    </a>
  );
  return (
    <Layout ctx={ctx} title={owner.username}>
      <div class="split">
        <aside class="split-side profile">
          <Avatar name={owner.username} size="xl" src={owner.avatar ? userAvatarPath(owner) : null} />
          <h1 class="profile-name">
            {owner.full_name ? (
              <>
                <span class="profile-full">{owner.full_name}</span>
                <span class="profile-login">{owner.username}</span>
              </>
            ) : (
              <span class="profile-full">{owner.username}</span>
            )}
          </h1>
          {owner.bio && <p class="profile-bio">{owner.bio}</p>}
          {owner.is_admin === 1 && <Badge kind="accent">Administrator</Badge>}
          {owner.location && (
            <p class="muted profile-since">
              <Icon name="globe" /> {owner.location}
            </p>
          )}
          {owner.website && (
            <p class="profile-since">
              <Icon name="link" />{' '}
              <a href={owner.website} rel="nofollow noopener noreferrer me">
                {owner.website.replace(/^https?:\/\//, '')}
              </a>
            </p>
          )}
          <p class="muted profile-since">
            <Icon name="clock" /> Joined {shortDate(owner.created_at)}
          </p>
        </aside>
        <section class="split-main">
          <div class="section-head profile-tabs-row">
            <nav class="tabs profile-tabs" aria-label="Profile">
              {tabLink('repositories', 'Repositories', 'repo')}
              {tabLink('stars', 'Stars', 'star')}
            </nav>
            {isSelf && tab === 'repositories' && (
              <a class="btn btn-primary" href="/-/new">
                <Icon name="repo" /> New
              </a>
            )}
          </div>
          {repos.length ? (
            <div class="card">
              <RepoList repos={repos} showOwner={tab === 'stars'} />
            </div>
          ) : tab === 'stars' ? (
            <div class="card">
              <EmptyState icon="star" title={isSelf ? "You haven't starred any repositories yet" : `${owner.username} hasn't starred any repositories yet`}>
                <p class="muted">Stars bookmark repositories; find some on <a href="/explore?sort=stars">Explore</a>.</p>
              </EmptyState>
            </div>
          ) : (
            <div class="card">
              <EmptyState icon="repo" title={isSelf ? "You don't have any repositories yet" : `${owner.username} doesn't have any public repositories yet`}>
                {isSelf && (
                  <a class="btn btn-primary" href="/-/new">
                    Create a repository
                  </a>
                )}
              </EmptyState>
            </div>
          )}
        </section>
      </div>
    </Layout>
  );
};
