import type { Command } from 'commander';
import { printJson } from './context.ts';
import { CliError } from './errors.ts';
import { ApiClient } from './apiClient.ts';
import { parseRepoSlug } from './repo.ts';

const TYPES = ['repositories', 'code', 'issues'] as const;
type SearchType = (typeof TYPES)[number];

interface SearchResponse<T> {
  total_count: number;
  incomplete_results: boolean;
  items: T[];
}

interface RepoItem {
  full_name: string;
  private: boolean;
  description: string | null;
}

interface CodeItem {
  path: string;
  html_url: string;
  repository: { full_name: string };
  lines?: { line_number: number; text: string; match: boolean }[];
}

interface IssueItem {
  number: number;
  title: string;
  state: 'open' | 'closed';
  html_url: string;
  repository_url: string;
  pull_request?: { merged_at: string | null };
}

const oneLine = (s: string | null | undefined, max = 100) => (s ?? '').replace(/\s+/g, ' ').trim().slice(0, max);

/** `gitoku search`: the server's search API (what the header box finds) from a shell. */
export function registerSearchCommand(program: Command): void {
  program
    .command('search')
    .description('Search repositories, code or issues and pull requests on a gitoku server (only what your token can read)')
    .argument('<query...>', 'words to find, with qualifiers such as path:src/ language:go is:open user:NAME')
    .option('--type <type>', `what to search: ${TYPES.join(', ')}`, 'repositories')
    .option('--repo <owner/name>', 'only this repository')
    .option('--ref <ref>', 'code: a branch, tag or commit to search at (with --repo)')
    .option('--limit <n>', 'results to show (1-100)', '30')
    .option('--server <url>', 'gitoku URL (GITOKU_URL, default http://localhost:3000)')
    .option('--token <token>', 'personal access token (GITOKU_TOKEN)')
    .option('--json', 'print the API response as JSON', false)
    .action(async (words: string[], opts: { type: string; repo?: string; ref?: string; limit: string; server?: string; token?: string; json: boolean }) => {
      const type = opts.type === 'repos' ? 'repositories' : opts.type === 'prs' || opts.type === 'pulls' ? 'issues' : opts.type;
      if (!(TYPES as readonly string[]).includes(type)) throw new CliError(`--type must be one of ${TYPES.join(', ')}`);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new CliError('--limit must be a whole number from 1 to 100');
      if (opts.ref && !opts.repo) throw new CliError('--ref needs --repo');
      if (opts.ref && type !== 'code') throw new CliError('--ref applies to --type code');
      let q = words.join(' ');
      if (opts.repo) {
        const { owner, name } = parseRepoSlug(opts.repo);
        q += ` repo:${owner}/${name}`;
      }
      const params = new URLSearchParams({ q, per_page: String(limit) });
      if (opts.ref) params.set('ref', opts.ref);
      const api = ApiClient.fromOptions(opts);
      const result = await api.request<SearchResponse<unknown>>('GET', `/search/${type}?${params.toString()}`);
      if (opts.json) {
        printJson(result);
        return;
      }
      printResults(type as SearchType, result);
    });
}

function printResults(type: SearchType, result: SearchResponse<unknown>): void {
  const shown = result.items.length;
  const more = result.incomplete_results ? '+' : '';
  if (shown === 0) {
    console.log(`No ${type === 'issues' ? 'issues or pull requests' : type} matched.`);
    return;
  }
  if (type === 'repositories') {
    const items = result.items as RepoItem[];
    const width = Math.min(48, Math.max(...items.map((r) => r.full_name.length)));
    for (const r of items) console.log(`${r.full_name.padEnd(width)}  ${r.private ? 'private' : 'public '}  ${oneLine(r.description, 80)}`.trimEnd());
  } else if (type === 'code') {
    // grep's format: repository:path:line: text, matching lines only.
    for (const item of result.items as CodeItem[]) {
      const lines = (item.lines ?? []).filter((l) => l.match);
      if (lines.length === 0) console.log(`${item.repository.full_name}:${item.path}`);
      for (const l of lines) console.log(`${item.repository.full_name}:${item.path}:${l.line_number}: ${l.text.trim().slice(0, 200)}`);
    }
  } else {
    for (const item of result.items as IssueItem[]) {
      const repo = item.repository_url.replace(/^.*\/repos\//, '');
      const state = item.pull_request ? (item.pull_request.merged_at ? 'merged' : item.state) : item.state;
      const kind = item.pull_request ? 'PR   ' : 'issue';
      console.log(`${`${repo}#${item.number}`.padEnd(32)}  ${kind}  ${state.padEnd(6)}  ${oneLine(item.title)}`);
    }
  }
  console.error(`${shown} of ${result.total_count}${more} ${result.total_count === 1 ? 'result' : 'results'}`);
}
