import type { Context, Hono } from 'hono';
import type { WebEnv } from '../../context.ts';
import { deleteNotification, getNotification, listNotifications, markAllNotificationsRead, markNotificationRead, notificationSubjectPath, setWatchState, unreadCount } from '../../../services/notifications.ts';
import { notFound } from '../../../services/errors.ts';
import { backToRepositoryPage, repoAccess } from './access.ts';
import { pageContext, pageNumber, readForm, render, requireUser } from './render.tsx';
import { NOTIFICATIONS_PER_PAGE, NotificationsPage } from '../../views/pages/notifications.tsx';

const notificationId = (c: Context<WebEnv>) => {
  const id = Number(c.req.param('id'));
  if (!Number.isSafeInteger(id) || id < 1) throw notFound();
  return id;
};

/** The inbox (`/notifications`), its read / done / mark-all forms, and a repository's Watch menu. */
export function registerNotificationPages(ui: Hono<WebEnv>): void {
  ui.get('/notifications', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const app = c.get('app');
    const all = c.req.query('all') === '1';
    const page = pageNumber(c.req.query('page'));
    // The page middleware counted the unread ones already (for the bell).
    const [list, unread] = await Promise.all([listNotifications(app, identity.viewer, { all, page: { page, perPage: NOTIFICATIONS_PER_PAGE } }), c.get('unreadNotifications') ?? unreadCount(app, identity.viewer)]);
    c.header('Cache-Control', 'no-store');
    return render(c, <NotificationsPage ctx={pageContext(c)} items={list.items} total={list.total} unread={unread} all={all} page={page} />);
  });

  /** Opening a thread marks it read and goes to its subject. */
  ui.get('/notifications/:id{[0-9]+}', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const app = c.get('app');
    const n = await getNotification(app, identity.viewer, notificationId(c));
    if (!n) throw notFound();
    await markNotificationRead(app.db, identity.user.id, n.id);
    return c.redirect(notificationSubjectPath(n), 302);
  });

  ui.post('/notifications/:id{[0-9]+}/read', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    if (!(await markNotificationRead(c.get('app').db, identity.user.id, notificationId(c)))) throw notFound();
    return c.redirect('/notifications', 303);
  });

  ui.post('/notifications/:id{[0-9]+}/done', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    if (!(await deleteNotification(c.get('app').db, identity.user.id, notificationId(c)))) throw notFound();
    return c.redirect('/notifications', 303);
  });

  ui.post('/notifications/mark-read', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    await markAllNotificationsRead(c.get('app').db, identity.user.id);
    return c.redirect('/notifications', 303);
  });

  ui.post('/:owner/:repo/subscription', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const access = await repoAccess(c);
    const form = await readForm(c);
    const state = form.get('state');
    await setWatchState(c.get('app'), access.repo.id, identity.user.id, state === 'watching' || state === 'ignoring' ? state : null);
    return backToRepositoryPage(c, access, form.get('next'));
  });
}
