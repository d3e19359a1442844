import type { Kysely } from 'kysely';
import { type Dialect, idColumn, idConstraints, timestamp } from '../migrationHelpers.ts';

/**
 * Per-line AI provenance (issue 7): one row per capture — an agent turn, an ingested trailer or note —
 * attached to a commit, with the post-image line spans it wrote per file. The graph tables
 * (graph_nodes, graph_edges) already exist (0001); provenance writes them in the same transaction.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('commit_ai_contexts')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('commit_sha', 'varchar(40)', (c) => c.notNull())
    .addColumn('capture_index', 'integer', (c) => c.notNull())
    .addColumn('source_family', 'varchar(64)', (c) => c.notNull())
    .addColumn('exact_model_name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('prompt', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('thinking', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('session_id', 'varchar(255)')
    .addColumn('capture_confidence', 'double precision', (c) => c.notNull())
    .addColumn('evidence_kind', 'varchar(32)', (c) => c.notNull())
    .addColumn('modified_files', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('modified_line_spans_json', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('run_id', 'integer', (c) => c.references('prompt_pull_request_jobs.id').onDelete('set null'))
    .addColumn('details', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addUniqueConstraint('commit_ai_contexts_capture', ['repository_id', 'commit_sha', 'capture_index'])
    .execute();
  await db.schema.createIndex('commit_ai_contexts_run').on('commit_ai_contexts').column('run_id').execute();
}
