import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { ServiceError, invalid, notFound } from './errors.ts';
import type { User } from '../db/schema.ts';
import { checkUsername, isValidEmail } from '../domain/names.ts';
import { hashPassword, randomPassword, verifyPassword } from '../domain/secrets.ts';
import type { DbOrTx } from '../db/index.ts';

export interface CreateUserInput {
  username: string;
  password: string;
  email?: string;
  fullName?: string;
  isAdmin?: boolean;
}

export const MIN_PASSWORD_LENGTH = 8;

export async function createUser(app: AppContext, input: CreateUserInput): Promise<User> {
  const nameCheck = checkUsername(input.username);
  if (!nameCheck.ok) throw invalid(nameCheck.reason, 'username');
  if (typeof input.password !== 'string' || input.password.length < MIN_PASSWORD_LENGTH) {
    throw invalid(`password must be at least ${MIN_PASSWORD_LENGTH} characters`, 'password');
  }
  if (input.password.length > 1024) throw invalid('password is too long', 'password');
  const email = input.email?.trim() || `${input.username.toLowerCase()}@users.noreply.gitoku.local`;
  if (!isValidEmail(email)) throw invalid('email address is not valid', 'email');
  if (await findUserByName(app.db, input.username)) throw new ServiceError(422, `username "${input.username}" is already taken`, 'username');
  const at = now();
  const passwordHash = await hashPassword(input.password);
  try {
    return await app.db
      .insertInto('users')
      .values({
        username: input.username,
        lower_name: input.username.toLowerCase(),
        email,
        full_name: input.fullName ?? '',
        password_hash: passwordHash,
        is_admin: input.isAdmin ? 1 : 0,
        created_at: at,
        updated_at: at,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (err) {
    if (isUniqueViolation(err)) throw new ServiceError(422, `username "${input.username}" is already taken`, 'username');
    throw err;
  }
}

export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export async function findUserByName(db: DbOrTx, username: string): Promise<User | undefined> {
  // No user has a NUL in their name, and PostgreSQL rejects one in a query parameter.
  if (username.includes('\0')) return undefined;
  return db.selectFrom('users').selectAll().where('lower_name', '=', username.toLowerCase()).executeTakeFirst();
}

export async function findUserById(db: DbOrTx, id: number): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function getUserByName(app: AppContext, username: string): Promise<User> {
  const user = await findUserByName(app.db, username);
  if (!user) throw notFound(`user "${username}" not found`);
  return user;
}

/**
 * Checks a username/password pair; returns the user or null (never saying which part was wrong).
 * No rate limit here: requests from the network go through checkPassword in services/auth.ts.
 */
export async function authenticatePassword(app: AppContext, username: string, password: string): Promise<User | null> {
  const user = await findUserByName(app.db, username);
  if (!user) {
    // Spend the same scrypt work as a real check, so response timing doesn't reveal which usernames exist.
    await verifyPassword(password, await dummyHash());
    return null;
  }
  return (await verifyPassword(password, user.password_hash)) ? user : null;
}

let dummy: Promise<string> | null = null;

/** A hash of a random password made with the current scrypt parameters (the ones real hashes have), once per process. */
function dummyHash(): Promise<string> {
  dummy ??= hashPassword(randomPassword());
  return dummy;
}

export async function countUsers(app: AppContext): Promise<number> {
  const row = await app.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function listUsers(app: AppContext): Promise<User[]> {
  return app.db.selectFrom('users').selectAll().orderBy('lower_name').execute();
}

export async function setPassword(app: AppContext, userId: number, password: string): Promise<void> {
  if (password.length < MIN_PASSWORD_LENGTH) throw invalid(`password must be at least ${MIN_PASSWORD_LENGTH} characters`, 'password');
  await app.db.updateTable('users').set({ password_hash: await hashPassword(password), updated_at: now() }).where('id', '=', userId).execute();
}
