import { runGitCapped } from './stream.ts';
import { runGit } from './exec.ts';

/** The empty tree: the base for a root commit's diff. */
export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

export type FileStatus = 'added' | 'removed' | 'modified' | 'renamed' | 'copied' | 'changed';

export interface FileDiff {
  path: string;
  /** The path before a rename or copy. */
  previousPath: string | null;
  status: FileStatus;
  oldSha: string;
  newSha: string;
  oldMode: string;
  newMode: string;
  additions: number;
  deletions: number;
  binary: boolean;
  /** Unified diff of this file (without the "diff --git" header); null when binary or cut by the size guard. */
  patch: string | null;
  /** True when this file's patch was cut by the size guard. */
  patchTruncated: boolean;
}

export interface DiffResult {
  files: FileDiff[];
  /** True when the whole patch was larger than the guard and later files have no patch. */
  truncated: boolean;
}

const STATUS: Record<string, FileStatus> = { A: 'added', D: 'removed', M: 'modified', R: 'renamed', C: 'copied', T: 'changed' };

/** Parses `git diff --raw -z --numstat` output (raw records, then numstat records). */
export function parseRawNumstat(out: string): Omit<FileDiff, 'patch' | 'patchTruncated'>[] {
  const tokens = out.split('\0');
  const files: Omit<FileDiff, 'patch' | 'patchTruncated'>[] = [];
  let i = 0;
  while (i < tokens.length && tokens[i]!.startsWith(':')) {
    const [oldMode, newMode, oldSha, newSha, statusField] = tokens[i]!.slice(1).split(' ');
    const letter = statusField![0]!;
    let previousPath: string | null = null;
    let path: string;
    if (letter === 'R' || letter === 'C') {
      previousPath = tokens[i + 1]!;
      path = tokens[i + 2]!;
      i += 3;
    } else {
      path = tokens[i + 1]!;
      i += 2;
    }
    files.push({ path, previousPath, status: STATUS[letter] ?? 'modified', oldSha: oldSha!, newSha: newSha!, oldMode: oldMode!, newMode: newMode!, additions: 0, deletions: 0, binary: false });
  }
  // numstat records, in the same order: "<add>\t<del>\t<path>" or, for renames, "<add>\t<del>\t" followed by two path tokens.
  let f = 0;
  while (i < tokens.length && f < files.length) {
    const token = tokens[i]!;
    if (token === '') {
      i++;
      continue;
    }
    const [add, del, path] = token.split('\t');
    const file = files[f++]!;
    file.binary = add === '-' && del === '-';
    file.additions = file.binary ? 0 : Number(add);
    file.deletions = file.binary ? 0 : Number(del);
    i += path === '' ? 3 : 1;
  }
  return files;
}

/** Splits a full unified patch into per-file patches, in order, keeping the part from the first "@@". */
export function splitPatch(patch: string): string[] {
  const parts = patch.split(/^diff --git /m).slice(1);
  return parts.map((part) => {
    const hunk = part.indexOf('\n@@');
    return hunk < 0 ? '' : part.slice(hunk + 1);
  });
}

export interface DiffOptions {
  /** Size guard for the whole patch text. */
  maxPatchBytes?: number;
  /** Restrict to one path (after a rename, either name). */
  path?: string;
  /** Lines of context (default 3). */
  context?: number;
}

/** The diff between two commits (base may be null for a root commit), with rename detection. */
/** Patch text read for one diff unless the caller says otherwise; files past it come without a patch. */
export const DEFAULT_MAX_PATCH_BYTES = 4 * 1024 * 1024;

export async function diffCommits(gitDir: string, base: string | null, head: string, opts: DiffOptions = {}): Promise<DiffResult> {
  const from = base ?? EMPTY_TREE;
  const pathArgs = opts.path ? ['--', opts.path] : [];
  const raw = await runGit(['diff', '--raw', '-z', '--numstat', '-M', '--no-abbrev', '--end-of-options', from, head, ...pathArgs], { gitDir });
  if (raw.code !== 0) throw new Error(`git diff failed: ${raw.stderr.trim()}`);
  const files = parseRawNumstat(raw.stdout.toString('utf8'));
  const cap = opts.maxPatchBytes ?? DEFAULT_MAX_PATCH_BYTES;
  const patchOut = await runGitCapped(gitDir, ['diff', '-M', '--no-color', '--no-ext-diff', `--unified=${opts.context ?? 3}`, '--end-of-options', from, head, ...pathArgs], cap);
  const patches = splitPatch(patchOut.stdout.toString('utf8'));
  const result = files.map((file, index) => {
    const patch = patches[index];
    const complete = patch !== undefined && (!patchOut.truncated || index < patches.length - 1);
    return {
      ...file,
      patch: file.binary || !complete ? null : patch,
      patchTruncated: !file.binary && !complete,
    };
  });
  return { files: result, truncated: patchOut.truncated };
}
