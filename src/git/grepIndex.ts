import { spawn } from 'node:child_process';
import { gitEnvironment, runGit } from './exec.ts';
import { globToRegExp } from '../domain/glob.ts';
import { type GrepFile, type GrepLine, type GrepOptions, type GrepResult, markMatches } from './grep.ts';

/**
 * The text files of one commit's tree held in memory for code search: every text blob (no NUL in its
 * first 8,000 bytes, as `git grep -I` decides) joined into one buffer, with a lower-cased copy, so a
 * case-insensitive fixed-string search is an `indexOf` over the few files that can match (milliseconds)
 * instead of inflating every blob from the pack again (`git grep` on a tree: about a second for a
 * 4,000-file repository). A commit never changes, so an index is right for as long as it is kept.
 *
 * The texts are buffers of the JavaScript string's code units — one byte a character when every one
 * fits (`latin1`), else two (`utf16le`) — so offsets are character offsets times the unit, and an index
 * read from disk (git/grepIndexFile.ts) is used as read, without decoding.
 *
 * Which files can hold a search's text is decided before any scan: a table of the files containing
 * each (hashed) trigram, and per file a Bloom filter of its 6-grams — words next to each other, which
 * a trigram table cannot tell apart from the same words anywhere in the file.
 */
export interface TreeText {
  files: { path: string; start: number; end: number }[];
  encoding: 'latin1' | 'utf16le';
  text: Buffer;
  lower: Buffer;
  /** Characters in `text`. */
  chars: number;
  /** Offset of every line's first character (ascending): line numbers by binary search. */
  lineStarts: Int32Array;
  /** TRIGRAM_BUCKETS bitsets of `words` 32-bit words each: which files contain each hashed trigram. */
  trigrams: Uint32Array;
  words: number;
  /** File f's 6-gram Bloom filter is `grams[gramStarts[f] .. gramStarts[f + 1])` (a power of two words). */
  grams: Uint32Array;
  gramStarts: Int32Array;
}

const TRIGRAM_BUCKETS = 1 << 14;
/** Rows of the trigram table (its on-disk form checks it). */
export const TRIGRAM_TABLE_SIZE = TRIGRAM_BUCKETS;
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

const GRAM = 6;
const GRAM_BASE = 0x01000193;
/** GRAM_BASE ** GRAM (mod 2^32): what leaves the rolling hash with the character leaving the window. */
const GRAM_OUT = (() => {
  let p = 1;
  for (let i = 0; i < GRAM; i++) p = Math.imul(p, GRAM_BASE);
  return p;
})();
const gramBit = (h: number) => Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;

/** Per-file Bloom filters (one hash) of the lower-cased text's 6-grams: about a bit per character, at least 512 a file. */
function buildGrams(lower: string, files: TreeText['files']): { grams: Uint32Array; gramStarts: Int32Array } {
  const gramStarts = new Int32Array(files.length + 1);
  let total = 0;
  for (let f = 0; f < files.length; f++) {
    gramStarts[f] = total;
    const len = files[f]!.end - files[f]!.start;
    let bits = 512;
    while (bits < len && bits < 1 << 22) bits *= 2;
    total += bits >>> 5;
  }
  gramStarts[files.length] = total;
  const grams = new Uint32Array(total);
  for (let f = 0; f < files.length; f++) {
    const { start, end } = files[f]!;
    const base = gramStarts[f]!;
    const mask = (gramStarts[f + 1]! - base) * 32 - 1;
    let h = 0;
    for (let i = start; i < end; i++) {
      h = (Math.imul(h, GRAM_BASE) + lower.charCodeAt(i)) | 0;
      if (i - start >= GRAM) h = (h - Math.imul(lower.charCodeAt(i - GRAM), GRAM_OUT)) | 0;
      if (i - start >= GRAM - 1) {
        const b = gramBit(h) & mask;
        grams[base + (b >>> 5)]! |= 1 << (b & 31);
      }
    }
  }
  return { grams, gramStarts };
}

/** The rolling hashes of every 6-gram of `needle` (as buildGrams computes them). */
function needleGrams(needle: string): number[] {
  const out: number[] = [];
  let h = 0;
  for (let i = 0; i < needle.length; i++) {
    h = (Math.imul(h, GRAM_BASE) + needle.charCodeAt(i)) | 0;
    if (i >= GRAM) h = (h - Math.imul(needle.charCodeAt(i - GRAM), GRAM_OUT)) | 0;
    if (i >= GRAM - 1) out.push(gramBit(h));
  }
  return [...new Set(out)];
}

/** Files that may contain `needle` (lower-cased): every trigram present, and every 6-gram in the file's filter; all files for short needles. */
export function candidateFiles(index: TreeText, needle: string): number[] {
  const n = index.files.length;
  if (needle.length < 3) return Array.from({ length: n }, (_, i) => i);
  const { trigrams, words } = index;
  const mask = new Uint32Array(words).fill(0xffffffff);
  for (let i = 2; i < needle.length; i++) {
    const row = trigramHash(needle.charCodeAt(i - 2), needle.charCodeAt(i - 1), needle.charCodeAt(i)) * words;
    for (let w = 0; w < words; w++) mask[w]! &= trigrams[row + w]!;
  }
  const hashes = needle.length >= GRAM ? needleGrams(needle) : [];
  const { grams, gramStarts } = index;
  const out: number[] = [];
  for (let w = 0; w < words; w++) {
    let bits = mask[w]!;
    while (bits !== 0) {
      const low = bits & -bits;
      bits ^= low;
      const f = w * 32 + (31 - Math.clz32(low));
      if (f >= n) continue;
      const base = gramStarts[f]!;
      const size = (gramStarts[f + 1]! - base) * 32 - 1;
      let all = true;
      for (const h of hashes) {
        const b = h & size;
        if ((grams[base + (b >>> 5)]! & (1 << (b & 31))) === 0) {
          all = false;
          break;
        }
      }
      if (all) out.push(f);
    }
  }
  return out;
}

const unitOf = (index: TreeText) => (index.encoding === 'latin1' ? 1 : 2);

/** `needle` in the index's encoding; null when it cannot occur (a character a one-byte text does not have). */
function encodeNeedle(index: TreeText, needle: string): Buffer | null {
  if (index.encoding === 'latin1' && /[^\x00-\xff]/.test(needle)) return null;
  return Buffer.from(needle, index.encoding);
}

/** The first occurrence of `needle` in characters [from, to) of `hay`, as a character offset; -1 when none. */
function findIn(index: TreeText, hay: Buffer, needle: Buffer, from: number, to: number): number {
  const u = unitOf(index);
  const window = hay.subarray(from * u, to * u);
  let at = window.indexOf(needle);
  while (at >= 0 && at % u !== 0) at = window.indexOf(needle, at + 1); // UTF-16: whole characters only
  return at < 0 ? -1 : from + at / u;
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
  const encoding = /[^\x00-\xff]/.test(text) ? 'utf16le' : 'latin1';
  return {
    files,
    encoding,
    text: Buffer.from(text, encoding),
    lower: Buffer.from(lower, encoding),
    chars: text.length,
    lineStarts: lineStartsOf(text),
    ...buildTrigrams(lower, files),
    ...buildGrams(lower, files),
  };
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

/** Approximate memory of an index. */
export function treeTextWeight(index: TreeText): number {
  return index.text.length + index.lower.length + index.lineStarts.byteLength + index.trigrams.byteLength + index.grams.byteLength + index.files.length * 64;
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

/** Where a search found something in an index: the files (tree order) and the first match in each. */
export interface TreeTextMatches {
  /** Indexes into `index.files`, in tree order. */
  files: number[];
  /** Offset of each file's first match in the index's text. */
  firstMatch: number[];
  /** More files matched than `maxFiles`. */
  truncated: boolean;
}

interface SearchTerms {
  caseless: boolean;
  hay: Buffer;
  /** The text looked for (lower-cased for a case-insensitive search) and its encoding for the index; null: cannot occur. */
  needle: string;
  bytes: Buffer | null;
}

function termsOf(index: TreeText, opts: GrepOptions): SearchTerms {
  const caseless = opts.ignoreCase !== false;
  const needle = caseless ? opts.pattern.toLowerCase() : opts.pattern;
  return { caseless, hay: caseless ? index.lower : index.text, needle, bytes: encodeNeedle(index, needle) };
}

/**
 * The files of an index that contain the pattern (as `git grep -F [-i] -I` decides), in tree order, at
 * most `maxFiles` of them — without building their lines: only the files a page shows need those
 * (`treeTextFile`). Only the trigram candidates are scanned, each from its first character.
 */
export function findInTreeText(index: TreeText, opts: GrepOptions): TreeTextMatches {
  const accept = pathFilter(opts.paths, opts.extensions);
  const none: TreeTextMatches = { files: [], firstMatch: [], truncated: false };
  if (!accept || opts.pattern === '') return none;
  const { caseless, hay, needle, bytes } = termsOf(index, opts);
  if (!bytes) return none;
  const maxFiles = Math.max(1, opts.maxFiles ?? 1000);
  const { files } = index;
  const found: number[] = [];
  const firstMatch: number[] = [];
  // Trigram candidates only (caseless: the table is of the lower-cased text).
  const candidates = caseless ? candidateFiles(index, needle) : files.map((_, f) => f);
  const filtered = opts.paths?.length || opts.extensions?.length;
  for (const f of candidates) {
    const file = files[f]!;
    if (file.end - file.start < needle.length) continue;
    if (filtered && !accept(file.path)) continue;
    const at = findIn(index, hay, bytes, file.start, file.end);
    if (at < 0) continue;
    if (found.length >= maxFiles) return { files: found, firstMatch, truncated: true };
    found.push(f);
    firstMatch.push(at);
  }
  return { files: found, firstMatch, truncated: false };
}

/** One matching file of `findInTreeText` as `grepTree` gives it: up to `maxPerFile` matching lines with `context` lines around them. */
export function treeTextFile(index: TreeText, matches: TreeTextMatches, i: number, opts: GrepOptions): GrepFile {
  const { caseless, hay, needle, bytes } = termsOf(index, opts);
  const u = unitOf(index);
  const context = Math.max(0, Math.min(opts.context ?? 2, 10));
  const maxPerFile = Math.max(1, opts.maxPerFile ?? 5);
  const { text, lineStarts } = index;
  const file = index.files[matches.files[i]!]!;
  const lines = new Map<number, GrepLine>();
  const first = lineAt(lineStarts, file.start);
  const lineText = (k: number) => {
    const start = lineStarts[k]!;
    const next = k + 1 < lineStarts.length ? lineStarts[k + 1]! - 1 : index.chars;
    return clip(text.toString(index.encoding, start * u, Math.min(next, file.end, start + 16 * 1024) * u));
  };
  const inFile = (k: number) => k >= first && lineStarts[k]! < file.end;
  let count = 0;
  let pos = matches.firstMatch[i]!;
  while (pos >= 0 && pos + needle.length <= file.end && count < maxPerFile) {
    const k = lineAt(lineStarts, pos);
    count++;
    for (let j = Math.max(first, k - context); j <= k + context && j < lineStarts.length && inFile(j); j++) {
      if (!lines.has(j)) lines.set(j, { line: j - first + 1, text: lineText(j), match: false });
    }
    const nextLine = k + 1 < lineStarts.length ? lineStarts[k + 1]! : index.chars;
    pos = nextLine >= file.end ? -1 : findIn(index, hay, bytes!, nextLine, file.end);
  }
  const found: GrepFile = { path: file.path, lines: [...lines.values()].sort((a, b) => a.line - b.line), matches: 0 };
  markMatches(found, opts.pattern, caseless);
  return found;
}

/**
 * The same answer `grepTree` gives (files in tree order, at most `maxPerFile` matching lines each with
 * `context` lines around them, at most `maxFiles` files), case-insensitively, from an index.
 */
export function searchTreeText(index: TreeText, opts: GrepOptions): GrepResult {
  const matches = findInTreeText(index, opts);
  return { files: matches.files.map((_, i) => treeTextFile(index, matches, i, opts)), truncated: matches.truncated, timedOut: false };
}

function clip(line: string): string {
  return line.length > LINE_TEXT_LIMIT * 40 ? line.slice(0, LINE_TEXT_LIMIT * 40) : line;
}
