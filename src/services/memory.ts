import { sql, type Transaction } from 'kysely';
import { z } from 'zod';
import type { DbOrTx } from '../db/index.ts';
import type { Database } from '../db/schema.ts';
import { appendEvents } from '../events/outbox.ts';
import { invalid, notFound } from './errors.ts';
import { addEdge, ensureNode, type EdgeKind, type NodeKind } from './graph.ts';
import { fileRangeNodeKey } from './provenanceGraph.ts';
import { scheduleMemoryIndexMaintenance } from './memoryIndex.ts';
import { GlobError, globToRegExp } from '../domain/glob.ts';
import { MEMORY_KINDS, MEMORY_LIMITS, MEMORY_TTL_MS, normalizeFact, normalizeSubject, scopesOverlap } from '../domain/memory.ts';

/**
 * Semantic memory (issue 14): per-repository claims, decisions, failures and conventions with
 * citations checked against the code. This module is the store: record (with the contradiction
 * check), list, read, edit, delete, resolve, and what a run was given. Retrieval for a run's prompt
 * is services/memoryRetrieval.ts; citation checks are services/memoryValidation.ts; entries that runs
 * leave (declared, or their failure) are services/memoryRuns.ts.
 *
 * Each entry is also a graph node (kind = the entry's kind, key = the entry id) with edges `cites`
 * (→ file_range), `learned_from` (→ run, review evidence, pull request or user), `contradicts`,
 * `supersedes`, and `used_by` edges from the runs that were given it.
 */
export type MemoryKind = (typeof MEMORY_KINDS)[number];
export type MemoryStatus = 'live' | 'stale' | 'expired' | 'superseded';
export interface MemoryCitation { path: string; start_line: number; end_line: number; commit: string; content_hash: string }
/** Repository-wide when `agent` is null and `paths` is empty; `paths` are globs (domain/glob.ts). */
export interface MemoryScope { agent: string | null; paths: string[] }
/**
 * Where an entry came from. `id`: the run's number, the review's id, the pull request's number, the
 * person's user id (null when unknown).
 */
export interface MemorySource { type: 'run' | 'review' | 'pull_request' | 'person'; id: number | null; label?: string }
export interface MemoryEntry {
  id: number;
  repository_id: number;
  node_id: number;
  kind: MemoryKind;
  subject: string;
  fact: string;
  reason: string;
  citations: MemoryCitation[];
  scope: MemoryScope;
  source: MemorySource;
  confidence: number;
  pinned: boolean;
  /** `expired`: live but past `expires_at` (and not pinned): out of retrieval, kept for audit. */
  status: MemoryStatus;
  /** An unresolved `contradicts` edge touches it. */
  contradiction: boolean;
  created_by_id: number | null;
  created_at: string;
  validated_at: string | null;
  expires_at: string;
  updated_at: string;
}
/** A citation as a person or agent gives it: resolved (commit, hash, text) by memoryValidation.ts resolveCitations. */
export interface NewMemoryCitation { path: string; start_line: number; end_line: number; commit?: string; content_hash?: string }
/** A citation with the cited lines themselves (services/memoryValidation.ts resolveCitations fills them in). */
export type StoredCitation = MemoryCitation & { text?: string };
export interface NewMemoryEntry {
  kind: MemoryKind;
  subject: string;
  fact: string;
  reason?: string;
  /** Already resolved against a commit (memoryValidation.ts resolveCitations). */
  citations?: StoredCitation[];
  scope?: Partial<MemoryScope>;
  source: MemorySource;
  confidence?: number;
  pinned?: boolean;
  created_by_id?: number | null;
}
export interface MemoryFilter { q?: string; kind?: MemoryKind; agent?: string; status?: string; pinned?: boolean; page?: number; per_page?: number }
export interface MemoryPatch { subject?: string; fact?: string; reason?: string; kind?: MemoryKind; pinned?: boolean; scope?: Partial<MemoryScope>; confidence?: number }
export type ContradictionResolution = { kind: 'keep_both' } | { kind: 'supersede'; winner_id: number };

const noNul = (s: string) => !s.includes('\0');
const text = (max: number, what: string) => z.string().max(max, `${what} is too long (at most ${max} characters)`).refine(noNul, `${what} must not contain NUL characters`);
export const memoryScopeSchema = z.object({
  agent: z.string().trim().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'agent must be an agent key').nullable().optional(),
  paths: z
    .array(z.string().min(1).max(1024))
    .max(MEMORY_LIMITS.scopePaths, `at most ${MEMORY_LIMITS.scopePaths} path globs`)
    .superRefine((globs, ctx) => {
      for (const g of globs) {
        if (g.startsWith('/') || g.split('/').includes('..') || g.includes('\0')) ctx.addIssue({ code: 'custom', message: `"${g}" is not a path inside the repository` });
        else
          try {
            globToRegExp(g);
          } catch (err) {
            if (err instanceof GlobError) ctx.addIssue({ code: 'custom', message: err.message });
            else throw err;
          }
      }
    })
    .optional(),
});
const entrySchema = z.object({
  kind: z.enum(MEMORY_KINDS),
  subject: text(MEMORY_LIMITS.subject, 'subject').refine((s) => s.trim() !== '', 'subject is required'),
  fact: text(MEMORY_LIMITS.fact, 'fact').refine((s) => s.trim() !== '', 'fact is required'),
  reason: text(MEMORY_LIMITS.reason, 'reason').optional(),
  confidence: z.number().min(0).max(1).optional(),
  pinned: z.boolean().optional(),
  scope: memoryScopeSchema.optional(),
  citations: z.array(z.unknown()).max(MEMORY_LIMITS.citations, `at most ${MEMORY_LIMITS.citations} citations`).optional(),
});

function check<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalid(issue.message, issue.path.map(String).join('.') || undefined);
  }
  return parsed.data;
}

type Row = Database['memory_entries'] extends infer T ? { [K in keyof T]: T[K] extends import('kysely').Generated<infer U> ? U : T[K] } : never;

const iso = () => new Date().toISOString();
const plusTtl = (at: string) => new Date(Date.parse(at) + MEMORY_TTL_MS).toISOString();

export function entryFromRow(r: Row, now = iso()): MemoryEntry {
  const status = (r.status === 'live' && r.pinned !== 1 && r.expires_at < now ? 'expired' : r.status) as MemoryStatus;
  return {
    id: r.id,
    repository_id: r.repository_id,
    node_id: r.node_id,
    kind: r.kind as MemoryKind,
    subject: r.subject,
    fact: r.fact,
    reason: r.reason,
    citations: (JSON.parse(r.citations) as MemoryCitation[]).map((c) => ({ path: c.path, start_line: c.start_line, end_line: c.end_line, commit: c.commit, content_hash: c.content_hash })),
    scope: { agent: r.scope_agent, paths: JSON.parse(r.scope_paths) as string[] },
    source: { type: r.source_type as MemorySource['type'], id: r.source_id, ...(r.source_label ? { label: r.source_label } : {}) },
    confidence: Number(r.confidence),
    pinned: r.pinned === 1,
    status,
    contradiction: r.contradiction === 1,
    created_by_id: r.created_by_id,
    created_at: r.created_at,
    validated_at: r.validated_at,
    expires_at: r.expires_at,
    updated_at: r.updated_at,
  };
}

/** Runs `fn` in the caller's transaction, or in a new one. */
async function inTransaction<T>(db: DbOrTx, fn: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db as Transaction<Database>);
  return db.transaction().execute(fn);
}

const sourceLabel = (s: MemorySource) =>
  s.label?.slice(0, 255) ?? (s.type === 'run' ? `agent run #${s.id ?? '?'}` : s.type === 'review' ? `review ${s.id ?? ''}`.trim() : s.type === 'pull_request' ? `pull request #${s.id ?? '?'}` : 'a person');

async function sourceNode(tx: DbOrTx, repositoryId: number, s: MemorySource): Promise<number | null> {
  if (s.id === null) return null;
  switch (s.type) {
    case 'run': {
      const run = await tx.selectFrom('prompt_pull_request_jobs').select(['id', 'number']).where('repository_id', '=', repositoryId).where('number', '=', s.id).executeTakeFirst();
      return run ? ensureNode(tx, repositoryId, 'run', String(run.id), { run_id: run.id, number: run.number }) : null;
    }
    case 'review':
      return ensureNode(tx, repositoryId, 'evidence', `review:${s.id}`, { review_id: s.id });
    case 'pull_request':
      return ensureNode(tx, repositoryId, 'pull_request', String(s.id), { number: s.id });
    case 'person':
      return null;
  }
}

async function rowById(db: DbOrTx, repositoryId: number, id: number): Promise<Row | undefined> {
  if (!Number.isSafeInteger(id) || id < 1 || id > 2_147_483_647) return undefined;
  return db.selectFrom('memory_entries').selectAll().where('repository_id', '=', repositoryId).where('id', '=', id).executeTakeFirst() as Promise<Row | undefined>;
}

/** Live entries of the same subject and overlapping scope that say something else. */
async function findContradictions(tx: DbOrTx, row: Row): Promise<Row[]> {
  // A failure records what happened, not a claim about the code: two failures of one task do not disagree.
  if (row.kind === 'failure') return [];
  const same = (await tx
    .selectFrom('memory_entries')
    .selectAll()
    .where('repository_id', '=', row.repository_id)
    .where('subject_key', '=', row.subject_key)
    .where('status', '=', 'live')
    .where('id', '!=', row.id)
    .orderBy('id')
    .limit(50)
    .execute()) as Row[];
  const scope = (r: Row) => ({ agent: r.scope_agent, paths: JSON.parse(r.scope_paths) as string[] });
  return same.filter((o) => o.kind !== 'failure' && o.fact_key !== row.fact_key && scopesOverlap(scope(o), scope(row)));
}

/** Flags an entry and the live entries it contradicts, with edges and a `memory.contradiction` event. */
async function flagContradictions(tx: DbOrTx, row: Row, at: string): Promise<Row[]> {
  const others = await findContradictions(tx, row);
  if (others.length === 0) return [];
  for (const o of others) await addEdge(tx, row.node_id, o.node_id, 'contradicts', { resolved: null });
  await tx.updateTable('memory_entries').set({ contradiction: 1 }).where('id', 'in', [row.id, ...others.map((o) => o.id)]).execute();
  const paths = [...new Set([row, ...others].flatMap((r) => (JSON.parse(r.citations) as MemoryCitation[]).map((c) => c.path)))].sort();
  await appendEvents(tx, [{ type: 'memory.contradiction', repositoryId: row.repository_id, subject: `memory/${row.id}`, payload: { entry_id: row.id, other_ids: others.map((o) => o.id), paths, subject: row.subject } }], at);
  return others;
}

/**
 * Records an entry: validated (sizes, kind, scope), written with its graph node and edges (`cites`,
 * `learned_from`), then checked against the live entries of the same subject (`contradicts`, both
 * flagged, `memory.contradiction` in the outbox — all in one transaction). The same fact on the same
 * subject, kind and scope again renews the existing entry instead of adding a copy.
 */
/** The checks recordMemoryEntry makes before writing (a 422 ServiceError): for callers that must not fail inside their transaction. */
export function validateMemoryEntry(input: NewMemoryEntry): void {
  const v = check(entrySchema, input);
  if (!normalizeSubject(v.subject.trim())) throw invalid('subject must contain letters or digits', 'subject');
}

export async function recordMemoryEntry(db: DbOrTx, repositoryId: number, input: NewMemoryEntry, at: string): Promise<{ entry: MemoryEntry; contradicts: MemoryEntry[] }> {
  const v = check(entrySchema, input);
  const citations = (input.citations ?? []).map((c) => ({ ...c }));
  const subject = v.subject.trim();
  const fact = v.fact.trim();
  const scope = { agent: v.scope?.agent ?? null, paths: [...new Set(v.scope?.paths ?? [])].sort() };
  const subjectKey = normalizeSubject(subject).slice(0, 512);
  const factKey = normalizeFact(fact);
  if (!subjectKey) throw invalid('subject must contain letters or digits', 'subject');
  return inTransaction(db, async (tx) => {
    const duplicate = (await tx
      .selectFrom('memory_entries')
      .selectAll()
      .where('repository_id', '=', repositoryId)
      .where('subject_key', '=', subjectKey)
      .where('fact_key', '=', factKey)
      .where('kind', '=', v.kind)
      .where('status', '=', 'live')
      .where('scope_agent', scope.agent === null ? 'is' : '=', scope.agent)
      .where('scope_paths', '=', JSON.stringify(scope.paths))
      .orderBy('id')
      .executeTakeFirst()) as Row | undefined;
    if (duplicate) {
      await tx.updateTable('memory_entries').set({ expires_at: plusTtl(at), confidence: Math.max(Number(duplicate.confidence), v.confidence ?? 0.5), updated_at: at }).where('id', '=', duplicate.id).execute();
      return { entry: entryFromRow((await rowById(tx, repositoryId, duplicate.id))!, at), contradicts: [] };
    }
    const inserted = (await tx
      .insertInto('memory_entries')
      .values({
        repository_id: repositoryId,
        node_id: 0,
        kind: v.kind,
        subject,
        subject_key: subjectKey,
        fact,
        fact_key: factKey,
        reason: (v.reason ?? '').trim(),
        citations: JSON.stringify(citations.map(({ path, start_line, end_line, commit, content_hash }) => ({ path, start_line, end_line, commit, content_hash }))),
        scope_agent: scope.agent,
        scope_paths: JSON.stringify(scope.paths),
        source_type: input.source.type,
        source_id: input.source.id,
        source_label: sourceLabel(input.source),
        confidence: v.confidence ?? (input.source.type === 'person' ? 0.9 : 0.6),
        pinned: v.pinned ? 1 : 0,
        status: 'live',
        contradiction: 0,
        created_by_id: input.created_by_id ?? null,
        created_at: at,
        validated_at: citations.length ? at : null,
        expires_at: plusTtl(at),
        updated_at: at,
      })
      .returningAll()
      .executeTakeFirstOrThrow()) as Row;
    const nodeId = await ensureNode(tx, repositoryId, v.kind as NodeKind, String(inserted.id), { entry_id: inserted.id, subject });
    await tx.updateTable('memory_entries').set({ node_id: nodeId }).where('id', '=', inserted.id).execute();
    const row: Row = { ...inserted, node_id: nodeId };
    if (citations.length) {
      await tx
        .insertInto('memory_citations')
        .values(citations.map((c) => ({ entry_id: row.id, repository_id: repositoryId, path: c.path, start_line: c.start_line, end_line: c.end_line, commit_sha: c.commit, content_hash: c.content_hash, text: (c.text ?? '').slice(0, 64 * 1024) })))
        .execute();
      for (const c of citations) {
        const range = await ensureNode(tx, repositoryId, 'file_range', fileRangeNodeKey(c.commit, c.path, c.start_line, c.end_line), { path: c.path, start_line: c.start_line, end_line: c.end_line, commit_sha: c.commit });
        await addEdge(tx, nodeId, range, 'cites');
      }
    }
    const from = await sourceNode(tx, repositoryId, input.source);
    if (from !== null) await addEdge(tx, nodeId, from, 'learned_from');
    await scheduleMemoryIndexMaintenance(tx);
    const others = await flagContradictions(tx, row, at);
    const entry = entryFromRow((await rowById(tx, repositoryId, row.id))!, at);
    return { entry, contradicts: others.map((o) => entryFromRow({ ...o, contradiction: 1 }, at)) };
  });
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A page of entries, pinned first then newest; `status` is live | expired | stale | superseded | contradiction. */
export async function listMemoryEntries(db: DbOrTx, repositoryId: number, filter: MemoryFilter): Promise<{ entries: MemoryEntry[]; total: number }> {
  const now = iso();
  const perPage = Math.min(100, Math.max(1, filter.per_page ?? 30));
  const page = Math.max(1, filter.page ?? 1);
  let q = db.selectFrom('memory_entries').where('repository_id', '=', repositoryId);
  if (filter.kind) q = q.where('kind', '=', filter.kind);
  if (filter.agent !== undefined) q = q.where('scope_agent', '=', filter.agent);
  if (filter.pinned !== undefined) q = q.where('pinned', '=', filter.pinned ? 1 : 0);
  switch (filter.status) {
    case undefined:
    case '':
    case 'all':
      break;
    case 'live':
      q = q.where('status', '=', 'live').where((eb) => eb.or([eb('pinned', '=', 1), eb('expires_at', '>=', now)]));
      break;
    case 'expired':
      q = q.where('status', '=', 'live').where('pinned', '=', 0).where('expires_at', '<', now);
      break;
    case 'contradiction':
      q = q.where('contradiction', '=', 1);
      break;
    case 'stale':
    case 'superseded':
      q = q.where('status', '=', filter.status);
      break;
    default:
      throw invalid(`unknown status "${filter.status}" (live, expired, stale, superseded, contradiction or all)`, 'status');
  }
  const words = (filter.q ?? '').trim().toLowerCase().split(/\s+/).filter(Boolean).slice(0, 8);
  for (const w of words) {
    const pattern = `%${escapeLike(w)}%`;
    q = q.where(sql<boolean>`(lower(subject) like ${pattern} escape '\\' or lower(fact) like ${pattern} escape '\\' or lower(reason) like ${pattern} escape '\\')`);
  }
  const rows = (await q.selectAll().orderBy('pinned', 'desc').orderBy('id', 'desc').limit(perPage).offset((page - 1) * perPage).execute()) as Row[];
  const total = Number((await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  return { entries: rows.map((r) => entryFromRow(r, now)), total };
}

export async function getMemoryEntry(db: DbOrTx, repositoryId: number, id: number): Promise<MemoryEntry | null> {
  const row = await rowById(db, repositoryId, id);
  return row ? entryFromRow(row) : null;
}

/** Entries by id (any repository's: callers scope them), in the order asked. */
export async function memoryEntriesByIds(db: DbOrTx, ids: number[]): Promise<MemoryEntry[]> {
  if (ids.length === 0) return [];
  const rows = (await db.selectFrom('memory_entries').selectAll().where('id', 'in', ids).execute()) as Row[];
  const byId = new Map(rows.map((r) => [r.id, r]));
  const now = iso();
  return ids.flatMap((id) => (byId.has(id) ? [entryFromRow(byId.get(id)!, now)] : []));
}

const patchSchema = z.object({
  kind: z.enum(MEMORY_KINDS).optional(),
  subject: text(MEMORY_LIMITS.subject, 'subject').refine((s) => s.trim() !== '', 'subject must not be empty').optional(),
  fact: text(MEMORY_LIMITS.fact, 'fact').refine((s) => s.trim() !== '', 'fact must not be empty').optional(),
  reason: text(MEMORY_LIMITS.reason, 'reason').optional(),
  confidence: z.number().min(0).max(1).optional(),
  pinned: z.boolean().optional(),
  scope: memoryScopeSchema.optional(),
});

/**
 * Edits an entry (a person's edit): changed subject, fact or scope are checked for contradictions
 * again; an edit of the text affirms the entry (live again unless superseded, expiry renewed).
 */
export async function updateMemoryEntry(db: DbOrTx, repositoryId: number, id: number, patch: MemoryPatch, at: string): Promise<MemoryEntry> {
  const p = check(patchSchema, patch);
  return inTransaction(db, async (tx) => {
    const row = await rowById(tx, repositoryId, id);
    if (!row) throw notFound('Memory entry not found');
    const set: Partial<Row> = { updated_at: at };
    if (p.kind !== undefined) set.kind = p.kind;
    if (p.subject !== undefined) {
      set.subject = p.subject.trim();
      set.subject_key = normalizeSubject(set.subject).slice(0, 512);
      if (!set.subject_key) throw invalid('subject must contain letters or digits', 'subject');
    }
    if (p.fact !== undefined) {
      set.fact = p.fact.trim();
      set.fact_key = normalizeFact(set.fact);
    }
    if (p.reason !== undefined) set.reason = p.reason.trim();
    if (p.confidence !== undefined) set.confidence = p.confidence;
    if (p.pinned !== undefined) set.pinned = p.pinned ? 1 : 0;
    if (p.scope !== undefined) {
      if (p.scope.agent !== undefined) set.scope_agent = p.scope.agent;
      if (p.scope.paths !== undefined) set.scope_paths = JSON.stringify([...new Set(p.scope.paths)].sort());
    }
    const affirmed = p.subject !== undefined || p.fact !== undefined || p.reason !== undefined || p.kind !== undefined;
    if (affirmed) {
      set.expires_at = plusTtl(at);
      if (row.status === 'stale') set.status = 'live';
    }
    await tx.updateTable('memory_entries').set(set).where('id', '=', row.id).execute();
    if (p.kind !== undefined && p.kind !== row.kind) await tx.updateTable('graph_nodes').set({ kind: p.kind }).where('id', '=', row.node_id).execute();
    if (p.subject !== undefined) await tx.updateTable('graph_nodes').set({ data: JSON.stringify({ entry_id: row.id, subject: set.subject }) }).where('id', '=', row.node_id).execute();
    const updated = (await rowById(tx, repositoryId, row.id))!;
    if ((p.subject !== undefined || p.fact !== undefined || p.scope !== undefined) && updated.status === 'live') await flagContradictions(tx, updated, at);
    return entryFromRow((await rowById(tx, repositoryId, row.id))!, at);
  });
}

/** Recomputes the contradiction flag of entries from their unresolved `contradicts` edges. */
async function refreshContradictionFlags(tx: DbOrTx, rows: Row[]): Promise<void> {
  for (const r of rows) {
    const open = await tx
      .selectFrom('graph_edges')
      .select('id')
      .where('kind', '=', 'contradicts')
      .where((eb) => eb.or([eb('src_id', '=', r.node_id), eb('dst_id', '=', r.node_id)]))
      .where('data', 'not like', '%"resolved":"%')
      .executeTakeFirst();
    await tx.updateTable('memory_entries').set({ contradiction: open ? 1 : 0 }).where('id', '=', r.id).execute();
  }
}

async function contradictingRows(tx: DbOrTx, row: Row): Promise<Row[]> {
  const edges = await tx.selectFrom('graph_edges').select(['src_id', 'dst_id']).where('kind', '=', 'contradicts').where((eb) => eb.or([eb('src_id', '=', row.node_id), eb('dst_id', '=', row.node_id)])).execute();
  const nodes = edges.map((e) => (e.src_id === row.node_id ? e.dst_id : e.src_id));
  if (nodes.length === 0) return [];
  return (await tx.selectFrom('memory_entries').selectAll().where('node_id', 'in', nodes).execute()) as Row[];
}

/** Deletes an entry, its citations and graph node (with its edges); entries it contradicted are unflagged if nothing else contradicts them. */
export async function deleteMemoryEntry(db: DbOrTx, repositoryId: number, id: number): Promise<void> {
  await inTransaction(db, async (tx) => {
    const row = await rowById(tx, repositoryId, id);
    if (!row) throw notFound('Memory entry not found');
    const partners = await contradictingRows(tx, row);
    await tx.deleteFrom('memory_entries').where('id', '=', row.id).execute();
    await tx.deleteFrom('graph_nodes').where('id', '=', row.node_id).where('repository_id', '=', repositoryId).execute();
    await refreshContradictionFlags(tx, partners);
    await scheduleMemoryIndexMaintenance(tx);
  });
}

/**
 * Resolves a contradiction between two entries: keep both (the edge is marked resolved), or one
 * supersedes the other (the loser's status becomes `superseded`, a `supersedes` edge winner → loser).
 */
export async function resolveContradiction(db: DbOrTx, repositoryId: number, entryId: number, otherId: number, resolution: ContradictionResolution, at: string): Promise<void> {
  await inTransaction(db, async (tx) => {
    const a = await rowById(tx, repositoryId, entryId);
    const b = await rowById(tx, repositoryId, otherId);
    if (!a || !b) throw notFound('Memory entry not found');
    const edges = await tx
      .selectFrom('graph_edges')
      .selectAll()
      .where('kind', '=', 'contradicts')
      .where((eb) => eb.or([eb.and([eb('src_id', '=', a.node_id), eb('dst_id', '=', b.node_id)]), eb.and([eb('src_id', '=', b.node_id), eb('dst_id', '=', a.node_id)])]))
      .execute();
    if (edges.length === 0) throw invalid(`memory entries ${a.id} and ${b.id} do not contradict each other`, 'other_id');
    let resolved: string;
    if (resolution.kind === 'supersede') {
      if (resolution.winner_id !== a.id && resolution.winner_id !== b.id) throw invalid('winner_id must be one of the two entries', 'winner_id');
      const [winner, loser] = resolution.winner_id === a.id ? [a, b] : [b, a];
      await tx.updateTable('memory_entries').set({ status: 'superseded', updated_at: at }).where('id', '=', loser.id).execute();
      await addEdge(tx, winner.node_id, loser.node_id, 'supersedes' satisfies EdgeKind, { at });
      resolved = `superseded_by_${winner.id}`;
    } else resolved = 'keep_both';
    for (const e of edges) {
      const data = { ...(JSON.parse(e.data) as Record<string, unknown>), resolved, resolved_at: at };
      await tx.updateTable('graph_edges').set({ data: JSON.stringify(data) }).where('id', '=', e.id).execute();
    }
    await refreshContradictionFlags(tx, [a, b]);
    await tx.updateTable('memory_entries').set({ updated_at: at }).where('id', 'in', [a.id, b.id]).execute();
  });
}

/** Entries that contradict this one (unresolved and resolved), for pages and the API. */
export async function memoryContradictions(db: DbOrTx, repositoryId: number, id: number): Promise<Array<{ entry: MemoryEntry; resolved: string | null }>> {
  const row = await rowById(db, repositoryId, id);
  if (!row) return [];
  const edges = await db.selectFrom('graph_edges').selectAll().where('kind', '=', 'contradicts').where((eb) => eb.or([eb('src_id', '=', row.node_id), eb('dst_id', '=', row.node_id)])).orderBy('id').execute();
  const out: Array<{ entry: MemoryEntry; resolved: string | null }> = [];
  for (const e of edges) {
    const other = (await db.selectFrom('memory_entries').selectAll().where('node_id', '=', e.src_id === row.node_id ? e.dst_id : e.src_id).executeTakeFirst()) as Row | undefined;
    if (other) out.push({ entry: entryFromRow(other), resolved: ((JSON.parse(e.data) as { resolved?: string | null }).resolved ?? null) });
  }
  return out;
}

/**
 * What a run was given: its `used_by` edges (run node → memory node, in prompt order, with whether the
 * citations held at the run's commit) and the memory section as rendered into its prompt.
 */
export async function memoryGivenToRun(db: DbOrTx, runId: number): Promise<{ entries: Array<{ entry: MemoryEntry; citations_valid: boolean }>; section: string | null }> {
  const run = await db.selectFrom('prompt_pull_request_jobs').select(['id', 'repository_id', 'memory_section']).where('id', '=', runId).executeTakeFirst();
  if (!run) return { entries: [], section: null };
  const node = await db.selectFrom('graph_nodes').select('id').where('repository_id', '=', run.repository_id).where('kind', '=', 'run').where('key', '=', String(run.id)).executeTakeFirst();
  if (!node) return { entries: [], section: run.memory_section };
  const edges = await db.selectFrom('graph_edges').select(['dst_id', 'data']).where('src_id', '=', node.id).where('kind', '=', 'used_by').execute();
  const rows = edges.length ? ((await db.selectFrom('memory_entries').selectAll().where('repository_id', '=', run.repository_id).where('node_id', 'in', edges.map((e) => e.dst_id)).execute()) as Row[]) : [];
  const byNode = new Map(rows.map((r) => [r.node_id, r]));
  const now = iso();
  const given = edges
    .map((e) => ({ row: byNode.get(e.dst_id), data: JSON.parse(e.data) as { position?: number; citations_valid?: boolean } }))
    .filter((g): g is { row: Row; data: { position?: number; citations_valid?: boolean } } => g.row !== undefined)
    .sort((x, y) => (x.data.position ?? 0) - (y.data.position ?? 0) || x.row.id - y.row.id);
  return { entries: given.map((g) => ({ entry: entryFromRow(g.row, now), citations_valid: g.data.citations_valid ?? true })), section: run.memory_section };
}
