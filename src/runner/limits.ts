import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** What one sandboxed process tree may consume (issue 12: a fork bomb or a full disk must not take the runner down). */
export interface ResourceLimits {
  /** Processes and threads at once (cgroup pids.max). */
  pids: number;
  /** Memory, page cache included (cgroup memory.max / memory.limit_in_bytes). */
  memoryBytes: number;
  /** CPU weight relative to the runner and the server (cgroup v2 cpu.weight, 1–10000; default 100). */
  cpuWeight: number;
  /** The workspace (checkout, home, temporary files) on disk. */
  workspaceBytes: number;
  /** The sandbox's RAM-backed /tmp. */
  tmpBytes: number;
}

const GiB = 1024 ** 3;

export const DEFAULT_LIMITS: ResourceLimits = { pids: 1024, memoryBytes: 4 * GiB, cpuWeight: 50, workspaceBytes: 10 * GiB, tmpBytes: 1 * GiB };

/** `512`, `512k`, `4M`, `10G`, `1.5GiB` → bytes. */
export function parseBytes(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) return null;
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: GiB, t: 1024 * GiB }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const n = Math.floor(Number(m[1]) * unit);
  return n > 0 ? n : null;
}

export class LimitsConfigError extends Error {}

/** Reads the limits from the runner's environment (GITOKU_SANDBOX_PIDS, _MEMORY, _CPU_WEIGHT, _TMP_SIZE, GITOKU_WORKSPACE_QUOTA). */
export function limitsFromEnvironment(env: NodeJS.ProcessEnv = process.env): ResourceLimits {
  const limits = { ...DEFAULT_LIMITS };
  const bytes = (name: string, key: 'memoryBytes' | 'workspaceBytes' | 'tmpBytes') => {
    const raw = env[name];
    if (raw === undefined || raw === '') return;
    const value = parseBytes(raw);
    if (value === null) throw new LimitsConfigError(`${name} must be a size such as 512M or 10G, got "${raw}"`);
    limits[key] = value;
  };
  const count = (name: string, key: 'pids' | 'cpuWeight', min: number, max: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) throw new LimitsConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
    limits[key] = value;
  };
  count('GITOKU_SANDBOX_PIDS', 'pids', 16, 1_000_000);
  count('GITOKU_SANDBOX_CPU_WEIGHT', 'cpuWeight', 1, 10_000);
  bytes('GITOKU_SANDBOX_MEMORY', 'memoryBytes');
  bytes('GITOKU_SANDBOX_TMP_SIZE', 'tmpBytes');
  bytes('GITOKU_WORKSPACE_QUOTA', 'workspaceBytes');
  return limits;
}

export function formatBytes(n: number): string {
  for (const [unit, size] of [['GiB', GiB], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) if (n >= size) return `${+(n / size).toFixed(1)} ${unit}`;
  return `${n} B`;
}

/** A cgroup holding one sandboxed process tree: its limits, whether it hit them, and a kill-everything. */
export interface ProcessCgroup {
  /** `cgroup.procs` files the process must join (one per hierarchy on cgroup v1). */
  procsFiles: string[];
  /** Which limit the tree ran into, if any. */
  limitHit(): Promise<'memory' | 'pids' | null>;
  /** Kills whatever is still in the cgroup (processes that left the process group included) and removes it. */
  destroy(): Promise<void>;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

async function ownCgroupPaths(): Promise<Map<string, string>> {
  const paths = new Map<string, string>();
  for (const line of (await readFile('/proc/self/cgroup', 'utf8')).split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controllers === undefined || path === undefined) continue;
    for (const c of controllers.split(',')) paths.set(c, path);
  }
  return paths;
}

const counter = (text: string, key: string) => Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);

/** cgroup v2: one directory under a `gitoku` cgroup beside ours, with pids, memory and cpu delegated. */
async function createV2(name: string, limits: ResourceLimits): Promise<ProcessCgroup | null> {
  const own = (await ownCgroupPaths()).get('') ?? '/';
  // A cgroup with processes cannot delegate controllers (no internal processes): use the parent's level.
  const parent = join(CGROUP_ROOT, own === '/' ? '' : join(own, '..'), 'gitoku-sandboxes');
  const enable = async (dir: string) => {
    const available = (await readFile(join(dir, 'cgroup.controllers'), 'utf8')).split(/\s+/);
    const wanted = ['pids', 'memory', 'cpu'].filter((c) => available.includes(c));
    if (wanted.length) await writeFile(join(dir, 'cgroup.subtree_control'), wanted.map((c) => `+${c}`).join(' '));
  };
  await enable(join(parent, '..'));
  await mkdir(parent, { recursive: true });
  await enable(parent);
  const dir = join(parent, name);
  await mkdir(dir);
  const set = (file: string, value: string) => writeFile(join(dir, file), value).catch(() => undefined);
  await set('pids.max', String(limits.pids));
  await set('memory.max', String(limits.memoryBytes));
  await set('memory.swap.max', '0');
  await set('cpu.weight', String(limits.cpuWeight));
  return {
    procsFiles: [join(dir, 'cgroup.procs')],
    limitHit: async () => {
      const memory = await readFile(join(dir, 'memory.events'), 'utf8').catch(() => '');
      if (counter(memory, 'oom_kill') > 0) return 'memory';
      const pids = await readFile(join(dir, 'pids.events'), 'utf8').catch(() => '');
      return counter(pids, 'max') > 0 ? 'pids' : null;
    },
    destroy: async () => {
      if (existsSync(join(dir, 'cgroup.kill'))) await writeFile(join(dir, 'cgroup.kill'), '1').catch(() => undefined);
      else await killAll([join(dir, 'cgroup.procs')]);
      await removeDir(dir);
    },
  };
}

/** cgroup v1: one directory per controller hierarchy (pids, memory, cpu), under our own cgroup in each. */
async function createV1(name: string, limits: ResourceLimits): Promise<ProcessCgroup | null> {
  const own = await ownCgroupPaths();
  const dirs: Record<string, string> = {};
  for (const controller of ['pids', 'memory', 'cpu']) {
    if (!existsSync(join(CGROUP_ROOT, controller, 'cgroup.procs'))) continue;
    dirs[controller] = join(CGROUP_ROOT, controller, own.get(controller) ?? '/', `gitoku-${name}`);
  }
  if (!dirs.pids && !dirs.memory) return null;
  const made: string[] = [];
  try {
    for (const dir of Object.values(dirs)) {
      await mkdir(dir);
      made.push(dir);
    }
    if (dirs.pids) await writeFile(join(dirs.pids, 'pids.max'), String(limits.pids));
    if (dirs.memory) {
      await writeFile(join(dirs.memory, 'memory.limit_in_bytes'), String(limits.memoryBytes));
      await writeFile(join(dirs.memory, 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes)).catch(() => undefined);
    }
    // cpu.shares: 1024 is the default weight, as cpu.weight's 100 is on v2.
    if (dirs.cpu) await writeFile(join(dirs.cpu, 'cpu.shares'), String(Math.max(2, Math.round((limits.cpuWeight * 1024) / 100)))).catch(() => undefined);
  } catch (err) {
    for (const dir of made) await rmdir(dir).catch(() => undefined);
    throw err;
  }
  const procsFiles = made.map((dir) => join(dir, 'cgroup.procs'));
  return {
    procsFiles,
    limitHit: async () => {
      if (dirs.memory) {
        const oom = await readFile(join(dirs.memory, 'memory.oom_control'), 'utf8').catch(() => '');
        if (counter(oom, 'oom_kill') > 0) return 'memory';
      }
      if (dirs.pids) {
        const events = await readFile(join(dirs.pids, 'pids.events'), 'utf8').catch(() => '');
        if (counter(events, 'max') > 0) return 'pids';
      }
      return null;
    },
    destroy: async () => {
      await killAll(procsFiles);
      for (const dir of made) await removeDir(dir);
    },
  };
}

async function killAll(procsFiles: string[]): Promise<void> {
  // Frozen-free loop: kill what is listed until nothing is left (a dying fork bomb may still add a few).
  for (let round = 0; round < 50; round++) {
    const pids = new Set<number>();
    for (const file of procsFiles) for (const pid of (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean)) pids.add(Number(pid));
    if (pids.size === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function removeDir(dir: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Whether a process of this machine still exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the cgroups of runner processes that died before cleaning up (killed mid-run). */
async function pruneStaleCgroups(): Promise<void> {
  const own = await ownCgroupPaths();
  const v2Parent = join(CGROUP_ROOT, (own.get('') ?? '/') === '/' ? '' : join(own.get('')!, '..'), 'gitoku-sandboxes');
  const parents = [v2Parent, ...['pids', 'memory', 'cpu'].map((c) => join(CGROUP_ROOT, c, own.get(c) ?? '/'))];
  for (const parent of parents) {
    for (const entry of await readdir(parent).catch(() => [] as string[])) {
      const pid = /^(?:gitoku-)?(?:probe-)?(\d+)-[0-9a-f]+$/.exec(entry)?.[1];
      if (!pid || isAlive(Number(pid))) continue;
      const dir = join(parent, entry);
      await killAll([join(dir, 'cgroup.procs')]);
      await removeDir(dir);
    }
  }
}

let support: Promise<'v2' | 'v1' | null> | null = null;

/** Whether this machine lets the runner make cgroups (probed once: make one and remove it). */
export function cgroupSupport(): Promise<'v2' | 'v1' | null> {
  support ??= (async () => {
    await pruneStaleCgroups().catch(() => undefined);
    const probeLimits = { ...DEFAULT_LIMITS };
    for (const [version, create] of [['v2', createV2], ['v1', createV1]] as const) {
      if (version === 'v2' && !existsSync(join(CGROUP_ROOT, 'cgroup.controllers'))) continue;
      if (version === 'v1' && existsSync(join(CGROUP_ROOT, 'cgroup.controllers'))) continue;
      try {
        const probe = await create(`probe-${process.pid}-${randomBytes(3).toString('hex')}`, probeLimits);
        if (!probe) continue;
        await probe.destroy();
        return version;
      } catch {
        /* not writable here */
      }
    }
    return null;
  })();
  return support;
}

/** A fresh cgroup for one sandboxed process tree, or null where this machine offers none (limits then do not apply). */
export async function createProcessCgroup(limits: ResourceLimits): Promise<ProcessCgroup | null> {
  const version = await cgroupSupport();
  if (!version) return null;
  const name = `${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    return await (version === 'v2' ? createV2 : createV1)(name, limits);
  } catch {
    return null;
  }
}

/** Wraps argv so the process joins the cgroup before it becomes the command (so all its children are in it too). */
export function joinCgroupArgv(cgroup: ProcessCgroup | null, argv: string[]): string[] {
  if (!cgroup) return argv;
  const script = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';
  return ['/bin/sh', '-c', script, 'gitoku-cgroup', ...cgroup.procsFiles, '--', ...argv];
}
