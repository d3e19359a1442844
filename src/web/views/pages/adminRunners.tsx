import type { FC } from 'hono/jsx';
import type { PageContext } from '../context.ts';
import type { RunnerView } from '../../../services/runners.ts';
import { Layout } from '../layout.tsx';
import { CopyField, EmptyState, PageAssets, PostForm, Time } from '../components.tsx';
import { Icon } from '../icons.tsx';

export const AdminNav: FC<{ active: 'overview' | 'users' | 'repos' | 'jobs' | 'runners' | 'events' | 'hooks' }> = ({ active }) => (
  <nav class="card side-links" aria-label="Site administration">
    <a href="/-/admin" class={active === 'overview' ? 'active' : undefined} aria-current={active === 'overview' ? 'page' : undefined}>
      <Icon name="graph" /> Overview
    </a>
    <a href="/-/admin/users" class={active === 'users' ? 'active' : undefined} aria-current={active === 'users' ? 'page' : undefined}>
      <Icon name="people" /> Users
    </a>
    <a href="/-/admin/repos" class={active === 'repos' ? 'active' : undefined} aria-current={active === 'repos' ? 'page' : undefined}>
      <Icon name="repo" /> Repositories
    </a>
    <a href="/-/admin/jobs" class={active === 'jobs' ? 'active' : undefined} aria-current={active === 'jobs' ? 'page' : undefined}>
      <Icon name="history" /> Job queue
    </a>
    <a href="/-/admin/runners" class={active === 'runners' ? 'active' : undefined} aria-current={active === 'runners' ? 'page' : undefined}>
      <Icon name="server" /> Runners
    </a>
    <a href="/-/admin/events" class={active === 'events' ? 'active' : undefined} aria-current={active === 'events' ? 'page' : undefined}>
      <Icon name="bolt" /> Events
    </a>
    <a href="/-/admin/hooks" class={active === 'hooks' ? 'active' : undefined} aria-current={active === 'hooks' ? 'page' : undefined}>
      <Icon name="link" /> Webhooks
    </a>
  </nav>
);

function labelsOf(runner: RunnerView): string[] {
  try {
    const v = JSON.parse(runner.labels) as unknown;
    return Array.isArray(v) ? v.filter((l): l is string => typeof l === 'string') : [];
  } catch {
    return [];
  }
}

export interface AdminRunnersProps {
  ctx: PageContext;
  runners: RunnerView[];
  /** A registration token just created (shown once). */
  registration?: { token: string; command: string } | null;
}

export const AdminRunnersPage: FC<AdminRunnersProps> = ({ ctx, runners, registration }) => {
  const online = runners.filter((r) => r.online).length;
  const busy = runners.filter((r) => r.online && r.busy_jobs > 0).length;
  return (
    <Layout ctx={ctx} title="Runners · Site administration" head={<PageAssets ctx={ctx} styles={['runs.css']} />}>
      <div class="split">
        <aside class="split-side">
          <p class="admin-eyebrow">Site administration</p>
          <AdminNav active="runners" />
        </aside>
        <section class="split-main">
          <div class="page-head">
            <h1>Runners</h1>
            <p class="muted">Runners claim agent tasks from the queue and run them in a sandbox. The server has an embedded one; add more machines with a registration token.</p>
          </div>

          {registration && (
            <div class="card card-pad stack admin-registration" id="registration">
              <div class="flash flash-warning" role="status">
                <Icon name="alert" />
                <span>
                  <strong>Copy this registration token now.</strong> It is stored hashed and won't be shown again.
                </span>
              </div>
              <div class="field">
                <label for="registration-token">Registration token</label>
                <CopyField id="registration-token" value={registration.token} label="Registration token" />
              </div>
              <div class="field">
                <label for="registration-command">Start a runner on another machine</label>
                <CopyField id="registration-command" value={registration.command} label="Runner command" />
                <p class="hint">The runner exchanges the registration token for its own credentials on first start.</p>
              </div>
            </div>
          )}

          <div class="card">
            <div class="card-head admin-runners-head">
              <h2 class="h3">All runners</h2>
              <span class="muted admin-runners-count">
                {online} online{busy ? ` · ${busy} busy` : ''} · {runners.length} total
              </span>
            </div>
            {runners.length === 0 ? (
              <EmptyState icon="server" title="No runners">
                <p class="muted">Agent tasks wait in the queue until a runner is connected.</p>
              </EmptyState>
            ) : (
              <ul class="runner-list" id="runner-list">
                {runners.map((r) => (
                  <li class={`runner-item ${r.online ? 'runner-online' : 'runner-offline'}`} data-runner={r.name}>
                    <span class="runner-dot" title={r.online ? 'Online' : 'Offline'} aria-hidden="true"></span>
                    <div class="runner-main">
                      <div class="runner-title">
                        <strong class="runner-name">{r.name}</strong>
                        {r.embedded === 1 && <span class="badge badge-accent">embedded</span>}
                        {labelsOf(r)
                          .filter((l) => !(r.embedded === 1 && l === 'embedded'))
                          .map((l) => (
                            <span class="badge">{l}</span>
                          ))}
                      </div>
                      <div class="runner-meta">
                        <span class={`runner-state ${r.online ? 'is-online' : 'is-offline'}`}>{r.online ? 'Online' : 'Offline'}</span>
                        <span class={r.online && r.busy_jobs > 0 ? 'runner-busy is-busy' : 'runner-busy'}>
                          {r.online && r.busy_jobs > 0 ? `Busy · ${r.busy_jobs} ${r.busy_jobs === 1 ? 'task' : 'tasks'}` : r.online ? 'Idle' : '—'}
                        </span>
                        <span>
                          Last seen{' '}
                          {r.last_seen_at ? <Time iso={r.last_seen_at} /> : 'never'}
                        </span>
                        {r.version && <span class="mono runner-version">{r.version}</span>}
                      </div>
                    </div>
                  </li>
                ))}
              </ul>
            )}
          </div>

          <div class="card">
            <div class="card-head">
              <h2 class="h3">Register a runner</h2>
            </div>
            <div class="card-pad">
              <p class="muted">
                Create a registration token, then run <code>gitoku runner --server URL --token TOKEN</code> on the machine that should execute tasks.
              </p>
              <PostForm ctx={ctx} action="/-/admin/runners/registration-token">
                <button type="submit" class="btn btn-primary" id="create-registration-token">
                  <Icon name="key" /> Create registration token
                </button>
              </PostForm>
            </div>
          </div>
        </section>
      </div>
    </Layout>
  );
};
