import { sql } from 'kysely';
import type { AppContext } from '../services/app.ts';

/**
 * Wakes event dispatchers after a transaction that wrote events committed: in this process at once,
 * and in every other instance through NOTIFY gitoku_events on PostgreSQL (one per call).
 */
export function wakeDispatcher(app: AppContext): void {
  app.signals.emit('events');
  if (app.dialect === 'postgres' && !app.isClosing()) {
    sql`select pg_notify('gitoku_events', '')`.execute(app.db).catch(() => undefined);
  }
}
