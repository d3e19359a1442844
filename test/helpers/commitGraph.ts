import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The graph files of a repository's split commit-graph, oldest layer first. */
export function commitGraphLayers(gitDir: string): string[] {
  const dir = join(gitDir, 'objects', 'info', 'commit-graphs');
  return readFileSync(join(dir, 'commit-graph-chain'), 'utf8').trim().split('\n').map((layer) => join(dir, `graph-${layer}.graph`));
}

/** The bits per path of a commit-graph file's changed-path filters (its BDAT chunk's header), null without filters. */
export function bloomBitsPerEntry(file: string): number | null {
  const graph = readFileSync(file);
  const chunks = graph.readUInt8(6);
  for (let i = 0; i < chunks; i++) {
    const entry = 8 + i * 12;
    if (graph.toString('latin1', entry, entry + 4) === 'BDAT') return graph.readUInt32BE(Number(graph.readBigUInt64BE(entry + 4)) + 8);
  }
  return null;
}
