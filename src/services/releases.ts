import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppContext } from './app.ts';
import { now } from './app.ts';
import type { DbOrTx } from '../db/index.ts';
import type { Release, ReleaseAsset } from '../db/schema.ts';
import type { RepositoryAccess } from './repositories.ts';
import { invalid, notFound, ServiceError } from './errors.ts';
import { handleRepositoryRefChanges, type RefChange } from './refChanges.ts';
import { isUniqueViolation } from './users.ts';
import { appendEvents } from '../events/outbox.ts';
import { wakeDispatcher } from '../events/wake.ts';
import { isSafeRevision, isValidRefName, ZERO_SHA } from '../domain/refs.ts';
import { roleAtLeast } from '../domain/permissions.ts';
import { resolveCommit } from '../git/tree.ts';
import { resolveRef } from '../git/refs.ts';
import { runGit } from '../git/exec.ts';

/**
 * Releases on tags, as GitHub has them: a title and markdown notes on a tag, draft or published,
 * optionally a prerelease, with uploaded assets (services/releaseAssets.ts). Publishing a release
 * whose tag does not exist creates the tag at target_commitish through the ref-change ingress, in the
 * same transaction as the release; drafts create no tag and are seen only by those who can write.
 */

export interface ReleaseUser {
  id: number;
  username: string;
  is_admin: number;
}

export interface AssetRecord extends ReleaseAsset {
  uploader: ReleaseUser | null;
}

export interface ReleaseRecord extends Release {
  author: ReleaseUser | null;
  assets: AssetRecord[];
}

export const RELEASE_LIMITS = { name: 255, body: 125_000, tag: 255, target: 255 } as const;

/** Whether a viewer's role lets them see drafts (and create, edit, delete releases): write access. */
export function canManageReleases(access: RepositoryAccess): boolean {
  return roleAtLeast(access.role, 'write');
}

function selectReleases(db: DbOrTx) {
  return db
    .selectFrom('releases')
    .leftJoin('users', 'users.id', 'releases.author_id')
    .selectAll('releases')
    .select(['users.username as author_username', 'users.is_admin as author_is_admin']);
}

type ReleaseRow = Release & { author_username: string | null; author_is_admin: number | null };

async function withAssets(db: DbOrTx, rows: ReleaseRow[]): Promise<ReleaseRecord[]> {
  if (rows.length === 0) return [];
  const assets = await db
    .selectFrom('release_assets')
    .leftJoin('users', 'users.id', 'release_assets.uploader_id')
    .selectAll('release_assets')
    .select(['users.username as uploader_username', 'users.is_admin as uploader_is_admin'])
    .where(
      'release_assets.release_id',
      'in',
      rows.map((r) => r.id),
    )
    .where('release_assets.state', '=', 'uploaded')
    .orderBy('release_assets.id')
    .execute();
  return rows.map(({ author_username, author_is_admin, ...release }) => ({
    ...release,
    author: release.author_id !== null && author_username !== null ? { id: release.author_id, username: author_username, is_admin: author_is_admin ?? 0 } : null,
    assets: assets
      .filter((a) => a.release_id === release.id)
      .map(({ uploader_username, uploader_is_admin, ...asset }) => ({
        ...asset,
        size: Number(asset.size),
        uploader: asset.uploader_id !== null && uploader_username !== null ? { id: asset.uploader_id, username: uploader_username, is_admin: uploader_is_admin ?? 0 } : null,
      })),
  }));
}

/** A repository's releases, newest first; drafts only for those who can write. */
export async function listReleases(app: AppContext, access: RepositoryAccess, opts: { page: number; perPage: number }): Promise<{ items: ReleaseRecord[]; total: number }> {
  const drafts = canManageReleases(access);
  const rows = await selectReleases(app.db)
    .where('releases.repository_id', '=', access.repo.id)
    .$if(!drafts, (q) => q.where('releases.draft', '=', 0))
    .orderBy('releases.created_at', 'desc')
    .orderBy('releases.id', 'desc')
    .limit(opts.perPage)
    .offset((opts.page - 1) * opts.perPage)
    .execute();
  const count = await app.db
    .selectFrom('releases')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('repository_id', '=', access.repo.id)
    .$if(!drafts, (q) => q.where('draft', '=', 0))
    .executeTakeFirstOrThrow();
  return { items: await withAssets(app.db, rows), total: Number(count.n) };
}

/** The published release of each tag that has one (for the tags page). */
export async function releasesByTag(app: AppContext, access: RepositoryAccess): Promise<Map<string, { id: number; name: string; prerelease: boolean }>> {
  const rows = await app.db.selectFrom('releases').select(['id', 'tag_name', 'name', 'prerelease']).where('repository_id', '=', access.repo.id).where('draft', '=', 0).execute();
  return new Map(rows.map((r) => [r.tag_name, { id: r.id, name: r.name, prerelease: r.prerelease === 1 }]));
}

/** One release by id; a draft is a 404 to those who cannot write, as is a release of another repository. */
export async function getRelease(app: AppContext, access: RepositoryAccess, id: number, db: DbOrTx = app.db): Promise<ReleaseRecord> {
  if (!Number.isSafeInteger(id) || id < 1) throw notFound('Not Found');
  const row = await selectReleases(db).where('releases.id', '=', id).where('releases.repository_id', '=', access.repo.id).executeTakeFirst();
  if (!row || (row.draft === 1 && !canManageReleases(access))) throw notFound('Not Found');
  return (await withAssets(db, [row]))[0]!;
}

/** The published release of a tag (GitHub's /releases/tags/{tag}: drafts are not found by tag). */
export async function getReleaseByTag(app: AppContext, access: RepositoryAccess, tag: string): Promise<ReleaseRecord> {
  if (tag.includes('\0')) throw notFound('Not Found');
  const row = await selectReleases(app.db).where('releases.repository_id', '=', access.repo.id).where('releases.tag_name', '=', tag).where('releases.draft', '=', 0).executeTakeFirst();
  if (!row) throw notFound('Not Found');
  return (await withAssets(app.db, [row]))[0]!;
}

/** The latest published full release: not a draft, not a prerelease, most recently published. */
export async function getLatestRelease(app: AppContext, access: RepositoryAccess): Promise<ReleaseRecord> {
  const row = await selectReleases(app.db)
    .where('releases.repository_id', '=', access.repo.id)
    .where('releases.draft', '=', 0)
    .where('releases.prerelease', '=', 0)
    .orderBy('releases.published_at', 'desc')
    .orderBy('releases.id', 'desc')
    .executeTakeFirst();
  if (!row) throw notFound('Not Found');
  return (await withAssets(app.db, [row]))[0]!;
}

function checkTagName(tag: string): void {
  if (tag.length === 0) throw invalid('tag_name is required', 'tag_name');
  if (tag.length > RELEASE_LIMITS.tag || tag.startsWith('-') || !isValidRefName(`refs/tags/${tag}`)) throw invalid(`"${tag}" is not a valid tag name`, 'tag_name');
}

function checkText(name: string | undefined, body: string | undefined): void {
  if (name !== undefined && name.length > RELEASE_LIMITS.name) throw invalid(`name is too long (maximum is ${RELEASE_LIMITS.name} characters)`, 'name');
  if (body !== undefined && body.length > RELEASE_LIMITS.body) throw invalid(`body is too long (maximum is ${RELEASE_LIMITS.body} characters)`, 'body');
}

/** The commit a target_commitish names: a branch (preferred) or a commit id. */
async function resolveTarget(access: RepositoryAccess, target: string): Promise<string> {
  const bad = invalid(`target_commitish "${target}" names no branch or commit`, 'target_commitish');
  if (target.length > RELEASE_LIMITS.target || !isSafeRevision(target)) throw bad;
  const sha = (await resolveCommit(access.gitDir, `refs/heads/${target}`).catch(() => null)) ?? (/^[0-9a-f]{4,40}$/i.test(target) ? await resolveCommit(access.gitDir, target.toLowerCase()) : null);
  if (!sha) throw bad;
  return sha;
}

/**
 * The tag a published release needs: when it exists, nothing to do (null); else it is created here at
 * the target (create-only, so a tag pushed meanwhile wins) and the change returned for the ingress.
 */
async function ensureTag(access: RepositoryAccess, tag: string, target: string): Promise<RefChange | null> {
  const ref = `refs/tags/${tag}`;
  if (await resolveRef(access.gitDir, ref)) return null;
  if (access.repo.is_empty === 1) throw invalid('the repository is empty: push a commit before tagging a release', 'target_commitish');
  const sha = await resolveTarget(access, target);
  const r = await runGit(['update-ref', '--end-of-options', ref, sha, ZERO_SHA], { gitDir: access.gitDir });
  if (r.code !== 0) {
    // Created by someone else between the check and here: use theirs.
    if (await resolveRef(access.gitDir, ref)) return null;
    throw new ServiceError(409, `could not create the tag ${tag}; try again`);
  }
  return { ref, before: ZERO_SHA, after: sha };
}

/** Undoes a tag this service created when the release that needed it could not be stored. */
async function dropCreatedTag(access: RepositoryAccess, change: RefChange | null): Promise<void> {
  if (change) await runGit(['update-ref', '-d', '--end-of-options', change.ref, change.after], { gitDir: access.gitDir });
}

export interface ReleaseInput {
  tagName?: string;
  targetCommitish?: string;
  name?: string;
  body?: string;
  draft?: boolean;
  prerelease?: boolean;
}

function releaseEvent(access: RepositoryAccess, type: string, release: Pick<Release, 'id' | 'tag_name' | 'name' | 'draft' | 'prerelease'>, actorId: number) {
  return {
    type,
    repositoryId: access.repo.id,
    subject: `release/${release.id}`,
    payload: { release_id: release.id, tag_name: release.tag_name, name: release.name, draft: release.draft === 1, prerelease: release.prerelease === 1, actor_id: actorId },
  };
}

function alreadyExists(tag: string): ServiceError {
  return new ServiceError(422, `a published release for the tag ${tag} already exists`, 'tag_name');
}

/**
 * Creates a release (needs write access). A published one whose tag is missing creates the tag at
 * target_commitish (default: the default branch) through the ref-change ingress in its transaction;
 * events: release.created, and release.published unless it is a draft.
 */
export async function createRelease(app: AppContext, access: RepositoryAccess, actorId: number, input: ReleaseInput): Promise<ReleaseRecord> {
  if (!canManageReleases(access)) throw new ServiceError(403, `You need write access to ${access.repo.owner_name}/${access.repo.name} to create a release`);
  const tag = input.tagName ?? '';
  checkTagName(tag);
  checkText(input.name, input.body);
  const draft = input.draft === true;
  const target = input.targetCommitish || access.repo.default_branch;
  // Checked up front even when the tag exists, so a bad target is a clear 422 and never stored.
  if (target.length > RELEASE_LIMITS.target || !isSafeRevision(target)) throw invalid(`target_commitish "${target}" names no branch or commit`, 'target_commitish');
  const tagExists = !!(await resolveRef(access.gitDir, `refs/tags/${tag}`));
  if (!tagExists) await resolveTarget(access, target);
  if (!draft && (await app.db.selectFrom('releases').select('id').where('repository_id', '=', access.repo.id).where('tag_name', '=', tag).where('draft', '=', 0).executeTakeFirst())) throw alreadyExists(tag);

  const tagChange = draft ? null : await ensureTag(access, tag, target);
  const at = now();
  let id: number;
  try {
    id = await app.db.transaction().execute(async (tx) => {
      const row = await tx
        .insertInto('releases')
        .values({
          repository_id: access.repo.id,
          tag_name: tag,
          target_commitish: target,
          name: input.name ?? '',
          body: input.body ?? '',
          draft: draft ? 1 : 0,
          prerelease: input.prerelease ? 1 : 0,
          author_id: actorId,
          created_at: at,
          updated_at: at,
          published_at: draft ? null : at,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      if (tagChange) await handleRepositoryRefChanges(app, access.repo, [tagChange], { kind: 'api', actorId, details: { release_id: row.id } }, tx);
      await appendEvents(tx, draft ? [releaseEvent(access, 'release.created', row, actorId)] : [releaseEvent(access, 'release.created', row, actorId), releaseEvent(access, 'release.published', row, actorId)], at);
      return row.id;
    });
  } catch (err) {
    await dropCreatedTag(access, tagChange);
    if (isUniqueViolation(err)) throw alreadyExists(tag);
    throw err;
  }
  wakeDispatcher(app);
  return getRelease(app, access, id);
}

/**
 * Edits a release (needs write access). Publishing a draft (draft: false) creates its tag when missing,
 * as creating a published release does, and stamps published_at; events: release.updated, plus
 * release.published when it was published now.
 */
export async function updateRelease(app: AppContext, access: RepositoryAccess, actorId: number, id: number, input: ReleaseInput): Promise<ReleaseRecord> {
  if (!canManageReleases(access)) throw new ServiceError(403, `You need write access to ${access.repo.owner_name}/${access.repo.name} to edit a release`);
  const current = await getRelease(app, access, id);
  const tag = input.tagName ?? current.tag_name;
  if (input.tagName !== undefined) checkTagName(tag);
  checkText(input.name, input.body);
  const target = input.targetCommitish || current.target_commitish;
  if (input.targetCommitish !== undefined && (target.length > RELEASE_LIMITS.target || !isSafeRevision(target))) throw invalid(`target_commitish "${target}" names no branch or commit`, 'target_commitish');
  const draft = input.draft ?? current.draft === 1;
  const publishing = current.draft === 1 && !draft;
  if (!draft && (tag !== current.tag_name || publishing)) {
    const other = await app.db.selectFrom('releases').select('id').where('repository_id', '=', access.repo.id).where('tag_name', '=', tag).where('draft', '=', 0).where('id', '!=', id).executeTakeFirst();
    if (other) throw alreadyExists(tag);
  }
  const tagChange = !draft ? await ensureTag(access, tag, target) : null;
  const at = now();
  try {
    await app.db.transaction().execute(async (tx) => {
      const row = await tx
        .updateTable('releases')
        .set({
          tag_name: tag,
          target_commitish: target,
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.body !== undefined ? { body: input.body } : {}),
          ...(input.prerelease !== undefined ? { prerelease: input.prerelease ? 1 : 0 } : {}),
          draft: draft ? 1 : 0,
          // A release moved back to draft keeps no publication date; publishing stamps a new one.
          published_at: draft ? null : publishing ? at : current.published_at,
          updated_at: at,
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      if (tagChange) await handleRepositoryRefChanges(app, access.repo, [tagChange], { kind: 'api', actorId, details: { release_id: id } }, tx);
      await appendEvents(tx, publishing ? [releaseEvent(access, 'release.updated', row, actorId), releaseEvent(access, 'release.published', row, actorId)] : [releaseEvent(access, 'release.updated', row, actorId)], at);
    });
  } catch (err) {
    await dropCreatedTag(access, tagChange);
    if (isUniqueViolation(err)) throw alreadyExists(tag);
    throw err;
  }
  wakeDispatcher(app);
  return getRelease(app, access, id);
}

/** Deletes a release and its assets (rows and files); its tag stays, as on GitHub. Event: release.deleted. */
export async function deleteRelease(app: AppContext, access: RepositoryAccess, actorId: number, id: number): Promise<void> {
  if (!canManageReleases(access)) throw new ServiceError(403, `You need write access to ${access.repo.owner_name}/${access.repo.name} to delete a release`);
  const current = await getRelease(app, access, id);
  await app.db.transaction().execute(async (tx) => {
    await tx.deleteFrom('release_assets').where('release_id', '=', id).execute();
    await tx.deleteFrom('releases').where('id', '=', id).execute();
    await appendEvents(tx, [releaseEvent(access, 'release.deleted', current, actorId)], now());
  });
  wakeDispatcher(app);
  await removeReleaseFiles(app, access.repo.id, id);
}

/** The data-directory-relative folder of a release's asset files. */
export function releaseDir(repositoryId: number, releaseId: number): string {
  return join('releases', String(repositoryId), String(releaseId));
}

/** Removes the files of one release (after its rows are gone). */
export async function removeReleaseFiles(app: AppContext, repositoryId: number, releaseId: number): Promise<void> {
  await rm(join(app.config.dataDir, releaseDir(repositoryId, releaseId)), { recursive: true, force: true });
}

/** Removes every release file of a repository: for deleting a repository (its rows go by cascade). */
export async function removeRepositoryReleaseFiles(app: AppContext, repositoryId: number): Promise<void> {
  await rm(join(app.config.dataDir, 'releases', String(repositoryId)), { recursive: true, force: true });
}
