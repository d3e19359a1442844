import type { AppContext } from './app.ts';
import { type RepositoryWithOwner, repositoryGitDir } from './repositories.ts';
import { ServiceError, invalid } from './errors.ts';
import type { Viewer } from '../domain/permissions.ts';
import type { SearchQuery } from '../domain/searchQuery.ts';
import { isValidBranchName, isSafeRevision } from '../domain/refs.ts';
import { type GrepFile, type GrepOptions, type GrepResult, grepTree } from '../git/grep.ts';
import { findInTreeText, treeTextFile } from '../git/grepIndex.ts';
import { LruCache } from '../git/lru.ts';
import { entryAtPath, resolveCommit } from '../git/tree.ts';
import { MAX_SEARCH_RESULTS, type SearchPage, readableRepository } from './searchScope.ts';
import type { SearchResult } from './searchRepositories.ts';
import { buildSearchIndex, readySearchIndex, searchIndexesSettled } from './searchIndex.ts';

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
  let incomplete = repositories.length > CODE_SEARCH_MAX_REPOSITORIES;
  let next = 0;
  const targets = repositories.slice(0, CODE_SEARCH_MAX_REPOSITORIES);
  const perRepo: (RepositoryMatches | null)[] = new Array(targets.length).fill(null);
  // A bounded fan-out: a few repositories at a time, in order; stop launching once the page is full.
  const worker = async () => {
    for (;;) {
      if (!single && countReady(perRepo) >= needed) return;
      const index = next++;
      if (index >= targets.length) return;
      const repo = targets[index]!;
      const result = await searchRepository(app, repo, opts.ref ?? null, query);
      if (result.matches.truncated) incomplete = true;
      perRepo[index] = result;
    }
  };
  await Promise.all(Array.from({ length: Math.min(PER_SEARCH_CONCURRENCY, targets.length) }, worker));
  if (next < targets.length) incomplete = true;
  // Only the files of the page shown get their lines built (an index finds files without them).
  const all: { found: RepositoryMatches; i: number }[] = [];
  for (const found of perRepo) if (found) for (let i = 0; i < found.matches.paths.length && all.length <= MAX_SEARCH_RESULTS; i++) all.push({ found, i });
  const total = Math.min(all.length, MAX_SEARCH_RESULTS);
  if (all.length > MAX_SEARCH_RESULTS) incomplete = true;
  const pageItems: CodeSearchHit[] = all
    .slice((opts.page - 1) * opts.perPage, Math.min(needed, MAX_SEARCH_RESULTS))
    .map(({ found, i }) => ({ repository: found.repository, ref: found.ref, commitSha: found.commitSha, path: found.matches.paths[i]!, sha: null, file: found.matches.file(i) }));
  await Promise.all(pageItems.map(async (hit) => (hit.sha = (await entryAtPath(repositoryGitDir(app, hit.repository), hit.commitSha, hit.path))?.sha ?? null)));
  return { total, incomplete, items: pageItems };
}

/** The files of one repository's commit that matched: their paths, and each one's lines when asked for. */
interface FileMatches {
  paths: string[];
  file(i: number): GrepFile;
  truncated: boolean;
}

interface RepositoryMatches {
  repository: RepositoryWithOwner;
  ref: string;
  commitSha: string;
  matches: FileMatches;
}

const NO_MATCHES: FileMatches = { paths: [], file: () => ({ path: '', lines: [], matches: 0 }), truncated: false };

/** Results of the repositories searched so far, counted only up to the first one not yet done (order is kept). */
function countReady(perRepo: (RepositoryMatches | null)[]): number {
  let n = 0;
  for (const found of perRepo) {
    if (!found) break;
    n += found.matches.paths.length;
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

async function searchRepository(app: AppContext, repo: RepositoryWithOwner, ref: string | null, query: SearchQuery): Promise<RepositoryMatches> {
  const refName = ref ?? repo.default_branch;
  const none = (commitSha: string): RepositoryMatches => ({ repository: repo, ref: refName, commitSha, matches: NO_MATCHES });
  if (repo.is_empty === 1) return none('');
  const gitDir = repositoryGitDir(app, repo);
  if (ref !== null && !isSafeRevision(ref)) throw new ServiceError(422, `"${ref}" is not a valid ref`, 'ref');
  const commitSha = await resolveCommit(gitDir, ref === null && isValidBranchName(refName) ? `refs/heads/${refName}` : refName);
  if (!commitSha) {
    if (ref !== null) throw new ServiceError(422, `ref "${ref}" was not found in ${repo.owner_name}/${repo.name}`, 'ref');
    return none('');
  }
  return { repository: repo, ref: refName, commitSha, matches: await cachedSearch(app, gitDir, commitSha, query) };
}

// git grep's answers per (commit, query): a commit's tree never changes, so a cached answer stays right
// (even for a new repository at a deleted one's path: the same sha is the same tree); paging through
// results and repeated searches cost no git work. Bounded by entries and size.
const resultCache = new LruCache<string, FileMatches>(512, 64 * 1024 * 1024);
const inFlight = new Map<string, Promise<FileMatches>>();
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

/** What this process's searches were answered by (tests and benchmarks read it). */
export const codeSearchStats = { index: 0, grep: 0, cached: 0 };

/** Resolves once the indexes being built or loaded now are ready (benchmarks and tests wait on it). */
export async function codeSearchIndexesSettled(): Promise<void> {
  while (backgroundBuilds.size > 0) await Promise.all([...backgroundBuilds]);
  await searchIndexesSettled();
}
const backgroundBuilds = new Set<Promise<unknown>>();

/**
 * A search of one commit: from the result cache; else from the commit's index (services/searchIndex.ts:
 * in memory, or loaded from disk — after a push the server builds it); else by git grep, while the
 * index builds in the background for the next search.
 */
async function cachedSearch(app: AppContext, gitDir: string, commitSha: string, query: SearchQuery): Promise<FileMatches> {
  const key = JSON.stringify([gitDir, commitSha, query.text, query.paths, query.extensions]);
  const hit = resultCache.get(key);
  if (hit) {
    codeSearchStats.cached++;
    return hit;
  }
  const pending = inFlight.get(key);
  if (pending) return pending;
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
  const promise = (async (): Promise<FileMatches> => {
    const index = await readySearchIndex(app, gitDir, commitSha);
    if (index) {
      codeSearchStats.index++;
      const found = findInTreeText(index, options);
      const built = new Map<number, GrepFile>();
      const matches: FileMatches = {
        paths: found.files.map((f) => index.files[f]!.path),
        truncated: found.truncated,
        file(i) {
          let file = built.get(i);
          if (!file) built.set(i, (file = treeTextFile(index, found, i, options)));
          return file;
        },
      };
      // Not kept in the result cache: it would hold the index past its own cache's bound, and
      // searching an index again takes milliseconds.
      return matches;
    }
    codeSearchStats.grep++;
    const result = await withSlot(() => grepTree(gitDir, commitSha, options));
    const matches: FileMatches = { paths: result.files.map((f) => f.path), truncated: result.truncated, file: (i) => result.files[i]! };
    // A timed-out answer is not kept: the next try may finish.
    if (!result.timedOut) resultCache.set(key, matches, weigh(result));
    // No index yet (undefined; null: not indexable): build it behind this answer for the next search.
    if (index === undefined) {
      const build = withSlot(() => buildSearchIndex(app, gitDir, commitSha))
        .catch(() => null)
        .finally(() => backgroundBuilds.delete(build));
      backgroundBuilds.add(build);
    }
    return matches;
  })().finally(() => inFlight.delete(key));
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
