import { sql } from 'kysely';
import type { AppContext } from './app.ts';
import type { DbOrTx } from '../db/index.ts';
import type { Dialect } from '../db/migrationHelpers.ts';
import { enqueueJob, findQueuedJob } from './jobs.ts';
import { registerServerJobKind, type ServerJobOutcome } from './jobKinds.ts';

/**
 * Upkeep of memory's full-text index, as a server job after writes (never in the write path):
 * - SQLite: FTS5 writes each transaction's entries as a new segment and merges them only level by level,
 *   so a store written over time holds many segments, and every MATCH reads the repository token's
 *   doclist (one posting per entry) from each of them. Incremental merges (`'merge', -N`: a bounded amount
 *   of work per statement, so writers wait for short steps only) bring the index down to one segment;
 *   at 100,000 entries a term's match then costs ~0.05 ms of CPU instead of ~0.25 ms.
 * - PostgreSQL: ANALYZE of memory_entries, whose statistics (the most common lexemes of `search`) decide
 *   how retrieval walks a term (memoryRetrieval.ts); autovacuum's own ANALYZE waits for 10% of the table
 *   to change.
 * Debounced: a write schedules a pass a little later unless one is waiting, which then covers it.
 */

export const MEMORY_INDEX_JOB_KIND = 'memory.index';

/** GITOKU_MEMORY_INDEX_DELAY_MS (default 30 s): writes in a burst (a run's entries, a bulk import) share one pass. */
export function memoryIndexDelayMs(): number {
  const raw = Number(process.env.GITOKU_MEMORY_INDEX_DELAY_MS);
  return process.env.GITOKU_MEMORY_INDEX_DELAY_MS !== undefined && Number.isFinite(raw) && raw >= 0 ? raw : 30_000;
}

/** Pages merged per statement: each step holds the write lock for a few milliseconds. */
const MERGE_PAGES = 200;
/** A bound on the steps of one pass (a pass that stops early leaves the rest to the next one). */
const MAX_STEPS = 10_000;

/** Schedules a pass unless one is already waiting; in the caller's transaction (the write it follows). */
export async function scheduleMemoryIndexMaintenance(db: DbOrTx): Promise<'scheduled' | 'already scheduled'> {
  const waiting = await findQueuedJob(db, MEMORY_INDEX_JOB_KIND);
  if (waiting) return 'already scheduled';
  await enqueueJob(db, { kind: MEMORY_INDEX_JOB_KIND, repositoryId: null, payload: {}, maxAttempts: 3, runAfter: new Date(Date.now() + memoryIndexDelayMs()) });
  return 'scheduled';
}

export interface MemoryIndexPass {
  /** Merge statements run (SQLite) or 1 (PostgreSQL's ANALYZE). */
  steps: number;
  ms: number;
  /** False when the pass stopped at its bound or was aborted with merging left to do. */
  complete: boolean;
}

/** One maintenance pass (also what a bulk import or a benchmark calls after loading entries). */
export async function maintainMemoryIndex(db: DbOrTx, dialect: Dialect, signal?: AbortSignal): Promise<MemoryIndexPass> {
  const t0 = performance.now();
  if (dialect === 'postgres') {
    await sql`analyze memory_entries`.execute(db);
    return { steps: 1, ms: performance.now() - t0, complete: true };
  }
  const totalChanges = async (tx: DbOrTx) => Number((await sql<{ n: number }>`select total_changes() as n`.execute(tx)).rows[0]!.n);
  // One step: a merge statement, and whether it did anything — FTS5 reports work as a change count of 2
  // or more. In one transaction, so no other write on the connection counts in between.
  const step = async (tx: DbOrTx) => {
    const before = await totalChanges(tx);
    // A negative page count merges segments of every level (towards one segment), not only full levels.
    await sql`insert into memory_fts(memory_fts, rank) values('merge', ${-MERGE_PAGES})`.execute(tx);
    return (await totalChanges(tx)) - before >= 2;
  };
  let steps = 0;
  while (steps < MAX_STEPS) {
    if (signal?.aborted) return { steps, ms: performance.now() - t0, complete: false };
    const worked = db.isTransaction ? await step(db) : await db.transaction().execute(step);
    steps++;
    if (!worked) return { steps, ms: performance.now() - t0, complete: true };
  }
  return { steps, ms: performance.now() - t0, complete: false };
}

async function executeMemoryIndex(app: AppContext, _job: unknown, signal: AbortSignal): Promise<ServerJobOutcome> {
  const pass = await maintainMemoryIndex(app.db, app.dialect, signal);
  return { status: 'succeeded', result: { steps: pass.steps, ms: Math.round(pass.ms), complete: pass.complete } };
}

registerServerJobKind(MEMORY_INDEX_JOB_KIND, { execute: executeMemoryIndex });
