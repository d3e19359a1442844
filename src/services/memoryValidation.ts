import { catFilePool } from '../git/catFile.ts';
import { LruCache } from '../git/lru.ts';
import { entryAtPath, isSafeRepoPath, resolveCommit } from '../git/tree.ts';
import { isBinary } from '../git/tree.ts';
import { citedLines, hashLines, locateCitation, MEMORY_LIMITS } from '../domain/memory.ts';
import { invalid } from './errors.ts';
import type { NewMemoryCitation, StoredCitation } from './memory.ts';

/**
 * Citations of memory entries against the code (issue 14). A citation names lines of a file at a
 * commit with the sha-256 of those lines; it holds at another commit when the same lines are still
 * there, or were moved (the same run of lines found elsewhere in the file — the nearest to the old
 * place). Results are cached per (blob, citation): a blob never changes.
 */

/** A citation as checked at a commit: where its lines are now, or `valid: false`. */
export interface CheckedCitation extends StoredCitation {
  valid: boolean;
  /** Where the lines are at the checked commit (when valid). */
  at_start_line: number | null;
  at_end_line: number | null;
  moved: boolean;
}

const MAX_BLOB = 2 * 1024 * 1024;
type Located = { start_line: number; end_line: number; moved: boolean } | null;
const located = new LruCache<string, Located>(50_000, Number.POSITIVE_INFINITY, 'memory.citations');
const blobs = new LruCache<string, string | null>(256, 64 * 1024 * 1024, 'memory.blobs');
const blobAt = new LruCache<string, string | null>(20_000, Number.POSITIVE_INFINITY, 'memory.blobAt');

/** The file's text at a commit: null when there is no such regular file, or it is binary or too large. */
async function fileAt(gitDir: string, commit: string, path: string): Promise<{ sha: string; text: string } | null> {
  if (!isSafeRepoPath(path) || path === '') return null;
  // A commit's tree never changes: (commit, path) → blob is cached, so a warm check costs no git round trip.
  const key = `${gitDir}\0${commit}\0${path}`;
  let sha = blobAt.get(key);
  if (sha === undefined) {
    const entry = await entryAtPath(gitDir, commit, path);
    sha = entry && entry.type === 'blob' && entry.mode !== '120000' ? entry.sha : null;
    blobAt.set(key, sha);
  }
  if (sha === null) return null;
  let text = blobs.get(sha);
  if (text === undefined) {
    const obj = await catFilePool.read(gitDir, sha);
    text = obj && obj.size <= MAX_BLOB && !isBinary(obj.content) ? obj.content.toString('utf8') : null;
    blobs.set(sha, text, text ? text.length : 1);
  }
  return text === null ? null : { sha, text };
}

/** Checks an entry's citations at `commit`; the entry holds when every citation does (an entry without citations holds). */
export async function checkCitations(gitDir: string, commit: string, citations: StoredCitation[]): Promise<{ valid: boolean; checked: CheckedCitation[] }> {
  const checked: CheckedCitation[] = [];
  for (const c of citations) {
    let where: Located = null;
    const file = await fileAt(gitDir, commit, c.path);
    if (file) {
      const key = `${file.sha}:${c.start_line}:${c.end_line}:${c.content_hash}`;
      const hit = located.get(key);
      if (hit !== undefined) where = hit;
      else {
        where = locateCitation(file.text, { start_line: c.start_line, end_line: c.end_line, content_hash: c.content_hash, text: c.text ?? '' });
        located.set(key, where);
      }
    }
    checked.push({ ...c, valid: where !== null, at_start_line: where?.start_line ?? null, at_end_line: where?.end_line ?? null, moved: where?.moved ?? false });
  }
  return { valid: checked.every((c) => c.valid), checked };
}

/**
 * Resolves citations given by a person or an agent against `commit`: the path must name a text file
 * of the repository there and the lines must exist; the commit and the hash of the lines are ours.
 * `commit` of a citation, when given, must be a commit of the repository (its lines are read there).
 * Throws a 422 naming the citation.
 */
export async function resolveCitations(gitDir: string, commit: string, citations: NewMemoryCitation[]): Promise<Array<StoredCitation & { text: string }>> {
  if (citations.length > MEMORY_LIMITS.citations) throw invalid(`at most ${MEMORY_LIMITS.citations} citations`, 'citations');
  const out: Array<StoredCitation & { text: string }> = [];
  for (const [i, c] of citations.entries()) {
    const field = `citations.${i}`;
    if (!c || typeof c.path !== 'string' || !isSafeRepoPath(c.path) || c.path === '') throw invalid(`citation ${i + 1}: "${String(c?.path)}" is not a path inside the repository`, `${field}.path`);
    if (!Number.isInteger(c.start_line) || !Number.isInteger(c.end_line) || c.start_line < 1 || c.end_line < c.start_line) throw invalid(`citation ${i + 1}: lines must be 1 ≤ start_line ≤ end_line`, `${field}.start_line`);
    if (c.end_line - c.start_line + 1 > MEMORY_LIMITS.citationLines) throw invalid(`citation ${i + 1}: at most ${MEMORY_LIMITS.citationLines} lines`, `${field}.end_line`);
    let at = commit;
    if (c.commit !== undefined) {
      const resolved = typeof c.commit === 'string' && /^[0-9a-f]{40}$/.test(c.commit) ? await resolveCommit(gitDir, c.commit) : null;
      if (!resolved) throw invalid(`citation ${i + 1}: unknown commit ${String(c.commit).slice(0, 64)}`, `${field}.commit`);
      at = resolved;
    }
    const file = await fileAt(gitDir, at, c.path);
    if (!file) throw invalid(`citation ${i + 1}: ${c.path} is not a text file at ${at.slice(0, 12)}`, `${field}.path`);
    const lines = citedLines(file.text, c.start_line, c.end_line);
    if (lines === null) throw invalid(`citation ${i + 1}: ${c.path} has no lines ${c.start_line}-${c.end_line} at ${at.slice(0, 12)}`, `${field}.end_line`);
    out.push({ path: c.path, start_line: c.start_line, end_line: c.end_line, commit: at, content_hash: hashLines(lines), text: lines });
  }
  return out;
}
