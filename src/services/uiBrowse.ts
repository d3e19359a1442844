import type { AppContext } from './app.ts';
import type { RepositoryAccess } from './repositories.ts';
import { pickReadme, type ReadmeFile } from './uiQueries.ts';
import { LruCache } from '../git/lru.ts';
import { loadRefMap, refCommit, type NamedRef, type RefMap } from '../git/refCache.ts';
import { isBinary, listTree, readBlobAtPath, resolveCommit, type BlobContent, type TreeEntry } from '../git/tree.ts';
import { cachedLastCommits, countCommits, lastCommitOfPath, lastCommitsForEntries, lastCommitsWithin, listCommits } from '../git/log.ts';
import { mergeBase } from '../git/merge.ts';
import { SingleFlight } from '../git/singleFlight.ts';
import { readCommitObject, type Commit } from '../git/objects.ts';
import { DEFAULT_MAX_PATCH_BYTES, diffCommits, type DiffResult } from '../git/diff.ts';
import type { CommitSummary } from '../git/refs.ts';
import type { CommitStatus } from '../db/schema.ts';
import { combineStatuses, type StatusState } from './statuses.ts';

/**
 * Read models for the code-browsing pages (no HTML here). Everything hot is served from the git
 * layer's cat-file pool and caches: a warm tree or blob page spawns no git process.
 */

/** A commit as the pages show it. */
export interface CommitBrief {
  sha: string;
  title: string;
  message: string;
  authorName: string;
  authorEmail: string;
  authorDate: string;
  committerName: string;
  committerDate: string;
  parents: string[];
}

export function briefFromCommit(c: Commit): CommitBrief {
  const title = c.message.split('\n', 1)[0] ?? '';
  return { sha: c.sha, title, message: c.message, authorName: c.author.name, authorEmail: c.author.email, authorDate: c.author.date, committerName: c.committer.name, committerDate: c.committer.date, parents: c.parents };
}

export function briefFromSummary(c: CommitSummary): CommitBrief {
  const title = c.message.split('\n', 1)[0] ?? '';
  return { sha: c.sha, title, message: c.message, authorName: c.authorName, authorEmail: c.authorEmail, authorDate: c.authorDate, committerName: c.committerName, committerDate: c.committerDate, parents: c.parents };
}

export async function readCommitBrief(gitDir: string, sha: string): Promise<CommitBrief | null> {
  const c = await readCommitObject(gitDir, sha);
  return c ? briefFromCommit(c) : null;
}

// ---------- refs ----------

export interface RefLists {
  branches: { name: string; sha: string; time?: number }[];
  /** Tags peeled to the commit they name. */
  tags: { name: string; sha: string; time?: number }[];
  /** The repository's default branch (the ref switcher always shows it). */
  defaultBranch?: string;
  /** The repository's page URL: the switcher links to its branch and tag lists and filters through its `/-/refs` endpoint. */
  repoUrl?: string;
}

/** What another server instance's ref movement changes in the row the request already read. */
function refValidator(access: RepositoryAccess): string {
  return `${access.repo.pushed_at ?? ''}\0${access.repo.updated_at}`;
}

/** The repository's ref map (src/git/refCache.ts): loaded once per ref movement, never per request. */
export function repoRefMap(access: RepositoryAccess): Promise<RefMap> {
  return loadRefMap(access.gitDir, refValidator(access));
}

/** Branches and tags of a repository, for switchers and lists (one for-each-ref per push, not per page). */
export async function listRepoRefs(access: RepositoryAccess): Promise<RefLists> {
  const map = await repoRefMap(access);
  return { branches: map.branches, tags: map.tags, defaultBranch: access.repo.default_branch, repoUrl: `/${encodeURIComponent(access.repo.owner_name)}/${encodeURIComponent(access.repo.name)}` };
}

export interface RefMatches {
  branches: string[];
  tags: string[];
  /** More refs matched than were returned. */
  truncated: boolean;
}

/**
 * Refs whose name contains `q` (case-insensitive), for the ref switcher's filter: names starting with
 * `q` first, then by recency (branches) or version (tags); at most `limit` of each kind.
 */
export async function searchRepoRefs(access: RepositoryAccess, q: string, kind: 'branch' | 'tag' | 'all', limit = 100): Promise<RefMatches> {
  const map = await repoRefMap(access);
  const needle = q.trim().toLowerCase();
  let truncated = false;
  const pick = (refs: NamedRef[], byTime: boolean): string[] => {
    const matched = needle ? refs.filter((r) => r.name.toLowerCase().includes(needle)) : [...refs];
    const rank = (r: NamedRef) => (needle && r.name.toLowerCase().startsWith(needle) ? 0 : 1);
    if (byTime) matched.sort((a, b) => rank(a) - rank(b) || b.time - a.time || a.name.localeCompare(b.name));
    else if (needle) matched.sort((a, b) => rank(a) - rank(b));
    if (matched.length > limit) truncated = true;
    return matched.slice(0, limit).map((r) => r.name);
  };
  return { branches: kind === 'tag' ? [] : pick(map.branches, true), tags: kind === 'branch' ? [] : pick(map.tags, false), truncated };
}

export interface RefAndPath {
  ref: string;
  sha: string;
  path: string;
  kind: 'branch' | 'tag' | 'commit';
}

/**
 * "<ref>/<path>" → ref, commit and path, with splitRefAndPath's rule (the longest branch or tag
 * prefix wins, a branch before a tag, else a leading sha), answered from the repository's ref map: no
 * git process unless the path starts with an abbreviated sha.
 */
export async function resolveRefAndPath(access: RepositoryAccess, refAndPath: string): Promise<RefAndPath | null> {
  const map = await repoRefMap(access);
  const segments = refAndPath.split('/');
  for (let n = segments.length; n >= 1; n--) {
    const candidate = segments.slice(0, n).join('/');
    const branch = refCommit(map, 'branch', candidate);
    if (branch) return { ref: candidate, sha: branch, path: segments.slice(n).join('/'), kind: 'branch' };
    const tag = refCommit(map, 'tag', candidate);
    if (tag) return { ref: candidate, sha: tag, path: segments.slice(n).join('/'), kind: 'tag' };
  }
  const first = segments[0]!;
  if (!/^[0-9a-f]{7,40}$/.test(first)) return null;
  const sha = await resolveCommit(access.gitDir, first);
  return sha ? { ref: first, sha, path: segments.slice(1).join('/'), kind: 'commit' } : null;
}

// ---------- tree ----------

export interface TreeRow extends TreeEntry {
  /** The last commit that touched this entry. */
  commit: CommitBrief | null;
  /** Symbolic link target (small blobs only). */
  target?: string;
}

export interface TreeView {
  entries: TreeRow[];
  /** The newest commit among the entries' last commits (the directory's last change). */
  latest: CommitBrief | null;
  readme: ReadmeView | null;
  /** Some entries' last commits are still being computed (the page fetches them when ready). */
  pending: boolean;
}

export interface ReadmeView extends ReadmeFile {
  /** Blob id (rendered markdown is cached by it). */
  sha: string;
}

const README_MAX_BYTES = 512 * 1024;

/**
 * How long a tree page waits for the "last commit" of its entries on a cold cache. Past it the page is
 * rendered with what the walk found so far (`pending`), and the walk goes on: the page fetches the rest
 * (lastCommitsFragment) once it is done.
 */
export const LAST_COMMIT_BUDGET_MS = 400;

/** A directory at a commit with the last commit per entry and its README; null when `path` is not a directory there. */
export async function loadTreeView(access: RepositoryAccess, commitSha: string, path: string, budgetMs = LAST_COMMIT_BUDGET_MS): Promise<TreeView | null> {
  const { gitDir } = access;
  const entries = await listTree(gitDir, commitSha, path);
  if (!entries) return null;
  const [{ found: lastShas, complete }, readme] = await Promise.all([lastCommitsWithin(gitDir, commitSha, path, entries.map((e) => e.name), budgetMs), readmeOf(gitDir, commitSha, entries)]);
  const commits = await commitBriefs(gitDir, lastShas.values());
  const rows: TreeRow[] = entries.map((e) => {
    const sha = lastShas.get(e.name);
    return { ...e, commit: sha ? (commits.get(sha) ?? null) : null };
  });
  let latest: CommitBrief | null = null;
  if (path === '') latest = await readCommitBrief(gitDir, commitSha);
  else if (!complete) {
    const sha = await lastCommitOfPath(gitDir, commitSha, path);
    latest = sha ? await readCommitBrief(gitDir, sha) : null;
  } else {
    for (const c of commits.values()) if (c && (!latest || Date.parse(c.committerDate) > Date.parse(latest.committerDate))) latest = c;
  }
  return { entries: rows, latest, readme, pending: !complete };
}

async function commitBriefs(gitDir: string, shas: Iterable<string>): Promise<Map<string, CommitBrief | null>> {
  const commits = new Map<string, CommitBrief | null>();
  await Promise.all([...new Set(shas)].map(async (sha) => commits.set(sha, await readCommitBrief(gitDir, sha))));
  return commits;
}

/** The last commit of every entry of a directory, waiting for the walk (the tree page's deferred cells). */
export async function loadLastCommits(access: RepositoryAccess, commitSha: string, path: string): Promise<{ name: string; commit: CommitBrief }[] | null> {
  const entries = await listTree(access.gitDir, commitSha, path);
  if (!entries) return null;
  const shas = await lastCommitsForEntries(access.gitDir, commitSha, path, entries.map((e) => e.name));
  const commits = await commitBriefs(access.gitDir, shas.values());
  return entries.flatMap((e) => {
    const commit = commits.get(shas.get(e.name) ?? '');
    return commit ? [{ name: e.name, commit }] : [];
  });
}

async function readmeOf(gitDir: string, commitSha: string, entries: TreeEntry[]): Promise<ReadmeView | null> {
  const entry = pickReadme(entries);
  if (!entry) return null;
  const blob = await readBlobAtPath(gitDir, commitSha, entry.path, README_MAX_BYTES);
  if (!blob || blob.truncated || isBinary(blob.content)) return null;
  return { name: entry.name, path: entry.path, text: blob.content.toString('utf8'), isMarkdown: /\.(md|markdown|mdown|mkd)$/i.test(entry.name), truncated: false, sha: blob.sha };
}

// ---------- blob ----------

export interface BlobView {
  blob: BlobContent;
  binary: boolean;
  /** The last commit that touched the file. */
  latest: CommitBrief | null;
}

/** A file at a commit (content read only up to maxBytes) with its last commit; null when `path` is not a file there. */
export async function loadBlobView(access: RepositoryAccess, commitSha: string, path: string, maxBytes: number): Promise<BlobView | null> {
  const { gitDir } = access;
  const blob = await readBlobAtPath(gitDir, commitSha, path, maxBytes);
  if (!blob) return null;
  return { blob, binary: !blob.truncated && isBinary(blob.content), latest: await lastCommitOf(gitDir, commitSha, path) };
}

/** The last commit that touched a path: from the directory's cached walk when the tree page made one, else one `git log -1`. */
export async function lastCommitOf(gitDir: string, commitSha: string, path: string): Promise<CommitBrief | null> {
  const slash = path.lastIndexOf('/');
  const dir = slash < 0 ? '' : path.slice(0, slash);
  const name = path.slice(slash + 1);
  const siblings = await listTree(gitDir, commitSha, dir);
  if (!siblings) return null;
  const walked = cachedLastCommits(gitDir, commitSha, dir, siblings.map((e) => e.name));
  const sha = walked?.get(name) ?? (await lastCommitOfPath(gitDir, commitSha, path));
  return sha ? readCommitBrief(gitDir, sha) : null;
}

// ---------- diffs ----------

const diffCache = new LruCache<string, DiffResult>(500, 96 * 1024 * 1024, 'ui.diffs');

const diffKey = (gitDir: string, from: string | null, to: string, maxPatchBytes: number) => `${gitDir}\0${from ?? ''}\0${to}\0${maxPatchBytes}`;

/** The diff cachedDiff holds for these commits, without asking git; undefined when it holds none. */
export function heldDiff(gitDir: string, from: string | null, to: string, maxPatchBytes = DEFAULT_MAX_PATCH_BYTES): DiffResult | undefined {
  return diffCache.get(diffKey(gitDir, from, to, maxPatchBytes));
}

/** diffCommits between two resolved commits, cached (a diff between two object ids never changes). */
export async function cachedDiff(gitDir: string, from: string | null, to: string, maxPatchBytes = DEFAULT_MAX_PATCH_BYTES): Promise<DiffResult> {
  const key = diffKey(gitDir, from, to, maxPatchBytes);
  const hit = diffCache.get(key);
  if (hit) return hit;
  const diff = await diffCommits(gitDir, from, to, { maxPatchBytes });
  const weight = diff.files.reduce((n, f) => n + (f.patch?.length ?? 0) + f.path.length + 200, 0);
  diffCache.set(key, diff, weight);
  return diff;
}

// ---------- comparisons ----------

/** Two commits compared: their merge base, how far apart they are, and the head's commits the base lacks (oldest last, at most `limit`). */
export interface Comparison {
  mergeBase: string | null;
  ahead: number;
  behind: number;
  commits: CommitBrief[];
}

const comparisons = new LruCache<string, Comparison>(500, 16 * 1024 * 1024, 'ui.comparisons');
const comparing = new SingleFlight<string, Comparison>();

/** compare(base, head) between two resolved commits, cached (nothing about two object ids ever changes). */
export async function cachedComparison(gitDir: string, baseSha: string, headSha: string, limit = 250): Promise<Comparison> {
  const key = `${gitDir}\0${baseSha}\0${headSha}\0${limit}`;
  const hit = comparisons.get(key);
  if (hit) return hit;
  return comparing.run(key, async () => {
    const [mb, ahead, behind, rows] = await Promise.all([mergeBase(gitDir, baseSha, headSha), countCommits(gitDir, headSha, baseSha), countCommits(gitDir, baseSha, headSha), listCommits(gitDir, headSha, { exclude: baseSha, limit })]);
    const out: Comparison = { mergeBase: mb, ahead, behind, commits: rows.map(briefFromSummary) };
    comparisons.set(key, out, out.commits.reduce((n, c) => n + c.message.length + 300, 200));
    return out;
  });
}

// ---------- statuses ----------

/** The combined status of each commit (one query for all of them); commits without statuses are absent. */
export async function combinedStatusesFor(app: AppContext, repositoryId: number, shas: string[]): Promise<Map<string, StatusState>> {
  const out = new Map<string, StatusState>();
  const unique = [...new Set(shas)];
  if (unique.length === 0) return out;
  const rows = await app.db.selectFrom('commit_statuses').selectAll().where('repository_id', '=', repositoryId).where('sha', 'in', unique).orderBy('id', 'desc').execute();
  const bySha = new Map<string, CommitStatus[]>();
  for (const row of rows) {
    const list = bySha.get(row.sha) ?? [];
    list.push(row);
    bySha.set(row.sha, list);
  }
  for (const [sha, list] of bySha) out.set(sha, combineStatuses(list).state);
  return out;
}

/** Open pull requests by compare branch (for the branches page). */
export async function openPullsByBranch(app: AppContext, repositoryId: number): Promise<Map<string, { number: number; draft: boolean }>> {
  const rows = await app.db.selectFrom('pull_requests').select(['number', 'compare_branch', 'draft']).where('repository_id', '=', repositoryId).where('state', '=', 'open').execute();
  return new Map(rows.map((r) => [r.compare_branch, { number: r.number, draft: r.draft === 1 }]));
}
