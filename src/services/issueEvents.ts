import type { DbOrTx } from '../db/index.ts';
import type { OutboxEvent } from '../events/outbox.ts';

/**
 * The two records every issue change writes inside its transaction: an outbox event (`issue.*`,
 * subject `issue/N`, payload with the ids webhooks need) and a timeline entry (`issue_events`).
 */

/** What a change is about: an issue, or a pull request addressed by its number through the issue API. */
export interface IssueTarget {
  repository_id: number;
  number: number;
  issue_id: number | null;
  pull_request_id?: number | null;
}

/** An outbox event about issue (or pull request, by number) `number`: subject `issue/N`. */
export function issueEvent(type: string, target: IssueTarget, actorId: number | null, extra: Record<string, unknown> = {}): OutboxEvent {
  return {
    type,
    repositoryId: target.repository_id,
    subject: `issue/${target.number}`,
    payload: { issue_id: target.issue_id, number: target.number, ...(target.pull_request_id ? { pull_request_id: target.pull_request_id } : {}), actor_id: actorId, ...extra },
  };
}

export interface TimelineEntryInput {
  event: string;
  data?: Record<string, unknown>;
  /** Recorded once per (issue, key): a second entry with the same key is dropped. */
  dedupKey?: string | null;
  actorId: number | null;
}

/** Adds timeline entries to issue (or pull request) `number`; returns how many were new. */
export async function recordTimeline(db: DbOrTx, repositoryId: number, number: number, entries: TimelineEntryInput[], at: string): Promise<number> {
  let added = 0;
  for (const e of entries) {
    const res = await db
      .insertInto('issue_events')
      .values({ repository_id: repositoryId, number, event: e.event, actor_id: e.actorId, data: JSON.stringify(e.data ?? {}), dedup_key: e.dedupKey ?? null, created_at: at })
      .onConflict((oc) => oc.columns(['repository_id', 'number', 'dedup_key']).doNothing())
      .executeTakeFirst();
    added += Number(res.numInsertedOrUpdatedRows ?? 0);
  }
  return added;
}

/** The issue or pull request numbered `number` in a repository, as a target; null when neither exists. */
export async function findIssueTarget(db: DbOrTx, repositoryId: number, number: number): Promise<(IssueTarget & { kind: 'issue' | 'pull' }) | null> {
  if (!Number.isSafeInteger(number) || number < 1 || number > 2_147_483_647) return null;
  const issue = await db.selectFrom('issues').select('id').where('repository_id', '=', repositoryId).where('number', '=', number).executeTakeFirst();
  if (issue) return { kind: 'issue', repository_id: repositoryId, number, issue_id: issue.id, pull_request_id: null };
  const pr = await db.selectFrom('pull_requests').select('id').where('repository_id', '=', repositoryId).where('number', '=', number).executeTakeFirst();
  return pr ? { kind: 'pull', repository_id: repositoryId, number, issue_id: null, pull_request_id: pr.id } : null;
}
