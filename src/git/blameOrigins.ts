import { streamGitLines } from './stream.ts';
import { isSafeRepoPath } from './tree.ts';
import { unquoteGitPath } from './spans.ts';

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
  const args = ['blame', '--porcelain'];
  for (const [start, end] of ranges ?? []) {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 1 || end < start) return null;
    args.push('-L', `${start},${end}`);
  }
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
