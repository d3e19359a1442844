import { execFile } from 'node:child_process';

/**
 * Bytes on disk under `paths`, as the workspace quota counts them: `du -s -x -B1 -c` (links are never
 * followed, one filesystem, allocated blocks), paths that are missing count nothing, 0 when du fails; bounded to 60 s so a pathological tree
 * cannot hold the runner. Shared by the sandbox's quota check and the snapshot store's accounting.
 */
export function diskBytes(paths: string[]): Promise<number> {
  return new Promise((resolve) => {
    execFile('du', ['-s', '-x', '-B1', '-c', '--', ...paths], { cwd: '/', env: { PATH: '/usr/bin:/bin', LANG: 'C' }, timeout: 60_000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 }, (_err, stdout) => {
      // du exits 1 when a part vanished meanwhile (an agent deleting files); its total still counts the rest.
      resolve(Number(/^(\d+)\s+total$/m.exec(String(stdout ?? ''))?.[1] ?? 0));
    });
  });
}
