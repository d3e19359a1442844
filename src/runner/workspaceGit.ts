import type { SandboxBackend, Workspace } from './sandbox.ts';
import { AgentFailure } from './drivers/types.ts';
import { writeConfinedFile } from './workspaceFs.ts';
import { join } from 'node:path';

/**
 * The runner's own git (DESIGN §9, "untrusted workspace"). After the agent ran, everything in the
 * checkout is hostile — `.git/config` (fsmonitor, filters, url rewrites, proxies), `.git/hooks`, the
 * home directory's `.gitconfig` — so the runner never uses the checkout's repository: its commands run
 * on its own git directory (`ws.gitDir`, which agent processes never see) with the checkout as the
 * work tree, no global or system configuration, hooks off, and only http(s) transports. The job token
 * reaches git through a credential helper reading file descriptor 3: never argv, never the environment.
 */
const HARDENED = [
  ['core.hooksPath', '/dev/null'],
  ['core.fsmonitor', 'false'],
  ['core.attributesFile', '/dev/null'],
  ['core.excludesFile', '/dev/null'],
  ['core.askPass', ''],
  ['core.sshCommand', 'false'],
  ['core.pager', 'cat'],
  ['commit.gpgSign', 'false'],
  ['gc.auto', '0'],
  ['maintenance.auto', 'false'],
  ['protocol.allow', 'never'],
  ['protocol.http.allow', 'always'],
  ['protocol.https.allow', 'always'],
  ['http.extraHeader', ''],
  ['credential.helper', ''],
].flatMap(([key, value]) => ['-c', `${key}=${value}`]);

/** Answers git's `get` with the credentials on fd 3; `store`/`erase` are ignored. */
const FD_CREDENTIAL_HELPER = ['-c', 'credential.helper=!f() { test "$1" = get && cat <&3; }; f'];

export interface GitCall {
  /** Authenticate to the server with the job token. */
  auth?: boolean;
  env?: Record<string, string>;
  input?: string;
  /** Run in the agent's checkout repository instead of the runner's (only before the agent ran). */
  checkoutRepository?: boolean;
}

export type WorkspaceGit = (args: string[], opts?: GitCall) => Promise<string>;

/** Runs git for the runner in the workspace's sandbox (see above); throws with git's redacted stderr. */
export function workspaceGit(sandbox: SandboxBackend, ws: Workspace, token: string, signal: AbortSignal, redact: (t: string) => string): WorkspaceGit {
  const credentials = `username=gitoku-job\npassword=${token}\n`;
  return async (args, opts = {}) => {
    const env: Record<string, string> = {
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_ATTR_NOSYSTEM: '1',
      HOME: ws.view.gitDir,
      XDG_CONFIG_HOME: ws.view.gitDir,
      ...(opts.checkoutRepository ? {} : { GIT_DIR: ws.view.gitDir, GIT_WORK_TREE: ws.view.dir }),
      ...opts.env,
    };
    const argv = ['git', ...HARDENED, ...(opts.auth ? FD_CREDENTIAL_HELPER : []), ...args];
    const r = await sandbox.exec(ws, argv, { timeoutMs: 10 * 60_000, signal, env, input: opts.input, maxOutputBytes: 4 * 1024 * 1024, trusted: true, fd3: opts.auth ? credentials : undefined });
    if (r.cancelled) throw new AgentFailure('cancelled');
    if (r.code !== 0) throw new Error(`git ${args[0]} failed: ${redact(r.stderr.trim()).slice(-2000)}`);
    return r.stdout;
  };
}

/**
 * Fetches exactly the commits needed into the runner's repository and checks `sha` out into the
 * workspace, on `branch` (or detached). The agent gets a repository of its own in the checkout that
 * borrows the runner's objects (read-only to it), so `git status`/`diff`/`log` work as usual there.
 */
export async function checkoutCommit(git: WorkspaceGit, ws: Workspace, cloneUrl: string, sha: string, branch: string | null, extra: string[] = []): Promise<void> {
  const name = branch ?? 'detached';
  await git(['init', '-q', `--initial-branch=${name}`]);
  await git(['fetch', '-q', '--no-tags', '--end-of-options', cloneUrl, sha, ...extra], { auth: true });
  await git(['checkout', '-q', '-f', ...(branch ? ['-B', branch] : ['--detach']), sha]);
  await git(['init', '-q', `--initial-branch=${name}`], { checkoutRepository: true });
  await git(['config', 'user.name', 'gitoku agent'], { checkoutRepository: true });
  await git(['config', 'user.email', 'agent@gitoku.invalid'], { checkoutRepository: true });
  await writeConfinedFile(ws.dir, '.git/objects/info/alternates', `${join(ws.view.gitDir, 'objects')}\n`, { allowGit: true });
  if (branch) await git(['update-ref', `refs/heads/${branch}`, sha], { checkoutRepository: true });
  else await git(['update-ref', '--no-deref', 'HEAD', sha], { checkoutRepository: true });
  await git(['reset', '-q', sha], { checkoutRepository: true });
}

/** Stages everything the agent left in the checkout (against the source state) and reports whether anything changed. */
export async function stageWorkTree(git: WorkspaceGit): Promise<boolean> {
  await git(['add', '-A']);
  return (await git(['diff', '--cached', '--name-only', '--no-ext-diff'])).trim() !== '';
}
