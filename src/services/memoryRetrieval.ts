import { sql } from 'kysely';
import type { AppContext } from './app.ts';
import type { DbOrTx } from '../db/index.ts';
import type { Dialect } from '../db/migrationHelpers.ts';
import type { Run } from '../db/schema.ts';
import type { RepositoryWithOwner } from './repositories.ts';
import { repositoryGitDir } from './storage.ts';
import { addEdge, ensureNode } from './graph.ts';
import { entryFromRow, storedCitations, type MemoryEntry } from './memory.ts';
import { checkCitations, type CheckedCitation } from './memoryValidation.ts';
import { LruCache } from '../git/lru.ts';
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

export interface SelectedMemory {
  entry: MemoryEntry;
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
}

const LIMITS = { paths: 200, pinned: 50, agent: 50, validate: 60 };

/**
 * Full-text candidates with a bounded cost: per term of the task (at most 12), the most recent
 * matching entries (SQLite FTS5 MATCH / PostgreSQL tsvector @@, newest first, at most PER_TERM) —
 * never a ranking of every match, which for common words in a large store costs far more than the
 * budget. An entry's text score sums its matched terms, a term weighing more the fewer entries it
 * matched (a rare word says more). Returns the entries in score order (ties: newest first).
 */
async function textCandidates(db: DbOrTx, dialect: Dialect, repositoryId: number, task: string): Promise<number[]> {
  const terms = taskTerms(task, 12);
  // One statement: a sub-select per term (newest PER_TERM matches each), tagged with the term's index.
  const parts = [];
  const common = dialect === 'postgres' ? await commonLexemes(db) : null;
  for (const [i, term] of terms.entries()) {
    if (dialect === 'sqlite') {
      parts.push(sql`select * from (select rowid as id, ${sql.lit(i)} as t from memory_fts where memory_fts match ${fts5Query(repositoryId, [term])!} order by rowid desc limit ${PER_TERM})`);
    } else {
      const query = tsQuery([term]);
      if (!query) continue;
      // A common word: walking ids newest first finds PER_TERM matches at once. A rare one (not among the
      // column's most common elements): its few matches from the GIN index, then sorted — walking the ids
      // would read the whole table looking for them.
      const order = common!.has(query) ? sql`id desc` : sql`id + 0 desc`;
      parts.push(sql`(select id, ${sql.lit(i)} as t from memory_entries where repository_id = ${repositoryId} and search @@ to_tsquery('simple', ${query}) order by ${order} limit ${PER_TERM})`);
    }
  }
  if (parts.length === 0) return [];
  const rows = (await sql<{ id: number; t: number }>`${sql.join(parts, sql` union all `)}`.execute(db)).rows;
  const hits = new Map<number, number[]>();
  for (const r of rows) hits.set(Number(r.t), [...(hits.get(Number(r.t)) ?? []), Number(r.id)]);
  const score = new Map<number, number>();
  for (const ids of hits.values()) {
    const weight = 1 + (PER_TERM - ids.length) / PER_TERM;
    for (const id of ids) score.set(id, (score.get(id) ?? 0) + weight);
  }
  return [...score.entries()].sort((a, b) => b[1] - a[1] || b[0] - a[0]).map(([id]) => id);
}

const PER_TERM = 30;

let lexemes: { at: number; set: Set<string> } | null = null;

/** PostgreSQL's most common lexemes of memory_entries.search (from ANALYZE's statistics), cached for 5 minutes. */
async function commonLexemes(db: DbOrTx): Promise<Set<string>> {
  if (lexemes && Date.now() - lexemes.at < 300_000) return lexemes.set;
  const rows = await sql<{ term: string }>`select unnest(most_common_elems::text::text[]) as term from pg_stats where schemaname = current_schema() and tablename = 'memory_entries' and attname = 'search'`.execute(db);
  lexemes = { at: Date.now(), set: new Set(rows.rows.map((r) => r.term)) };
  return lexemes.set;
}

/** Picks, validates and renders the memory for one run (no writes: recordMemoryUse stores the outcome). */
export async function retrieveMemory(db: DbOrTx, dialect: Dialect, gitDir: string, q: MemoryQuery, budgetTokens: number, at: string): Promise<MemorySelection> {
  const paths = [...new Set(q.paths)].slice(0, 200);
  const [textIds, pathRows, pinned, agentRows] = await Promise.all([
    textCandidates(db, dialect, q.repositoryId, q.task),
    paths.length
      ? db.selectFrom('memory_citations').select(['entry_id', 'path']).where('repository_id', '=', q.repositoryId).where('path', 'in', paths).orderBy('entry_id', 'desc').limit(LIMITS.paths).execute()
      : Promise.resolve([]),
    db.selectFrom('memory_entries').select('id').where('repository_id', '=', q.repositoryId).where('pinned', '=', 1).where('status', '=', 'live').orderBy('id').limit(LIMITS.pinned).execute(),
    q.agentKey
      ? db.selectFrom('memory_entries').select('id').where('repository_id', '=', q.repositoryId).where('scope_agent', '=', q.agentKey).where('status', '=', 'live').orderBy('id', 'desc').limit(LIMITS.agent).execute()
      : Promise.resolve([]),
  ]);
  const textRank = new Map(textIds.map((id, i) => [id, i]));
  const cited = new Map<number, Set<string>>();
  for (const r of pathRows) cited.set(r.entry_id, (cited.get(r.entry_id) ?? new Set()).add(r.path));
  const ids = [...new Set([...textIds, ...cited.keys(), ...pinned.map((r) => r.id), ...agentRows.map((r) => r.id)])];
  if (ids.length === 0) return { entries: [], stale: [], section: null, considered: 0 };
  const rows = await db
    .selectFrom('memory_entries')
    .selectAll()
    .where('repository_id', '=', q.repositoryId)
    .where('id', 'in', ids)
    .where('status', '=', 'live')
    .where((eb) => eb.or([eb('pinned', '=', 1), eb('expires_at', '>=', at)]))
    .execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  const candidates: MemoryCandidate[] = [];
  for (const r of rows) {
    if (r.scope_agent !== null && r.scope_agent !== q.agentKey) continue;
    const scopePaths = JSON.parse(r.scope_paths) as string[];
    const scoped = scopePaths.length ? paths.filter((p) => matchesAny(scopePaths, p)).length : 0;
    if (scopePaths.length && scoped === 0) continue; // path-scoped: only for runs on those paths
    candidates.push({
      id: r.id,
      kind: r.kind,
      textRank: textRank.get(r.id) ?? null,
      pathOverlap: (cited.get(r.id)?.size ?? 0) + scoped,
      agentMatch: r.scope_agent !== null,
      pinned: r.pinned === 1,
      confidence: Number(r.confidence),
      freshAt: r.validated_at ?? r.created_at,
    });
  }
  const ranked = rankMemory(candidates, at, textIds.length).slice(0, LIMITS.validate);
  const citations = await storedCitations(db, ranked.map((c) => c.id));
  const chosen: SelectedMemory[] = [];
  const stale: number[] = [];
  let left = budgetTokens - MEMORY_SECTION_OVERHEAD;
  for (const c of ranked) {
    if (left < 24) break;
    const row = byId.get(c.id)!;
    const entry = entryFromRow(row, at);
    const check = await checkCitations(gitDir, q.commit, citations.get(c.id) ?? []);
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
  return { entries: chosen, stale, section, considered: candidates.length };
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
