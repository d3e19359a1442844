import { join } from 'node:path';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { listConfinedTree, readConfinedFile, writeConfinedFile } from '../workspaceFs.ts';
import { AgentFailure, type AgentDriver, type DriverContext, type DriverResult } from './types.ts';
import { checkExit, isObject, type Json, LineSplitter, num, parseEventLine, processEnvironment, resolveProgram, str, tail, workspacePath } from './process.ts';

/**
 * The Codex CLI (`codex exec --json`), run inside our sandbox with its own approvals and sandbox off
 * (we are the sandbox), in a per-run CODEX_HOME in the agent's private home (not the checkout), so runs
 * share no state. Its JSONL events become the normalized trace; the thread id is the run's session.
 */

/** After this many "waiting for network" reconnects in a row the endpoint counts as down (codex itself waits forever). */
const MAX_NETWORK_WAITS = 3;

function merge(base: Json, extra: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(extra)) out[k] = isObject(v) && isObject(out[k]) ? merge(out[k] as Json, v) : v;
  return out;
}

/** The per-run config.toml: our provider (when the server names an endpoint) merged with the administrator's TOML. */
export function codexConfig(env: Record<string, string>): string {
  const base: Json = {};
  if (env.GITOKU_DRIVER_BASE_URL) {
    const provider: Json = { name: 'gitoku', base_url: env.GITOKU_DRIVER_BASE_URL, wire_api: 'responses' };
    if (env.CODEX_API_KEY) provider.env_key = 'CODEX_API_KEY';
    base.model_provider = 'gitoku';
    base.model_providers = { gitoku: provider };
  }
  let extra: Json = {};
  if (env.GITOKU_DRIVER_CONFIG) {
    try {
      extra = parseToml(env.GITOKU_DRIVER_CONFIG) as Json;
    } catch (err) {
      throw new AgentFailure(`GITOKU_CODEX_CONFIG is not valid TOML: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return stringifyToml(merge(base, extra));
}

/** `/bin/bash -lc 'cmd'` or `/bin/bash -lc "cmd"` (as Codex 0.171 quotes it) → `cmd`, as the agent wrote it. */
export function unwrapShell(command: string): string {
  const single = /^(?:\/(?:usr\/)?bin\/)?(?:ba|z)?sh -l?c '((?:[^']|'\\'')*)'$/s.exec(command);
  if (single) return single[1]!.replace(/'\\''/g, "'");
  // Inside double quotes a backslash escapes only $ ` " \ and a newline.
  const double = /^(?:\/(?:usr\/)?bin\/)?(?:ba|z)?sh -l?c "((?:[^"\\]|\\[\s\S])*)"$/.exec(command);
  return double ? double[1]!.replace(/\\([$`"\\\n])/g, (_, c: string) => (c === '\n' ? '' : c)) : command;
}

/**
 * The model Codex used (its alias such as `default` resolved), from the session's rollout file in its
 * CODEX_HOME: the `turn_context` entries name it. Read without following a link out of the home.
 */
async function codexSessionModel(home: string, sessionId: string | null): Promise<string | null> {
  try {
    const { entries } = await listConfinedTree(home, '.codex/sessions', 2000);
    const rollouts = entries.filter((e) => /\/rollout-[^/]*\.jsonl$/.test(e));
    const mine = (sessionId && rollouts.find((e) => e.endsWith(`-${sessionId}.jsonl`))) || rollouts.at(-1);
    if (!mine) return null;
    const text = (await readConfinedFile(home, mine, { maxBytes: 64 * 1024 * 1024 }))?.toString('utf8') ?? '';
    let model: string | null = null;
    for (const line of text.split('\n')) {
      if (!line.includes('"turn_context"')) continue;
      const entry = JSON.parse(line) as { type?: string; payload?: { model?: unknown } };
      if (entry.type === 'turn_context' && typeof entry.payload?.model === 'string' && entry.payload.model) model = entry.payload.model;
    }
    return model;
  } catch {
    return null; // provenance then keeps the alias
  }
}

function todoText(item: Json): string {
  const items = Array.isArray(item.items) ? (item.items as Json[]) : [];
  return `Plan:\n${items.map((i) => `${i.completed ? '[x]' : '[ ]'} ${str(i.text)}`).join('\n')}`;
}

export const codexDriver: AgentDriver = {
  name: 'codex',
  async run(ctx: DriverContext): Promise<DriverResult> {
    const program = resolveProgram({ configured: ctx.env.GITOKU_DRIVER_BIN, runnerVariable: 'GITOKU_CODEX_BIN', fallback: 'codex', label: 'Codex CLI', setting: 'GITOKU_CODEX_BIN', workspaceRoot: ctx.workspace.root });
    const home = join(ctx.workspace.view.home, '.codex');
    await writeConfinedFile(ctx.workspace.home, '.codex/config.toml', codexConfig(ctx.env), { mode: 0o600 });

    const argv = [...program.argv, 'exec', '--json', '--color', 'never', '--dangerously-bypass-approvals-and-sandbox', '--skip-git-repo-check', '--cd', ctx.workspace.view.dir];
    if (ctx.model && ctx.model !== 'default') argv.push('--model', ctx.model);
    // A fork that keeps the driver continues the agent's own conversation (its session files are in the
    // home the workspace booted with): a new thread forked from it, the prompt its next turn.
    if (ctx.resumeSession) {
      argv.push('fork', ctx.resumeSession);
      ctx.emit({ kind: 'status', data: { message: `Continuing codex session ${ctx.resumeSession}` } });
    }
    argv.push('-'); // the prompt comes on stdin (it may be larger than one argument may be)

    let sessionId: string | null = null;
    let summary = '';
    let completed = false;
    let failed: string | null = null;
    let lastError: string | null = null;
    let networkWaits = 0;
    let gaveUp: string | null = null;
    const malformed: string[] = [];
    const usage = { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, reasoning_output_tokens: 0 };
    const stop = new AbortController();
    const onCancel = () => stop.abort();
    ctx.signal.addEventListener('abort', onCancel);
    if (ctx.signal.aborted) stop.abort();

    const item = (type: string, it: Json) => {
      switch (str(it.type)) {
        case 'agent_message':
          if (type === 'item.completed' && str(it.text)) {
            summary = str(it.text);
            ctx.emit({ kind: 'message', data: { text: summary } });
          }
          break;
        case 'reasoning':
          if (type === 'item.completed' && str(it.text)) ctx.emit({ kind: 'thinking', data: { text: str(it.text) } });
          break;
        case 'command_execution':
          if (type === 'item.completed') {
            ctx.emit({ kind: 'command', data: { command: unwrapShell(str(it.command)), exit_code: typeof it.exit_code === 'number' ? it.exit_code : null, output: tail(str(it.aggregated_output), 16_384) } });
          }
          break;
        case 'file_change':
          if (type === 'item.completed') {
            if (it.status === 'failed') ctx.emit({ kind: 'status', data: { message: 'Codex could not apply a patch' } });
            else
              for (const change of Array.isArray(it.changes) ? (it.changes as Json[]) : []) {
                ctx.emit({ kind: 'file_edit', data: { path: workspacePath(ctx.workspace.view.dir, str(change.path)), action: change.kind === 'delete' ? 'delete' : 'write' } });
              }
          }
          break;
        case 'mcp_tool_call':
          if (type === 'item.completed') {
            const error = isObject(it.error) ? str(it.error.message) : '';
            ctx.emit({ kind: 'tool_call', data: { tool: `${str(it.server)}/${str(it.tool)}`, input: it.arguments ?? null, output: tail(error ? `error: ${error}` : JSON.stringify(it.result ?? null), 16_384) } });
          }
          break;
        case 'web_search':
          if (type === 'item.completed') ctx.emit({ kind: 'tool_call', data: { tool: 'web_search', input: { query: str(it.query) } } });
          break;
        case 'todo_list':
          if (type !== 'item.completed') ctx.emit({ kind: 'status', data: { message: todoText(it) } });
          break;
        case 'error':
          ctx.emit({ kind: 'status', data: { message: `Codex warning: ${str(it.message)}` } });
          break;
      }
    };

    const line = (text: string) => {
      const ev = parseEventLine(text, malformed, ctx);
      if (!ev) return;
      if (ev.type !== 'error') networkWaits = 0;
      switch (ev.type) {
        case 'thread.started':
          sessionId = str(ev.thread_id) || null;
          ctx.emit({ kind: 'status', data: { message: `Codex session ${sessionId ?? '?'}${ctx.model && ctx.model !== 'default' ? ` · ${ctx.model}` : ''}` } });
          break;
        case 'turn.completed': {
          completed = true;
          const u = isObject(ev.usage) ? ev.usage : {};
          usage.input_tokens += num(u.input_tokens);
          usage.cached_input_tokens += num(u.cached_input_tokens);
          usage.output_tokens += num(u.output_tokens);
          usage.reasoning_output_tokens += num(u.reasoning_output_tokens);
          break;
        }
        case 'turn.failed':
          failed = (isObject(ev.error) ? str(ev.error.message) : '') || lastError || 'unknown error';
          break;
        case 'error': {
          const message = str(ev.message);
          lastError = message;
          ctx.emit({ kind: 'status', data: { message: `Codex: ${message}` } });
          if (/waiting for network/i.test(message) && ++networkWaits >= MAX_NETWORK_WAITS && !gaveUp) {
            gaveUp = `the model endpoint is unreachable; codex gave up after ${networkWaits} reconnect attempts (${message.replace(/^Reconnecting\.\.\.\s*/, '')})`;
            stop.abort();
          }
          break;
        }
        case 'item.started':
        case 'item.updated':
        case 'item.completed':
          if (isObject(ev.item)) item(ev.type, ev.item);
          break;
      }
    };

    const stdout = new LineSplitter(line);
    const stderr = new LineSplitter((text) => {
      if (text.trim()) ctx.emit({ kind: 'log', data: { stream: 'stderr', text: `${text}\n` } });
    });
    let result;
    try {
      result = await ctx.sandbox.exec(ctx.workspace, argv, {
        env: processEnvironment(ctx.env, { CODEX_HOME: home, NO_COLOR: '1' }),
        timeoutMs: ctx.timeoutMs,
        signal: stop.signal,
        input: ctx.prompt,
        mounts: program.mounts,
        maxOutputBytes: 256 * 1024,
        onOutput: (stream, text) => (stream === 'stdout' ? stdout : stderr).push(text),
      });
    } finally {
      ctx.signal.removeEventListener('abort', onCancel);
    }
    stdout.end();
    stderr.end();

    if (gaveUp && !ctx.signal.aborted) throw new AgentFailure(gaveUp);
    checkExit(result, 'codex', ctx);
    if (failed) throw new AgentFailure(`codex failed: ${failed}`);
    const notJson = malformed.length ? `its output is not JSON Lines (${JSON.stringify(malformed[0]!.slice(0, 200))})` : '';
    if (result.code !== 0) {
      const why = tail(result.stderr.trim(), 1500) || notJson || lastError || 'no error output';
      throw new AgentFailure(`codex exited with code ${result.code ?? result.signal}: ${why}`);
    }
    if (!completed) throw new AgentFailure(notJson ? `codex ended without completing its turn: ${notJson}` : 'codex ended without completing its turn');

    const total = usage.input_tokens + usage.output_tokens;
    ctx.emit({ kind: 'usage', data: { input_tokens: usage.input_tokens, output_tokens: usage.output_tokens, total_tokens: total } });
    const model = await codexSessionModel(ctx.workspace.home, sessionId);
    return { summary: summary || 'Codex finished without a final message.', usage: { ...usage, total_tokens: total }, sessionId, model };
  },
};
