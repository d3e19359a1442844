import type { AppContext } from './app.ts';
import { now } from './app.ts';
import type { User } from '../db/schema.ts';
import { randomToken, sha256Hex } from '../domain/secrets.ts';

export const SESSION_TTL_MS = 30 * 24 * 3600 * 1000;

/** Starts a browser session; returns the cookie value (only its hash is stored). */
/** What the sessions list shows about where a session was started (bounded, as stored). */
export interface SessionOrigin {
  userAgent?: string;
  ip?: string;
}

/** `last_seen_at` is written at most this often per session (not on every page view). */
export const SESSION_SEEN_REFRESH_MS = 5 * 60_000;

/** Starts a browser session; returns the cookie value (only its hash is stored). */
export async function createSession(app: AppContext, userId: number, origin: SessionOrigin = {}): Promise<string> {
  const id = randomToken(43);
  const created = new Date();
  await app.db
    .insertInto('sessions')
    .values({
      id_hash: sha256Hex(id),
      user_id: userId,
      created_at: created.toISOString(),
      expires_at: new Date(created.getTime() + SESSION_TTL_MS).toISOString(),
      last_seen_at: created.toISOString(),
      user_agent: (origin.userAgent ?? '').replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 512),
      ip: (origin.ip ?? '').slice(0, 64),
    })
    .execute();
  return id;
}

/** The user of a live session, or null (unknown, expired, or the account is suspended). */
export async function userForSession(app: AppContext, sessionId: string): Promise<User | null> {
  if (!sessionId || sessionId.length > 100) return null;
  const idHash = sha256Hex(sessionId);
  const row = await app.db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .selectAll('users')
    .select('sessions.last_seen_at as session_last_seen_at')
    .where('sessions.id_hash', '=', idHash)
    .where('sessions.expires_at', '>', now())
    .where('users.suspended_at', 'is', null)
    .executeTakeFirst();
  if (!row) return null;
  const { session_last_seen_at: seen, ...user } = row;
  if (!seen || Date.parse(seen) < Date.now() - SESSION_SEEN_REFRESH_MS) {
    await app.db.updateTable('sessions').set({ last_seen_at: now() }).where('id_hash', '=', idHash).execute();
  }
  return user;
}

/** The stored id of a session cookie (what the sessions list names sessions by). */
export function sessionHandle(sessionId: string): string {
  return sha256Hex(sessionId);
}

export interface SessionView {
  id_hash: string;
  created_at: string;
  expires_at: string;
  last_seen_at: string | null;
  user_agent: string;
  ip: string;
}

/** A user's live sessions, most recently seen first. */
export async function listUserSessions(app: AppContext, userId: number): Promise<SessionView[]> {
  return app.db
    .selectFrom('sessions')
    .select(['id_hash', 'created_at', 'expires_at', 'last_seen_at', 'user_agent', 'ip'])
    .where('user_id', '=', userId)
    .where('expires_at', '>', now())
    .orderBy('last_seen_at', 'desc')
    .orderBy('created_at', 'desc')
    .execute();
}

/** Ends one of a user's sessions by its stored id; false when the user has no such session. */
export async function destroyUserSession(app: AppContext, userId: number, idHash: string): Promise<boolean> {
  const res = await app.db.deleteFrom('sessions').where('user_id', '=', userId).where('id_hash', '=', idHash).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

/** Ends every session of a user except `keepIdHash` (all of them when null); returns how many ended. */
export async function destroyOtherSessions(app: AppContext, userId: number, keepIdHash: string | null): Promise<number> {
  let q = app.db.deleteFrom('sessions').where('user_id', '=', userId);
  if (keepIdHash) q = q.where('id_hash', '!=', keepIdHash);
  const res = await q.executeTakeFirst();
  return Number(res.numDeletedRows);
}

export async function destroySession(app: AppContext, sessionId: string): Promise<void> {
  await app.db.deleteFrom('sessions').where('id_hash', '=', sha256Hex(sessionId)).execute();
}

/** Deletes sessions past their expiry (they no longer sign anyone in); returns how many. */
export async function deleteExpiredSessions(app: AppContext): Promise<number> {
  const res = await app.db.deleteFrom('sessions').where('expires_at', '<=', now()).executeTakeFirst();
  return Number(res.numDeletedRows);
}
