import type { Command } from 'commander';
import { printJson } from './context.ts';
import { CliError } from './errors.ts';
import { ApiClient } from './apiClient.ts';

export function parseRepoSlug(slug: string): { owner: string; name: string } {
  const match = /^([^/\s]+)\/([^/\s]+)$/.exec(slug);
  if (!match) throw new CliError(`expected OWNER/NAME, got "${slug}"`);
  return { owner: match[1]!, name: match[2]! };
}

interface RepositoryJson {
  id: number;
  full_name: string;
  private: boolean;
  html_url: string;
  clone_url: string;
}

export function registerRepoCommands(program: Command): void {
  const repo = program.command('repo').description('Manage repositories');
  repo
    .command('create')
    .description("Create a repository on a gitoku server (for another user than the token's: a site administrator's token)")
    .argument('<owner/name>', 'owner and repository name')
    .option('--private', 'make it private', false)
    .option('--description <text>', 'description', '')
    .option('--auto-init', 'start with a README commit', false)
    .option('--server <url>', 'gitoku URL (GITOKU_URL, default http://localhost:3000)')
    .option('--token <token>', 'personal access token (GITOKU_TOKEN)')
    .option('--json', 'print the repository as JSON', false)
    .action(async (slug: string, opts: { private: boolean; description: string; autoInit: boolean; server?: string; token?: string; json: boolean }) => {
      const { owner, name } = parseRepoSlug(slug);
      const api = ApiClient.fromOptions(opts);
      const me = await api.request<{ login: string }>('GET', '/user');
      const body = { name, description: opts.description, private: opts.private, auto_init: opts.autoInit };
      const path = me.login.toLowerCase() === owner.toLowerCase() ? '/user/repos' : `/admin/users/${encodeURIComponent(owner)}/repos`;
      // The clone URL is the server's: it knows the address it is reached at, this shell does not.
      const created = await api.request<RepositoryJson>('POST', path, body);
      if (opts.json) printJson({ id: created.id, full_name: created.full_name, private: created.private, html_url: created.html_url, clone_url: created.clone_url });
      else console.log(`Created ${created.private ? 'private' : 'public'} repository ${created.full_name}\n  clone: ${created.clone_url}`);
    });
}
