import type { MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type { WebEnv } from '../context.ts';
import { authenticateAuthorizationHeader, authenticateSessionCookie } from '../../services/auth.ts';
import { clientAddress, tooManyAttempts } from './rateLimit.ts';

export const SESSION_COOKIE = 'gitoku_session';

/** API identity: a personal access token in the Authorization header; bad credentials are a 401 (a 429 after too many). */
export const apiIdentity: MiddlewareHandler<WebEnv> = async (c, next) => {
  const result = await authenticateAuthorizationHeader(c.get('app'), c.req.header('authorization'), false, clientAddress(c));
  // Too many bad credentials from this address lately: refused before any check, until the back-off passes.
  if (result.kind === 'limited') return tooManyAttempts(c, result.retryAfterSeconds);
  // Job tokens are for git only: an agent never acts through the API with its run's credentials.
  if (result.kind === 'invalid' || (result.kind === 'ok' && result.identity.method === 'job')) {
    return c.json({ message: 'Bad credentials' }, 401, { 'WWW-Authenticate': 'Bearer realm="gitoku"' });
  }
  c.set('identity', result.kind === 'ok' ? result.identity : null);
  await next();
};

/** Browser identity: the session cookie. */
export const sessionIdentity: MiddlewareHandler<WebEnv> = async (c, next) => {
  c.set('identity', await authenticateSessionCookie(c.get('app'), getCookie(c, SESSION_COOKIE)));
  await next();
};
