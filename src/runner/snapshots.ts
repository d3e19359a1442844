import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isAlive, LimitsConfigError, parseBytes } from './limits.ts';
import { diskBytes } from './diskUsage.ts';

const REMOUNT_ATTEMPTS = 3;

/** A workspace's overlay could not be mounted again: the run cannot go on in it (never swallowed as a failed snapshot). */
export class WorkspaceUnmountedError extends Error {}

/**
 * Workspace snapshots (issue 13, DESIGN §4.6): a snapshot is the agent's checkout, its home (package
 * caches, the agent CLI's session files) and the runner's git directory — not /tmp — as a stack of
 * read-only layers on this runner.
 *
 * - `overlay` (kernel overlayfs, as root): a workspace is an overlay mount of its snapshot's layers
 *   with a fresh upper directory. A checkpoint unmounts, renames the upper directory into a new
 *   read-only layer and mounts again with it on top: no copy, whatever the workspace's size. Restore
 *   = the same layers under a fresh upper.
 * - `copy` (everywhere else): a checkpoint copies the three directories (`cp -a --reflink=auto`),
 *   and a restore copies them back. Correct, only slower.
 *
 * Snapshots carry a size, a parent and a last-use time; the store keeps them under a quota (least
 * recently used first) and a retention time, and removes layers no snapshot or live workspace uses.
 *
 * A runner's store (`persistent`) outlives the runner process: it lives at `<dir>/store`, held by one
 * process at a time through `<dir>/store.lock`, and a restarted runner takes it over with its
 * snapshots (its index is only written after a layer is complete, so a runner killed mid-snapshot
 * leaves at worst an unreferenced layer, removed on the next open). Other stores (tests, a second
 * runner on the same directory) are per process and removed with it.
 */

export type SnapshotMode = 'overlay' | 'copy';

export interface SnapshotInfo {
  id: string;
  mode: SnapshotMode;
  /** Disk used by the layers this snapshot added (its parent's are counted there). */
  bytes: number;
  parent: string | null;
  /** Layer ids, top first. */
  layers: string[];
  created_at: string;
  last_used_at: string;
}

/** The directories a workspace's snapshots hold, relative to its tree. */
export const SNAPSHOT_PARTS = ['work', 'home', 'git'] as const;

export interface StoreWorkspace {
  root: string;
  /** Where work/, home/ and git/ are (the overlay's merged directory, or a plain directory). */
  tree: string;
  tmp: string;
  layers: string[];
  /** The snapshot it was booted from, if any. */
  from: string | null;
}

const MAX_LAYERS = 40;
/** A snapshot deeper than this is squashed into one layer in the background (reads of deep stacks slow down). */
const SQUASH_AT = 16;

function run(command: string, args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) => resolve({ code: 127, stdout, stderr: stderr + err.message }));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const BWRAP = '/usr/bin/bwrap';

/**
 * `cp -a src/. dst` of a directory a running agent may be changing meanwhile. cp opens what it copies by
 * path, so an agent swapping a directory for a symlink between cp's listing and its open would have the
 * runner copy a host file (say /etc/shadow) into a layer a fork then boots with. The copy therefore
 * runs in a mount namespace holding only the two directories and the system's read-only /usr: a link
 * resolves to nothing of the host's. No user namespace, so whiteouts, owners and the overlay's xattrs
 * are kept (as root: trusted.overlay.*; in the runner's own user namespace: user.overlay.*).
 */
export async function copyWhileChanging(src: string, dst: string): Promise<void> {
  await mkdir(dst);
  if (!existsSync(BWRAP)) {
    // Without bubblewrap the agents themselves run unconfined: there is nothing left to keep them from.
    await must('cp', ['-a', '--reflink=auto', '--', `${src}/.`, dst]);
    return;
  }
  const system = ['--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib', ...(existsSync('/usr/lib64') ? ['--symlink', 'usr/lib64', '/lib64'] : [])];
  await must(BWRAP, ['--die-with-parent', '--unshare-pid', '--unshare-ipc', '--unshare-net', '--unshare-uts', '--new-session', ...system, '--ro-bind', src, '/src', '--bind', dst, '/dst', '--', '/usr/bin/cp', '-a', '--reflink=auto', '--', '/src/.', '/dst']);
}

async function must(command: string, args: string[]): Promise<string> {
  const r = await run(command, args);
  if (r.code !== 0) throw new Error(`${command} ${args[0] ?? ''} failed: ${r.stderr.trim().slice(-500)}`);
  return r.stdout;
}

/** The parts of a tree that count toward the workspace quota: the checkout and the agent's home. */
const QUOTA_PARTS = ['work', 'home'] as const;

export function defaultSnapshotDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.GITOKU_SNAPSHOT_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'gitoku', 'snapshots');
}

/**
 * This runner's snapshot store, from its environment: GITOKU_SNAPSHOT_DIR (default
 * ~/.cache/gitoku/snapshots), GITOKU_SNAPSHOT_QUOTA (default 20G), GITOKU_SNAPSHOT_RETENTION_HOURS
 * (default 168: a week). GITOKU_SNAPSHOTS=off keeps none (every run and fork starts cold).
 */
export async function openSnapshotStore(env: NodeJS.ProcessEnv = process.env, opts: { persistent?: boolean } = {}): Promise<SnapshotStore | null> {
  if (env.GITOKU_SNAPSHOTS === 'off') return null;
  const quota = env.GITOKU_SNAPSHOT_QUOTA ? parseBytes(env.GITOKU_SNAPSHOT_QUOTA) : 20 * 1024 ** 3;
  if (quota === null) throw new LimitsConfigError(`GITOKU_SNAPSHOT_QUOTA must be a size such as 20G, got "${env.GITOKU_SNAPSHOT_QUOTA}"`);
  const hours = env.GITOKU_SNAPSHOT_RETENTION_HOURS ? Number(env.GITOKU_SNAPSHOT_RETENTION_HOURS) : 168;
  if (!Number.isFinite(hours) || hours <= 0) throw new LimitsConfigError(`GITOKU_SNAPSHOT_RETENTION_HOURS must be a positive number, got "${env.GITOKU_SNAPSHOT_RETENTION_HOURS}"`);
  return SnapshotStore.open(defaultSnapshotDir(env), { quotaBytes: quota, retentionMs: hours * 3_600_000, persistent: opts.persistent });
}

export interface StoreOptions {
  quotaBytes: number;
  retentionMs: number;
  /** Force a mode (tests); default: overlay where a probe mount works, else copy. */
  mode?: SnapshotMode;
  /** Keep the snapshots for the next runner process (the runner's own store); default: removed with this process. */
  persistent?: boolean;
}

export class SnapshotStore {
  private index = new Map<string, SnapshotInfo>();
  /** Layers of workspaces alive now: never evicted under them. */
  private readonly live = new Set<StoreWorkspace>();
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly root: string,
    readonly mode: SnapshotMode,
    private readonly opts: StoreOptions,
    /** The lock file held while this process owns a persistent store; null for a per-process store. */
    private readonly lock: string | null,
  ) {}

  /**
   * Opens this process's store under `base` (snapshots live as long as the runner process that made
   * them), after removing the stores of runner processes that died — their workspaces still mounted.
   */
  static async open(base: string, opts: StoreOptions): Promise<SnapshotStore> {
    await mkdir(base, { recursive: true });
    for (const entry of await readdir(base).catch(() => [] as string[])) {
      const pid = Number(/^(\d+)-/.exec(entry)?.[1]);
      if (!pid || isAlive(pid)) continue;
      await removeStore(join(base, entry));
    }
    const lock = opts.persistent ? join(base, 'store.lock') : null;
    const owned = lock !== null && (await takeLock(lock));
    const root = owned ? join(base, 'store') : join(base, `${process.pid}-${randomBytes(4).toString('hex')}`);
    for (const dir of ['layers', 'workspaces', 'empty']) await mkdir(join(root, dir), { recursive: true });
    const mode = opts.mode ?? ((await probeOverlay(root)) ? 'overlay' : 'copy');
    const store = new SnapshotStore(root, mode, opts, owned ? lock : null);
    if (owned) await store.recover();
    return store;
  }

  /**
   * Takes over the snapshots a previous runner process left: its workspaces are gone (their mounts died
   * with it), half-made layers are removed, and a snapshot is kept only when all its layers are whole
   * and this store's mode can boot it (a copy store cannot stack overlay layers).
   */
  private async recover(): Promise<void> {
    for (const entry of await readdir(join(this.root, 'workspaces')).catch(() => [] as string[])) {
      const tree = join(this.root, 'workspaces', entry, 'tree');
      await unmount(tree);
      await rm(join(this.root, 'workspaces', entry), { recursive: true, force: true });
    }
    const saved = await readFile(join(this.root, 'index.json'), 'utf8').then(
      (text) => JSON.parse(text) as unknown,
      () => [],
    );
    for (const s of Array.isArray(saved) ? (saved as SnapshotInfo[]) : []) {
      if (typeof s?.id !== 'string' || !Array.isArray(s.layers) || !s.layers.length) continue;
      if (this.mode === 'copy' && s.mode === 'overlay') continue;
      const whole = await Promise.all(s.layers.map((l) => stat(this.layerDir(l)).then((st) => st.isDirectory(), () => false)));
      if (whole.every(Boolean)) this.index.set(s.id, s);
    }
    for (const layer of await readdir(join(this.root, 'layers')).catch(() => [] as string[])) {
      if (layer.endsWith('.partial')) await rm(this.layerDir(layer), { recursive: true, force: true });
    }
    await this.save();
    await this.collect();
  }

  /** Releases every workspace; a persistent store keeps its snapshots for the next runner, any other is removed (a clean runner stop). */
  async close(): Promise<void> {
    await this.squashing;
    for (const ws of [...this.live]) await this.release(ws);
    if (this.lock) await unlink(this.lock).catch(() => undefined);
    else await removeStore(this.root);
  }

  list(): SnapshotInfo[] {
    return [...this.index.values()];
  }

  has(id: string): boolean {
    return this.index.has(id);
  }

  get(id: string): SnapshotInfo | undefined {
    return this.index.get(id);
  }

  private layerDir(id: string): string {
    return join(this.root, 'layers', id);
  }

  /** A new workspace tree: empty, or booted from a snapshot. */
  /** Per frozen layer, the bytes of its quota parts: walked once per process (a layer never changes). */
  private readonly layerQuotaBytes = new Map<string, Promise<number>>();

  /**
   * The disk a workspace's checkout, home and temporary directory use (its quota), without walking what
   * it booted from at every check: overlay — the changes since boot (the upper directory) plus the
   * layers below, each measured once; copy — the whole tree. (A file changed since boot counts in both.)
   */
  async workspaceBytes(ws: StoreWorkspace): Promise<number> {
    const parts = (dir: string) => QUOTA_PARTS.map((p) => join(dir, p));
    if (this.mode !== 'overlay') return diskBytes([...parts(ws.tree), ws.tmp]);
    const below = ws.layers.map((layer) => {
      let bytes = this.layerQuotaBytes.get(layer);
      if (!bytes) this.layerQuotaBytes.set(layer, (bytes = diskBytes(parts(this.layerDir(layer)))));
      return bytes;
    });
    const [changes, ...layers] = await Promise.all([diskBytes([...parts(join(ws.root, 'upper')), ws.tmp]), ...below]);
    return layers.reduce((sum, b) => sum + b, changes!);
  }

  async provision(from?: string | null): Promise<StoreWorkspace> {
    const snapshot = from ? this.index.get(from) : undefined;
    if (from && !snapshot) throw new Error(`snapshot ${from} is not on this runner`);
    const root = join(this.root, 'workspaces', `ws-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`);
    await mkdir(join(root, 'tmp'), { recursive: true });
    const ws: StoreWorkspace = { root, tree: join(root, 'tree'), tmp: join(root, 'tmp'), layers: snapshot?.layers ?? [], from: snapshot?.id ?? null };
    this.live.add(ws);
    try {
      if (this.mode === 'overlay') {
        await Promise.all(['upper', 'ovwork', 'tree'].map((d) => mkdir(join(root, d))));
        await this.mount(ws);
      } else {
        await mkdir(ws.tree);
        if (snapshot) await must('cp', ['-a', '--reflink=auto', '--', `${this.layerDir(snapshot.layers[0]!)}/.`, ws.tree]);
      }
      for (const part of SNAPSHOT_PARTS) await mkdir(join(ws.tree, part), { recursive: true });
      if (snapshot) await this.touch(snapshot.id);
      return ws;
    } catch (err) {
      await this.release(ws);
      throw err;
    }
  }

  /**
   * Mounts a workspace again after a checkpoint unmounted it. Retried a few times; when it still fails
   * the workspace is lost (WorkspaceUnmountedError): its tree is now the bare mount point, and a run that
   * went on would work — and write — in that empty directory instead of its own files.
   */
  private async remount(ws: StoreWorkspace): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.mount(ws);
        return;
      } catch (err) {
        if (attempt >= REMOUNT_ATTEMPTS) throw new WorkspaceUnmountedError(`the workspace could not be mounted again after a checkpoint: ${(err as Error).message.split('\n')[0]}`);
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      }
    }
  }

  private async mount(ws: StoreWorkspace): Promise<void> {
    const lower = ws.layers.length ? ws.layers.map((l) => this.layerDir(l)).join(':') : join(this.root, 'empty');
    await must('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${join(ws.root, 'upper')},workdir=${join(ws.root, 'ovwork')}`, ws.tree]);
  }

  /**
   * Freezes the workspace's current state as a snapshot. Nothing may run in the workspace meanwhile
   * (the runner calls it between agent steps). Overlay: the upper directory becomes a layer (a
   * rename); a deep stack, or a mount that cannot be released, is squashed into one copied layer.
   */
  async snapshot(ws: StoreWorkspace): Promise<SnapshotInfo> {
    const id = `s${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;
    const layer = `l${randomBytes(8).toString('hex')}`;
    let layers: string[] = [layer];
    let mode: SnapshotMode = this.mode;
    if (this.mode === 'overlay' && ws.layers.length < MAX_LAYERS && (await run('umount', [ws.tree])).code === 0) {
      try {
        await rename(join(ws.root, 'upper'), this.layerDir(layer));
        layers = [layer, ...ws.layers];
        ws.layers = layers;
        await mkdir(join(ws.root, 'upper'));
        await rm(join(ws.root, 'ovwork'), { recursive: true, force: true });
        await mkdir(join(ws.root, 'ovwork'));
      } finally {
        // Mounted again in every case: with the new layer, or as it was.
        await this.remount(ws);
      }
    } else {
      await this.writeLayer(layer, async (tmp) => {
        await mkdir(tmp, { recursive: true });
        for (const part of SNAPSHOT_PARTS) await must('cp', ['-a', '--reflink=auto', '--', join(ws.tree, part), tmp]);
      });
      mode = 'copy';
    }
    const at = new Date().toISOString();
    const info: SnapshotInfo = { id, mode, bytes: await diskBytes([this.layerDir(layer)]), parent: ws.from, layers, created_at: at, last_used_at: at };
    this.index.set(id, info);
    ws.from = id;
    if (mode === 'copy' && this.mode === 'overlay') {
      // A squashed workspace continues on its single copied layer.
      await run('umount', [ws.tree]);
      ws.layers = layers;
      await rm(join(ws.root, 'upper'), { recursive: true, force: true });
      await mkdir(join(ws.root, 'upper'));
      await rm(join(ws.root, 'ovwork'), { recursive: true, force: true });
      await mkdir(join(ws.root, 'ovwork'));
      await this.remount(ws);
    }
    await this.save();
    await this.collect();
    this.squashLater(info);
    return info;
  }

  private squashing: Promise<void> = Promise.resolve();

  /**
   * Deep chains are squashed in the background: the snapshot's layers are mounted read-only, copied
   * into one new layer, and the snapshot is re-pointed at it (workspaces booted from the old layers
   * keep them until released; unused layers are then collected). A failure leaves the chain as it was.
   */
  private squashLater(info: SnapshotInfo): void {
    if (this.mode !== 'overlay' || info.layers.length < SQUASH_AT) return;
    this.squashing = this.squashing.then(() => this.squash(info.id).catch(() => undefined));
  }

  /** Waits for the background squashes scheduled so far (tests, a clean stop). */
  idle(): Promise<void> {
    return this.squashing;
  }

  private async squash(id: string): Promise<void> {
    const snapshot = this.index.get(id);
    if (!snapshot || snapshot.layers.length < SQUASH_AT) return;
    const layers = [...snapshot.layers];
    const layer = `l${randomBytes(8).toString('hex')}`;
    const view = join(this.root, 'workspaces', `squash-${layer}`);
    await mkdir(view, { recursive: true });
    try {
      await this.writeLayer(layer, async (tmp) => {
        // Only lower layers: a read-only overlay, the merged view of the chain.
        await must('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${layers.map((l) => this.layerDir(l)).join(':')}`, view]);
        try {
          await must('cp', ['-a', '--reflink=auto', '--', view, tmp]);
        } finally {
          await unmount(view);
        }
      });
    } finally {
      await rm(view, { recursive: true, force: true });
    }
    const current = this.index.get(id);
    if (!current || current.layers.join(':') !== layers.join(':')) {
      await rm(this.layerDir(layer), { recursive: true, force: true });
      return;
    }
    current.layers = [layer];
    current.bytes = await diskBytes([this.layerDir(layer)]);
    await this.save();
    await this.collect();
  }

  /**
   * A snapshot of a workspace an agent process is running in (it cannot be unmounted): overlay only —
   * its upper directory, the changes since it booted, is copied into a new layer on top of the layers
   * it booted from, while the workspace goes on unchanged. Cost grows with those changes, not with the
   * workspace. Files being written at that very moment may be caught half written (the runner takes it
   * right after a step, when the agent's tool has finished). Null in copy mode (a whole copy per step
   * would cost too much): the checkpoint then keeps the code only.
   */
  async snapshotLive(ws: StoreWorkspace): Promise<SnapshotInfo | null> {
    if (this.mode !== 'overlay' || ws.layers.length >= MAX_LAYERS) return null;
    const id = `s${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;
    const layer = `l${randomBytes(8).toString('hex')}`;
    await this.writeLayer(layer, (tmp) => copyWhileChanging(join(ws.root, 'upper'), tmp));
    const at = new Date().toISOString();
    const info: SnapshotInfo = { id, mode: 'overlay', bytes: await diskBytes([this.layerDir(layer)]), parent: ws.from, layers: [layer, ...ws.layers], created_at: at, last_used_at: at };
    this.index.set(id, info);
    ws.from = id;
    await this.save();
    await this.collect();
    this.squashLater(info);
    return info;
  }

  /**
   * Makes a new layer: `fill` writes it under a `.partial` name, renamed into place only once whole
   * (the index never names a half layer; `.partial` leftovers of a killed runner are removed on open).
   */
  private async writeLayer(layer: string, fill: (tmp: string) => Promise<void>): Promise<void> {
    const tmp = `${this.layerDir(layer)}.partial`;
    try {
      await fill(tmp);
      await rename(tmp, this.layerDir(layer));
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  private async touch(id: string): Promise<void> {
    const s = this.index.get(id);
    if (!s) return;
    s.last_used_at = new Date().toISOString();
    await this.save();
  }

  /** Unmounts and removes a workspace tree. */
  async release(ws: StoreWorkspace): Promise<void> {
    this.live.delete(ws);
    if (this.mode === 'overlay') {
      await unmount(ws.tree);
    }
    await rm(ws.root, { recursive: true, force: true });
    await this.collect();
  }

  private save(): Promise<void> {
    const write = async () => {
      const tmp = join(this.root, `index.json.${process.pid}.tmp`);
      await writeFile(tmp, JSON.stringify(this.list()));
      await rename(tmp, join(this.root, 'index.json'));
    };
    this.writing = this.writing.then(write, write);
    return this.writing;
  }

  /** Evicts by retention and quota (least recently used first), then removes unreferenced layers. */
  async collect(): Promise<string[]> {
    const now = Date.now();
    const evicted: string[] = [];
    for (const s of this.list()) {
      if (now - Date.parse(s.last_used_at) > this.opts.retentionMs) {
        this.index.delete(s.id);
        evicted.push(s.id);
      }
    }
    const byAge = this.list().sort((a, b) => Date.parse(a.last_used_at) - Date.parse(b.last_used_at));
    let total = this.list().reduce((n, s) => n + s.bytes, 0);
    for (const s of byAge) {
      if (total <= this.opts.quotaBytes) break;
      this.index.delete(s.id);
      evicted.push(s.id);
      total -= s.bytes;
    }
    const used = new Set([...this.list().flatMap((s) => s.layers), ...[...this.live].flatMap((w) => w.layers)]);
    for (const layer of await readdir(join(this.root, 'layers')).catch(() => [] as string[])) {
      if (!used.has(layer) && !layer.endsWith('.partial')) await rm(this.layerDir(layer), { recursive: true, force: true });
    }
    if (evicted.length) await this.save();
    return evicted;
  }
}

/**
 * Takes `<dir>/store.lock` for this process: free, or left by a process that is gone. A live holder —
 * another runner on the same directory, or this very process already — keeps it.
 */
async function takeLock(lock: string): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lock, String(process.pid), { flag: 'wx' });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false;
      const holder = Number(await readFile(lock, 'utf8').catch(() => ''));
      if (holder && isAlive(holder)) return false;
      await unlink(lock).catch(() => undefined);
    }
  }
  return false;
}

/** Unmounts, lazily when the mount is busy (a process of a killed runner may still hold it). */
async function unmount(path: string): Promise<void> {
  if ((await run('umount', [path])).code !== 0) await run('umount', ['-l', path]);
}

async function removeStore(root: string): Promise<void> {
  for (const entry of await readdir(join(root, 'workspaces')).catch(() => [] as string[])) {
    const tree = join(root, 'workspaces', entry, 'tree');
    await unmount(tree);
  }
  await rm(root, { recursive: true, force: true });
}

/** Whether overlayfs can be mounted here (kernel overlay as root). */
async function probeOverlay(root: string): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  const dir = join(root, `probe-${process.pid}-${randomBytes(3).toString('hex')}`);
  try {
    await Promise.all(['lower', 'upper', 'work', 'merged'].map((d) => mkdir(join(dir, d), { recursive: true })));
    const r = await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${join(dir, 'lower')},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, join(dir, 'merged')]);
    if (r.code !== 0) return false;
    await run('umount', [join(dir, 'merged')]);
    return true;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
