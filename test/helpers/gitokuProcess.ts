import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

const BIN = resolve(import.meta.dirname, '../../bin/gitoku.js');

/** A `gitoku` child process (its own process group) whose output is collected. */
export interface GitokuProcess {
  child: ChildProcess;
  output(): string;
  /** SIGKILL the process and everything it started (its process group): a crash, no clean-up. */
  kill(): void;
  /** SIGTERM (a clean stop), then SIGKILL whatever is left after 5 s. */
  stop(): Promise<void>;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
}

/** Spawns `gitoku …args` and waits until its output matches `ready` (20 s at most). */
export async function spawnGitoku(args: string[], env: Record<string, string>, ready: RegExp, timeoutMs = 20_000): Promise<GitokuProcess> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  const started = Date.now();
  while (!ready.test(out)) {
    if (child.exitCode !== null || Date.now() - started > timeoutMs) {
      kill();
      throw new Error(`gitoku ${args[0]} did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    output: () => out,
    kill,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      }
      kill();
    },
  };
}

/**
 * Lines of a gitoku process's output that report a crash or a bug: the process guard's "BUG:" lines and
 * Node's own unhandled-rejection and unhandled-error reports. Tokens (`gtr_…`, random base62) are blanked
 * first: a random token can spell "bug".
 */
export function crashReports(output: string): string[] {
  return output
    .replace(/\bgt[a-z]_[A-Za-z0-9]+/g, '<token>')
    .split('\n')
    .filter((line) => /\bBUG:|unhandled/i.test(line));
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface ServeProcess extends GitokuProcess {
  url: string;
  port: number;
}

/**
 * `gitoku serve` on 127.0.0.1:`port` (a free one when omitted) with `env` (GITOKU_DATA_DIR,
 * GITOKU_DATABASE_URL …), without the embedded runner unless `embeddedRunner`, in one process unless `workers`.
 */
export async function startServeProcess(env: Record<string, string>, opts: { port?: number; embeddedRunner?: boolean; workers?: number } = {}): Promise<ServeProcess> {
  const port = opts.port ?? (await freePort());
  const args = ['serve', '--host', '127.0.0.1', '--port', String(port), ...(opts.embeddedRunner ? [] : ['--no-embedded-runner'])];
  // One process unless a test asks for HTTP workers (the default is one per core).
  const proc = await spawnGitoku([...args, '--workers', String(opts.workers ?? 1)], { GITOKU_DEMO: 'false', ...env }, /listening on .*\n/);
  return { ...proc, url: `http://127.0.0.1:${port}`, port };
}

/** `gitoku runner` against `serverUrl`, registering itself with `registrationToken` (gtreg_…). */
export async function startRunnerAgainst(serverUrl: string, registrationToken: string, name: string, opts: { concurrency?: number } = {}): Promise<GitokuProcess> {
  return spawnGitoku(['runner', '--server', serverUrl, '--token', registrationToken, '--name', name, '--concurrency', String(opts.concurrency ?? 1)], {}, /polling/);
}
