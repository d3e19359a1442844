import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import type { WebEnv } from '../../context.ts';
import { avatarSvg, userAvatarPath } from '../../views/avatarSvg.ts';
import { readUploadedAvatar } from '../../../services/avatars.ts';
import { findUserByName } from '../../../services/users.ts';
import { ServiceError } from '../../../services/errors.ts';

/** Longest login accepted in an avatar URL (logins are at most 39 characters). */
const MAX_LOGIN = 100;

/**
 * GET /-/avatars/<login>.svg: the generated initials avatar that API `avatar_url`s point at when the
 * user has not uploaded one; a user who has is redirected to the upload. Cacheable for a few minutes
 * (an upload shows up soon after).
 */
export async function serveAvatar(c: Context<WebEnv>): Promise<Response> {
  const file = c.req.param('file') ?? '';
  if (!file.endsWith('.svg')) return c.text('Not Found', 404);
  const login = file.slice(0, -4);
  if (login.length === 0 || login.length > MAX_LOGIN || login.includes('\0')) return c.text('Not Found', 404);
  const user = await findUserByName(c.get('app').db, login);
  if (user?.avatar) {
    return c.body(null, 302, { Location: userAvatarPath(user), 'Cache-Control': 'public, max-age=300', 'X-Content-Type-Options': 'nosniff' });
  }
  const body = avatarSvg(login);
  const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
  const headers: Record<string, string> = {
    'Content-Type': 'image/svg+xml',
    'Cache-Control': 'public, max-age=300',
    ETag: etag,
    'X-Content-Type-Options': 'nosniff',
    // An SVG opened directly must not run anything.
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'",
  };
  if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
  return c.body(body, 200, headers);
}

/**
 * GET /-/avatars/u/<id>/<hash>.<ext>: an uploaded avatar, with the type its bytes say (PNG, JPEG,
 * GIF or WebP — never SVG or HTML), `nosniff` and a sandboxing CSP. The name changes with the
 * content, so it is cached for long; a replaced one is gone (404).
 */
export async function serveUploadedAvatar(c: Context<WebEnv>): Promise<Response> {
  const id = Number(c.req.param('id'));
  const file = c.req.param('file') ?? '';
  if (!Number.isSafeInteger(id) || id <= 0) return c.text('Not Found', 404);
  try {
    const { bytes, contentType } = await readUploadedAvatar(c.get('app'), id, file);
    const etag = `"${file}"`;
    const headers: Record<string, string> = {
      'Content-Type': contentType,
      'Cache-Control': 'public, max-age=31536000, immutable',
      ETag: etag,
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': "default-src 'none'; sandbox",
      'Content-Disposition': 'inline',
    };
    if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
    return c.body(new Uint8Array(bytes), 200, headers);
  } catch (err) {
    if (err instanceof ServiceError && err.status === 404) return c.text('Not Found', 404);
    throw err;
  }
}
