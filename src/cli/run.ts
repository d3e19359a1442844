import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { ApiClient } from './apiClient.ts';
import { CliError } from './errors.ts';
import { parseRepoSlug } from './repo.ts';
import { printJson } from './context.ts';

interface RunJson {
  number: number;
  status: string;
  title: string;
  driver: string;
  model: string;
  agent_key?: string | null;
  compare_branch: string;
  commit_sha: string | null;
  error: string | null;
  result_summary: string | null;
  html_url: string;
  pull_request: { number: number; html_url: string } | null;
}

interface TraceJson {
  kind: string;
  data: Record<string, unknown>;
}

/** One line per trace event, for humans. */
export function formatTraceEvent(e: TraceJson): string {
  const d = e.data;
  switch (e.kind) {
    case 'message':
      return `💬 ${String(d.text)}`;
    case 'thinking':
      return `💭 ${String(d.text)}`;
    case 'file_edit':
      return `✏️  ${String(d.action)} ${String(d.path)}`;
    case 'command':
      return `$ ${String(d.command)}  → exit ${String(d.exit_code)}`;
    case 'log':
      return String(d.text).replace(/\n$/, '');
    case 'tool_call':
      return `🔧 ${String(d.tool)}`;
    case 'usage':
      return `📊 tokens: ${String(d.total_tokens ?? (Number(d.input_tokens ?? 0) + Number(d.output_tokens ?? 0)))}`;
    case 'error':
      return `✖ ${String(d.message)}`;
    default:
      return `· ${String(d.message ?? JSON.stringify(d))}`;
  }
}

interface GroupJson {
  id: number;
  html_url: string;
  attempts: { rank: number; run: RunJson }[];
}

export function registerRunCommand(program: Command): void {
  const run = program
    .command('run')
    // Options after `run fork` belong to fork.
    .enablePositionalOptions()
    .description('Start an agent run on a repository (prints progress and the trace with --follow)')
    .argument('<owner/name>', 'repository')
    .argument('[prompt]', 'the task; use --prompt-file for long prompts')
    .option('--prompt-file <file>', 'read the prompt from a file ("-" for stdin)')
    .option('--title <title>', 'run and pull request title')
    .option('--agent <key>', 'a repository agent (gitoku.toml [agent.<key>], .github/agents, .claude/agents): its instructions, driver and model')
    .option('--driver <driver>', 'agent driver (default: script)')
    .option('--model <model>', 'model name')
    .option('--base <branch>', 'base branch of the pull request (default: the default branch)')
    .option('--source <branch>', 'branch to start from (default: the base branch)')
    .option('--timeout <seconds>', 'wall-clock limit for the agent')
    .option('--attempts <n>', 'best-of-N: run the task N ways (1-8) as a run group; prints the group and each run')
    .option('--follow', 'stream the trace until the run ends; exit 0 only when it succeeded', false)
    .option('--server <url>', 'gitoku URL (GITOKU_URL, default http://localhost:3000)')
    .option('--token <token>', 'personal access token (GITOKU_TOKEN)')
    .option('--json', 'print the run as JSON', false)
    .action(async (slug: string, promptArg: string | undefined, opts: { promptFile?: string; title?: string; agent?: string; driver?: string; model?: string; base?: string; source?: string; timeout?: string; attempts?: string; follow: boolean; server?: string; token?: string; json: boolean }) => {
      const { owner, name } = parseRepoSlug(slug);
      let prompt = promptArg;
      if (opts.promptFile) prompt = opts.promptFile === '-' ? await readStdin() : await readFile(opts.promptFile, 'utf8').catch((e: Error) => { throw new CliError(`cannot read ${opts.promptFile}: ${e.message}`); });
      if (!prompt || !prompt.trim()) throw new CliError('a prompt is required (argument or --prompt-file)');
      const timeout = opts.timeout !== undefined ? Number(opts.timeout) : undefined;
      if (timeout !== undefined && (!Number.isInteger(timeout) || timeout <= 0)) throw new CliError('--timeout must be a positive number of seconds');
      const api = ApiClient.fromOptions(opts);
      const base = `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/runs`;
      const request = { prompt, title: opts.title, agent: opts.agent, driver: opts.driver, model: opts.model, base_branch: opts.base, source_branch: opts.source, timeout_seconds: timeout };
      if (opts.attempts !== undefined) {
        const attempts = Number(opts.attempts);
        if (!Number.isInteger(attempts) || attempts < 1 || attempts > 8) throw new CliError('--attempts must be a whole number from 1 to 8');
        const group = await api.request<GroupJson>('POST', base, { ...request, attempts });
        if (opts.json) printJson(group);
        else {
          console.log(`Started ${group.attempts.length} attempts as run group ${group.id}\n  group: ${group.html_url}`);
          for (const a of [...group.attempts].sort((x, y) => x.run.number - y.run.number)) console.log(`  run #${a.run.number} (${a.run.driver}) on ${a.run.compare_branch}: ${a.run.html_url}`);
        }
        return;
      }
      const run = await api.request<RunJson>('POST', base, request);
      await reportStartedRun(api, base, run, opts);
    });

  run
    .command('fork')
    .description('Fork a run from one of its steps (default: the last checkpoint) with an edited prompt, driver or model')
    .argument('<owner/name>', 'repository')
    .argument('<number>', 'the run to fork')
    .option('--step <k>', 'the step to start from (see the run page timeline or GET …/runs/N/checkpoints)')
    .option('--prompt <text>', 'the prompt (default: the run\'s prompt)')
    .option('--prompt-file <file>', 'read the prompt from a file ("-" for stdin)')
    .option('--title <title>', 'run and pull request title')
    .option('--driver <driver>', 'agent driver (default: the run\'s)')
    .option('--model <model>', 'model name')
    .option('--follow', 'stream the trace until the fork ends; exit 0 only when it succeeded', false)
    .option('--server <url>', 'gitoku URL (GITOKU_URL, default http://localhost:3000)')
    .option('--token <token>', 'personal access token (GITOKU_TOKEN)')
    .option('--json', 'print the new run as JSON', false)
    .action(async (slug: string, numberArg: string, opts: { step?: string; prompt?: string; promptFile?: string; title?: string; driver?: string; model?: string; follow: boolean; server?: string; token?: string; json: boolean }) => {
      const { owner, name } = parseRepoSlug(slug);
      const number = Number(numberArg);
      if (!Number.isInteger(number) || number < 1) throw new CliError('the run number must be a positive whole number');
      const step = opts.step !== undefined ? Number(opts.step) : undefined;
      if (step !== undefined && (!Number.isInteger(step) || step < 0)) throw new CliError('--step must be a step number (0 or more)');
      let prompt = opts.prompt;
      if (opts.promptFile) prompt = opts.promptFile === '-' ? await readStdin() : await readFile(opts.promptFile, 'utf8').catch((e: Error) => { throw new CliError(`cannot read ${opts.promptFile}: ${e.message}`); });
      const api = ApiClient.fromOptions(opts);
      const base = `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/runs`;
      const fork = await api.request<RunJson & { forked_from: { number: number; step: number | null } | null }>('POST', `${base}/${number}/forks`, { step, prompt, title: opts.title, driver: opts.driver, model: opts.model });
      if (!opts.json) console.log(`Forked run #${number}${fork.forked_from?.step != null ? ` at step ${fork.forked_from.step}` : ''} as run #${fork.number}`);
      await reportStartedRun(api, base, fork, opts);
    });
}

/** After a run started: prints it, or follows its trace until it ends (exit code 1 unless it succeeded). */
async function reportStartedRun(api: ApiClient, base: string, run: RunJson, opts: { follow: boolean; json: boolean }): Promise<void> {
  if (!opts.follow) {
    if (opts.json) printJson(run);
    else console.log(`Started run #${run.number} (${run.agent_key ? `agent ${run.agent_key} · ` : ''}${run.driver}) on ${run.compare_branch}\n  run: ${run.html_url}\n  pull request: ${run.pull_request?.html_url ?? '—'}`);
    return;
  }
  if (!opts.json) console.log(`▶ run #${run.number} "${run.title}" (${run.driver}${run.model ? ` · ${run.model}` : ''}) → ${run.compare_branch}\n  ${run.html_url}`);
  let final: { status: string; error: string | null } | null = null;
  await api.sse(`${base}/${run.number}/events`, (event, data) => {
    if (event === 'trace' && !opts.json) console.log(formatTraceEvent(JSON.parse(data) as TraceJson));
    else if (event === 'end') {
      final = JSON.parse(data) as { status: string; error: string | null };
      return 'stop';
    }
  });
  const finished = await api.request<RunJson>('GET', `${base}/${run.number}`);
  if (opts.json) printJson(finished);
  else {
    const status = (final as { status: string } | null)?.status ?? finished.status;
    console.log(`${status === 'succeeded' ? '✔' : '✖'} run #${finished.number} ${status}${finished.error ? `: ${finished.error}` : ''}`);
    if (finished.result_summary) console.log(`  ${finished.result_summary}`);
    if (finished.pull_request) console.log(`  pull request: ${finished.pull_request.html_url}`);
  }
  if (finished.status !== 'succeeded') process.exitCode = 1;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
