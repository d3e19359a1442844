import type { Command } from 'commander';
import { createInterface } from 'node:readline';
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
  description?: string | null;
  default_branch?: string;
  pushed_at?: string | null;
  updated_at?: string;
}

/** Every page of a paginated listing (per_page=100 until a short page). */
async function listAll<T>(api: ApiClient, path: string, max = 10_000): Promise<T[]> {
  const all: T[] = [];
  for (let page = 1; all.length < max; page++) {
    const items = await api.request<T[]>('GET', `${path}${path.includes('?') ? '&' : '?'}per_page=100&page=${page}`);
    all.push(...items);
    if (items.length < 100) break;
  }
  return all;
}

/** Reads one line from stdin (a terminal or a pipe); '' at end of input. */
function readLine(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY === true });
    let answered = false;
    rl.question(prompt, (answer) => {
      answered = true;
      rl.close();
      resolve(answer);
    });
    rl.on('close', () => {
      if (!answered) resolve('');
    });
  });
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

  repo
    .command('list')
    .description("List repositories: yours (owned or shared with you), or OWNER's that you can see")
    .argument('[owner]', 'a user whose repositories to list')
    .option('--server <url>', 'gitoku URL (GITOKU_URL, default http://localhost:3000)')
    .option('--token <token>', 'personal access token (GITOKU_TOKEN)')
    .option('--json', 'print the repositories as JSON', false)
    .action(async (owner: string | undefined, opts: { server?: string; token?: string; json: boolean }) => {
      const api = ApiClient.fromOptions(opts);
      const repos = await listAll<RepositoryJson>(api, owner ? `/users/${encodeURIComponent(owner)}/repos` : '/user/repos');
      if (opts.json) {
        printJson(repos.map((r) => ({ id: r.id, full_name: r.full_name, private: r.private, description: r.description ?? null, default_branch: r.default_branch, html_url: r.html_url, clone_url: r.clone_url, pushed_at: r.pushed_at ?? null, updated_at: r.updated_at })));
        return;
      }
      if (repos.length === 0) {
        console.log(owner ? `No repositories of ${owner} that you can see.` : 'No repositories yet (create one with `gitoku repo create OWNER/NAME`).');
        return;
      }
      const width = Math.min(48, Math.max(...repos.map((r) => r.full_name.length)));
      for (const r of repos) {
        const when = (r.pushed_at ?? r.updated_at ?? '').slice(0, 10);
        const description = (r.description ?? '').replace(/\s+/g, ' ').slice(0, 72);
        console.log(`${r.full_name.padEnd(width)}  ${(r.private ? 'private' : 'public').padEnd(7)}  ${when.padEnd(10)}  ${description}`.trimEnd());
      }
    });

  repo
    .command('delete')
    .description('Delete a repository and all its data (you must be an admin of it); asks you to type its name unless --yes')
    .argument('<owner/name>', 'owner and repository name')
    .option('--yes', 'do not ask for confirmation', false)
    .option('--server <url>', 'gitoku URL (GITOKU_URL, default http://localhost:3000)')
    .option('--token <token>', 'personal access token (GITOKU_TOKEN)')
    .action(async (slug: string, opts: { yes: boolean; server?: string; token?: string }) => {
      const { owner, name } = parseRepoSlug(slug);
      const api = ApiClient.fromOptions(opts);
      const path = `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
      // Exists and is visible (a 404 here says so before asking anything).
      const repo = await api.request<RepositoryJson>('GET', path);
      if (!opts.yes) {
        console.error(`This deletes ${repo.full_name}: its git data, pull requests, issues, runs and settings. It cannot be undone.`);
        const answer = await readLine(`Type ${repo.full_name} to confirm: `);
        if (answer.trim().toLowerCase() !== repo.full_name.toLowerCase()) throw new CliError('confirmation did not match: nothing was deleted');
      }
      await api.request('DELETE', path);
      console.log(`Deleted repository ${repo.full_name}`);
    });

  repo
    .command('rename')
    .description('Rename a repository (admins); the old name keeps working for links, the API and git remotes')
    .argument('<owner/name>', 'owner and current repository name')
    .argument('<new-name>', 'the new name')
    .option('--server <url>', 'gitoku URL (GITOKU_URL, default http://localhost:3000)')
    .option('--token <token>', 'personal access token (GITOKU_TOKEN)')
    .action(async (slug: string, newName: string, opts: { server?: string; token?: string }) => {
      const { owner, name } = parseRepoSlug(slug);
      const api = ApiClient.fromOptions(opts);
      const repo = await api.request<RepositoryJson>('PATCH', `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`, { name: newName });
      console.log(`Renamed ${owner}/${name} to ${repo.full_name}`);
    });

  for (const [command, archived] of [
    ['archive', true],
    ['unarchive', false],
  ] as const) {
    repo
      .command(command)
      .description(archived ? 'Archive a repository (admins): read-only for everyone until unarchived' : 'Unarchive a repository (admins)')
      .argument('<owner/name>', 'owner and repository name')
      .option('--server <url>', 'gitoku URL (GITOKU_URL, default http://localhost:3000)')
      .option('--token <token>', 'personal access token (GITOKU_TOKEN)')
      .action(async (slug: string, opts: { server?: string; token?: string }) => {
        const { owner, name } = parseRepoSlug(slug);
        const api = ApiClient.fromOptions(opts);
        const repo = await api.request<RepositoryJson>('PATCH', `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`, { archived });
        console.log(archived ? `Archived ${repo.full_name}: it is read-only now` : `Unarchived ${repo.full_name}`);
      });
  }
}
