import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createEmbeddedRunner, createRegistrationToken } from '../../src/services/runners.ts';
import { RunnerClient } from '../../src/runner/client.ts';
import { JobRunner } from '../../src/runner/runner.ts';
import { detectSandbox } from '../../src/runner/sandbox.ts';
import type { TestServer } from './server.ts';

/** An in-process runner speaking the HTTP runner protocol to the test server (like the embedded one). */
export async function startInProcessRunner(server: TestServer, concurrency = 2): Promise<JobRunner> {
  const { token } = await createEmbeddedRunner(server.app, `test-${Math.random().toString(36).slice(2)}`);
  const runner = new JobRunner({ client: new RunnerClient(server.url, token), sandbox: await detectSandbox('auto'), concurrency });
  runner.start();
  return runner;
}

export interface RunnerProcess {
  child: ChildProcess;
  output(): string;
  /** SIGKILL the runner and everything it started (its process group). */
  kill(): void;
  stop(): Promise<void>;
}

export interface RunnerProcessOptions {
  /** Run as this unprivileged uid (and gid) through setpriv; the test must run as root. */
  uid?: number;
  env?: Record<string, string>;
}

/** A separate `gitoku runner` process, registered with a fresh registration token. */
export async function startRunnerProcess(server: TestServer, name: string, opts: RunnerProcessOptions = {}): Promise<RunnerProcess> {
  const registration = await createRegistrationToken(server.app, null);
  const bin = resolve(import.meta.dirname, '../../bin/gitoku.js');
  const argv = [process.execPath, bin, 'runner', '--server', server.url, '--token', registration, '--name', name];
  const command = opts.uid === undefined ? argv : ['/usr/bin/setpriv', `--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', '--', ...argv];
  const child = spawn(command[0]!, command.slice(1), {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const started = Date.now();
  while (!out.includes('polling')) {
    if (child.exitCode !== null || Date.now() - started > 20_000) throw new Error(`runner did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  return {
    child,
    output: () => out,
    kill,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      kill();
    },
  };
}
