import { spawn } from 'node:child_process';
import { gitEnvironment, runGit } from './exec.ts';
import { globToRegExp } from '../domain/glob.ts';
import { type GrepFile, type GrepLine, type GrepOptions, type GrepResult, markMatches } from './grep.ts';

/**
 * The text files of one commit's tree held in memory for code search: every text blob (no NUL in its
 * first 8,000 bytes, as `git grep -I` decides) joined into one string, with a lower-cased copy, so a
 * case-insensitive fixed-string search is one `indexOf` pass over a few megabytes (milliseconds)
 * instead of inflating every blob from the pack again (`git grep` on a tree: about a second for a
 * 4,000-file repository). A commit never changes, so an index is right for as long as it is kept.
 */
export interface TreeText {
  files: { path: string; start: number; end: number }[];
  text: string;
  lower: string;
  /** Offset of every line's first character in `text` (ascending): line numbers by binary search. */
  lineStarts: Int32Array;
  /**
   * Which files contain each (hashed) trigram of the lower-cased text: TRIGRAM_BUCKETS bitsets of
   * `words` 32-bit words each. A search scans only the files holding every trigram of its text.
   */
  trigrams: Uint32Array;
  words: number;
}

const TRIGRAM_BUCKETS = 1 << 14;
const trigramHash = (a: number, b: number, c: number) => (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77) ^ Math.imul(c, 0xc2b2ae3d)) >>> 18;

function buildTrigrams(lower: string, files: TreeText['files']): { trigrams: Uint32Array; words: number } {
  const words = Math.max(1, Math.ceil(files.length / 32));
  const trigrams = new Uint32Array(TRIGRAM_BUCKETS * words);
  for (let f = 0; f < files.length; f++) {
    const { start, end } = files[f]!;
    const word = f >>> 5;
    const bit = 1 << (f & 31);
    let a = lower.charCodeAt(start);
    let b = lower.charCodeAt(start + 1);
    for (let i = start + 2; i < end; i++) {
      const c = lower.charCodeAt(i);
      trigrams[trigramHash(a, b, c) * words + word]! |= bit;
      a = b;
      b = c;
    }
  }
  return { trigrams, words };
}

/** Files that may contain `needle` (every trigram present), as indexes in tree order; all for short needles. */
function candidateFiles(index: TreeText, needle: string): number[] {
  const n = index.files.length;
  if (needle.length < 3) return Array.from({ length: n }, (_, i) => i);
  const { trigrams, words } = index;
  const mask = new Uint32Array(words).fill(0xffffffff);
  for (let i = 2; i < needle.length; i++) {
    const row = trigramHash(needle.charCodeAt(i - 2), needle.charCodeAt(i - 1), needle.charCodeAt(i)) * words;
    for (let w = 0; w < words; w++) mask[w]! &= trigrams[row + w]!;
  }
  const out: number[] = [];
  for (let w = 0; w < words; w++) {
    let bits = mask[w]!;
    while (bits !== 0) {
      const low = bits & -bits;
      const f = w * 32 + (31 - Math.clz32(low));
      if (f < n) out.push(f);
      bits ^= low;
    }
  }
  return out;
}

export interface TreeTextLimits {
  /** Trees with more blob bytes than this are not indexed (search falls back to git grep). */
  maxBytes: number;
  maxFiles: number;
}

const BINARY_PEEK = 8000;
const LINE_TEXT_LIMIT = 400;

interface BlobEntry {
  path: string;
  sha: string;
  size: number;
}

/** The tree's regular-file blobs (`ls-tree -r -l`), or null when over the limits. */
async function listBlobs(gitDir: string, commitSha: string, limits: TreeTextLimits): Promise<BlobEntry[] | null> {
  const out = await runGit(['ls-tree', '-r', '-z', '-l', commitSha], { gitDir, maxOutput: 64 * 1024 * 1024 });
  if (out.code !== 0) throw new Error(`git ls-tree failed: ${out.stderr.trim()}`);
  const entries: BlobEntry[] = [];
  let total = 0;
  for (const record of out.stdout.toString('utf8').split('\0')) {
    if (!record) continue;
    const tab = record.indexOf('\t');
    const [mode, type, sha, size] = record.slice(0, tab).split(/ +/);
    if (type !== 'blob' || mode === '120000' || !sha) continue;
    const bytes = Number(size);
    total += bytes;
    if (total > limits.maxBytes || entries.length >= limits.maxFiles) return null;
    entries.push({ path: record.slice(tab + 1), sha, size: bytes });
  }
  return entries;
}

/** Reads blobs with one `git cat-file --batch` process, in order. */
function readBlobs(gitDir: string, entries: BlobEntry[]): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['--git-dir', gitDir, 'cat-file', '--batch'], { env: gitEnvironment(), stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.resume();
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`git cat-file --batch failed (${code})`));
      const all = Buffer.concat(chunks);
      const blobs: Buffer[] = [];
      let at = 0;
      for (let i = 0; i < entries.length; i++) {
        const nl = all.indexOf(0x0a, at);
        if (nl < 0) return reject(new Error('git cat-file --batch: short output'));
        const header = all.toString('latin1', at, nl).split(' ');
        if (header[1] === 'missing') {
          blobs.push(Buffer.alloc(0));
          at = nl + 1;
          continue;
        }
        const size = Number(header[2]);
        blobs.push(all.subarray(nl + 1, nl + 1 + size));
        at = nl + 1 + size + 1;
      }
      resolve(blobs);
    });
    child.stdin.on('error', () => {});
    child.stdin.end(entries.map((e) => e.sha).join('\n') + '\n');
  });
}

/** Builds the index of a commit's tree; null when the tree is over the limits or not indexable. */
export async function loadTreeText(gitDir: string, commitSha: string, limits: TreeTextLimits): Promise<TreeText | null> {
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(commitSha)) throw new Error('loadTreeText needs a full commit sha');
  const entries = await listBlobs(gitDir, commitSha, limits);
  if (!entries) return null;
  const blobs = await readBlobs(gitDir, entries);
  const parts: string[] = [];
  const files: TreeText['files'] = [];
  let offset = 0;
  for (let i = 0; i < entries.length; i++) {
    const blob = blobs[i]!;
    if (blob.subarray(0, BINARY_PEEK).includes(0)) continue;
    const content = blob.toString('utf8');
    files.push({ path: entries[i]!.path, start: offset, end: offset + content.length });
    parts.push(content);
    offset += content.length + 1; // the '\n' between files: no match crosses a file boundary
  }
  const text = parts.join('\n');
  const lower = text.toLowerCase();
  // Lower-casing changed some lengths (rare Unicode): offsets would not line up; git grep will do.
  if (lower.length !== text.length) return null;
  return { files, text, lower, lineStarts: lineStartsOf(text), ...buildTrigrams(lower, files) };
}

function lineStartsOf(text: string): Int32Array {
  let starts = new Int32Array(Math.max(1024, Math.ceil(text.length / 32)));
  let n = 0;
  starts[n++] = 0;
  for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', nl + 1)) {
    if (n === starts.length) {
      const grown = new Int32Array(starts.length * 2);
      grown.set(starts);
      starts = grown;
    }
    starts[n++] = nl + 1;
  }
  return starts.slice(0, n);
}

/** Index of the last line starting at or before `offset`. */
function lineAt(starts: Int32Array, offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Approximate memory of an index (both strings, two bytes a character at worst). */
export function treeTextWeight(index: TreeText): number {
  return index.text.length * 4 + index.lineStarts.byteLength + index.trigrams.byteLength + index.files.length * 64;
}

/** Which paths a search covers: git pathspec semantics for prefixes and globs, plus extensions. */
export function pathFilter(paths: readonly string[] = [], extensions: readonly string[] = []): ((path: string) => boolean) | null {
  const tests: ((p: string) => boolean)[] = [];
  for (const raw of paths) {
    const path = raw.replace(/^\/+/, '').replace(/\/+$/, '');
    if (path === '' || path.split('/').includes('..')) return null;
    if (/[*?[]/.test(path)) {
      let re: RegExp;
      let under: RegExp;
      try {
        re = globToRegExp(path);
        under = globToRegExp(`${path}/**`);
      } catch {
        return null;
      }
      tests.push((p) => re.test(p) || under.test(p));
    } else tests.push((p) => p === path || p.startsWith(`${path}/`));
  }
  const exts = extensions.map((e) => `.${e.toLowerCase()}`);
  return (p) => (tests.length === 0 || tests.some((t) => t(p))) && (exts.length === 0 || exts.some((e) => p.toLowerCase().endsWith(e)));
}

/**
 * The same answer `grepTree` gives (files in tree order, at most `maxPerFile` matching lines each with
 * `context` lines around them, at most `maxFiles` files), case-insensitively, from an index.
 */
export function searchTreeText(index: TreeText, opts: GrepOptions): GrepResult {
  const accept = pathFilter(opts.paths, opts.extensions);
  if (!accept || opts.pattern === '') return { files: [], truncated: false, timedOut: false };
  const caseless = opts.ignoreCase !== false;
  const hay = caseless ? index.lower : index.text;
  const needle = caseless ? opts.pattern.toLowerCase() : opts.pattern;
  const context = Math.max(0, Math.min(opts.context ?? 2, 10));
  const maxPerFile = Math.max(1, opts.maxPerFile ?? 5);
  const maxFiles = Math.max(1, opts.maxFiles ?? 1000);
  const { text, files } = index;
  const out: GrepFile[] = [];
  let truncated = false;
  // Trigram candidates only (caseless: the table is of the lower-cased text), each scanned on its own.
  const candidates = caseless ? candidateFiles(index, needle) : files.map((_, f) => f);
  for (const f of candidates) {
    const file = files[f]!;
    if (!accept(file.path)) continue;
    const local = hay.substring(file.start, file.end).indexOf(needle);
    if (local < 0) continue;
    const at = file.start + local;
    if (out.length >= maxFiles) {
      truncated = true;
      break;
    }
    // Every match of this file, up to maxPerFile lines, with their context.
    const lines = new Map<number, GrepLine>();
    const { lineStarts } = index;
    const first = lineAt(lineStarts, file.start);
    const lineText = (k: number) => {
      const start = lineStarts[k]!;
      const next = k + 1 < lineStarts.length ? lineStarts[k + 1]! - 1 : text.length;
      return clip(text.slice(start, Math.min(next, file.end, start + 16 * 1024)));
    };
    const inFile = (k: number) => k >= first && lineStarts[k]! < file.end;
    let count = 0;
    let pos = at;
    while (pos >= 0 && pos + needle.length <= file.end && count < maxPerFile) {
      const k = lineAt(lineStarts, pos);
      count++;
      for (let j = Math.max(first, k - context); j <= k + context && j < lineStarts.length && inFile(j); j++) {
        if (!lines.has(j)) lines.set(j, { line: j - first + 1, text: lineText(j), match: false });
      }
      const nextLine = k + 1 < lineStarts.length ? lineStarts[k + 1]! : hay.length;
      pos = nextLine >= file.end ? -1 : hay.indexOf(needle, nextLine);
    }
    const found: GrepFile = { path: file.path, lines: [...lines.values()].sort((a, b) => a.line - b.line), matches: 0 };
    markMatches(found, opts.pattern, caseless);
    out.push(found);
  }
  return { files: out, truncated, timedOut: false };
}

function clip(line: string): string {
  return line.length > LINE_TEXT_LIMIT * 40 ? line.slice(0, LINE_TEXT_LIMIT * 40) : line;
}
