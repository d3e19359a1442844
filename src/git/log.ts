import { git, runGit } from './exec.ts';
import { unquoteGitPath } from './spans.ts';
import { COMMIT_FORMAT, type CommitSummary, parseCommitRecords } from './refs.ts';
import { isSafeRepoPath } from './tree.ts';
import { streamGitLines } from './stream.ts';
import { LruCache } from './lru.ts';

export interface LogOptions {
  path?: string;
  skip?: number;
  limit: number;
  /** Exclude commits reachable from this sha (for base..head ranges). */
  exclude?: string;
  /** Follow renames of a single file. */
  follow?: boolean;
}

/** Commits reachable from `headSha` (already resolved), newest first, optionally touching `path`. */
export async function listCommits(gitDir: string, headSha: string, opts: LogOptions): Promise<CommitSummary[]> {
  if (opts.path !== undefined && !isSafeRepoPath(opts.path)) return [];
  const args = ['log', `--format=${COMMIT_FORMAT}`, `--max-count=${opts.limit}`];
  if (opts.skip) args.push(`--skip=${opts.skip}`);
  if (opts.follow && opts.path) args.push('--follow');
  args.push('--end-of-options', headSha);
  if (opts.exclude) args.push(`^${opts.exclude}`);
  if (opts.path) args.push('--', opts.path);
  return parseCommitRecords(await git(args, { gitDir }));
}

/**
 * The names a file had in the history of `headSha`, renames followed: `path` first, then earlier names
 * (at most `max`). Just `path` when it has no history there.
 */
export async function formerPaths(gitDir: string, headSha: string, path: string, max = 20): Promise<string[]> {
  const names = [path];
  if (!isSafeRepoPath(path)) return names;
  const r = await runGit(['log', '--follow', '-M', '--name-only', '--format=', '--max-count=5000', '--end-of-options', headSha, '--', path], { gitDir });
  if (r.code !== 0) return names;
  for (const line of r.stdout.toString('utf8').split('\n')) {
    if (!line.trim()) continue;
    const name = unquoteGitPath(line);
    if (!names.includes(name)) names.push(name);
    if (names.length >= max) break;
  }
  return names;
}

export async function countCommits(gitDir: string, headSha: string, exclude?: string): Promise<number> {
  const args = ['rev-list', '--count', '--end-of-options', headSha];
  if (exclude) args.push(`^${exclude}`);
  return Number((await git(args, { gitDir })).trim());
}

const lastCommitCache = new LruCache<string, Map<string, string>>(2_000);

/**
 * For each entry of a directory, the sha of the last commit (from `headSha` back) that touched it.
 * One `git log` walk that stops as soon as every entry is found; cached per (commit, directory).
 */
export async function lastCommitsForEntries(gitDir: string, headSha: string, dirPath: string, names: string[]): Promise<Map<string, string>> {
  const key = `${gitDir}\0${headSha}\0${dirPath}\0${[...names].sort().join('\0')}`;
  const cached = lastCommitCache.get(key);
  if (cached) return cached;
  const found = new Map<string, string>();
  const wanted = new Set(names);
  const prefix = dirPath ? `${dirPath}/` : '';
  let current = '';
  const args = ['log', '--format=%x01%H', '--name-only', '--no-renames', '-z', '--end-of-options', headSha];
  if (dirPath) args.push('--', dirPath);
  // With -z, each record is "\x01<sha>\n\n<path>\0<path>\0…"; read it as lines split on NUL and newline.
  await streamGitLines(gitDir, args, (line) => {
    for (const token of line.split('\0')) {
      if (token.startsWith('\x01')) {
        current = token.slice(1);
        continue;
      }
      if (!token || !token.startsWith(prefix)) continue;
      const name = token.slice(prefix.length).split('/', 1)[0]!;
      if (wanted.has(name) && !found.has(name)) found.set(name, current);
    }
    return found.size < wanted.size;
  });
  lastCommitCache.set(key, found);
  return found;
}
