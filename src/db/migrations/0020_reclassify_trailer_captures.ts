import type { Kysely } from 'kysely';
import { capturesFromTrailers } from '../../domain/aiProvenance.ts';

/** Trailer keys whose value may name a person as well as an AI (the classifier now tells them apart). */
const PERSON_OR_AI_KEYS = new Set(['assisted-by', 'generated-by', 'ai-assisted-by']);

interface Row {
  id: number;
  repository_id: number;
  commit_sha: string;
  capture_index: number;
  details: string;
}

/**
 * Re-classifies the captures stored from commit trailers: an `Assisted-by: <person>` trailer (as in git's
 * own history) was recorded as an AI capture. Those whose trailer the current classifier no longer reads
 * as naming a known agent or model are removed, with their evidence nodes in the graph (and the edges
 * and file ranges only they held). Idempotent; other captures are untouched.
 */
export async function up(untyped: Kysely<unknown>): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a migration sees the schema of its time, not today's types
  const db = untyped as Kysely<any>;
  const rows = (await db.selectFrom('commit_ai_contexts').select(['id', 'repository_id', 'commit_sha', 'capture_index', 'details']).where('evidence_kind', '=', 'commit_trailer').execute()) as Row[];
  const doomed = rows.filter((row) => {
    let trailer = '';
    try {
      const details = JSON.parse(row.details) as { trailer?: unknown };
      trailer = typeof details.trailer === 'string' ? details.trailer : '';
    } catch {
      return false;
    }
    const colon = trailer.indexOf(':');
    if (colon < 0 || !PERSON_OR_AI_KEYS.has(trailer.slice(0, colon).trim().toLowerCase())) return false;
    return capturesFromTrailers(`commit\n\n${trailer}`).captures.length === 0;
  });
  for (let i = 0; i < doomed.length; i += 200) {
    const part = doomed.slice(i, i + 200);
    for (const row of part) {
      const evidence = (await db
        .selectFrom('graph_nodes')
        .select('id')
        .where('repository_id', '=', row.repository_id)
        .where('kind', '=', 'evidence')
        .where('key', '=', `${row.commit_sha}:${row.capture_index}`)
        .execute()) as { id: number }[];
      const ids = evidence.map((e) => e.id);
      if (ids.length > 0) {
        const targets = (await db.selectFrom('graph_edges').select('dst_id').where('src_id', 'in', ids).where('kind', '=', 'derived_from').execute()) as { dst_id: number }[];
        await db.deleteFrom('graph_edges').where((eb) => eb.or([eb('src_id', 'in', ids), eb('dst_id', 'in', ids)])).execute();
        await db.deleteFrom('graph_nodes').where('id', 'in', ids).execute();
        const ranges = [...new Set(targets.map((t) => t.dst_id))];
        if (ranges.length > 0) {
          await db
            .deleteFrom('graph_nodes')
            .where('id', 'in', ranges)
            .where('kind', '=', 'file_range')
            .where((eb) => eb.not(eb.exists(eb.selectFrom('graph_edges').select('graph_edges.id').whereRef('graph_edges.dst_id', '=', 'graph_nodes.id'))))
            .execute();
        }
      }
    }
    await db.deleteFrom('commit_ai_contexts').where('id', 'in', part.map((r) => r.id)).execute();
  }
}
