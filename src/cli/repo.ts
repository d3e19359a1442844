import type { Command } from 'commander';
import { withApp, printJson } from './context.ts';
import { CliError } from './errors.ts';

export function parseRepoSlug(slug: string): { owner: string; name: string } {
  const match = /^([^/\s]+)\/([^/\s]+)$/.exec(slug);
  if (!match) throw new CliError(`expected OWNER/NAME, got "${slug}"`);
  return { owner: match[1]!, name: match[2]! };
}

export function registerRepoCommands(program: Command): void {
  const repo = program.command('repo').description('Manage repositories');
  repo
    .command('create')
    .description('Create a repository')
    .argument('<owner/name>', 'owner and repository name')
    .option('--private', 'make it private', false)
    .option('--description <text>', 'description', '')
    .option('--auto-init', 'start with a README commit', false)
    .option('--json', 'print the repository as JSON', false)
    .action(async (slug: string, opts: { private: boolean; description: string; autoInit: boolean; json: boolean }) => {
      const { owner, name } = parseRepoSlug(slug);
      await withApp(async (app) => {
        const [{ getUserByName }, { createRepository }] = await Promise.all([import('../services/users.ts'), import('../services/repositories.ts')]);
        const user = await getUserByName(app, owner);
        const created = await createRepository(app, user, { name, description: opts.description, isPrivate: opts.private, autoInit: opts.autoInit });
        const cloneUrl = `${app.config.baseUrl}/${created.owner_name}/${created.name}.git`;
        if (opts.json) printJson({ id: created.id, full_name: `${created.owner_name}/${created.name}`, private: created.is_private === 1, clone_url: cloneUrl });
        else console.log(`Created ${created.is_private ? 'private' : 'public'} repository ${created.owner_name}/${created.name}\n  clone: ${cloneUrl}`);
      });
    });
}
