import { catFilePool } from './catFile.ts';
import { LruCache } from './lru.ts';

export interface RawTreeEntry {
  mode: string;
  name: string;
  sha: string;
  type: 'blob' | 'tree' | 'commit';
}

export interface Person {
  name: string;
  email: string;
  /** ISO-8601 with the author's offset, as `git log --format=%aI` prints it. */
  date: string;
}

export interface Commit {
  sha: string;
  tree: string;
  parents: string[];
  author: Person;
  committer: Person;
  message: string;
}

// Objects are immutable by id: repositories may share a cache key space because a sha names the same content everywhere.
const treeCache = new LruCache<string, RawTreeEntry[]>(20_000, 64 * 1024 * 1024, 'git.trees');
const commitCache = new LruCache<string, Commit>(50_000, 64 * 1024 * 1024, 'git.commits');

function typeOfMode(mode: string): RawTreeEntry['type'] {
  if (mode === '40000' || mode === '040000') return 'tree';
  if (mode === '160000') return 'commit';
  return 'blob';
}

/** Parses a raw tree object: repeated "<mode> <name>\0<20-byte id>". */
export function parseTree(content: Buffer): RawTreeEntry[] {
  const entries: RawTreeEntry[] = [];
  let i = 0;
  while (i < content.length) {
    const space = content.indexOf(32, i);
    const nul = content.indexOf(0, space);
    if (space < 0 || nul < 0 || nul + 21 > content.length) break;
    const mode = content.toString('latin1', i, space);
    const name = content.toString('utf8', space + 1, nul);
    const sha = content.toString('hex', nul + 1, nul + 21);
    entries.push({ mode: mode.padStart(6, '0'), name, sha, type: typeOfMode(mode) });
    i = nul + 21;
  }
  return entries;
}

function parsePerson(value: string): Person {
  const m = /^(.*) <(.*)> (\d+) ([+-])(\d\d)(\d\d)$/.exec(value);
  if (!m) return { name: value, email: '', date: new Date(0).toISOString() };
  const [, name, email, seconds, sign, hh, mm] = m;
  const offsetMinutes = (sign === '-' ? -1 : 1) * (Number(hh) * 60 + Number(mm));
  const local = new Date(Number(seconds) * 1000 + offsetMinutes * 60_000);
  const date = local.toISOString().replace(/\.\d{3}Z$/, offsetMinutes === 0 ? 'Z' : `${sign}${hh}:${mm}`);
  return { name: name!, email: email!, date };
}

export function parseCommit(sha: string, content: Buffer): Commit {
  const text = content.toString('utf8');
  const split = text.indexOf('\n\n');
  const headerText = split < 0 ? text : text.slice(0, split);
  const message = split < 0 ? '' : text.slice(split + 2);
  let tree = '';
  const parents: string[] = [];
  let author: Person = { name: '', email: '', date: new Date(0).toISOString() };
  let committer = author;
  for (const line of headerText.split('\n')) {
    if (line.startsWith(' ')) continue; // continuation of a multi-line header (gpgsig, mergetag)
    const space = line.indexOf(' ');
    const key = line.slice(0, space);
    const value = line.slice(space + 1);
    if (key === 'tree') tree = value;
    else if (key === 'parent') parents.push(value);
    else if (key === 'author') author = parsePerson(value);
    else if (key === 'committer') committer = parsePerson(value);
  }
  return { sha, tree, parents, author, committer, message: message.replace(/\n+$/, '') };
}

export async function readTreeObject(gitDir: string, treeSha: string): Promise<RawTreeEntry[] | null> {
  const cached = treeCache.get(treeSha);
  if (cached) return cached;
  const obj = await catFilePool.read(gitDir, treeSha);
  if (!obj || obj.type !== 'tree') return null;
  const entries = parseTree(obj.content);
  treeCache.set(treeSha, entries, obj.size + 64);
  return entries;
}

export async function readCommitObject(gitDir: string, sha: string): Promise<Commit | null> {
  const cached = commitCache.get(sha);
  if (cached) return cached;
  const obj = await catFilePool.read(gitDir, sha);
  if (!obj || obj.type !== 'commit') return null;
  const commit = parseCommit(obj.sha, obj.content);
  commitCache.set(obj.sha, commit, obj.size + 128);
  return commit;
}

export function commitTitle(message: string): string {
  return message.split('\n', 1)[0] ?? '';
}
