import type { DbOrTx } from '../db/index.ts';

export interface OutboxEvent {
  type: string;
  repositoryId: number | null;
  subject: string;
  payload: Record<string, unknown>;
}

/**
 * Appends events to the outbox (`graph_events`). Call it inside the transaction that makes the change
 * the events describe, then signal the dispatcher after commit (AppContext.signals 'events').
 */
export async function appendEvents(db: DbOrTx, events: OutboxEvent[], at: string): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto('graph_events')
    .values(
      events.map((e) => ({
        type: e.type,
        repository_id: e.repositoryId,
        subject: e.subject,
        payload: JSON.stringify(e.payload),
        created_at: at,
        dispatched_at: null,
        lease_owner: null,
        lease_expires_at: null,
      })),
    )
    .execute();
}
