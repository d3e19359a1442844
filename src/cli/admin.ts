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
