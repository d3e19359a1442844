import type { FC } from 'hono/jsx';
import type { PageContext } from '../context.ts';
import type { RepositoryWithOwner } from '../../../services/repositories.ts';
import { Layout } from '../layout.tsx';
import { Avatar, EmptyState, PageAssets, RepoList } from '../components.tsx';
import { Icon, Logo } from '../icons.tsx';
import type { ActivityItem } from '../../../services/activity.ts';
import { ActivityFeed } from '../activityFeed.tsx';

export const LandingPage: FC<{ ctx: PageContext; repos: RepositoryWithOwner[] }> = ({ ctx, repos }) => (
  <Layout
    ctx={ctx}
    title="gitoku"
    band={
      <section class="hero">
        <div class="container">
          <Logo size={56} />
          <h1>Code, review and ship — on your own server.</h1>
          <p class="lead">gitoku is a self-hosted git forge where AI coding agents are first-class citizens.</p>
          <div class="hero-actions">
            <a class="btn btn-primary btn-lg" href="/-/login">
              Sign in
            </a>
            {ctx.signupEnabled && (
              <a class="btn btn-lg" href="/-/signup">
                Create an account
              </a>
            )}
          </div>
        </div>
      </section>
    }
  >
    <section>
      <div class="section-head">
        <h2>Public repositories</h2>
      </div>
      {repos.length ? (
        <div class="card">
          <RepoList repos={repos} />
        </div>
      ) : (
        <div class="card">
          <EmptyState icon="repo" title="No public repositories yet">
            <p class="muted">Repositories made public on this instance will show up here.</p>
          </EmptyState>
        </div>
      )}
    </section>
  </Layout>
);

export const DashboardPage: FC<{ ctx: PageContext; repos: RepositoryWithOwner[]; total: number; activity?: ActivityItem[] }> = ({ ctx, repos, total, activity = [] }) => {
  const user = ctx.user!;
  return (
    <Layout ctx={ctx} title="Dashboard" head={<PageAssets ctx={ctx} styles={['search.css']} />}>
      <div class="split main-first">
        <aside class="split-side">
          <div class="card card-pad profile-mini">
            <Avatar name={user.username} size="lg" />
            <div>
              <div class="profile-mini-name">{user.fullName || user.username}</div>
              <div class="muted">@{user.username}</div>
            </div>
          </div>
          <nav class="card side-links" aria-label="Shortcuts">
            <a href="/-/new">
              <Icon name="plus" /> New repository
            </a>
            <a href="/-/settings/tokens">
              <Icon name="key" /> Access tokens
            </a>
            <a href={`/${user.username}`}>
              <Icon name="user" /> Your profile
            </a>
          </nav>
        </aside>
        <section class="split-main">
          <div class="section-head">
            <h1 class="h2">
              Your repositories <span class="counter">{total}</span>
            </h1>
            <a class="btn btn-primary" href="/-/new">
              <Icon name="repo" /> New repository
            </a>
          </div>
          {repos.length ? (
            <div class="card">
              <RepoList repos={repos} />
            </div>
          ) : (
            <div class="card">
              <EmptyState icon="repo" title="You don't have any repositories yet">
                <p class="muted">Create one to push your code, or ask a teammate to add you as a collaborator.</p>
                <a class="btn btn-primary" href="/-/new">
                  Create a repository
                </a>
              </EmptyState>
            </div>
          )}
          <ActivityFeed items={activity} />
        </section>
      </div>
    </Layout>
  );
};
