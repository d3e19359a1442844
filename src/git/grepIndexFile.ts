import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TRIGRAM_TABLE_SIZE, type TreeText } from './grepIndex.ts';

/**
 * Code search indexes (git/grepIndex.ts) on disk, one file per tree, so every server process (and
 * `gitoku serve --workers N`) loads an index another one built instead of building its own: a single
 * read of the text plus the line and trigram tables (tens of milliseconds) instead of inflating every
 * blob again (about a second on a 4,000-file tree). A file is written under a temporary name and
 * renamed when whole, so a reader sees a complete index or none; a racing writer of the same tree
 * writes the same bytes. The directory is bounded: past its size the least recently used files go.
 * Nothing here follows a symbolic link: the directory must be a real one, files are opened with
 * O_NOFOLLOW and must be regular files.
 *
 * Layout: "GTKIDX03" · u32 header length · header JSON · padding to 4 · text and its lower-cased copy
 * (latin1 or UTF-16LE, each padded to 4) · line starts (i32 × lines) · trigram table (u32 ×
 * TRIGRAM_TABLE_SIZE × words) · 6-gram filter starts (i32 × files + 1) · 6-gram filters (u32), in the
 * machine's byte order (the header says which). Loading is one read: the index is views of it.
 */

const MAGIC = Buffer.from('GTKIDX03');
const TREE_ID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
/** Temporary files older than this are a crashed writer's leftovers. */
const STALE_TEMP_MS = 60 * 60 * 1000;

interface Header {
  tree: string;
  endian: string;
  encoding: 'latin1' | 'utf16le';
  chars: number;
  textBytes: number;
  lines: number;
  words: number;
  buckets: number;
  gramWords: number;
  files: [string, number, number][];
}

const pad4 = (n: number) => (n + 3) & ~3;

/** The index directory, created if missing; null when it is not a real directory (a symlink is refused). */
async function indexDirectory(dir: string): Promise<string | null> {
  try {
    const st = await lstat(dir);
    return st.isDirectory() ? dir : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return null;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return (await lstat(dir)).isDirectory() ? dir : null;
  }
}

function fileName(treeId: string): string {
  if (!TREE_ID.test(treeId)) throw new Error('an index file is named by a full tree id');
  return `${treeId}.idx`;
}

/** Serializes an index: the bytes `readTreeTextFile` reads back. */
export function encodeTreeText(treeId: string, index: TreeText): Buffer[] {
  const header: Header = {
    tree: treeId,
    endian: endianness(),
    encoding: index.encoding,
    chars: index.chars,
    textBytes: index.text.length,
    lines: index.lineStarts.length,
    words: index.words,
    buckets: TRIGRAM_TABLE_SIZE,
    gramWords: index.grams.length,
    files: index.files.map((f) => [f.path, f.start, f.end]),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const head = Buffer.alloc(pad4(MAGIC.length + 4 + json.length));
  MAGIC.copy(head, 0);
  head.writeUInt32LE(json.length, MAGIC.length);
  json.copy(head, MAGIC.length + 4);
  const pad = Buffer.alloc(pad4(index.text.length) - index.text.length);
  const view = (a: Int32Array | Uint32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  return [head, index.text, pad, index.lower, pad, view(index.lineStarts), view(index.trigrams), view(index.gramStarts), view(index.grams)];
}

/**
 * An index over a file's bytes (null when they are not a whole, current-format index of `treeId`). The
 * index's buffers and tables are views of `bytes` (no copies, no decoding): `bytes` must start on a
 * 4-byte boundary of its ArrayBuffer.
 */
export function decodeTreeText(treeId: string, bytes: Uint8Array): TreeText | null {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < MAGIC.length + 4 || !buf.subarray(0, MAGIC.length).equals(MAGIC) || (buf.byteOffset & 3) !== 0) return null;
  const jsonLength = buf.readUInt32LE(MAGIC.length);
  if (MAGIC.length + 4 + jsonLength > buf.length) return null;
  let h: Header;
  try {
    h = JSON.parse(buf.toString('utf8', MAGIC.length + 4, MAGIC.length + 4 + jsonLength)) as Header;
  } catch {
    return null;
  }
  if (h.tree !== treeId || h.endian !== endianness() || h.buckets !== TRIGRAM_TABLE_SIZE || !Array.isArray(h.files) || (h.encoding !== 'latin1' && h.encoding !== 'utf16le')) return null;
  if (h.textBytes !== h.chars * (h.encoding === 'latin1' ? 1 : 2)) return null;
  let last = 0;
  for (const f of h.files) {
    if (!Array.isArray(f) || typeof f[0] !== 'string' || !(f[1] >= last && f[2] >= f[1] && f[2] <= h.chars)) return null;
    last = f[2];
  }
  const textAt = pad4(MAGIC.length + 4 + jsonLength);
  const lowerAt = textAt + pad4(h.textBytes);
  const linesAt = lowerAt + pad4(h.textBytes);
  const trigramsAt = linesAt + h.lines * 4;
  const gramStartsAt = trigramsAt + TRIGRAM_TABLE_SIZE * h.words * 4;
  const gramsAt = gramStartsAt + (h.files.length + 1) * 4;
  if (gramsAt + h.gramWords * 4 !== buf.length) return null;
  const at = (offset: number) => buf.byteOffset + offset;
  const gramStarts = new Int32Array(buf.buffer, at(gramStartsAt), h.files.length + 1);
  if (gramStarts[h.files.length] !== h.gramWords) return null;
  return {
    files: h.files.map(([path, start, end]) => ({ path, start, end })),
    encoding: h.encoding,
    text: buf.subarray(textAt, textAt + h.textBytes),
    lower: buf.subarray(lowerAt, lowerAt + h.textBytes),
    chars: h.chars,
    lineStarts: new Int32Array(buf.buffer, at(linesAt), h.lines),
    trigrams: new Uint32Array(buf.buffer, at(trigramsAt), TRIGRAM_TABLE_SIZE * h.words),
    words: h.words,
    grams: new Uint32Array(buf.buffer, at(gramsAt), h.gramWords),
    gramStarts,
  };
}

/** Reads the index of `treeId` from `dir` (and marks it used); null when there is none or it is unreadable. */
export async function readTreeTextFile(dir: string, treeId: string): Promise<TreeText | null> {
  const path = join(dir, fileName(treeId));
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return null;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return null;
    // Its own ArrayBuffer (offset 0; not pooled, not zero-filled: every byte is read below): the
    // tables are aligned typed-array views of it.
    const bytes = Buffer.allocUnsafeSlow(st.size);
    let read = 0;
    while (read < st.size) {
      const { bytesRead } = await handle.read(bytes, read, st.size - read, read);
      if (bytesRead === 0) return null;
      read += bytesRead;
    }
    const index = decodeTreeText(treeId, bytes);
    if (index) await handle.utimes(new Date(), new Date()).catch(() => undefined); // recently used: evicted last
    return index;
  } finally {
    await handle.close();
  }
}

/**
 * Writes the index of `treeId` into `dir` (temporary file, then rename), then trims the directory to
 * `maxTotalBytes` by removing the least recently used other indexes. Returns the file's size, or null
 * when the directory cannot be used.
 */
export async function writeTreeTextFile(dir: string, treeId: string, index: TreeText, maxTotalBytes: number): Promise<number | null> {
  const name = fileName(treeId);
  const real = await indexDirectory(dir);
  if (!real) return null;
  const parts = encodeTreeText(treeId, index);
  const size = parts.reduce((n, p) => n + p.length, 0);
  if (size > maxTotalBytes) return null;
  const temp = join(real, `${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  // O_EXCL: never writes through a link planted at the temporary name.
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      await handle.writev(parts);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, join(real, name));
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await trimIndexDirectory(real, maxTotalBytes, name);
  return size;
}

/** Removes the least recently used index files until the directory holds at most `maxTotalBytes` (never `keep`). */
export async function trimIndexDirectory(dir: string, maxTotalBytes: number, keep?: string): Promise<string[]> {
  const entries: { name: string; size: number; used: number }[] = [];
  const removed: string[] = [];
  for (const name of await readdir(dir)) {
    const st = await lstat(join(dir, name)).catch(() => null);
    if (!st || !st.isFile()) continue;
    if (name.endsWith('.tmp')) {
      if (Date.now() - st.mtimeMs > STALE_TEMP_MS) await unlink(join(dir, name)).catch(() => undefined);
      continue;
    }
    if (name.endsWith('.idx')) entries.push({ name, size: st.size, used: Math.max(st.mtimeMs, st.atimeMs) });
  }
  let total = entries.reduce((n, e) => n + e.size, 0);
  entries.sort((a, b) => a.used - b.used);
  for (const e of entries) {
    if (total <= maxTotalBytes) break;
    if (e.name === keep) continue;
    await unlink(join(dir, e.name)).catch(() => undefined);
    removed.push(e.name);
    total -= e.size;
  }
  return removed;
}

/** Whether `dir` holds an index file of `treeId` (without reading it). */
export async function hasTreeTextFile(dir: string, treeId: string): Promise<boolean> {
  const st = await lstat(join(dir, fileName(treeId))).catch(() => null);
  return st !== null && st.isFile();
}
