import { sql } from 'kysely';
import type { AppContext } from './app.ts';
import type { GraphNeighbourhood, GraphNodeView } from './provenanceGraph.ts';
import type { RunStatus } from '../db/schema.ts';
import { blobUrl, commitUrl, GRAPH_DEFAULT_DEPTH, graphUrl, pullUrl, repoUrl, treeUrl, type RepoRef } from '../web/views/urls.ts';

/**
 * Read model of the knowledge-graph page (/:owner/:repo/graph): raw graph nodes become view nodes with
 * a human label and a link to the thing's own page. No HTML here; the page and /-/static/graph.js draw them.
 */

/** The page draws at most this many nodes. */
export const GRAPH_MAX_NODES = 150;
/** A file's graph starts from at most this many of its ranges. */
export const GRAPH_MAX_FILE_RANGES = 100;
export const GRAPH_MAX_DEPTH = 3;
/** The id of the synthetic node standing for a whole file (not a row of graph_nodes). */
export const FILE_NODE_ID = -1;

/** Kinds in the order the page lists them; "file" is the synthetic root of a file's graph. */
export const GRAPH_KIND_ORDER = ['file', 'run', 'pull_request', 'agent', 'evidence', 'commit', 'file_range', 'task', 'claim', 'decision', 'failure'] as const;

const KIND_LABEL: Record<string, [string, string]> = {
  file: ['File', 'Files'],
  run: ['Run', 'Runs'],
  pull_request: ['Pull request', 'Pull requests'],
  agent: ['Agent', 'Agents'],
  evidence: ['Evidence', 'Evidence'],
  commit: ['Commit', 'Commits'],
  file_range: ['File range', 'File ranges'],
  task: ['Task', 'Tasks'],
  claim: ['Claim', 'Claims'],
  decision: ['Decision', 'Decisions'],
  failure: ['Failure', 'Failures'],
};

/** "Run" / "Runs" for a node kind; unknown kinds read as themselves. */
export function kindLabel(kind: string, plural = false): string {
  const l = KIND_LABEL[kind];
  return l ? l[plural ? 1 : 0] : kind;
}

/** A CSS-safe kind name for class names (kinds are lower-case words; anything else becomes "other"). */
export function kindClass(kind: string): string {
  return /^[a-z_]{1,32}$/.test(kind) ? kind.replace(/_/g, '-') : 'other';
}

export function kindRank(kind: string): number {
  const i = (GRAPH_KIND_ORDER as readonly string[]).indexOf(kind);
  return i === -1 ? GRAPH_KIND_ORDER.length : i;
}

/** ?depth: 1…3, out-of-range numbers clamped, anything else the default. */
export function parseDepth(raw: string | undefined): number {
  if (raw === undefined || !/^-?\d{1,6}$/.test(raw.trim())) return GRAPH_DEFAULT_DEPTH;
  return Math.min(GRAPH_MAX_DEPTH, Math.max(1, Number(raw.trim())));
}

export interface GraphViewNode {
  id: number;
  kind: string;
  /** The kind as people read it ("Pull request"). */
  kindLabel: string;
  key: string;
  /** The full human label ("Run #3 · Fix the parser"). */
  label: string;
  /** A short caption for the drawing ("Run #3"). */
  short: string;
  /** One more line about it (driver and status, confidence, line count…), or ''. */
  detail: string;
  /** The thing's own page, or null when it has none. */
  href: string | null;
  /** What following `href` opens ("Open run", "Open commit"…). */
  hrefLabel: string;
  /** This page centred on the node. */
  graphHref: string;
  data: Record<string, unknown>;
  /** What the side panel lists: people-facing fields (no internal ids), links where the thing has a page. */
  facts: GraphFact[];
  /** The node the page is about (highlighted). */
  root: boolean;
}

export interface GraphFact {
  label: string;
  value: string;
  href: string | null;
}

export interface GraphViewEdge {
  id: number;
  src: number;
  dst: number;
  kind: string;
}

export interface GraphView {
  nodes: GraphViewNode[];
  edges: GraphViewEdge[];
  /** Id of the highlighted root node. */
  root: number;
  truncated: boolean;
  depth: number;
  maxNodes: number;
}

const SHA = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const int = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : null);
const nonNegative = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null);
const sha = (v: unknown): string | null => (typeof v === 'string' && SHA.test(v) ? v : null);
const short = (s: string) => s.slice(0, 7);
const basename = (path: string) => path.slice(path.lastIndexOf('/') + 1) || path;
/** "agent_run" → "agent run". */
const words = (s: string) => s.replace(/_/g, ' ');

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** "L10" or "L10–L20" (an en dash, as people write ranges). */
function lineSpan(start: number, end: number): string {
  return start === end ? `L${start}` : `L${start}–L${end}`;
}

/**
 * The side panel's fields of a node, from its data: only what a person reads (titles, models, commits,
 * branches, files, lines), with links; database ids (`*_id`), node ids and internal keys stay out.
 */
export function nodeFacts(repo: RepoRef, kind: string, d: Record<string, unknown>): GraphFact[] {
  const facts: GraphFact[] = [];
  const add = (label: string, value: string | null, href: string | null = null) => {
    if (value) facts.push({ label, value, href });
  };
  const number = int(d.number);
  if (kind === 'run' && number !== null) add('Run', `#${number}`, `${repoUrl(repo)}/runs/${number}`);
  if (kind === 'pull_request' && number !== null) add('Pull request', `#${number}`, pullUrl(repo, number));
  add('Title', str(d.title));
  add('Agent', str(d.source_family) ?? str(d.driver));
  add('Model', str(d.exact_model_name) ?? str(d.model));
  add('Status', str(d.status));
  const evidence = str(d.evidence_kind);
  add('Evidence', evidence ? words(evidence) : null);
  if (typeof d.capture_confidence === 'number' && Number.isFinite(d.capture_confidence)) add('Confidence', `${Math.round(d.capture_confidence * 100)}%`);
  const path = str(d.path);
  const commit = sha(d.commit_sha) ?? sha(d.sha);
  add('File', path, path ? (commit ? blobUrl(repo, commit, path) : graphUrl(repo, { path })) : null);
  const start = int(d.start_line);
  const end = int(d.end_line);
  if (start !== null && end !== null) add('Lines', lineSpan(start, end), path && commit ? `${blobUrl(repo, commit, path)}#${start === end ? `L${start}` : `L${start}-L${end}`}` : null);
  add('Commit', commit ? short(commit) : null, commit ? commitUrl(repo, commit) : null);
  const branch = str(d.compare_branch);
  add('Branch', branch, branch ? treeUrl(repo, branch) : null);
  const index = nonNegative(d.capture_index);
  if (index !== null && commit) add('Capture', `${index} of ${short(commit)}`, `${commitUrl(repo, commit)}#ai-capture-${index}`);
  return facts;
}

function familyModel(data: Record<string, unknown>): string | null {
  const family = str(data.source_family);
  const model = str(data.exact_model_name);
  if (family && model) return `${family}/${model}`;
  return family ?? model;
}

type RawNode = Pick<GraphNodeView, 'id' | 'kind' | 'key' | 'data'>;

/** Label, caption, detail line and link of one graph node. */
export function viewGraphNode(repo: RepoRef, node: RawNode, opts: { depth?: number; root?: boolean } = {}): GraphViewNode {
  const d = node.data ?? {};
  const base = { id: node.id, kind: node.kind, kindLabel: kindLabel(node.kind), key: node.key, data: d, facts: nodeFacts(repo, node.kind, d), root: opts.root ?? false, graphHref: graphUrl(repo, { node: node.id, depth: opts.depth }) };
  const fallback = { label: node.key || `${kindLabel(node.kind)} ${node.id}`, short: clip(node.key || kindLabel(node.kind), 28), detail: '', href: null, hrefLabel: '' };
  switch (node.kind) {
    case 'run': {
      const number = int(d.number);
      if (number === null) return { ...base, ...fallback, label: `Run ${node.key}`, short: `Run ${clip(node.key, 20)}` };
      const title = str(d.title);
      const agent = [str(d.driver), str(d.model)].filter(Boolean).join(' · ');
      return {
        ...base,
        label: title ? `Run #${number} · ${title}` : `Run #${number}`,
        short: `Run #${number}`,
        detail: [agent, str(d.status)].filter(Boolean).join(' — '),
        href: `${repoUrl(repo)}/runs/${number}`,
        hrefLabel: 'Open run',
      };
    }
    case 'evidence': {
      const who = familyModel(d);
      const kind = str(d.evidence_kind);
      const confidence = typeof d.capture_confidence === 'number' && Number.isFinite(d.capture_confidence) ? `confidence ${Math.round(d.capture_confidence * 100)}%` : '';
      if (node.key.startsWith('review:')) {
        // An AI review of a pull request (reviews.ts): its page is the pull request's.
        const pr = int(d.pull_request);
        return {
          ...base,
          label: `AI review${pr !== null ? ` of #${pr}` : ''}${who ? ` · ${who}` : ''}`,
          short: pr !== null ? `AI review #${pr}` : 'AI review',
          detail: [kind ? words(kind) : '', sha(d.commit_sha) ? `at ${short(d.commit_sha as string)}` : ''].filter(Boolean).join(' · '),
          href: pr !== null ? pullUrl(repo, pr) : null,
          hrefLabel: 'Open pull request',
        };
      }
      const commit = sha(d.commit_sha);
      const index = nonNegative(d.capture_index);
      const capture = commit && index !== null ? `capture ${index} of ${short(commit)}` : null;
      return {
        ...base,
        label: [who, kind ? words(kind) : null, capture].filter(Boolean).join(' · ') || node.key,
        short: capture ? `capture ${index} · ${short(commit!)}` : clip(who ?? node.key, 28),
        detail: confidence,
        href: commit ? commitUrl(repo, commit) : null,
        hrefLabel: 'Open commit',
      };
    }
    case 'file_range': {
      const path = str(d.path);
      const start = int(d.start_line);
      const end = int(d.end_line);
      const commit = sha(d.commit_sha);
      if (!path || start === null || end === null) return { ...base, ...fallback };
      const span = lineSpan(start, end);
      return {
        ...base,
        label: `${path}:${span}${commit ? ` @ ${short(commit)}` : ''}`,
        short: clip(`${basename(path)}:${start === end ? start : `${start}–${end}`}`, 28),
        detail: `${end - start + 1} ${end === start ? 'line' : 'lines'}`,
        href: commit ? `${blobUrl(repo, commit, path)}#${start === end ? `L${start}` : `L${start}-L${end}`}` : null,
        hrefLabel: 'Open lines',
      };
    }
    case 'commit': {
      const s = sha(d.sha) ?? sha(node.key);
      return s ? { ...base, label: short(s), short: short(s), detail: s, href: commitUrl(repo, s), hrefLabel: 'Open commit' } : { ...base, ...fallback };
    }
    case 'pull_request': {
      const number = int(d.number) ?? (/^\d{1,9}$/.test(node.key) ? Number(node.key) : null);
      return number !== null ? { ...base, label: `#${number}`, short: `PR #${number}`, detail: 'Pull request', href: pullUrl(repo, number), hrefLabel: 'Open pull request' } : { ...base, ...fallback };
    }
    case 'agent': {
      // A repository agent (issue 15): its runs point here with produced_by.
      if (typeof d.agent_key === 'string') {
        const name = typeof d.name === 'string' && d.name !== d.agent_key ? `${d.name} (@${d.agent_key})` : `@${d.agent_key}`;
        return { ...base, label: name, short: clip(name, 28), detail: `Repository agent${typeof d.source === 'string' ? ` · ${d.source}` : ''}`, href: `${repoUrl(repo)}/agents`, hrefLabel: 'Open agents' };
      }
      const who = familyModel(d) ?? node.key;
      return { ...base, label: who, short: clip(who, 28), detail: 'Agent outside gitoku', href: null, hrefLabel: '' };
    }
    default:
      return { ...base, ...fallback };
  }
}

/** The synthetic root of a file's graph: the file at the default branch, linking to its ranges. */
export function fileRootNode(repo: RepoRef, path: string, ref: string, ranges: number): GraphViewNode {
  return {
    id: FILE_NODE_ID,
    kind: 'file',
    kindLabel: kindLabel('file'),
    key: path,
    label: path,
    short: clip(basename(path), 28),
    detail: `${ranges} AI-written ${ranges === 1 ? 'range' : 'ranges'}`,
    href: blobUrl(repo, ref, path),
    hrefLabel: 'Open file',
    graphHref: graphUrl(repo, { path }),
    data: { path },
    facts: [{ label: 'File', value: path, href: blobUrl(repo, ref, path) }],
    root: true,
  };
}

/**
 * The page's graph: view nodes (ordered by kind, then id) and edges. `file` adds the synthetic file node
 * with a `contains` edge to each of its ranges (negative ids: they are not in the database).
 */
export function buildGraphView(repo: RepoRef, hood: GraphNeighbourhood, opts: { root: number; depth: number; maxNodes: number; file?: { path: string; ref: string; ranges: number[] } }): GraphView {
  const nodes = hood.nodes.map((n) => viewGraphNode(repo, n, { depth: opts.depth, root: !opts.file && n.id === opts.root }));
  const edges: GraphViewEdge[] = hood.edges.map((e) => ({ id: e.id, src: e.src, dst: e.dst, kind: e.kind }));
  if (opts.file) {
    const present = new Set(nodes.map((n) => n.id));
    const ranges = opts.file.ranges.filter((id) => present.has(id));
    nodes.push(fileRootNode(repo, opts.file.path, opts.file.ref, ranges.length));
    ranges.forEach((id, i) => edges.push({ id: -(i + 1), src: FILE_NODE_ID, dst: id, kind: 'contains' }));
  }
  nodes.sort((a, b) => kindRank(a.kind) - kindRank(b.kind) || a.kind.localeCompare(b.kind) || a.id - b.id);
  return { nodes, edges, root: opts.file ? FILE_NODE_ID : opts.root, truncated: hood.truncated, depth: opts.depth, maxNodes: opts.maxNodes };
}

/**
 * The graph as the JSON of a <script type="application/json"> block: `<`, `>`, `&` and the two JavaScript
 * line separators escaped, so no text in it (a prompt containing "</script>") can end the element.
 */
export function graphDataJson(view: GraphView): string {
  return JSON.stringify(view).replace(/[<>&\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export interface GraphIndex {
  counts: { kind: string; count: number }[];
  nodes: number;
  edges: number;
  /** Recent runs that have a run node, newest first. */
  runs: { number: number; title: string; status: RunStatus; nodeId: number }[];
  /** Files with AI-written ranges, most recently recorded first. */
  files: string[];
}

/** What the graph index shows: node counts per kind, the latest runs with a node, recently touched files. */
export async function loadGraphIndex(app: AppContext, repositoryId: number, opts: { runs?: number; files?: number } = {}): Promise<GraphIndex> {
  const [counts, edges, runs, ranges] = await Promise.all([
    app.db.selectFrom('graph_nodes').select(['kind', (eb) => eb.fn.countAll<number | string>().as('n')]).where('repository_id', '=', repositoryId).groupBy('kind').execute(),
    app.db
      .selectFrom('graph_edges')
      .innerJoin('graph_nodes', 'graph_nodes.id', 'graph_edges.src_id')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('graph_nodes.repository_id', '=', repositoryId)
      .executeTakeFirstOrThrow(),
    app.db
      .selectFrom('prompt_pull_request_jobs')
      .innerJoin('graph_nodes', (join) =>
        join
          .on('graph_nodes.repository_id', '=', repositoryId)
          .on('graph_nodes.kind', '=', 'run')
          .on('graph_nodes.key', '=', sql<string>`cast(${sql.ref('prompt_pull_request_jobs.id')} as text)`),
      )
      .select(['prompt_pull_request_jobs.number', 'prompt_pull_request_jobs.title', 'prompt_pull_request_jobs.status', 'graph_nodes.id as node_id'])
      .where('prompt_pull_request_jobs.repository_id', '=', repositoryId)
      .orderBy('prompt_pull_request_jobs.number', 'desc')
      .limit(opts.runs ?? 10)
      .execute(),
    app.db.selectFrom('graph_nodes').select('data').where('repository_id', '=', repositoryId).where('kind', '=', 'file_range').orderBy('id', 'desc').limit(500).execute(),
  ]);
  const files: string[] = [];
  for (const r of ranges) {
    let path: unknown;
    try {
      path = (JSON.parse(r.data) as { path?: unknown }).path;
    } catch {
      continue;
    }
    if (typeof path === 'string' && path && !files.includes(path)) files.push(path);
    if (files.length >= (opts.files ?? 12)) break;
  }
  const byKind = counts.map((c) => ({ kind: c.kind, count: Number(c.n) })).sort((a, b) => kindRank(a.kind) - kindRank(b.kind) || a.kind.localeCompare(b.kind));
  return {
    counts: byKind,
    nodes: byKind.reduce((sum, c) => sum + c.count, 0),
    edges: Number(edges.n),
    runs: runs.map((r) => ({ number: r.number, title: r.title, status: r.status, nodeId: r.node_id })),
    files,
  };
}
