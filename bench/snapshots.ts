/**
 * Snapshot benchmark (issue 13): checkpoint (snapshot) and restore (boot a workspace from a snapshot)
 * of workspaces of 10 MB, 300 MB and 1 GB (many small files, like node_modules, plus a few large
 * ones), with the store's own mode (overlay as root), against the copy fallback (`cp -a`) measured in
 * the same run; and the disk used by 10 forks of the 300 MB workspace against one workspace.
 * Targets: snapshot ≤ 20 ms and restore ≤ 10 ms whatever the size; 10 forks ≤ 1.2× one workspace.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Benchmark, type BenchCheck, check, Cleanup, log, median, printTable, run, tempDir, time } from './lib.ts';
import { SnapshotStore } from '../src/runner/snapshots.ts';

const MiB = 1024 * 1024;
const SIZES = [10, 300, 1024];

/** Fills a workspace tree: files of 16 KiB in directories of 100, and a quarter of the size in 8 MiB files. */
async function fill(work: string, megabytes: number): Promise<void> {
  const small = Math.floor((megabytes * 0.75 * MiB) / (16 * 1024));
  const chunk = Buffer.alloc(16 * 1024, 7);
  for (let i = 0; i < small; i++) {
    const dir = join(work, 'node_modules', `pkg${Math.floor(i / 100)}`);
    if (i % 100 === 0) await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `f${i}.js`), chunk);
  }
  const big = Math.max(1, Math.floor((megabytes * 0.25) / 8));
  for (let i = 0; i < big; i++) await writeFile(join(work, `blob${i}.bin`), Buffer.alloc(8 * MiB, i));
}

async function diskBytes(path: string): Promise<number> {
  const out = await run('du', ['-s', '-x', '-B1', '--', path]);
  return Number(/^(\d+)/.exec(out.stdout)?.[1] ?? 0);
}

export const snapshots: Benchmark = {
  name: 'snapshots',
  description: 'workspace snapshot and restore (overlay) vs copying, 10 MB – 1 GB; disk of 10 forks',
  async run(opts, cleanup: Cleanup) {
    const repeat = opts.repeat ?? 5;
    const dir = await tempDir(cleanup, 'gitoku-bench-snap-');
    const store = await SnapshotStore.open(join(dir.path, 'store'), { quotaBytes: 1024 ** 4, retentionMs: 3_600_000 });
    cleanup.add('snapshot store', () => store.close());
    const rows: string[][] = [];
    const checks: BenchCheck[] = [];
    const notes = [`store mode: ${store.mode}${store.mode === 'copy' ? ' (overlay needs root here; the copy fallback is measured against itself)' : ''}`];
    for (const size of SIZES) {
      log(opts, `snapshots: filling a ${size} MB workspace`);
      const ws = await store.provision();
      await fill(join(ws.tree, 'work'), size);
      const snapTimes: number[] = [];
      let lastId = '';
      for (let i = 0; i < repeat; i++) {
        await writeFile(join(ws.tree, 'work', `edit${i}.txt`), `edit ${i}\n`);
        snapTimes.push(await time(async () => (lastId = (await store.snapshot(ws)).id)));
      }
      const restoreTimes: number[] = [];
      for (let i = 0; i < repeat; i++) {
        let booted: Awaited<ReturnType<typeof store.provision>> | null = null;
        restoreTimes.push(await time(async () => (booted = await store.provision(lastId))));
        await store.release(booted!);
      }
      const copyTimes: number[] = [];
      for (let i = 0; i < Math.min(repeat, 3); i++) {
        const target = join(dir.path, `copy-${size}-${i}`);
        copyTimes.push(await time(() => run('cp', ['-a', '--reflink=auto', '--', ws.tree, target])));
        await run('rm', ['-rf', target]);
      }
      const snap = median(snapTimes);
      const restore = median(restoreTimes);
      const copy = median(copyTimes);
      rows.push([`${size} MB`, `${snap.toFixed(1)} ms`, `${restore.toFixed(1)} ms`, `${copy.toFixed(0)} ms`]);
      checks.push(check(`snapshot ${size} MB: store / cp -a`, snap, copy, 20 / Math.max(copy, 1), 'ms'));
      checks.push(check(`restore ${size} MB: store / cp -a`, restore, copy, 10 / Math.max(copy, 1), 'ms'));
      if (size === 300) {
        const base = await diskBytes(store.root);
        const forks = [];
        for (let i = 0; i < 10; i++) {
          const fork = await store.provision(lastId);
          await writeFile(join(fork.tree, 'work', 'fork.txt'), `fork ${i}\n`);
          forks.push(fork);
        }
        const withForks = await diskBytes(store.root);
        const one = await diskBytes(join(ws.tree, 'work'));
        notes.push(`10 forks of the 300 MB workspace added ${((withForks - base) / MiB).toFixed(1)} MiB (one workspace: ${(one / MiB).toFixed(0)} MiB)`);
        checks.push(check('disk: one workspace + 10 forks / one workspace', (one + (withForks - base)) / MiB, one / MiB, 1.2, 'MiB'));
        for (const fork of forks) await store.release(fork);
      }
      await store.release(ws);
    }
    printTable('Snapshots', ['workspace', 'snapshot (p50)', 'restore (p50)', 'cp -a (p50)'], rows);
    return { checks, notes };
  },
};
