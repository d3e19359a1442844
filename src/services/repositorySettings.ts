import { mkdir, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { ServiceError, invalid } from './errors.ts';
import { type RepositoryAccess, type RepositoryWithOwner, findRepository, findRepositoryById } from './repositories.ts';
import { addRepositoryRedirect, dropRepositoryRedirect } from './repositoryRedirects.ts';
import { findUserByName, isUniqueViolation } from './users.ts';
import type { User } from '../db/schema.ts';
import { checkRepositoryName } from '../domain/names.ts';
import { roleAtLeast } from '../domain/permissions.ts';
import { removeRepository } from '../git/repository.ts';
import { catFilePool } from '../git/catFile.ts';
import { invalidateRefMap } from '../git/refCache.ts';
import { appendEvents } from '../events/outbox.ts';
import { wakeDispatcher } from '../events/wake.ts';

/**
 * Repository settings that move or freeze a repository (issue 18): rename, transfer, archive. Callers
 * hold admin access (`authorizeRepository(…, 'admin')`). A rename or transfer moves the bare directory
 * (one `rename(2)` on the same filesystem) and the row's name/owner/storage path in one transaction,
 * and leaves a redirect from the old owner/name; if the transaction fails the directory moves back.
 */

function storagePathFor(owner: Pick<User, 'lower_name'>, name: string): string {
  return join('repos', owner.lower_name, `${name.toLowerCase()}.git`);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function moveRepository(app: AppContext, access: RepositoryAccess, newOwner: User, newName: string, actorId: number, eventType: 'repository.renamed' | 'repository.transferred'): Promise<RepositoryWithOwner> {
  const { repo } = access;
  const check = checkRepositoryName(newName);
  if (!check.ok) throw invalid(check.reason, 'name');
  if (newOwner.id === repo.owner_id && newName === repo.name) return repo;
  const taken = await findRepository(app.db, newOwner.username, newName);
  if (taken && taken.id !== repo.id) throw invalid(`${newOwner.username}/${newName} already exists`, eventType === 'repository.renamed' ? 'name' : 'new_owner');

  const storagePath = storagePathFor(newOwner, newName);
  const oldDir = access.gitDir;
  const newDir = join(app.config.dataDir, storagePath);
  const moveDir = storagePath !== repo.storage_path;
  if (moveDir) {
    // No repository row has this name (checked above), so a directory there is a leftover of a crashed
    // creation, as createRepository also assumes: it is cleared.
    if (await exists(newDir)) {
      const owner = await app.db.selectFrom('repositories').select('id').where('storage_path', '=', storagePath).executeTakeFirst();
      if (owner) throw new ServiceError(409, `${newOwner.username}/${newName} is in use`);
      await removeRepository(newDir);
    }
    await mkdir(dirname(newDir), { recursive: true });
    catFilePool.closeRepository(oldDir);
    await rename(oldDir, newDir);
  }
  const at = now();
  try {
    await app.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('repositories')
        .set({ owner_id: newOwner.id, name: newName, lower_name: newName.toLowerCase(), storage_path: storagePath, updated_at: at })
        .where('id', '=', repo.id)
        .execute();
      await dropRepositoryRedirect(tx, newOwner.id, newName.toLowerCase());
      if (newOwner.id !== repo.owner_id || newName.toLowerCase() !== repo.lower_name) await addRepositoryRedirect(tx, repo.owner_id, repo.lower_name, repo.id, at);
      // The new owner has admin access as the owner: a collaborator row of theirs would only confuse.
      if (newOwner.id !== repo.owner_id) await tx.deleteFrom('collaborators').where('repository_id', '=', repo.id).where('user_id', '=', newOwner.id).execute();
      await appendEvents(
        tx,
        [
          {
            type: eventType,
            repositoryId: repo.id,
            subject: String(repo.id),
            payload: { actor_id: actorId, from: { owner: repo.owner_name, name: repo.name }, to: { owner: newOwner.username, name: newName } },
          },
        ],
        at,
      );
    });
  } catch (err) {
    if (moveDir) await rename(newDir, oldDir).catch((e: unknown) => console.error(`could not move ${newDir} back to ${oldDir}:`, e));
    if (isUniqueViolation(err)) throw invalid(`${newOwner.username}/${newName} already exists`, 'name');
    throw err;
  } finally {
    // Caches keyed by the directory: the old path may later hold another repository.
    invalidateRefMap(oldDir);
    invalidateRefMap(newDir);
    catFilePool.closeRepository(oldDir);
  }
  wakeDispatcher(app);
  return (await findRepositoryById(app.db, repo.id))!;
}

/** Renames a repository; `owner/old` keeps working (UI and API redirect, git is served). 422 on an invalid or taken name. */
export async function renameRepository(app: AppContext, access: RepositoryAccess, newName: string, actorId: number): Promise<RepositoryWithOwner> {
  return moveRepository(app, access, await ownerOf(app, access), newName.trim(), actorId, 'repository.renamed');
}

async function ownerOf(app: AppContext, access: RepositoryAccess): Promise<User> {
  return (await app.db.selectFrom('users').selectAll().where('id', '=', access.repo.owner_id).executeTakeFirstOrThrow());
}

/**
 * Transfers a repository to another user (optionally under a new name). The receiving user must exist
 * (422 otherwise) and not have a repository of that name (422); collaborators are kept, the old
 * owner/name redirects.
 */
export async function transferRepository(app: AppContext, access: RepositoryAccess, newOwnerName: string, actorId: number, newName?: string): Promise<RepositoryWithOwner> {
  const name = newOwnerName.trim();
  const newOwner = name && !name.includes('\0') ? await findUserByName(app.db, name) : undefined;
  if (!newOwner) throw invalid(name ? `user "${name}" does not exist` : 'new_owner is required', 'new_owner');
  if (newOwner.id === access.repo.owner_id && (newName === undefined || newName === access.repo.name)) throw invalid(`${newOwner.username} already owns ${access.repo.owner_name}/${access.repo.name}`, 'new_owner');
  return moveRepository(app, access, newOwner, (newName ?? access.repo.name).trim(), actorId, 'repository.transferred');
}

/** Archives (read-only for everyone) or unarchives a repository. */
export async function setRepositoryArchived(app: AppContext, access: RepositoryAccess, archived: boolean): Promise<RepositoryWithOwner> {
  if (!roleAtLeast(access.role, 'admin')) throw new ServiceError(403, 'You need admin access to archive a repository');
  if ((access.repo.archived === 1) !== archived) {
    const at = now();
    await app.db.transaction().execute(async (tx) => {
      await tx.updateTable('repositories').set({ archived: archived ? 1 : 0, updated_at: at }).where('id', '=', access.repo.id).execute();
      await appendEvents(tx, [{ type: archived ? 'repository.archived' : 'repository.unarchived', repositoryId: access.repo.id, subject: String(access.repo.id), payload: {} }], at);
    });
    wakeDispatcher(app);
  }
  return (await findRepositoryById(app.db, access.repo.id))!;
}
