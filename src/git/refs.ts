import { git } from './exec.ts';

export interface RefEntry {
  name: string;
  sha: string;
}

/** Lists refs under a prefix (e.g. "refs/heads/"), sorted by name. */
export async function listRefs(gitDir: string, prefix: string): Promise<RefEntry[]> {
  const out = await git(['for-each-ref', '--format=%(objectname) %(refname)', '--end-of-options', prefix], { gitDir });
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const space = line.indexOf(' ');
      return { sha: line.slice(0, space), name: line.slice(space + 1) };
    });
}

export async function listBranches(gitDir: string): Promise<RefEntry[]> {
  return (await listRefs(gitDir, 'refs/heads/')).map((r) => ({ ...r, name: r.name.slice('refs/heads/'.length) }));
}

/** The sha a full ref name points to, or null. */
export async function resolveRef(gitDir: string, ref: string): Promise<string | null> {
  const out = await listRefs(gitDir, ref);
  return out.find((r) => r.name === ref)?.sha ?? null;
}

export interface CommitSummary {
  sha: string;
  treeSha: string;
  parents: string[];
  authorName: string;
  authorEmail: string;
  authorDate: string;
  committerName: string;
  committerEmail: string;
  committerDate: string;
  message: string;
}

const COMMIT_FORMAT = ['%H', '%T', '%P', '%an', '%ae', '%aI', '%cn', '%ce', '%cI', '%B'].join('%x00') + '%x1e';

export function parseCommitRecords(out: string): CommitSummary[] {
  return out
    .split('\x1e')
    .map((r) => r.replace(/^\n/, ''))
    .filter((r) => r.length > 0)
    .map((record) => {
      const [sha, treeSha, parents, authorName, authorEmail, authorDate, committerName, committerEmail, committerDate, message] = record.split('\x00');
      return {
        sha: sha!,
        treeSha: treeSha!,
        parents: parents ? parents.split(' ') : [],
        authorName: authorName!,
        authorEmail: authorEmail!,
        authorDate: authorDate!,
        committerName: committerName!,
        committerEmail: committerEmail!,
        committerDate: committerDate!,
        message: (message ?? '').replace(/\n+$/, ''),
      };
    });
}

/** Reads commits by exact object id (already resolved; never a user string). */
export async function readCommits(gitDir: string, shas: string[]): Promise<CommitSummary[]> {
  if (shas.length === 0) return [];
  const out = await git(['log', '--no-walk=unsorted', `--format=${COMMIT_FORMAT}`, '--stdin'], { gitDir, input: shas.join('\n') + '\n' });
  return parseCommitRecords(out);
}

export { COMMIT_FORMAT };
