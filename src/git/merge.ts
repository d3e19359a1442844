import { git, runGit } from './exec.ts';

export async function mergeBase(gitDir: string, a: string, b: string): Promise<string | null> {
  const r = await runGit(['merge-base', '--end-of-options', a, b], { gitDir });
  const sha = r.stdout.toString().trim();
  return r.code === 0 && sha ? sha : null;
}

export interface MergeTreeResult {
  clean: boolean;
  /** The merged tree (with conflict markers when not clean). */
  tree: string;
  conflicts: string[];
}

/** A three-way merge computed in the object database (`git merge-tree --write-tree`): no worktree, no index. */
export async function mergeTree(gitDir: string, ours: string, theirs: string): Promise<MergeTreeResult> {
  const r = await runGit(['merge-tree', '--write-tree', '--name-only', '--no-messages', '-z', '--end-of-options', ours, theirs], { gitDir });
  if (r.code !== 0 && r.code !== 1) throw new Error(`git merge-tree failed: ${r.stderr.trim()}`);
  const tokens = r.stdout.toString('utf8').split('\0').filter(Boolean);
  const tree = tokens[0]!.trim();
  return { clean: r.code === 0, tree, conflicts: r.code === 1 ? [...new Set(tokens.slice(1))] : [] };
}

/** Whether `ancestor` is reachable from `descendant`. */
export async function isAncestor(gitDir: string, ancestor: string, descendant: string): Promise<boolean> {
  const r = await runGit(['merge-base', '--is-ancestor', '--end-of-options', ancestor, descendant], { gitDir });
  return r.code === 0;
}

export async function revParse(gitDir: string, rev: string): Promise<string> {
  return (await git(['rev-parse', '--verify', '--end-of-options', rev], { gitDir })).trim();
}
