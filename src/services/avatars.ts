import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { invalid, notFound, ServiceError } from './errors.ts';
import { findUserById } from './users.ts';

/**
 * Uploaded avatars (issue 18). A file is accepted only when its first bytes say PNG, JPEG, GIF or
 * WebP (the name and the client's content type are ignored; SVG and HTML never pass), and stored
 * under `<data>/avatars/<user id>/<content hash>.<ext>`; `users.avatar` names the current one. The
 * file name changes with the content, so it is served with a long cache lifetime.
 */

export const MAX_AVATAR_BYTES = 1024 * 1024;

export type AvatarType = { ext: 'png' | 'jpg' | 'gif' | 'webp'; contentType: string };

const FILE_NAME = /^[0-9a-f]{16}\.(png|jpg|gif|webp)$/;

const CONTENT_TYPES: Record<AvatarType['ext'], string> = { png: 'image/png', jpg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp' };

/** The image type from the magic bytes, or null when it is none of the accepted ones. */
export function sniffImage(bytes: Uint8Array): AvatarType | null {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const is = (offset: number, sig: number[] | string) => {
    const want = typeof sig === 'string' ? Buffer.from(sig, 'latin1') : Buffer.from(sig);
    return b.length >= offset + want.length && b.subarray(offset, offset + want.length).equals(want);
  };
  if (is(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { ext: 'png', contentType: CONTENT_TYPES.png };
  if (is(0, [0xff, 0xd8, 0xff])) return { ext: 'jpg', contentType: CONTENT_TYPES.jpg };
  if (is(0, 'GIF87a') || is(0, 'GIF89a')) return { ext: 'gif', contentType: CONTENT_TYPES.gif };
  if (is(0, 'RIFF') && is(8, 'WEBP')) return { ext: 'webp', contentType: CONTENT_TYPES.webp };
  return null;
}

export function avatarDir(app: AppContext, userId: number): string {
  return join(app.config.dataDir, 'avatars', String(userId));
}

/** Stores an uploaded avatar and makes it the user's; returns the stored file name. 413 over the limit, 422 for anything but an image. */
export async function setUploadedAvatar(app: AppContext, userId: number, bytes: Uint8Array): Promise<string> {
  if (bytes.byteLength > MAX_AVATAR_BYTES) throw new ServiceError(413, `The avatar must be at most ${MAX_AVATAR_BYTES / 1024 / 1024} MiB`, 'avatar');
  if (bytes.byteLength === 0) throw invalid('Choose an image file to upload', 'avatar');
  const type = sniffImage(bytes);
  if (!type) throw invalid('The avatar must be a PNG, JPEG, GIF or WebP image', 'avatar');
  const name = `${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.${type.ext}`;
  const dir = avatarDir(app, userId);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.upload-${process.pid}-${Date.now()}`);
  await writeFile(tmp, bytes);
  await rename(tmp, join(dir, name));
  await app.db.updateTable('users').set({ avatar: name, updated_at: now() }).where('id', '=', userId).execute();
  await removeOtherFiles(dir, name);
  return name;
}

/** Back to the generated avatar: the uploaded files go. */
export async function resetAvatar(app: AppContext, userId: number): Promise<void> {
  await app.db.updateTable('users').set({ avatar: null, updated_at: now() }).where('id', '=', userId).execute();
  await removeAvatarFiles(app, userId);
}

export async function removeAvatarFiles(app: AppContext, userId: number): Promise<void> {
  await rm(avatarDir(app, userId), { recursive: true, force: true });
}

async function removeOtherFiles(dir: string, keep: string): Promise<void> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(entries.filter((e) => e !== keep).map((e) => rm(join(dir, e), { force: true })));
}

/** The bytes and type of a user's current uploaded avatar; 404 for anything else (an old or made-up name). */
export async function readUploadedAvatar(app: AppContext, userId: number, file: string): Promise<{ bytes: Buffer; contentType: string }> {
  const match = FILE_NAME.exec(file);
  if (!match) throw notFound();
  const user = await findUserById(app.db, userId);
  if (!user || user.avatar !== file) throw notFound();
  let bytes: Buffer;
  try {
    bytes = await readFile(join(avatarDir(app, userId), file));
  } catch {
    throw notFound();
  }
  // The type is the one the bytes say (checked again on the way out).
  const type = sniffImage(bytes);
  if (!type) throw notFound();
  return { bytes, contentType: type.contentType };
}
