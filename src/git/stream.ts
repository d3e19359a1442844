import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { gitEnvironment } from './exec.ts';

export interface CappedOutput {
  code: number;
  stdout: Buffer;
  /** True when output passed the cap and git was stopped early. */
  truncated: boolean;
  stderr: string;
}

/** Runs git and keeps at most `cap` bytes of stdout, stopping git when the cap is reached (for large diffs). */
export function runGitCapped(gitDir: string, args: readonly string[], cap: number): Promise<CappedOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['--git-dir', gitDir, ...args], { env: gitEnvironment(), stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let length = 0;
    let truncated = false;
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => {
      if (truncated) return;
      if (length + chunk.length > cap) {
        chunks.push(chunk.subarray(0, cap - length));
        length = cap;
        truncated = true;
        child.kill();
        return;
      }
      chunks.push(chunk);
      length += chunk.length;
    });
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: truncated ? 0 : (code ?? 1), stdout: Buffer.concat(chunks), truncated, stderr: Buffer.concat(err).toString() }));
  });
}

/** Streams git's stdout line by line; `onLine` returning false stops git early. Resolves with git's exit code. */
export function streamGitLines(gitDir: string, args: readonly string[], onLine: (line: string) => boolean | void): Promise<{ code: number; stopped: boolean; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['--git-dir', gitDir, ...args], { env: gitEnvironment(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stopped = false;
    const err: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const rl = createInterface({ input: child.stdout, crlfDelay: Infinity });
    rl.on('line', (line) => {
      if (stopped) return;
      if (onLine(line) === false) {
        stopped = true;
        rl.close();
        child.kill();
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: stopped ? 0 : (code ?? 1), stopped, stderr: Buffer.concat(err).toString() }));
  });
}
