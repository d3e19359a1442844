import type { AppContext } from './app.ts';
import type { RepositoryAccess } from './repositories.ts';
import { splitRefAndPath } from './code.ts';
import { pickReadme, type ReadmeFile } from './uiQueries.ts';
import { runGit } from '../git/exec.ts';
import { LruCache } from '../git/lru.ts';
import { isBinary, listTree, readBlobAtPath, resolveCommit, type BlobContent, type TreeEntry } from '../git/tree.ts';
import { lastCommitsForEntries } from '../git/log.ts';
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
  branches: { name: string; sha: string }[];
  /** Tags peeled to the commit they name. */
  tags: { name: string; sha: string }[];
}

interface CachedRefs {
  key: string;
  at: number;
  refs: RefLists;
}

/** Keyed by the repository's push time (every ref movement goes through the ingress, which bumps it); a short TTL bounds anything else. */
const refsCache = new LruCache<string, CachedRefs>(500);
const REFS_TTL_MS = 5_000;

/** Branches and tags of a repository, for switchers and lists (one for-each-ref per push, not per page). */
export async function listRepoRefs(access: RepositoryAccess): Promise<RefLists> {
  const key = `${access.repo.pushed_at ?? ''}\0${access.repo.updated_at}`;
  const hit = refsCache.get(access.gitDir);
  if (hit && hit.key === key && Date.now() - hit.at < REFS_TTL_MS) return hit.refs;
  const r = await runGit(['for-each-ref', '--format=%(refname)%00%(objectname)%00%(*objectname)', 'refs/heads/', 'refs/tags/'], { gitDir: access.gitDir });
  const refs: RefLists = { branches: [], tags: [] };
  for (const line of r.stdout.toString('utf8').split('\n')) {
    if (!line) continue;
    const [name, sha, peeled] = line.split('\0');
    if (name!.startsWith('refs/heads/')) refs.branches.push({ name: name!.slice(11), sha: sha! });
    else if (name!.startsWith('refs/tags/')) refs.tags.push({ name: name!.slice(10), sha: peeled || sha! });
  }
  const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
  refs.branches.sort(byName);
  refs.tags.sort((a, b) => b.name.localeCompare(a.name, undefined, { numeric: true }));
  refsCache.set(access.gitDir, { key, at: Date.now(), refs });
  return refs;
}

export interface RefAndPath {
  ref: string;
  sha: string;
  path: string;
  kind: 'branch' | 'tag' | 'commit';
}

/**
 * "<ref>/<path>" → ref, commit and path, with splitRefAndPath's rule (the longest branch or tag
 * prefix wins, a branch before a tag, else a leading sha). The candidate comes from the cached ref
 * list and is re-resolved through cat-file, so the commit is always current; anything the cache
 * cannot answer goes to splitRefAndPath itself.
 */
export async function resolveRefAndPath(access: RepositoryAccess, refAndPath: string): Promise<RefAndPath | null> {
  const refs = await listRepoRefs(access);
  const branches = new Set(refs.branches.map((b) => b.name));
  const tags = new Set(refs.tags.map((t) => t.name));
  const segments = refAndPath.split('/');
  for (let n = segments.length; n >= 1; n--) {
    const candidate = segments.slice(0, n).join('/');
    const kind = branches.has(candidate) ? 'branch' : tags.has(candidate) ? 'tag' : null;
    if (!kind) continue;
    const sha = await resolveCommit(access.gitDir, `refs/${kind === 'branch' ? 'heads' : 'tags'}/${candidate}`);
    if (sha) return { ref: candidate, sha, path: segments.slice(n).join('/'), kind };
    break;
  }
  const split = await splitRefAndPath(access, refAndPath);
  if (!split) return null;
  const kind = (await resolveCommit(access.gitDir, `refs/heads/${split.ref}`)) === split.sha ? 'branch' : /^[0-9a-f]{7,40}$/.test(split.ref) ? 'commit' : 'tag';
  return { ...split, kind };
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
}

export interface ReadmeView extends ReadmeFile {
  /** Blob id (rendered markdown is cached by it). */
  sha: string;
}

const README_MAX_BYTES = 512 * 1024;

/** A directory at a commit with the last commit per entry and its README; null when `path` is not a directory there. */
export async function loadTreeView(access: RepositoryAccess, commitSha: string, path: string): Promise<TreeView | null> {
  const { gitDir } = access;
  const entries = await listTree(gitDir, commitSha, path);
  if (!entries) return null;
  const lastShas = await lastCommitsForEntries(gitDir, commitSha, path, entries.map((e) => e.name));
  const commits = new Map<string, CommitBrief | null>();
  await Promise.all([...new Set(lastShas.values())].map(async (sha) => commits.set(sha, await readCommitBrief(gitDir, sha))));
  const rows: TreeRow[] = entries.map((e) => {
    const sha = lastShas.get(e.name);
    return { ...e, commit: sha ? (commits.get(sha) ?? null) : null };
  });
  let latest: CommitBrief | null = null;
  if (path === '') latest = await readCommitBrief(gitDir, commitSha);
  else {
    for (const c of commits.values()) if (c && (!latest || Date.parse(c.committerDate) > Date.parse(latest.committerDate))) latest = c;
  }
  return { entries: rows, latest, readme: await readmeOf(gitDir, commitSha, entries) };
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

/** The last commit that touched a path, through the per-directory cache the tree page fills. */
export async function lastCommitOf(gitDir: string, commitSha: string, path: string): Promise<CommitBrief | null> {
  const slash = path.lastIndexOf('/');
  const dir = slash < 0 ? '' : path.slice(0, slash);
  const name = path.slice(slash + 1);
  const siblings = await listTree(gitDir, commitSha, dir);
  if (!siblings) return null;
  // lastCommitsForEntries caches per directory: always ask for every entry so the tree page can reuse it.
  const shas = await lastCommitsForEntries(gitDir, commitSha, dir, siblings.map((e) => e.name));
  const sha = shas.get(name);
  return sha ? readCommitBrief(gitDir, sha) : null;
}

// ---------- diffs ----------

const diffCache = new LruCache<string, DiffResult>(500, 96 * 1024 * 1024);

/** diffCommits between two resolved commits, cached (a diff between two object ids never changes). */
export async function cachedDiff(gitDir: string, from: string | null, to: string, maxPatchBytes = DEFAULT_MAX_PATCH_BYTES): Promise<DiffResult> {
  const key = `${gitDir}\0${from ?? ''}\0${to}\0${maxPatchBytes}`;
  const hit = diffCache.get(key);
  if (hit) return hit;
  const diff = await diffCommits(gitDir, from, to, { maxPatchBytes });
  const weight = diff.files.reduce((n, f) => n + (f.patch?.length ?? 0) + f.path.length + 200, 0);
  diffCache.set(key, diff, weight);
  return diff;
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
