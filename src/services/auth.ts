import type { AppContext } from './app.ts';
import type { User } from '../db/schema.ts';
import type { Viewer } from '../domain/permissions.ts';
import { authenticateToken } from './tokens.ts';
import { authenticatePassword } from './users.ts';
import { userForSession } from './sessions.ts';
import { authenticateJobToken, JOB_TOKEN_PREFIX } from './jobTokens.ts';

export interface Identity {
  user: User;
  viewer: Viewer;
  method: 'token' | 'password' | 'session' | 'job';
  /** For job tokens: the job whose agent is acting. */
  jobId?: number;
}

export type CredentialsResult = { kind: 'anonymous' } | { kind: 'invalid' } | { kind: 'ok'; identity: Identity };

function viewerOf(user: User, tokenScopes: Viewer['tokenScopes']): Viewer {
  return { userId: user.id, isAdmin: user.is_admin === 1, tokenScopes };
}

/**
 * Resolves an Authorization header: `Bearer T`, `token T`, or HTTP Basic where the password is
 * a personal access token or (for git clients) the account password.
 */
export async function authenticateAuthorizationHeader(app: AppContext, header: string | undefined, allowPassword: boolean): Promise<CredentialsResult> {
  if (!header) return { kind: 'anonymous' };
  const match = /^(\w+)\s+(.+)$/.exec(header.trim());
  if (!match) return { kind: 'invalid' };
  const scheme = match[1]!.toLowerCase();
  const value = match[2]!.trim();
  if (scheme === 'bearer' || scheme === 'token') {
    const job = await jobIdentity(app, value);
    if (job) return { kind: 'ok', identity: job };
    const found = await authenticateToken(app, value);
    return found ? { kind: 'ok', identity: { user: found.user, viewer: viewerOf(found.user, found.scopes), method: 'token' } } : { kind: 'invalid' };
  }
  if (scheme === 'basic') {
    let decoded: string;
    try {
      decoded = Buffer.from(value, 'base64').toString('utf8');
    } catch {
      return { kind: 'invalid' };
    }
    const colon = decoded.indexOf(':');
    if (colon < 0) return { kind: 'invalid' };
    const username = decoded.slice(0, colon);
    const secret = decoded.slice(colon + 1);
    const job = await jobIdentity(app, secret);
    if (job) return { kind: 'ok', identity: job };
    const byToken = await authenticateToken(app, secret);
    if (byToken) {
      // The username part is ignored for tokens (git tools send anything there), as GitHub does.
      return { kind: 'ok', identity: { user: byToken.user, viewer: viewerOf(byToken.user, byToken.scopes), method: 'token' } };
    }
    if (allowPassword && username) {
      const user = await authenticatePassword(app, username, secret);
      if (user) return { kind: 'ok', identity: { user, viewer: viewerOf(user, null), method: 'password' } };
    }
    return { kind: 'invalid' };
  }
  return { kind: 'invalid' };
}

async function jobIdentity(app: AppContext, presented: string): Promise<Identity | null> {
  if (!presented.startsWith(JOB_TOKEN_PREFIX)) return null;
  const found = await authenticateJobToken(app, presented);
  if (!found) return null;
  return {
    user: found.user,
    viewer: { userId: found.user.id, isAdmin: false, tokenScopes: ['repo'], jobScope: { repositoryId: found.repositoryId, allowedRef: found.allowedRef } },
    method: 'job',
    jobId: found.jobId,
  };
}

export async function authenticateSessionCookie(app: AppContext, cookie: string | undefined): Promise<Identity | null> {
  if (!cookie) return null;
  const user = await userForSession(app, cookie);
  return user ? { user, viewer: viewerOf(user, null), method: 'session' } : null;
}
