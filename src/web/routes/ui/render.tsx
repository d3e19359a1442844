import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { WebEnv } from '../../context.ts';
import type { Flash, PageContext } from '../../views/context.ts';
import type { Identity } from '../../../services/auth.ts';
import { ASSET_VERSION } from './static.ts';
import { userAvatarPath } from '../../views/avatarSvg.ts';

type Html = string | Promise<string> | { toString(): string | Promise<string> };

/** Renders a page element as an HTML document. */
export async function render(c: Context<WebEnv>, page: Html | Promise<Html>, status: 200 | 201 | 400 | 401 | 403 | 404 | 405 | 409 | 413 | 422 | 429 | 500 = 200): Promise<Response> {
  const html = await (await page).toString();
  return c.html(`<!DOCTYPE html>\n${html}`, status);
}

const FLASH_COOKIE = 'gitoku_flash';

export function secureCookies(c: Context<WebEnv>): boolean {
  return c.get('app').config.baseUrl.startsWith('https://');
}

/** A one-shot message shown on the next page (after a redirect). */
export function setFlash(c: Context<WebEnv>, kind: Flash['kind'], message: string): void {
  setCookie(c, FLASH_COOKIE, JSON.stringify({ kind, message: message.slice(0, 300) }), { path: '/', httpOnly: true, sameSite: 'Lax', secure: secureCookies(c), maxAge: 60 });
}

function takeFlash(c: Context<WebEnv>): Flash | null {
  const raw = getCookie(c, FLASH_COOKIE);
  if (!raw) return null;
  deleteCookie(c, FLASH_COOKIE, { path: '/', secure: secureCookies(c) });
  try {
    const value = JSON.parse(raw) as Partial<Flash>;
    if ((value.kind === 'success' || value.kind === 'error' || value.kind === 'info') && typeof value.message === 'string') return { kind: value.kind, message: value.message };
  } catch {
    // a mangled cookie is simply dropped
  }
  return null;
}

/** Everything the layout needs about this request; consumes the flash message. */
export function pageContext(c: Context<WebEnv>): PageContext {
  const app = c.get('app');
  const identity = c.get('identity');
  const url = new URL(c.req.url);
  return {
    user: identity ? { username: identity.user.username, fullName: identity.user.full_name, isAdmin: identity.user.is_admin === 1, avatarUrl: identity.user.avatar ? userAvatarPath(identity.user) : null, unread: c.get('unreadNotifications') ?? 0 } : null,
    csrfToken: c.get('csrfToken') ?? '',
    flash: takeFlash(c),
    path: url.pathname + url.search,
    signupEnabled: app.config.signupEnabled,
    baseUrl: app.config.baseUrl,
    assetVersion: ASSET_VERSION,
  };
}

/** The signed-in identity, or a redirect to the sign-in page that comes back here. */
export function requireUser(c: Context<WebEnv>): Identity | Response {
  const identity = c.get('identity');
  if (identity) return identity;
  const url = new URL(c.req.url);
  return c.redirect(c.req.method === 'GET' ? `/-/login?next=${encodeURIComponent(url.pathname + url.search)}` : '/-/login', 303);
}

/** A list page's `?page=`: a whole number from 1 to `max`, else 1 (a page past the end just shows none). */
export function pageNumber(value: string | undefined, max = 10_000): number {
  const n = Number(value ?? '1');
  return Number.isSafeInteger(n) && n >= 1 && n <= max ? n : 1;
}

/** A local path to return to after signing in; anything else (other hosts, "//x", "/\x") becomes "/". */
export function safeNext(next: string | undefined | null): string {
  if (!next || next.length > 2000) return '/';
  if (!next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || /[\u0000-\u001f\u007f\\]/.test(next)) return '/';
  if (next.startsWith('/-/login') || next.startsWith('/-/signup') || next.startsWith('/-/logout')) return '/';
  return next;
}

/** Submitted form fields (urlencoded or multipart): first value of a field, or all values. */
export interface FormFields {
  get(name: string): string;
  getAll(name: string): string[];
}

export async function readForm(c: Context<WebEnv>): Promise<FormFields> {
  const body = await c.req.parseBody({ all: true });
  const values = (name: string): string[] => {
    const v = body[name];
    const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
    return list.filter((x): x is string => typeof x === 'string');
  };
  return { get: (name) => values(name)[0] ?? '', getAll: values };
}
