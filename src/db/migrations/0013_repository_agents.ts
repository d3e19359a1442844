import type { Kysely } from 'kysely';
import { type Dialect, idColumn, idConstraints, timestamp } from '../migrationHelpers.ts';

/**
 * Per-repository agents (issue 15).
 * - `prompt_pull_request_jobs.agent_definition`: what the run's agent context was resolved to at its
 *   source commit (JSON: the agent's source file with its blob and last commit, its instructions, and
 *   AGENTS.md), exactly what `renderAgentPrompt` composes from.
 * - `agent_triggers`: one row per (repository, agent, event, subject) an agent was started for by
 *   routing or a mention — the dedup record (unique), with the run it started or why none was.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema.alterTable('prompt_pull_request_jobs').addColumn('agent_definition', 'text').execute();
  await db.schema
    .createTable('agent_triggers')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('agent_key', 'varchar(64)', (c) => c.notNull())
    .addColumn('event', 'varchar(64)', (c) => c.notNull())
    .addColumn('subject', 'varchar(255)', (c) => c.notNull())
    .addColumn('run_id', 'integer', (c) => c.references('prompt_pull_request_jobs.id').onDelete('set null'))
    .addColumn('outcome', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addUniqueConstraint('agent_triggers_unique', ['repository_id', 'agent_key', 'event', 'subject'])
    .execute();
}
