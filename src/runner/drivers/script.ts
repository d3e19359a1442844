import { extractScript, parseScript, SCRIPT_SYNTAX, ScriptSyntaxError } from '../../domain/script.ts';
import { deleteConfinedFile, WorkspacePathError, writeConfinedFile } from '../workspaceFs.ts';
import { AgentFailure, type AgentDriver, type DriverContext, type DriverResult } from './types.ts';
import { appendMemoryEntry } from '../memoryFile.ts';

/** A refused path is the script's failure, not the runner's. */
async function confined<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (err instanceof WorkspacePathError) throw new AgentFailure(err.message);
    throw err;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolveSleep) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolveSleep();
    }
    signal.addEventListener('abort', done);
  });
}

/** The deterministic, offline agent: executes the prompt's ```gitoku-script block (labelled "scripted" in the UI). */
export const scriptDriver: AgentDriver = {
  name: 'script',
  async run(ctx: DriverContext): Promise<DriverResult> {
    const source = extractScript(ctx.prompt);
    if (source === null) throw new AgentFailure(`the prompt has no \`\`\`gitoku-script block.\n${SCRIPT_SYNTAX}`);
    let steps;
    try {
      steps = parseScript(source);
    } catch (err) {
      if (err instanceof ScriptSyntaxError) throw new AgentFailure(`malformed gitoku-script: ${err.message}`);
      throw err;
    }
    const deadline = Date.now() + ctx.timeoutMs;
    let lastMessage = '';
    for (const step of steps) {
      if (ctx.signal.aborted) throw new AgentFailure('cancelled');
      switch (step.op) {
        case 'say':
          lastMessage = step.text;
          ctx.emit({ kind: 'message', data: { text: step.text } });
          break;
        case 'think':
          ctx.emit({ kind: 'thinking', data: { text: step.text } });
          break;
        case 'fail':
          ctx.emit({ kind: 'error', data: { message: step.text } });
          throw new AgentFailure(step.text || 'the script failed');
        case 'remember':
          // The memory file is the agent's, like any other file it writes: confined to its home.
          await confined(() => appendMemoryEntry(ctx.workspace.home, { ...step.entry }));
          ctx.emit({ kind: 'message', data: { text: `Remembering (${step.entry.kind}): ${step.entry.subject}` } });
          break;
        case 'sleep':
          await sleep(Math.min(step.seconds * 1000, Math.max(0, deadline - Date.now())), ctx.signal);
          if (Date.now() >= deadline) throw new AgentFailure('timed out');
          break;
        case 'write':
        case 'append': {
          await confined(() => writeConfinedFile(ctx.workspace.dir, step.path, step.content, { append: step.op === 'append' }));
          ctx.emit({ kind: 'file_edit', data: { path: step.path, action: step.op, bytes: Buffer.byteLength(step.content) } });
          await ctx.afterStep?.();
          break;
        }
        case 'delete': {
          if (!(await confined(() => deleteConfinedFile(ctx.workspace.dir, step.path)))) throw new AgentFailure(`cannot delete ${step.path}: no such file`);
          ctx.emit({ kind: 'file_edit', data: { path: step.path, action: 'delete' } });
          await ctx.afterStep?.();
          break;
        }
        case 'run': {
          const left = deadline - Date.now();
          if (left <= 0) throw new AgentFailure('timed out');
          const result = await ctx.sandbox.exec(ctx.workspace, ['/bin/sh', '-c', step.command], {
            env: ctx.env,
            timeoutMs: left,
            signal: ctx.signal,
            maxOutputBytes: 256 * 1024,
          });
          // The output is reported once, with its command (as every driver does): streaming it as log
          // events as well printed it twice in the trace.
          ctx.emit({ kind: 'command', data: { command: step.command, exit_code: result.code, output: (result.stdout + result.stderr).slice(-16_384), timed_out: result.timedOut } });
          if (result.cancelled) throw new AgentFailure('cancelled');
          if (result.timedOut) throw new AgentFailure('timed out');
          if (result.code !== 0) throw new AgentFailure(`command failed with exit code ${result.code}: ${step.command}`);
          await ctx.afterStep?.();
          break;
        }
      }
    }
    ctx.emit({ kind: 'usage', data: { input_tokens: 0, output_tokens: 0, total_tokens: 0 } });
    return { summary: lastMessage || `Ran ${steps.length} scripted step${steps.length === 1 ? '' : 's'}.`, usage: { input_tokens: 0, output_tokens: 0 }, sessionId: null };
  },
};

