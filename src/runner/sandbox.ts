import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AgentFailure } from './drivers/types.ts';
import { isRealRoot } from './userNamespace.ts';
import { diskBytes } from './diskUsage.ts';
import { openSnapshotStore, type SnapshotInfo, type SnapshotStore, type StoreWorkspace } from './snapshots.ts';
import { createProcessCgroup, DEFAULT_LIMITS, formatBytes, joinCgroupArgv, limitsFromEnvironment, type ResourceLimits } from './limits.ts';

/**
 * A provisioned workspace under a runner-owned `root`: the checkout the agent works in (`dir`), a private
 * home and temporary directory — all three the agent's, hence hostile once it ran — and the runner's own
 * git directory (`gitDir`), which agent processes never see (except its objects, read-only: the
 * checkout's repository borrows them).
 */
export interface Workspace {
  id: string;
  root: string;
  dir: string;
  home: string;
  tmp: string;
  gitDir: string;
  /**
   * The same directories as agent processes see them. Under bubblewrap they are fixed
   * (SANDBOX_VIEW), so paths an agent stores — session files, virtualenvs, build caches — stay valid
   * when a fork boots from a snapshot in another workspace; without a mount namespace they are the
   * host paths.
   */
  view: WorkspaceView;
  /** Its tree in the snapshot store, when the backend has one (see runner/snapshots.ts). */
  stored?: StoreWorkspace;
  /** The snapshot it booted from, if any (a warm start). */
  bootedFrom?: string | null;
  /** The bytes its checkout, home and temporary directory use, where the store can tell cheaply; else they are walked. */
  usage?: () => Promise<number>;
}

export interface WorkspaceView {
  dir: string;
  home: string;
  tmp: string;
  gitDir: string;
}

export const SANDBOX_VIEW: WorkspaceView = { dir: '/workspace', home: '/home/agent', tmp: '/tmp', gitDir: '/gitoku/git' };

export interface ExecOptions {
  env?: Record<string, string>;
  timeoutMs: number;
  /** Stops the process group when aborted (cancel). */
  signal?: AbortSignal;
  onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
  /** Captured output is cut beyond this many bytes per stream. */
  maxOutputBytes?: number;
  input?: string;
  cwd?: string;
  /** Extra directories the process needs to see read-only (an agent CLI installed outside /usr). */
  mounts?: string[];
  /** The runner's own command (its git): it also sees the runner's git directory, read-write. */
  trusted?: boolean;
  /** Handed to the process on file descriptor 3 (a secret that must not appear in argv or the environment). */
  fd3?: string;
  /** A network namespace of its own (only loopback), with these forwards into it (runner/network.ts); default: the host's network. */
  network?: SandboxNetwork;
}

/** An isolated network for a sandboxed process: loopback ports inside forwarded to the runner's Unix sockets. */
export interface SandboxNetwork {
  forwards: { port: number; socket: string }[];
  /** The directory holding the sockets (bound read-only into the sandbox). */
  socketDir: string;
}

/** Runs inside the sandbox in front of the command when it has forwards (plain JavaScript, run by node as it is). */
const FORWARDER = fileURLToPath(new URL('./sandboxForwarder.mjs', import.meta.url));

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  cancelled: boolean;
  truncated: boolean;
}

/** DESIGN §4.6: where agents run. Backends differ in isolation; the runner code is the same for all. */
export interface SandboxBackend {
  name: string;
  /** False when agent processes could reach the host (the directory backend, or no backend at all). */
  isolated: boolean;
  /** A fresh workspace, or one booted from a snapshot this runner holds (`from`). */
  provision(opts?: { from?: string | null }): Promise<Workspace>;
  /**
   * Freezes the workspace (nothing may run in it meanwhile); null when this backend keeps no snapshots.
   * `live`: while an agent process runs in it (a step of a one-process agent) — only where that is
   * cheap (overlay: the changes since boot are copied); null otherwise.
   */
  snapshot(ws: Workspace, opts?: { live?: boolean }): Promise<SnapshotInfo | null>;
  /** The snapshot store, where the backend has one. */
  store: SnapshotStore | null;
  exec(ws: Workspace, argv: string[], opts: ExecOptions): Promise<ExecResult>;
  destroy(ws: Workspace): Promise<void>;
}

/** The only variables an agent process inherits; the runner's own environment never leaks in. */
export function scrubbedEnvironment(ws: Workspace, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: ws.view.home,
    LANG: 'C.UTF-8',
    TERM: 'dumb',
    TMPDIR: ws.view.tmp,
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    ...extra,
  };
}

/**
 * Spawns a process in its own process group with a wall-clock timeout, output caps and kill-on-cancel
 * of the whole tree (SIGTERM, then SIGKILL after 2 s).
 */
export function spawnGroup(command: string, args: string[], cwd: string, env: Record<string, string>, opts: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, detached: true, stdio: opts.fd3 === undefined ? ['pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe', 'pipe'] });
    if (opts.fd3 !== undefined) {
      const secret = child.stdio[3] as NodeJS.WritableStream & { on(e: 'error', f: () => void): void };
      secret.on('error', () => undefined);
      secret.end(opts.fd3);
    }
    const max = opts.maxOutputBytes ?? 4 * 1024 * 1024;
    const out = { stdout: '', stderr: '' };
    let truncated = false;
    let timedOut = false;
    let cancelled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      killTimer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, 2000);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs);
    const onAbort = () => {
      cancelled = true;
      killGroup();
    };
    opts.signal?.addEventListener('abort', onAbort);
    if (opts.signal?.aborted) onAbort();
    for (const stream of ['stdout', 'stderr'] as const) {
      child[stream]!.setEncoding('utf8');
      child[stream]!.on('data', (text: string) => {
        opts.onOutput?.(stream, text);
        if (out[stream].length + text.length > max) {
          truncated = true;
          out[stream] += text.slice(0, Math.max(0, max - out[stream].length));
        } else out[stream] += text;
      });
    }
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(opts.input ?? '');
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      // The group may outlive its leader (background children): make sure nothing stays behind.
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      resolve({ code, signal, ...out, timedOut, cancelled, truncated });
    };
    child.on('error', (err) => {
      out.stderr += String(err.message);
      finish(127, null);
    });
    child.on('close', finish);
  });
}

async function newWorkspace(view?: WorkspaceView): Promise<Workspace> {
  const root = await mkdtemp(join(tmpdir(), 'gitoku-ws-'));
  const paths = { dir: join(root, 'work'), home: join(root, 'home'), tmp: join(root, 'tmp'), gitDir: join(root, 'git') };
  await Promise.all([mkdir(paths.dir), mkdir(paths.home), mkdir(paths.tmp), mkdir(paths.gitDir)]);
  return { id: root.split('/').pop()!, root, ...paths, view: view ?? paths };
}

/**
 * The three parts of workspace management every backend shares: plain temporary directories without
 * a snapshot store; with one, trees in the store (overlay mounts or copies) that can be frozen and
 * booted from.
 */
function workspaces(store: SnapshotStore | null, view?: WorkspaceView): Pick<SandboxBackend, 'provision' | 'snapshot' | 'destroy' | 'store'> {
  return {
    store,
    provision: async (opts = {}) => {
      if (!store) return newWorkspace(view);
      const stored = await store.provision(opts.from ?? null);
      const paths = { dir: join(stored.tree, 'work'), home: join(stored.tree, 'home'), tmp: stored.tmp, gitDir: join(stored.tree, 'git') };
      return { id: stored.root.split('/').pop()!, root: stored.root, ...paths, view: view ?? paths, stored, bootedFrom: stored.from, usage: () => store.workspaceBytes(stored) };
    },
    snapshot: async (ws, opts) => (store && ws.stored ? (opts?.live ? store.snapshotLive(ws.stored) : store.snapshot(ws.stored)) : null),
    destroy: async (ws) => (store && ws.stored ? store.release(ws.stored) : rm(ws.root, { recursive: true, force: true })),
  };
}

/**
 * Runs one sandboxed process tree within the limits: in a cgroup of its own (processes, memory, CPU
 * weight; everything in it is killed at the end, also what left the process group), with the
 * workspace's disk use checked every few seconds and at the end. A tree that ran into a limit fails
 * clearly, and the runner lives on.
 */
async function runLimited(ws: Workspace, argv: string[], opts: ExecOptions, limits: ResourceLimits): Promise<ExecResult> {
  // The runner's own git (hardened, short-lived) skips the cgroup: moving a process into one costs ~20 ms.
  const cgroup = opts.trusted ? null : await createProcessCgroup(limits);
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  opts.signal?.addEventListener('abort', onAbort);
  if (opts.signal?.aborted) stop.abort();
  let hit = null as 'disk' | 'memory' | 'pids' | null;
  const check = async (disk: boolean) => {
    if (hit) return;
    hit = (await cgroup?.limitHit()) ?? null;
    if (!hit && disk && (await (ws.usage?.() ?? diskBytes([ws.dir, ws.home, ws.tmp]))) > limits.workspaceBytes) hit = 'disk';
    if (hit) stop.abort();
  };
  let checking: Promise<void> = Promise.resolve();
  let ticks = 0;
  const watcher = setInterval(() => void (checking = checking.then(() => check(++ticks % QUOTA_CHECK_TICKS === 0))), LIMIT_CHECK_MS);
  try {
    const [command, ...args] = cgroup || opts.trusted ? joinCgroupArgv(cgroup, argv) : withProcessRlimit(argv, limits.pids);
    const result = await spawnGroup(command!, args, opts.cwd ?? ws.dir, scrubbedEnvironment(ws, opts.env), { ...opts, signal: stop.signal });
    clearInterval(watcher);
    await checking;
    // The disk is walked once more at the end of an agent's process (a filler may finish between
    // checks); the runner's own git adds only the repository's files.
    await check(!opts.trusted);
    if (hit) {
      const what = { disk: `the workspace quota (${formatBytes(limits.workspaceBytes)}, GITOKU_WORKSPACE_QUOTA)`, memory: `the memory limit (${formatBytes(limits.memoryBytes)}, GITOKU_SANDBOX_MEMORY)`, pids: `the process limit (${limits.pids}, GITOKU_SANDBOX_PIDS)` }[hit];
      throw new AgentFailure(`the sandbox ran into ${what}`);
    }
    if (result.cancelled && !opts.signal?.aborted) result.cancelled = false;
    return result;
  } finally {
    clearInterval(watcher);
    opts.signal?.removeEventListener('abort', onAbort);
    await cgroup?.destroy();
  }
}

/** Limits are checked every half second; the disk (a walk of the workspace) every fourth check. */
const LIMIT_CHECK_MS = 500;
const QUOTA_CHECK_TICKS = 4;

/**
 * Without a cgroup, the process limit falls back to RLIMIT_NPROC. The kernel counts it per user (per
 * user namespace level), so it bounds an agent's processes where the runner is an unprivileged user;
 * for root it is not enforced at all — there only a cgroup limits processes. (uid 0 in the runner's own
 * user namespace is not root: the limit holds there.)
 */
function withProcessRlimit(argv: string[], pids: number): string[] {
  if (isRealRoot() || !existsSync('/usr/bin/prlimit')) return argv;
  return ['/usr/bin/prlimit', `--nproc=${pids}:${pids}`, '--', ...argv];
}

/** Bytes allocated on disk under the directories, links not followed, hard links counted once (`du`). */
/**
 * Plain directory backend: a scrubbed environment and process-group kill, NO filesystem isolation —
 * an agent runs as the runner's user and can read and change whatever that user can. Only used when
 * the administrator asks for it (`--sandbox directory`, GITOKU_SANDBOX=directory).
 */
export function directoryBackend(limits: ResourceLimits = DEFAULT_LIMITS, store: SnapshotStore | null = null): SandboxBackend {
  return {
    name: 'directory',
    isolated: false,
    ...workspaces(store),
    exec: (ws, argv, opts) => runLimited(ws, argv, opts, limits),
  };
}

export const NO_SANDBOX_REASON =
  'this runner has no sandbox: agent programs and commands cannot run here (install bubblewrap, or let agents run unisolated with --sandbox directory / GITOKU_SANDBOX=directory)';

/**
 * What `auto` falls back to when bubblewrap is missing: no agent process runs at all. The runner's own
 * git still works, and so do agents whose file operations the runner does itself in confinement (a
 * scripted run without `run` steps, like the demo's); anything else fails saying why.
 */
export function unsandboxedBackend(limits: ResourceLimits = DEFAULT_LIMITS, store: SnapshotStore | null = null): SandboxBackend {
  return {
    name: 'none',
    isolated: false,
    ...workspaces(store),
    exec: (ws, argv, opts) => (opts.trusted ? runLimited(ws, argv, opts, limits) : Promise.reject(new AgentFailure(NO_SANDBOX_REASON))),
  };
}

const ETC_ALLOWLIST = ['/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/passwd', '/etc/group', '/etc/ssl', '/etc/ca-certificates', '/etc/alternatives', '/etc/localtime', '/etc/gitconfig'];

/**
 * bubblewrap backend: the agent sees a read-only /usr (and a few files of /etc), its workspace and
 * home read-write, a private, size-capped /tmp, /proc and /dev — and nothing else: not the data
 * directory, not the runner's home (~/.ssh), not other workspaces. Namespaces other than the network
 * are unshared, and the agent runs as an unprivileged user (65534) of its own user namespace, without
 * capabilities — also when the runner is root.
 */
export function bubblewrapBackend(limits: ResourceLimits = DEFAULT_LIMITS, store: SnapshotStore | null = null, bwrap = '/usr/bin/bwrap'): SandboxBackend {
  return {
    name: 'bubblewrap',
    isolated: true,
    ...workspaces(store, SANDBOX_VIEW),
    exec: (ws, argv, opts) => {
      // Agent processes run as 65534 without capabilities; the runner's own git keeps the runner's uid
      // (the switch costs ~20 ms per process, and its git is hardened: runner/workspaceGit.ts).
      const args = ['--die-with-parent', '--unshare-all', ...(opts.trusted ? [] : ['--unshare-user', '--uid', '65534', '--gid', '65534']), ...(opts.network ? [] : ['--share-net']), '--new-session', '--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/sbin', '/sbin', '--symlink', 'usr/lib', '/lib'];
      if (existsSync('/usr/lib64')) args.push('--symlink', 'usr/lib64', '/lib64');
      for (const path of ETC_ALLOWLIST) if (existsSync(path)) args.push('--ro-bind', path, path);
      args.push('--proc', '/proc', '--dev', '/dev', '--size', String(limits.tmpBytes), '--tmpfs', '/tmp');
      for (const path of opts.mounts ?? []) args.push('--ro-bind-try', path, path);
      // Only the agent's checkout and home, at fixed paths, not the workspace root: the runner's git
      // directory beside them stays out of reach (its objects are shown read-only: the checkout
      // borrows them).
      args.push('--bind', ws.dir, ws.view.dir, '--bind', ws.home, ws.view.home);
      if (opts.trusted) args.push('--bind', ws.gitDir, ws.view.gitDir);
      else args.push('--ro-bind-try', join(ws.gitDir, 'objects'), join(ws.view.gitDir, 'objects'));
      let command = argv;
      if (opts.network?.forwards.length) {
        args.push('--ro-bind', opts.network.socketDir, opts.network.socketDir, '--ro-bind', FORWARDER, FORWARDER);
        const node = realpathSync(process.execPath);
        if (!node.startsWith('/usr/')) args.push('--ro-bind', dirname(node), dirname(node));
        command = [node, FORWARDER, JSON.stringify(opts.network.forwards), '--', ...argv];
      }
      args.push('--chdir', opts.cwd ?? ws.view.dir, '--', ...command);
      return runLimited(ws, [bwrap, ...args], { ...opts, cwd: ws.dir }, limits);
    },
  };
}

export type SandboxPreference = 'auto' | 'bubblewrap' | 'directory';

/**
 * bubblewrap where it is installed and works. `auto` never falls back to running agents unisolated:
 * without bubblewrap it gives the backend that refuses agent processes; the unisolated directory
 * backend is only ever the administrator's explicit choice.
 */
export async function detectSandbox(preference: SandboxPreference = 'auto', limits: ResourceLimits = limitsFromEnvironment(), storeOrDefault?: SnapshotStore | null): Promise<SandboxBackend> {
  const store = storeOrDefault === undefined ? await openSnapshotStore() : storeOrDefault;
  if (preference === 'directory') return directoryBackend(limits, store);
  const candidate = bubblewrapBackend(limits, store);
  if (existsSync('/usr/bin/bwrap')) {
    const ws = await newWorkspace();
    try {
      const probe = await candidate.exec(ws, ['/bin/sh', '-c', 'echo ok'], { timeoutMs: 10_000 });
      if (probe.code === 0 && probe.stdout.trim() === 'ok') return candidate;
    } catch {
      /* not usable here */
    } finally {
      await rm(ws.root, { recursive: true, force: true });
    }
  }
  if (preference === 'bubblewrap') throw new Error('bubblewrap is not available on this machine (install the bubblewrap package)');
  return unsandboxedBackend(limits, store);
}

/** The start-up warning for a backend that does not isolate agents; null for one that does. */
export function sandboxWarning(sandbox: SandboxBackend): string | null {
  if (sandbox.name === 'directory') return 'WARNING: agents run WITHOUT isolation (directory sandbox): an agent can read and change everything this user can, including the data directory and secrets. Install bubblewrap and drop --sandbox directory / GITOKU_SANDBOX=directory.';
  if (!sandbox.isolated) return `WARNING: ${NO_SANDBOX_REASON}.`;
  return null;
}
