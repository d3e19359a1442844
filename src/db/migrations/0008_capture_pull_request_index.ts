import type { Kysely } from 'kysely';

/** Finding a repository's captures not yet linked to a pull request (commitsToLink) without a scan. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('commit_ai_contexts_pull_request').on('commit_ai_contexts').columns(['repository_id', 'pull_request_id']).execute();
}
