import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { invalid, notFound } from './errors.ts';
import type { AccessToken, User } from '../db/schema.ts';
import { newPersonalAccessToken, sha256Hex } from '../domain/secrets.ts';
import type { TokenScope } from '../domain/permissions.ts';

export interface CreatedToken {
  token: string;
  record: AccessToken;
}

export interface CreateTokenInput {
  userId: number;
  name: string;
  scopes: TokenScope[];
  expiresAt?: Date | null;
}

/** Creates a personal access token. The plain token is returned once; only its sha256 is stored. */
export async function createAccessToken(app: AppContext, input: CreateTokenInput): Promise<CreatedToken> {
  const name = input.name.trim();
  if (!name || name.length > 255) throw invalid('token name is required (at most 255 characters)', 'name');
  if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) throw invalid('expiry must be in the future', 'expires_at');
  const token = newPersonalAccessToken();
  const record = await app.db
    .insertInto('access_tokens')
    .values({
      user_id: input.userId,
      name,
      token_hash: sha256Hex(token),
      token_last_eight: token.slice(-8),
      scopes: input.scopes.join(','),
      expires_at: input.expiresAt ? input.expiresAt.toISOString() : null,
      last_used_at: null,
      created_at: now(),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { token, record };
}

export interface TokenIdentity {
  user: User;
  token: AccessToken;
  scopes: TokenScope[];
}

/** Resolves a presented token to its user; null for unknown, expired or revoked tokens. */
export async function authenticateToken(app: AppContext, presented: string): Promise<TokenIdentity | null> {
  if (!presented || presented.length > 200) return null;
  const token = await app.db.selectFrom('access_tokens').selectAll().where('token_hash', '=', sha256Hex(presented)).executeTakeFirst();
  if (!token) return null;
  const at = now();
  if (token.expires_at && token.expires_at <= at) return null;
  const user = await app.db.selectFrom('users').selectAll().where('id', '=', token.user_id).executeTakeFirst();
  if (!user) return null;
  // Record use at most once a minute: a write per git request would contend on SQLite.
  if (!token.last_used_at || Date.parse(at) - Date.parse(token.last_used_at) > 60_000) {
    await app.db.updateTable('access_tokens').set({ last_used_at: at }).where('id', '=', token.id).execute();
  }
  return { user, token, scopes: token.scopes.split(',').filter(Boolean) as TokenScope[] };
}

export async function listAccessTokens(app: AppContext, userId: number): Promise<AccessToken[]> {
  return app.db.selectFrom('access_tokens').selectAll().where('user_id', '=', userId).orderBy('id', 'desc').execute();
}

export async function revokeAccessToken(app: AppContext, userId: number, tokenId: number): Promise<void> {
  const result = await app.db.deleteFrom('access_tokens').where('id', '=', tokenId).where('user_id', '=', userId).executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) throw notFound('token not found');
}
