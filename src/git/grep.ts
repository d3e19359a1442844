import { spawn } from 'node:child_process';
import { gitEnvironment } from './exec.ts';

/**
 * `git grep` over the tree of one commit, for code search. The pattern is a fixed string given with
 * `-e` (so a query like `--output=/tmp/x` is a pattern, never an option), the commit is a validated
 * full sha (a revision that cannot be an option), and pathspecs follow `--` with explicit magic. Output is read with `-z`
 * (NUL after the path and the line number, so any path parses) and capped: at `maxFiles` files,
 * `maxBytes` of output or `timeoutMs`, git is killed and the result says it is incomplete.
 */

export interface GrepOptions {
  /** The text to find (a fixed string). */
  pattern: string;
  ignoreCase?: boolean;
  /** Pathspecs: prefixes or globs (`:(glob)` magic is added here; a user's own magic is not honoured). */
  paths?: string[];
  /** Only files with one of these extensions (no dot). */
  extensions?: string[];
  /** Lines of context before and after each match. */
  context?: number;
  /** Matching lines kept per file (git's --max-count). */
  maxPerFile?: number;
  /** Stop after this many files with matches. */
  maxFiles?: number;
  /** Stop after this many bytes of git output. */
  maxBytes?: number;
  timeoutMs?: number;
  threads?: number;
}

export interface GrepLine {
  line: number;
  text: string;
  /** True for a matching line, false for context. */
  match: boolean;
}

export interface GrepFile {
  path: string;
  /** Matching lines and their context, in file order. */
  lines: GrepLine[];
  /** Matching lines found (at most maxPerFile). */
  matches: number;
}

export interface GrepResult {
  files: GrepFile[];
  /** A cap (files, bytes) or the timeout stopped git before it finished. */
  truncated: boolean;
  timedOut: boolean;
}

/** Characters of a line kept around its first match (minified files have megabyte lines). */
const LINE_TEXT_LIMIT = 400;
const LINE_READ_LIMIT = 16 * 1024;

const hasGlob = (path: string) => /[*?[]/.test(path);
const globEscape = (path: string) => path.replace(/[*?[\]\\]/g, (ch) => `\\${ch}`);

/** Pathspecs for `paths` and `extensions`, each with explicit magic. Null when a path is unacceptable. */
export function grepPathspecs(paths: readonly string[] = [], extensions: readonly string[] = []): string[] | null {
  const clean: string[] = [];
  for (const raw of paths) {
    const path = raw.replace(/^\/+/, '').replace(/\/+$/, '');
    if (path === '' || path.includes('\0') || path.split('/').includes('..')) return null;
    clean.push(path);
  }
  const exts = extensions.filter((e) => /^[A-Za-z0-9_+-]{1,16}$/.test(e));
  if (extensions.length && !exts.length) return null;
  if (!exts.length) return clean.flatMap((p) => (hasGlob(p) ? [`:(glob)${p}`, `:(glob)${p}/**`] : [`:(literal)${p}`]));
  const bases = clean.length ? clean.map((p) => `${hasGlob(p) ? p : globEscape(p)}/`) : [''];
  // git ORs pathspecs: every (path, extension) pair, so a file must be under a path and have an extension.
  return bases.flatMap((base) => exts.map((e) => `:(glob,icase)${base}**/*.${e}`));
}

/** Runs git grep on `commitSha` (a full object name: resolve refs first). */
export function grepTree(gitDir: string, commitSha: string, opts: GrepOptions): Promise<GrepResult> {
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(commitSha)) return Promise.reject(new Error('grepTree needs a full commit sha'));
  const pathspecs = grepPathspecs(opts.paths, opts.extensions);
  if (pathspecs === null) return Promise.resolve({ files: [], truncated: false, timedOut: false });
  const context = Math.max(0, Math.min(opts.context ?? 2, 10));
  const maxPerFile = Math.max(1, opts.maxPerFile ?? 5);
  const maxFiles = Math.max(1, opts.maxFiles ?? 1000);
  const maxBytes = opts.maxBytes ?? 8 * 1024 * 1024;
  const args = [
    '--git-dir',
    gitDir,
    'grep',
    '--no-color',
    '--no-column',
    '-z',
    '-I',
    '-n',
    '-F',
    ...(opts.ignoreCase === false ? [] : ['-i']),
    `--max-count=${maxPerFile}`,
    `--context=${context}`,
    `--threads=${Math.max(1, opts.threads ?? 2)}`,
    '-e',
    opts.pattern,
    // git 2.39's grep does not take --end-of-options; the revision is a validated full sha, never an option.
    commitSha,
    '--',
    ...pathspecs,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { env: gitEnvironment(), stdio: ['ignore', 'pipe', 'pipe'] });
    const prefix = Buffer.from(`${commitSha}:`);
    const files: GrepFile[] = [];
    let current: GrepFile | null = null;
    let pending: Buffer = Buffer.alloc(0);
    let bytes = 0;
    let truncated = false;
    let timedOut = false;
    let stopped = false;
    const stderr: Buffer[] = [];
    const stop = () => {
      if (stopped) return;
      stopped = true;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => {
      timedOut = true;
      truncated = true;
      stop();
    }, opts.timeoutMs ?? 10_000);

    /** Parses whole records from `pending`; returns false once the file cap is passed. */
    const parse = (): boolean => {
      let at = 0;
      for (;;) {
        if (pending.length - at >= 3 && pending[at] === 0x2d && pending[at + 1] === 0x2d && pending[at + 2] === 0x0a) {
          at += 3; // "--" between context groups
          continue;
        }
        const nul1 = pending.indexOf(0, at);
        if (nul1 < 0) break;
        const nul2 = pending.indexOf(0, nul1 + 1);
        if (nul2 < 0) break;
        const end = pending.indexOf(0x0a, nul2 + 1);
        if (end < 0) break;
        const nameStart = pending.subarray(at, at + prefix.length).equals(prefix) ? at + prefix.length : at;
        const path = pending.toString('utf8', nameStart, nul1);
        const line = Number(pending.toString('latin1', nul1 + 1, nul2));
        const text = pending.toString('utf8', nul2 + 1, Math.min(end, nul2 + 1 + LINE_READ_LIMIT));
        at = end + 1;
        if (!current || current.path !== path) {
          if (files.length >= maxFiles) {
            truncated = true;
            pending = Buffer.alloc(0);
            return false;
          }
          current = { path, lines: [], matches: 0 };
          files.push(current);
        }
        current.lines.push({ line, text, match: false });
      }
      pending = pending.subarray(at);
      return true;
    };

    child.stdout.on('data', (chunk: Buffer) => {
      if (stopped) return;
      bytes += chunk.length;
      if (bytes > maxBytes) {
        truncated = true;
        chunk = chunk.subarray(0, chunk.length - (bytes - maxBytes));
      }
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      if (!parse() || bytes > maxBytes) stop();
    });
    child.stderr.on('data', (c: Buffer) => {
      if (stderr.length < 16) stderr.push(c);
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      // 0: matches; 1: none; killed by us: whatever was read.
      if (!stopped && code !== 0 && code !== 1) {
        reject(new Error(`git grep failed (${code}): ${Buffer.concat(stderr).toString('utf8').trim().slice(0, 300)}`));
        return;
      }
      for (const file of files) markMatches(file, opts.pattern, opts.ignoreCase !== false);
      resolve({ files, truncated, timedOut });
    });
  });
}

/**
 * git prints match and context lines alike once `-z` replaces their separators: a line is a match when
 * it contains the pattern (the test git made, -F with or without -i). Long lines are cut to a window
 * around their first match.
 */
export function markMatches(file: GrepFile, pattern: string, ignoreCase: boolean): void {
  const needle = ignoreCase ? pattern.toLowerCase() : pattern;
  for (const line of file.lines) {
    const hay = ignoreCase ? line.text.toLowerCase() : line.text;
    const at = hay.length === line.text.length ? hay.indexOf(needle) : line.text.indexOf(pattern);
    line.match = at >= 0;
    if (line.match) file.matches++;
    if (line.text.length > LINE_TEXT_LIMIT) {
      const from = at > LINE_TEXT_LIMIT / 4 ? at - Math.floor(LINE_TEXT_LIMIT / 4) : 0;
      line.text = line.text.slice(from, from + LINE_TEXT_LIMIT);
    }
  }
}
