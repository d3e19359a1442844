import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SnapshotStore, type SnapshotMode } from '../../src/runner/snapshots.ts';

/** The snapshot store of issue 13: both modes that run here, restore, eviction, a runner killed mid-snapshot. */
const root = process.getuid?.() === 0;
const modes: SnapshotMode[] = root ? ['overlay', 'copy'] : ['copy'];

describe.each(modes)('snapshot store (%s)', (mode) => {
  let base: string;
  let store: SnapshotStore;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'gitoku-snap-'));
    store = await SnapshotStore.open(base, { quotaBytes: 1024 ** 3, retentionMs: 3_600_000, mode });
  });

  afterEach(async () => {
    await store?.close();
    await rm(base, { recursive: true, force: true });
  });

  it('freezes a workspace and boots others from it, each with its own changes', async () => {
    const ws = await store.provision();
    await writeFile(join(ws.tree, 'work', 'a.txt'), 'one\n');
    await writeFile(join(ws.tree, 'home', 'session.json'), '{"s":1}\n');
    const first = await store.snapshot(ws);
    expect(first).toMatchObject({ mode, parent: null });
    await writeFile(join(ws.tree, 'work', 'a.txt'), 'two\n');
    await writeFile(join(ws.tree, 'work', 'b.txt'), 'b\n');
    const second = await store.snapshot(ws);
    expect(second.parent).toBe(first.id);

    const fork = await store.provision(first.id);
    expect(fork.from).toBe(first.id);
    expect(await readFile(join(fork.tree, 'work', 'a.txt'), 'utf8')).toBe('one\n');
    expect(existsSync(join(fork.tree, 'work', 'b.txt'))).toBe(false);
    expect(await readFile(join(fork.tree, 'home', 'session.json'), 'utf8')).toBe('{"s":1}\n');
    await writeFile(join(fork.tree, 'work', 'a.txt'), 'fork\n');
    // The original and the snapshot are untouched by the fork's change.
    expect(await readFile(join(ws.tree, 'work', 'a.txt'), 'utf8')).toBe('two\n');
    const again = await store.provision(first.id);
    expect(await readFile(join(again.tree, 'work', 'a.txt'), 'utf8')).toBe('one\n');
    if (mode === 'overlay') expect(second.layers).toHaveLength(2); // a rename, not a copy
    for (const w of [ws, fork, again]) await store.release(w);
  });

  it('keeps to its quota, least recently used first, and removes unused layers', async () => {
    const small = await SnapshotStore.open(join(base, 'small'), { quotaBytes: 3 * 1024 * 1024, retentionMs: 3_600_000, mode });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const ws = await small.provision();
        await writeFile(join(ws.tree, 'work', 'blob'), Buffer.alloc(1024 * 1024, i));
        ids.push((await small.snapshot(ws)).id);
        await small.release(ws);
      }
      const kept = small.list().map((s) => s.id);
      expect(kept.length).toBeLessThan(4);
      expect(kept).toContain(ids[3]);
      expect(kept).not.toContain(ids[0]);
      const layerDirs = await readdir(join(small.root, 'layers'));
      expect(layerDirs.length).toBe(new Set(small.list().flatMap((s) => s.layers)).size);
    } finally {
      await small.close();
    }
  });

  it('a runner killed mid-snapshot leaves nothing half made; the next runner removes its store', async () => {
    const script = `
      import { SnapshotStore } from ${JSON.stringify(join(process.cwd(), 'src/runner/snapshots.ts'))};
      import { writeFile } from 'node:fs/promises';
      const store = await SnapshotStore.open(${JSON.stringify(join(base, 'crash'))}, { quotaBytes: 1e12, retentionMs: 1e9, mode: ${JSON.stringify(mode)} });
      const ws = await store.provision();
      await writeFile(ws.tree + '/work/big', Buffer.alloc(64 * 1024 * 1024, 1));
      console.log('READY');
      await store.snapshot(ws);
      await new Promise(() => {});
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('READY') && resolve()));
    await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const next = await SnapshotStore.open(join(base, 'crash'), { quotaBytes: 1e12, retentionMs: 1e9, mode });
    try {
      expect(next.list()).toEqual([]);
      expect((await readdir(join(base, 'crash'))).length).toBe(1); // only the new store; the dead one's is gone
    } finally {
      await next.close();
    }
  }, 60_000);
});
