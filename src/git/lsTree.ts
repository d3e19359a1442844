import { runGit } from './exec.ts';

export interface RecursiveEntry {
  path: string;
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  sha: string;
  size: number | null;
}

/** The entries of a tree (`git ls-tree --long`), every level with `recursive`, at most `limit`. */
export async function lsTree(gitDir: string, treeish: string, recursive: boolean, limit: number): Promise<{ entries: RecursiveEntry[]; truncated: boolean }> {
  const r = await runGit(['ls-tree', ...(recursive ? ['-r', '-t'] : []), '--long', '-z', '--end-of-options', treeish], { gitDir });
  if (r.code !== 0) return { entries: [], truncated: false };
  const entries: RecursiveEntry[] = [];
  const records = r.stdout.toString('utf8').split('\0');
  for (const record of records) {
    if (!record) continue;
    if (entries.length >= limit) return { entries, truncated: true };
    const tab = record.indexOf('\t');
    const [mode, type, sha, size] = record.slice(0, tab).split(/\s+/);
    entries.push({ path: record.slice(tab + 1), mode: mode!, type: type as RecursiveEntry['type'], sha: sha!, size: size === '-' ? null : Number(size) });
  }
  return { entries, truncated: false };
}
