import type { Kysely } from 'kysely';

/**
 * The pull request that brought a capture's commit: a run's pull request, the pull request a squash or
 * rebase merge carried it through, or — for provenance ingested from outside — the pull request opened
 * on (or later updated with) the commit.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('commit_ai_contexts').addColumn('pull_request_id', 'integer', (c) => c.references('pull_requests.id').onDelete('set null')).execute();
}
