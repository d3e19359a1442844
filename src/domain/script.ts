import { withoutUntrustedData } from './untrusted.ts';

/**
 * The `script` agent's language: a fenced ```gitoku-script block in the prompt, one command per line.
 *   write PATH / append PATH … end   file content between the command and a line "end"
 *   delete PATH · run SHELL-COMMAND · say TEXT · think TEXT · sleep SECONDS · fail MESSAGE
 * Deterministic and offline: for tests and the demo.
 */
export type ScriptStep =
  | { op: 'write' | 'append'; path: string; content: string }
  | { op: 'delete'; path: string }
  | { op: 'run'; command: string }
  | { op: 'say' | 'think' | 'fail'; text: string }
  | { op: 'sleep'; seconds: number };

export const SCRIPT_SYNTAX = [
  'The script driver runs a fenced block in the prompt:',
  '```gitoku-script',
  'write path/to/file.txt',
  'file content…',
  'end',
  'append PATH … end | delete PATH | run SHELL-COMMAND | say TEXT | think TEXT | sleep SECONDS | fail MESSAGE',
  '```',
].join('\n');

export class ScriptSyntaxError extends Error {}

/**
 * The first ```gitoku-script block of the prompt's trusted text. Untrusted-data regions (a pull
 * request's description, title…, see domain/untrusted.ts) are dropped first: a script block someone
 * else wrote into the prompt is never what the scripted agent runs.
 */
export function extractScript(prompt: string): string | null {
  const m = /^```gitoku-script[ \t]*\r?\n([\s\S]*?)^```[ \t]*$/m.exec(withoutUntrustedData(prompt));
  return m ? m[1]! : null;
}

function checkPath(path: string, lineNo: number): string {
  if (!path || path.startsWith('/') || path.split('/').some((s) => s === '..' || s === '') || path.includes('\0') || path === '.git' || path.startsWith('.git/')) {
    throw new ScriptSyntaxError(`line ${lineNo}: "${path}" is not a relative path inside the workspace`);
  }
  return path;
}

export function parseScript(source: string): ScriptStep[] {
  const lines = source.replace(/\r\n/g, '\n').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const steps: ScriptStep[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const lineNo = i + 1;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const m = /^(\w+)(?:\s+(.*))?$/.exec(line.trim());
    if (!m) throw new ScriptSyntaxError(`line ${lineNo}: cannot read "${line}"`);
    const op = m[1]!;
    const arg = (m[2] ?? '').trim();
    switch (op) {
      case 'write':
      case 'append': {
        const path = checkPath(arg, lineNo);
        const body: string[] = [];
        let j = i + 1;
        while (j < lines.length && lines[j] !== 'end') body.push(lines[j++]!);
        if (j >= lines.length) throw new ScriptSyntaxError(`line ${lineNo}: "${op} ${arg}" has no closing "end" line`);
        steps.push({ op, path, content: body.length ? body.join('\n') + '\n' : '' });
        i = j;
        break;
      }
      case 'delete':
        steps.push({ op, path: checkPath(arg, lineNo) });
        break;
      case 'run':
        if (!arg) throw new ScriptSyntaxError(`line ${lineNo}: "run" needs a command`);
        steps.push({ op, command: arg });
        break;
      case 'say':
      case 'think':
      case 'fail':
        steps.push({ op, text: arg });
        break;
      case 'sleep': {
        const seconds = Number(arg);
        if (!Number.isFinite(seconds) || seconds < 0 || seconds > 3600) throw new ScriptSyntaxError(`line ${lineNo}: sleep needs a number of seconds (0..3600)`);
        steps.push({ op, seconds });
        break;
      }
      default:
        throw new ScriptSyntaxError(`line ${lineNo}: unknown command "${op}"`);
    }
  }
  return steps;
}

/** Validates a prompt meant for the script driver; returns an error message or null. */
export function checkScriptPrompt(prompt: string): string | null {
  const source = extractScript(prompt);
  if (source === null) return `the prompt has no \`\`\`gitoku-script block.\n${SCRIPT_SYNTAX}`;
  try {
    parseScript(source);
    return null;
  } catch (err) {
    return `malformed gitoku-script: ${(err as Error).message}`;
  }
}
