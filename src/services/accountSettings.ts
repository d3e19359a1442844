import { sql } from 'kysely';
import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { invalid, notFound, ServiceError } from './errors.ts';
import type { User } from '../db/schema.ts';
import type { DbOrTx } from '../db/index.ts';
import { isValidEmail } from '../domain/names.ts';
import { checkPassword } from './auth.ts';
import { findUserById, MIN_PASSWORD_LENGTH, setPassword } from './users.ts';
import { destroyOtherSessions } from './sessions.ts';

/**
 * A user's own account settings (issue 18): profile, email and password. Changing the email or the
 * password needs the current password, checked under the sign-in back-off (services/auth.ts), so the
 * settings form is no faster a way to guess it than the sign-in form.
 */

/** Too many wrong passwords lately: the caller answers 429 with Retry-After. */
export class TooManyAttempts extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`Too many failed password attempts; try again in ${retryAfterSeconds} s`);
  }
}

export const PROFILE_LIMITS = { name: 255, bio: 640, blog: 255, location: 255 } as const;

export interface ProfileInput {
  name?: string | null;
  bio?: string | null;
  blog?: string | null;
  location?: string | null;
}

/** Control characters are dropped (a bio keeps its line breaks); surrounding space trimmed. */
function clean(value: string, multiline: boolean): string {
  return (multiline ? value.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0009\u000b-\u001f\u007f]/g, '') : value.replace(/[\u0000-\u001f\u007f]/g, ' ')).trim();
}

/** A website: empty, or an http(s) URL (a bare host gets https://). Anything else (javascript:, data:) is refused. */
export function normalizeWebsite(value: string): string {
  const v = clean(value, false);
  if (!v) return '';
  const withScheme = /^[a-z][a-z0-9+.-]*:/i.test(v) ? v : `https://${v}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw invalid('Website must be an http or https URL', 'blog');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) throw invalid('Website must be an http or https URL', 'blog');
  if (withScheme.length > PROFILE_LIMITS.blog) throw invalid(`Website must be at most ${PROFILE_LIMITS.blog} characters`, 'blog');
  return withScheme;
}

/** Updates the fields given (null or "" clears one); returns the user as stored. */
export async function updateProfile(app: AppContext, userId: number, input: ProfileInput): Promise<User> {
  const set: { full_name?: string; bio?: string; website?: string; location?: string } = {};
  const text = (value: string | null | undefined, field: keyof typeof PROFILE_LIMITS, label: string, multiline = false): string | undefined => {
    if (value === undefined) return undefined;
    const v = clean(value ?? '', multiline);
    if ([...v].length > PROFILE_LIMITS[field]) throw invalid(`${label} must be at most ${PROFILE_LIMITS[field]} characters`, field);
    return v;
  };
  const name = text(input.name, 'name', 'Name');
  if (name !== undefined) set.full_name = name;
  const bio = text(input.bio, 'bio', 'Bio', true);
  if (bio !== undefined) set.bio = bio;
  const location = text(input.location, 'location', 'Location');
  if (location !== undefined) set.location = location;
  if (input.blog !== undefined) set.website = normalizeWebsite(input.blog ?? '');
  if (Object.keys(set).length) await app.db.updateTable('users').set({ ...set, updated_at: now() }).where('id', '=', userId).execute();
  const user = await findUserById(app.db, userId);
  if (!user) throw notFound();
  return user;
}

/** Checks the signed-in user's current password, under the sign-in back-off; throws 422 or TooManyAttempts. */
export async function verifyCurrentPassword(app: AppContext, user: User, password: string, address: string): Promise<void> {
  if (!password) throw invalid('Enter your current password', 'current_password');
  const checked = await checkPassword(app, user.username, password, address);
  if (checked.kind === 'limited') throw new TooManyAttempts(checked.retryAfterSeconds);
  if (checked.kind !== 'ok') throw invalid('Your current password is incorrect', 'current_password');
}

/** Whether another account uses this email address (compared case-insensitively). */
export async function emailInUse(db: DbOrTx, email: string, exceptUserId: number | null): Promise<boolean> {
  let q = db
    .selectFrom('users')
    .select('id')
    .where(sql<string>`lower(email)`, '=', email.toLowerCase());
  if (exceptUserId !== null) q = q.where('id', '!=', exceptUserId);
  return !!(await q.executeTakeFirst());
}

/** Changes the account's email address; the current password is required and the address must be free. */
export async function changeEmail(app: AppContext, user: User, input: { email: string; currentPassword: string; address: string }): Promise<User> {
  const email = input.email.trim();
  if (!email || !isValidEmail(email)) throw invalid('Email address is not valid', 'email');
  await verifyCurrentPassword(app, user, input.currentPassword, input.address);
  if (email === user.email) return user;
  if (await emailInUse(app.db, email, user.id)) throw new ServiceError(422, 'That email address is already in use by another account', 'email');
  await app.db.updateTable('users').set({ email, updated_at: now() }).where('id', '=', user.id).execute();
  return (await findUserById(app.db, user.id))!;
}

/**
 * Changes the password: the current one is required, the new one follows the sign-up rules. Every
 * other session of the user ends (`keepSessionHash`, the one making the change, stays); returns how
 * many ended. Access tokens stay valid, as on GitHub.
 */
export async function changePassword(app: AppContext, user: User, input: { currentPassword: string; newPassword: string; confirmation?: string; keepSessionHash: string | null; address: string }): Promise<number> {
  const next = input.newPassword;
  if (typeof next !== 'string' || next.length < MIN_PASSWORD_LENGTH) throw invalid(`New password must be at least ${MIN_PASSWORD_LENGTH} characters`, 'new_password');
  if (next.length > 1024) throw invalid('New password is too long', 'new_password');
  if (input.confirmation !== undefined && input.confirmation !== next) throw invalid('The new password and its confirmation do not match', 'confirm_password');
  await verifyCurrentPassword(app, user, input.currentPassword, input.address);
  await setPassword(app, user.id, next);
  return destroyOtherSessions(app, user.id, input.keepSessionHash);
}
