import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AppContext } from './app.ts';
import { now } from './app.ts';
import type { RepositoryAccess } from './repositories.ts';
import { invalid, notFound, ServiceError } from './errors.ts';
import { isUniqueViolation } from './users.ts';
import { type AssetRecord, canManageReleases, getRelease, releaseDir, type ReleaseRecord } from './releases.ts';

/**
 * Release assets: bytes streamed to disk under <data>/releases/<repository>/<release>/<asset> (never
 * held whole in memory), at most `releaseAssetMaxBytes` each (413 beyond, the partial file removed).
 * A row is 'starter' while its bytes arrive and 'uploaded' once complete; only uploaded ones are listed.
 */

/** A 'starter' row older than this is a crashed upload: its name may be reused. */
const STALE_UPLOAD_MS = 60 * 60_000;

export const ASSET_NAME_MAX = 255;

/** Absolute path of an asset's bytes. */
export function assetFilePath(app: AppContext, asset: { storage_path: string }): string {
  return join(app.config.dataDir, asset.storage_path);
}

/**
 * An uploaded file name made safe, as GitHub renames them: the last path segment, characters outside
 * letters, digits and ". _ - + @" replaced by ".", no leading or trailing dots. Empty → 422.
 */
export function sanitizeAssetName(raw: string): string {
  const last = raw.split(/[\\/]/).pop() ?? '';
  const name = last
    .normalize('NFC')
    .replace(/[^\p{L}\p{N}._+@-]/gu, '.')
    .replace(/\.{2,}/g, '.')
    .replace(/^\.+|\.+$/g, '')
    .slice(0, ASSET_NAME_MAX);
  if (!name) throw invalid('name must be a file name with at least one letter or digit', 'name');
  return name;
}

/**
 * Content types an asset is served with as stored; anything else (HTML, SVG, JavaScript, XML…) is
 * served as application/octet-stream, and everything as an attachment, so no upload renders on the
 * forge's origin.
 */
const SAFE_TYPES = new Set([
  'application/octet-stream',
  'application/zip',
  'application/gzip',
  'application/x-gzip',
  'application/x-tar',
  'application/x-bzip2',
  'application/x-xz',
  'application/zstd',
  'application/x-7z-compressed',
  'application/java-archive',
  'application/vnd.debian.binary-package',
  'application/x-rpm',
  'application/x-apple-diskimage',
  'application/x-msdownload',
  'application/vnd.microsoft.portable-executable',
  'application/pdf',
  'application/json',
  'text/plain',
  'text/csv',
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
]);

/** The stored content type of an upload: a plausible media type (lower-cased, parameters dropped) or octet-stream. */
export function normalizeContentType(raw: string | undefined): string {
  const type = (raw ?? '').split(';')[0]!.trim().toLowerCase();
  return /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/.test(type) ? type : 'application/octet-stream';
}

/** The type an asset is served with: its own when on the safe list, else application/octet-stream. */
export function servedContentType(stored: string): string {
  return SAFE_TYPES.has(stored) ? stored : 'application/octet-stream';
}

export interface AssetUpload {
  name: string;
  label?: string;
  contentType?: string;
  /** The declared length (Content-Length), checked against the limit before any byte is read. */
  declaredLength?: number | null;
  body: AsyncIterable<Uint8Array>;
}

function tooLarge(limit: number): ServiceError {
  return new ServiceError(413, `Release assets are limited to ${limit} bytes`);
}

/** Counts bytes through; fails with a 413 as soon as the count passes the limit. */
function byteLimit(limit: number, counted: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      counted.bytes += chunk.length;
      if (counted.bytes > limit) callback(tooLarge(limit));
      else callback(null, chunk);
    },
  });
}

/**
 * Stores an upload as an asset of a release (needs write access): the name sanitized and unique in the
 * release (422 when taken), the bytes streamed to disk and limited (413, nothing left behind).
 */
export async function uploadReleaseAsset(app: AppContext, access: RepositoryAccess, actorId: number, releaseId: number, upload: AssetUpload): Promise<AssetRecord> {
  if (!canManageReleases(access)) throw new ServiceError(403, `You need write access to ${access.repo.owner_name}/${access.repo.name} to upload assets`);
  const limit = app.config.releaseAssetMaxBytes;
  if (upload.declaredLength !== null && upload.declaredLength !== undefined && upload.declaredLength > limit) throw tooLarge(limit);
  const release = await getRelease(app, access, releaseId);
  const name = sanitizeAssetName(upload.name);
  const label = (upload.label ?? '').slice(0, 255);
  const at = now();
  const stale = new Date(Date.now() - STALE_UPLOAD_MS).toISOString();
  await app.db.deleteFrom('release_assets').where('release_id', '=', release.id).where('name', '=', name).where('state', '=', 'starter').where('updated_at', '<', stale).execute();
  let assetId: number;
  try {
    const row = await app.db
      .insertInto('release_assets')
      .values({
        release_id: release.id,
        repository_id: access.repo.id,
        name,
        label,
        content_type: normalizeContentType(upload.contentType),
        size: 0,
        storage_path: '',
        uploader_id: actorId,
        state: 'starter',
        created_at: at,
        updated_at: at,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    assetId = row.id;
  } catch (err) {
    if (isUniqueViolation(err)) throw new ServiceError(422, `an asset named ${name} already exists in this release (delete it first)`, 'name');
    throw err;
  }
  const storagePath = join(releaseDir(access.repo.id, release.id), String(assetId));
  const file = join(app.config.dataDir, storagePath);
  const counted = { bytes: 0 };
  try {
    await mkdir(join(app.config.dataDir, releaseDir(access.repo.id, release.id)), { recursive: true });
    await pipeline(Readable.from(upload.body, { objectMode: false }), byteLimit(limit, counted), createWriteStream(file, { flags: 'wx', mode: 0o600 }));
  } catch (err) {
    await unlink(file).catch(() => undefined);
    await app.db.deleteFrom('release_assets').where('id', '=', assetId).execute();
    if (err instanceof ServiceError) throw err;
    throw new ServiceError(400, `the upload did not complete: ${(err as Error).message}`);
  }
  await app.db.updateTable('release_assets').set({ size: counted.bytes, storage_path: storagePath, state: 'uploaded', updated_at: now() }).where('id', '=', assetId).execute();
  return getReleaseAsset(app, access, assetId);
}

/** One uploaded asset, when its release is visible to the viewer (a draft's only to writers). */
export async function getReleaseAsset(app: AppContext, access: RepositoryAccess, assetId: number): Promise<AssetRecord> {
  if (!Number.isSafeInteger(assetId) || assetId < 1) throw notFound('Not Found');
  const row = await app.db.selectFrom('release_assets').select(['release_id']).where('id', '=', assetId).where('repository_id', '=', access.repo.id).where('state', '=', 'uploaded').executeTakeFirst();
  if (!row) throw notFound('Not Found');
  const release = await getRelease(app, access, row.release_id);
  const asset = release.assets.find((a) => a.id === assetId);
  if (!asset) throw notFound('Not Found');
  return asset;
}

/** The asset of a release named `name` (the browser download URL), or 404. */
export function assetNamed(release: ReleaseRecord, name: string): AssetRecord {
  const asset = release.assets.find((a) => a.name === name);
  if (!asset) throw notFound('Not Found');
  return asset;
}

/** Renames or relabels an asset (needs write access). */
export async function updateReleaseAsset(app: AppContext, access: RepositoryAccess, assetId: number, input: { name?: string; label?: string }): Promise<AssetRecord> {
  if (!canManageReleases(access)) throw new ServiceError(403, 'You need write access to edit release assets');
  const asset = await getReleaseAsset(app, access, assetId);
  const changes: { name?: string; label?: string; updated_at: string } = { updated_at: now() };
  if (input.name !== undefined) changes.name = sanitizeAssetName(input.name);
  if (input.label !== undefined) changes.label = input.label.slice(0, 255);
  try {
    await app.db.updateTable('release_assets').set(changes).where('id', '=', asset.id).execute();
  } catch (err) {
    if (isUniqueViolation(err)) throw new ServiceError(422, `an asset named ${changes.name} already exists in this release`, 'name');
    throw err;
  }
  return getReleaseAsset(app, access, assetId);
}

/** Deletes an asset: its row, then its file. */
export async function deleteReleaseAsset(app: AppContext, access: RepositoryAccess, assetId: number): Promise<void> {
  if (!canManageReleases(access)) throw new ServiceError(403, 'You need write access to delete release assets');
  const asset = await getReleaseAsset(app, access, assetId);
  await app.db.deleteFrom('release_assets').where('id', '=', asset.id).execute();
  await rm(assetFilePath(app, asset), { force: true });
}

/**
 * Opens an asset for download and counts it: the bytes as a stream from disk (a client that goes away
 * cancels it, which closes the file).
 */
export async function openReleaseAssetDownload(app: AppContext, asset: AssetRecord): Promise<ReadableStream<Uint8Array>> {
  const stream = createReadStream(assetFilePath(app, asset));
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (err) => reject(Object.assign(notFound('Not Found'), { cause: err })));
  });
  await app.db
    .updateTable('release_assets')
    .set((eb) => ({ download_count: eb('download_count', '+', 1) }))
    .where('id', '=', asset.id)
    .execute();
  return Readable.toWeb(stream) as ReadableStream<Uint8Array>;
}
