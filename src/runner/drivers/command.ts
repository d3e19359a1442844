import { writeConfinedFile } from '../workspaceFs.ts';
import { join } from 'node:path';
import { AgentFailure, type AgentDriver, type DriverContext, type DriverResult } from './types.ts';
import { checkExit, LineSplitter, processEnvironment, resolveProgram, tail } from './process.ts';

/**
 * An administrator-configured program (GITOKU_COMMAND_DRIVER, a JSON argv template — server
 * configuration, never a repository's): `{prompt_file}`, `{workspace}` and `{model}` are replaced in
 * every argument. It runs in the sandbox with the checkout as its working directory; its stdout and
 * stderr become the trace, and the last paragraph it prints is the run's summary.
 */
export function expandArgv(template: string[], values: Record<'prompt_file' | 'workspace' | 'model', string>): string[] {
  return template.map((arg) => arg.replace(/\{(prompt_file|workspace|model)\}/g, (_, key: keyof typeof values) => values[key]));
}

function lastParagraph(text: string): string {
  const paragraphs = text
    .trim()
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter(Boolean);
  return tail(paragraphs[paragraphs.length - 1] ?? '', 4000);
}

export const commandDriver: AgentDriver = {
  name: 'command',
  async run(ctx: DriverContext): Promise<DriverResult> {
    let template: unknown;
    try {
      template = JSON.parse(ctx.env.GITOKU_DRIVER_ARGV ?? 'null');
    } catch {
      template = null;
    }
    if (!Array.isArray(template) || template.length === 0 || !template.every((a) => typeof a === 'string')) {
      throw new AgentFailure('the command driver is not configured on the server (GITOKU_COMMAND_DRIVER)');
    }
    const promptFile = join(ctx.workspace.view.home, 'gitoku-prompt.md');
    await writeConfinedFile(ctx.workspace.home, 'gitoku-prompt.md', ctx.prompt);
    const model = ctx.model === 'default' ? '' : ctx.model;
    const [program, ...args] = expandArgv(template as string[], { prompt_file: promptFile, workspace: ctx.workspace.view.dir, model });
    const resolved = resolveProgram({ fallback: program!, label: 'agent program', setting: 'GITOKU_COMMAND_DRIVER', workspaceRoot: ctx.workspace.root });

    const stdout = new LineSplitter((text) => ctx.emit({ kind: 'log', data: { stream: 'stdout', text: `${text}\n` } }));
    const stderr = new LineSplitter((text) => ctx.emit({ kind: 'log', data: { stream: 'stderr', text: `${text}\n` } }));
    const result = await ctx.sandbox.exec(ctx.workspace, [...resolved.argv, ...args], {
      env: processEnvironment(ctx.env, { GITOKU_PROMPT_FILE: promptFile, GITOKU_WORKSPACE: ctx.workspace.view.dir }),
      timeoutMs: ctx.timeoutMs,
      signal: ctx.signal,
      mounts: resolved.mounts,
      maxOutputBytes: 1024 * 1024,
      onOutput: (stream, text) => (stream === 'stdout' ? stdout : stderr).push(text),
    });
    stdout.end();
    stderr.end();
    checkExit(result, 'the agent program', ctx);
    if (result.code !== 0) {
      throw new AgentFailure(`the agent program exited with code ${result.code ?? result.signal}${result.stderr.trim() ? `: ${tail(result.stderr.trim(), 1500)}` : ''}`);
    }
    const summary = lastParagraph(result.stdout);
    if (summary) ctx.emit({ kind: 'message', data: { text: summary } });
    return { summary: summary || 'The agent program finished.', usage: {}, sessionId: null };
  },
};
