import type { Child, FC } from 'hono/jsx';
import type { PageContext } from '../context.ts';
import type { RunStatus } from '../../../db/schema.ts';
import { GRAPH_MAX_DEPTH, graphDataJson, kindClass, kindLabel, type GraphIndex, type GraphView, type GraphViewEdge, type GraphViewNode } from '../../../services/uiGraph.ts';
import { Layout } from '../layout.tsx';
import { EmptyState, PageAssets } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { blobUrl, graphUrl, repoUrl } from '../urls.ts';
import { RepoHeader, type RepoView } from './repo.tsx';

/**
 * The knowledge-graph page (DESIGN §3): a node's neighbourhood drawn by /-/static/graph.js from the JSON
 * block #graph-data, with every node and edge also listed as links (the page without JavaScript, and for
 * screen readers). Labels come from the data (titles, paths): JSX escapes them, the JSON block escapes `<`.
 */

/** The same frame as every repository page (header, tabs and content at the usual width); the drawing adds its script. */
const GraphLayout: FC<{ ctx: PageContext; view: RepoView; title: string; drawing?: boolean; children?: Child }> = ({ ctx, view, title, drawing = false, children }) => (
  <Layout ctx={ctx} title={title} band={<RepoHeader ctx={ctx} view={view} active="graph" />} size="default" head={<PageAssets ctx={ctx} styles={['graph.css']} scripts={drawing ? ['graph.js'] : []} />}>
    {children}
  </Layout>
);

const Crumbs: FC<{ view: RepoView; here?: string }> = ({ view, here }) => (
  <nav class="gk-crumbs" aria-label="Breadcrumb">
    {here ? <a href={graphUrl(view.repo)}>Graph</a> : <span>Graph</span>}
    {here ? (
      <>
        <span aria-hidden="true">/</span>
        <span>{here}</span>
      </>
    ) : null}
  </nav>
);

export const KindSwatch: FC<{ kind: string }> = ({ kind }) => <span class={`gk-swatch gk-kind-${kindClass(kind)}`} aria-hidden="true"></span>;

/* ---------- the side panel (graph.js rebuilds the same markup for the selected node) ---------- */

const NodePanel: FC<{ node: GraphViewNode; view: GraphView }> = ({ node, view }) => {
  const label = new Map(view.nodes.map((n) => [n.id, n]));
  const around = view.edges.filter((e) => e.src === node.id || e.dst === node.id);
  return (
    <div class="gk-panel-body" data-node-id={node.id}>
      <div class="gk-panel-kind">
        <span class={`gk-kind-badge gk-kind-${kindClass(node.kind)}`}>
          <KindSwatch kind={node.kind} /> {kindLabel(node.kind)}
        </span>
        {node.root ? <span class="badge gk-root-badge">root</span> : null}
      </div>
      <h2 class="gk-panel-title">{node.label}</h2>
      {node.detail ? <p class="gk-panel-detail">{node.detail}</p> : null}
      <div class="gk-panel-actions">
        {node.href ? (
          <a class="btn btn-sm btn-primary gk-open" href={node.href}>
            {node.hrefLabel || 'Open'}
          </a>
        ) : null}
        <a class="btn btn-sm gk-centre" href={node.graphHref}>
          Centre graph here
        </a>
      </div>
      {node.facts.length > 0 ? (
        <dl class="gk-fields">
          {node.facts.map((f) => (
            <>
              <dt>{f.label}</dt>
              <dd>{f.href ? <a href={f.href}>{f.value}</a> : f.value}</dd>
            </>
          ))}
        </dl>
      ) : null}
      {around.length > 0 ? (
        <div class="gk-panel-edges">
          <h3 class="gk-panel-h">Connections</h3>
          <ul>
            {around.map((e) => {
              const out = e.src === node.id;
              const other = label.get(out ? e.dst : e.src);
              return (
                <li>
                  <span class="gk-edge-dir">{out ? `${e.kind} →` : `← ${e.kind}`}</span>
                  <a href={`#gk-node-${other?.id ?? 0}`}>{other?.label ?? '?'}</a>
                </li>
              );
            })}
          </ul>
        </div>
      ) : null}
    </div>
  );
};

/* ---------- the lists under the drawing ---------- */

const NodeLists: FC<{ view: GraphView }> = ({ view }) => {
  const groups: { kind: string; nodes: GraphViewNode[] }[] = [];
  for (const n of view.nodes) {
    const last = groups[groups.length - 1];
    if (last && last.kind === n.kind) last.nodes.push(n);
    else groups.push({ kind: n.kind, nodes: [n] });
  }
  return (
    <div class="gk-groups" id="graph-nodes">
      {groups.map((g) => (
        <section class="gk-group" data-kind={g.kind}>
          <h3 class="gk-group-title">
            <KindSwatch kind={g.kind} /> {kindLabel(g.kind, g.nodes.length !== 1)} <span class="counter">{g.nodes.length}</span>
          </h3>
          <ul class="gk-items">
            {g.nodes.map((n) => (
              <li id={`gk-node-${n.id}`} class={n.root ? 'gk-item gk-item-root' : 'gk-item'} data-node-id={n.id} data-kind={n.kind}>
                {n.href ? (
                  <a class="gk-item-label" href={n.href}>
                    {n.label}
                  </a>
                ) : (
                  <span class="gk-item-label">{n.label}</span>
                )}
                {n.detail ? <span class="gk-item-detail">{n.detail}</span> : null}
                <a class="gk-item-graph" href={n.graphHref} title="Centre the graph on this node" aria-label={`Centre the graph on ${n.label}`}>
                  <Icon name="graph" />
                </a>
              </li>
            ))}
          </ul>
        </section>
      ))}
    </div>
  );
};

const EdgeList: FC<{ view: GraphView }> = ({ view }) => {
  const byId = new Map(view.nodes.map((n) => [n.id, n]));
  const ref = (id: number) => (
    <a href={`#gk-node-${id}`} class="gk-edge-end">
      {byId.get(id)?.label ?? `node ${id}`}
    </a>
  );
  return view.edges.length ? (
    <ul class="gk-edges" id="graph-edges">
      {view.edges.map((e: GraphViewEdge) => (
        <li data-edge-id={e.id} data-src={e.src} data-dst={e.dst} data-kind={e.kind}>
          {ref(e.src)} <span class="gk-edge-kind">—{e.kind}→</span> {ref(e.dst)}
        </li>
      ))}
    </ul>
  ) : (
    <p class="muted gk-none">No edges.</p>
  );
};

const DepthSwitch: FC<{ depth: number; href: (depth: number) => string }> = ({ depth, href }) => (
  <span class="gk-depth">
    <span class="muted">Depth</span>
    <span class="segmented" role="group" aria-label="Depth">
      {Array.from({ length: GRAPH_MAX_DEPTH }, (_, i) => i + 1).map((d) => (
        <a class={d === depth ? 'seg active' : 'seg'} href={href(d)} aria-current={d === depth ? 'true' : undefined} data-depth={d}>
          {d}
        </a>
      ))}
    </span>
  </span>
);

/** What the graph is centred on, for the heading. */
export type GraphTarget = { kind: 'run'; number: number; title: string; status: RunStatus } | { kind: 'path'; path: string; ranges: number; total: number } | { kind: 'node'; node: GraphViewNode };

function targetHeading(target: GraphTarget): { crumb: string; title: string; sub: string } {
  switch (target.kind) {
    case 'run':
      return { crumb: `Run #${target.number}`, title: `Run #${target.number} · ${target.title}`, sub: 'The task, the evidence of what its agent wrote, the ranges and commits it touched, and its pull request.' };
    case 'path':
      return {
        crumb: target.path,
        title: target.path,
        sub:
          target.total > target.ranges
            ? `The first ${target.ranges} of ${target.total} AI-written ranges of this file, and the evidence and runs behind them.`
            : 'Every AI-written range of this file, and the evidence and runs behind them.',
      };
    case 'node':
      return { crumb: target.node.label, title: target.node.label, sub: `A ${kindLabel(target.node.kind).toLowerCase()} node and everything around it.` };
  }
}

function queryOf(target: GraphTarget): { node?: number; run?: number; path?: string } {
  return target.kind === 'run' ? { run: target.number } : target.kind === 'path' ? { path: target.path } : { node: target.node.id };
}

export const GraphPage: FC<{ ctx: PageContext; view: RepoView; target: GraphTarget; graph: GraphView }> = ({ ctx, view, target, graph }) => {
  const head = targetHeading(target);
  const root = graph.nodes.find((n) => n.id === graph.root) ?? graph.nodes[0]!;
  const kinds = [...new Set(graph.nodes.map((n) => n.kind))];
  const edgeKinds = [...new Set(graph.edges.map((e) => e.kind))].sort();
  const repo = view.repo;
  return (
    <GraphLayout ctx={ctx} view={view} title={`Graph · ${head.crumb} · ${repo.owner_name}/${repo.name}`} drawing>
      <Crumbs view={view} here={head.crumb} />
      <div class="gk-head">
        <div class="gk-head-main">
          <h1 class="gk-title">
            <span class={`gk-title-kind gk-kind-${kindClass(root.kind)}`}>
              <KindSwatch kind={root.kind} /> {kindLabel(root.kind)}
            </span>
            <span class="gk-title-text">{head.title}</span>
          </h1>
          <p class="muted gk-sub">{head.sub}</p>
        </div>
        {root.href ? (
          <a class="btn gk-head-open" href={root.href}>
            {root.hrefLabel || 'Open'}
          </a>
        ) : null}
      </div>
      <div class="gk-toolbar">
        <DepthSwitch depth={graph.depth} href={(d) => graphUrl(repo, { ...queryOf(target), depth: d })} />
        <span class="muted gk-counts" id="graph-counts">
          {graph.nodes.length} {graph.nodes.length === 1 ? 'node' : 'nodes'} · {graph.edges.length} {graph.edges.length === 1 ? 'edge' : 'edges'}
        </span>
        {graph.truncated ? (
          <span class="gk-truncated" id="graph-truncated" role="status">
            <Icon name="alert" /> Showing {graph.nodes.length} nodes: the neighbourhood is larger than the page draws ({graph.maxNodes} at most). Centre on a node or lower the depth to see the rest.
          </span>
        ) : null}
      </div>
      <div class="gk-main">
        <div class="gk-canvas" id="graph-canvas">
          <svg class="gk-svg" id="graph-svg" aria-label={`Graph of ${graph.nodes.length} nodes around ${root.label}`} role="group" xmlns="http://www.w3.org/2000/svg"></svg>
          <div class="gk-legend" id="graph-legend" aria-label="Legend">
            <ul class="gk-legend-kinds">
              {kinds.map((k) => (
                <li>
                  <KindSwatch kind={k} /> {kindLabel(k)}
                </li>
              ))}
            </ul>
            {edgeKinds.length ? (
              <p class="gk-legend-edges">
                <span class="gk-legend-arrow" aria-hidden="true">
                  ⟶
                </span>{' '}
                {edgeKinds.join(' · ')}
              </p>
            ) : null}
          </div>
          <div class="gk-zoom" id="graph-zoom" hidden>
            <button type="button" class="btn btn-sm btn-icon" data-zoom="in" title="Zoom in" aria-label="Zoom in">
              <Icon name="plus" />
            </button>
            <button type="button" class="btn btn-sm btn-icon" data-zoom="out" title="Zoom out" aria-label="Zoom out">
              <span aria-hidden="true" class="gk-minus">−</span>
            </button>
            <button type="button" class="btn btn-sm" data-zoom="fit" title="Fit the whole graph">
              Fit
            </button>
          </div>
          <p class="gk-canvas-note" id="graph-note">
            The drawing needs JavaScript: every node and edge is listed below.
          </p>
          <p class="gk-hint" id="graph-hint" hidden>
            Scroll to zoom · drag to pan · drag a node to move it · click or Enter to select
          </p>
        </div>
        <aside class="gk-panel" id="graph-panel" aria-label="Selected node" aria-live="polite">
          <NodePanel node={root} view={graph} />
        </aside>
      </div>
      <div class="gk-lists">
        <section class="card gk-list-card">
          <div class="card-head">
            <h2 class="h3">Nodes</h2>
            <span class="counter">{graph.nodes.length}</span>
          </div>
          <NodeLists view={graph} />
        </section>
        <section class="card gk-list-card">
          <div class="card-head">
            <h2 class="h3">Edges</h2>
            <span class="counter">{graph.edges.length}</span>
          </div>
          <EdgeList view={graph} />
        </section>
      </div>
      <script type="application/json" id="graph-data" dangerouslySetInnerHTML={{ __html: graphDataJson(graph) }}></script>
    </GraphLayout>
  );
};

/** A run without a node yet, or a file no capture touched: said plainly, with the way back. */
export const GraphEmptyPage: FC<{ ctx: PageContext; view: RepoView; target: { kind: 'run'; number: number; title: string; status: RunStatus } | { kind: 'path'; path: string } }> = ({ ctx, view, target }) => {
  const repo = view.repo;
  const crumb = target.kind === 'run' ? `Run #${target.number}` : target.path;
  return (
    <GraphLayout ctx={ctx} view={view} title={`Graph · ${crumb} · ${repo.owner_name}/${repo.name}`}>
      <Crumbs view={view} here={crumb} />
      <div class="card gk-empty" id="graph-empty">
        {target.kind === 'run' ? (
          <EmptyState icon="sparkle" title={`Run #${target.number} has no graph yet`}>
            <p class="muted">
              A task's graph — its evidence, the file ranges and commits it touched, its pull request — is written when it finishes.
              {target.status === 'queued' || target.status === 'running' || target.status === 'blocked' ? ` This one is ${target.status}.` : ''}
            </p>
            <p class="gk-empty-actions">
              <a class="btn btn-sm" href={`${repoUrl(repo)}/runs/${target.number}`}>
                Back to run #{target.number}
              </a>
              <a class="btn btn-sm btn-ghost" href={graphUrl(repo)}>
                Graph overview
              </a>
            </p>
          </EmptyState>
        ) : (
          <EmptyState icon="file" title="No AI-written ranges in this file">
            <p class="muted">
              No recorded agent work touched <code>{target.path}</code>, so it has no graph.
            </p>
            <p class="gk-empty-actions">
              {repo.is_empty !== 1 ? (
                <a class="btn btn-sm" href={blobUrl(repo, repo.default_branch, target.path)}>
                  View the file
                </a>
              ) : null}
              <a class="btn btn-sm btn-ghost" href={graphUrl(repo)}>
                Graph overview
              </a>
            </p>
          </EmptyState>
        )}
      </div>
    </GraphLayout>
  );
};

const STATUS_TEXT: Record<string, string> = { queued: 'Queued', running: 'Running', succeeded: 'Succeeded', failed: 'Failed', cancelled: 'Cancelled', blocked: 'Blocked' };

/** No target: what the graph holds, recent tasks with a graph, and a file look-up. */
export const GraphIndexPage: FC<{ ctx: PageContext; view: RepoView; index: GraphIndex; path?: string }> = ({ ctx, view, index, path }) => {
  const repo = view.repo;
  return (
    <GraphLayout ctx={ctx} view={view} title={`Graph · ${repo.owner_name}/${repo.name}`}>
      <Crumbs view={view} />
      <div class="gk-head">
        <div class="gk-head-main">
          <h1 class="gk-title">
            <Icon name="graph" size={22} /> <span class="gk-title-text">Knowledge graph</span>
          </h1>
          <p class="muted gk-sub">How the work in this repository connects: tasks, the evidence of what their agents wrote, the file ranges and commits it touched, pull requests and reviews.</p>
        </div>
      </div>
      {index.nodes === 0 ? (
        <div class="card gk-empty" id="graph-empty">
          <EmptyState icon="sparkle" title="The graph is empty">
            <p class="muted">Finished tasks and AI provenance (captures, reviews) add nodes here.</p>
            <p class="gk-empty-actions">
              <a class="btn btn-sm" href={`${repoUrl(repo)}/runs`}>
                Tasks
              </a>
            </p>
          </EmptyState>
        </div>
      ) : (
        <ul class="gk-stats" id="graph-stats">
          {index.counts.map((c) => (
            <li class="gk-stat" data-kind={c.kind}>
              <span class="gk-stat-n">{c.count.toLocaleString('en')}</span>
              <span class="gk-stat-label">
                <KindSwatch kind={c.kind} /> {kindLabel(c.kind, c.count !== 1)}
              </span>
            </li>
          ))}
          <li class="gk-stat gk-stat-total">
            <span class="gk-stat-n">{index.edges.toLocaleString('en')}</span>
            <span class="gk-stat-label">{index.edges === 1 ? 'edge' : 'edges'}</span>
          </li>
        </ul>
      )}
      <div class="gk-index-grid">
        <section class="card">
          <div class="card-head">
            <h2 class="h3">Recent tasks</h2>
          </div>
          {index.runs.length ? (
            <ul class="gk-runs" id="graph-runs">
              {index.runs.map((r) => (
                <li class="gk-run" data-run={r.number}>
                  <a class="gk-run-link" href={graphUrl(repo, { run: r.number })}>
                    <span class="gk-run-number">#{r.number}</span> <span class="gk-run-title">{r.title}</span>
                  </a>
                  <span class={`gk-run-status gk-run-status-${r.status}`}>{STATUS_TEXT[r.status] ?? r.status}</span>
                  <a class="gk-run-page muted" href={`${repoUrl(repo)}/runs/${r.number}`} title={`Task #${r.number}`}>
                    task
                  </a>
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted gk-none">No task has a graph yet.</p>
          )}
        </section>
        <section class="card">
          <div class="card-head">
            <h2 class="h3">Look up a file</h2>
          </div>
          <div class="card-pad">
            <form method="get" action={graphUrl(repo)} class="gk-file-form" role="search">
              <label for="graph-path" class="sr-only">
                File path
              </label>
              <input type="text" class="input mono" id="graph-path" name="path" value={path ?? ''} placeholder="src/app.ts" required maxlength={4096} autocomplete="off" spellcheck={false} />
              <button type="submit" class="btn btn-primary">
                Show graph
              </button>
            </form>
            {index.files.length ? (
              <>
                <h3 class="gk-panel-h">Recently touched by agents</h3>
                <ul class="gk-files" id="graph-files">
                  {index.files.map((f) => (
                    <li>
                      <Icon name="file" class="muted" />{' '}
                      <a href={graphUrl(repo, { path: f })} class="mono">
                        {f}
                      </a>
                    </li>
                  ))}
                </ul>
              </>
            ) : null}
          </div>
        </section>
      </div>
    </GraphLayout>
  );
};
