import { z } from 'zod';
import type { ApiRegistry } from './registry.ts';
import { paginationQuery, setPaginationLinks } from './registry.ts';
import { errorSchema } from './shapes.ts';
import { repoFromPath } from './repos.ts';
import { findGraphNodes, getGraphNode, graphNeighbourhood, type GraphNodeView } from '../../../services/provenanceGraph.ts';

const nodeSchema = z.object({ id: z.number(), kind: z.string(), key: z.string(), data: z.record(z.string(), z.unknown()), created_at: z.string() });
const edgeSchema = z.object({ id: z.number(), kind: z.string(), data: z.record(z.string(), z.unknown()), node: z.object({ id: z.number(), kind: z.string(), key: z.string() }) });
const nodesQuery = paginationQuery.extend({ kind: z.string().max(32).optional(), key: z.string().max(512).optional(), path: z.string().max(4096).optional() });
const neighbourhoodQuery = z.object({ depth: z.coerce.number().int().min(1).max(4).default(2) });

const iso = (s: string) => s.replace(/\.\d{3}Z$/, 'Z');
const nodeJson = (n: GraphNodeView) => ({ ...n, created_at: iso(n.created_at) });

/** The knowledge graph of a repository (issue 7): its nodes, one node with its edges, a node's neighbourhood. */
export function registerGraphRoutes(api: ApiRegistry): void {
  api.add(
    {
      method: 'get',
      path: '/repos/{owner}/{repo}/graph/nodes',
      summary: 'Graph nodes of a repository, filtered by kind, key, and path (file_range nodes of one file) (gitoku)',
      tag: 'graph',
      access: 'public',
      query: nodesQuery,
      responses: { 200: { description: 'Nodes', schema: z.array(nodeSchema) } },
    },
    async (c, { query }) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const { items, total } = await findGraphNodes(app, access.repo.id, { kind: query.kind, key: query.key, path: query.path, page: query.page, perPage: query.per_page });
      setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, total);
      return c.json(items.map(nodeJson));
    },
  );

  api.add(
    {
      method: 'get',
      path: '/repos/{owner}/{repo}/graph/nodes/{id}',
      summary: 'A graph node with its incoming and outgoing edges (gitoku)',
      tag: 'graph',
      access: 'public',
      responses: { 200: { description: 'The node', schema: nodeSchema.extend({ incoming: z.array(edgeSchema), outgoing: z.array(edgeSchema) }) }, 404: { description: 'No such node in this repository', schema: errorSchema } },
    },
    async (c) => {
      const access = await repoFromPath(c);
      const node = await getGraphNode(c.get('app'), access.repo.id, Number(c.req.param('id')));
      return c.json({ ...nodeJson(node), incoming: node.incoming, outgoing: node.outgoing });
    },
  );

  api.add(
    {
      method: 'get',
      path: '/repos/{owner}/{repo}/graph/nodes/{id}/neighbourhood',
      summary: "A node's neighbourhood: the nodes within depth hops and the edges between them, for a graph view (gitoku)",
      tag: 'graph',
      access: 'public',
      query: neighbourhoodQuery,
      responses: { 200: { description: '{nodes, edges}' }, 404: { description: 'No such node in this repository', schema: errorSchema } },
    },
    async (c, { query }) => {
      const access = await repoFromPath(c);
      const hood = await graphNeighbourhood(c.get('app'), access.repo.id, Number(c.req.param('id')), query.depth);
      return c.json({ nodes: hood.nodes.map(nodeJson), edges: hood.edges });
    },
  );
}
