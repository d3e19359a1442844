/**
 * Repository maintenance writes the commit-graph with changed-path filters of 32 bits per path, and
 * rebuilds once the graph of a repository maintained before (git's 10 bits, whose filters a rewrite
 * would otherwise copy); later runs add layers with the same settings. Histories read the same with the
 * graph as without it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { maintainRepository } from '../../src/services/maintenance.ts';
import { commitFiles, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { bloomBitsPerEntry, commitGraphLayers } from '../helpers/commitGraph.ts';

describe('commit-graph maintenance', () => {
  let work: { path: string; remove(): Promise<void> };
  let bare: string;

  beforeAll(async () => {
    work = await tempDir();
    await mkdir(join(work.path, 'w'));
    await initWorkRepo(join(work.path, 'w'), { 'src/a.ts': 'a\n', 'src/b.ts': 'b\n', 'README.md': '# r\n' });
    for (let i = 0; i < 30; i++) await commitFiles(join(work.path, 'w'), { [`src/f${i % 7}.ts`]: `v${i}\n` }, `Change ${i}`);
    bare = join(work.path, 'r.git');
    await gitOk(work.path, ['clone', '-q', '--bare', join(work.path, 'w'), bare]);
    // Maintained before: a graph with git's default filters.
    await gitOk(bare, ['commit-graph', 'write', '--reachable', '--changed-paths', '--split']);
  });
  afterAll(async () => {
    await work?.remove();
  });

  const history = async (path: string) => {
    const args = ['log', '--format=%H', 'main', '--', path];
    expect(await gitOk(bare, args)).toBe(await gitOk(bare, ['-c', 'core.commitGraph=false', ...args]));
  };

  it('rebuilds an older graph once with 32-bit filters, then adds layers that keep them', async () => {
    expect(commitGraphLayers(bare).map(bloomBitsPerEntry)).toEqual([10]);
    const first = await maintainRepository(bare);
    expect(first.every((t) => t.ok), JSON.stringify(first)).toBe(true);
    expect(commitGraphLayers(bare).map(bloomBitsPerEntry)).toEqual([32]);
    expect(existsSync(join(bare, 'gitoku-bloom-32'))).toBe(true);

    await commitFiles(join(work.path, 'w'), { 'src/new.ts': 'n\n' }, 'New file');
    await gitOk(join(work.path, 'w'), ['push', '-q', bare, 'main']);
    await maintainRepository(bare);
    const layers = commitGraphLayers(bare);
    expect(layers.length).toBeGreaterThanOrEqual(1);
    for (const layer of layers) expect(bloomBitsPerEntry(layer)).toBe(32);
    for (const path of ['src/a.ts', 'src/f3.ts', 'src/new.ts', 'src', 'README.md', 'nope']) await history(path);
  });
});
