import { gitStdoutStream } from './stream.ts';

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
  const archive = gitStdoutStream(gitDir, ['archive', `--format=${format}`, `--prefix=${prefix}`, '--end-of-options', commitSha], { label: 'git archive', idleMs: ARCHIVE_IDLE_MS, highWaterMark: 256 * 1024 });
  await archive.started;
  return { body: archive.body, pid: archive.pid };
}
