import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { gitEnvironment } from './exec.ts';

export interface CappedOutput {
  code: number;
  stdout: Buffer;
  /** True when output passed the cap and git was stopped early. */
  truncated: boolean;
  stderr: string;
}

/** Runs git and keeps at most `cap` bytes of stdout, stopping git when the cap is reached (for large diffs). */
export function runGitCapped(gitDir: string, args: readonly string[], cap: number): Promise<CappedOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['--git-dir', gitDir, ...args], { env: gitEnvironment(), stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let length = 0;
    let truncated = false;
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => {
      if (truncated) return;
      if (length + chunk.length > cap) {
        chunks.push(chunk.subarray(0, cap - length));
        length = cap;
        truncated = true;
        child.kill();
        return;
      }
      chunks.push(chunk);
      length += chunk.length;
    });
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: truncated ? 0 : (code ?? 1), stdout: Buffer.concat(chunks), truncated, stderr: Buffer.concat(err).toString() }));
  });
}

/** Streams git's stdout line by line; `onLine` returning false stops git early. Resolves with git's exit code. */
export function streamGitLines(gitDir: string, args: readonly string[], onLine: (line: string) => boolean | void): Promise<{ code: number; stopped: boolean; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['--git-dir', gitDir, ...args], { env: gitEnvironment(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stopped = false;
    const err: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const rl = createInterface({ input: child.stdout, crlfDelay: Infinity });
    rl.on('line', (line) => {
      if (stopped) return;
      if (onLine(line) === false) {
        stopped = true;
        rl.close();
        child.kill();
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: stopped ? 0 : (code ?? 1), stopped, stderr: Buffer.concat(err).toString() }));
  });
}

export interface GitStdoutStream {
  /** git's stdout; cancelling it (a reader that went away) kills git. */
  body: ReadableStream<Uint8Array>;
  /** Settles with git's first bytes (or a clean empty exit); rejects when git fails before producing any. */
  started: Promise<void>;
  pid: number | undefined;
}

/**
 * The stdout of a long git process as a web stream: git is paused (it blocks on the full pipe) while the
 * reader is behind, and killed when the reader cancels or stops reading for `idleMs`.
 */
export function gitStdoutStream(gitDir: string, args: readonly string[], opts: { label: string; idleMs: number; highWaterMark: number }): GitStdoutStream {
  const child = spawn('git', ['--git-dir', gitDir, ...args], { env: gitEnvironment(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString('utf8');
  });
  let settled = false;
  let gotData = false;
  let idle: NodeJS.Timeout | undefined;
  const stop = () => {
    clearTimeout(idle);
    settled = true;
    child.kill('SIGKILL');
  };
  let firstReady!: () => void;
  let firstFailed!: (err: Error) => void;
  const started = new Promise<void>((resolve, reject) => {
    firstReady = resolve;
    firstFailed = reject;
  });
  started.catch(() => undefined); // a caller that does not wait for it still sees the error on the stream
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const finish = (err: Error | null) => {
          clearTimeout(idle);
          if (settled) return;
          settled = true;
          if (err) {
            if (!gotData) firstFailed(err);
            controller.error(err);
          } else {
            firstReady();
            controller.close();
          }
        };
        child.stdout.on('data', (chunk: Buffer) => {
          if (settled) return;
          if (!gotData) {
            gotData = true;
            firstReady();
          }
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 0) <= 0) {
            child.stdout.pause();
            clearTimeout(idle);
            idle = setTimeout(() => {
              stop();
              controller.error(new Error(`${opts.label} stream abandoned`));
            }, opts.idleMs);
            idle.unref();
          }
        });
        child.on('error', (err) => finish(err));
        // 'close' comes after stdout has delivered everything.
        child.on('close', (code, signal) => finish(code === 0 ? null : new Error(`${opts.label} failed (${code ?? signal}): ${stderr.trim()}`)));
      },
      pull() {
        clearTimeout(idle);
        child.stdout.resume();
      },
      cancel() {
        stop();
      },
    },
    { highWaterMark: opts.highWaterMark, size: (chunk) => chunk.byteLength },
  );
  return { body, started, pid: child.pid };
}
