import type { Context, MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import type { WebEnv } from '../context.ts';
import { constantTimeEqual, hmacHex, randomToken } from '../../domain/secrets.ts';

export const CSRF_COOKIE = 'gitoku_csrf';
export const CSRF_FIELD = '_csrf';

const COOKIE_VALUE = /^[A-Za-z0-9]{32,64}$/;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The form token for a browser's CSRF cookie: HMAC(instance secret, cookie). */
export function csrfTokenFor(secret: string, cookieValue: string): string {
  return hmacHex(secret, cookieValue);
}

export interface CsrfOptions {
  /** Renders the refusal (a 403 page). */
  onFailure: (c: Context<WebEnv>) => Response | Promise<Response>;
}

/**
 * CSRF protection for browser forms (double-submit with an HMAC): every browser gets a random
 * HttpOnly cookie; forms carry `_csrf` = HMAC(secret, cookie), which an attacker's page cannot
 * compute or read. Unsafe methods without a matching field are refused. Views read the token
 * from c.get('csrfToken').
 */
export function csrfProtection(options: CsrfOptions): MiddlewareHandler<WebEnv> {
  return async (c, next) => {
    const app = c.get('app');
    let cookie = getCookie(c, CSRF_COOKIE);
    const hadCookie = !!cookie && COOKIE_VALUE.test(cookie);
    if (!hadCookie) {
      cookie = randomToken(32);
      setCookie(c, CSRF_COOKIE, cookie, {
        httpOnly: true,
        sameSite: 'Lax',
        path: '/',
        secure: app.config.baseUrl.startsWith('https://'),
        maxAge: 365 * 24 * 3600,
      });
    }
    const expected = csrfTokenFor(app.secret, cookie!);
    c.set('csrfToken', expected);
    if (!SAFE_METHODS.has(c.req.method)) {
      const presented = hadCookie ? await formToken(c) : null;
      if (!presented || !constantTimeEqual(presented, expected)) return options.onFailure(c);
    }
    await next();
  };
}

async function formToken(c: Context<WebEnv>): Promise<string | null> {
  const type = c.req.header('content-type') ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded') && !type.startsWith('multipart/form-data')) return null;
  try {
    const body = await c.req.parseBody({ all: true });
    const value = body[CSRF_FIELD];
    return typeof value === 'string' ? value : null;
  } catch {
    return null;
  }
}
