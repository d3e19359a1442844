import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** Environment for the stock git client in tests: no prompts, no user config, a fixed identity. */
export function gitClientEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: tmpdir(),
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_AUTHOR_NAME: 'Test Author',
    GIT_AUTHOR_EMAIL: 'author@example.com',
    GIT_COMMITTER_NAME: 'Test Author',
    GIT_COMMITTER_EMAIL: 'author@example.com',
    ...extra,
  };
}

export interface GitRun {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs the git client; never throws, so tests can assert on failures. */
export async function gitCli(cwd: string, args: string[], env: Record<string, string> = {}): Promise<GitRun> {
  try {
    const { stdout, stderr } = await exec('git', args, { cwd, env: gitClientEnv(env), maxBuffer: 64 * 1024 * 1024 });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1 };
  }
}

/** Like gitCli but throws with git's stderr on failure. */
export async function gitOk(cwd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await gitCli(cwd, args, env);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

export async function tempDir(prefix = 'gitoku-work-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Creates a working repository with the given files committed on `branch`. */
export async function initWorkRepo(dir: string, files: Record<string, string | Buffer>, branch = 'main'): Promise<void> {
  await gitOk(dir, ['init', '-q', `--initial-branch=${branch}`]);
  await commitFiles(dir, files, 'Initial commit');
}

export async function commitFiles(dir: string, files: Record<string, string | Buffer>, message: string): Promise<string> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  await gitOk(dir, ['add', '-A']);
  await gitOk(dir, ['commit', '-q', '-m', message]);
  return (await gitOk(dir, ['rev-parse', 'HEAD'])).trim();
}

/** An http URL with credentials embedded, for the stock git client. */
export function authUrl(serverUrl: string, path: string, username: string, secret: string): string {
  const u = new URL(`${serverUrl}/${path}`);
  u.username = encodeURIComponent(username);
  u.password = encodeURIComponent(secret);
  return u.toString();
}

/** All refs of a repository (local path or URL) as "sha ref" lines, sorted. */
export async function lsRemote(cwd: string, remote: string): Promise<string[]> {
  const out = await gitOk(cwd, ['ls-remote', remote]);
  return out
    .split('\n')
    .filter(Boolean)
    .filter((l) => !l.endsWith('\tHEAD'))
    .sort();
}
