import { now } from './app.ts';
import type { DbOrTx } from '../db/index.ts';

/**
 * The knowledge graph (DESIGN §3): typed nodes keyed per repository, typed edges between them.
 * Writes are idempotent (upserts on the identity constraints) so callers may repeat them.
 */
export type NodeKind = 'run' | 'agent' | 'evidence' | 'commit' | 'file_range' | 'pull_request' | 'task' | 'claim' | 'decision' | 'failure' | 'convention';
export type EdgeKind = 'derived_from' | 'produced_by' | 'forked_from' | 'about' | 'depends_on' | 'contradicts' | 'supersedes' | 'cites' | 'learned_from' | 'used_by';

/** Creates the node (repository, kind, key) or updates its data; returns its id. */
export async function upsertNode(db: DbOrTx, repositoryId: number | null, kind: NodeKind, key: string, data: Record<string, unknown> = {}): Promise<number> {
  const row = await db
    .insertInto('graph_nodes')
    .values({ repository_id: repositoryId, kind, key, data: JSON.stringify(data), created_at: now() })
    .onConflict((oc) => oc.columns(['repository_id', 'kind', 'key']).doUpdateSet({ data: JSON.stringify(data) }))
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function findNode(db: DbOrTx, repositoryId: number | null, kind: NodeKind, key: string) {
  return db.selectFrom('graph_nodes').selectAll().where('repository_id', repositoryId === null ? 'is' : '=', repositoryId).where('kind', '=', kind).where('key', '=', key).executeTakeFirst();
}

/** Adds the edge src → dst of a kind once (a repeated call is a no-op). */
export async function addEdge(db: DbOrTx, srcId: number, dstId: number, kind: EdgeKind, data: Record<string, unknown> = {}): Promise<void> {
  await db
    .insertInto('graph_edges')
    .values({ src_id: srcId, dst_id: dstId, kind, data: JSON.stringify(data), created_at: now() })
    .onConflict((oc) => oc.columns(['src_id', 'dst_id', 'kind']).doNothing())
    .execute();
}

export async function edgesOf(db: DbOrTx, nodeId: number) {
  const [outgoing, incoming] = await Promise.all([
    db.selectFrom('graph_edges').selectAll().where('src_id', '=', nodeId).orderBy('id').execute(),
    db.selectFrom('graph_edges').selectAll().where('dst_id', '=', nodeId).orderBy('id').execute(),
  ]);
  return { outgoing, incoming };
}

/** The node (repository, kind, key), created with `data` if it does not exist yet; existing data is kept. */
export async function ensureNode(db: DbOrTx, repositoryId: number | null, kind: NodeKind, key: string, data: Record<string, unknown> = {}): Promise<number> {
  await db.insertInto('graph_nodes').values({ repository_id: repositoryId, kind, key, data: JSON.stringify(data), created_at: now() }).onConflict((oc) => oc.columns(['repository_id', 'kind', 'key']).doNothing()).execute();
  return (await findNode(db, repositoryId, kind, key))!.id;
}
