import { runGitCapped } from './stream.ts';
import { EMPTY_TREE } from './diff.ts';
import { mergeSpans, type FileSpans, type Span } from '../domain/spans.ts';

/** One hunk header of a unified diff: "@@ -oldStart,oldCount +newStart,newCount @@". */
export interface Hunk {
  oldStart: number;
  oldCount: number;
  newStart: number;
  newCount: number;
}

/** One file of a zero-context diff. */
export interface FilePatch {
  /** Post-image path (after a rename); null when the file was deleted. */
  path: string | null;
  /** Pre-image path; null when the file was added. */
  oldPath: string | null;
  binary: boolean;
  hunks: Hunk[];
}

/** Unquotes a path git printed C-style ("\"a\\tb\"", octal escapes for non-ASCII bytes). */
export function unquoteGitPath(raw: string): string {
  if (!raw.startsWith('"') || !raw.endsWith('"') || raw.length < 2) return raw;
  const body = raw.slice(1, -1);
  const bytes: number[] = [];
  const simple: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, '\\': 92 };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch !== '\\') {
      for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
      continue;
    }
    const next = body[i + 1] ?? '';
    if (/[0-7]/.test(next)) {
      const oct = /^[0-7]{1,3}/.exec(body.slice(i + 1))![0];
      bytes.push(parseInt(oct, 8) & 0xff);
      i += oct.length;
    } else {
      bytes.push(simple[next] ?? next.charCodeAt(0));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** "a/src/x.ts" (possibly quoted, possibly with git's trailing TAB for names with spaces) → "src/x.ts"; "/dev/null" → null. */
function headerPath(raw: string, prefix: 'a/' | 'b/'): string | null {
  const value = unquoteGitPath(raw.replace(/\t$/, ''));
  if (value === '/dev/null') return null;
  return value.startsWith(prefix) ? value.slice(prefix.length) : value;
}

/**
 * Parses `git diff --unified=0` output (made with --src-prefix=a/ --dst-prefix=b/) into files and hunk
 * headers. Hunk bodies are skipped by counting the lines each header announces, so added lines that look
 * like headers ("+++ b/x", "diff --git …") are never misread; CR before LF (CRLF files) is irrelevant
 * because only headers are interpreted. Binary files are flagged and have no hunks.
 */
export function parseZeroContextDiff(text: string): FilePatch[] {
  const files: FilePatch[] = [];
  let current: FilePatch | null = null;
  let oldLeft = 0;
  let newLeft = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (oldLeft > 0 || newLeft > 0) {
      // Inside a hunk body: '-' removes, '+' adds, ' ' is context (none with -U0), '\' is "No newline at end of file".
      if (line.startsWith('-')) oldLeft--;
      else if (line.startsWith('+')) newLeft--;
      else if (line.startsWith(' ')) {
        oldLeft--;
        newLeft--;
      } else if (!line.startsWith('\\')) {
        // Truncated or malformed output: stop counting and treat this line as a header.
        oldLeft = 0;
        newLeft = 0;
        i--;
      }
      continue;
    }
    if (line.startsWith('diff --git ') || line.startsWith('diff --cc ') || line.startsWith('diff --combined ')) {
      current = { path: null, oldPath: null, binary: false, hunks: [] };
      files.push(current);
      // Fallback names for files without ---/+++ lines (binary, mode-only): "diff --git a/X b/X" when unambiguous.
      const m = /^diff --git a\/(.+) b\/(.+)$/.exec(line);
      if (m && m[1] === m[2]) {
        current.path = m[2]!;
        current.oldPath = m[1]!;
      }
      continue;
    }
    if (!current) continue;
    if (line.startsWith('@@ ')) {
      const m = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(line);
      if (!m) continue;
      const hunk = { oldStart: Number(m[1]), oldCount: m[2] === undefined ? 1 : Number(m[2]), newStart: Number(m[3]), newCount: m[4] === undefined ? 1 : Number(m[4]) };
      current.hunks.push(hunk);
      oldLeft = hunk.oldCount;
      newLeft = hunk.newCount;
    } else if (line.startsWith('--- ')) {
      current.oldPath = headerPath(line.slice(4), 'a/');
    } else if (line.startsWith('+++ ')) {
      current.path = headerPath(line.slice(4), 'b/');
    } else if (line.startsWith('rename from ')) {
      current.oldPath = unquoteGitPath(line.slice('rename from '.length));
    } else if (line.startsWith('rename to ')) {
      current.path = unquoteGitPath(line.slice('rename to '.length));
    } else if (line.startsWith('new file mode ')) {
      current.oldPath = null;
    } else if (line.startsWith('deleted file mode ')) {
      current.path = null;
    } else if (line.startsWith('Binary files ') || line === 'GIT binary patch') {
      current.binary = true;
      if (/ and \/dev\/null differ$/.test(line)) current.path = null;
    }
  }
  return files;
}

/** The post-image line ranges a file's hunks added or changed. */
export function spansFromHunks(hunks: Hunk[]): Span[] {
  return mergeSpans(hunks.filter((h) => h.newCount > 0).map((h) => [h.newStart, h.newStart + h.newCount - 1] as Span));
}

export interface CommitSpans {
  /** Every path the commit touched (post-image paths; the old path for deletions). */
  files: string[];
  /** Text files only: path → post-image ranges added or changed. Binary and deleted files have none. */
  spans: FileSpans;
}

/** Folds parsed file patches into the files touched and the post-image spans per file. */
export function commitSpansFromPatches(patches: FilePatch[]): CommitSpans {
  const files: string[] = [];
  const spans: FileSpans = {};
  for (const p of patches) {
    const name = p.path ?? p.oldPath;
    if (name !== null && !files.includes(name)) files.push(name);
    if (p.binary || p.path === null) continue;
    const ranges = spansFromHunks(p.hunks);
    if (ranges.length > 0) spans[p.path] = mergeSpans([...(spans[p.path] ?? []), ...ranges]);
  }
  return { files, spans };
}

const DIFF_FLAGS = ['--unified=0', '--no-color', '--no-ext-diff', '--no-textconv', '--src-prefix=a/', '--dst-prefix=b/'];

/**
 * The post-image spans a commit added or changed per file: `git diff --unified=0 -M` against its first
 * parent (the empty tree for a root commit), renames followed, binary files skipped.
 */
export async function commitLineSpans(gitDir: string, commit: string, parent: string | null, maxBytes = 64 * 1024 * 1024): Promise<CommitSpans> {
  const out = await runGitCapped(gitDir, ['diff', ...DIFF_FLAGS, '-M', '--end-of-options', parent ?? EMPTY_TREE, commit], maxBytes);
  if (out.code !== 0) throw new Error(`git diff failed: ${out.stderr.trim()}`);
  return commitSpansFromPatches(parseZeroContextDiff(out.stdout.toString('utf8')));
}

/** The hunks between two blobs (or any two objects git can diff), zero context. */
export async function blobHunks(gitDir: string, from: string, to: string): Promise<Hunk[]> {
  if (from === to) return [];
  const out = await runGitCapped(gitDir, ['diff', ...DIFF_FLAGS, '--end-of-options', from, to], 64 * 1024 * 1024);
  if (out.code !== 0) throw new Error(`git diff failed: ${out.stderr.trim()}`);
  return parseZeroContextDiff(out.stdout.toString('utf8')).flatMap((f) => f.hunks);
}

/**
 * Maps a line of the pre-image to the post-image through a file's hunks: lines outside every hunk move
 * by the hunks before them; lines a hunk removed or rewrote have no image (null).
 */
export function mapLineThroughHunks(hunks: Hunk[], line: number): number | null {
  let delta = 0;
  for (const h of hunks) {
    // With -U0 a pure insertion "-a,0" sits after old line a; a change "-a,n" covers a..a+n-1.
    if (h.oldCount === 0) {
      if (line > h.oldStart) delta += h.newCount;
      else break;
      continue;
    }
    if (line < h.oldStart) break;
    if (line < h.oldStart + h.oldCount) return null;
    delta += h.newCount - h.oldCount;
  }
  return line + delta;
}

/** Maps every line of `spans` through `hunks`, keeping lines that survive unchanged; merged and sorted. */
export function mapSpansThroughHunks(hunks: Hunk[], spans: Span[]): Span[] {
  const out: Span[] = [];
  for (const [start, end] of spans) {
    for (let line = start; line <= end; line++) {
      const mapped = mapLineThroughHunks(hunks, line);
      if (mapped !== null) out.push([mapped, mapped]);
    }
  }
  return mergeSpans(out);
}
