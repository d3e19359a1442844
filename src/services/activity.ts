import { type SqlBool, sql } from 'kysely';
import type { AppContext } from './app.ts';

/** Outbox event types the dashboard shows: pushes, pull requests, reviews and runs. */
export const ACTIVITY_EVENT_TYPES = [
  'ref.updated',
  'pull_request.opened',
  'pull_request.closed',
  'pull_request.reopened',
  'pull_request.merged',
  'review.submitted',
  'run.queued',
  'run.succeeded',
  'run.failed',
  'run.cancelled',
  'workflow_run.completed',
] as const;

export interface ActivityItem {
  id: number;
  type: string;
  createdAt: string;
  owner: string;
  repo: string;
  isPrivate: boolean;
  /** Who did it (the event's actor_id), when known. */
  actor: string | null;
  subject: string;
  /** The pull request's or run's title, for events about one. */
  title: string | null;
  payload: Record<string, unknown>;
}

/**
 * Recent activity across the repositories a user owns or collaborates on, newest first, read from the
 * outbox (`graph_events`) in one query: the event, its repository, its actor and the title of the pull
 * request or run it is about. Pushes are branch and tag updates only (not gitoku's internal refs).
 */
export async function recentActivity(app: AppContext, userId: number, limit = 30): Promise<ActivityItem[]> {
  const actorId = app.dialect === 'postgres' ? sql`nullif(graph_events.payload::jsonb->>'actor_id', '')::integer` : sql`json_extract(graph_events.payload, '$.actor_id')`;
  const rows = await app.db
    .selectFrom('graph_events')
    .innerJoin('repositories', 'repositories.id', 'graph_events.repository_id')
    .innerJoin('users as owner', 'owner.id', 'repositories.owner_id')
    .leftJoin('users as actor', (join) => join.on(sql<SqlBool>`actor.id = ${actorId}`))
    .leftJoin('pull_requests', (join) => join.onRef('pull_requests.repository_id', '=', 'graph_events.repository_id').on(sql<SqlBool>`graph_events.subject = 'pull/' || pull_requests.number`))
    .leftJoin('prompt_pull_request_jobs as run', (join) => join.onRef('run.repository_id', '=', 'graph_events.repository_id').on(sql<SqlBool>`graph_events.subject = 'run/' || run.number`))
    .where('graph_events.type', 'in', [...ACTIVITY_EVENT_TYPES])
    .where((eb) =>
      eb.or([
        eb('repositories.owner_id', '=', userId),
        eb.exists(eb.selectFrom('collaborators').select('collaborators.user_id').whereRef('collaborators.repository_id', '=', 'repositories.id').where('collaborators.user_id', '=', userId)),
      ]),
    )
    .where((eb) => eb.or([eb('graph_events.type', '<>', 'ref.updated'), eb('graph_events.subject', 'like', 'refs/heads/%'), eb('graph_events.subject', 'like', 'refs/tags/%')]))
    .select([
      'graph_events.id',
      'graph_events.type',
      'graph_events.created_at',
      'graph_events.subject',
      'graph_events.payload',
      'owner.username as owner',
      'repositories.name as repo',
      'repositories.is_private',
      'actor.username as actor',
      'pull_requests.title as pull_title',
      'run.title as run_title',
    ])
    .orderBy('graph_events.id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    type: r.type,
    createdAt: r.created_at,
    owner: r.owner,
    repo: r.repo,
    isPrivate: r.is_private === 1,
    actor: r.actor ?? null,
    subject: r.subject,
    title: r.pull_title ?? r.run_title ?? null,
    payload: parsePayload(r.payload),
  }));
}

function parsePayload(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
