import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeConfinedFile } from '../workspaceFs.ts';
import { AgentFailure, type AgentDriver, type DriverContext, type DriverResult } from './types.ts';
import { checkExit, isObject, type Json, LineSplitter, num, parseEventLine, processEnvironment, resolveProgram, str, tail, workspacePath } from './process.ts';

/**
 * Claude Code (`claude -p --output-format stream-json --verbose`), run unattended inside our sandbox
 * (permission checks skipped: the sandbox is the boundary), with a per-run CLAUDE_CONFIG_DIR under the
 * workspace root. Its stream-json messages become the normalized trace; the session id is kept.
 */

/** Tools whose result is a file edit (their input names the file). */
const EDIT_TOOLS: Record<string, string> = { Write: 'file_path', Edit: 'file_path', MultiEdit: 'file_path', NotebookEdit: 'notebook_path' };

function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((c) => (isObject(c) ? str(c.text) : '')).filter(Boolean).join('\n');
  return '';
}

export const claudeDriver: AgentDriver = {
  name: 'claude',
  async run(ctx: DriverContext): Promise<DriverResult> {
    const program = resolveProgram({ configured: ctx.env.GITOKU_DRIVER_BIN, runnerVariable: 'GITOKU_CLAUDE_BIN', fallback: 'claude', label: 'Claude Code CLI', setting: 'GITOKU_CLAUDE_BIN', workspaceRoot: ctx.workspace.root });
    await mkdir(join(ctx.workspace.home, '.claude'), { recursive: true });
    const configDir = join(ctx.workspace.view.home, '.claude');
    const argv = [...program.argv, '-p', '--output-format', 'stream-json', '--verbose', '--dangerously-skip-permissions'];
    if (ctx.env.GITOKU_DRIVER_CONFIG) {
      await writeConfinedFile(ctx.workspace.home, '.claude/gitoku-settings.json', ctx.env.GITOKU_DRIVER_CONFIG, { mode: 0o600 });
      argv.push('--settings', join(configDir, 'gitoku-settings.json'));
    }
    if (ctx.model && ctx.model !== 'default') argv.push('--model', ctx.model);
    // A fork that keeps the driver continues the agent's own conversation (its session files are in the
    // home the workspace booted with, under the same checkout path), as a new session.
    if (ctx.resumeSession) {
      argv.push('--resume', ctx.resumeSession, '--fork-session');
      ctx.emit({ kind: 'status', data: { message: `Continuing Claude Code session ${ctx.resumeSession}` } });
    }

    let sessionId: string | null = null;
    let resolvedModel: string | null = null;
    let summary = '';
    let finished: Json | null = null;
    const malformed: string[] = [];
    const pending = new Map<string, { name: string; input: Json }>();

    const assistant = (message: Json) => {
      const synthetic = message.model === '<synthetic>'; // the CLI's own error text, reported again by `result`
      for (const block of Array.isArray(message.content) ? (message.content as unknown[]) : []) {
        if (!isObject(block)) continue;
        if (block.type === 'text' && str(block.text)) {
          if (synthetic) ctx.emit({ kind: 'status', data: { message: str(block.text) } });
          else {
            summary = str(block.text);
            ctx.emit({ kind: 'message', data: { text: summary } });
          }
        } else if (block.type === 'thinking' && str(block.thinking)) {
          ctx.emit({ kind: 'thinking', data: { text: str(block.thinking) } });
        } else if (block.type === 'tool_use') {
          pending.set(str(block.id), { name: str(block.name), input: isObject(block.input) ? block.input : {} });
        }
      }
    };

    const toolResult = (block: Json, extra: Json | null) => {
      const call = pending.get(str(block.tool_use_id));
      if (!call) return;
      pending.delete(str(block.tool_use_id));
      const text = resultText(block.content);
      const isError = block.is_error === true;
      if (call.name === 'Bash') {
        const output = extra && (typeof extra.stdout === 'string' || typeof extra.stderr === 'string') ? [str(extra.stdout), str(extra.stderr)].filter(Boolean).join('\n') : text;
        const code = isError ? Number(/^Exit code (\d+)/.exec(text)?.[1] ?? 1) : 0;
        ctx.emit({ kind: 'command', data: { command: str(call.input.command), exit_code: code, output: tail(output, 16_384), timed_out: extra?.interrupted === true || undefined } });
      } else if (EDIT_TOOLS[call.name] && !isError) {
        const path = str(call.input[EDIT_TOOLS[call.name]!]);
        const content = call.name === 'Write' ? str(call.input.content) : null;
        ctx.emit({ kind: 'file_edit', data: { path: workspacePath(ctx.workspace.view.dir, path), action: 'write', ...(content !== null ? { bytes: Buffer.byteLength(content) } : {}) } });
      } else {
        ctx.emit({ kind: 'tool_call', data: { tool: call.name, input: call.input, output: tail(isError ? `error: ${text}` : text, 16_384) } });
      }
    };

    const line = (text: string) => {
      const ev = parseEventLine(text, malformed, ctx);
      if (!ev) return;
      if (typeof ev.session_id === 'string' && ev.session_id) sessionId = ev.session_id;
      switch (ev.type) {
        case 'system':
          if (ev.subtype === 'init') {
            // The model Claude Code resolved the alias to (`sonnet` → claude-sonnet-…): provenance records it.
            if (str(ev.model)) resolvedModel = str(ev.model);
            ctx.emit({ kind: 'status', data: { message: `Claude Code session ${str(ev.session_id) || '?'}${str(ev.model) ? ` · ${str(ev.model)}` : ''}` } });
          }
          else if (ev.subtype === 'api_retry')
            ctx.emit({ kind: 'status', data: { message: `Model API error (${ev.error_status ?? str(ev.error) ?? 'unknown'}); retry ${num(ev.attempt)} of ${num(ev.max_retries)}` } });
          break;
        case 'assistant':
          if (isObject(ev.message)) assistant(ev.message);
          break;
        case 'user':
          if (isObject(ev.message) && Array.isArray(ev.message.content)) {
            for (const block of ev.message.content as unknown[]) if (isObject(block) && block.type === 'tool_result') toolResult(block, isObject(ev.tool_use_result) ? ev.tool_use_result : null);
          }
          break;
        case 'result':
          finished = ev;
          break;
      }
    };

    const stdout = new LineSplitter(line);
    const stderr = new LineSplitter((text) => {
      if (text.trim()) ctx.emit({ kind: 'log', data: { stream: 'stderr', text: `${text}\n` } });
    });
    const result = await ctx.sandbox.exec(ctx.workspace, argv, {
      env: processEnvironment(ctx.env, { CLAUDE_CONFIG_DIR: configDir, IS_SANDBOX: '1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_AUTOUPDATER: '1', NO_COLOR: '1' }),
      timeoutMs: ctx.timeoutMs,
      signal: ctx.signal,
      input: ctx.prompt,
      mounts: program.mounts,
      maxOutputBytes: 256 * 1024,
      onOutput: (stream, text) => (stream === 'stdout' ? stdout : stderr).push(text),
    });
    stdout.end();
    stderr.end();
    checkExit(result, 'claude', ctx);

    const notJson = malformed.length ? `its output is not stream-json (${JSON.stringify(malformed[0]!.slice(0, 200))})` : '';
    const end = finished as Json | null;
    if (!end) {
      if (result.code !== 0) throw new AgentFailure(`claude exited with code ${result.code ?? result.signal}: ${tail(result.stderr.trim(), 1500) || notJson || 'no error output'}`);
      throw new AgentFailure(notJson ? `claude ended without a result: ${notJson}` : 'claude ended without a result');
    }
    const u = isObject(end.usage) ? end.usage : {};
    const usage: Record<string, number> = {
      input_tokens: num(u.input_tokens),
      cache_creation_input_tokens: num(u.cache_creation_input_tokens),
      cache_read_input_tokens: num(u.cache_read_input_tokens),
      output_tokens: num(u.output_tokens),
    };
    usage.total_tokens = usage.input_tokens! + usage.cache_creation_input_tokens! + usage.cache_read_input_tokens! + usage.output_tokens!;
    if (typeof end.total_cost_usd === 'number') usage.cost_usd = end.total_cost_usd;
    if (typeof end.duration_ms === 'number') usage.duration_ms = end.duration_ms;
    if (typeof end.num_turns === 'number') usage.num_turns = end.num_turns;
    ctx.emit({ kind: 'usage', data: { input_tokens: usage.input_tokens, output_tokens: usage.output_tokens, total_tokens: usage.total_tokens } });

    if (end.is_error === true || end.subtype !== 'success') {
      const errors = Array.isArray(end.errors) ? (end.errors as unknown[]).map(String).join('; ') : '';
      throw new AgentFailure(`claude failed: ${str(end.result) || errors || str(end.subtype) || 'unknown error'}`);
    }
    if (result.code !== 0) throw new AgentFailure(`claude exited with code ${result.code ?? result.signal}: ${tail(result.stderr.trim(), 1500) || 'no error output'}`);
    return { summary: str(end.result) || summary || 'Claude Code finished without a final message.', usage, sessionId, model: resolvedModel };
  },
};
