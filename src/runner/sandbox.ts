import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A provisioned workspace: the checkout the agent works in and a private home directory. */
export interface Workspace {
  id: string;
  root: string;
  dir: string;
  home: string;
}

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
}

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
  provision(): Promise<Workspace>;
  exec(ws: Workspace, argv: string[], opts: ExecOptions): Promise<ExecResult>;
  destroy(ws: Workspace): Promise<void>;
}

/** The only variables an agent process inherits; the runner's own environment never leaks in. */
export function scrubbedEnvironment(ws: Workspace, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: ws.home,
    LANG: 'C.UTF-8',
    TERM: 'dumb',
    TMPDIR: join(ws.root, 'tmp'),
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
    const child = spawn(command, args, { cwd, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
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

async function newWorkspace(): Promise<Workspace> {
  const root = await mkdtemp(join(tmpdir(), 'gitoku-ws-'));
  const ws = { id: root.split('/').pop()!, root, dir: join(root, 'work'), home: join(root, 'home') };
  await Promise.all([mkdir(ws.dir), mkdir(ws.home), mkdir(join(root, 'tmp'))]);
  return ws;
}

/** Plain directory backend: a scrubbed environment and process-group kill, no filesystem isolation. */
export const directoryBackend: SandboxBackend = {
  name: 'directory',
  provision: newWorkspace,
  exec: (ws, argv, opts) => spawnGroup(argv[0]!, argv.slice(1), opts.cwd ?? ws.dir, scrubbedEnvironment(ws, opts.env), opts),
  destroy: (ws) => rm(ws.root, { recursive: true, force: true }),
};

const ETC_ALLOWLIST = ['/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/passwd', '/etc/group', '/etc/ssl', '/etc/ca-certificates', '/etc/alternatives', '/etc/localtime', '/etc/gitconfig'];

/**
 * bubblewrap backend: the agent sees a read-only /usr (and a few files of /etc), its workspace and
 * home read-write, a private /tmp, /proc and /dev — and nothing else: not the data directory, not the
 * runner's home (~/.ssh), not other workspaces. Namespaces other than the network are unshared.
 */
export function bubblewrapBackend(bwrap = '/usr/bin/bwrap'): SandboxBackend {
  return {
    name: 'bubblewrap',
    provision: newWorkspace,
    exec: (ws, argv, opts) => {
      const args = ['--die-with-parent', '--unshare-all', '--share-net', '--new-session', '--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/sbin', '/sbin', '--symlink', 'usr/lib', '/lib'];
      if (existsSync('/usr/lib64')) args.push('--symlink', 'usr/lib64', '/lib64');
      for (const path of ETC_ALLOWLIST) if (existsSync(path)) args.push('--ro-bind', path, path);
      args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp');
      for (const path of opts.mounts ?? []) args.push('--ro-bind-try', path, path);
      args.push('--bind', ws.root, ws.root, '--chdir', opts.cwd ?? ws.dir, '--', ...argv);
      return spawnGroup(bwrap, args, ws.dir, scrubbedEnvironment(ws, opts.env), opts);
    },
    destroy: (ws) => rm(ws.root, { recursive: true, force: true }),
  };
}

/** bubblewrap where it is installed and works, else the plain directory backend. */
export async function detectSandbox(preference: 'auto' | 'bubblewrap' | 'directory' = 'auto'): Promise<SandboxBackend> {
  if (preference === 'directory') return directoryBackend;
  const candidate = bubblewrapBackend();
  if (existsSync('/usr/bin/bwrap')) {
    const ws = await newWorkspace();
    try {
      const probe = await candidate.exec(ws, ['/bin/sh', '-c', 'echo ok'], { timeoutMs: 10_000 });
      if (probe.code === 0 && probe.stdout.trim() === 'ok') return candidate;
    } finally {
      await rm(ws.root, { recursive: true, force: true });
    }
  }
  if (preference === 'bubblewrap') throw new Error('bubblewrap is not available on this machine (install the bubblewrap package)');
  return directoryBackend;
}
