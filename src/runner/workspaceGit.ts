import type { SandboxBackend, Workspace } from './sandbox.ts';
import { AgentFailure } from './drivers/types.ts';

/** Runs git in a workspace through the sandbox, authenticating to the server with a job token when asked. */
export function workspaceGit(sandbox: SandboxBackend, ws: Workspace, token: string, signal: AbortSignal, redact: (t: string) => string) {
  const auth = ['-c', `http.extraHeader=Authorization: Bearer ${token}`];
  return async (args: string[], opts: { auth?: boolean; env?: Record<string, string>; input?: string } = {}): Promise<string> => {
    const r = await sandbox.exec(ws, ['git', ...(opts.auth ? auth : []), ...args], { timeoutMs: 10 * 60_000, signal, env: opts.env, input: opts.input, maxOutputBytes: 4 * 1024 * 1024 });
    if (r.cancelled) throw new AgentFailure('cancelled');
    if (r.code !== 0) throw new Error(`git ${args[0]} failed: ${redact(r.stderr.trim()).slice(-2000)}`);
    return r.stdout;
  };
}

/** Fetches exactly the commits needed into a fresh repository in the workspace and checks out `sha`. */
export async function checkoutCommit(git: ReturnType<typeof workspaceGit>, cloneUrl: string, sha: string, branch: string | null, extra: string[] = []): Promise<void> {
  await git(['init', '-q', `--initial-branch=${branch ?? 'detached'}`, '.']);
  await git(['fetch', '-q', '--no-tags', cloneUrl, sha, ...extra], { auth: true });
  if (branch) await git(['checkout', '-q', '-B', branch, sha]);
  else await git(['checkout', '-q', '--detach', sha]);
}
