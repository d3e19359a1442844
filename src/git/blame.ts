import { streamGitLines } from './stream.ts';
import { isSafeRepoPath } from './tree.ts';

export interface BlameCommit {
  sha: string;
  authorName: string;
  authorEmail: string;
  authorTime: number;
  summary: string;
  previous: { sha: string; path: string } | null;
  filename: string;
}

export interface BlameLine {
  /** Line number in the blamed revision (1-based). */
  line: number;
  /** Line number in the commit that last changed it. */
  originalLine: number;
  sha: string;
  content: string;
}

export interface BlameRange {
  startLine: number;
  endLine: number;
  sha: string;
}

export interface BlameResult {
  lines: BlameLine[];
  commits: Map<string, BlameCommit>;
}

/**
 * `git blame --porcelain` at a commit, parsed as it streams. Each line header is
 * "<sha> <orig> <final> [<group size>]", followed by commit headers the first time a commit appears,
 * then a TAB-prefixed content line.
 */
export async function blameFile(gitDir: string, commitSha: string, path: string): Promise<BlameResult | null> {
  // git 2.39's blame has no --end-of-options: only a resolved 40-hex sha is accepted as the revision.
  if (!isSafeRepoPath(path) || path === '' || !/^[0-9a-f]{40}$/.test(commitSha)) return null;
  const lines: BlameLine[] = [];
  const commits = new Map<string, BlameCommit>();
  let current: { sha: string; orig: number; final: number } | null = null;
  const res = await streamGitLines(gitDir, ['blame', '--porcelain', commitSha, '--', path], (line) => {
    if (line.startsWith('\t')) {
      if (current) lines.push({ line: current.final, originalLine: current.orig, sha: current.sha, content: line.slice(1) });
      current = null;
      return;
    }
    if (!current) {
      const m = /^([0-9a-f]{40}) (\d+) (\d+)/.exec(line);
      if (!m) return;
      current = { sha: m[1]!, orig: Number(m[2]), final: Number(m[3]) };
      if (!commits.has(current.sha)) {
        commits.set(current.sha, { sha: current.sha, authorName: '', authorEmail: '', authorTime: 0, summary: '', previous: null, filename: path });
      }
      return;
    }
    const commit = commits.get(current.sha)!;
    const space = line.indexOf(' ');
    const key = space < 0 ? line : line.slice(0, space);
    const value = space < 0 ? '' : line.slice(space + 1);
    if (key === 'author') commit.authorName = value;
    else if (key === 'author-mail') commit.authorEmail = value.replace(/^<|>$/g, '');
    else if (key === 'author-time') commit.authorTime = Number(value);
    else if (key === 'summary') commit.summary = value;
    else if (key === 'filename') commit.filename = value;
    else if (key === 'previous') {
      const sp = value.indexOf(' ');
      commit.previous = { sha: value.slice(0, sp), path: value.slice(sp + 1) };
    }
  });
  if (res.code !== 0) return null;
  return { lines, commits };
}

/** Groups consecutive lines last changed by the same commit. */
export function blameRanges(lines: BlameLine[]): BlameRange[] {
  const ranges: BlameRange[] = [];
  for (const l of lines) {
    const last = ranges[ranges.length - 1];
    if (last && last.sha === l.sha && last.endLine === l.line - 1) last.endLine = l.line;
    else ranges.push({ startLine: l.line, endLine: l.line, sha: l.sha });
  }
  return ranges;
}
