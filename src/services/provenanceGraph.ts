import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { notFound } from './errors.ts';
import type { DbOrTx } from '../db/index.ts';
import type { CommitAiContext, GraphEdge, GraphNode, Run } from '../db/schema.ts';
import { type FileSpans, normalizeFileSpans } from '../domain/spans.ts';
import { isSafeRepoPath } from '../git/tree.ts';
import type { EdgeKind, NodeKind } from './graph.ts';

/**
 * The provenance side of the knowledge graph (DESIGN §3; single-node helpers live in graph.ts): batched
 * node upserts and edges, written in the same transaction as the provenance rows they describe, the
 * backfill, and the read side for the graph API and pages:
 *
 *   run ──forked_from──▶ run            run ──about──▶ pull_request
 *   evidence ──produced_by──▶ run        (or ──produced_by──▶ agent for evidence from outside gitoku)
 *   evidence ──derived_from──▶ file_range (path, line range, commit)
 *   evidence ──about──▶ commit           evidence ──about──▶ pull_request (the one that brought its commit)
 */

export interface NodeInput {
  kind: NodeKind;
  key: string;
  data: Record<string, unknown>;
}

export interface EdgeInput {
  src: number;
  dst: number;
  kind: EdgeKind;
  data?: Record<string, unknown>;
}

const MAX_KEY = 512;

function nodeId(kind: string, key: string): string {
  return `${kind}\u0000${key}`;
}

/** Inserts or refreshes nodes (data replaced) and returns their ids by (kind, key). */
export async function upsertGraphNodes(db: DbOrTx, repositoryId: number, nodes: NodeInput[]): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  const unique = new Map<string, NodeInput>();
  for (const n of nodes) unique.set(nodeId(n.kind, n.key), n);
  const rows = [...unique.values()];
  const at = now();
  for (let i = 0; i < rows.length; i += 200) {
    const chunk = rows.slice(i, i + 200);
    const inserted = await db
      .insertInto('graph_nodes')
      .values(chunk.map((n) => ({ repository_id: repositoryId, kind: n.kind, key: n.key, data: JSON.stringify(n.data), created_at: at })))
      .onConflict((oc) => oc.columns(['repository_id', 'kind', 'key']).doUpdateSet((eb) => ({ data: eb.ref('excluded.data') })))
      .returning(['id', 'kind', 'key'])
      .execute();
    for (const r of inserted) ids.set(nodeId(r.kind, r.key), r.id);
  }
  return ids;
}

/** Inserts edges that do not exist yet. */
export async function insertGraphEdges(db: DbOrTx, edges: EdgeInput[]): Promise<void> {
  const unique = new Map<string, EdgeInput>();
  for (const e of edges) unique.set(`${e.src}:${e.dst}:${e.kind}`, e);
  const rows = [...unique.values()];
  const at = now();
  for (let i = 0; i < rows.length; i += 200) {
    await db
      .insertInto('graph_edges')
      .values(rows.slice(i, i + 200).map((e) => ({ src_id: e.src, dst_id: e.dst, kind: e.kind, data: JSON.stringify(e.data ?? {}), created_at: at })))
      .onConflict((oc) => oc.columns(['src_id', 'dst_id', 'kind']).doNothing())
      .execute();
  }
}

export function runNodeKey(runId: number): string {
  return String(runId);
}

export function evidenceNodeKey(commitSha: string, captureIndex: number): string {
  return `${commitSha}:${captureIndex}`;
}

/** file_range keys: "<commit>:<start>-<end>:<path>", the path hashed when the key would be too long. */
export function fileRangeNodeKey(commitSha: string, path: string, start: number, end: number): string {
  const key = `${commitSha}:${start}-${end}:${path}`;
  return key.length <= MAX_KEY ? key : `${commitSha}:${start}-${end}:#${createHash('sha256').update(path).digest('hex')}`;
}

function agentNodeKey(family: string, model: string): string {
  return `${family}/${model}`.slice(0, MAX_KEY);
}

type RunFacts = Pick<Run, 'id' | 'number' | 'driver' | 'model' | 'status' | 'title' | 'compare_branch' | 'pull_request_id' | 'forked_from_job_id'> & { commit_sha: string | null };

/** The run's node, its `forked_from` edge to the source run and its `about` edge to its pull request. */
export async function writeRunGraph(db: DbOrTx, repositoryId: number, run: RunFacts): Promise<number> {
  const nodes: NodeInput[] = [
    { kind: 'run', key: runNodeKey(run.id), data: { run_id: run.id, number: run.number, title: run.title, driver: run.driver, model: run.model, status: run.status, commit_sha: run.commit_sha, compare_branch: run.compare_branch, pull_request_id: run.pull_request_id } },
  ];
  let source: Pick<Run, 'id' | 'number'> | undefined;
  if (run.forked_from_job_id) {
    source = await db.selectFrom('prompt_pull_request_jobs').select(['id', 'number']).where('id', '=', run.forked_from_job_id).executeTakeFirst();
    // Keep the source's existing data when it already has a node; a bare node otherwise.
    if (source) {
      const existing = await db.selectFrom('graph_nodes').select('id').where('repository_id', '=', repositoryId).where('kind', '=', 'run').where('key', '=', runNodeKey(source.id)).executeTakeFirst();
      if (!existing) nodes.push({ kind: 'run', key: runNodeKey(source.id), data: { run_id: source.id, number: source.number } });
    }
  }
  let pr: { id: number; number: number } | undefined;
  if (run.pull_request_id) {
    pr = await db.selectFrom('pull_requests').select(['id', 'number']).where('id', '=', run.pull_request_id).executeTakeFirst();
    if (pr) nodes.push({ kind: 'pull_request', key: String(pr.number), data: { pull_request_id: pr.id, number: pr.number } });
  }
  const ids = await upsertGraphNodes(db, repositoryId, nodes);
  const runId = ids.get(nodeId('run', runNodeKey(run.id)))!;
  const edges: EdgeInput[] = [];
  if (source) {
    const src = ids.get(nodeId('run', runNodeKey(source.id))) ?? (await db.selectFrom('graph_nodes').select('id').where('repository_id', '=', repositoryId).where('kind', '=', 'run').where('key', '=', runNodeKey(source.id)).executeTakeFirst())?.id;
    if (src) edges.push({ src: runId, dst: src, kind: 'forked_from' });
  }
  if (pr) edges.push({ src: runId, dst: ids.get(nodeId('pull_request', String(pr.number)))!, kind: 'about' });
  await insertGraphEdges(db, edges);
  return runId;
}

/**
 * Evidence nodes for stored captures and what they connect to: a file_range node per (path, span),
 * `derived_from` evidence → file_range, `produced_by` evidence → run (or → agent for outside evidence),
 * `about` evidence → commit. Run nodes a capture points to must exist or are created bare.
 */
export async function writeCaptureGraph(db: DbOrTx, repositoryId: number, captures: CommitAiContext[]): Promise<void> {
  if (captures.length === 0) return;
  const nodes: NodeInput[] = [];
  const plan: { evidence: string; ranges: string[]; producer: string; commit: string; pullRequest: string | null }[] = [];
  const runIds = [...new Set(captures.map((c) => c.run_id).filter((id): id is number => id !== null))];
  const runs = runIds.length ? await db.selectFrom('prompt_pull_request_jobs').select(['id', 'number']).where('id', 'in', runIds).execute() : [];
  // Existing run nodes keep their data; runs without one get a bare node.
  const knownRuns = new Map<string, number>();
  if (runIds.length) {
    for (const r of await db.selectFrom('graph_nodes').select(['id', 'key']).where('repository_id', '=', repositoryId).where('kind', '=', 'run').where('key', 'in', runIds.map(runNodeKey)).execute()) knownRuns.set(r.key, r.id);
  }
  for (const r of runs) if (!knownRuns.has(runNodeKey(r.id))) nodes.push({ kind: 'run', key: runNodeKey(r.id), data: { run_id: r.id, number: r.number } });
  const runExists = new Set(runs.map((r) => r.id));
  const prIds = [...new Set(captures.map((c) => c.pull_request_id).filter((id): id is number => id !== null))];
  const prs = new Map<number, number>();
  if (prIds.length) for (const p of await db.selectFrom('pull_requests').select(['id', 'number']).where('id', 'in', prIds).execute()) prs.set(p.id, p.number);
  for (const [id, number] of prs) nodes.push({ kind: 'pull_request', key: String(number), data: { pull_request_id: id, number } });
  for (const c of captures) {
    const evidenceKey = evidenceNodeKey(c.commit_sha, c.capture_index);
    nodes.push({
      kind: 'evidence',
      key: evidenceKey,
      data: { capture_id: c.id, commit_sha: c.commit_sha, capture_index: c.capture_index, source_family: c.source_family, exact_model_name: c.exact_model_name, evidence_kind: c.evidence_kind, capture_confidence: c.capture_confidence, run_id: c.run_id },
    });
    nodes.push({ kind: 'commit', key: c.commit_sha, data: { sha: c.commit_sha } });
    let producer: string;
    if (c.run_id !== null && runExists.has(c.run_id)) producer = nodeId('run', runNodeKey(c.run_id));
    else {
      const key = agentNodeKey(c.source_family, c.exact_model_name);
      nodes.push({ kind: 'agent', key, data: { source_family: c.source_family, exact_model_name: c.exact_model_name } });
      producer = nodeId('agent', key);
    }
    const ranges: string[] = [];
    const spans: FileSpans = normalizeFileSpans(safeJson(c.modified_line_spans_json), isSafeRepoPath);
    for (const [path, list] of Object.entries(spans)) {
      for (const [start, end] of list) {
        const key = fileRangeNodeKey(c.commit_sha, path, start, end);
        nodes.push({ kind: 'file_range', key, data: { path, start_line: start, end_line: end, commit_sha: c.commit_sha } });
        ranges.push(nodeId('file_range', key));
      }
    }
    const prNumber = c.pull_request_id !== null ? prs.get(c.pull_request_id) : undefined;
    plan.push({ evidence: nodeId('evidence', evidenceKey), ranges, producer, commit: nodeId('commit', c.commit_sha), pullRequest: prNumber !== undefined ? nodeId('pull_request', String(prNumber)) : null });
  }
  const ids = await upsertGraphNodes(db, repositoryId, nodes);
  for (const [key, id] of knownRuns) ids.set(nodeId('run', key), id);
  const edges: EdgeInput[] = [];
  for (const p of plan) {
    const evidence = ids.get(p.evidence)!;
    edges.push({ src: evidence, dst: ids.get(p.producer)!, kind: 'produced_by' });
    edges.push({ src: evidence, dst: ids.get(p.commit)!, kind: 'about' });
    if (p.pullRequest) edges.push({ src: evidence, dst: ids.get(p.pullRequest)!, kind: 'about' });
    for (const r of p.ranges) edges.push({ src: evidence, dst: ids.get(r)!, kind: 'derived_from' });
  }
  await insertGraphEdges(db, edges);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * Removes the evidence nodes of captures that are being replaced (their edges go with them), then the
 * commit's file_range nodes nothing points to any more.
 */
export async function removeCaptureGraph(db: DbOrTx, repositoryId: number, commitSha: string, captureIndexes: number[]): Promise<void> {
  if (captureIndexes.length === 0) return;
  const keys = captureIndexes.map((i) => evidenceNodeKey(commitSha, i));
  const evidence = await db.selectFrom('graph_nodes').select('id').where('repository_id', '=', repositoryId).where('kind', '=', 'evidence').where('key', 'in', keys).execute();
  if (evidence.length === 0) return;
  const ids = evidence.map((e) => e.id);
  const targets = await db.selectFrom('graph_edges').select('dst_id').where('src_id', 'in', ids).where('kind', '=', 'derived_from').execute();
  await db.deleteFrom('graph_edges').where((eb) => eb.or([eb('src_id', 'in', ids), eb('dst_id', 'in', ids)])).execute();
  await db.deleteFrom('graph_nodes').where('id', 'in', ids).execute();
  const rangeIds = [...new Set(targets.map((t) => t.dst_id))];
  for (let i = 0; i < rangeIds.length; i += 500) {
    const chunk = rangeIds.slice(i, i + 500);
    await db
      .deleteFrom('graph_nodes')
      .where('id', 'in', chunk)
      .where('kind', '=', 'file_range')
      .where((eb) => eb.not(eb.exists(eb.selectFrom('graph_edges').select('graph_edges.id').whereRef('graph_edges.dst_id', '=', 'graph_nodes.id'))))
      .execute();
  }
}

export interface BackfillSummary {
  repositories: number;
  runs: number;
  captures: number;
  removed_evidence: number;
}

/**
 * Rebuilds the graph from provenance rows (idempotent): run nodes and their edges for every finished
 * run, evidence/file_range/commit/agent nodes and edges for every capture, and removal of evidence nodes
 * whose capture no longer exists. One transaction per repository.
 */
export async function backfillGraph(app: AppContext, repositoryId?: number): Promise<BackfillSummary> {
  let q = app.db.selectFrom('repositories').select('id').orderBy('id');
  if (repositoryId !== undefined) q = q.where('id', '=', repositoryId);
  const repos = await q.execute();
  const summary: BackfillSummary = { repositories: 0, runs: 0, captures: 0, removed_evidence: 0 };
  for (const { id } of repos) {
    await app.db.transaction().execute(async (tx) => {
      const runs = await tx.selectFrom('prompt_pull_request_jobs').selectAll().where('repository_id', '=', id).orderBy('id').execute();
      for (const run of runs) await writeRunGraph(tx, id, run);
      const captures = await tx.selectFrom('commit_ai_contexts').selectAll().where('repository_id', '=', id).orderBy('id').execute();
      for (let i = 0; i < captures.length; i += 100) await writeCaptureGraph(tx, id, captures.slice(i, i + 100));
      const wanted = new Set(captures.map((c) => evidenceNodeKey(c.commit_sha, c.capture_index)));
      const evidence = await tx.selectFrom('graph_nodes').select(['id', 'key']).where('repository_id', '=', id).where('kind', '=', 'evidence').execute();
      const stale = new Map<string, number[]>();
      for (const e of evidence) {
        // Only capture evidence ("<commit>:<index>"); reviews and other evidence have keys of their own.
        const capture = /^([0-9a-f]{40,64}):(\d+)$/.exec(e.key);
        if (!capture || wanted.has(e.key)) continue;
        const sha = capture[1]!;
        const index = capture[2]!;
        stale.set(sha, [...(stale.get(sha) ?? []), Number(index)]);
        summary.removed_evidence++;
      }
      for (const [sha, indexes] of stale) await removeCaptureGraph(tx, id, sha, indexes);
      summary.runs += runs.length;
      summary.captures += captures.length;
    });
    summary.repositories++;
  }
  return summary;
}

export interface GraphNodeView {
  id: number;
  kind: string;
  key: string;
  data: Record<string, unknown>;
  created_at: string;
}

export interface GraphEdgeView {
  id: number;
  kind: string;
  data: Record<string, unknown>;
  node: { id: number; kind: string; key: string };
}

function nodeView(n: GraphNode): GraphNodeView {
  return { id: n.id, kind: n.kind, key: n.key, data: (safeJson(n.data) as Record<string, unknown>) ?? {}, created_at: n.created_at };
}

/**
 * Nodes of a repository, optionally of one kind, one key, and/or — for file_range nodes — one file path
 * (a file's graph: its ranges, whose incoming edges lead to the evidence and runs that wrote them), oldest first.
 */
export async function findGraphNodes(app: AppContext, repositoryId: number, opts: { kind?: string; key?: string; path?: string; page: number; perPage: number }): Promise<{ items: GraphNodeView[]; total: number }> {
  let q = app.db.selectFrom('graph_nodes').where('repository_id', '=', repositoryId);
  if (opts.kind) q = q.where('kind', '=', opts.kind);
  if (opts.key !== undefined) q = q.where('key', '=', opts.key);
  if (opts.path !== undefined) {
    // file_range keys end with ":<path>", or ":#<sha256 of path>" when that would be too long (fileRangeNodeKey).
    const like = (suffix: string) => `%:${suffix.replace(/[\\%_]/g, (ch) => `\\${ch}`)}`;
    const hashed = `#${createHash('sha256').update(opts.path).digest('hex')}`;
    q = q.where('kind', '=', 'file_range').where(sql<boolean>`(key like ${like(opts.path)} escape '\\' or key like ${like(hashed)} escape '\\')`);
  }
  const rows = await q.selectAll().orderBy('id').limit(opts.perPage).offset((opts.page - 1) * opts.perPage).execute();
  const total = Number((await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const items = rows.map(nodeView);
  // SQLite's LIKE ignores ASCII case: keep exact path matches only.
  return { items: opts.path === undefined ? items : items.filter((n) => n.data.path === opts.path), total };
}

async function edgesAround(db: DbOrTx, repositoryId: number, ids: number[], direction: 'incoming' | 'outgoing', limit: number): Promise<(GraphEdge & { other: GraphNode })[]> {
  if (ids.length === 0) return [];
  const mine = direction === 'outgoing' ? 'graph_edges.src_id' : 'graph_edges.dst_id';
  const theirs = direction === 'outgoing' ? 'graph_edges.dst_id' : 'graph_edges.src_id';
  const rows = await db
    .selectFrom('graph_edges')
    .innerJoin('graph_nodes', 'graph_nodes.id', theirs)
    .select(['graph_edges.id as edge_id', 'graph_edges.src_id', 'graph_edges.dst_id', 'graph_edges.kind as edge_kind', 'graph_edges.data as edge_data', 'graph_edges.created_at as edge_created_at'])
    .select(['graph_nodes.id', 'graph_nodes.repository_id', 'graph_nodes.kind', 'graph_nodes.key', 'graph_nodes.data', 'graph_nodes.created_at'])
    .where(mine, 'in', ids)
    .where('graph_nodes.repository_id', '=', repositoryId)
    .orderBy('graph_edges.id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    id: r.edge_id,
    src_id: r.src_id,
    dst_id: r.dst_id,
    kind: r.edge_kind,
    data: r.edge_data,
    created_at: r.edge_created_at,
    other: { id: r.id, repository_id: r.repository_id, kind: r.kind, key: r.key, data: r.data, created_at: r.created_at },
  }));
}

function edgeView(e: GraphEdge & { other: GraphNode }): GraphEdgeView {
  return { id: e.id, kind: e.kind, data: (safeJson(e.data) as Record<string, unknown>) ?? {}, node: { id: e.other.id, kind: e.other.kind, key: e.other.key } };
}

/** A node of the repository with its incoming and outgoing edges (at most `limit` each); 404 when it is not there. */
export async function getGraphNode(app: AppContext, repositoryId: number, id: number, limit = 500): Promise<GraphNodeView & { incoming: GraphEdgeView[]; outgoing: GraphEdgeView[] }> {
  const node = Number.isInteger(id) && id > 0 ? await app.db.selectFrom('graph_nodes').selectAll().where('id', '=', id).where('repository_id', '=', repositoryId).executeTakeFirst() : undefined;
  if (!node) throw notFound('Node not found');
  const [incoming, outgoing] = await Promise.all([edgesAround(app.db, repositoryId, [id], 'incoming', limit), edgesAround(app.db, repositoryId, [id], 'outgoing', limit)]);
  return { ...nodeView(node), incoming: incoming.map(edgeView), outgoing: outgoing.map(edgeView) };
}

/** The node with the given kind and key, or null (e.g. the run node of run id N: kind "run", key "N"). */
export async function findGraphNode(app: AppContext, repositoryId: number, kind: string, key: string): Promise<GraphNodeView | null> {
  const node = await app.db.selectFrom('graph_nodes').selectAll().where('repository_id', '=', repositoryId).where('kind', '=', kind).where('key', '=', key).executeTakeFirst();
  return node ? nodeView(node) : null;
}

/** A neighbourhood: nodes, the edges between them, and whether the node cap left some out. */
export interface GraphNeighbourhood {
  nodes: GraphNodeView[];
  edges: { id: number; src: number; dst: number; kind: string }[];
  truncated: boolean;
}

/**
 * The neighbourhood of a node for a small graph view: every node within `depth` hops (either direction)
 * and the edges between them, capped at `maxNodes`.
 */
export async function graphNeighbourhood(app: AppContext, repositoryId: number, id: number, depth = 2, maxNodes = 300): Promise<GraphNeighbourhood> {
  return graphNeighbourhoodOf(app, repositoryId, [id], depth, maxNodes);
}

/**
 * The neighbourhood of several root nodes (e.g. every range of one file): every node within `depth` hops
 * of any root (either direction) and the edges between them, capped at `maxNodes` (roots first);
 * `truncated` says the cap left nodes out. 404 when a root is not a node of the repository.
 */
export async function graphNeighbourhoodOf(app: AppContext, repositoryId: number, ids: number[], depth = 2, maxNodes = 300): Promise<GraphNeighbourhood> {
  const wanted = [...new Set(ids)];
  if (wanted.length === 0 || wanted.some((id) => !Number.isSafeInteger(id) || id <= 0)) throw notFound('Node not found');
  const roots = await app.db.selectFrom('graph_nodes').selectAll().where('repository_id', '=', repositoryId).where('id', 'in', wanted).orderBy('id').execute();
  if (roots.length !== wanted.length) throw notFound('Node not found');
  let truncated = roots.length > maxNodes;
  const nodes = new Map<number, GraphNodeView>(roots.slice(0, maxNodes).map((n) => [n.id, nodeView(n)]));
  const edges = new Map<number, { id: number; src: number; dst: number; kind: string }>();
  let frontier = [...nodes.keys()];
  const limit = maxNodes * 4;
  // Keeps going at the cap for one more round of edges: those between nodes already in, and to know whether any were left out.
  for (let hop = 0; hop < depth && frontier.length; hop++) {
    const next: number[] = [];
    for (const direction of ['outgoing', 'incoming'] as const) {
      const around = await edgesAround(app.db, repositoryId, frontier, direction, limit);
      if (around.length >= limit) truncated = true;
      for (const e of around) {
        edges.set(e.id, { id: e.id, src: e.src_id, dst: e.dst_id, kind: e.kind });
        if (nodes.has(e.other.id)) continue;
        if (nodes.size >= maxNodes) {
          truncated = true;
          continue;
        }
        nodes.set(e.other.id, nodeView(e.other));
        next.push(e.other.id);
      }
    }
    frontier = next;
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()].filter((e) => nodes.has(e.src) && nodes.has(e.dst)), truncated };
}
