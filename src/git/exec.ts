import { spawn, type SpawnOptions } from 'node:child_process';

/**
 * The environment git runs with: the server's own variables (database URLs, tokens, GIT_* overrides)
 * never reach it, and git never prompts. No hook ever runs from a repository's own `hooks/` directory
 * (`core.hooksPath=/dev/null`, which a repository's config cannot override): the only hooks git runs
 * for the server are gitoku's, named for receive-pack alone with `-c core.hooksPath=<data>/hooks`.
 */
export function gitEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    LANG: 'C.UTF-8',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'core.hooksPath',
    GIT_CONFIG_VALUE_0: '/dev/null',
  };
  return { ...env, ...extra };
}

export interface GitResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export interface GitOptions {
  gitDir?: string;
  cwd?: string;
  input?: string | Buffer;
  env?: Record<string, string>;
  /** Cap on captured stdout; exceeding it kills git and rejects. */
  maxOutput?: number;
}

export class GitError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly code: number,
    readonly stderr: string,
  ) {
    super(`git ${args[0] ?? ''} failed (${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
}

/** Runs git with an argument array (never a shell) and collects its output. */
export function runGit(args: readonly string[], opts: GitOptions = {}): Promise<GitResult> {
  const fullArgs = opts.gitDir ? ['--git-dir', opts.gitDir, ...args] : [...args];
  const spawnOpts: SpawnOptions = { cwd: opts.cwd, env: gitEnvironment(opts.env), stdio: ['pipe', 'pipe', 'pipe'] };
  return new Promise((resolve, reject) => {
    const child = spawn('git', fullArgs, spawnOpts);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLength = 0;
    const maxOutput = opts.maxOutput ?? 256 * 1024 * 1024;
    child.stdout!.on('data', (chunk: Buffer) => {
      outLength += chunk.length;
      if (outLength > maxOutput) {
        child.kill('SIGKILL');
        reject(new Error(`git ${args[0]} output exceeded ${maxOutput} bytes`));
        return;
      }
      out.push(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input ?? '');
  });
}

/** Runs git and returns stdout as text; a non-zero exit throws GitError. */
export async function git(args: readonly string[], opts: GitOptions = {}): Promise<string> {
  const result = await runGit(args, opts);
  if (result.code !== 0) throw new GitError(args, result.code, result.stderr);
  return result.stdout.toString('utf8');
}
