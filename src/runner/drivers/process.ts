import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { ExecResult } from '../sandbox.ts';
import { AgentFailure, type DriverContext } from './types.ts';

/**
 * Helpers shared by the drivers that run a program (codex, claude, command): finding the program,
 * making it visible inside the sandbox, reading its output line by line, and keeping the
 * driver-only settings (`GITOKU_DRIVER_*`, set by src/services/agentContext.ts) out of its environment.
 */

/** Prefix of the environment entries that configure the driver itself; never passed to a process. */
export const DRIVER_ENV_PREFIX = 'GITOKU_DRIVER_';

const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** An absolute path to the program: a path is checked as it is, a bare name is looked up on PATH. */
export function findExecutable(nameOrPath: string, pathEnv: string = process.env.PATH ?? SYSTEM_PATH): string | null {
  if (!nameOrPath) return null;
  if (nameOrPath.includes('/')) {
    const path = resolve(nameOrPath);
    return isExecutableFile(path) ? path : null;
  }
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const candidate = join(dir, nameOrPath);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

export interface Program {
  /** argv prefix that starts the program (a JavaScript launcher runs on this runner's node). */
  argv: string[];
  /** Directories the sandbox must show read-only for the program to start. */
  mounts: string[];
}

/**
 * What the sandbox must show of a program: its package (a whole node_modules tree) or its directory —
 * or only the file itself when that directory is a broad one (/tmp, a home) or holds the workspaces.
 */
function mountFor(realPath: string, workspaceRoot: string): string | null {
  if (realPath.startsWith('/usr/')) return null; // bubblewrap shows /usr already
  const nm = realPath.indexOf('/node_modules/');
  const dir = nm > 0 ? realPath.slice(0, nm + '/node_modules'.length) : dirname(realPath);
  const broad = dir.split('/').filter(Boolean).length <= 1 || [homedir(), tmpdir()].includes(dir) || `${workspaceRoot}/`.startsWith(`${dir}/`);
  return broad ? realPath : dir;
}

/**
 * Resolves a configured program (the server's setting, else this runner's own variable, else a name
 * on PATH) into something the sandbox can start, or fails the run with a reason naming the setting.
 */
export function resolveProgram(opts: { configured?: string; runnerVariable?: string; fallback: string; label: string; setting: string; workspaceRoot: string }): Program {
  const wanted = opts.configured || (opts.runnerVariable ? process.env[opts.runnerVariable] : undefined) || opts.fallback;
  const found = findExecutable(wanted);
  if (!found) {
    throw new AgentFailure(
      wanted.includes('/')
        ? `the ${opts.label} was not found at ${wanted} on this runner (check ${opts.setting})`
        : `the ${opts.label} ("${wanted}") is not installed on this runner: install it or set ${opts.setting}`,
    );
  }
  const real = realpathSync(found);
  const mounts = new Set<string>();
  const own = mountFor(real, opts.workspaceRoot);
  if (own) mounts.add(own);
  if (/\.(c|m)?js$/.test(real)) {
    const node = realpathSync(process.execPath);
    const nodeMount = mountFor(node, opts.workspaceRoot);
    if (nodeMount) mounts.add(nodeMount);
    return { argv: [node, real], mounts: [...mounts] };
  }
  return { argv: [real], mounts: [...mounts] };
}

/** The driver's environment without its own settings: what the program may see. */
export function processEnvironment(env: Record<string, string>, extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith(DRIVER_ENV_PREFIX)) out[k] = v;
  return { ...out, ...extra };
}

/** Splits streamed text into complete lines (the last, unterminated one is kept until more arrives). */
export class LineSplitter {
  private rest = '';
  constructor(private readonly onLine: (line: string) => void) {}
  push(text: string): void {
    const parts = (this.rest + text).split('\n');
    this.rest = parts.pop() ?? '';
    for (const line of parts) this.onLine(line.replace(/\r$/, ''));
  }
  end(): void {
    if (this.rest) this.onLine(this.rest);
    this.rest = '';
  }
}

/** A JSON object as the agent CLIs print them; the readers below tolerate missing or mistyped fields. */
export type Json = Record<string, unknown>;

export const str = (v: unknown): string => (typeof v === 'string' ? v : '');
export const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * One line of an agent CLI's JSON event stream: the event when it is a JSON object with a string `type`.
 * Anything else (but a blank line) still reaches the trace as output, and is kept in `malformed` so a
 * failed run can say the output was not what the CLI should print. Null when the line is no event.
 */
export function parseEventLine(text: string, malformed: string[], ctx: Pick<DriverContext, 'emit'>): (Json & { type: string }) | null {
  if (!text.trim()) return null;
  let ev: unknown;
  try {
    ev = JSON.parse(text);
  } catch {
    ev = null;
  }
  if (isObject(ev) && typeof ev.type === 'string') return ev as Json & { type: string };
  malformed.push(text);
  ctx.emit({ kind: 'log', data: { stream: 'stdout', text: `${text}\n` } });
  return null;
}

export function tail(text: string, max: number): string {
  return text.length > max ? `…${text.slice(-max)}` : text;
}

/** A path the agent reported, shown relative to its checkout when it is inside it. */
export function workspacePath(dir: string, path: string): string {
  const rel = relative(dir, resolve(dir, path));
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** The common endings of a program run: cancelled, timed out, could not start. */
export function checkExit(result: ExecResult, label: string, ctx: DriverContext): void {
  if (result.cancelled || ctx.signal.aborted) throw new AgentFailure('cancelled');
  if (result.timedOut) throw new AgentFailure(`${label} timed out after ${Math.round(ctx.timeoutMs / 1000)} s and was stopped`);
}

/** Milliseconds left before the run's deadline (at least 1). */
export function remaining(deadline: number): number {
  return Math.max(1, deadline - Date.now());
}
