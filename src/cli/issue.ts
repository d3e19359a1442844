import type { Command } from 'commander';
import { printJson } from './context.ts';
import { ApiClient } from './apiClient.ts';
import { parseRepoSlug } from './repo.ts';

/** `gitoku issue list|create|view`: the issue API (GitHub's shapes) from a shell. */

interface IssueJson {
  number: number;
  title: string;
  body: string | null;
  state: string;
  state_reason: string | null;
  user: { login: string } | null;
  labels: { name: string }[];
  assignees: { login: string }[];
  comments: number;
  html_url: string;
  created_at: string;
  pull_request?: unknown;
}

interface ServerOptions {
  server?: string;
  token?: string;
  json: boolean;
}

const serverOptions = (cmd: Command) =>
  cmd
    .option('--server <url>', 'gitoku URL (GITOKU_URL, default http://localhost:3000)')
    .option('--token <token>', 'personal access token (GITOKU_TOKEN)')
    .option('--json', 'print JSON', false);

function line(i: IssueJson): string {
  const labels = i.labels.length ? `  [${i.labels.map((l) => l.name).join(', ')}]` : '';
  const who = i.assignees.length ? `  → ${i.assignees.map((a) => a.login).join(', ')}` : '';
  return `#${i.number}\t${i.state}${i.pull_request ? ' (pull request)' : ''}\t${i.title}${labels}${who}`;
}

const repoPath = (slug: string) => {
  const { owner, name } = parseRepoSlug(slug);
  return `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
};

export function registerIssueCommands(program: Command): void {
  const issue = program.command('issue').description('Issues of a repository');

  serverOptions(
    issue
      .command('list')
      .description('List issues (open by default; pull requests are left out)')
      .argument('<owner/name>', 'the repository')
      .option('--state <state>', 'open, closed or all', 'open')
      .option('--label <names>', 'comma-separated labels (all must match)')
      .option('--assignee <login>', 'a user, agent:<key>, none or *')
      .option('--search <text>', 'text in the title or description')
      .option('--limit <n>', 'at most this many', '30'),
  ).action(async (slug: string, opts: ServerOptions & { state: string; label?: string; assignee?: string; search?: string; limit: string }) => {
    const api = ApiClient.fromOptions(opts);
    const params = new URLSearchParams({ state: opts.state, kind: 'issue', per_page: String(Math.min(Math.max(Number(opts.limit) || 30, 1), 100)) });
    if (opts.label) params.set('labels', opts.label);
    if (opts.assignee) params.set('assignee', opts.assignee);
    if (opts.search) params.set('q', opts.search);
    const issues = await api.request<IssueJson[]>('GET', `${repoPath(slug)}/issues?${params}`);
    if (opts.json) printJson(issues);
    else if (issues.length === 0) console.log('No issues.');
    else for (const i of issues) console.log(line(i));
  });

  serverOptions(
    issue
      .command('create')
      .description('Open an issue (assign agent:<key> to start an agent on it)')
      .argument('<owner/name>', 'the repository')
      .requiredOption('--title <text>', 'title')
      .option('--body <text>', 'description (markdown)', '')
      .option('--label <name...>', 'labels (created when missing)')
      .option('--assignee <login...>', 'users or agent:<key>'),
  ).action(async (slug: string, opts: ServerOptions & { title: string; body: string; label?: string[]; assignee?: string[] }) => {
    const api = ApiClient.fromOptions(opts);
    const created = await api.request<IssueJson>('POST', `${repoPath(slug)}/issues`, { title: opts.title, body: opts.body, labels: opts.label, assignees: opts.assignee });
    if (opts.json) printJson(created);
    else console.log(`Opened #${created.number}: ${created.title}\n  ${created.html_url}`);
  });

  serverOptions(
    issue
      .command('view')
      .description('Show an issue with its comments')
      .argument('<owner/name>', 'the repository')
      .argument('<number>', 'the issue number'),
  ).action(async (slug: string, number: string, opts: ServerOptions) => {
    const api = ApiClient.fromOptions(opts);
    const n = encodeURIComponent(number.replace(/^#/, ''));
    const [i, comments] = await Promise.all([
      api.request<IssueJson>('GET', `${repoPath(slug)}/issues/${n}`),
      api.request<{ user: { login: string } | null; body: string; created_at: string }[]>('GET', `${repoPath(slug)}/issues/${n}/comments?per_page=100`),
    ]);
    if (opts.json) {
      printJson({ ...i, comment_list: comments });
      return;
    }
    console.log(`#${i.number} ${i.title}`);
    console.log(`${i.state}${i.state_reason && i.state === 'closed' ? ` (${i.state_reason.replace('_', ' ')})` : ''} · opened by ${i.user?.login ?? 'ghost'} · ${i.html_url}`);
    if (i.labels.length) console.log(`labels: ${i.labels.map((l) => l.name).join(', ')}`);
    if (i.assignees.length) console.log(`assignees: ${i.assignees.map((a) => a.login).join(', ')}`);
    console.log(`\n${i.body?.trim() || '(no description)'}`);
    for (const c of comments) console.log(`\n— ${c.user?.login ?? 'ghost'} (${c.created_at}):\n${c.body}`);
  });
}
