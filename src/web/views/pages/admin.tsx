import type { Child, FC } from 'hono/jsx';
import type { FormError, PageContext } from '../context.ts';
import type { Job, JobStatus } from '../../../db/schema.ts';
import type { AdminRepositoryRow, AdminUserRow, DirectorySize, JobKindCount, Page, ServerOverview } from '../../../services/siteAdmin.ts';
import { Layout } from '../layout.tsx';
import { Avatar, Badge, EmptyState, FormAlert, PageAssets, PageLinks, PostForm, Time, VisibilityBadge, fieldInvalid } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { formatBytes } from '../format.ts';
import { userAvatarPath } from '../avatarSvg.ts';
import { AdminNav } from './adminRunners.tsx';

/** Site administration pages (issue 18): overview, users, one user, repositories, the job queue. */

const AdminLayout: FC<{ ctx: PageContext; active: Parameters<typeof AdminNav>[0]['active']; title: string; intro?: Child; actions?: Child; children?: Child }> = ({ ctx, active, title, intro, actions, children }) => (
  <Layout ctx={ctx} title={`${title} · Site administration`} head={<PageAssets ctx={ctx} styles={['runs.css', 'accounts.css']} />}>
    <div class="split">
      <aside class="split-side">
        <p class="admin-eyebrow">Site administration</p>
        <AdminNav active={active} />
      </aside>
      <section class="split-main">
        <div class="page-head admin-head">
          <div>
            <h1>{title}</h1>
            {intro && <p class="muted">{intro}</p>}
          </div>
          {actions}
        </div>
        {children}
      </section>
    </div>
  </Layout>
);

const size = (s: DirectorySize) => `${s.partial ? '≥ ' : ''}${formatBytes(s.bytes)}`;

export const AdminOverviewPage: FC<{ ctx: PageContext; overview: ServerOverview }> = ({ ctx, overview: o }) => (
  <AdminLayout ctx={ctx} active="overview" title="Overview" intro="This server at a glance.">
    <div class="admin-stats">
      <a class="card admin-stat" href="/-/admin/users">
        <span class="admin-stat-value">{o.users.total}</span>
        <span class="muted">
          users · {o.users.admins} admin{o.users.admins === 1 ? '' : 's'}
          {o.users.suspended ? ` · ${o.users.suspended} suspended` : ''}
        </span>
      </a>
      <a class="card admin-stat" href="/-/admin/repos">
        <span class="admin-stat-value">{o.repositories}</span>
        <span class="muted">repositories</span>
      </a>
      <a class="card admin-stat" href="/-/admin/runners">
        <span class="admin-stat-value">
          {o.runners.online}
          <span class="muted admin-stat-of"> / {o.runners.total}</span>
        </span>
        <span class="muted">runners online</span>
      </a>
      <a class="card admin-stat" href="/-/admin/jobs">
        <span class="admin-stat-value">{o.jobs.queued}</span>
        <span class="muted">
          queued · {o.jobs.running} running · <span class={o.jobs.failed ? 'admin-failed' : undefined}>{o.jobs.failed} failed</span>
        </span>
      </a>
    </div>
    <div class="card">
      <div class="card-head">
        <h2 class="h3">Configuration</h2>
      </div>
      <dl class="admin-config" id="server-config">
        <dt>Version</dt>
        <dd class="mono">gitoku {o.version} · Node {o.node}</dd>
        <dt>Database</dt>
        <dd>{o.database === 'postgres' ? 'PostgreSQL' : 'SQLite'}</dd>
        <dt>Base URL</dt>
        <dd class="mono">{o.baseUrl}</dd>
        <dt>Data directory</dt>
        <dd class="mono admin-break">{o.dataDir}</dd>
        <dt>Disk use</dt>
        <dd>{size(o.disk)} in the data directory</dd>
        <dt>Sandbox</dt>
        <dd class="mono">{o.sandbox}</dd>
        <dt>Sign-up</dt>
        <dd>{o.signupEnabled ? 'Open: anyone can create an account' : 'Closed: administrators create accounts'}</dd>
      </dl>
    </div>
  </AdminLayout>
);

export interface NewUserValues {
  login: string;
  email: string;
  admin: boolean;
}

export const AdminUsersPage: FC<{ ctx: PageContext; users: Page<AdminUserRow>; q: string; page: number; perPage: number; values?: NewUserValues; error?: FormError | null }> = ({ ctx, users, q, page, perPage, values = { login: '', email: '', admin: false }, error }) => {
  const pages = Math.max(1, Math.ceil(users.total / perPage));
  const href = (n: number) => `/-/admin/users?${new URLSearchParams({ ...(q ? { q } : {}), ...(n > 1 ? { page: String(n) } : {}) }).toString()}`;
  return (
    <AdminLayout
      ctx={ctx}
      active="users"
      title="Users"
      actions={
        <a class="btn btn-primary" href="#new-user">
          <Icon name="plus" /> New user
        </a>
      }
    >
      <AdminSearch action="/-/admin/users" q={q} placeholder="Find a user by login, name or email" label="Find a user" />
      <div class="card">
        <AdminListHead q={q} what="Users" total={users.total} />
        {users.items.length ? (
          <ul class="admin-list" id="user-list">
            {users.items.map((u) => (
              <li class="admin-item" data-user={u.username}>
                <Avatar name={u.username} size="md" src={u.avatar ? userAvatarPath(u) : null} />
                <div class="admin-item-main">
                  <div class="admin-item-title">
                    <a href={`/-/admin/users/${encodeURIComponent(u.username)}`}>
                      <strong>{u.username}</strong>
                    </a>
                    {u.full_name && <span class="muted">{u.full_name}</span>}
                    {u.is_admin === 1 && <Badge kind="accent">Admin</Badge>}
                    {u.suspended_at && <Badge kind="danger">Suspended</Badge>}
                  </div>
                  <div class="muted admin-item-meta">
                    <span class="admin-break">{u.email}</span> · {u.repo_count} {u.repo_count === 1 ? 'repository' : 'repositories'} · joined <Time iso={u.created_at} />
                  </div>
                </div>
                <a class="btn btn-sm" href={`/-/admin/users/${encodeURIComponent(u.username)}`}>
                  Manage
                </a>
              </li>
            ))}
          </ul>
        ) : (
          <EmptyState icon="people" title={q ? 'No users match' : 'No users'} />
        )}
      </div>
      {pages > 1 && <PageLinks page={page} pages={pages} href={href} prevText="← Previous" nextText="Next →" />}

      <div class="card" id="new-user">
        <div class="card-head">
          <h2 class="h3">Create a user</h2>
        </div>
        <div class="card-pad">
          <FormAlert error={error} />
          <PostForm ctx={ctx} action="/-/admin/users" class="stack">
            <div class="field">
              <label for="new-login">Username</label>
              <input type="text" id="new-login" class="input" name="login" value={values.login} required maxlength={39} autocomplete="off" aria-invalid={fieldInvalid(error, 'username') ? 'true' : undefined} />
            </div>
            <div class="field">
              <label for="new-email">
                Email <span class="muted">(optional)</span>
              </label>
              <input type="email" id="new-email" class="input" name="email" value={values.email} maxlength={320} autocomplete="off" aria-invalid={fieldInvalid(error, 'email') ? 'true' : undefined} />
            </div>
            <div class="field">
              <label for="new-password">Initial password</label>
              <input type="password" id="new-password" class="input" name="password" required minlength={8} maxlength={1024} autocomplete="new-password" aria-invalid={fieldInvalid(error, 'password') ? 'true' : undefined} />
              <p class="hint">Tell the user; they can change it under Settings → Account.</p>
            </div>
            <label class="choice choice-check">
              <input type="checkbox" name="admin" value="1" checked={values.admin} />
              <span>
                <strong>Site administrator</strong>
              </span>
            </label>
            <div class="form-actions">
              <button type="submit" class="btn btn-primary">
                Create user
              </button>
            </div>
          </PostForm>
        </div>
      </div>
    </AdminLayout>
  );
};

export const AdminUserPage: FC<{ ctx: PageContext; user: AdminUserRow; self: boolean; error?: FormError | null }> = ({ ctx, user, self, error }) => {
  const base = `/-/admin/users/${encodeURIComponent(user.username)}`;
  return (
    <AdminLayout ctx={ctx} active="users" title={user.username} intro={<a href={`/${user.username}`}>View profile</a>}>
      <FormAlert error={error} />
      <div class="card card-pad admin-user">
        <Avatar name={user.username} size="lg" src={user.avatar ? userAvatarPath(user) : null} />
        <dl class="admin-config">
          <dt>Name</dt>
          <dd>{user.full_name || <span class="muted">—</span>}</dd>
          <dt>Email</dt>
          <dd class="admin-break">{user.email}</dd>
          <dt>Role</dt>
          <dd>{user.is_admin === 1 ? <Badge kind="accent">Site administrator</Badge> : 'User'}</dd>
          <dt>Status</dt>
          <dd id="user-status">
            {user.suspended_at ? (
              <>
                <Badge kind="danger">Suspended</Badge> since <Time iso={user.suspended_at} />
              </>
            ) : (
              <Badge kind="success">Active</Badge>
            )}
          </dd>
          <dt>Repositories</dt>
          <dd>{user.repo_count}</dd>
          <dt>Joined</dt>
          <dd>
            <Time iso={user.created_at} />
          </dd>
        </dl>
      </div>

      <div class="card">
        <div class="card-head">
          <h2 class="h3">Access</h2>
        </div>
        <ul class="admin-list">
          <li class="admin-item">
            <div class="admin-item-main">
              <strong>{user.suspended_at ? 'Unsuspend' : 'Suspend'} this account</strong>
              <p class="muted admin-item-meta">
                {user.suspended_at
                  ? 'The user can sign in again; their tokens work again.'
                  : 'Signs the user out everywhere at once and refuses their password, tokens and git access until unsuspended. Nothing is deleted.'}
              </p>
            </div>
            {self ? (
              <span class="muted">That's you</span>
            ) : (
              <PostForm ctx={ctx} action={`${base}/${user.suspended_at ? 'unsuspend' : 'suspend'}`}>
                <button type="submit" id="toggle-suspension" class={user.suspended_at ? 'btn btn-sm' : 'btn btn-danger-outline btn-sm'}>
                  {user.suspended_at ? 'Unsuspend' : 'Suspend'}
                </button>
              </PostForm>
            )}
          </li>
          <li class="admin-item">
            <div class="admin-item-main">
              <strong>{user.is_admin === 1 ? 'Remove site administrator' : 'Make site administrator'}</strong>
              <p class="muted admin-item-meta">{user.is_admin === 1 ? 'The last administrator cannot be demoted.' : 'Administrators manage users, repositories, runners and the job queue.'}</p>
            </div>
            <PostForm ctx={ctx} action={`${base}/${user.is_admin === 1 ? 'demote' : 'promote'}`}>
              <button type="submit" id="toggle-admin" class="btn btn-sm">
                {user.is_admin === 1 ? 'Demote' : 'Promote'}
              </button>
            </PostForm>
          </li>
        </ul>
      </div>

      {!self && (
        <div class="card danger-zone">
          <div class="card-head">
            <h2 class="h3">Delete this account</h2>
          </div>
          <div class="card-pad">
            <PostForm ctx={ctx} action={`${base}/delete`} class="stack">
              <p>
                Deletes <strong>{user.username}</strong>, their sessions, tokens and collaborations. Issues, comments and pull requests they wrote elsewhere stay, without an author.
                {user.repo_count > 0 && (
                  <>
                    {' '}
                    They own <strong>{user.repo_count}</strong> {user.repo_count === 1 ? 'repository' : 'repositories'}: the deletion is refused unless you also delete {user.repo_count === 1 ? 'it' : 'them'} below.
                  </>
                )}
              </p>
              {user.repo_count > 0 && (
                <label class="choice choice-check">
                  <input type="checkbox" name="purge" value="1" />
                  <span>
                    <strong>Also delete their {user.repo_count === 1 ? 'repository' : `${user.repo_count} repositories`}</strong> (git data, issues, pull requests, runs — for good)
                  </span>
                </label>
              )}
              <div class="field">
                <label for="confirm-username">
                  Type <strong>{user.username}</strong> to confirm
                </label>
                <input type="text" id="confirm-username" class="input" name="confirm" required autocomplete="off" aria-invalid={fieldInvalid(error, 'confirm') ? 'true' : undefined} />
              </div>
              <div class="form-actions">
                <button type="submit" class="btn btn-danger" id="delete-user">
                  Delete this account
                </button>
              </div>
            </PostForm>
          </div>
        </div>
      )}
    </AdminLayout>
  );
};

/** The search box over an admin list (`q` in the query string). */
const AdminSearch: FC<{ action: string; q: string; placeholder: string; label: string }> = ({ action, q, placeholder, label }) => (
  <form method="get" action={action} class="admin-search" role="search">
    <input type="search" name="q" value={q} class="input" placeholder={placeholder} aria-label={label} maxlength={200} />
    <button type="submit" class="btn">
      Search
    </button>
  </form>
);

/** An admin list's heading: all of `what`, or those matching the search, and how many. */
const AdminListHead: FC<{ q: string; what: string; total: number }> = ({ q, what, total }) => (
  <div class="card-head">
    <h2 class="h3">
      {q ? `${what} matching “${q}”` : `All ${what.toLowerCase()}`} <span class="counter">{total}</span>
    </h2>
  </div>
);

export const AdminReposPage: FC<{ ctx: PageContext; repos: Page<AdminRepositoryRow>; q: string; page: number; perPage: number }> = ({ ctx, repos, q, page, perPage }) => {
  const pages = Math.max(1, Math.ceil(repos.total / perPage));
  const href = (n: number) => `/-/admin/repos?${new URLSearchParams({ ...(q ? { q } : {}), ...(n > 1 ? { page: String(n) } : {}) }).toString()}`;
  return (
    <AdminLayout ctx={ctx} active="repos" title="Repositories" intro="Every repository on this server, private ones included. Delete one from its settings.">
      <AdminSearch action="/-/admin/repos" q={q} placeholder="Find a repository by owner or name" label="Find a repository" />
      <div class="card">
        <AdminListHead q={q} what="Repositories" total={repos.total} />
        {repos.items.length ? (
          <ul class="admin-list" id="repo-list">
            {repos.items.map((r) => (
              <li class="admin-item" data-repo={`${r.owner_name}/${r.name}`}>
                <Icon name={r.is_private ? 'lock' : 'repo'} class="muted" />
                <div class="admin-item-main">
                  <div class="admin-item-title">
                    <a href={`/${r.owner_name}/${r.name}`}>
                      <strong class="admin-break">
                        {r.owner_name}/{r.name}
                      </strong>
                    </a>
                    <VisibilityBadge isPrivate={r.is_private === 1} />
                    {r.archived === 1 && <Badge>Archived</Badge>}
                  </div>
                  <div class="muted admin-item-meta">
                    {size(r.size)} on disk · created <Time iso={r.created_at} />
                  </div>
                </div>
                <a class="btn btn-sm" href={`/${r.owner_name}/${r.name}/settings`}>
                  Settings
                </a>
              </li>
            ))}
          </ul>
        ) : (
          <EmptyState icon="repo" title={q ? 'No repositories match' : 'No repositories yet'} />
        )}
      </div>
      {pages > 1 && <PageLinks page={page} pages={pages} href={href} prevText="← Previous" nextText="Next →" />}
    </AdminLayout>
  );
};

const JOB_TABS: JobStatus[] = ['queued', 'running', 'failed', 'cancelled', 'succeeded'];

export const AdminJobsPage: FC<{ ctx: PageContext; kinds: JobKindCount[]; status: JobStatus; kind: string; jobs: Page<Job>; page: number; perPage: number }> = ({ ctx, kinds, status, kind, jobs, page, perPage }) => {
  const pages = Math.max(1, Math.ceil(jobs.total / perPage));
  const href = (s: JobStatus, k: string, n = 1) => `/-/admin/jobs?${new URLSearchParams({ status: s, ...(k ? { kind: k } : {}), ...(n > 1 ? { page: String(n) } : {}) }).toString()}`;
  return (
    <AdminLayout ctx={ctx} active="jobs" title="Job queue" intro="Agent runs, workflow runs, reviews and webhook deliveries wait here for a runner or the server.">
      <div class="card">
        <div class="card-head">
          <h2 class="h3">By kind</h2>
        </div>
        {kinds.length ? (
          <div class="admin-table-wrap">
            <table class="admin-table" id="job-kinds">
              <thead>
                <tr>
                  <th scope="col">Kind</th>
                  <th scope="col">Queued</th>
                  <th scope="col">Running</th>
                  <th scope="col">Failed</th>
                </tr>
              </thead>
              <tbody>
                {kinds.map((k) => (
                  <tr>
                    <th scope="row" class="mono">
                      {k.kind}
                    </th>
                    <td>{k.queued ? <a href={href('queued', k.kind)}>{k.queued}</a> : 0}</td>
                    <td>{k.running ? <a href={href('running', k.kind)}>{k.running}</a> : 0}</td>
                    <td class={k.failed ? 'admin-failed' : undefined}>{k.failed ? <a href={href('failed', k.kind)}>{k.failed}</a> : 0}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <EmptyState icon="history" title="Nothing queued, running or failed" />
        )}
      </div>

      <nav class="state-tabs admin-tabs" aria-label="Job status">
        {JOB_TABS.map((s) => (
          <a class={`state-tab${s === status ? ' active' : ''}`} href={href(s, kind)} aria-current={s === status ? 'page' : undefined}>
            {s[0]!.toUpperCase() + s.slice(1)}
          </a>
        ))}
      </nav>
      <div class="card">
        <div class="card-head">
          <h2 class="h3">
            {status[0]!.toUpperCase() + status.slice(1)} jobs{kind ? ` · ${kind}` : ''} <span class="counter">{jobs.total}</span>
          </h2>
          {kind && (
            <a class="btn btn-sm" href={href(status, '')}>
              All kinds
            </a>
          )}
        </div>
        {jobs.items.length ? (
          <ul class="admin-list" id="job-list">
            {jobs.items.map((j) => (
              <li class="admin-item" data-job={String(j.id)}>
                <div class="admin-item-main">
                  <div class="admin-item-title">
                    <strong class="mono">#{j.id}</strong>
                    <span class="mono">{j.kind}</span>
                    <Badge kind={j.status === 'failed' ? 'danger' : j.status === 'succeeded' ? 'success' : 'neutral'}>{j.status}</Badge>
                    {j.cancel_requested === 1 && j.status === 'running' && <Badge>cancel requested</Badge>}
                  </div>
                  <div class="muted admin-item-meta">
                    attempt {j.attempts} of {j.max_attempts} · created <Time iso={j.created_at} />
                    {j.finished_at && (
                      <>
                        {' '}
                        · finished <Time iso={j.finished_at} />
                      </>
                    )}
                    {j.lease_owner && <> · held by {j.lease_owner}</>}
                  </div>
                  {j.last_error && <pre class="admin-error">{j.last_error.length > 600 ? `${j.last_error.slice(0, 600)}…` : j.last_error}</pre>}
                </div>
                {j.status === 'failed' && (
                  <PostForm ctx={ctx} action={`/-/admin/jobs/${j.id}/retry`}>
                    <button type="submit" class="btn btn-sm" aria-label={`Retry job ${j.id}`}>
                      <Icon name="retry" /> Retry
                    </button>
                  </PostForm>
                )}
                {(j.status === 'queued' || (j.status === 'running' && j.cancel_requested !== 1)) && (
                  <PostForm ctx={ctx} action={`/-/admin/jobs/${j.id}/cancel`}>
                    <button type="submit" class="btn btn-danger-outline btn-sm" aria-label={`Cancel job ${j.id}`}>
                      Cancel
                    </button>
                  </PostForm>
                )}
              </li>
            ))}
          </ul>
        ) : (
          <EmptyState icon="history" title={`No ${status} jobs${kind ? ` of kind ${kind}` : ''}`} />
        )}
      </div>
      {pages > 1 && <PageLinks page={page} pages={pages} href={(n) => href(status, kind, n)} prevText="← Newer" nextText="Older →" />}
    </AdminLayout>
  );
};
