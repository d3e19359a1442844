import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { git } from './exec.ts';
import { ZERO_SHA } from '../domain/refs.ts';

/** Creates an empty bare repository whose HEAD points at the given branch. */
export async function initBareRepository(path: string, defaultBranch: string): Promise<void> {
  await mkdir(path, { recursive: true });
  await git(['init', '--quiet', '--bare', `--initial-branch=${defaultBranch}`, path]);
  await git(['config', 'uploadpack.allowFilter', 'true'], { gitDir: path });
  await git(['config', 'uploadpack.allowAnySHA1InWant', 'true'], { gitDir: path });
  await git(['config', 'receive.advertisePushOptions', 'true'], { gitDir: path });
  await git(['config', 'core.logAllRefUpdates', 'false'], { gitDir: path });
}

export async function removeRepository(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

export async function setHead(gitDir: string, branch: string): Promise<void> {
  await git(['symbolic-ref', 'HEAD', `refs/heads/${branch}`], { gitDir });
}

export interface Signature {
  name: string;
  email: string;
  date?: Date;
}

function signatureEnv(author: Signature, committer: Signature = author): Record<string, string> {
  const env: Record<string, string> = {
    GIT_AUTHOR_NAME: author.name,
    GIT_AUTHOR_EMAIL: author.email,
    GIT_COMMITTER_NAME: committer.name,
    GIT_COMMITTER_EMAIL: committer.email,
  };
  if (author.date) env.GIT_AUTHOR_DATE = author.date.toISOString();
  if (committer.date) env.GIT_COMMITTER_DATE = committer.date.toISOString();
  return env;
}

export interface FileWrite {
  path: string;
  content: string | Buffer;
}

/**
 * Builds a commit in a bare repository without a worktree: the parent's tree (or an empty one) with
 * `files` written over it, through a temporary index. Returns the new commit's sha; moves no ref.
 */
export async function commitFilesOnto(
  gitDir: string,
  parent: string | null,
  files: FileWrite[],
  message: string,
  author: Signature,
  committer: Signature = author,
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gitoku-index-'));
  const env = { GIT_INDEX_FILE: join(dir, 'index') };
  try {
    if (parent) await git(['read-tree', '--end-of-options', parent], { gitDir, env });
    for (const f of files) {
      const blob = (await git(['hash-object', '-w', '--stdin'], { gitDir, input: f.content })).trim();
      await git(['update-index', '--add', '--cacheinfo', `100644,${blob},${f.path}`], { gitDir, env });
    }
    const tree = (await git(['write-tree'], { gitDir, env })).trim();
    const args = ['commit-tree', tree];
    if (parent) args.push('-p', parent);
    args.push('-F', '-');
    return (await git(args, { gitDir, input: message, env: signatureEnv(author, committer) })).trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Commits files as the first commit of `branch` (which must not exist yet). Used for "initialize with a README". */
export async function commitFilesToEmptyBranch(gitDir: string, branch: string, files: FileWrite[], message: string, author: Signature): Promise<string> {
  const commit = await commitFilesOnto(gitDir, null, files, message, author);
  await git(['update-ref', `refs/heads/${branch}`, commit, ZERO_SHA], { gitDir });
  return commit;
}

export { signatureEnv };
