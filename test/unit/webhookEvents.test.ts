import { describe, expect, it } from 'vitest';
import { hookWants, WEBHOOK_SOURCE_EVENT_TYPES, webhookEventsFor } from '../../src/services/webhookEvents.ts';
import { loadConfig } from '../../src/config/index.ts';

const ZERO = '0'.repeat(40);
const SHA = 'a'.repeat(40);

describe('outbox events → webhook events', () => {
  it('maps ref changes to push, create and delete (branches and tags only)', () => {
    expect(webhookEventsFor('ref.updated', { ref: 'refs/heads/main', before: SHA, after: SHA, created: false, deleted: false })).toEqual([{ event: 'push', action: null }]);
    expect(webhookEventsFor('ref.updated', { ref: 'refs/heads/new', before: ZERO, after: SHA, created: true, deleted: false }).map((k) => k.event)).toEqual(['create', 'push']);
    expect(webhookEventsFor('ref.updated', { ref: 'refs/tags/v1', before: SHA, after: ZERO, created: false, deleted: true }).map((k) => k.event)).toEqual(['delete', 'push']);
    expect(webhookEventsFor('ref.updated', { ref: 'refs/notes/commits', created: false, deleted: false })).toEqual([]);
    expect(webhookEventsFor('ref.updated', { ref: 'refs/gitoku/runs/1/step-2' })).toEqual([]);
  });

  it('maps pull requests, reviews, comments, issues, statuses, workflow and agent runs', () => {
    expect(webhookEventsFor('pull_request.opened', {})).toEqual([{ event: 'pull_request', action: 'opened' }]);
    expect(webhookEventsFor('pull_request.merged', {})).toEqual([{ event: 'pull_request', action: 'closed' }]);
    expect(webhookEventsFor('pull_request.synchronized', {})).toEqual([{ event: 'pull_request', action: 'synchronize' }]);
    expect(webhookEventsFor('pull_request.base_moved', {})).toEqual([]);
    expect(webhookEventsFor('review.submitted', {})).toEqual([{ event: 'pull_request_review', action: 'submitted' }]);
    expect(webhookEventsFor('pull_request.review_comment_created', {})).toEqual([{ event: 'pull_request_review_comment', action: 'created' }]);
    expect(webhookEventsFor('pull_request.comment_created', { comment_id: 3 })).toEqual([{ event: 'issue_comment', action: 'created' }]);
    expect(webhookEventsFor('pull_request.comment_created', {})).toEqual([]); // a bot's note without a comment id
    expect(webhookEventsFor('issue.labeled', {})).toEqual([{ event: 'issues', action: 'labeled' }]);
    expect(webhookEventsFor('issue_comment.created', {})).toEqual([{ event: 'issue_comment', action: 'created' }]);
    expect(webhookEventsFor('status.created', {})).toEqual([{ event: 'status', action: null }]);
    expect(webhookEventsFor('workflow_run.completed', {})).toEqual([{ event: 'workflow_run', action: 'completed' }]);
    expect(webhookEventsFor('run.succeeded', {})).toEqual([{ event: 'run', action: 'succeeded' }]);
    expect(webhookEventsFor('run.exploded', {})).toEqual([]);
    for (const type of WEBHOOK_SOURCE_EVENT_TYPES) if (type !== 'pull_request.comment_created' && type !== 'ref.updated') expect(webhookEventsFor(type, {}).length, type).toBe(1);
  });

  it('matches subscriptions: named events, "*", and ping always', () => {
    expect(hookWants(['push'], 'push')).toBe(true);
    expect(hookWants(['push'], 'pull_request')).toBe(false);
    expect(hookWants(['*'], 'workflow_run')).toBe(true);
    expect(hookWants(['status'], 'ping')).toBe(true);
  });
});

describe('webhook target configuration', () => {
  it('reads the allowance and names a bad entry', () => {
    const config = loadConfig({ GITOKU_WEBHOOK_ALLOW_PRIVATE: 'true', GITOKU_WEBHOOK_ALLOWED_HOSTS: 'ci.internal, 10.0.0.0/8' });
    expect(config.webhooks.allowPrivate).toBe(true);
    expect(config.webhooks.allowedHosts).toEqual(['ci.internal']);
    expect(config.webhooks.allowedRanges).toHaveLength(1);
    expect(loadConfig({}).webhooks).toEqual({ allowPrivate: false, allowedHosts: [], allowedRanges: [] });
    expect(() => loadConfig({ GITOKU_WEBHOOK_ALLOWED_HOSTS: '10.0.0.0/99' })).toThrow(/GITOKU_WEBHOOK_ALLOWED_HOSTS=.*10\.0\.0\.0\/99/);
    expect(() => loadConfig({ GITOKU_WEBHOOK_ALLOW_PRIVATE: 'maybe' })).toThrow(/GITOKU_WEBHOOK_ALLOW_PRIVATE/);
  });
});
