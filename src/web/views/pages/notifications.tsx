import type { FC } from 'hono/jsx';
import type { PageContext } from '../context.ts';
import type { NotificationRow } from '../../../services/notifications.ts';
import { Layout } from '../layout.tsx';
import { CsrfField, EmptyState, PageLinks, Time } from '../components.tsx';
import { Icon, type IconName } from '../icons.tsx';

export const NOTIFICATIONS_PER_PAGE = 50;

/** Why the thread reaches the viewer, as a reason to read it. */
const REASONS: Record<string, string> = {
  subscribed: 'watching',
  author: 'you opened it',
  comment: 'you took part',
  mention: 'you were mentioned',
  assign: 'you were assigned',
  review_requested: 'your review was requested',
  run: 'you started it',
};

const ICONS: Record<NotificationRow['subject_type'], IconName> = { issue: 'issueOpen', pull_request: 'pull', run: 'sparkle' };

/** `/notifications`: the signed-in user's inbox, grouped by repository, unread first (or all). */
export const NotificationsPage: FC<{ ctx: PageContext; items: NotificationRow[]; total: number; unread: number; all: boolean; page: number }> = ({ ctx, items, total, unread, all, page }) => {
  const groups = new Map<string, NotificationRow[]>();
  for (const n of items) {
    const key = `${n.owner_name}/${n.repo_name}`;
    groups.set(key, [...(groups.get(key) ?? []), n]);
  }
  const pages = Math.max(1, Math.ceil(total / NOTIFICATIONS_PER_PAGE));
  const tab = (isAll: boolean, label: string, count?: number) => (
    <a href={isAll ? '/notifications?all=1' : '/notifications'} class={all === isAll ? 'tab active' : 'tab'} aria-current={all === isAll ? 'page' : undefined}>
      {label}
      {count !== undefined && count > 0 ? <span class="counter">{count}</span> : null}
    </a>
  );
  return (
    <Layout ctx={ctx} title="Notifications">
      <div class="page-title-row">
        <h1 class="page-title">Notifications</h1>
        {unread > 0 && (
          <form method="post" action="/notifications/mark-read" class="inline-form">
            <CsrfField ctx={ctx} />
            <button type="submit" class="btn btn-sm" id="mark-all-read">
              <Icon name="check" /> Mark all as read
            </button>
          </form>
        )}
      </div>
      <div class="section-head notifications-tabs-row">
        <nav class="tabs" aria-label="Notifications">
          {tab(false, 'Unread', unread)}
          {tab(true, 'All')}
        </nav>
      </div>
      {items.length === 0 ? (
        <div class="card">
          <EmptyState icon="bell" title={all ? 'No notifications yet' : 'All caught up'}>
            <p class="muted">Watch a repository, or take part in an issue, a pull request or a task, and its news lands here.</p>
          </EmptyState>
        </div>
      ) : (
        [...groups].map(([repo, rows]) => (
          <section class="card notification-group">
            <h2 class="notification-repo">
              <a href={`/${repo}`}>{repo}</a>
            </h2>
            <ul class="notification-list">
              {rows.map((n) => (
                <li class={n.unread ? 'notification unread' : 'notification'} id={`notification-${n.id}`}>
                  <Icon name={ICONS[n.subject_type]} class="notification-icon" />
                  <div class="notification-main">
                    <a href={`/notifications/${n.id}`} class="notification-title">
                      {n.title}
                    </a>
                    <div class="muted notification-meta">
                      {n.subject_type === 'run' ? 'Task' : n.subject_type === 'pull_request' ? 'Pull request' : 'Issue'} #{n.subject_number} · {n.action}
                      {n.actor_name ? ` by ${n.actor_name}` : ''} · <span class="notification-reason">{REASONS[n.reason] ?? n.reason}</span> · <Time iso={n.updated_at} />
                    </div>
                  </div>
                  <div class="notification-actions">
                    {n.unread === 1 && (
                      <form method="post" action={`/notifications/${n.id}/read`} class="inline-form">
                        <CsrfField ctx={ctx} />
                        <button type="submit" class="btn btn-sm" title="Mark as read">
                          <Icon name="check" /> <span class="hide-sm">Read</span>
                        </button>
                      </form>
                    )}
                    <form method="post" action={`/notifications/${n.id}/done`} class="inline-form">
                      <CsrfField ctx={ctx} />
                      <button type="submit" class="btn btn-sm" title="Done: remove it until there is news">
                        <Icon name="x" /> <span class="hide-sm">Done</span>
                      </button>
                    </form>
                  </div>
                </li>
              ))}
            </ul>
          </section>
        ))
      )}
      {pages > 1 && <PageLinks page={page} pages={pages} href={(p) => `/notifications?${all ? 'all=1&' : ''}page=${p}`} prevText="← Newer" nextText="Older →" />}
    </Layout>
  );
};
