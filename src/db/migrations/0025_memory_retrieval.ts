import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../migrationHelpers.ts';

/**
 * Memory retrieval at the choke point (issue 14: retrieval + validation p95 ≤ 10 ms at 100,000 entries).
 * - `memory_citations_path_entry` (repository, path, entry): the entries citing the run's paths, newest
 *   first, read from the index in order instead of sorting every citation of a popular file; it
 *   supersedes `memory_citations_path` (its prefix).
 * - PostgreSQL: the GIN index on `memory_entries.search` without its pending list (`fastupdate = off`).
 *   With it, every text query scans the unmerged entries sequentially until (auto)vacuum merges them —
 *   ~3 ms a term after a burst of writes, for any word, even one that matches nothing. Memory is written
 *   a few entries per run, read on every run: inserts pay the index update instead. The pending list
 *   already there is merged now.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema.createIndex('memory_citations_path_entry').on('memory_citations').columns(['repository_id', 'path', 'entry_id']).execute();
  await db.schema.dropIndex('memory_citations_path').execute();
  if (dialect === 'postgres') {
    await sql`ALTER INDEX memory_entries_search SET (fastupdate = off)`.execute(db);
    await sql`SELECT gin_clean_pending_list('memory_entries_search'::regclass)`.execute(db);
  }
}
