import type { DbOrTx } from '../db/index.ts';

/**
 * Old owner/name pairs of renamed and transferred repositories (`repository_redirects`). They are
 * consulted only when no repository has the name: UI pages and API paths answer with a redirect, git
 * is served directly (see web/routes/repositoryRedirects.ts and web/routes/git.ts). A repository created
 * (or renamed) under an old name wins: its row is found first, and `dropRepositoryRedirect` removes it.
 */

/** The repository an old owner/name now is, or undefined. Never consults repositories of that name: callers do that first. */
export async function findRepositoryRedirect(db: DbOrTx, ownerName: string, repoName: string): Promise<number | undefined> {
  if (ownerName.includes('\0') || repoName.includes('\0')) return undefined;
  const row = await db
    .selectFrom('repository_redirects')
    .innerJoin('users', 'users.id', 'repository_redirects.owner_id')
    .select('repository_redirects.repository_id')
    .where('users.lower_name', '=', ownerName.toLowerCase())
    .where('repository_redirects.lower_name', '=', repoName.toLowerCase())
    .executeTakeFirst();
  return row?.repository_id;
}

/** Records that `ownerId`/`lowerName` now means `repositoryId` (replacing an older redirect of that name). */
export async function addRepositoryRedirect(db: DbOrTx, ownerId: number, lowerName: string, repositoryId: number, at: string): Promise<void> {
  await dropRepositoryRedirect(db, ownerId, lowerName);
  await db.insertInto('repository_redirects').values({ owner_id: ownerId, lower_name: lowerName, repository_id: repositoryId, created_at: at }).execute();
}

/** A repository now has this name: the redirect that used it (if any) is gone. */
export async function dropRepositoryRedirect(db: DbOrTx, ownerId: number, lowerName: string): Promise<void> {
  await db.deleteFrom('repository_redirects').where('owner_id', '=', ownerId).where('lower_name', '=', lowerName).execute();
}

/** The old names still pointing at a repository (settings shows them). */
export async function listRepositoryRedirects(db: DbOrTx, repositoryId: number): Promise<{ owner_name: string; lower_name: string; created_at: string }[]> {
  return db
    .selectFrom('repository_redirects')
    .innerJoin('users', 'users.id', 'repository_redirects.owner_id')
    .select(['users.username as owner_name', 'repository_redirects.lower_name', 'repository_redirects.created_at'])
    .where('repository_redirects.repository_id', '=', repositoryId)
    .orderBy('repository_redirects.id', 'desc')
    .execute();
}
