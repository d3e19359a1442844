import type { AppContext } from './app.ts';
import { now } from './app.ts';
import type { User } from '../db/schema.ts';
import { randomToken, sha256Hex } from '../domain/secrets.ts';

export const SESSION_TTL_MS = 30 * 24 * 3600 * 1000;

/** Starts a browser session; returns the cookie value (only its hash is stored). */
export async function createSession(app: AppContext, userId: number): Promise<string> {
  const id = randomToken(43);
  const created = new Date();
  await app.db
    .insertInto('sessions')
    .values({
      id_hash: sha256Hex(id),
      user_id: userId,
      created_at: created.toISOString(),
      expires_at: new Date(created.getTime() + SESSION_TTL_MS).toISOString(),
    })
    .execute();
  return id;
}

export async function userForSession(app: AppContext, sessionId: string): Promise<User | null> {
  if (!sessionId || sessionId.length > 100) return null;
  const row = await app.db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .selectAll('users')
    .where('sessions.id_hash', '=', sha256Hex(sessionId))
    .where('sessions.expires_at', '>', now())
    .executeTakeFirst();
  return row ?? null;
}

export async function destroySession(app: AppContext, sessionId: string): Promise<void> {
  await app.db.deleteFrom('sessions').where('id_hash', '=', sha256Hex(sessionId)).execute();
}

/** Deletes sessions past their expiry (they no longer sign anyone in); returns how many. */
export async function deleteExpiredSessions(app: AppContext): Promise<number> {
  const res = await app.db.deleteFrom('sessions').where('expires_at', '<=', now()).executeTakeFirst();
  return Number(res.numDeletedRows);
}
