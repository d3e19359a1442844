import { blameLineOrigins } from './blameOrigins.ts';

export interface BlameCommit {
  sha: string;
  authorName: string;
  authorEmail: string;
  authorTime: number;
  summary: string;
}

export interface BlameLine {
  /** Line number in the blamed revision (1-based). */
  line: number;
  /** Line number in the commit that last changed it. */
  originalLine: number;
  sha: string;
  /** The file's path in that commit (differs after renames). */
  path: string;
}

export interface BlameRange {
  startLine: number;
  endLine: number;
  sha: string;
}

export interface BlameResult {
  lines: readonly BlameLine[];
  commits: ReadonlyMap<string, BlameCommit>;
}

/**
 * Blame of a file at a resolved commit: the same cached, single-flight `git blame --porcelain` the
 * AI blame and the blame page use (src/git/blameOrigins.ts), so one blame per (commit, path) serves them all.
 */
export async function blameFile(gitDir: string, commitSha: string, path: string): Promise<BlameResult | null> {
  return blameLineOrigins(gitDir, commitSha, path);
}

/** Groups consecutive lines last changed by the same commit. */
export function blameRanges(lines: readonly BlameLine[]): BlameRange[] {
  const ranges: BlameRange[] = [];
  for (const l of lines) {
    const last = ranges[ranges.length - 1];
    if (last && last.sha === l.sha && last.endLine === l.line - 1) last.endLine = l.line;
    else ranges.push({ startLine: l.line, endLine: l.line, sha: l.sha });
  }
  return ranges;
}
