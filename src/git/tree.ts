import { catFilePool } from './catFile.ts';
import { LruCache } from './lru.ts';
import { type RawTreeEntry, readCommitObject, readTreeObject } from './objects.ts';
import { isSafeRevision } from '../domain/refs.ts';

export interface TreeEntry {
  name: string;
  path: string;
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  sha: string;
  /** Blob size in bytes; null for trees and submodules. */
  size: number | null;
}

/** Validates a repository-relative path: no "..", no absolute paths, no NUL or newlines. "" is the root. */
export function isSafeRepoPath(path: string): boolean {
  if (path === '') return true;
  if (path.length > 4096 || /[\0\n\r\\]/.test(path) || path.startsWith('/')) return false;
  return path.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

/** Resolves a user-supplied revision (branch, tag, sha) to a commit sha; null when it does not name a commit. */
export async function resolveCommit(gitDir: string, rev: string): Promise<string | null> {
  if (!isSafeRevision(rev)) return null;
  const info = await catFilePool.info(gitDir, `${rev}^{commit}`);
  return info && info.type === 'commit' ? info.sha : null;
}

/** Finds the tree entry at `path` inside a commit by walking cached tree objects. The root is a synthetic tree entry. */
export async function entryAtPath(gitDir: string, commitSha: string, path: string): Promise<RawTreeEntry | null> {
  if (!isSafeRepoPath(path)) return null;
  const commit = await readCommitObject(gitDir, commitSha);
  if (!commit) return null;
  let current: RawTreeEntry = { mode: '040000', name: '', sha: commit.tree, type: 'tree' };
  if (path === '') return current;
  for (const segment of path.split('/')) {
    if (current.type !== 'tree') return null;
    const entries = await readTreeObject(gitDir, current.sha);
    const next = entries?.find((e) => e.name === segment);
    if (!next) return null;
    current = next;
  }
  return current;
}

const blobSizes = new LruCache<string, number>(200_000, Number.POSITIVE_INFINITY, 'git.blobSizes');

/** A blob's size, remembered by its id (it never changes); null when there is no such object. */
export async function blobSize(gitDir: string, sha: string): Promise<number | null> {
  const cached = blobSizes.get(sha);
  if (cached !== undefined) return cached;
  const info = await catFilePool.info(gitDir, sha);
  if (!info) return null;
  blobSizes.set(sha, info.size);
  return info.size;
}

/** Lists a directory at a commit (directories first, then by name); null when the path is not a directory there. */
export async function listTree(gitDir: string, commitSha: string, path: string): Promise<TreeEntry[] | null> {
  const dir = await entryAtPath(gitDir, commitSha, path);
  if (!dir || dir.type !== 'tree') return null;
  const raw = await readTreeObject(gitDir, dir.sha);
  if (!raw) return null;
  const sizes = await Promise.all(raw.map((e) => (e.type === 'blob' ? blobSize(gitDir, e.sha) : Promise.resolve(null))));
  const entries = raw.map((e, i) => ({ name: e.name, path: path ? `${path}/${e.name}` : e.name, mode: e.mode, type: e.type, sha: e.sha, size: sizes[i] ?? null }));
  return entries.sort((a, b) => ((a.type === 'tree') !== (b.type === 'tree') ? (a.type === 'tree' ? -1 : 1) : a.name.localeCompare(b.name)));
}

export interface BlobContent {
  sha: string;
  size: number;
  mode: string;
  content: Buffer;
  /** True when the blob is larger than maxBytes and content is empty (not read). */
  truncated: boolean;
}

/** Reads a file at a commit when it is at most maxBytes; null when the path is not a file there. */
export async function readBlobAtPath(gitDir: string, commitSha: string, path: string, maxBytes = 10 * 1024 * 1024): Promise<BlobContent | null> {
  if (path === '') return null;
  const entry = await entryAtPath(gitDir, commitSha, path);
  if (!entry || entry.type !== 'blob') return null;
  const size = await blobSize(gitDir, entry.sha);
  if (size === null) return null;
  if (size > maxBytes) return { sha: entry.sha, size, mode: entry.mode, content: Buffer.alloc(0), truncated: true };
  const obj = await catFilePool.read(gitDir, entry.sha);
  if (!obj) return null;
  return { sha: entry.sha, size, mode: entry.mode, content: obj.content, truncated: false };
}

/** Git's own heuristic: a NUL byte in the first 8000 bytes means binary. */
export function isBinary(content: Buffer): boolean {
  return content.subarray(0, 8000).includes(0);
}
