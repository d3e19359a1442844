import { confinedComponents, deleteConfinedFile, listConfinedTree, readConfinedFile, WorkspaceMissingError, WorkspacePathError, writeConfinedFile } from '../workspaceFs.ts';
import type OpenAI from 'openai';
import type { ChatCompletionFunctionTool, ChatCompletionMessageFunctionToolCall, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { AgentFailure, type AgentDriver, type DriverContext, type DriverResult } from './types.ts';
import { processEnvironment, remaining, tail } from './process.ts';

/**
 * The built-in coding agent for any OpenAI-compatible Chat Completions endpoint (OpenAI, vLLM,
 * llama.cpp, Ollama …). It runs in the runner process, so every file operation is confined to the
 * checkout by path validation (no `..`, no absolute paths, no symlink leading out, nothing under
 * .git) and every command runs through the sandbox, like any other agent's.
 */

const MAX_READ = 200 * 1024;
const MAX_TOOL_OUTPUT = 16 * 1024;
const MAX_LIST = 1000;

class ToolError extends Error {}

/** Tools after which the runner takes a checkpoint (they may change files). */
const CHANGING_TOOLS = new Set(['write_file', 'replace_in_file', 'delete_file', 'run_command']);

type ToolArgs = Record<string, unknown>;

function fn(name: string, description: string, properties: Record<string, unknown>, required: string[]): ChatCompletionFunctionTool {
  return { type: 'function', function: { name, description, parameters: { type: 'object', properties, required, additionalProperties: false } } };
}

const PATH = { type: 'string', description: 'Path relative to the repository root' };

export const TOOLS: ChatCompletionFunctionTool[] = [
  fn('list_files', 'List files and directories (recursively, .git excluded). Directories end with "/".', { path: { ...PATH, description: 'Directory relative to the repository root (default ".")' } }, []),
  fn('read_file', 'Read a text file. Optionally a range of lines (1-based, inclusive).', { path: PATH, start_line: { type: 'integer' }, end_line: { type: 'integer' } }, ['path']),
  fn('write_file', 'Create or overwrite a file with the given content (parent directories are created).', { path: PATH, content: { type: 'string' } }, ['path', 'content']),
  fn(
    'replace_in_file',
    'Replace an exact piece of text in a file. old_text must occur exactly once unless replace_all is true.',
    { path: PATH, old_text: { type: 'string' }, new_text: { type: 'string' }, replace_all: { type: 'boolean' } },
    ['path', 'old_text', 'new_text'],
  ),
  fn('delete_file', 'Delete a file.', { path: PATH }, ['path']),
  fn(
    'search_text',
    'Search the files for text (fixed string by default; a POSIX extended regular expression when regex is true). Returns matching lines as path:line:text.',
    { pattern: { type: 'string' }, path: { ...PATH, description: 'Directory or file to search (default ".")' }, regex: { type: 'boolean' } },
    ['pattern'],
  ),
  fn(
    'run_command',
    'Run a shell command (sh -c) in the repository root, e.g. tests or a build. Returns the exit code and the output.',
    { command: { type: 'string' }, timeout_seconds: { type: 'integer', description: 'Default 600' } },
    ['command'],
  ),
];

function systemPrompt(ctx: DriverContext): string {
  return [
    `You are an autonomous coding agent working in a git checkout (the repository root is ${ctx.workspace.view.dir}).`,
    'Use the tools to look at the code, change files and run commands (tests, builds) in the checkout; paths are relative to the repository root.',
    'Make the change the task asks for and check it where you can. When you are done, reply with a short summary of what you changed, without calling a tool.',
    'Do not commit: your changes are committed and pushed for review when you finish.',
  ].join('\n');
}

/** A path the agent named (relative, or absolute as its sandbox shows the checkout), checked: no `..` out of it, not in `.git`. */
function relativePath(viewRoot: string, path: unknown, opts: { allowRoot?: boolean } = {}): string {
  try {
    return confinedComponents(viewRoot, path, opts).join('/') || '.';
  } catch (err) {
    throw new ToolError((err as Error).message);
  }
}

async function listFiles(root: string, rel: string): Promise<string> {
  const { entries, cut } = await listConfinedTree(root, rel, MAX_LIST);
  return cut ? `${entries.join('\n')}\n… (listing cut at ${MAX_LIST} entries)` : entries.join('\n') || '(empty)';
}

function count(haystack: string, needle: string): number {
  let n = 0;
  for (let i = haystack.indexOf(needle); i !== -1; i = haystack.indexOf(needle, i + needle.length)) n++;
  return n;
}

interface Usage {
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  estimated: number;
  steps: number;
}

export const openaiDriver: AgentDriver = {
  name: 'openai',
  async run(ctx: DriverContext): Promise<DriverResult> {
    const baseURL = ctx.env.GITOKU_DRIVER_BASE_URL || undefined;
    const maxSteps = Number(ctx.env.GITOKU_DRIVER_MAX_STEPS) || 50;
    const budget = Number(ctx.env.GITOKU_DRIVER_TOKEN_BUDGET) || 2_000_000;
    if (!ctx.model || ctx.model === 'default') throw new AgentFailure('the openai driver needs a model name (GITOKU_OPENAI_MODELS)');
    // Loaded on first use: the SDK costs ~150 ms to import, which every server start would pay otherwise.
    const { default: OpenAISdk } = await import('openai');
    const client = new OpenAISdk({ apiKey: ctx.env.GITOKU_DRIVER_API_KEY || 'none', baseURL, maxRetries: 2 });
    const endpoint = baseURL ?? 'the OpenAI API';
    const root = ctx.workspace.dir;
    const viewRoot = ctx.workspace.view.dir;
    const deadline = Date.now() + ctx.timeoutMs;
    const env = processEnvironment(ctx.env);
    const usage: Usage = { input_tokens: 0, output_tokens: 0, total_tokens: 0, estimated: 0, steps: 0 };
    const messages: ChatCompletionMessageParam[] = [
      { role: 'system', content: systemPrompt(ctx) },
      { role: 'user', content: ctx.prompt },
    ];
    let summary = '';

    const exec = async (argv: string[], timeoutMs: number) => {
      const r = await ctx.sandbox.exec(ctx.workspace, argv, { env, timeoutMs: Math.min(timeoutMs, remaining(deadline)), signal: ctx.signal, maxOutputBytes: 1024 * 1024 });
      if (r.cancelled || ctx.signal.aborted) throw new AgentFailure('cancelled');
      return r;
    };

    const tools: Record<string, (a: ToolArgs) => Promise<string>> = {
      list_files: async (a) => {
        const rel = relativePath(viewRoot, a.path ?? '.', { allowRoot: true });
        const text = await listFiles(root, rel).catch((err: Error) => {
          throw new ToolError(err instanceof WorkspaceMissingError ? `${String(a.path)}: no such directory` : err.message);
        });
        ctx.emit({ kind: 'tool_call', data: { tool: 'list_files', input: a, output: tail(text, 4096) } });
        return text;
      },
      read_file: async (a) => {
        const rel = relativePath(viewRoot, a.path);
        const content = await readConfinedFile(root, rel);
        if (!content) throw new ToolError(`${rel}: no such file`);
        let text = content.toString('utf8');
        if (typeof a.start_line === 'number' || typeof a.end_line === 'number') {
          const lines = text.split('\n');
          const from = Math.max(1, Number(a.start_line) || 1);
          const to = Math.min(lines.length, Number(a.end_line) || lines.length);
          text = lines.slice(from - 1, to).join('\n');
        }
        const cut = text.length > MAX_READ;
        ctx.emit({ kind: 'tool_call', data: { tool: 'read_file', input: a, output: `${Buffer.byteLength(text)} bytes` } });
        return cut ? `${text.slice(0, MAX_READ)}\n… (cut at ${MAX_READ} characters; read a line range for more)` : text;
      },
      write_file: async (a) => {
        const rel = relativePath(viewRoot, a.path);
        if (typeof a.content !== 'string') throw new ToolError('content must be a string');
        await writeConfinedFile(root, rel, a.content);
        ctx.emit({ kind: 'file_edit', data: { path: rel, action: 'write', bytes: Buffer.byteLength(a.content) } });
        return `wrote ${rel} (${Buffer.byteLength(a.content)} bytes)`;
      },
      replace_in_file: async (a) => {
        const rel = relativePath(viewRoot, a.path);
        if (typeof a.old_text !== 'string' || a.old_text === '' || typeof a.new_text !== 'string') throw new ToolError('old_text (not empty) and new_text must be strings');
        const existing = await readConfinedFile(root, rel);
        if (!existing) throw new ToolError(`${rel}: no such file`);
        const before = existing.toString('utf8');
        const n = count(before, a.old_text);
        if (n === 0) throw new ToolError(`${rel}: old_text was not found`);
        if (n > 1 && a.replace_all !== true) throw new ToolError(`${rel}: old_text occurs ${n} times; add context to make it unique or set replace_all`);
        const after = a.replace_all === true ? before.split(a.old_text).join(a.new_text) : before.replace(a.old_text, () => a.new_text as string);
        await writeConfinedFile(root, rel, after);
        ctx.emit({ kind: 'file_edit', data: { path: rel, action: 'write', bytes: Buffer.byteLength(after) } });
        return `replaced ${a.replace_all === true ? n : 1} occurrence${n === 1 || a.replace_all !== true ? '' : 's'} in ${rel}`;
      },
      delete_file: async (a) => {
        const rel = relativePath(viewRoot, a.path);
        if (!(await deleteConfinedFile(root, rel))) throw new ToolError(`${rel}: no such file`);
        ctx.emit({ kind: 'file_edit', data: { path: rel, action: 'delete' } });
        return `deleted ${rel}`;
      },
      search_text: async (a) => {
        if (typeof a.pattern !== 'string' || !a.pattern) throw new ToolError('pattern must be a non-empty string');
        const rel = relativePath(viewRoot, a.path ?? '.', { allowRoot: true });
        const r = await exec(['grep', '-rnI', '--exclude-dir=.git', a.regex === true ? '-E' : '-F', '-e', a.pattern, '--', rel], 60_000);
        const text = r.code === 1 ? 'no matches' : r.code === 0 ? tail(r.stdout, MAX_TOOL_OUTPUT) : `grep failed: ${tail(r.stderr, 2000)}`;
        ctx.emit({ kind: 'tool_call', data: { tool: 'search_text', input: a, output: tail(text, 4096) } });
        return text;
      },
      run_command: async (a) => {
        if (typeof a.command !== 'string' || !a.command.trim()) throw new ToolError('command must be a non-empty string');
        const seconds = typeof a.timeout_seconds === 'number' && a.timeout_seconds > 0 ? a.timeout_seconds : 600;
        const r = await exec(['/bin/sh', '-c', a.command], seconds * 1000);
        const output = tail(r.stdout + r.stderr, MAX_TOOL_OUTPUT);
        ctx.emit({ kind: 'command', data: { command: a.command, exit_code: r.code, output, timed_out: r.timedOut || undefined } });
        return `${r.timedOut ? `timed out after ${seconds} s` : `exit code ${r.code}`}\n${output}`;
      },
    };

    const runTool = async (call: ChatCompletionMessageFunctionToolCall): Promise<string> => {
      const tool = tools[call.function.name];
      if (!tool) return `error: there is no tool named "${call.function.name}"`;
      let args: ToolArgs;
      try {
        const parsed: unknown = JSON.parse(call.function.arguments || '{}');
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        args = parsed as ToolArgs;
      } catch {
        return `error: the arguments of ${call.function.name} are not a JSON object`;
      }
      try {
        return await tool(args);
      } catch (err) {
        if (err instanceof ToolError || err instanceof WorkspacePathError || (err as NodeJS.ErrnoException).code) {
          const message = `error: ${(err as Error).message}`;
          ctx.emit({ kind: 'tool_call', data: { tool: call.function.name, input: args, output: message } });
          return message;
        }
        throw err;
      }
    };

    for (let step = 1; ; step++) {
      if (ctx.signal.aborted) throw new AgentFailure('cancelled');
      if (Date.now() >= deadline) throw new AgentFailure(`timed out after ${Math.round(ctx.timeoutMs / 1000)} s`);
      if (step > maxSteps) throw new AgentFailure(`the agent did not finish within ${maxSteps} steps (GITOKU_OPENAI_MAX_STEPS)`);
      const requestChars = JSON.stringify(messages).length;
      let text = '';
      let thinking = '';
      const calls: { id: string; name: string; arguments: string }[] = [];
      let reported = false;
      // The run's deadline bounds the request, the client's retries of it and the stream: a per-request
      // timeout alone restarts with every retry (a hanging endpoint took three times the run's timeout).
      // A plain controller and timer (held here) rather than AbortSignal.any/timeout, whose signals Node may collect early.
      const stop = new AbortController();
      const timer = setTimeout(() => stop.abort(), remaining(deadline));
      const onCancel = () => stop.abort();
      ctx.signal.addEventListener('abort', onCancel, { once: true });
      try {
        const stream = await client.chat.completions.create(
          { model: ctx.model, messages, tools: TOOLS, tool_choice: 'auto', stream: true, stream_options: { include_usage: true } },
          { signal: stop.signal, timeout: remaining(deadline) },
        );
        for await (const chunk of stream) {
          if (chunk.usage) {
            reported = true;
            usage.input_tokens += chunk.usage.prompt_tokens ?? 0;
            usage.output_tokens += chunk.usage.completion_tokens ?? 0;
          }
          const delta = chunk.choices?.[0]?.delta as (Record<string, unknown> & { content?: string | null; tool_calls?: { index: number; id?: string; function?: { name?: string; arguments?: string } }[] }) | undefined;
          if (!delta) continue;
          if (typeof delta.content === 'string') text += delta.content;
          const reasoning = delta.reasoning_content ?? delta.reasoning;
          if (typeof reasoning === 'string') thinking += reasoning;
          for (const tc of delta.tool_calls ?? []) {
            const slot = (calls[tc.index ?? calls.length] ??= { id: '', name: '', arguments: '' });
            if (tc.id) slot.id = tc.id;
            if (tc.function?.name) slot.name += tc.function.name;
            if (tc.function?.arguments) slot.arguments += tc.function.arguments;
          }
        }
      } catch (err) {
        if (!ctx.signal.aborted && Date.now() >= deadline - 50) throw new AgentFailure(`timed out after ${Math.round(ctx.timeoutMs / 1000)} s waiting for the model endpoint (${endpoint})`);
        throw describeError(err, ctx, endpoint, OpenAISdk);
      } finally {
        clearTimeout(timer);
        ctx.signal.removeEventListener('abort', onCancel);
      }
      usage.steps = step;
      if (!reported) {
        usage.estimated = 1;
        usage.input_tokens += Math.ceil(requestChars / 4);
        usage.output_tokens += Math.ceil((text.length + thinking.length + calls.reduce((n, c) => n + c.arguments.length, 0)) / 4);
      }
      usage.total_tokens = usage.input_tokens + usage.output_tokens;
      if (thinking.trim()) ctx.emit({ kind: 'thinking', data: { text: thinking.trim() } });
      if (text.trim()) {
        summary = text.trim();
        ctx.emit({ kind: 'message', data: { text: summary } });
      }
      const toolCalls: ChatCompletionMessageFunctionToolCall[] = calls
        .filter((c) => c && c.name)
        .map((c, i) => ({ id: c.id || `call_${step}_${i}`, type: 'function', function: { name: c.name, arguments: c.arguments } }));
      messages.push({ role: 'assistant', content: text || null, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) });
      if (!toolCalls.length) break;
      if (usage.total_tokens > budget) throw new AgentFailure(`the token budget is used up: ${usage.total_tokens} tokens of ${budget} (GITOKU_OPENAI_TOKEN_BUDGET)`);
      for (const call of toolCalls) {
        const output = await runTool(call);
        messages.push({ role: 'tool', tool_call_id: call.id, content: output });
        if (CHANGING_TOOLS.has(call.function.name) && !output.startsWith('error:')) await ctx.afterStep?.();
      }
    }
    ctx.emit({ kind: 'usage', data: { input_tokens: usage.input_tokens, output_tokens: usage.output_tokens, total_tokens: usage.total_tokens } });
    const result: Record<string, number> = { input_tokens: usage.input_tokens, output_tokens: usage.output_tokens, total_tokens: usage.total_tokens, steps: usage.steps };
    if (usage.estimated) result.estimated = 1;
    return { summary: summary || 'The agent finished without a final message.', usage: result, sessionId: null };
  },
};

/** A model-endpoint failure as a reason a person can act on. */
function describeError(err: unknown, ctx: DriverContext, endpoint: string, sdk: typeof OpenAI): Error {
  if (err instanceof AgentFailure) return err;
  if (ctx.signal.aborted) return new AgentFailure('cancelled');
  if (err instanceof sdk.APIUserAbortError || err instanceof sdk.APIConnectionTimeoutError) return new AgentFailure(`timed out waiting for the model endpoint (${endpoint})`);
  if (err instanceof sdk.APIConnectionError) return new AgentFailure(`could not reach the model endpoint ${endpoint}: ${rootCause(err)}`);
  if (err instanceof sdk.APIError) return new AgentFailure(`the model endpoint ${endpoint} answered HTTP ${err.status ?? '?'}: ${err.message}`);
  return new AgentFailure(`the model stream from ${endpoint} failed: ${(err as Error).message}`);
}

/** The innermost cause of a network error: ECONNREFUSED rather than "fetch failed". */
function rootCause(err: unknown): string {
  let current = err as { cause?: unknown; code?: string; message?: string } | undefined;
  let best = current?.message ?? String(err);
  for (let depth = 0; current && depth < 5; depth++) {
    if (current.code) return current.message && !current.message.includes(current.code) ? `${current.code} (${current.message})` : current.message || current.code;
    if (current.message) best = current.message;
    current = current.cause as typeof current;
  }
  return best;
}
