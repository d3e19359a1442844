import type { Behavior } from '../registry.ts';
import type { AppContext } from '../../services/app.ts';
import type { RepositoryWithOwner } from '../../services/repositories.ts';
import { notifyActivity, type Activity } from '../../services/notifications.ts';
import { parseUserMentions } from '../../domain/issueReferences.ts';

/** What each event did, as the inbox says it. */
const ACTIONS: Record<string, string> = {
  'issue.opened': 'opened',
  'issue.closed': 'closed',
  'issue.reopened': 'reopened',
  'issue.assigned': 'assigned',
  'issue_comment.created': 'commented',
  'pull_request.opened': 'opened',
  'pull_request.closed': 'closed',
  'pull_request.reopened': 'reopened',
  'pull_request.merged': 'merged',
  'pull_request.assigned': 'assigned',
  'pull_request.comment_created': 'commented',
  'pull_request.review_comment_created': 'commented',
  'review.submitted': 'reviewed',
  'run.succeeded': 'succeeded',
  'run.failed': 'failed',
  'run.cancelled': 'cancelled',
};

/** Reasons that mean "takes part in the thread": such a user stays notified of it (GitHub's participating). */
const PARTICIPATING = ['author', 'assign', 'mention', 'comment', 'run'];

/**
 * Notifications (services/notifications.ts): each issue, pull request and task event above brings its
 * thread back to unread for the watchers and the participants — the author, the assignees, whoever
 * commented or reviewed, whoever was @mentioned (then or earlier: a notified participant stays one) —
 * and a finished task for whoever started it.
 */
export const notificationInbox: Behavior = {
  key: 'notifications',
  description: 'Notify the watchers and the participants of an issue, pull request or task of its activity (their inbox, /notifications)',
  on: Object.keys(ACTIONS),
  optional: false,
  when: (_event, ctx) => !!ctx.repo,
  async run(event, { app, repo }) {
    const activity = await activityOf(app, repo!, event.type, event.payload);
    if (!activity) return { outcome: 'its subject no longer exists' };
    const notified = await notifyActivity(app, activity);
    return { outcome: notified.length ? `notified ${notified.length} ${notified.length === 1 ? 'user' : 'users'}` : 'nobody to notify' };
  },
};

async function activityOf(app: AppContext, repo: RepositoryWithOwner, type: string, payload: Record<string, unknown>): Promise<Activity | null> {
  const actorId = typeof payload.actor_id === 'number' ? payload.actor_id : null;
  const action = ACTIONS[type]!;
  const number = Number(payload.number);
  const participants = new Map<number, string>();
  const add = (id: number | null | undefined, reason: string) => {
    if (typeof id === 'number' && !participants.has(id)) participants.set(id, reason);
  };

  if (type.startsWith('run.')) {
    const run = await app.db.selectFrom('prompt_pull_request_jobs').select(['title', 'created_by_id']).where('repository_id', '=', repo.id).where('number', '=', number).executeTakeFirst();
    if (!run) return null;
    add(run.created_by_id, 'run');
    // A task's end goes to whoever started it; its pull request notifies the watchers.
    return { repo, subjectType: 'run', subjectNumber: number, title: run.title, action, actorId: null, participants, watchers: false };
  }

  const isPull = type.startsWith('pull_request.') || type === 'review.submitted' || payload.pull_request_id !== undefined;
  const texts: string[] = [];
  let title: string;
  if (isPull) {
    const pr = await app.db.selectFrom('pull_requests').select(['id', 'title', 'body', 'author_id']).where('repository_id', '=', repo.id).where('number', '=', number).executeTakeFirst();
    if (!pr) return null;
    title = pr.title;
    add(pr.author_id, 'author');
    if (type === 'pull_request.opened') texts.push(pr.body);
    for (const c of await app.db.selectFrom('pull_request_comments').select(['id', 'author_id', 'body']).where('pull_request_id', '=', pr.id).execute()) {
      add(c.author_id, 'comment');
      if (c.id === payload.comment_id) texts.push(c.body);
    }
    for (const r of await app.db.selectFrom('pull_request_reviews').select(['id', 'author_id', 'body']).where('pull_request_id', '=', pr.id).execute()) {
      add(r.author_id, 'comment');
      if (r.id === payload.review_id) texts.push(r.body);
    }
  } else {
    const issue = await app.db.selectFrom('issues').select(['id', 'title', 'body', 'author_id']).where('repository_id', '=', repo.id).where('number', '=', number).executeTakeFirst();
    if (!issue) return null;
    title = issue.title;
    add(issue.author_id, 'author');
    if (type === 'issue.opened') texts.push(issue.body);
    for (const c of await app.db.selectFrom('issue_comments').select(['id', 'author_id', 'body']).where('issue_id', '=', issue.id).execute()) {
      add(c.author_id, 'comment');
      if (c.id === payload.comment_id) texts.push(c.body);
    }
  }
  const assignees = await app.db.selectFrom('issue_assignees').select('user_id').where('repository_id', '=', repo.id).where('number', '=', number).where('user_id', 'is not', null).execute();
  // An assignment's assignee first: "assign" is why they hear of it.
  for (const a of assignees) participants.set(a.user_id!, participants.get(a.user_id!) === 'author' ? 'author' : 'assign');
  const logins = [...new Set(texts.flatMap((t) => parseUserMentions(t).map((m) => m.login.toLowerCase())))].slice(0, 50);
  if (logins.length) for (const u of await app.db.selectFrom('users').select('id').where('lower_name', 'in', logins).execute()) participants.set(u.id, 'mention');
  // Those notified before as participants (mentioned earlier, say) stay in the thread.
  const earlier = await app.db
    .selectFrom('notifications')
    .select(['user_id', 'reason'])
    .where('repository_id', '=', repo.id)
    .where('subject_type', '=', isPull ? 'pull_request' : 'issue')
    .where('subject_number', '=', number)
    .where('reason', 'in', PARTICIPATING)
    .execute();
  for (const e of earlier) add(e.user_id, e.reason);
  return { repo, subjectType: isPull ? 'pull_request' : 'issue', subjectNumber: number, title, action, actorId, participants, watchers: true };
}
