import type { Command } from 'commander';
import { withApp, printJson } from './context.ts';
import { CliError } from './errors.ts';
import { parseScopes } from '../domain/permissions.ts';

export function registerAdminCommands(program: Command): void {
  const admin = program.command('admin').description('Administration on the configured database');
  const user = admin.command('user').description('Manage users');
  user
    .command('create')
    .description('Create a user')
    .requiredOption('--username <name>', 'username')
    .requiredOption('--password <password>', 'password (at least 8 characters)')
    .option('--email <email>', 'email address')
    .option('--admin', 'make the user a site administrator', false)
    .option('--json', 'print the user as JSON', false)
    .action(async (opts: { username: string; password: string; email?: string; admin: boolean; json: boolean }) => {
      await withApp(async (app) => {
        const { createUser } = await import('../services/users.ts');
        const created = await createUser(app, { username: opts.username, password: opts.password, email: opts.email, isAdmin: opts.admin });
        if (opts.json) printJson({ id: created.id, login: created.username, email: created.email, site_admin: created.is_admin === 1 });
        else console.log(`Created ${created.is_admin ? 'administrator' : 'user'} "${created.username}".`);
      });
    });

  user
    .command('list')
    .description('List users (login, role, status, repositories)')
    .option('--query <text>', 'only users whose login, name or email contains this')
    .option('--json', 'print the users as JSON', false)
    .action(async (opts: { query?: string; json: boolean }) => {
      await withApp(async (app) => {
        const { listUsersForAdmin } = await import('../services/siteAdmin.ts');
        const users = [];
        for (let page = 1; ; page++) {
          const { items, total } = await listUsersForAdmin(app, { q: opts.query, page, perPage: 100 });
          users.push(...items);
          if (users.length >= total || items.length === 0) break;
        }
        if (opts.json) {
          printJson(users.map((u) => ({ id: u.id, login: u.username, email: u.email, name: u.full_name || null, site_admin: u.is_admin === 1, suspended_at: u.suspended_at, repositories: u.repo_count, created_at: u.created_at })));
          return;
        }
        if (!users.length) {
          console.log(opts.query ? `No users match "${opts.query}".` : 'No users.');
          return;
        }
        const width = Math.max(5, ...users.map((u) => u.username.length));
        console.log(`${'LOGIN'.padEnd(width)}  ROLE   STATUS     REPOS  EMAIL`);
        for (const u of users) {
          console.log(`${u.username.padEnd(width)}  ${(u.is_admin ? 'admin' : 'user').padEnd(5)}  ${(u.suspended_at ? 'suspended' : 'active').padEnd(9)}  ${String(u.repo_count).padStart(5)}  ${u.email}`);
        }
      });
    });

  const userAction = (name: string, description: string, run: (app: import('../services/app.ts').AppContext, username: string) => Promise<string>) =>
    user
      .command(`${name} <username>`)
      .description(description)
      .action(async (username: string) => {
        await withApp(async (app) => console.log(await run(app, username)));
      });
  userAction('disable', 'Suspend a user: sign-in, sessions, tokens and git refused at once', async (app, username) => {
    const { setUserSuspended } = await import('../services/siteAdmin.ts');
    const u = await setUserSuspended(app, null, username, true);
    return `Suspended "${u.username}".`;
  });
  userAction('enable', 'Unsuspend a user', async (app, username) => {
    const { setUserSuspended } = await import('../services/siteAdmin.ts');
    const u = await setUserSuspended(app, null, username, false);
    return `"${u.username}" can sign in again.`;
  });
  userAction('promote', 'Make a user a site administrator', async (app, username) => {
    const { setSiteAdmin } = await import('../services/siteAdmin.ts');
    const u = await setSiteAdmin(app, username, true);
    return `"${u.username}" is a site administrator.`;
  });
  userAction('demote', 'Take site administration away (never from the last administrator)', async (app, username) => {
    const { setSiteAdmin } = await import('../services/siteAdmin.ts');
    const u = await setSiteAdmin(app, username, false);
    return `"${u.username}" is no longer a site administrator.`;
  });
  user
    .command('delete <username>')
    .description('Delete a user; refused while they own repositories unless --purge (which deletes those for good)')
    .option('--purge', 'also delete the repositories they own', false)
    .requiredOption('--confirm <username>', 'the username again, to confirm')
    .action(async (username: string, opts: { purge: boolean; confirm: string }) => {
      if (opts.confirm !== username) throw new CliError(`--confirm must repeat the username ("${username}")`);
      await withApp(async (app) => {
        const { deleteUserAccount } = await import('../services/siteAdmin.ts');
        const { repositoriesDeleted } = await deleteUserAccount(app, null, username, { purge: opts.purge });
        console.log(`Deleted "${username}"${repositoriesDeleted ? ` and ${repositoriesDeleted} ${repositoriesDeleted === 1 ? 'repository' : 'repositories'}` : ''}.`);
      });
    });

  const runnerToken = admin.command('runner-token').description('Runner registration tokens');
  runnerToken
    .command('create')
    .description('Create a registration token for `gitoku runner --token …`')
    .option('--expires-in-hours <hours>', 'expire after this many hours')
    .option('--json', 'print {"token": …} as JSON', false)
    .action(async (opts: { expiresInHours?: string; json: boolean }) => {
      let ttl: number | null = null;
      if (opts.expiresInHours !== undefined) {
        const hours = Number(opts.expiresInHours);
        if (!Number.isFinite(hours) || hours <= 0) throw new CliError('--expires-in-hours must be a positive number');
        ttl = hours * 3600_000;
      }
      await withApp(async (app) => {
        const { createRegistrationToken } = await import('../services/runners.ts');
        const value = await createRegistrationToken(app, null, ttl);
        if (opts.json) printJson({ token: value });
        else console.log(value);
      });
    });

  const token = admin.command('token').description('Manage personal access tokens');
  token
    .command('create')
    .description('Create a personal access token for a user (printed once)')
    .requiredOption('--username <name>', 'the token owner')
    .option('--scopes <scopes>', 'comma-separated scopes: repo, admin', 'repo')
    .option('--name <name>', 'a label for the token', 'cli')
    .option('--expires-in-days <days>', 'expire after this many days')
    .option('--json', 'print {"token": …} as JSON', false)
    .action(async (opts: { username: string; scopes: string; name: string; expiresInDays?: string; json: boolean }) => {
      const scopes = parseScopes(opts.scopes);
      if ('error' in scopes) throw new CliError(scopes.error);
      let expiresAt: Date | null = null;
      if (opts.expiresInDays !== undefined) {
        const days = Number(opts.expiresInDays);
        if (!Number.isFinite(days) || days <= 0) throw new CliError('--expires-in-days must be a positive number');
        expiresAt = new Date(Date.now() + days * 86400_000);
      }
      await withApp(async (app) => {
        const [{ getUserByName }, { createAccessToken }] = await Promise.all([import('../services/users.ts'), import('../services/tokens.ts')]);
        const owner = await getUserByName(app, opts.username);
        const { token: value, record } = await createAccessToken(app, { userId: owner.id, name: opts.name, scopes, expiresAt });
        if (opts.json) printJson({ token: value, id: record.id, name: record.name, scopes, expires_at: record.expires_at, user: owner.username });
        else console.log(value);
      });
    });
}
