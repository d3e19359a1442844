import { join } from 'node:path';
import type { AppContext } from './app.ts';
import type { Job } from '../db/schema.ts';
import { enqueueJob, findQueuedJob, wakeClaimers } from './jobs.ts';
import { registerServerJobKind, type ServerJobOutcome } from './jobKinds.ts';
import { repositoryGitDir } from './storage.ts';
import { isValidBranchName } from '../domain/refs.ts';
import { type TreeText, loadTreeText, treeTextWeight } from '../git/grepIndex.ts';
import { hasTreeTextFile, readTreeTextFile, writeTreeTextFile } from '../git/grepIndexFile.ts';
import { readCommitObject } from '../git/objects.ts';
import { resolveCommit } from '../git/tree.ts';
import { LruCache } from '../git/lru.ts';

/**
 * Code search indexes (git/grepIndex.ts) of commits' trees, shared by every server process through
 * files under `<data dir>/search-index/` (git/grepIndexFile.ts), held in memory once used:
 *
 * - after a push to a repository's default branch, a server job (`search.index`, scheduled by the
 *   `search-index` behavior, never in the push path) builds the new commit's index and writes it;
 * - a search of a commit uses the index in this process's memory, else loads the file (one read),
 *   else is answered by git grep while the index builds in the background (then written too).
 *
 * Indexes are keyed by tree id: a commit's tree never changes, so an index never answers for
 * another commit's content. Builds and loads are single-flight per tree in a process; across
 * processes a racing build writes the same bytes and the rename keeps the file whole.
 */

export const SEARCH_INDEX_JOB_KIND = 'search.index';

/** Trees with more text than this are never indexed (git grep answers their searches). */
const INDEX_MAX_TREE_BYTES = 64 * 1024 * 1024;
const INDEX_MAX_FILES = 200_000;

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = Number(raw);
  return raw !== undefined && raw !== '' && Number.isFinite(n) && n >= 0 ? n : fallback;
}

/** Memory the indexes may hold together in one process: GITOKU_SEARCH_INDEX_MB (default 256; 0 turns indexes off). */
const MEMORY_BYTES = envNumber('GITOKU_SEARCH_INDEX_MB', 256) * 1024 * 1024;
/** Disk the index files may use together: GITOKU_SEARCH_INDEX_DISK_MB (default 2048). */
const DISK_BYTES = envNumber('GITOKU_SEARCH_INDEX_DISK_MB', 2048) * 1024 * 1024;

/** How long after a push the index is built (GITOKU_SEARCH_INDEX_DELAY_MS; default 500 ms): a burst of pushes shares one build. */
export function searchIndexDelayMs(): number {
  return envNumber('GITOKU_SEARCH_INDEX_DELAY_MS', 500);
}

/** What answered, counted per process (tests and benchmarks read it). */
export const searchIndexStats = { memoryHits: 0, diskLoads: 0, builds: 0, unindexable: 0, writes: 0 };

// null: the tree cannot be indexed (over the limits): git grep answers, nothing is retried.
const memory = new LruCache<string, TreeText | null>(64, Math.max(1, MEMORY_BYTES), 'search.indexes');
const inFlight = new Map<string, { work: 'load' | 'build'; promise: Promise<TreeText | null> }>();
const treeOfCommit = new LruCache<string, string>(4096, 4096 * 128);

export function searchIndexDirectory(app: AppContext): string {
  return join(app.config.dataDir, 'search-index');
}

export function searchIndexesEnabled(): boolean {
  return MEMORY_BYTES > 0;
}

/** The tree id of a commit (cached: it never changes). */
export async function treeOf(gitDir: string, commitSha: string): Promise<string | null> {
  const known = treeOfCommit.get(commitSha);
  if (known) return known;
  const commit = await readCommitObject(gitDir, commitSha);
  if (!commit) return null;
  treeOfCommit.set(commitSha, commit.tree, 128);
  return commit.tree;
}

function remember(tree: string, index: TreeText | null): void {
  memory.set(tree, index, index ? treeTextWeight(index) : 64);
}

/** Work that builds or loads indexes, one at a time per tree. */
function singleFlight(tree: string, work: 'load' | 'build', task: () => Promise<TreeText | null>): Promise<TreeText | null> {
  const pending = inFlight.get(tree);
  if (pending) return pending.promise;
  const promise = task().finally(() => inFlight.delete(tree));
  inFlight.set(tree, { work, promise });
  return promise;
}

/**
 * The index of a commit's tree if one is ready: in memory, or on disk (then loaded). Undefined when
 * there is none yet (the caller answers with git grep and may `buildSearchIndex`); null when the tree
 * is not indexable.
 */
export async function readySearchIndex(app: AppContext, gitDir: string, commitSha: string): Promise<TreeText | null | undefined> {
  if (!searchIndexesEnabled()) return null;
  const tree = await treeOf(gitDir, commitSha);
  if (!tree) return null;
  const held = memory.get(tree);
  if (held !== undefined) {
    searchIndexStats.memoryHits++;
    return held;
  }
  // A file being read is waited for (tens of ms); a build (seconds) is not: git grep answers meanwhile.
  const pending = inFlight.get(tree);
  if (pending) return pending.work === 'load' ? pending.promise.then((index) => index ?? undefined) : undefined;
  const dir = searchIndexDirectory(app);
  if (!(await hasTreeTextFile(dir, tree))) return undefined;
  return singleFlight(tree, 'load', async () => {
    const loaded = await readTreeTextFile(dir, tree);
    if (loaded) {
      searchIndexStats.diskLoads++;
      remember(tree, loaded);
    }
    return loaded;
  }).then((index) => index ?? undefined);
}

/**
 * Builds (or loads) the index of a commit's tree and writes it to disk; resolves to it, or null when
 * the tree is not indexable. Single-flight: a search and the post-push job asking for the same tree
 * share one build.
 */
export async function buildSearchIndex(app: AppContext, gitDir: string, commitSha: string): Promise<TreeText | null> {
  if (!searchIndexesEnabled()) return null;
  const tree = await treeOf(gitDir, commitSha);
  if (!tree) return null;
  const held = memory.get(tree);
  if (held !== undefined) return held;
  const dir = searchIndexDirectory(app);
  return singleFlight(tree, 'build', async () => {
    const onDisk = await readTreeTextFile(dir, tree);
    if (onDisk) {
      searchIndexStats.diskLoads++;
      remember(tree, onDisk);
      return onDisk;
    }
    const built = await loadTreeText(gitDir, commitSha, { maxBytes: INDEX_MAX_TREE_BYTES, maxFiles: INDEX_MAX_FILES });
    if (!built) {
      searchIndexStats.unindexable++;
      remember(tree, null);
      return null;
    }
    searchIndexStats.builds++;
    remember(tree, built);
    try {
      if ((await writeTreeTextFile(dir, tree, built, DISK_BYTES)) !== null) searchIndexStats.writes++;
    } catch (err) {
      console.error(`[search-index] writing the index of tree ${tree} failed: ${(err as Error).message}`);
    }
    return built;
  });
}

/** Resolves once the index builds and loads running in this process are done (tests and benchmarks wait on it). */
export async function searchIndexesSettled(): Promise<void> {
  while (inFlight.size > 0) await Promise.all([...inFlight.values()].map((p) => p.promise.catch(() => null)));
}

/** Forgets the indexes held in this process's memory (as a freshly started process would be; for tests and benchmarks). */
export function dropSearchIndexesFromMemory(): void {
  memory.clear();
}

/** Schedules the index build of a repository's default branch unless one is already waiting (it resolves the branch when it runs). */
export async function scheduleSearchIndex(app: AppContext, repositoryId: number): Promise<'scheduled' | 'already scheduled'> {
  const waiting = await findQueuedJob(app.db, SEARCH_INDEX_JOB_KIND, repositoryId);
  if (waiting) return 'already scheduled';
  await enqueueJob(app.db, { kind: SEARCH_INDEX_JOB_KIND, repositoryId, payload: { repository_id: repositoryId }, maxAttempts: 3, runAfter: new Date(Date.now() + searchIndexDelayMs()) });
  await wakeClaimers(app);
  return 'scheduled';
}

async function executeSearchIndex(app: AppContext, job: Job): Promise<ServerJobOutcome> {
  if (job.repository_id === null) return { status: 'failed', error: 'search index job without a repository' };
  const repo = await app.db.selectFrom('repositories').select(['id', 'storage_path', 'default_branch', 'is_empty']).where('id', '=', job.repository_id).executeTakeFirst();
  if (!repo) return { status: 'succeeded', result: { skipped: 'the repository no longer exists' } };
  if (!searchIndexesEnabled()) return { status: 'succeeded', result: { skipped: 'search indexes are off (GITOKU_SEARCH_INDEX_MB=0)' } };
  if (!isValidBranchName(repo.default_branch)) return { status: 'succeeded', result: { skipped: 'no valid default branch' } };
  const gitDir = repositoryGitDir(app, repo);
  // The branch now, not at the push: a later push's commit is the one searches will ask for.
  const commitSha = await resolveCommit(gitDir, `refs/heads/${repo.default_branch}`);
  if (!commitSha) return { status: 'succeeded', result: { skipped: 'the default branch does not exist' } };
  const started = Date.now();
  const index = await buildSearchIndex(app, gitDir, commitSha);
  return { status: 'succeeded', result: { commit: commitSha, tree: await treeOf(gitDir, commitSha), indexed: index !== null, files: index?.files.length ?? 0, ms: Date.now() - started } };
}

registerServerJobKind(SEARCH_INDEX_JOB_KIND, { execute: executeSearchIndex });
