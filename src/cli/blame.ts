import type { Command } from 'commander';
import { ApiClient } from './apiClient.ts';
import { CliError } from './errors.ts';
import { parseRepoSlug } from './repo.ts';
import { printJson } from './context.ts';

interface CaptureJson {
  id: number;
  commit_sha: string;
  source_family: string;
  exact_model_name: string;
  prompt: string;
  evidence_kind: string;
  capture_confidence: number;
  session_id: string | null;
  run: { number: number; html_url: string } | null;
  pull_request: { number: number; html_url: string } | null;
}

interface RangeJson {
  start_line: number;
  end_line: number;
  commit: { sha: string; author_name?: string; author?: { name: string } };
  captures?: CaptureJson[];
}

const encodePath = (path: string) => path.split('/').map(encodeURIComponent).join('/');

/** The AI column of one line: "[n] family/model" for the captures that wrote it, "·" otherwise. */
export function aiColumn(captures: CaptureJson[], legend: Map<number, number>): string {
  if (captures.length === 0) return '·';
  const first = captures[0]!;
  const refs = captures.map((c) => `[${legend.get(c.id)}]`).join('');
  return `${refs} ${first.source_family}${first.exact_model_name ? `/${first.exact_model_name}` : ''}`;
}

/** Formats blame ranges and file content as lines: "<sha> <ai column> <n> │ <content>", then the capture legend. */
export function formatAiBlame(ranges: RangeJson[], content: string, withAi: boolean): string {
  const lines = content.replace(/\n$/, '').split('\n');
  const legend = new Map<number, number>();
  const captures: CaptureJson[] = [];
  for (const r of ranges) {
    for (const c of r.captures ?? []) {
      if (!legend.has(c.id)) {
        legend.set(c.id, legend.size + 1);
        captures.push(c);
      }
    }
  }
  const byLine = new Map<number, RangeJson>();
  for (const r of ranges) for (let n = r.start_line; n <= r.end_line; n++) byLine.set(n, r);
  const columns = lines.map((_, i) => (withAi ? aiColumn(byLine.get(i + 1)?.captures ?? [], legend) : ''));
  const aiWidth = Math.min(40, Math.max(0, ...columns.map((c) => c.length)));
  const numWidth = String(lines.length).length;
  const out = lines.map((text, i) => {
    const r = byLine.get(i + 1);
    const sha = (r?.commit.sha ?? '').slice(0, 8).padEnd(8);
    const ai = withAi ? `${columns[i]!.slice(0, 40).padEnd(aiWidth)} ` : '';
    return `${sha} ${ai}${String(i + 1).padStart(numWidth)} │ ${text.replace(/\r$/, '')}`;
  });
  if (withAi && captures.length) {
    out.push('', 'AI captures:');
    for (const c of captures) {
      const facts = [`commit ${c.commit_sha.slice(0, 8)}`, c.source_family, c.exact_model_name || null, `${c.evidence_kind} (confidence ${c.capture_confidence.toFixed(2)})`, c.run ? `run #${c.run.number}` : null, c.pull_request ? `PR #${c.pull_request.number}` : null, c.session_id ? `session ${c.session_id}` : null].filter(Boolean);
      out.push(`[${legend.get(c.id)}] ${facts.join(' · ')}`);
      const prompt = c.prompt.trim().split('\n').find((l) => l.trim()) ?? '';
      if (prompt) out.push(`    prompt: ${prompt.length > 120 ? `${prompt.slice(0, 120)}…` : prompt}`);
      if (c.run) out.push(`    ${c.run.html_url}`);
    }
  }
  return out.join('\n');
}

export function registerBlameCommand(program: Command): void {
  program
    .command('blame')
    .description('Blame a file of a repository on a server; with --ai, an AI column shows which lines an AI wrote and the capture (model, prompt, run)')
    .argument('<owner/name>', 'repository')
    .argument('<path>', 'file path in the repository')
    .option('--ai', 'show the AI column and the captures', false)
    .option('--ref <ref>', 'branch, tag or commit (default: the default branch)')
    .option('--server <url>', 'gitoku URL (GITOKU_URL, default http://localhost:3000)')
    .option('--token <token>', 'personal access token (GITOKU_TOKEN)')
    .option('--json', 'print the API response as JSON', false)
    .action(async (slug: string, path: string, opts: { ai: boolean; ref?: string; server?: string; token?: string; json: boolean }) => {
      const { owner, name } = parseRepoSlug(slug);
      const api = ApiClient.fromOptions(opts);
      const base = `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
      const ref = opts.ref ?? (await api.request<{ default_branch: string }>('GET', base)).default_branch;
      const cleanPath = path.replace(/^\/+/, '');
      const target = `${encodePath(ref)}/${encodePath(cleanPath)}`;
      const blame = await api.request<{ ranges: RangeJson[] }>('GET', `${base}/${opts.ai ? 'ai-blame' : 'blame'}/${target}`);
      if (opts.json) {
        printJson(blame);
        return;
      }
      let res: Response;
      try {
        res = await fetch(`${api.serverUrl}/api/v1${base}/raw/${target}`, { headers: api.headers({ Accept: '*/*' }) });
      } catch (err) {
        throw new CliError(`cannot reach ${api.serverUrl}: ${(err as Error).message}`);
      }
      if (!res.ok) throw new CliError(`GET ${base}/raw/${target}: ${res.status}`);
      process.stdout.write(formatAiBlame(blame.ranges, await res.text(), opts.ai) + '\n');
    });
}
