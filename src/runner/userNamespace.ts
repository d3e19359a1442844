import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * An unprivileged runner cannot mount overlayfs in the machine's namespaces, but it can in a user
 * namespace of its own where it is "root" (Linux ≥ 5.11), with a private mount namespace. So a
 * non-root `gitoku runner` re-executes itself under `unshare --user --map-root-user --mount`, as
 * rootless container engines do (`podman unshare`): its workspace overlays, its git and the
 * bubblewrap sandboxes it starts (nested user namespaces) all live there, and every file it writes is
 * owned by the real user outside. Inside, uid 0 is NOT root of the machine: `isRealRoot` says which.
 */

/** The marker the re-executed runner finds in its environment. */
const MARKER = 'GITOKU_RUNNER_USERNS';

/** Whether this process is in a user namespace other than the machine's (its uid map is not the identity). */
export function inUserNamespace(): boolean {
  try {
    const map = readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/);
    return !(map[0] === '0' && map[1] === '0' && map[2] === '4294967295');
  } catch {
    return false;
  }
}

/** uid 0 in the machine's own user namespace (cgroups, RLIMIT_NPROC exemption, real mounts). */
export function isRealRoot(): boolean {
  return process.getuid?.() === 0 && !inUserNamespace();
}

/**
 * Whether kernel overlayfs mounts in a new user + mount namespace here: a real mount in a scratch
 * directory, so a kernel that allows the namespace but not the overlay inside it (< 5.11) says no.
 */
export function userNamespaceOverlayWorks(): boolean {
  if (!existsSync('/usr/bin/unshare')) return false;
  const dir = mkdtempSync(join(tmpdir(), 'gitoku-userns-probe-'));
  try {
    const script = 'mkdir l u w m && mount -t overlay overlay -o lowerdir=l,upperdir=u,workdir=w m && touch m/ok && test -e u/ok';
    const r = spawnSync('/usr/bin/unshare', ['--user', '--map-root-user', '--mount', '--', '/bin/sh', '-c', script], { cwd: dir, stdio: 'ignore', timeout: 10_000 });
    return r.status === 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * For a non-root runner: re-executes this process inside its own user + mount namespace (so its
 * snapshots can be overlay layers instead of copies) and resolves with the child's exit code once it
 * ends; signals are passed on. Resolves null when this process should go on as it is: already root,
 * already re-executed, turned off (GITOKU_RUNNER_USERNS=off or GITOKU_SNAPSHOTS=off), or the kernel
 * does not allow overlay in a user namespace (the store then copies).
 */
export async function reexecInUserNamespace(env: NodeJS.ProcessEnv = process.env): Promise<number | null> {
  if (process.getuid?.() === 0 || env[MARKER] || env.GITOKU_SNAPSHOTS === 'off') return null;
  if (!userNamespaceOverlayWorks()) return null;
  const argv = ['--user', '--map-root-user', '--mount', '--propagation', 'private', '--', process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  const child = spawn('/usr/bin/unshare', argv, { stdio: 'inherit', env: { ...env, [MARKER]: '1' } });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return new Promise((resolve) => {
    child.on('error', () => resolve(1));
    child.on('exit', (code, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(code ?? (signal ? 128 + 15 : 1));
    });
  });
}
