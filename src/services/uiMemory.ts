import type { DbOrTx } from '../db/index.ts';
import { memoryContradictions, type MemoryEntry } from './memory.ts';

/**
 * What the Memory pages show around entries (issue 14): where each came from (run, review, pull request,
 * person) as a label and a link, the people who wrote them, the entries each is still flagged against,
 * and the runs each was given to. All of it within the one repository the page is about.
 */
export interface MemorySourceLink {
  label: string;
  /** A page path inside the repository (or a profile), null when the source no longer exists. */
  href: string | null;
}

export interface MemoryRunRef {
  number: number;
  title: string;
  status: string;
}

export interface MemoryLinks {
  sources: Map<number, MemorySourceLink>;
  users: Map<number, string>;
  /** Entry id → the live entries it contradicts that are not resolved yet. */
  partners: Map<number, MemoryEntry[]>;
  /** Entry id → the runs it was given to, newest first (only loaded for an entry's own page). */
  usedBy: Map<number, MemoryRunRef[]>;
}

const enc = encodeURIComponent;

export async function loadMemoryLinks(db: DbOrTx, repo: { id: number; owner_name: string; name: string }, entries: MemoryEntry[], opts: { usedBy?: boolean } = {}): Promise<MemoryLinks> {
  const base = `/${enc(repo.owner_name)}/${enc(repo.name)}`;
  const ids = (type: MemoryEntry['source']['type']) => [...new Set(entries.filter((e) => e.source.type === type && e.source.id !== null).map((e) => e.source.id!))];
  const userIds = [...new Set([...entries.map((e) => e.created_by_id), ...entries.filter((e) => e.source.type === 'person').map((e) => e.source.id)].filter((id): id is number => id !== null))];
  const [runs, pulls, reviews, users] = await Promise.all([
    ids('run').length ? db.selectFrom('prompt_pull_request_jobs').select(['number', 'title']).where('repository_id', '=', repo.id).where('number', 'in', ids('run')).execute() : [],
    ids('pull_request').length ? db.selectFrom('pull_requests').select(['number', 'title']).where('repository_id', '=', repo.id).where('number', 'in', ids('pull_request')).execute() : [],
    ids('review').length
      ? db
          .selectFrom('pull_request_reviews')
          .innerJoin('pull_requests', 'pull_requests.id', 'pull_request_reviews.pull_request_id')
          .leftJoin('users', 'users.id', 'pull_request_reviews.author_id')
          .select(['pull_request_reviews.id as id', 'pull_requests.number as number', 'users.username as author'])
          .where('pull_requests.repository_id', '=', repo.id)
          .where('pull_request_reviews.id', 'in', ids('review'))
          .execute()
      : [],
    userIds.length ? db.selectFrom('users').select(['id', 'username']).where('id', 'in', userIds).execute() : [],
  ]);
  const runByNumber = new Map(runs.map((r) => [r.number, r]));
  const pullByNumber = new Map(pulls.map((p) => [p.number, p]));
  const reviewById = new Map(reviews.map((r) => [r.id, r]));
  const userById = new Map(users.map((u) => [u.id, u.username]));

  const sources = new Map<number, MemorySourceLink>();
  for (const e of entries) {
    const id = e.source.id;
    let link: MemorySourceLink;
    if (e.source.type === 'run') {
      const r = id !== null ? runByNumber.get(id) : undefined;
      link = r ? { label: `run #${r.number}`, href: `${base}/runs/${r.number}` } : { label: e.source.label || 'a run', href: null };
    } else if (e.source.type === 'pull_request') {
      const p = id !== null ? pullByNumber.get(id) : undefined;
      link = p ? { label: `pull request #${p.number}`, href: `${base}/pull/${p.number}` } : { label: e.source.label || 'a pull request', href: null };
    } else if (e.source.type === 'review') {
      const r = id !== null ? reviewById.get(id) : undefined;
      link = r ? { label: `${r.author ? `${r.author}'s ` : ''}review of #${r.number}`, href: `${base}/pull/${r.number}#review-${r.id}` } : { label: e.source.label || 'a review', href: null };
    } else {
      const name = id !== null ? userById.get(id) : e.created_by_id !== null ? userById.get(e.created_by_id) : undefined;
      link = name ? { label: name, href: `/${enc(name)}` } : { label: e.source.label || 'a person', href: null };
    }
    sources.set(e.id, link);
  }

  return { sources, users: userById, partners: await contradictionPartners(db, repo.id, entries), usedBy: opts.usedBy ? await runsGiven(db, repo.id, entries) : new Map() };
}

/** For each flagged entry, the entries it is still flagged against (an unresolved `contradicts` edge, either way). */
async function contradictionPartners(db: DbOrTx, repositoryId: number, entries: MemoryEntry[]): Promise<Map<number, MemoryEntry[]>> {
  const out = new Map<number, MemoryEntry[]>();
  for (const entry of entries) {
    if (!entry.contradiction || entry.status === 'superseded') continue;
    const open = (await memoryContradictions(db, repositoryId, entry.id)).filter((c) => c.resolved === null && c.entry.status !== 'superseded').map((c) => c.entry);
    if (open.length) out.set(entry.id, open);
  }
  return out;
}

/** The runs an entry was given to: `used_by` edges between the run's node and the entry's node. */
async function runsGiven(db: DbOrTx, repositoryId: number, entries: MemoryEntry[]): Promise<Map<number, MemoryRunRef[]>> {
  const out = new Map<number, MemoryRunRef[]>();
  for (const entry of entries) {
    const edges = await db
      .selectFrom('graph_edges')
      .select(['src_id', 'dst_id'])
      .where('kind', '=', 'used_by')
      .where((eb) => eb.or([eb('src_id', '=', entry.node_id), eb('dst_id', '=', entry.node_id)]))
      .execute();
    const nodeIds = edges.map((e) => (e.src_id === entry.node_id ? e.dst_id : e.src_id));
    if (nodeIds.length === 0) continue;
    const nodes = await db.selectFrom('graph_nodes').select(['key']).where('id', 'in', nodeIds).where('kind', '=', 'run').where('repository_id', '=', repositoryId).execute();
    const runIds = nodes.map((n) => Number(n.key)).filter((n) => Number.isSafeInteger(n));
    if (runIds.length === 0) continue;
    const runs = await db.selectFrom('prompt_pull_request_jobs').select(['number', 'title', 'status']).where('repository_id', '=', repositoryId).where('id', 'in', runIds).orderBy('number', 'desc').limit(100).execute();
    out.set(entry.id, runs);
  }
  return out;
}
