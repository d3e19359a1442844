import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { gitEnvironment } from './exec.ts';
import { gitStdoutStream } from './stream.ts';

export interface GitObject {
  sha: string;
  type: 'blob' | 'tree' | 'commit' | 'tag';
  size: number;
  content: Buffer;
}

export interface GitObjectInfo {
  sha: string;
  type: GitObject['type'];
  size: number;
}

interface Pending {
  kind: 'info' | 'contents';
  resolve(value: GitObject | GitObjectInfo | null): void;
  reject(err: Error): void;
}

/**
 * One long-lived `git cat-file --batch-command` process for a repository. Requests are written
 * in order and answered in order; the parser reads "<sha> <type> <size>\n[<content>\n]" or "<name> missing\n".
 */
class BatchProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly queue: Pending[] = [];
  /** Unparsed output, in arrival order: joined only once enough has arrived (never re-copied per chunk). */
  private chunks: Buffer[] = [];
  private buffered = 0;
  private header: GitObjectInfo | null = null;
  private dead = false;
  lastUsed = Date.now();

  constructor(
    readonly gitDir: string,
    private readonly onExit: (p: BatchProcess) => void,
  ) {
    this.child = spawn('git', ['--git-dir', gitDir, 'cat-file', '--batch-command'], { env: gitEnvironment(), stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    this.child.stderr.resume();
    this.child.stdin.on('error', () => this.fail(new Error('git cat-file stdin closed')));
    this.child.on('error', (err) => this.fail(err));
    this.child.on('close', () => this.fail(new Error('git cat-file exited')));
  }

  get busy(): number {
    return this.queue.length;
  }

  request(kind: 'info' | 'contents', name: string): Promise<GitObject | GitObjectInfo | null> {
    if (this.dead) return Promise.reject(new Error('git cat-file is not running'));
    if (name.includes('\n') || name.includes('\r')) return Promise.resolve(null);
    this.lastUsed = Date.now();
    return new Promise((resolve, reject) => {
      this.queue.push({ kind, resolve, reject });
      this.child.stdin.write(`${kind} ${name}\n`);
    });
  }

  /** The unparsed output as one buffer (joining the chunks once; the joined buffer becomes the only chunk). */
  private joined(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [this.chunks.length === 0 ? Buffer.alloc(0) : Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0]!;
  }

  private consume(n: number): void {
    const rest = this.joined().subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      const pending = this.queue[0];
      if (!pending) return;
      if (!this.header) {
        const buf = this.joined();
        const nl = buf.indexOf(10);
        if (nl < 0) return;
        const line = buf.subarray(0, nl).toString('utf8');
        this.consume(nl + 1);
        const parts = line.split(' ');
        if (parts.length !== 3 || parts[1] === 'missing' || parts[2] === 'missing') {
          this.queue.shift();
          pending.resolve(null);
          continue;
        }
        const info: GitObjectInfo = { sha: parts[0]!, type: parts[1] as GitObjectInfo['type'], size: Number(parts[2]) };
        if (pending.kind === 'info') {
          this.queue.shift();
          pending.resolve(info);
          continue;
        }
        this.header = info;
      }
      // Waiting for the content: chunks are only counted until all of it is here, then joined once.
      const need = this.header.size + 1;
      if (this.buffered < need) return;
      const buf = this.joined();
      // A copy when the content shares its buffer with more output, so that output is not kept alive by it.
      const content = buf.length > need ? Buffer.from(buf.subarray(0, this.header.size)) : buf.subarray(0, this.header.size);
      this.consume(need);
      const object: GitObject = { ...this.header, content };
      this.header = null;
      this.queue.shift();
      pending.resolve(object);
    }
  }

  private fail(err: Error): void {
    if (this.dead) return;
    this.dead = true;
    for (const p of this.queue.splice(0)) p.reject(err);
    this.onExit(this);
  }

  close(): void {
    if (this.dead) return;
    this.dead = true;
    this.child.stdin.end();
    this.child.kill();
    for (const p of this.queue.splice(0)) p.reject(new Error('git cat-file closed'));
    this.onExit(this);
  }
}

export interface CatFilePoolOptions {
  /** Processes per repository (requests spread over them when busy). */
  perRepository: number;
  /** Processes across all repositories; the least recently used is closed beyond this. */
  total: number;
  /** Idle processes are closed after this long. */
  idleMs: number;
}

/** A bounded pool of long-lived cat-file processes, shared by the tree, blob and commit readers. */
export class CatFilePool {
  private readonly byRepo = new Map<string, BatchProcess[]>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly opts: CatFilePoolOptions = { perRepository: 2, total: 64, idleMs: 30_000 }) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, Math.floor(opts.idleMs / 2)));
    this.sweeper.unref();
  }

  private pick(gitDir: string): BatchProcess {
    const procs = this.byRepo.get(gitDir) ?? [];
    const idle = procs.find((p) => p.busy === 0);
    if (idle) return idle;
    if (procs.length < this.opts.perRepository) {
      this.evictIfFull();
      const p = new BatchProcess(gitDir, (dead) => this.remove(dead));
      procs.push(p);
      this.byRepo.set(gitDir, procs);
      return p;
    }
    return procs.reduce((a, b) => (a.busy <= b.busy ? a : b));
  }

  private evictIfFull(): void {
    const all = [...this.byRepo.values()].flat();
    if (all.length < this.opts.total) return;
    const lru = all.filter((p) => p.busy === 0).sort((a, b) => a.lastUsed - b.lastUsed)[0];
    lru?.close();
  }

  private remove(p: BatchProcess): void {
    const procs = this.byRepo.get(p.gitDir);
    if (!procs) return;
    const rest = procs.filter((x) => x !== p);
    if (rest.length) this.byRepo.set(p.gitDir, rest);
    else this.byRepo.delete(p.gitDir);
  }

  private sweep(): void {
    const cutoff = Date.now() - this.opts.idleMs;
    for (const p of [...this.byRepo.values()].flat()) if (p.busy === 0 && p.lastUsed < cutoff) p.close();
  }

  /** Reads an object by name (a sha, or "<sha>:<path>"); null when missing. */
  async read(gitDir: string, name: string): Promise<GitObject | null> {
    return (await this.pick(gitDir).request('contents', name)) as GitObject | null;
  }

  async info(gitDir: string, name: string): Promise<GitObjectInfo | null> {
    return (await this.pick(gitDir).request('info', name)) as GitObjectInfo | null;
  }

  /** Closes a repository's processes (e.g. before deleting it). */
  closeRepository(gitDir: string): void {
    for (const p of this.byRepo.get(gitDir) ?? []) p.close();
  }

  processCount(): number {
    return [...this.byRepo.values()].reduce((n, procs) => n + procs.length, 0);
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const p of [...this.byRepo.values()].flat()) p.close();
  }
}

/** The process-wide pool. */
export const catFilePool = new CatFilePool();

/** A blob's bytes from its own process: the first bytes already read (for sniffing), and the whole content as a stream. */
export interface BlobStream {
  /** The first `peek` bytes (fewer when the blob is smaller); they are also the start of `body`. */
  head: Buffer;
  body: ReadableStream<Uint8Array>;
}

/** A streamed blob whose reader has not asked for more for this long is abandoned (e.g. a dropped response): git is stopped. */
const BLOB_STREAM_IDLE_MS = 5 * 60_000;

/** The stdout of `git cat-file blob <sha>` as a web stream: paused while the reader is behind, git killed on cancel. */
function blobProcessStream(gitDir: string, sha: string): ReadableStream<Uint8Array> {
  return gitStdoutStream(gitDir, ['cat-file', 'blob', sha], { label: `git cat-file blob ${sha}`, idleMs: BLOB_STREAM_IDLE_MS, highWaterMark: 1024 * 1024 }).body;
}

/**
 * Streams a blob (by its full object id) straight from `git cat-file blob`, in its own process so a
 * large object never holds up the shared batch processes, and without ever holding the whole blob in
 * memory. The first `peek` bytes are read before this resolves, for content-type sniffing.
 */
export async function streamBlob(gitDir: string, sha: string, peek = 8000): Promise<BlobStream> {
  if (!/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(sha)) throw new Error('streamBlob needs a full object id');
  const reader = blobProcessStream(gitDir, sha).getReader();
  const first: Uint8Array[] = [];
  let length = 0;
  let done = false;
  while (length < peek) {
    const r = await reader.read();
    if (r.done) {
      done = true;
      break;
    }
    first.push(r.value);
    length += r.value.byteLength;
  }
  const head = Buffer.concat(first, length).subarray(0, peek);
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        for (const chunk of first) controller.enqueue(chunk);
        if (done) controller.close();
      },
      async pull(controller) {
        const r = await reader.read();
        if (r.done) controller.close();
        else controller.enqueue(r.value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return { head, body };
}
