import { rename } from 'node:fs/promises';
import type { AppContext } from './app.ts';
import type { RepositoryAccess } from './repositories.ts';
import { notFound } from './errors.ts';
import { removeRepository } from '../git/repository.ts';
import { catFilePool } from '../git/catFile.ts';
import { removeRepositoryReleaseFiles } from './releases.ts';

/**
 * Deletes a repository for good: its database rows (every table that names a repository cascades from
 * `repositories`: pull requests, issues, runs, jobs, events, graph, provenance, statuses, collaborators …)
 * its bare git directory and its release asset files. Callers require admin access first (`authorizeRepository(…, 'admin')`:
 * to anyone who cannot read the repository it does not exist, 404).
 *
 * The directory is first renamed aside, so git stops serving it at once; the rows go in one statement;
 * then the directory is removed. A crash between the steps leaves a stray directory, never rows
 * pointing at nothing (and repository creation clears a stray directory at its path).
 */
export async function removeRepositoryData(app: AppContext, access: RepositoryAccess): Promise<void> {
  const { repo, gitDir } = access;
  // Long-lived `git cat-file --batch` processes keep the old packs open: close them first.
  catFilePool.closeRepository(gitDir);
  const aside = `${gitDir}.deleting-${repo.id}-${Date.now()}`;
  let moved = true;
  try {
    await rename(gitDir, aside);
  } catch {
    moved = false; // already gone (or never created): the rows still go
  }
  const restore = async () => {
    if (moved) await rename(aside, gitDir).catch(() => {});
  };
  let deleted;
  try {
    deleted = await app.db.deleteFrom('repositories').where('id', '=', repo.id).executeTakeFirst();
  } catch (err) {
    await restore();
    throw err;
  }
  if (Number(deleted.numDeletedRows) === 0) {
    await restore();
    throw notFound('Not Found');
  }
  await removeRepository(moved ? aside : gitDir);
  await removeRepositoryReleaseFiles(app, repo.id);
  catFilePool.closeRepository(gitDir);
}
