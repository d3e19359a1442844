import { mkdir, readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { extractScript, parseScript, SCRIPT_SYNTAX, ScriptSyntaxError } from '../../domain/script.ts';
import { AgentFailure, type AgentDriver, type DriverContext, type DriverResult } from './types.ts';

function insideWorkspace(root: string, path: string): string {
  const target = resolve(root, path);
  const rel = relative(root, target);
  if (rel.startsWith('..') || rel === '' || rel.split('/')[0] === '.git') throw new AgentFailure(`"${path}" is outside the workspace`);
  return target;
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
        case 'sleep':
          await sleep(Math.min(step.seconds * 1000, Math.max(0, deadline - Date.now())), ctx.signal);
          if (Date.now() >= deadline) throw new AgentFailure('timed out');
          break;
        case 'write':
        case 'append': {
          const target = insideWorkspace(ctx.workspace.dir, step.path);
          await mkdir(dirname(target), { recursive: true });
          if (step.op === 'write') await writeFile(target, step.content);
          else await appendFile(target, step.content);
          ctx.emit({ kind: 'file_edit', data: { path: step.path, action: step.op, bytes: Buffer.byteLength(step.content) } });
          break;
        }
        case 'delete': {
          const target = insideWorkspace(ctx.workspace.dir, step.path);
          await readFile(target).catch(() => {
            throw new AgentFailure(`cannot delete ${step.path}: no such file`);
          });
          await rm(target, { force: true });
          ctx.emit({ kind: 'file_edit', data: { path: step.path, action: 'delete' } });
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
            onOutput: (stream, text) => ctx.emit({ kind: 'log', data: { stream, text } }),
          });
          ctx.emit({ kind: 'command', data: { command: step.command, exit_code: result.code, output: (result.stdout + result.stderr).slice(-16_384), timed_out: result.timedOut } });
          if (result.cancelled) throw new AgentFailure('cancelled');
          if (result.timedOut) throw new AgentFailure('timed out');
          if (result.code !== 0) throw new AgentFailure(`command failed with exit code ${result.code}: ${step.command}`);
          break;
        }
      }
    }
    ctx.emit({ kind: 'usage', data: { input_tokens: 0, output_tokens: 0, total_tokens: 0 } });
    return { summary: lastMessage || `Ran ${steps.length} scripted step${steps.length === 1 ? '' : 's'}.`, usage: { input_tokens: 0, output_tokens: 0 }, sessionId: null };
  },
};

