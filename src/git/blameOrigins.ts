import { streamGitLines } from './stream.ts';
import { isSafeRepoPath } from './tree.ts';
import { unquoteGitPath } from './spans.ts';
import { LruCache } from './lru.ts';
import { SingleFlight } from './singleFlight.ts';
import { coldWork } from './limiter.ts';

/** Where one line of the blamed file came from. */
export interface LineOrigin {
  /** Line number in the blamed revision (1-based). */
  line: number;
  /** The commit that last changed the line. */
  sha: string;
  /** The line's number in that commit's version of the file. */
  originalLine: number;
  /** The file's path in that commit (differs after renames). */
  path: string;
}

export interface OriginCommit {
  sha: string;
  authorName: string;
  authorEmail: string;
  authorTime: number;
  summary: string;
}

export interface LineOrigins {
  lines: LineOrigin[];
  commits: Map<string, OriginCommit>;
}

/**
 * `git blame --porcelain` at a resolved commit, parsed as it streams, keeping for every line its commit,
 * its original line number and — unlike a display blame — the path in that commit per line group:
 * porcelain prints "filename" the first time a commit appears and again whenever the same commit is
 * blamed under another path, so each group takes the last path seen for its commit.
 * `ranges` restricts the blame to those lines (`-L a,b` per range). Null when the path is not a file there.
 */
export async function blameLineOrigins(gitDir: string, commitSha: string, path: string, ranges?: [number, number][]): Promise<LineOrigins | null> {
  // git 2.39's blame has no --end-of-options: only a resolved 40-hex sha is accepted as the revision.
  if (!isSafeRepoPath(path) || path === '' || !/^[0-9a-f]{40}$/.test(commitSha)) return null;
  for (const [start, end] of ranges ?? []) if (!Number.isInteger(start) || !Number.isInteger(end) || start < 1 || end < start) return null;
  // A blame at a commit never changes: the whole file's is cached per (commit, path); line ranges are cut from it.
  const key = `${gitDir}\0${commitSha}\0${path}`;
  const cached = blameCache.get(key);
  if (cached !== undefined) return ranges?.length && cached ? restrict(cached, ranges) : cached;
  if (ranges?.length) return runBlame(gitDir, commitSha, path, ranges);
  return blameFlights.run(key, async () => {
    const result = await coldWork.run(() => runBlame(gitDir, commitSha, path));
    if (result) blameCache.set(key, result, result.lines.length * 64 + result.commits.size * 200 + 100);
    return result;
  });
}

/** The lines of a cached blame within `ranges`, with the commits they name. */
function restrict(all: LineOrigins, ranges: [number, number][]): LineOrigins | null {
  // As `git blame -L` does, a range starting past the end of the file is an error.
  if (ranges.some(([start]) => start > all.lines.length)) return null;
  const lines = all.lines.filter((l) => ranges.some(([start, end]) => l.line >= start && l.line <= end));
  const commits = new Map<string, OriginCommit>();
  for (const l of lines) commits.set(l.sha, all.commits.get(l.sha)!);
  return { lines, commits };
}

/** Whole-file blames by (repository, commit, path): bounded by an approximate byte weight. */
const blameCache = new LruCache<string, LineOrigins | null>(5_000, 128 * 1024 * 1024, 'git.blames');
const blameFlights = new SingleFlight<string, LineOrigins | null>();

/** For tests and stats: blames run by git (a cache hit or a shared in-flight blame runs none). */
export function blameRunCount(): number {
  return blameRuns;
}
let blameRuns = 0;

async function runBlame(gitDir: string, commitSha: string, path: string, ranges?: [number, number][]): Promise<LineOrigins | null> {
  blameRuns++;
  const args = ['blame', '--porcelain'];
  for (const [start, end] of ranges ?? []) args.push('-L', `${start},${end}`);
  args.push(commitSha, '--', path);
  const lines: LineOrigin[] = [];
  const commits = new Map<string, OriginCommit>();
  const lastPath = new Map<string, string>();
  let current: LineOrigin | null = null;
  const res = await streamGitLines(gitDir, args, (text) => {
    if (text.charCodeAt(0) === 9 /* TAB: the line's content ends the entry */) {
      if (current) lines.push(current);
      current = null;
      return;
    }
    if (!current) {
      // "<sha> <orig> <final>[ <group size>]"
      if (text.length < 44 || text.charCodeAt(40) !== 32) return;
      const sha = text.slice(0, 40);
      const second = text.indexOf(' ', 41);
      const third = text.indexOf(' ', second + 1);
      const originalLine = Number(text.slice(41, second));
      const line = Number(third < 0 ? text.slice(second + 1) : text.slice(second + 1, third));
      current = { line, sha, originalLine, path: lastPath.get(sha) ?? path };
      if (!commits.has(sha)) commits.set(sha, { sha, authorName: '', authorEmail: '', authorTime: 0, summary: '' });
      return;
    }
    const space = text.indexOf(' ');
    const key = space < 0 ? text : text.slice(0, space);
    const value = space < 0 ? '' : text.slice(space + 1);
    if (key === 'filename') {
      current.path = unquoteGitPath(value);
      lastPath.set(current.sha, current.path);
      return;
    }
    const commit = commits.get(current.sha)!;
    if (key === 'author') commit.authorName = value;
    else if (key === 'author-mail') commit.authorEmail = value.replace(/^<|>$/g, '');
    else if (key === 'author-time') commit.authorTime = Number(value);
    else if (key === 'summary') commit.summary = value;
  });
  if (res.code !== 0) return null;
  return { lines, commits };
}
