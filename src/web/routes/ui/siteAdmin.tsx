import type { Context, Hono } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { Identity } from '../../../services/auth.ts';
import { notFound, ServiceError } from '../../../services/errors.ts';
import type { JobStatus } from '../../../db/schema.ts';
import {
  ADMIN_JOB_STATUSES,
  adminCreateUser,
  cancelJob,
  deleteUserAccount,
  getUserForAdmin,
  jobCountsByKind,
  listJobsForAdmin,
  listRepositoriesForAdmin,
  listUsersForAdmin,
  retryJob,
  serverOverview,
  setSiteAdmin,
  setUserSuspended,
  type AdminUserRow,
} from '../../../services/siteAdmin.ts';
import { AdminJobsPage, AdminOverviewPage, AdminReposPage, AdminUserPage, AdminUsersPage, type NewUserValues } from '../../views/pages/admin.tsx';
import type { FormError } from '../../views/context.ts';
import { pageContext, pageNumber, readForm, render, setFlash } from './render.tsx';

const PER_PAGE = 30;

async function adminUser(c: Context<WebEnv>, username: string): Promise<AdminUserRow> {
  try {
    return await getUserForAdmin(c.get('app'), username);
  } catch (err) {
    throw err instanceof ServiceError && err.status === 404 ? notFound() : err;
  }
}

/** Site administration pages: overview, users (create, suspend, promote, delete), repositories, job queue. */
export function registerSiteAdminPages(ui: Hono<WebEnv>, requireSiteAdmin: (c: Context<WebEnv>) => Identity | Response): void {
  const admin = (handler: (c: Context<WebEnv>, identity: Identity) => Promise<Response>) => async (c: Context<WebEnv>) => {
    const identity = requireSiteAdmin(c);
    if (identity instanceof Response) return identity;
    return handler(c, identity);
  };

  ui.get(
    '/-/admin',
    admin(async (c) => render(c, <AdminOverviewPage ctx={pageContext(c)} overview={await serverOverview(c.get('app'))} />)),
  );

  const usersPage = async (c: Context<WebEnv>, extra: { values?: NewUserValues; error?: FormError } = {}, status: 200 | 413 | 422 = 200) => {
    const q = (c.req.query('q') ?? '').slice(0, 200);
    const page = pageNumber(c.req.query('page'), 100_000);
    const users = await listUsersForAdmin(c.get('app'), { q, page, perPage: PER_PAGE });
    return render(c, <AdminUsersPage ctx={pageContext(c)} users={users} q={q} page={page} perPage={PER_PAGE} values={extra.values} error={extra.error} />, status);
  };

  ui.get(
    '/-/admin/users',
    admin(async (c) => usersPage(c)),
  );

  ui.post(
    '/-/admin/users',
    admin(async (c) => {
      const form = await readForm(c);
      const values: NewUserValues = { login: form.get('login').trim(), email: form.get('email').trim(), admin: form.get('admin') === '1' };
      try {
        const user = await adminCreateUser(c.get('app'), { username: values.login, email: values.email || undefined, password: form.get('password'), isAdmin: values.admin });
        setFlash(c, 'success', `Created ${user.is_admin ? 'administrator' : 'user'} ${user.username}.`);
        return c.redirect(`/-/admin/users/${encodeURIComponent(user.username)}`, 303);
      } catch (err) {
        if (err instanceof ServiceError && err.status === 422) return usersPage(c, { values, error: { message: err.message, field: err.field } }, 422);
        throw err;
      }
    }),
  );

  ui.get(
    '/-/admin/users/:username',
    admin(async (c, identity) => {
      const user = await adminUser(c, c.req.param('username')!);
      return render(c, <AdminUserPage ctx={pageContext(c)} user={user} self={user.id === identity.user.id} />);
    }),
  );

  /** Runs an action on a user; a 422 (yourself, the last admin) is shown on the user's page, nothing changed. */
  const userAction = (action: (c: Context<WebEnv>, identity: Identity, username: string) => Promise<string>) =>
    admin(async (c, identity) => {
      const username = c.req.param('username')!;
      const user = await adminUser(c, username);
      try {
        const message = await action(c, identity, user.username);
        setFlash(c, 'success', message);
        return c.redirect(c.req.path.endsWith('/delete') ? '/-/admin/users' : `/-/admin/users/${encodeURIComponent(user.username)}`, 303);
      } catch (err) {
        if (err instanceof ServiceError && err.status === 422) {
          return render(c, <AdminUserPage ctx={pageContext(c)} user={await adminUser(c, username)} self={user.id === identity.user.id} error={{ message: err.message, field: err.field }} />, 422);
        }
        throw err;
      }
    });

  ui.post(
    '/-/admin/users/:username/suspend',
    userAction(async (c, identity, username) => {
      await setUserSuspended(c.get('app'), identity.user.id, username, true);
      return `Suspended ${username}: signed out everywhere, password and tokens refused.`;
    }),
  );
  ui.post(
    '/-/admin/users/:username/unsuspend',
    userAction(async (c, identity, username) => {
      await setUserSuspended(c.get('app'), identity.user.id, username, false);
      return `${username} can sign in again.`;
    }),
  );
  ui.post(
    '/-/admin/users/:username/promote',
    userAction(async (c, _identity, username) => {
      await setSiteAdmin(c.get('app'), username, true);
      return `${username} is now a site administrator.`;
    }),
  );
  ui.post(
    '/-/admin/users/:username/demote',
    userAction(async (c, _identity, username) => {
      await setSiteAdmin(c.get('app'), username, false);
      return `${username} is no longer a site administrator.`;
    }),
  );
  ui.post(
    '/-/admin/users/:username/delete',
    userAction(async (c, identity, username) => {
      const form = await readForm(c);
      if (form.get('confirm').trim() !== username) throw new ServiceError(422, `Type ${username} to confirm the deletion`, 'confirm');
      const { repositoriesDeleted } = await deleteUserAccount(c.get('app'), identity.user.id, username, { purge: form.get('purge') === '1' });
      return `Deleted ${username}${repositoriesDeleted ? ` and ${repositoriesDeleted} ${repositoriesDeleted === 1 ? 'repository' : 'repositories'}` : ''}.`;
    }),
  );

  ui.get(
    '/-/admin/repos',
    admin(async (c) => {
      const q = (c.req.query('q') ?? '').slice(0, 200);
      const page = pageNumber(c.req.query('page'), 100_000);
      const repos = await listRepositoriesForAdmin(c.get('app'), { q, page, perPage: PER_PAGE });
      return render(c, <AdminReposPage ctx={pageContext(c)} repos={repos} q={q} page={page} perPage={PER_PAGE} />);
    }),
  );

  ui.get(
    '/-/admin/jobs',
    admin(async (c) => {
      const app = c.get('app');
      const requested = c.req.query('status') ?? '';
      const status: JobStatus = (ADMIN_JOB_STATUSES as readonly string[]).includes(requested) ? (requested as JobStatus) : 'failed';
      const kind = (c.req.query('kind') ?? '').slice(0, 100);
      const page = pageNumber(c.req.query('page'), 100_000);
      const [kinds, jobs] = await Promise.all([jobCountsByKind(app), listJobsForAdmin(app, { status, kind: kind || undefined, page, perPage: PER_PAGE })]);
      return render(c, <AdminJobsPage ctx={pageContext(c)} kinds={kinds} status={status} kind={kind} jobs={jobs} page={page} perPage={PER_PAGE} />);
    }),
  );

  const jobAction = (action: (c: Context<WebEnv>, id: number) => Promise<{ message: string; status: JobStatus }>) =>
    admin(async (c) => {
      const id = Number(c.req.param('id'));
      try {
        const { message, status } = await action(c, id);
        setFlash(c, 'success', message);
        return c.redirect(`/-/admin/jobs?status=${status}`, 303);
      } catch (err) {
        if (err instanceof ServiceError && err.status === 422) {
          setFlash(c, 'error', err.message);
          return c.redirect('/-/admin/jobs', 303);
        }
        throw err;
      }
    });

  ui.post(
    '/-/admin/jobs/:id{[0-9]{1,12}}/retry',
    jobAction(async (c, id) => {
      const job = await retryJob(c.get('app'), id);
      return { message: `Job #${id} is queued again.`, status: job.status };
    }),
  );
  ui.post(
    '/-/admin/jobs/:id{[0-9]{1,12}}/cancel',
    jobAction(async (c, id) => {
      const { job, outcome } = await cancelJob(c.get('app'), id);
      return { message: outcome === 'cancelled' ? `Job #${id} cancelled.` : `Job #${id} was asked to stop.`, status: job.status };
    }),
  );
}
