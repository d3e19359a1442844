import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { isAbsolute, posix } from 'node:path';

/**
 * File operations the runner does on behalf of an agent, confined to one directory tree (DESIGN §9,
 * "untrusted workspace"). Everything in the tree is hostile: the agent may have replaced any file or
 * directory by a symbolic link, at any moment. So no path is ever resolved through the tree: each
 * component is opened relative to its parent's descriptor (`/proc/self/fd/N/name`, Linux's openat)
 * with O_NOFOLLOW, a link anywhere is refused, and files are replaced by rename rather than written
 * in place (so a hard link cannot carry a write out either). Checks happen at the moment of use.
 */

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = constants;

export class WorkspacePathError extends Error {}

/** A path (or one of its directories) that does not exist. */
export class WorkspaceMissingError extends WorkspacePathError {}

/** A path an agent named, checked and split into components; `.git` (first component) is refused unless allowed. */
export function confinedComponents(root: string, path: unknown, opts: { allowRoot?: boolean; allowGit?: boolean } = {}): string[] {
  if (typeof path !== 'string' || path.includes('\0')) throw new WorkspacePathError('path must be a string');
  let cleaned = path.trim() || '.';
  if (isAbsolute(cleaned)) {
    const rel = posix.relative(root, posix.normalize(cleaned));
    if (rel.startsWith('..') || isAbsolute(rel)) throw new WorkspacePathError(`${path}: absolute paths outside the repository are not allowed`);
    cleaned = rel || '.';
  }
  const normal = posix.normalize(cleaned);
  if (normal === '..' || normal.startsWith('../')) throw new WorkspacePathError(`${path}: outside the repository`);
  const parts = normal.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 && !opts.allowRoot) throw new WorkspacePathError(`${path}: is the repository root`);
  if (parts[0] === '.git' && !opts.allowGit) throw new WorkspacePathError(`${path}: .git is off limits`);
  return parts;
}

const at = (dir: FileHandle, name: string) => `/proc/self/fd/${dir.fd}/${name}`;

function linkError(err: unknown, shown: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ELOOP' || code === 'ENOTDIR') return new WorkspacePathError(`${shown}: leads outside the repository (symbolic link or not a directory)`);
  if (code === 'ENOENT') return new WorkspaceMissingError(`${shown}: no such file or directory`);
  return err;
}

/** Opens the root itself without following a link in its last component (the agent can rename entries beside it). */
async function openRoot(root: string): Promise<FileHandle> {
  try {
    return await open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (err) {
    throw linkError(err, root);
  }
}

/** Walks `dirs` from the root, one O_NOFOLLOW directory open at a time; creates missing ones when asked. */
async function openDirectory(root: string, dirs: string[], shown: string, create: boolean): Promise<FileHandle> {
  let current = await openRoot(root);
  try {
    for (const name of dirs) {
      if (create) await mkdir(at(current, name)).catch((err: NodeJS.ErrnoException) => (err.code === 'EEXIST' ? undefined : Promise.reject(err)));
      const next = await open(at(current, name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW).catch((err) => Promise.reject(linkError(err, shown)));
      await current.close();
      current = next;
    }
    return current;
  } catch (err) {
    await current.close();
    throw err;
  }
}

async function withParent<T>(root: string, parts: string[], shown: string, create: boolean, fn: (dir: FileHandle, name: string) => Promise<T>): Promise<T> {
  if (parts.length === 0) throw new WorkspacePathError(`${shown}: is a directory`);
  const dir = await openDirectory(root, parts.slice(0, -1), shown, create);
  try {
    return await fn(dir, parts[parts.length - 1]!);
  } finally {
    await dir.close();
  }
}

/** Opens a regular file for reading without following links; null when it does not exist. */
async function openRegular(dir: FileHandle, name: string, shown: string): Promise<FileHandle | null> {
  let file: FileHandle;
  try {
    // O_NONBLOCK: a FIFO planted by the agent must not hang the runner.
    file = await open(at(dir, name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw linkError(err, shown);
  }
  const info = await file.stat();
  if (!info.isFile()) {
    await file.close();
    throw new WorkspacePathError(`${shown}: not a regular file`);
  }
  return file;
}

export interface ReadOptions {
  /** Refuse files larger than this (bytes). */
  maxBytes?: number;
  allowGit?: boolean;
}

/** Reads a file of the tree; null when it does not exist. */
export async function readConfinedFile(root: string, path: string, opts: ReadOptions = {}): Promise<Buffer | null> {
  const parts = confinedComponents(root, path, { allowGit: opts.allowGit });
  try {
    return await withParent(root, parts, path, false, async (dir, name) => {
      const file = await openRegular(dir, name, path);
      if (!file) return null;
      try {
        const { size } = await file.stat();
        if (opts.maxBytes !== undefined && size > opts.maxBytes) throw new WorkspacePathError(`${path}: larger than ${opts.maxBytes} bytes`);
        return await file.readFile();
      } finally {
        await file.close();
      }
    });
  } catch (err) {
    if (err instanceof WorkspaceMissingError) return null;
    throw err;
  }
}

export interface WriteOptions {
  append?: boolean;
  /** File mode for a new file (an existing file keeps its own). */
  mode?: number;
  allowGit?: boolean;
}

/**
 * Writes (or appends to) a file of the tree, creating missing directories. The new content goes to a
 * fresh file beside it that then replaces the old entry: a link in its place is replaced, never followed.
 */
export async function writeConfinedFile(root: string, path: string, content: string | Buffer, opts: WriteOptions = {}): Promise<void> {
  const parts = confinedComponents(root, path, { allowGit: opts.allowGit });
  await withParent(root, parts, path, true, async (dir, name) => {
    let data = typeof content === 'string' ? Buffer.from(content) : content;
    let mode = opts.mode ?? 0o644;
    const existing = await lstat(at(dir, name)).catch(() => null);
    if (existing?.isDirectory()) throw new WorkspacePathError(`${path}: is a directory`);
    if (existing?.isFile()) {
      mode = existing.mode & 0o7777;
      if (opts.append) {
        const file = await openRegular(dir, name, path);
        if (file) {
          try {
            data = Buffer.concat([await file.readFile(), data]);
          } finally {
            await file.close();
          }
        }
      }
    }
    const temp = `.gitoku-write-${randomBytes(6).toString('hex')}`;
    const file = await open(at(dir, temp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
    try {
      await file.writeFile(data);
      await file.chmod(mode);
    } finally {
      await file.close();
    }
    try {
      await rename(at(dir, temp), at(dir, name));
    } catch (err) {
      await unlink(at(dir, temp)).catch(() => undefined);
      throw err;
    }
  });
}

/** Deletes a file (or a link: the link itself, never its target) of the tree. False when nothing was there. */
export async function deleteConfinedFile(root: string, path: string): Promise<boolean> {
  const parts = confinedComponents(root, path);
  try {
    return await withParent(root, parts, path, false, async (dir, name) => {
      const info = await lstat(at(dir, name)).catch(() => null);
      if (!info) return false;
      if (info.isDirectory()) throw new WorkspacePathError(`${path}: is a directory`);
      await unlink(at(dir, name));
      return true;
    });
  } catch (err) {
    if (err instanceof WorkspaceMissingError) return false;
    throw err;
  }
}

export type EntryType = 'file' | 'directory' | 'symlink' | 'other';

/** What a path of the tree is, without following it; null when nothing is there. */
export async function statConfined(root: string, path: string, opts: { allowRoot?: boolean } = {}): Promise<EntryType | null> {
  const parts = confinedComponents(root, path, opts);
  if (parts.length === 0) return 'directory';
  try {
    return await withParent(root, parts, path, false, async (dir, name) => {
      const info = await lstat(at(dir, name)).catch(() => null);
      if (!info) return null;
      return info.isSymbolicLink() ? 'symlink' : info.isDirectory() ? 'directory' : info.isFile() ? 'file' : 'other';
    });
  } catch (err) {
    if (err instanceof WorkspacePathError) return null;
    throw err;
  }
}

/**
 * Lists a directory of the tree depth-first (sorted; directories end in "/", links in "@"), skipping
 * `.git`, without ever descending through a link; stops after `limit` entries.
 */
export async function listConfinedTree(root: string, path: string, limit: number): Promise<{ entries: string[]; cut: boolean }> {
  const parts = confinedComponents(root, path, { allowRoot: true });
  const entries: string[] = [];
  const walk = async (dir: FileHandle, prefix: string): Promise<void> => {
    const children = (await readdir(`/proc/self/fd/${dir.fd}`, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const child of children) {
      if (entries.length >= limit) return;
      const rel = prefix ? `${prefix}/${child.name}` : child.name;
      if (rel === '.git') continue;
      if (child.isDirectory()) {
        entries.push(`${rel}/`);
        const sub = await open(at(dir, child.name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW).catch(() => null);
        if (!sub) continue;
        try {
          await walk(sub, rel);
        } finally {
          await sub.close();
        }
      } else entries.push(child.isSymbolicLink() ? `${rel}@` : rel);
    }
  };
  const start = await openDirectory(root, parts, path, false);
  try {
    await walk(start, parts.join('/'));
  } finally {
    await start.close();
  }
  return { entries, cut: entries.length >= limit };
}
