import { catFilePool } from '../git/catFile.ts';
import { LruCache } from '../git/lru.ts';
import { type RawTreeEntry, readCommitObject, readTreeObject } from '../git/objects.ts';
import { isSafeRepoPath, resolveCommit } from '../git/tree.ts';
import { isBinary } from '../git/tree.ts';
import { citedLines, hashLines, locateCitationInLines, MEMORY_LIMITS, splitLines } from '../domain/memory.ts';
import { invalid } from './errors.ts';
import type { NewMemoryCitation, StoredCitation } from './memory.ts';

/**
 * Citations of memory entries against the code (issue 14). A citation names lines of a file at a
 * commit with the sha-256 of those lines; it holds at another commit when the same lines are still
 * there, or were moved (the same run of lines found elsewhere in the file — the nearest to the old
 * place).
 *
 * The work is keyed by immutable ids, so no cache here is ever stale: (commit, path) → blob id (a
 * commit's tree never changes), resolved for all cited paths of a retrieval at once by walking the
 * commit's trees (cached by id in src/git/objects.ts: a new commit costs only its commit object and
 * the trees it changed); then the verdict per (blob id, lines, content hash) (a blob never changes).
 * Blobs are read only for verdicts not yet known, all at once on the long-lived cat-file process. A
 * commit that changes none of the cited files costs no blob read and no line check.
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
/** Verdicts: (blob id, start, end, content hash) → where the lines are in that blob, or null (~200 bytes each). */
const verdicts = new LruCache<string, Located>(50_000, Number.POSITIVE_INFINITY, 'memory.verdicts');
/** Lines of text blobs (null: binary or too large), weighed by their characters and lines. */
const blobs = new LruCache<string, string[] | null>(256, 64 * 1024 * 1024, 'memory.blobs');
/** (git dir, commit, path) → blob id of the regular file there, or null. */
const blobAt = new LruCache<string, string | null>(50_000, Number.POSITIVE_INFINITY, 'memory.blobAt');

/** Blob id of the regular file (not a symlink or submodule) at `path` of a tree entry walk; null when there is none. */
function fileBlob(entry: RawTreeEntry | null): string | null {
  return entry && entry.type === 'blob' && entry.mode !== '120000' ? entry.sha : null;
}

/**
 * (commit, path) → blob id for many paths at once: one commit read, then the trees on the paths,
 * each tree read once (cached by id across commits), the reads of one level issued together.
 */
export async function blobIdsAt(gitDir: string, commit: string, paths: string[]): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  const todo: string[] = [];
  for (const path of new Set(paths)) {
    if (!isSafeRepoPath(path) || path === '') {
      out.set(path, null);
      continue;
    }
    const hit = blobAt.get(`${gitDir}\0${commit}\0${path}`);
    if (hit !== undefined) out.set(path, hit);
    else todo.push(path);
  }
  if (todo.length === 0) return out;
  const head = await readCommitObject(gitDir, commit);
  const trees = new Map<string, Promise<RawTreeEntry[] | null>>();
  const tree = (sha: string) => {
    let t = trees.get(sha);
    if (!t) trees.set(sha, (t = readTreeObject(gitDir, sha)));
    return t;
  };
  const walk = async (path: string): Promise<string | null> => {
    if (!head) return null;
    let current: RawTreeEntry = { mode: '040000', name: '', sha: head.tree, type: 'tree' };
    for (const segment of path.split('/')) {
      if (current.type !== 'tree') return null;
      const next = (await tree(current.sha))?.find((e) => e.name === segment);
      if (!next) return null;
      current = next;
    }
    return fileBlob(current);
  };
  const found = await Promise.all(todo.map(walk));
  for (const [i, path] of todo.entries()) {
    out.set(path, found[i]!);
    if (head) blobAt.set(`${gitDir}\0${commit}\0${path}`, found[i]!);
  }
  return out;
}

/** The lines of a text blob (null when it is missing, binary or too large). */
async function blobLines(gitDir: string, sha: string): Promise<string[] | null> {
  let lines = blobs.get(sha);
  if (lines === undefined) {
    const obj = await catFilePool.read(gitDir, sha);
    const text = obj && obj.size <= MAX_BLOB && !isBinary(obj.content) ? obj.content.toString('utf8') : null;
    lines = text === null ? null : splitLines(text);
    blobs.set(sha, lines, text === null || lines === null ? 1 : text.length + 32 * lines.length);
  }
  return lines;
}

/** The verdict's key: the blob, the lines and their hash; and whether the lines' text is known (without it a move cannot be found). */
function verdictKey(blob: string, c: StoredCitation): string {
  return `${blob}:${c.start_line}:${c.end_line}:${c.content_hash}:${c.text ? 't' : '-'}`;
}

/**
 * Checks the citations of many entries at `commit` in one pass (see above); result i is entry i's:
 * the entry holds when every citation does (an entry without citations holds).
 */
export async function checkCitationsBatch(gitDir: string, commit: string, entries: StoredCitation[][]): Promise<Array<{ valid: boolean; checked: CheckedCitation[] }>> {
  const ids = await blobIdsAt(gitDir, commit, entries.flatMap((list) => list.map((c) => c.path)));
  // Each distinct (blob, citation) looked up once; the blobs of the verdicts not known yet read together.
  const known = new Map<string, Located | undefined>();
  const needed = new Set<string>();
  for (const list of entries) {
    for (const c of list) {
      const blob = ids.get(c.path);
      if (!blob) continue;
      const key = verdictKey(blob, c);
      if (known.has(key)) continue;
      const hit = verdicts.get(key);
      known.set(key, hit);
      if (hit === undefined) needed.add(blob);
    }
  }
  const lines = new Map<string, string[] | null>();
  await Promise.all([...needed].map(async (sha) => lines.set(sha, await blobLines(gitDir, sha))));
  return entries.map((list) => {
    const checked = list.map((c): CheckedCitation => {
      let where: Located = null;
      const blob = ids.get(c.path);
      if (blob) {
        const key = verdictKey(blob, c);
        const hit = known.get(key);
        if (hit !== undefined) where = hit;
        else {
          const text = lines.get(blob);
          where = text ? locateCitationInLines(text, { start_line: c.start_line, end_line: c.end_line, content_hash: c.content_hash, text: c.text ?? '' }) : null;
          known.set(key, where);
          verdicts.set(key, where);
        }
      }
      return { ...c, valid: where !== null, at_start_line: where?.start_line ?? null, at_end_line: where?.end_line ?? null, moved: where?.moved ?? false };
    });
    return { valid: checked.every((c) => c.valid), checked };
  });
}

/** Checks an entry's citations at `commit`; the entry holds when every citation does (an entry without citations holds). */
export async function checkCitations(gitDir: string, commit: string, citations: StoredCitation[]): Promise<{ valid: boolean; checked: CheckedCitation[] }> {
  return (await checkCitationsBatch(gitDir, commit, [citations]))[0]!;
}

/** The file's text at a commit: null when there is no such regular file, or it is binary or too large. */
async function fileAt(gitDir: string, commit: string, path: string): Promise<{ sha: string; lines: string[] } | null> {
  const sha = (await blobIdsAt(gitDir, commit, [path])).get(path) ?? null;
  const lines = sha ? await blobLines(gitDir, sha) : null;
  return sha && lines ? { sha, lines } : null;
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
    const lines = citedLines(file.lines, c.start_line, c.end_line);
    if (lines === null) throw invalid(`citation ${i + 1}: ${c.path} has no lines ${c.start_line}-${c.end_line} at ${at.slice(0, 12)}`, `${field}.end_line`);
    out.push({ path: c.path, start_line: c.start_line, end_line: c.end_line, commit: at, content_hash: hashLines(lines), text: lines });
  }
  return out;
}
