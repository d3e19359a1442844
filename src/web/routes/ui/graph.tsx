import type { Hono } from 'hono';
import type { WebEnv } from '../../context.ts';
import { notFound } from '../../../services/errors.ts';
import { getRun } from '../../../services/runs.ts';
import { findGraphNode, findGraphNodes, graphNeighbourhoodOf, runNodeKey, type GraphNodeView } from '../../../services/provenanceGraph.ts';
import { formerPaths } from '../../../git/log.ts';
import { GRAPH_MAX_FILE_RANGES, GRAPH_MAX_NODES, buildGraphView, loadGraphIndex, parseDepth, viewGraphNode } from '../../../services/uiGraph.ts';
import { isSafeRepoPath, resolveCommit } from '../../../git/tree.ts';
import { GraphEmptyPage, GraphIndexPage, GraphPage } from '../../views/pages/graph.tsx';
import { pageContext, render } from './render.tsx';
import { graphUrl } from '../../views/urls.ts';
import { repoAccess, repoView } from './access.ts';

/** A positive id or run number as typed in the query; anything else is a 404 (like an unknown one). */
function positiveInt(raw: string): number {
  const s = raw.trim();
  if (!/^\d{1,10}$/.test(s)) throw notFound();
  const n = Number(s);
  if (n < 1 || n > 2_147_483_647) throw notFound();
  return n;
}

/**
 * The knowledge-graph page: /:owner/:repo/graph?run=N (a task), ?path=P (a file's AI-written ranges),
 * ?node=ID (any node; ?evidence=<sha>:<index> redirects to a capture's), each with ?depth=1…3; without a target, an overview. Read access like every
 * repository page: a private repository's graph is a 404 to everyone else.
 */
export function registerGraphRoutes(ui: Hono<WebEnv>): void {
  ui.get('/:owner/:repo/graph', async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c);
    const repo = access.repo;
    const depth = parseDepth(c.req.query('depth'));
    const nodeParam = c.req.query('node');
    const runParam = c.req.query('run');
    const pathParam = c.req.query('path');

    const evidenceParam = c.req.query('evidence');
    if (evidenceParam !== undefined) {
      // A capture's evidence node, as the AI popovers and panels link to it.
      const node = /^[0-9a-f]{40,64}:\d{1,6}$/.test(evidenceParam) ? await findGraphNode(app, repo.id, 'evidence', evidenceParam) : null;
      if (!node) throw notFound();
      return c.redirect(graphUrl(repo, { node: node.id, depth: c.req.query('depth') !== undefined ? depth : undefined }), 302);
    }

    if (nodeParam !== undefined) {
      const id = positiveInt(nodeParam);
      // 404 when the node is not one of this repository's.
      const hood = await graphNeighbourhoodOf(app, repo.id, [id], depth, GRAPH_MAX_NODES);
      const graph = buildGraphView(repo, hood, { root: id, depth, maxNodes: GRAPH_MAX_NODES });
      const target = viewGraphNode(repo, hood.nodes.find((n) => n.id === id)!, { depth, root: true });
      return render(c, <GraphPage ctx={pageContext(c)} view={await repoView(c, access)} target={{ kind: 'node', node: target }} graph={graph} />);
    }

    if (runParam !== undefined) {
      const run = await getRun(app, repo.id, positiveInt(runParam));
      const target = { kind: 'run' as const, number: run.number, title: run.title, status: run.status };
      const node = await findGraphNode(app, repo.id, 'run', runNodeKey(run.id));
      if (!node) return render(c, <GraphEmptyPage ctx={pageContext(c)} view={await repoView(c, access)} target={target} />);
      const hood = await graphNeighbourhoodOf(app, repo.id, [node.id], depth, GRAPH_MAX_NODES);
      const graph = buildGraphView(repo, hood, { root: node.id, depth, maxNodes: GRAPH_MAX_NODES });
      return render(c, <GraphPage ctx={pageContext(c)} view={await repoView(c, access)} target={target} graph={graph} />);
    }

    if (pathParam !== undefined && pathParam.trim() !== '') {
      const path = pathParam.trim().replace(/^\/+/, '').replace(/\/+$/, '');
      if (!path || !isSafeRepoPath(path)) throw notFound();
      // The file's ranges under its current name and the names it had before (renames followed on the default branch).
      const head = repo.is_empty ? null : await resolveCommit(access.gitDir, `refs/heads/${repo.default_branch}`);
      const names = head ? await formerPaths(access.gitDir, head, path) : [path];
      const ranges = { items: [] as GraphNodeView[], total: 0 };
      for (const name of names) {
        const found = await findGraphNodes(app, repo.id, { path: name, page: 1, perPage: GRAPH_MAX_FILE_RANGES });
        ranges.items.push(...found.items.slice(0, GRAPH_MAX_FILE_RANGES - ranges.items.length));
        ranges.total += found.total;
      }
      if (ranges.items.length === 0) return render(c, <GraphEmptyPage ctx={pageContext(c)} view={await repoView(c, access)} target={{ kind: 'path', path }} />);
      const ids = ranges.items.map((n) => n.id);
      // One node of the cap is the file's own (synthetic) node.
      const hood = await graphNeighbourhoodOf(app, repo.id, ids, depth, GRAPH_MAX_NODES - 1);
      const graph = buildGraphView(repo, hood, { root: ids[0]!, depth, maxNodes: GRAPH_MAX_NODES, file: { path, ref: repo.default_branch, ranges: ids } });
      // More ranges than the page starts from (the count may include other-case paths on SQLite: close enough).
      const more = ranges.total > GRAPH_MAX_FILE_RANGES;
      if (more) graph.truncated = true;
      return render(c, <GraphPage ctx={pageContext(c)} view={await repoView(c, access)} target={{ kind: 'path', path, ranges: ids.length, total: more ? ranges.total : ids.length }} graph={graph} />);
    }

    const index = await loadGraphIndex(app, repo.id);
    return render(c, <GraphIndexPage ctx={pageContext(c)} view={await repoView(c, access)} index={index} />);
  });
}
