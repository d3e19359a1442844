import { statSync } from 'node:fs';
import { join } from 'node:path';
import { runGit } from './exec.ts';
import { registerCache } from './cacheStats.ts';
import { SingleFlight } from './singleFlight.ts';

/**
 * The branches and tags of each repository in memory: loaded with one `for-each-ref`, kept until a ref
 * moves. Every ref movement passes through the ref-change ingress, which calls `invalidateRefMap`; a
 * push through another server instance on the same storage is seen through the validator the caller
 * passes (the repository row's push time, which that instance's ingress bumped) and a cheap stat of
 * `packed-refs` and the `refs/heads`, `refs/tags` directories (a loose ref written or removed there
 * renames a file in them). So `<ref>/<path>` resolution never spawns git per request.
 */

export interface RefTarget {
  /** The object the ref points to (a tag object for annotated tags). */
  sha: string;
  /** The commit it names (annotated tags peeled). */
  commit: string;
  /** Committer date of branches, creator date of tags (unix seconds; 0 when unknown). */
  time: number;
}

export interface NamedRef {
  name: string;
  /** The commit (tags peeled). */
  sha: string;
  time: number;
}

export interface RefMap {
  /** Full ref name (refs/heads/x, refs/tags/y) → target. */
  byName: Map<string, RefTarget>;
  /** Branches by name. */
  branches: NamedRef[];
  /** Tags, newest version first (numeric-aware descending name). */
  tags: NamedRef[];
}

interface Entry {
  key: string;
  map: RefMap;
}

const maps = new Map<string, Entry>();
const generations = new Map<string, number>();
const loads = new SingleFlight<string, RefMap>();
/** Repositories whose maps are held at most (least recently loaded dropped first). */
const MAX_REPOSITORIES = 2_000;
let hits = 0;
let misses = 0;
/** For tests: how many times a map was loaded from git (one `for-each-ref` each). */
export let refMapLoads = 0;

registerCache('git.refMaps', () => ({ entries: maps.size, maxEntries: MAX_REPOSITORIES, weight: [...maps.values()].reduce((n, e) => n + e.map.byName.size, 0), maxWeight: null, hits, misses }));

function statKey(path: string): string {
  try {
    const s = statSync(path);
    return `${s.mtimeMs}:${s.size}:${s.ino}`;
  } catch {
    return '-';
  }
}

/** What changes on disk when refs move: packed-refs, and the directories loose branch and tag refs live in. */
function diskKey(gitDir: string): string {
  return [statKey(join(gitDir, 'packed-refs')), statKey(join(gitDir, 'refs', 'heads')), statKey(join(gitDir, 'refs', 'tags'))].join('|');
}

async function readRefMap(gitDir: string): Promise<RefMap> {
  refMapLoads++;
  const r = await runGit(['for-each-ref', '--format=%(refname)%00%(objectname)%00%(*objectname)%00%(committerdate:unix)%00%(creatordate:unix)', 'refs/heads/', 'refs/tags/'], { gitDir });
  if (r.code !== 0) throw new Error(`git for-each-ref failed: ${r.stderr.trim()}`);
  const byName = new Map<string, RefTarget>();
  const branches: NamedRef[] = [];
  const tags: NamedRef[] = [];
  for (const line of r.stdout.toString('utf8').split('\n')) {
    if (!line) continue;
    const [name = '', sha = '', peeled = '', committed = '', created = ''] = line.split('\0');
    const commit = peeled || sha;
    if (name.startsWith('refs/heads/')) {
      const time = Number(committed) || 0;
      byName.set(name, { sha, commit, time });
      branches.push({ name: name.slice(11), sha: commit, time });
    } else if (name.startsWith('refs/tags/')) {
      const time = Number(created) || 0;
      byName.set(name, { sha, commit, time });
      tags.push({ name: name.slice(10), sha: commit, time });
    }
  }
  branches.sort((a, b) => a.name.localeCompare(b.name));
  tags.sort((a, b) => b.name.localeCompare(a.name, undefined, { numeric: true }));
  return { byName, branches, tags };
}

/**
 * The repository's branches and tags. `validator` is anything the caller knows changes when another
 * instance moves refs (the repository row's pushed_at/updated_at); a map loaded under another
 * validator or disk state is reloaded.
 */
export async function loadRefMap(gitDir: string, validator = ''): Promise<RefMap> {
  const key = `${validator}\0${diskKey(gitDir)}`;
  const entry = maps.get(gitDir);
  if (entry && entry.key === key) {
    hits++;
    return entry.map;
  }
  misses++;
  const generation = generations.get(gitDir) ?? 0;
  return loads.run(`${gitDir}\0${key}\0${generation}`, async () => {
    const map = await readRefMap(gitDir);
    // Stored only when no invalidation happened meanwhile: a load racing a ref change may have read the old refs.
    if ((generations.get(gitDir) ?? 0) === generation) {
      maps.delete(gitDir);
      maps.set(gitDir, { key, map });
      while (maps.size > MAX_REPOSITORIES) maps.delete(maps.keys().next().value!);
    }
    return map;
  });
}

/** Forgets a repository's refs (the ref-change ingress calls this after every ref movement). */
export function invalidateRefMap(gitDir: string): void {
  generations.set(gitDir, (generations.get(gitDir) ?? 0) + 1);
  maps.delete(gitDir);
}

/** The commit a branch or tag (short name) points to in the map; null when there is none. */
export function refCommit(map: RefMap, kind: 'branch' | 'tag', name: string): string | null {
  return map.byName.get(`refs/${kind === 'branch' ? 'heads' : 'tags'}/${name}`)?.commit ?? null;
}
