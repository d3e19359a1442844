import type { AppContext } from './app.ts';
import { type RepositoryWithOwner, repositoryGitDir } from './repositories.ts';
import { ServiceError, invalid } from './errors.ts';
import type { Viewer } from '../domain/permissions.ts';
import type { SearchQuery } from '../domain/searchQuery.ts';
import { isValidBranchName, isSafeRevision } from '../domain/refs.ts';
import { type GrepFile, type GrepOptions, type GrepResult, grepTree } from '../git/grep.ts';
import { type TreeText, loadTreeText, searchTreeText, treeTextWeight } from '../git/grepIndex.ts';
import { LruCache } from '../git/lru.ts';
import { entryAtPath, resolveCommit } from '../git/tree.ts';
import { MAX_SEARCH_RESULTS, type SearchPage, readableRepository } from './searchScope.ts';
import type { SearchResult } from './searchRepositories.ts';

/** Repositories one cross-repository code search looks into at most (the most recently active first). */
export const CODE_SEARCH_MAX_REPOSITORIES = 100;
/** git grep processes one search runs at once, and the server at most. */
const PER_SEARCH_CONCURRENCY = 3;
const SERVER_CONCURRENCY = 4;
/** Matching lines kept per file (GitHub shows a few per file too). */
const LINES_PER_FILE = 5;
const CONTEXT_LINES = 2;
const GREP_TIMEOUT_MS = 8_000;
const GREP_MAX_BYTES = 8 * 1024 * 1024;
const MIN_PATTERN_LENGTH = 1;

export interface CodeSearchOptions extends SearchPage {
  /** Search only this repository (the repository's own search box, or `repo:` in the query). */
  repository?: RepositoryWithOwner | null;
  /** A branch, tag or commit of that repository (default: its default branch). */
  ref?: string | null;
}

export interface CodeSearchHit {
  repository: RepositoryWithOwner;
  /** What URLs name: the ref the user asked for, or the default branch. */
  ref: string;
  commitSha: string;
  path: string;
  /** The blob's sha (null if it could not be read back). */
  sha: string | null;
  file: GrepFile;
}

/**
 * Finds a fixed string (case-insensitively) in the files of repositories the viewer can read, at their
 * default branch (or `ref` within one repository), with `path:`/`language:`/`extension:` narrowing the
 * files. Results are files, in repository then path order, each with its first matching lines and
 * their context. One repository is searched completely (up to 1,000 files); across repositories the
 * search stops once the requested page is filled, and says so with `incomplete`.
 */
export async function searchCode(app: AppContext, viewer: Viewer | null, query: SearchQuery, opts: CodeSearchOptions): Promise<SearchResult<CodeSearchHit>> {
  const pattern = query.text;
  if (pattern.length < MIN_PATTERN_LENGTH) throw invalid('code search needs text to look for (qualifiers alone are not enough)', 'q');
  let repositories: RepositoryWithOwner[];
  let single = false;
  if (opts.repository) {
    repositories = [opts.repository];
    single = true;
  } else {
    repositories = await candidateRepositories(app, viewer, query);
    single = query.repos.length === 1 && repositories.length === 1;
  }
  if (opts.ref && !single) throw invalid('ref can only be given when searching one repository', 'ref');
  const needed = opts.page * opts.perPage;
  const hits: CodeSearchHit[] = [];
  let incomplete = repositories.length > CODE_SEARCH_MAX_REPOSITORIES;
  let next = 0;
  const targets = repositories.slice(0, CODE_SEARCH_MAX_REPOSITORIES);
  const perRepo: (CodeSearchHit[] | null)[] = new Array(targets.length).fill(null);
  // A bounded fan-out: a few repositories at a time, in order; stop launching once the page is full.
  const worker = async () => {
    for (;;) {
      if (!single && countReady(perRepo) >= needed) return;
      const index = next++;
      if (index >= targets.length) return;
      const repo = targets[index]!;
      const result = await searchRepository(app, repo, opts.ref ?? null, query);
      if (result.truncated) incomplete = true;
      perRepo[index] = result.hits;
    }
  };
  await Promise.all(Array.from({ length: Math.min(PER_SEARCH_CONCURRENCY, targets.length) }, worker));
  if (next < targets.length) incomplete = true;
  for (const list of perRepo) if (list) hits.push(...list);
  const total = Math.min(hits.length, MAX_SEARCH_RESULTS);
  if (hits.length > MAX_SEARCH_RESULTS) incomplete = true;
  const pageItems = hits.slice((opts.page - 1) * opts.perPage, Math.min(needed, MAX_SEARCH_RESULTS));
  await Promise.all(pageItems.map(async (hit) => (hit.sha = (await entryAtPath(repositoryGitDir(app, hit.repository), hit.commitSha, hit.path))?.sha ?? null)));
  return { total, incomplete, items: pageItems };
}

/** Results of the repositories searched so far, counted only up to the first one not yet done (order is kept). */
function countReady(perRepo: (CodeSearchHit[] | null)[]): number {
  let n = 0;
  for (const list of perRepo) {
    if (!list) break;
    n += list.length;
  }
  return n;
}

/** Readable, non-empty repositories a cross-repository search covers, most recently active first. */
async function candidateRepositories(app: AppContext, viewer: Viewer | null, query: SearchQuery): Promise<RepositoryWithOwner[]> {
  let qb = app.db
    .selectFrom('repositories')
    .innerJoin('users', 'users.id', 'repositories.owner_id')
    .selectAll('repositories')
    .select(['users.username as owner_name', 'users.is_admin as owner_is_admin'])
    .where(readableRepository(viewer))
    .where('repositories.is_empty', '=', 0);
  if (query.repos.length) {
    qb = qb.where((eb) => eb.or(query.repos.map((r) => eb.and([eb('users.lower_name', '=', r.owner.toLowerCase()), eb('repositories.lower_name', '=', r.name.toLowerCase())]))));
  }
  if (query.owners.length) qb = qb.where('users.lower_name', 'in', query.owners.map((o) => o.toLowerCase()));
  if (query.visibility) qb = qb.where('repositories.is_private', '=', query.visibility === 'private' ? 1 : 0);
  return qb
    .orderBy((eb) => eb.fn.coalesce('repositories.pushed_at', 'repositories.updated_at'), 'desc')
    .orderBy('repositories.id', 'desc')
    .limit(CODE_SEARCH_MAX_REPOSITORIES + 1)
    .execute();
}

async function searchRepository(app: AppContext, repo: RepositoryWithOwner, ref: string | null, query: SearchQuery): Promise<{ hits: CodeSearchHit[]; truncated: boolean }> {
  if (repo.is_empty === 1) return { hits: [], truncated: false };
  const gitDir = repositoryGitDir(app, repo);
  const refName = ref ?? repo.default_branch;
  if (ref !== null && !isSafeRevision(ref)) throw new ServiceError(422, `"${ref}" is not a valid ref`, 'ref');
  const commitSha = await resolveCommit(gitDir, ref === null && isValidBranchName(refName) ? `refs/heads/${refName}` : refName);
  if (!commitSha) {
    if (ref !== null) throw new ServiceError(422, `ref "${ref}" was not found in ${repo.owner_name}/${repo.name}`, 'ref');
    return { hits: [], truncated: false };
  }
  const result = await cachedGrep(gitDir, commitSha, query);
  return { hits: result.files.map((file) => ({ repository: repo, ref: refName, commitSha, path: file.path, sha: null, file })), truncated: result.truncated };
}

// Results per (repository directory, commit, query): a commit's tree never changes, so a cached answer
// stays right (even for a new repository at a deleted one's path: the same sha is the same tree); paging through results and repeated searches cost no git work. Bounded by entries and size.
const grepCache = new LruCache<string, GrepResult>(512, 64 * 1024 * 1024);
const inFlight = new Map<string, Promise<GrepResult>>();
let running = 0;
const waiting: (() => void)[] = [];

async function withSlot<T>(task: () => Promise<T>): Promise<T> {
  if (running >= SERVER_CONCURRENCY) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await task();
  } finally {
    const wake = waiting.shift();
    if (wake) wake();
    else running--;
  }
}

// In-memory indexes of searched commits' trees (git/grepIndex.ts): the first search of a commit is
// answered by git grep while the index builds in the background; later searches of that commit scan
// memory (milliseconds instead of inflating every blob again). Bounded by size; trees over
// INDEX_MAX_TREE_BYTES are never indexed.
const INDEX_MAX_TREE_BYTES = 64 * 1024 * 1024;
/** Memory the indexes may hold together: GITOKU_SEARCH_INDEX_MB (default 256; 0 turns them off). */
const INDEX_CACHE_BYTES = (() => {
  const mb = Number(process.env.GITOKU_SEARCH_INDEX_MB ?? 256);
  return Number.isFinite(mb) && mb >= 0 ? mb * 1024 * 1024 : 256 * 1024 * 1024;
})();
const indexes = new LruCache<string, TreeText | null>(64, INDEX_CACHE_BYTES);
const indexBuilds = new Map<string, Promise<void>>();

function indexFor(gitDir: string, commitSha: string): TreeText | null | undefined {
  return indexes.get(`${gitDir}\0${commitSha}`);
}

/** Builds a commit's index in the background (after the git grep that answered first, not against it). */
function buildIndex(gitDir: string, commitSha: string): void {
  const key = `${gitDir}\0${commitSha}`;
  if (INDEX_CACHE_BYTES > 0 && indexes.get(key) === undefined && !indexBuilds.has(key)) {
    const build = withSlot(() => loadTreeText(gitDir, commitSha, { maxBytes: INDEX_MAX_TREE_BYTES, maxFiles: 200_000 }))
      .then((built) => indexes.set(key, built, built ? treeTextWeight(built) : 64))
      .catch(() => indexes.set(key, null, 64)) // unreadable: git grep keeps answering
      .finally(() => indexBuilds.delete(key));
    indexBuilds.set(key, build);
  }
}

/** Resolves once the indexes being built now are ready (benchmarks and tests wait on it). */
export async function codeSearchIndexesSettled(): Promise<void> {
  while (indexBuilds.size > 0) await Promise.all([...indexBuilds.values()]);
}

function cachedGrep(gitDir: string, commitSha: string, query: SearchQuery): Promise<GrepResult> {
  const key = JSON.stringify([gitDir, commitSha, query.text, query.paths, query.extensions]);
  const hit = grepCache.get(key);
  if (hit) return Promise.resolve(hit);
  const options: GrepOptions = {
    pattern: query.text,
    ignoreCase: true,
    paths: query.paths,
    extensions: query.extensions,
    context: CONTEXT_LINES,
    maxPerFile: LINES_PER_FILE,
    maxFiles: MAX_SEARCH_RESULTS + 1,
    maxBytes: GREP_MAX_BYTES,
    timeoutMs: GREP_TIMEOUT_MS,
  };
  const index = indexFor(gitDir, commitSha);
  if (index) {
    const result = searchTreeText(index, options);
    grepCache.set(key, result, weigh(result));
    return Promise.resolve(result);
  }
  const pending = inFlight.get(key);
  if (pending) return pending;
  const promise = withSlot(() => grepTree(gitDir, commitSha, options))
    .then((result) => {
      // A timed-out answer is not kept: the next try may finish.
      if (!result.timedOut) grepCache.set(key, result, weigh(result));
      buildIndex(gitDir, commitSha);
      return result;
    })
    .finally(() => inFlight.delete(key));
  inFlight.set(key, promise);
  return promise;
}

function weigh(result: GrepResult): number {
  let n = 64;
  for (const f of result.files) {
    n += f.path.length + 32;
    for (const l of f.lines) n += l.text.length + 16;
  }
  return n;
}
