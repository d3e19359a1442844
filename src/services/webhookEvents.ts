/**
 * The webhook events a hook can subscribe to (GitHub's names; `run` is gitoku's agent runs) and
 * which of them an outbox event produces. Pure: the payloads are built in webhookPayloads.ts.
 */
export const WEBHOOK_EVENTS = [
  { name: 'push', description: 'Git pushes to branches and tags' },
  { name: 'create', description: 'Branch or tag created' },
  { name: 'delete', description: 'Branch or tag deleted' },
  { name: 'pull_request', description: 'Pull request opened, closed, merged, reopened, synchronized, labeled, assigned or its draft state changed' },
  { name: 'pull_request_review', description: 'Pull request review submitted' },
  { name: 'pull_request_review_comment', description: 'Comment on a pull request diff' },
  { name: 'issues', description: 'Issue opened, closed, labeled or assigned' },
  { name: 'issue_comment', description: 'Comment on an issue or pull request conversation' },
  { name: 'release', description: 'Release created, published, edited or deleted' },
  { name: 'status', description: 'Commit status created' },
  { name: 'workflow_run', description: 'Workflow run completed' },
  { name: 'run', description: 'Agent run queued, started, succeeded, failed or cancelled (gitoku)' },
] as const;

export type WebhookEventName = (typeof WEBHOOK_EVENTS)[number]['name'];

export const WEBHOOK_EVENT_NAMES: readonly string[] = WEBHOOK_EVENTS.map((e) => e.name);

/** Whether a hook subscribed to `subscribed` wants `event` (`*` is every event; `ping` always goes). */
export function hookWants(subscribed: readonly string[], event: string): boolean {
  return event === 'ping' || subscribed.includes('*') || subscribed.includes(event);
}

/** pull_request.* outbox events → the pull_request webhook's action. */
const PULL_REQUEST_ACTIONS: Record<string, string> = {
  'pull_request.opened': 'opened',
  'pull_request.closed': 'closed',
  'pull_request.merged': 'closed',
  'pull_request.reopened': 'reopened',
  'pull_request.synchronized': 'synchronize',
  'pull_request.converted_to_draft': 'converted_to_draft',
  'pull_request.ready_for_review': 'ready_for_review',
  'pull_request.edited': 'edited',
  'pull_request.labeled': 'labeled',
  'pull_request.unlabeled': 'unlabeled',
  'pull_request.assigned': 'assigned',
  'pull_request.unassigned': 'unassigned',
};

/** release.* outbox events → the release webhook's action (GitHub's names). */
const RELEASE_ACTIONS: Record<string, string> = { 'release.created': 'created', 'release.published': 'published', 'release.updated': 'edited', 'release.deleted': 'deleted' };

const RUN_ACTIONS = new Set(['queued', 'started', 'succeeded', 'failed', 'cancelled', 'blocked', 'unblocked']);
const ISSUE_ACTIONS = new Set(['opened', 'edited', 'closed', 'reopened', 'labeled', 'unlabeled', 'assigned', 'unassigned']);

/** The outbox event types this module maps (the webhook behavior listens to exactly these). */
export const WEBHOOK_SOURCE_EVENT_TYPES: readonly string[] = [
  'ref.updated',
  ...Object.keys(PULL_REQUEST_ACTIONS),
  'review.submitted',
  'pull_request.review_comment_created',
  'pull_request.comment_created',
  ...[...ISSUE_ACTIONS].map((a) => `issue.${a}`),
  'issue_comment.created',
  ...Object.keys(RELEASE_ACTIONS),
  'status.created',
  'workflow_run.completed',
  ...[...RUN_ACTIONS].map((a) => `run.${a}`),
];

export interface WebhookEventKind {
  event: WebhookEventName;
  action: string | null;
}

/** The webhook events (with their action) one outbox event produces; empty when none. */
export function webhookEventsFor(type: string, payload: Record<string, unknown>): WebhookEventKind[] {
  if (type === 'ref.updated') {
    const ref = String(payload.ref ?? '');
    if (!ref.startsWith('refs/heads/') && !ref.startsWith('refs/tags/')) return [];
    const out: WebhookEventKind[] = [];
    if (payload.created === true) out.push({ event: 'create', action: null });
    if (payload.deleted === true) out.push({ event: 'delete', action: null });
    out.push({ event: 'push', action: null });
    return out;
  }
  if (PULL_REQUEST_ACTIONS[type]) return [{ event: 'pull_request', action: PULL_REQUEST_ACTIONS[type]! }];
  if (type === 'review.submitted') return [{ event: 'pull_request_review', action: 'submitted' }];
  if (type === 'pull_request.review_comment_created') return [{ event: 'pull_request_review_comment', action: 'created' }];
  if (type === 'pull_request.comment_created') return payload.comment_id ? [{ event: 'issue_comment', action: 'created' }] : [];
  if (type === 'issue_comment.created') return [{ event: 'issue_comment', action: 'created' }];
  if (type.startsWith('issue.') && ISSUE_ACTIONS.has(type.slice(6))) return [{ event: 'issues', action: type.slice(6) }];
  if (RELEASE_ACTIONS[type]) return [{ event: 'release', action: RELEASE_ACTIONS[type]! }];
  if (type === 'status.created') return [{ event: 'status', action: null }];
  if (type === 'workflow_run.completed') return [{ event: 'workflow_run', action: 'completed' }];
  if (type.startsWith('run.') && RUN_ACTIONS.has(type.slice(4))) return [{ event: 'run', action: type.slice(4) }];
  return [];
}
