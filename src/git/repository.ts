import { mkdir, rm } from 'node:fs/promises';
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

/**
 * Commits a set of files as a new root commit in a bare repository, without a worktree,
 * and points `branch` at it. Returns the commit sha. Used for "initialize with a README".
 */
export async function commitFilesToEmptyBranch(
  gitDir: string,
  branch: string,
  files: { path: string; content: string }[],
  message: string,
  author: Signature,
): Promise<string> {
  const entries: string[] = [];
  for (const f of files) {
    const blob = (await git(['hash-object', '-w', '--stdin'], { gitDir, input: f.content })).trim();
    entries.push(`100644 blob ${blob}\t${f.path}`);
  }
  const tree = (await git(['mktree'], { gitDir, input: entries.join('\n') + '\n' })).trim();
  const commit = (await git(['commit-tree', tree, '-F', '-'], { gitDir, input: message, env: signatureEnv(author) })).trim();
  await git(['update-ref', `refs/heads/${branch}`, commit, ZERO_SHA], { gitDir });
  return commit;
}

export { signatureEnv };
