import type { AppContext } from './app.ts';
import { countUsers, createUser } from './users.ts';
import { randomPassword } from '../domain/secrets.ts';

export interface FirstRunResult {
  username: string;
  password: string | null;
}

/**
 * On an empty instance, creates the administrator. Its password comes from GITOKU_ADMIN_PASSWORD,
 * or is generated and returned once for the operator to read from the log.
 */
export async function ensureFirstAdmin(app: AppContext): Promise<FirstRunResult | null> {
  if ((await countUsers(app)) > 0) return null;
  const password = app.config.adminPassword ?? randomPassword();
  try {
    await createUser(app, { username: 'admin', password, isAdmin: true, fullName: 'Administrator' });
  } catch (err) {
    // Another instance started at the same moment and created it.
    if ((await countUsers(app)) > 0) return null;
    throw err;
  }
  return { username: 'admin', password: app.config.adminPassword ? null : password };
}
