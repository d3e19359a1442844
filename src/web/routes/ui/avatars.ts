import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import type { WebEnv } from '../../context.ts';
import { avatarSvg } from '../../views/avatarSvg.ts';

/** Longest login accepted in an avatar URL (logins are at most 39 characters). */
const MAX_LOGIN = 100;

/** GET /-/avatars/<login>.svg: the generated initials avatar that API `avatar_url`s point at; cacheable for a day. */
export function serveAvatar(c: Context<WebEnv>): Response {
  const file = c.req.param('file') ?? '';
  if (!file.endsWith('.svg')) return c.text('Not Found', 404);
  const login = file.slice(0, -4);
  if (login.length === 0 || login.length > MAX_LOGIN || login.includes('\0')) return c.text('Not Found', 404);
  const body = avatarSvg(login);
  const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
  const headers: Record<string, string> = {
    'Content-Type': 'image/svg+xml',
    'Cache-Control': 'public, max-age=86400',
    ETag: etag,
    'X-Content-Type-Options': 'nosniff',
    // An SVG opened directly must not run anything.
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'",
  };
  if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
  return c.body(body, 200, headers);
}
