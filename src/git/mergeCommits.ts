import { git, runGit } from './exec.ts';
import { signatureEnv, type Signature } from './repository.ts';
import { mergeTree } from './merge.ts';
import { readCommitObject } from './objects.ts';

export type MergeMethod = 'merge' | 'squash' | 'rebase';

export class MergeConflictError extends Error {
  constructor(readonly files: string[]) {
    super(`merge conflict in ${files.join(', ')}`);
  }
}

async function commitTree(gitDir: string, tree: string, parents: string[], message: string, author: Signature, committer: Signature): Promise<string> {
  const args = ['commit-tree', tree];
  for (const p of parents) args.push('-p', p);
  args.push('-F', '-');
  return (await git(args, { gitDir, input: message, env: signatureEnv(author, committer) })).trim();
}

/** A merge commit of head into base (two parents), made in the object database. */
export async function createMergeCommit(gitDir: string, base: string, head: string, message: string, who: Signature): Promise<string> {
  const merged = await mergeTree(gitDir, base, head);
  if (!merged.clean) throw new MergeConflictError(merged.conflicts);
  return commitTree(gitDir, merged.tree, [base, head], message, who, who);
}

/** One commit on top of base with the merged result (GitHub's "squash and merge"). */
export async function createSquashCommit(gitDir: string, base: string, head: string, message: string, author: Signature, committer: Signature): Promise<string> {
  const merged = await mergeTree(gitDir, base, head);
  if (!merged.clean) throw new MergeConflictError(merged.conflicts);
  return commitTree(gitDir, merged.tree, [base], message, author, committer);
}

/**
 * Replays head's commits (base..head, merges skipped) onto base, keeping each author and message.
 * Each cherry-pick of C (parent P) onto X is `merge-tree` of a synthetic commit X' = (tree X, parent P)
 * with C, whose merge base is then P — git 2.39 has no `merge-tree --merge-base`. Returns the new tip
 * and the mapping from original to rewritten commits.
 */
export async function rebaseCommits(gitDir: string, base: string, head: string, committer: Signature): Promise<{ tip: string; rewritten: Map<string, string> }> {
  const list = (await git(['rev-list', '--reverse', '--no-merges', '--end-of-options', head, `^${base}`], { gitDir })).split('\n').filter(Boolean);
  const rewritten = new Map<string, string>();
  let tip = base;
  for (const sha of list) {
    const commit = (await readCommitObject(gitDir, sha))!;
    const parent = commit.parents[0];
    let tree: string;
    if (!parent) {
      tree = commit.tree;
    } else {
      const tipCommit = (await readCommitObject(gitDir, tip))!;
      const synthetic = await commitTree(gitDir, tipCommit.tree, [parent], 'gitoku rebase scratch', committer, committer);
      const merged = await mergeTree(gitDir, synthetic, sha);
      if (!merged.clean) throw new MergeConflictError(merged.conflicts);
      tree = merged.tree;
    }
    const author: Signature = { name: commit.author.name, email: commit.author.email, date: new Date(commit.author.date) };
    tip = await commitTree(gitDir, tree, [tip], commit.message + '\n', author, committer);
    rewritten.set(sha, tip);
  }
  return { tip, rewritten };
}

/** Moves a ref from `expected` to `next` atomically; false when it no longer points at `expected`. */
export async function compareAndSwapRef(gitDir: string, ref: string, next: string, expected: string): Promise<boolean> {
  const r = await runGit(['update-ref', '--end-of-options', ref, next, expected], { gitDir });
  return r.code === 0;
}

/**
 * A merge of `theirs` into `ours` that keeps git's conflict markers in the conflicted files: the
 * starting point of a conflict-resolution run (the agent edits the markers away).
 */
export async function createConflictedMergeCommit(gitDir: string, ours: string, theirs: string, message: string, who: Signature): Promise<{ sha: string; conflicts: string[] }> {
  const merged = await mergeTree(gitDir, ours, theirs);
  const sha = await commitTree(gitDir, merged.tree, [ours, theirs], message, who, who);
  return { sha, conflicts: merged.conflicts };
}
