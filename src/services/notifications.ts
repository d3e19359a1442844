import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { userRole, type RepositoryWithOwner } from './repositories.ts';
import { readableRepository } from './searchScope.ts';
import type { SearchPage } from './searchScope.ts';
import type { DbOrTx } from '../db/index.ts';
import type { NotificationsTable } from '../db/schema.ts';
import { roleAtLeast, type Viewer } from '../domain/permissions.ts';

/**
 * Watching and notifications, as on GitHub. A user watches a repository (all activity), ignores it
 * (nothing), or neither (only what they take part in: their issues and pull requests, the threads they
 * commented on or are assigned to, @mentions, and the tasks they started). Each activity brings the
 * subject's thread back to unread for its recipients (never for the one who acted) — one row per
 * (user, subject), so a busy thread is one entry in the inbox, not one per comment.
 */

export type WatchState = 'watching' | 'ignoring';
export type SubjectType = NotificationsTable['subject_type'];

export async function watchState(db: DbOrTx, repositoryId: number, userId: number): Promise<WatchState | null> {
  const row = await db.selectFrom('repository_watches').select('state').where('repository_id', '=', repositoryId).where('user_id', '=', userId).executeTakeFirst();
  return row?.state ?? null;
}

/** Watch, ignore, or (null) back to participating only. */
export async function setWatchState(app: AppContext, repositoryId: number, userId: number, state: WatchState | null): Promise<void> {
  if (state === null) {
    await app.db.deleteFrom('repository_watches').where('repository_id', '=', repositoryId).where('user_id', '=', userId).execute();
    return;
  }
  await app.db
    .insertInto('repository_watches')
    .values({ repository_id: repositoryId, user_id: userId, state, created_at: now() })
    .onConflict((oc) => oc.columns(['repository_id', 'user_id']).doUpdateSet({ state }))
    .execute();
}

export interface Activity {
  repo: RepositoryWithOwner;
  subjectType: SubjectType;
  subjectNumber: number;
  title: string;
  action: string;
  actorId: number | null;
  /** Users who take part, with why (their first reason wins: author, assign, mention, comment…). */
  participants: Map<number, string>;
  /** Whether the repository's watchers hear of it too (a task's end goes to whoever started it only). */
  watchers: boolean;
}

/**
 * Brings the subject's thread back to unread for the participants and the watchers — minus the actor,
 * those ignoring the repository, suspended accounts and anyone who can no longer read it. Returns the
 * users notified.
 */
export async function notifyActivity(app: AppContext, activity: Activity): Promise<number[]> {
  const { repo } = activity;
  const recipients = new Map(activity.participants);
  const watches = await app.db.selectFrom('repository_watches').select(['user_id', 'state']).where('repository_id', '=', repo.id).execute();
  for (const w of watches) {
    if (w.state === 'ignoring') recipients.delete(w.user_id);
    else if (activity.watchers && !recipients.has(w.user_id)) recipients.set(w.user_id, 'subscribed');
  }
  if (activity.actorId !== null) recipients.delete(activity.actorId);
  if (recipients.size === 0) return [];
  const users = await app.db.selectFrom('users').select(['id', 'is_admin', 'suspended_at']).where('id', 'in', [...recipients.keys()]).execute();
  const notified: number[] = [];
  const at = now();
  for (const user of users) {
    if (user.suspended_at) continue;
    const role = await userRole(app, repo, user);
    if (!roleAtLeast(role, 'read')) continue;
    const reason = recipients.get(user.id)!;
    await app.db
      .insertInto('notifications')
      .values({ user_id: user.id, repository_id: repo.id, subject_type: activity.subjectType, subject_number: activity.subjectNumber, title: activity.title.slice(0, 512), reason, action: activity.action.slice(0, 64), last_actor_id: activity.actorId, unread: 1, updated_at: at, last_read_at: null })
      .onConflict((oc) =>
        oc.columns(['user_id', 'repository_id', 'subject_type', 'subject_number']).doUpdateSet({ title: activity.title.slice(0, 512), reason, action: activity.action.slice(0, 64), last_actor_id: activity.actorId, unread: 1, updated_at: at }),
      )
      .execute();
    notified.push(user.id);
  }
  return notified.sort((a, b) => a - b);
}

export interface NotificationRow {
  id: number;
  repository_id: number;
  subject_type: SubjectType;
  subject_number: number;
  title: string;
  reason: string;
  action: string;
  unread: number;
  updated_at: string;
  last_read_at: string | null;
  owner_name: string;
  repo_name: string;
  is_private: number;
  actor_name: string | null;
}

/** The user's threads on repositories they can still read, newest activity first; `all` includes read ones. */
function inbox(app: AppContext, viewer: Viewer, opts: { all: boolean }) {
  return app.db
    .selectFrom('notifications')
    .innerJoin('repositories', 'repositories.id', 'notifications.repository_id')
    .innerJoin('users as owners', 'owners.id', 'repositories.owner_id')
    .where('notifications.user_id', '=', viewer.userId)
    .$if(!opts.all, (qb) => qb.where('notifications.unread', '=', 1))
    .where(readableRepository(viewer));
}

const ROW_COLUMNS = [
  'notifications.id',
  'notifications.repository_id',
  'notifications.subject_type',
  'notifications.subject_number',
  'notifications.title',
  'notifications.reason',
  'notifications.action',
  'notifications.unread',
  'notifications.updated_at',
  'notifications.last_read_at',
  'owners.username as owner_name',
  'repositories.name as repo_name',
  'repositories.is_private',
  'actors.username as actor_name',
] as const;

export async function listNotifications(app: AppContext, viewer: Viewer, opts: { all: boolean; page: SearchPage }): Promise<{ items: NotificationRow[]; total: number }> {
  const items = await inbox(app, viewer, opts)
    .leftJoin('users as actors', 'actors.id', 'notifications.last_actor_id')
    .select(ROW_COLUMNS)
    .orderBy('notifications.updated_at', 'desc')
    .orderBy('notifications.id', 'desc')
    .limit(opts.page.perPage)
    .offset((opts.page.page - 1) * opts.page.perPage)
    .execute();
  const total = Number((await inbox(app, viewer, opts).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  return { items, total };
}

/** One of the viewer's threads (null when it is not theirs, or its repository is out of their reach now). */
export async function getNotification(app: AppContext, viewer: Viewer, id: number): Promise<NotificationRow | null> {
  const row = await inbox(app, viewer, { all: true }).leftJoin('users as actors', 'actors.id', 'notifications.last_actor_id').select(ROW_COLUMNS).where('notifications.id', '=', id).executeTakeFirst();
  return row ?? null;
}

/** Unread threads on repositories the user can still read (the top bar's dot). */
export async function unreadCount(app: AppContext, viewer: Viewer): Promise<number> {
  return Number((await inbox(app, viewer, { all: false }).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
}

/** Marks one of the user's threads read; false when it is not theirs. */
export async function markNotificationRead(db: DbOrTx, userId: number, id: number): Promise<boolean> {
  const res = await db.updateTable('notifications').set({ unread: 0, last_read_at: now() }).where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Marks the user's threads read (those that changed at or before `before`, when given). */
export async function markAllNotificationsRead(db: DbOrTx, userId: number, opts: { before?: string } = {}): Promise<number> {
  const res = await db
    .updateTable('notifications')
    .set({ unread: 0, last_read_at: now() })
    .where('user_id', '=', userId)
    .where('unread', '=', 1)
    .$if(opts.before !== undefined, (qb) => qb.where('updated_at', '<=', opts.before!))
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** "Done": the thread leaves the inbox until new activity brings it back. */
export async function deleteNotification(db: DbOrTx, userId: number, id: number): Promise<boolean> {
  const res = await db.deleteFrom('notifications').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

/** Where a thread's subject lives in the web UI. */
export function notificationSubjectPath(n: Pick<NotificationRow, 'owner_name' | 'repo_name' | 'subject_type' | 'subject_number'>): string {
  const base = `/${n.owner_name}/${n.repo_name}`;
  return n.subject_type === 'run' ? `${base}/runs/${n.subject_number}` : n.subject_type === 'pull_request' ? `${base}/pull/${n.subject_number}` : `${base}/issues/${n.subject_number}`;
}

