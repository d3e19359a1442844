import { git, runGit } from './exec.ts';
import { unquoteGitPath } from './spans.ts';
import { COMMIT_FORMAT, type CommitSummary, parseCommitRecords } from './refs.ts';
import { isSafeRepoPath } from './tree.ts';
import { streamGitLines } from './stream.ts';
import { LruCache } from './lru.ts';
import { coldWork } from './limiter.ts';
import { SingleFlight } from './singleFlight.ts';

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

const lastCommitCache = new LruCache<string, Map<string, string>>(2_000, 64 * 1024 * 1024, 'git.lastCommits');

interface Walk {
  /** Entries attributed so far (filled as git streams). */
  found: Map<string, string>;
  done: Promise<Map<string, string>>;
}

/** In-flight walks by key: concurrent requests for the same directory share one git process. */
const walks = new Map<string, Walk>();
let walkCount = 0;

/** For tests and stats: history walks started (a cache hit or a shared in-flight walk starts none). */
export function lastCommitWalkCount(): number {
  return walkCount;
}

function walkKey(gitDir: string, headSha: string, dirPath: string, names: string[]): string {
  return `${gitDir}\0${headSha}\0${dirPath}\0${[...names].sort().join('\0')}`;
}

/**
 * One history walk for all entries of a directory (as Gitea's GetCommitsInfo): `git log --name-only`
 * limited to the directory (the commit-graph's changed-path Bloom filters skip commits that did not
 * touch it), each path attributed to the first — newest — commit that changed it, stopping as soon as
 * every entry is attributed. Shared by concurrent callers, bounded by the cold-work limiter, cached.
 */
function startWalk(gitDir: string, headSha: string, dirPath: string, names: string[], key: string): Walk {
  const existing = walks.get(key);
  if (existing) return existing;
  const found = new Map<string, string>();
  const done = (async () => {
    try {
      await coldWork.run(async () => {
        walkCount++;
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
      });
      lastCommitCache.set(key, found, 64 + found.size * 120);
      return found;
    } finally {
      walks.delete(key);
    }
  })();
  // A caller that stopped waiting (time budget) must not leave a failed walk unhandled.
  done.catch(() => undefined);
  const walk = { found, done };
  walks.set(key, walk);
  return walk;
}

/**
 * For each entry of a directory, the sha of the last commit (from `headSha` back) that touched it:
 * one walk for all entries, cached per (commit, directory).
 */
export async function lastCommitsForEntries(gitDir: string, headSha: string, dirPath: string, names: string[]): Promise<Map<string, string>> {
  const key = walkKey(gitDir, headSha, dirPath, names);
  const cached = lastCommitCache.get(key);
  if (cached) return cached;
  return startWalk(gitDir, headSha, dirPath, names, key).done;
}

/**
 * lastCommitsForEntries within a time budget: what the walk found by then (`complete` false when it
 * is still running — it goes on, and a later call gets its result from the cache or joins it).
 */
export async function lastCommitsWithin(gitDir: string, headSha: string, dirPath: string, names: string[], budgetMs: number): Promise<{ found: Map<string, string>; complete: boolean }> {
  const key = walkKey(gitDir, headSha, dirPath, names);
  const cached = lastCommitCache.get(key);
  if (cached) return { found: cached, complete: true };
  const walk = startWalk(gitDir, headSha, dirPath, names, key);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), budgetMs);
  });
  try {
    const result = await Promise.race([walk.done, expired]);
    return result ? { found: result, complete: true } : { found: new Map(walk.found), complete: false };
  } finally {
    clearTimeout(timer);
  }
}

/** The cached attributions of a directory's entries, if a walk finished for it; never starts one. */
export function cachedLastCommits(gitDir: string, headSha: string, dirPath: string, names: string[]): Map<string, string> | undefined {
  return lastCommitCache.get(walkKey(gitDir, headSha, dirPath, names));
}

const lastPathCommit = new LruCache<string, string | null>(20_000, Number.POSITIVE_INFINITY, 'git.lastPathCommit');
const pathFlights = new SingleFlight<string, string | null>();

/** The last commit (from `headSha` back) that touched `path`: `git log -1`, shared, bounded and cached per (commit, path). */
export async function lastCommitOfPath(gitDir: string, headSha: string, path: string): Promise<string | null> {
  if (!isSafeRepoPath(path) || path === '') return null;
  const key = `${gitDir}\0${headSha}\0${path}`;
  const hit = lastPathCommit.get(key);
  if (hit !== undefined) return hit;
  return pathFlights.run(key, async () => {
    const r = await coldWork.run(() => runGit(['log', '-1', '--format=%H', '--end-of-options', headSha, '--', path], { gitDir }));
    const sha = r.code === 0 ? r.stdout.toString('utf8').trim() || null : null;
    if (r.code === 0) lastPathCommit.set(key, sha);
    return sha;
  });
}
