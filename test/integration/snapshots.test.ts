import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SnapshotStore, WorkspaceUnmountedError, type SnapshotMode } from '../../src/runner/snapshots.ts';
import { CheckpointRecorder } from '../../src/runner/checkpoints.ts';
import type { SandboxBackend, Workspace } from '../../src/runner/sandbox.ts';
import type { WorkspaceGit } from '../../src/runner/workspaceGit.ts';

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

  it('snapshots a workspace a process is running in: overlay copies only the changes, copy keeps none', async () => {
    const ws = await store.provision();
    await writeFile(join(ws.tree, 'work', 'gone.txt'), 'to be deleted\n');
    await writeFile(join(ws.tree, 'work', 'big.bin'), Buffer.alloc(8 * 1024 * 1024, 3));
    const base = await store.snapshot(ws);
    const booted = await store.provision(base.id);
    // A process keeps the workspace busy (as a running agent does): it cannot be unmounted.
    const busy = spawn('sleep', ['30'], { cwd: join(booted.tree, 'work'), stdio: 'ignore' });
    try {
      await rm(join(booted.tree, 'work', 'gone.txt'));
      await writeFile(join(booted.tree, 'work', 'step.txt'), 'step 1\n');
      await writeFile(join(booted.tree, 'home', 'session.jsonl'), '{"turn":1}\n');
      const live = await store.snapshotLive(booted);
      if (mode === 'copy') {
        expect(live).toBeNull();
        return;
      }
      expect(live).toMatchObject({ mode: 'overlay', parent: base.id });
      // Only the changes were copied: far less than the 8 MiB below them.
      expect(live!.bytes).toBeLessThan(1024 * 1024);
      // The workspace went on where it was.
      await writeFile(join(booted.tree, 'work', 'step.txt'), 'step 2\n');
      const fork = await store.provision(live!.id);
      expect(await readFile(join(fork.tree, 'work', 'step.txt'), 'utf8')).toBe('step 1\n');
      expect(await readFile(join(fork.tree, 'home', 'session.jsonl'), 'utf8')).toBe('{"turn":1}\n');
      expect(existsSync(join(fork.tree, 'work', 'gone.txt'))).toBe(false);
      expect((await readFile(join(fork.tree, 'work', 'big.bin'))).length).toBe(8 * 1024 * 1024);
      await store.release(fork);
    } finally {
      busy.kill('SIGKILL');
      await new Promise((r) => busy.once('close', r));
      await store.release(booted);
      await store.release(ws);
    }
  });

  it('squashes a deep chain into one layer in the background, contents intact', async () => {
    const ws = await store.provision();
    let last = '';
    for (let i = 0; i < 18; i++) {
      await writeFile(join(ws.tree, 'work', `f${i}.txt`), `${i}\n`);
      if (i === 5) await rm(join(ws.tree, 'work', 'f2.txt'));
      last = (await store.snapshot(ws)).id;
    }
    await store.idle();
    const info = store.get(last)!;
    expect(info.layers.length).toBe(1); // overlay: 18 layers squashed into one; copy: always one
    const fork = await store.provision(last);
    expect((await readdir(join(fork.tree, 'work'))).sort()).toEqual(Array.from({ length: 18 }, (_, i) => `f${i}.txt`).filter((f) => f !== 'f2.txt').sort());
    expect(await readFile(join(fork.tree, 'work', 'f17.txt'), 'utf8')).toBe('17\n');
    // The workspace that made the chain goes on, and can still be snapshotted.
    await writeFile(join(ws.tree, 'work', 'after.txt'), 'after\n');
    const after = await store.snapshot(ws);
    const again = await store.provision(after.id);
    expect(await readFile(join(again.tree, 'work', 'after.txt'), 'utf8')).toBe('after\n');
    await store.release(again);
    await store.release(fork);
    await store.release(ws);
  });

  it('a persistent store outlives its runner: the next process takes it over, snapshots intact', async () => {
    const dir = join(base, 'persistent');
    const opts = { quotaBytes: 1e12, retentionMs: 1e9, mode, persistent: true };
    const first = await SnapshotStore.open(dir, opts);
    const ws = await first.provision();
    await writeFile(join(ws.tree, 'work', 'kept.txt'), 'kept\n');
    const snap = await first.snapshot(ws);
    // A second runner on the same directory while the first lives: a store of its own, removed with it.
    const second = await SnapshotStore.open(dir, opts);
    expect(second.root).not.toBe(first.root);
    expect(second.has(snap.id)).toBe(false);
    await second.close();
    await first.close();

    const next = await SnapshotStore.open(dir, opts);
    try {
      expect(next.root).toBe(first.root);
      expect(next.list().map((s) => s.id)).toEqual([snap.id]);
      const booted = await next.provision(snap.id);
      expect(await readFile(join(booted.tree, 'work', 'kept.txt'), 'utf8')).toBe('kept\n');
      await next.release(booted);
    } finally {
      await next.close();
    }
  });

  it('a persistent store killed mid-snapshot keeps its whole snapshots and never uses the half one', async () => {
    const dir = join(base, 'crash-persistent');
    const opts = { quotaBytes: 1e12, retentionMs: 1e9, mode, persistent: true };
    const script = `
      import { SnapshotStore } from ${JSON.stringify(join(process.cwd(), 'src/runner/snapshots.ts'))};
      import { writeFile } from 'node:fs/promises';
      const store = await SnapshotStore.open(${JSON.stringify(dir)}, ${JSON.stringify(opts)});
      const ws = await store.provision();
      await writeFile(ws.tree + '/work/small', 'small');
      const whole = await store.snapshot(ws);
      await writeFile(ws.tree + '/work/big', Buffer.alloc(64 * 1024 * 1024, 1));
      console.log('READY ' + whole.id);
      await store.snapshot(ws);
      await new Promise(() => {});
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const whole = await new Promise<string>((resolve) => child.stdout!.on('data', (d: Buffer) => /READY (\S+)/.exec(d.toString()) && resolve(/READY (\S+)/.exec(d.toString())![1]!)));
    await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const next = await SnapshotStore.open(dir, opts);
    try {
      expect(next.list().map((s) => s.id)).toEqual([whole]);
      const layers = await readdir(join(next.root, 'layers'));
      expect(layers.filter((l) => l.endsWith('.partial'))).toEqual([]);
      expect(new Set(layers)).toEqual(new Set(next.list().flatMap((s) => s.layers)));
      const booted = await next.provision(whole);
      expect(await readFile(join(booted.tree, 'work', 'small'), 'utf8')).toBe('small');
      expect(existsSync(join(booted.tree, 'work', 'big'))).toBe(false);
      await next.release(booted);
    } finally {
      await next.close();
    }
  }, 60_000);
});

// A live snapshot copies the upper directory while the agent goes on. An agent that swaps a directory
// for a symlink to a host directory just after the copy has listed it must never get a host file
// copied into a layer (which a fork would then boot with).
describe.runIf(root && existsSync('/usr/bin/bwrap'))('live snapshots of a hostile workspace', () => {
  let base: string;
  let store: SnapshotStore;
  let host: string;
  const FILES = 2000;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'gitoku-snap-'));
    host = await mkdtemp(join(tmpdir(), 'gitoku-host-'));
    for (let i = 0; i < FILES; i++) await writeFile(join(host, `f${i}`), 'HOST-SECRET\n');
    store = await SnapshotStore.open(base, { quotaBytes: 1024 ** 3, retentionMs: 3_600_000, mode: 'overlay' });
  });

  afterEach(async () => {
    await store?.close();
    await rm(base, { recursive: true, force: true });
    await rm(host, { recursive: true, force: true });
  });

  it('never copies a host file through a directory swapped for a symlink mid-copy', async () => {
    const ws = await store.provision();
    const work = join(ws.tree, 'work');
    // The agent's directory holds the host directory's names; once the copy has begun on it (its
    // first files appear in the half-made layer), the directory becomes a symlink to the host's.
    const script = `
import glob, os, sys
work, host, base, files = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
os.makedirs(os.path.join(work, 'd'))
for i in range(files):
    open(os.path.join(work, 'd', 'f%d' % i), 'w').write('agent\\n')
print('ready', flush=True)
while not glob.glob(os.path.join(base, '*', 'layers', '*.partial', 'work', 'd', 'f*')):
    pass
os.rename(os.path.join(work, 'd'), os.path.join(work, 'd.real'))
os.symlink(host, os.path.join(work, 'd'))
print('swapped', flush=True)
`;
    const swapper = spawn('python3', ['-c', script, work, host, base, String(FILES)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let said = '';
    swapper.stdout!.on('data', (d) => (said += d));
    try {
      while (!said.includes('ready')) await new Promise((r) => setTimeout(r, 10));
      // The copy may fail (a file vanished under it): the checkpoint then keeps its code only. Fine.
      await store.snapshotLive(ws).catch(() => null);
    } finally {
      swapper.kill('SIGKILL');
    }
    expect(said).toContain('swapped');
    const grep = spawn('grep', ['-rl', 'HOST-SECRET', base], { stdio: ['ignore', 'pipe', 'ignore'] });
    let found = '';
    grep.stdout!.on('data', (d) => (found += d));
    await new Promise((resolve) => grep.on('close', resolve));
    expect(found).toBe('');
  }, 60_000);
});

// A checkpoint unmounts the workspace's overlay and mounts it again with the new layer: should that
// mount fail, the workspace is the bare mount point, and the run must end rather than go on in it.
describe.skipIf(!root)('snapshot store: a workspace that cannot be mounted again', () => {
  let base: string;
  let store: SnapshotStore;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'gitoku-snap-'));
    store = await SnapshotStore.open(base, { quotaBytes: 1024 ** 3, retentionMs: 3_600_000, mode: 'overlay' });
  });
  afterEach(async () => {
    await store?.close();
    await rm(base, { recursive: true, force: true });
  });

  /** Makes the store's next `failures` mounts fail. */
  const failMounts = (failures: number) => {
    const target = store as unknown as { mount: (ws: unknown) => Promise<void> };
    const real = target.mount.bind(store);
    let left = failures;
    target.mount = async (ws) => {
      if (left-- > 0) throw new Error('mount: overlay: device busy');
      return real(ws);
    };
  };

  it('retries a failed mount, then refuses to go on with an unmounted workspace', async () => {
    const ws = await store.provision();
    await writeFile(join(ws.tree, 'work', 'a.txt'), 'one\n');
    failMounts(1);
    await store.snapshot(ws);
    expect(await readFile(join(ws.tree, 'work', 'a.txt'), 'utf8')).toBe('one\n');

    const other = await store.provision();
    failMounts(10);
    await expect(store.snapshot(ws)).rejects.toBeInstanceOf(WorkspaceUnmountedError);
    // The checkpoint recorder lets this one through (a failed snapshot is otherwise only a trace note).
    const emitted: string[] = [];
    const sandbox = { snapshot: () => store.snapshot(other) } as unknown as SandboxBackend;
    const recorder = new CheckpointRecorder(sandbox, {} as Workspace, (async () => '') as unknown as WorkspaceGit, 'f'.repeat(40), (e) => emitted.push(String((e.data as { message?: string }).message ?? '')), () => undefined, () => 0);
    await expect(recorder.take({ commit: 'e'.repeat(40) })).rejects.toBeInstanceOf(WorkspaceUnmountedError);
    expect(emitted.join('\n')).not.toMatch(/no snapshot/);
    for (const w of [ws, other]) await store.release(w).catch(() => undefined);
  });
});
