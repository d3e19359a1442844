import { sql } from 'kysely';
import type { DbOrTx } from '../db/index.ts';

/**
 * The repository's next issue-or-pull-request number (GitHub's and Gitea's one sequence: `#12` is an
 * issue or a pull request, never both): one atomic increment of the 'issue' counter, seeded from the
 * highest number either table holds. Called inside the transaction that inserts the row, so a rolled
 * back insert gives its number back.
 */
export async function nextIssueNumber(db: DbOrTx, repositoryId: number): Promise<number> {
  const row = await db
    .insertInto('repository_counters')
    .values({
      repository_id: repositoryId,
      kind: 'issue',
      value: sql<number>`(select coalesce(max(n), 0) + 1 from (select number as n from pull_requests where repository_id = ${repositoryId} union all select number as n from issues where repository_id = ${repositoryId}) as numbers)`,
    })
    .onConflict((oc) => oc.columns(['repository_id', 'kind']).doUpdateSet({ value: sql<number>`repository_counters.value + 1` }))
    .returning('value')
    .executeTakeFirstOrThrow();
  return Number(row.value);
}
