import { spawn } from 'node:child_process';
import { gitEnvironment } from './exec.ts';

export type ArchiveFormat = 'zip' | 'tar.gz';

export const ARCHIVE_FORMATS: readonly ArchiveFormat[] = ['zip', 'tar.gz'];

/** Longest a stalled reader may keep an archive process waiting (a client that stopped reading). */
const ARCHIVE_IDLE_MS = 5 * 60_000;

export interface ArchiveStream {
  /** The archive's bytes straight from `git archive`; cancelling it (a client that went away) kills git. */
  body: ReadableStream<Uint8Array>;
  /** The process id of git, for tests and logs. */
  pid: number | undefined;
}

/**
 * Streams `git archive` of one commit (a full object id, already resolved: never a user string) with
 * every path under `prefix`. Resolves once git produced its first bytes, so a failure to start is an
 * error here rather than a broken 200; afterwards git is stopped as soon as the reader cancels.
 */
export async function streamArchive(gitDir: string, commitSha: string, format: ArchiveFormat, prefix: string): Promise<ArchiveStream> {
  if (!/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(commitSha)) throw new Error('streamArchive needs a full commit id');
  if (!ARCHIVE_FORMATS.includes(format)) throw new Error(`unknown archive format ${String(format)}`);
  if (prefix.includes('\0')) throw new Error('archive prefix must not contain NUL');
  const args = ['--git-dir', gitDir, 'archive', `--format=${format}`, `--prefix=${prefix}`, '--end-of-options', commitSha];
  const child = spawn('git', args, { env: gitEnvironment(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString('utf8');
  });
  let settled = false;
  let idle: NodeJS.Timeout | undefined;
  const stop = () => {
    clearTimeout(idle);
    settled = true;
    child.kill('SIGKILL');
  };

  let firstReady: (value: void) => void;
  let firstFailed: (err: Error) => void;
  const first = new Promise<void>((resolve, reject) => {
    firstReady = resolve;
    firstFailed = reject;
  });
  let gotData = false;

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
            // Backpressure: git blocks on a full pipe until the reader catches up, or is stopped.
            child.stdout.pause();
            clearTimeout(idle);
            idle = setTimeout(() => {
              stop();
              controller.error(new Error('archive stream abandoned'));
            }, ARCHIVE_IDLE_MS);
            idle.unref();
          }
        });
        child.on('error', (err) => finish(err));
        child.on('close', (code, signal) => finish(code === 0 ? null : new Error(`git archive failed (${code ?? signal}): ${stderr.trim()}`)));
      },
      pull() {
        clearTimeout(idle);
        child.stdout.resume();
      },
      cancel() {
        stop();
      },
    },
    { highWaterMark: 256 * 1024, size: (chunk) => chunk.byteLength },
  );
  try {
    await first;
  } catch (err) {
    stop();
    throw err;
  }
  return { body, pid: child.pid };
}
