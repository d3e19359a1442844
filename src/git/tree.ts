import { runGit } from './exec.ts';
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

/** Validates a repository-relative path: no "..", no absolute paths, no NUL. "" is the root. */
export function isSafeRepoPath(path: string): boolean {
  if (path === '') return true;
  if (path.length > 4096 || path.includes('\0') || path.startsWith('/') || path.includes('\\')) return false;
  return path.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

/** Resolves a user-supplied revision to a commit sha; null when it does not name a commit. */
export async function resolveCommit(gitDir: string, rev: string): Promise<string | null> {
  if (!isSafeRevision(rev)) return null;
  const r = await runGit(['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`], { gitDir });
  const sha = r.stdout.toString().trim();
  return r.code === 0 && /^[0-9a-f]{40}$/.test(sha) ? sha : null;
}

/** Lists a directory at a commit; null when the path is not a directory there. */
export async function listTree(gitDir: string, commitSha: string, path: string): Promise<TreeEntry[] | null> {
  if (!isSafeRepoPath(path)) return null;
  const spec = path === '' ? commitSha : `${commitSha}:${path}`;
  const r = await runGit(['ls-tree', '-z', '--long', '--end-of-options', spec], { gitDir });
  if (r.code !== 0) return null;
  const typeCheck = await runGit(['cat-file', '-t', '--end-of-options', spec], { gitDir });
  if (typeCheck.stdout.toString().trim() !== 'tree') return null;
  const entries: TreeEntry[] = [];
  for (const record of r.stdout.toString('utf8').split('\0')) {
    if (!record) continue;
    const tab = record.indexOf('\t');
    const [mode, type, sha, size] = record.slice(0, tab).split(/\s+/);
    const name = record.slice(tab + 1);
    entries.push({ name, path: path ? `${path}/${name}` : name, mode: mode!, type: type as TreeEntry['type'], sha: sha!, size: size === '-' ? null : Number(size) });
  }
  // Directories first, then files, each by name — as forges list them.
  return entries.sort((a, b) => (a.type === 'tree') !== (b.type === 'tree') ? (a.type === 'tree' ? -1 : 1) : a.name.localeCompare(b.name));
}

export interface BlobContent {
  sha: string;
  size: number;
  content: Buffer;
  /** True when only the first maxBytes were read. */
  truncated: boolean;
}

/** Reads a file at a commit, at most maxBytes of it; null when the path is not a file there. */
export async function readBlobAtPath(gitDir: string, commitSha: string, path: string, maxBytes = 10 * 1024 * 1024): Promise<BlobContent | null> {
  if (!isSafeRepoPath(path) || path === '') return null;
  const spec = `${commitSha}:${path}`;
  const info = await runGit(['cat-file', '--batch-check=%(objectname) %(objecttype) %(objectsize)'], { gitDir, input: spec + '\n' });
  const [sha, type, sizeText] = info.stdout.toString().trim().split(' ');
  if (type !== 'blob' || !sha) return null;
  const size = Number(sizeText);
  const blob = await runGit(['cat-file', 'blob', sha], { gitDir, maxOutput: Math.max(maxBytes, size) });
  const content = blob.stdout.subarray(0, maxBytes);
  return { sha, size, content, truncated: size > maxBytes };
}

/** Heuristic used by git itself: a NUL byte in the first 8000 bytes means binary. */
export function isBinary(content: Buffer): boolean {
  return content.subarray(0, 8000).includes(0);
}
