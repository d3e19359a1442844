import { sql, type Kysely } from 'kysely';
import { type Dialect, idColumn, idConstraints, timestamp } from '../migrationHelpers.ts';

/**
 * Semantic memory (issue 14).
 * - `memory_entries`: one claim, decision, failure or convention of a repository, with its graph node
 *   (graph_nodes, kind = the entry's kind), normalized subject/fact keys for the contradiction check,
 *   scope (an agent key and/or path globs), source, confidence, pin, status and expiry.
 * - `memory_citations`: the file ranges an entry cites (path, lines, commit, sha-256 of the lines and the
 *   lines themselves, to find them again when they moved), indexed by path for citation overlap.
 * - Full text: SQLite FTS5 (`memory_fts`, contentless, kept by triggers; a `repo` column holds the
 *   repository's token) / PostgreSQL a generated `tsvector` column with a GIN index.
 * - `prompt_pull_request_jobs.memory_section`: the memory section exactly as it was rendered into the
 *   run's prompt (the entries it was given are `used_by` edges).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('memory_entries')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('node_id', 'integer', (c) => c.notNull())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('subject', 'varchar(512)', (c) => c.notNull())
    .addColumn('subject_key', 'varchar(512)', (c) => c.notNull())
    .addColumn('fact', 'text', (c) => c.notNull())
    .addColumn('fact_key', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('citations', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('scope_agent', 'varchar(64)')
    .addColumn('scope_paths', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('source_type', 'varchar(16)', (c) => c.notNull())
    .addColumn('source_id', 'integer')
    .addColumn('source_label', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('confidence', 'double precision', (c) => c.notNull())
    .addColumn('pinned', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('status', 'varchar(16)', (c) => c.notNull().defaultTo('live'))
    .addColumn('contradiction', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_by_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('validated_at', timestamp)
    .addColumn('expires_at', timestamp, (c) => c.notNull())
    .addColumn('updated_at', timestamp, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('memory_entries_subject').on('memory_entries').columns(['repository_id', 'subject_key']).execute();
  await db.schema.createIndex('memory_entries_recent').on('memory_entries').columns(['repository_id', 'status', 'id']).execute();
  await db.schema.createIndex('memory_entries_node').on('memory_entries').column('node_id').execute();
  await db.schema.createIndex('memory_entries_pinned').on('memory_entries').columns(['repository_id', 'pinned', 'id']).execute();
  await db.schema.createIndex('memory_entries_agent').on('memory_entries').columns(['repository_id', 'scope_agent', 'id']).execute();
  await db.schema
    .createTable('memory_citations')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('entry_id', 'integer', (c) => c.notNull().references('memory_entries.id').onDelete('cascade'))
    .addColumn('repository_id', 'integer', (c) => c.notNull())
    .addColumn('path', 'varchar(1024)', (c) => c.notNull())
    .addColumn('start_line', 'integer', (c) => c.notNull())
    .addColumn('end_line', 'integer', (c) => c.notNull())
    .addColumn('commit_sha', 'varchar(40)', (c) => c.notNull())
    .addColumn('content_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull().defaultTo(''))
    .execute();
  await db.schema.createIndex('memory_citations_path').on('memory_citations').columns(['repository_id', 'path']).execute();
  await db.schema.createIndex('memory_citations_entry').on('memory_citations').column('entry_id').execute();
  await db.schema.alterTable('prompt_pull_request_jobs').addColumn('memory_section', 'text').execute();

  if (dialect === 'sqlite') {
    await sql`CREATE VIRTUAL TABLE memory_fts USING fts5(repo, subject, fact, reason, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2')`.execute(db);
    await sql`CREATE TRIGGER memory_fts_insert AFTER INSERT ON memory_entries BEGIN
      INSERT INTO memory_fts(rowid, repo, subject, fact, reason) VALUES (new.id, 'r' || new.repository_id, new.subject, new.fact, new.reason);
    END`.execute(db);
    await sql`CREATE TRIGGER memory_fts_delete AFTER DELETE ON memory_entries BEGIN
      DELETE FROM memory_fts WHERE rowid = old.id;
    END`.execute(db);
    await sql`CREATE TRIGGER memory_fts_update AFTER UPDATE OF subject, fact, reason ON memory_entries BEGIN
      DELETE FROM memory_fts WHERE rowid = old.id;
      INSERT INTO memory_fts(rowid, repo, subject, fact, reason) VALUES (new.id, 'r' || new.repository_id, new.subject, new.fact, new.reason);
    END`.execute(db);
  } else {
    await sql`ALTER TABLE memory_entries ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('simple', subject || ' ' || fact || ' ' || reason)) STORED`.execute(db);
    await sql`CREATE INDEX memory_entries_search ON memory_entries USING gin (search)`.execute(db);
  }
}
