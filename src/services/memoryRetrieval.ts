import { sql, type Selectable } from 'kysely';
import type { AppContext } from './app.ts';
import type { DbOrTx } from '../db/index.ts';
import type { Dialect } from '../db/migrationHelpers.ts';
import type { MemoryCitationsTable, MemoryEntriesTable, Run } from '../db/schema.ts';
import type { RepositoryWithOwner } from './repositories.ts';
import { repositoryGitDir } from './storage.ts';
import { addEdge, ensureNode } from './graph.ts';
import type { MemoryEntry, StoredCitation } from './memory.ts';
import { checkCitationsBatch, type CheckedCitation } from './memoryValidation.ts';
import { LruCache } from '../git/lru.ts';
import { oneOf, prepared } from '../db/pgPrepared.ts';
import { runGit } from '../git/exec.ts';
import { resolveCommit } from '../git/tree.ts';
import { matchesAny } from '../domain/glob.ts';
import { untrustedNonce } from '../domain/untrusted.ts';
import {
  estimateTokens,
  fts5Query,
  MEMORY_SECTION_OVERHEAD,
  MEMORY_TTL_MS,
  rankMemory,
  renderMemoryLine,
  renderMemorySection,
  taskPaths,
  taskTerms,
  tsQuery,
  type MemoryCandidate,
  type RenderedMemory,
} from '../domain/memory.ts';

/**
 * Retrieval at the choke point (DESIGN §9 "Memory"): the one function that picks what a run is told.
 * Candidates come from full text (SQLite FTS5 / PostgreSQL tsvector) on the task, citations of the
 * paths the task names or the source branch changed, pinned entries and entries scoped to the run's
 * agent; they are ranked (domain/memory.ts rankMemory: deterministic), then validated just in time in
 * rank order at the run's source commit — an entry whose citations no longer hold is left out and
 * marked stale — until the token budget is spent.
 */

export interface MemoryQuery {
  repositoryId: number;
  agentKey: string | null;
  /** The task's title and prompt. */
  task: string;
  /** The commit citations are checked at (the run's source). */
  commit: string;
  /** Paths of the run: named by the task, changed by the source branch. */
  paths: string[];
}

/** What a run's prompt shows of an entry, and what recording its use needs. */
export type GivenMemory = Pick<MemoryEntry, 'id' | 'node_id' | 'kind' | 'subject' | 'fact' | 'reason' | 'source'>;

export interface SelectedMemory {
  entry: GivenMemory;
  citations: CheckedCitation[];
  rendered: RenderedMemory;
}

export interface MemorySelection {
  entries: SelectedMemory[];
  /** Entries whose citations no longer hold at the commit: to be marked stale. */
  stale: number[];
  /** The rendered section (null when nothing was selected). */
  section: string | null;
  /** How many candidates were ranked. */
  considered: number;
  /** Milliseconds spent per phase (for benchmarks and profiling). */
  timings: MemoryTimings;
}

/** Where one retrieval spent its time, in milliseconds. */
export interface MemoryTimings {
  /** The candidates with their ranking columns: full text, citation paths, pinned, agent (one SQL statement). */
  candidates: number;
  /** Status, expiry and scope filtering. */
  filter: number;
  rank: number;
  /** The ranked entries' rows and citations (SQL). */
  fetch: number;
  /** Just-in-time validation (blob ids at the commit, verdicts, blob reads and line checks). */
  validate: number;
  /** Budget and the prompt section. */
  render: number;
}

// Each source gives at most about twice what validation looks at (the top `validate` of the ranking).
const LIMITS = { paths: 120, pinned: 50, agent: 50, validate: 60 };
const PER_TERM = 30;

/**
 * One candidate hit: a term's match (t ≥ 0), a citation of a run path (t = -1), pinned (-2) or the
 * agent's (-3); with what ranking needs of its entry, which is live, unexpired (or pinned) and in the
 * run's agent scope.
 */
interface HitRow {
  id: number;
  t: number;
  path: string | null;
  kind: string;
  /** Scoped to the run's agent (not to every agent). */
  agent: boolean;
  /** The entry's path globs (JSON), null when it has none. */
  scope_paths: string | null;
  pinned: number;
  confidence: number;
  /** When it was last validated, else created. */
  fresh_at: string;
}

const HIT = { path: -1, pinned: -2, agent: -3 } as const;

type CitationRow = Pick<MemoryCitationsTable, 'entry_id' | 'path' | 'start_line' | 'end_line' | 'commit_sha' | 'content_hash' | 'text' | 'repository_id'>;

/** The columns of a given entry: each column read costs (at 100,000 entries, all 24 took 4× the time of these). */
const GIVEN_COLUMNS = ['id', 'repository_id', 'node_id', 'kind', 'subject', 'fact', 'reason', 'source_type', 'source_id', 'source_label'] as const satisfies readonly (keyof MemoryEntriesTable)[];

/**
 * Every candidate of a run in one statement (one round trip), each with the columns ranking needs:
 * - full text with a bounded cost: per term of the task (at most 12), the most recent matching entries
 *   (SQLite FTS5 MATCH / PostgreSQL tsvector @@, newest first, at most PER_TERM) — never a ranking of
 *   every match, which for common words in a large store costs far more than the budget;
 * - the newest entries citing the run's paths (index memory_citations_path_entry, in order);
 * - pinned entries, and entries scoped to the run's agent.
 */
async function candidateHits(db: DbOrTx, dialect: Dialect, q: MemoryQuery, paths: string[], at: string): Promise<HitRow[]> {
  const terms = taskTerms(q.task, 12);
  const rid = q.repositoryId;
  const common = dialect === 'postgres' && terms.length ? await commonLexemes(db) : null;
  // Each part in its own sub-select (its order and limit apply to it alone): SQLite's form wraps it, PostgreSQL's parenthesizes it.
  const part = (body: ReturnType<typeof sql>) => (dialect === 'sqlite' ? sql`select * from (${body})` : sql`(${body})`);
  const noPath = sql`cast(null as varchar(1024))`;
  // Every part reads its entries' ranking columns itself (PostgreSQL's parts read those rows anyway: no
  // second lookup of each hit) and only entries a run may be given: live, unexpired or pinned, in scope
  // of the run's agent — so expired and stale entries never take a part's places.
  const columns = sql`e.kind, e.scope_agent is not null as agent, nullif(e.scope_paths, '[]') as scope_paths, e.pinned, e.confidence, coalesce(e.validated_at, e.created_at) as fresh_at`;
  const eligible = sql`e.status = 'live' and (e.pinned = 1 or e.expires_at >= ${at}) and (e.scope_agent is null or e.scope_agent = ${q.agentKey ?? ''})`;
  const parts = [];
  if (dialect === 'sqlite') {
    for (const [i, term] of terms.entries()) {
      parts.push(part(sql`select e.id, ${sql.lit(i)} as t, ${noPath} as path, ${columns} from memory_fts f join memory_entries e on e.id = f.rowid
        where memory_fts match ${fts5Query(rid, [term])!} and ${eligible} order by f.rowid desc limit ${sql.lit(PER_TERM)}`));
    }
  } else {
    // A common word: walking ids newest first finds PER_TERM matches at once. A rare one (not among the
    // column's most common elements): its few matches from the GIN index, then sorted — walking the ids
    // would read the whole table looking for them. Common words come first, so the statement's text
    // depends only on how many of each there are (it is prepared by name: a bounded number of forms).
    const queries = terms.map((term) => tsQuery([term])).filter((q): q is string => q !== null);
    const ordered = [...queries.filter((q) => common!.has(q)).map((q) => ({ q, order: sql`e.id desc` })), ...queries.filter((q) => !common!.has(q)).map((q) => ({ q, order: sql`e.id + 0 desc` }))];
    for (const [i, { q: query, order }] of ordered.entries()) {
      parts.push(part(sql`select e.id, ${sql.lit(i)} as t, ${noPath} as path, ${columns} from memory_entries e
        where e.repository_id = ${rid} and e.search @@ to_tsquery('simple', ${query}) and ${eligible} order by ${order} limit ${sql.lit(PER_TERM)}`));
    }
  }
  if (paths.length) {
    const citing = (pathIs: ReturnType<typeof sql>) => sql`select c.entry_id as id, ${sql.lit(HIT.path)} as t, c.path, ${columns} from memory_citations c join memory_entries e on e.id = c.entry_id
      where c.repository_id = ${rid} and ${pathIs} and ${eligible} order by c.entry_id desc limit ${sql.lit(LIMITS.paths)}`;
    if (dialect === 'sqlite') parts.push(part(citing(sql`c.path in (${sql.join(paths)})`)));
    // PostgreSQL walks the index in entry order for one path only (not for a list): each path's newest
    // citing entries, then the newest of those — and the statement's text is the same for any number of paths.
    else parts.push(part(sql`select h.* from unnest(cast(${paths} as text[])) as p(path) cross join lateral (${citing(sql`c.path = p.path`)}) h order by h.id desc limit ${sql.lit(LIMITS.paths)}`));
  }
  parts.push(part(sql`select e.id, ${sql.lit(HIT.pinned)} as t, ${noPath} as path, ${columns} from memory_entries e where e.repository_id = ${rid} and e.pinned = 1 and ${eligible} order by e.id limit ${sql.lit(LIMITS.pinned)}`));
  if (q.agentKey) {
    parts.push(part(sql`select e.id, ${sql.lit(HIT.agent)} as t, ${noPath} as path, ${columns} from memory_entries e where e.repository_id = ${rid} and e.scope_agent = ${q.agentKey} and ${eligible} order by e.id desc limit ${sql.lit(LIMITS.agent)}`));
  }
  const rows = await prepared(sql<HitRow>`${sql.join(parts, sql` union all `)}`).execute(db);
  return rows.rows.map((r) => ({ ...r, id: Number(r.id), t: Number(r.t), agent: Boolean(r.agent), pinned: Number(r.pinned), confidence: Number(r.confidence) }));
}

/**
 * Full-text order from the term hits: an entry's text score sums its matched terms, a term weighing
 * more the fewer entries it matched (a rare word says more). The ids in score order (ties: newest first).
 */
function textOrder(hits: HitRow[]): number[] {
  const byTerm = new Map<number, number[]>();
  for (const h of hits) {
    if (h.t < 0) continue;
    const ids = byTerm.get(h.t);
    if (ids) ids.push(h.id);
    else byTerm.set(h.t, [h.id]);
  }
  const score = new Map<number, number>();
  for (const ids of byTerm.values()) {
    const weight = 1 + (PER_TERM - ids.length) / PER_TERM;
    for (const id of ids) score.set(id, (score.get(id) ?? 0) + weight);
  }
  return [...score.entries()].sort((a, b) => b[1] - a[1] || b[0] - a[0]).map(([id]) => id);
}

/**
 * The ranked entries (the columns a prompt shows) and their citations (in citation order): two lean
 * statements, together, by primary key and entry id alone — with `repository_id = ?` too, SQLite walks
 * the repository's index instead (every entry) —, the repository checked here.
 */
async function rankedEntries(db: DbOrTx, dialect: Dialect, repositoryId: number, ids: number[]) {
  const [{ rows }, { rows: cited }] = await Promise.all([
    prepared(sql<Pick<Selectable<MemoryEntriesTable>, (typeof GIVEN_COLUMNS)[number]>>`select ${sql.join(GIVEN_COLUMNS.map((c) => sql.ref(c)))} from memory_entries where ${oneOf(dialect, 'id', ids)}`).execute(db),
    prepared(sql<CitationRow>`select entry_id, path, start_line, end_line, commit_sha, content_hash, text, repository_id from memory_citations where ${oneOf(dialect, 'entry_id', ids)} order by entry_id, id`).execute(db),
  ]);
  const entries = new Map<number, GivenMemory>();
  for (const r of rows) {
    if (r.repository_id !== repositoryId) continue;
    entries.set(r.id, { id: r.id, node_id: r.node_id, kind: r.kind as GivenMemory['kind'], subject: r.subject, fact: r.fact, reason: r.reason, source: { type: r.source_type as GivenMemory['source']['type'], id: r.source_id, ...(r.source_label ? { label: r.source_label } : {}) } });
  }
  const citations = new Map<number, Array<StoredCitation & { text: string }>>();
  for (const c of cited) {
    if (c.repository_id !== repositoryId) continue;
    const list = citations.get(c.entry_id) ?? [];
    list.push({ path: c.path, start_line: c.start_line, end_line: c.end_line, commit: c.commit_sha, content_hash: c.content_hash, text: c.text });
    citations.set(c.entry_id, list);
  }
  return { rows: entries, citations };
}

let lexemes: { at: number; set: Set<string> } | null = null;

/** PostgreSQL's most common lexemes of memory_entries.search (from ANALYZE's statistics), cached for 5 minutes. */
async function commonLexemes(db: DbOrTx): Promise<Set<string>> {
  if (lexemes && Date.now() - lexemes.at < 300_000) return lexemes.set;
  const rows = await sql<{ term: string }>`select unnest(most_common_elems::text::text[]) as term from pg_stats where schemaname = current_schema() and tablename = 'memory_entries' and attname = 'search'`.execute(db);
  lexemes = { at: Date.now(), set: new Set(rows.rows.map((r) => r.term)) };
  return lexemes.set;
}

/**
 * Picks, validates and renders the memory for one run (no writes: recordMemoryUse stores the outcome).
 * Round trips: the candidates with their ranking columns (one statement); the ranked entries' rows and
 * citations (two statements, together); the citations' blobs at the commit (memoryValidation: trees and
 * blobs by id, all at once, mostly cached).
 */
export async function retrieveMemory(db: DbOrTx, dialect: Dialect, gitDir: string, q: MemoryQuery, budgetTokens: number, at: string): Promise<MemorySelection> {
  const timings: MemoryTimings = { candidates: 0, filter: 0, rank: 0, fetch: 0, validate: 0, render: 0 };
  let mark = performance.now();
  const lap = (phase: keyof MemoryTimings) => {
    const t = performance.now();
    timings[phase] += t - mark;
    mark = t;
  };
  const paths = [...new Set(q.paths)].slice(0, 200);
  const hits = await candidateHits(db, dialect, q, paths, at);
  lap('candidates');
  if (hits.length === 0) return { entries: [], stale: [], section: null, considered: 0, timings };
  const textIds = textOrder(hits);
  const textRank = new Map(textIds.map((id, i) => [id, i]));
  const cited = new Map<number, Set<string>>();
  const byId = new Map<number, HitRow>();
  for (const h of hits) {
    if (h.t === HIT.path && h.path !== null) cited.set(h.id, (cited.get(h.id) ?? new Set()).add(h.path));
    if (!byId.has(h.id)) byId.set(h.id, h);
  }
  const candidates: MemoryCandidate[] = [];
  for (const r of [...byId.values()].sort((a, b) => a.id - b.id)) {
    const scopePaths = r.scope_paths === null ? [] : (JSON.parse(r.scope_paths) as string[]);
    const scoped = scopePaths.length ? paths.filter((p) => matchesAny(scopePaths, p)).length : 0;
    if (scopePaths.length && scoped === 0) continue; // path-scoped: only for runs on those paths
    candidates.push({
      id: r.id,
      kind: r.kind,
      textRank: textRank.get(r.id) ?? null,
      pathOverlap: (cited.get(r.id)?.size ?? 0) + scoped,
      agentMatch: r.agent,
      pinned: r.pinned === 1,
      confidence: r.confidence,
      freshAt: r.fresh_at,
    });
  }
  lap('filter');
  const ranked = rankMemory(candidates, at, textIds.length).slice(0, LIMITS.validate);
  lap('rank');
  if (ranked.length === 0) return { entries: [], stale: [], section: null, considered: candidates.length, timings };
  const { rows: rowById, citations } = await rankedEntries(db, dialect, q.repositoryId, ranked.map((c) => c.id));
  lap('fetch');
  // Every ranked entry's citations checked together; only those reached before the budget is spent count.
  const checks = await checkCitationsBatch(gitDir, q.commit, ranked.map((c) => citations.get(c.id) ?? []));
  lap('validate');
  const chosen: SelectedMemory[] = [];
  const stale: number[] = [];
  let left = budgetTokens - MEMORY_SECTION_OVERHEAD;
  for (const [i, c] of ranked.entries()) {
    if (left < 24) break;
    const entry = rowById.get(c.id);
    if (!entry) continue; // deleted since the candidates were read
    const check = checks[i]!;
    if (!check.valid) {
      stale.push(c.id);
      continue;
    }
    const rendered: RenderedMemory = {
      id: entry.id,
      kind: entry.kind,
      subject: entry.subject,
      fact: entry.fact,
      reason: entry.reason,
      sourceType: entry.source.type,
      sourceLabel: entry.source.type === 'person' ? `written by ${entry.source.label ?? 'a person'}` : `learned from ${entry.source.label ?? entry.source.type}`,
      citations: check.checked.map((k) => ({ path: k.path, start_line: k.at_start_line!, end_line: k.at_end_line!, ...(k.moved ? { moved_from: k.start_line } : {}) })),
    };
    const cost = estimateTokens(renderMemoryLine(rendered)) + 1;
    if (cost > left) continue;
    left -= cost;
    chosen.push({ entry, citations: check.checked, rendered });
  }
  const section = renderMemorySection(chosen.map((s) => s.rendered), q.commit, untrustedNonce());
  lap('render');
  return { entries: chosen, stale, section, considered: candidates.length, timings };
}

const changedPathsCache = new LruCache<string, string[]>(1000, Number.POSITIVE_INFINITY, 'memory.changedPaths');

/** Paths the source branch changed against the base branch (merge-base diff); [] when they are the same. */
async function changedPaths(gitDir: string, run: Run): Promise<string[]> {
  if (!run.source_branch || run.source_branch === run.base_branch) return [];
  const base = await resolveCommit(gitDir, `refs/heads/${run.base_branch}`);
  if (!base || base === run.source_commit) return [];
  const key = `${gitDir}\0${base}\0${run.source_commit}`;
  const hit = changedPathsCache.get(key);
  if (hit) return hit;
  const r = await runGit(['diff', '--name-only', '--no-renames', '-z', `${base}...${run.source_commit}`, '--'], { gitDir });
  const paths = r.code === 0 ? r.stdout.toString().split('\0').filter(Boolean).slice(0, 500) : [];
  changedPathsCache.set(key, paths);
  return paths;
}

/** The memory for a run's prompt: its task, agent, source commit and paths (named or changed). */
export async function selectMemoryForRun(app: AppContext, run: Run, repo: RepositoryWithOwner, at: string): Promise<MemorySelection> {
  const gitDir = repositoryGitDir(app, repo);
  const task = `${run.title}\n${run.prompt}`;
  const paths = [...taskPaths(task), ...(await changedPaths(gitDir, run))];
  return retrieveMemory(app.db, app.dialect, gitDir, { repositoryId: repo.id, agentKey: run.agent_key, task, commit: run.source_commit, paths }, app.config.memoryBudgetTokens, at);
}

/**
 * Records what the run was given, in the transaction that stores its prompt: `used_by` edges (run →
 * memory, in prompt order), the rendered section, expiry renewed (validated now) for the entries given,
 * and the entries whose citations failed marked stale.
 */
export async function recordMemoryUse(db: DbOrTx, run: Run, selection: MemorySelection | null, at: string): Promise<void> {
  await db.updateTable('prompt_pull_request_jobs').set({ memory_section: selection?.section ?? null }).where('id', '=', run.id).execute();
  if (!selection) return;
  if (selection.stale.length) await db.updateTable('memory_entries').set({ status: 'stale', updated_at: at }).where('id', 'in', selection.stale).where('status', '=', 'live').execute();
  if (selection.entries.length === 0) return;
  const runNode = await ensureNode(db, run.repository_id, 'run', String(run.id), { run_id: run.id, number: run.number });
  for (const [position, s] of selection.entries.entries()) {
    await addEdge(db, runNode, s.entry.node_id, 'used_by', { position, citations_valid: true, citations: s.citations.map((c) => ({ path: c.path, start_line: c.at_start_line, end_line: c.at_end_line, moved: c.moved })), at });
  }
  // Use renews an entry's expiry; its citations were validated now (when it has any).
  const expires = new Date(Date.parse(at) + MEMORY_TTL_MS).toISOString();
  const validated = selection.entries.filter((s) => s.citations.length > 0).map((s) => s.entry.id);
  const uncited = selection.entries.filter((s) => s.citations.length === 0).map((s) => s.entry.id);
  if (validated.length) await db.updateTable('memory_entries').set({ validated_at: at, expires_at: expires }).where('id', 'in', validated).execute();
  if (uncited.length) await db.updateTable('memory_entries').set({ expires_at: expires }).where('id', 'in', uncited).execute();
}

/**
 * `selectMemoryForRun` for prepareRunJob: null when memory is off (budget 0) or retrieval failed —
 * a run is never held up by its memory (the failure is logged).
 */
export async function selectRunMemory(app: AppContext, run: Run, repo: RepositoryWithOwner, at: string): Promise<MemorySelection | null> {
  if (app.config.memoryBudgetTokens <= 0) return null;
  try {
    return await selectMemoryForRun(app, run, repo, at);
  } catch (err) {
    console.error(`gitoku: memory retrieval for run ${run.id} failed: ${(err as Error).message}`);
    return null;
  }
}
