import type { AppContext } from './app.ts';
import type { RepositoryAccess, RepositoryWithOwner } from './repositories.ts';
import { type CommitSummary, listBranches, readCommits, type RefEntry } from '../git/refs.ts';
import { isBinary, listTree, readBlobAtPath, resolveCommit, type TreeEntry } from '../git/tree.ts';

/** Read models the web UI needs beyond the core services (no HTML here: views render). */

/** Public repositories, most recently active first (the signed-out landing page). */
export async function listPublicRepositories(app: AppContext, limit = 30): Promise<RepositoryWithOwner[]> {
  return app.db
    .selectFrom('repositories')
    .innerJoin('users', 'users.id', 'repositories.owner_id')
    .selectAll('repositories')
    .select(['users.username as owner_name', 'users.is_admin as owner_is_admin'])
    .where('repositories.is_private', '=', 0)
    .orderBy('repositories.updated_at', 'desc')
    .orderBy('repositories.id', 'desc')
    .limit(limit)
    .execute();
}

export interface ReadmeFile {
  name: string;
  path: string;
  text: string;
  isMarkdown: boolean;
  truncated: boolean;
}

export interface RepositoryHome {
  branch: string;
  branches: RefEntry[];
  /** Head commit of the branch; null when the branch does not exist (empty repository). */
  commit: CommitSummary | null;
  entries: TreeEntry[];
  readme: ReadmeFile | null;
}

/** README file names in order of preference, compared case-insensitively, as forges do. */
const README_NAMES = ['readme.md', 'readme.markdown', 'readme.mdown', 'readme.mkd', 'readme', 'readme.txt', 'readme.rst'];
const README_MAX_BYTES = 512 * 1024;

export function pickReadme(entries: TreeEntry[]): TreeEntry | null {
  const blobs = entries.filter((e) => e.type === 'blob');
  for (const name of README_NAMES) {
    const hit = blobs.find((e) => e.name.toLowerCase() === name);
    if (hit) return hit;
  }
  return null;
}

/** What the repository's front page shows: the default branch's root listing, head commit and README. */
export async function loadRepositoryHome(access: RepositoryAccess): Promise<RepositoryHome> {
  const { repo, gitDir } = access;
  const branch = repo.default_branch;
  const branches = await listBranches(gitDir);
  const sha = branches.some((b) => b.name === branch) ? await resolveCommit(gitDir, `refs/heads/${branch}`) : null;
  if (!sha) return { branch, branches, commit: null, entries: [], readme: null };
  const [commit] = await readCommits(gitDir, [sha]);
  const entries = (await listTree(gitDir, sha, '')) ?? [];
  let readme: ReadmeFile | null = null;
  const readmeEntry = pickReadme(entries);
  if (readmeEntry) {
    const blob = await readBlobAtPath(gitDir, sha, readmeEntry.path, README_MAX_BYTES);
    if (blob && !isBinary(blob.content)) {
      readme = {
        name: readmeEntry.name,
        path: readmeEntry.path,
        text: blob.content.toString('utf8'),
        isMarkdown: /\.(md|markdown|mdown|mkd)$/i.test(readmeEntry.name),
        truncated: blob.truncated,
      };
    }
  }
  return { branch, branches, commit: commit ?? null, entries, readme };
}

/** Branch names of a repository (for the default-branch select). */
export async function listBranchNames(access: RepositoryAccess): Promise<string[]> {
  return (await listBranches(access.gitDir)).map((b) => b.name);
}
