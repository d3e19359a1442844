import { withoutUntrustedData } from './untrusted.ts';

/**
 * The `script` agent's language: a fenced ```gitoku-script block in the prompt, one command per line.
 *   write PATH / append PATH … end   file content between the command and a line "end"
 *   delete PATH · run SHELL-COMMAND · say TEXT · think TEXT · sleep SECONDS · fail MESSAGE
 *   remember KIND "subject" "fact" [PATH:START-END …] [because "reason"]   (an entry of the memory file)
 * Deterministic and offline: for tests and the demo.
 */
export type ScriptStep =
  | { op: 'write' | 'append'; path: string; content: string }
  | { op: 'delete'; path: string }
  | { op: 'run'; command: string }
  | { op: 'say' | 'think' | 'fail'; text: string }
  | { op: 'sleep'; seconds: number }
  | { op: 'remember'; entry: ScriptMemoryEntry };

/** An entry the scripted agent appends to its memory file (`remember`, issue 14). */
export interface ScriptMemoryEntry {
  kind: string;
  subject: string;
  fact: string;
  reason?: string;
  citations: { path: string; start_line: number; end_line: number }[];
}

export const SCRIPT_SYNTAX = [
  'The script driver runs a fenced block in the prompt:',
  '```gitoku-script',
  'write path/to/file.txt',
  'file content…',
  'end',
  'append PATH … end | delete PATH | run SHELL-COMMAND | say TEXT | think TEXT | sleep SECONDS | fail MESSAGE',
  'remember KIND "subject" "fact" [PATH:START-END …] [because "reason"]   (appends to the memory file)',
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
      case 'remember':
        steps.push({ op, entry: parseRemember(arg, lineNo) });
        break;
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

/** `KIND "subject" "fact" [PATH:START-END …] [because "reason"]`: quoted strings are JSON strings. */
function parseRemember(arg: string, lineNo: number): ScriptMemoryEntry {
  const tokens: { quoted: boolean; text: string }[] = [];
  for (const m of arg.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    if (m[1] !== undefined) {
      try {
        tokens.push({ quoted: true, text: JSON.parse(`"${m[1]}"`) as string });
      } catch {
        throw new ScriptSyntaxError(`line ${lineNo}: bad escape in "${m[1]}"`);
      }
    } else tokens.push({ quoted: false, text: m[2]! });
  }
  const [kind, subject, fact, ...rest] = tokens;
  if (!kind || kind.quoted || !subject?.quoted || !fact?.quoted) throw new ScriptSyntaxError(`line ${lineNo}: remember needs KIND "subject" "fact"`);
  const entry: ScriptMemoryEntry = { kind: kind.text, subject: subject.text, fact: fact.text, citations: [] };
  for (let i = 0; i < rest.length; i++) {
    const t = rest[i]!;
    if (!t.quoted && t.text === 'because' && rest[i + 1]?.quoted) {
      entry.reason = rest[++i]!.text;
      continue;
    }
    const c = t.quoted ? null : /^(.+):(\d+)(?:-(\d+))?$/.exec(t.text);
    if (!c) throw new ScriptSyntaxError(`line ${lineNo}: "${t.text}" is not a citation PATH:START-END`);
    entry.citations.push({ path: c[1]!, start_line: Number(c[2]), end_line: Number(c[3] ?? c[2]) });
  }
  return entry;
}
