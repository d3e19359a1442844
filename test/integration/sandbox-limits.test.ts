import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { bubblewrapBackend, directoryBackend, NO_SANDBOX_REASON, unsandboxedBackend, type SandboxBackend, type Workspace } from '../../src/runner/sandbox.ts';
import { cgroupSupport, limitsFromEnvironment, parseBytes, type ResourceLimits } from '../../src/runner/limits.ts';
import { SnapshotStore } from '../../src/runner/snapshots.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * What an agent may consume (issue 12, points 4–5): a fork bomb, a memory hog and a disk filler each
 * fail the command clearly, the sandbox's cgroup is emptied and removed, and the runner goes on.
 */
const MiB = 1024 ** 2;
const limits: ResourceLimits = { pids: 64, memoryBytes: 256 * MiB, cpuWeight: 50, workspaceBytes: 40 * MiB, tmpBytes: 16 * MiB };
const bubblewrap = existsSync('/usr/bin/bwrap');

describe('sandbox limits', () => {
  it('reads its limits from the environment, refusing bad values', () => {
    expect(parseBytes('512M')).toBe(512 * MiB);
    expect(parseBytes('1.5GiB')).toBe(1.5 * 1024 * MiB);
    expect(parseBytes('10g')).toBe(10 * 1024 * MiB);
    expect(parseBytes('lots')).toBeNull();
    expect(limitsFromEnvironment({ GITOKU_SANDBOX_PIDS: '200', GITOKU_WORKSPACE_QUOTA: '2G', GITOKU_SANDBOX_TMP_SIZE: '64M' })).toMatchObject({ pids: 200, workspaceBytes: 2 * 1024 * MiB, tmpBytes: 64 * MiB });
    expect(() => limitsFromEnvironment({ GITOKU_SANDBOX_PIDS: '3' })).toThrow(/GITOKU_SANDBOX_PIDS/);
    expect(() => limitsFromEnvironment({ GITOKU_WORKSPACE_QUOTA: 'big' })).toThrow(/GITOKU_WORKSPACE_QUOTA/);
  });

  it('without a sandbox, runs the runner\'s own commands and refuses agent processes', async () => {
    const sandbox = unsandboxedBackend(limits);
    const ws = await sandbox.provision();
    try {
      expect((await sandbox.exec(ws, ['git', '--version'], { timeoutMs: 10_000, trusted: true })).code).toBe(0);
      await expect(sandbox.exec(ws, ['/bin/sh', '-c', 'echo pwned'], { timeoutMs: 10_000 })).rejects.toThrow(NO_SANDBOX_REASON);
    } finally {
      await sandbox.destroy(ws);
    }
  });

  it.skipIf(process.getuid?.() !== 0 || !bubblewrap)('an unprivileged runner without cgroups limits processes with RLIMIT_NPROC', async () => {
    // The runner as `nobody`: no cgroup can be made, so the process limit is the user's RLIMIT_NPROC.
    const { mkdtemp: mk, writeFile: wf, chmod: ch, rm: rmrf } = await import('node:fs/promises');
    const { execFile } = await import('node:child_process');
    // The checkout must be readable by `nobody` (a clone under a private home is not): else nothing to show here.
    const readable = await new Promise<boolean>((resolve) => execFile('runuser', ['-u', 'nobody', '--', 'test', '-r', `${process.cwd()}/node_modules/tsx/dist/esm/index.mjs`], (err) => resolve(!err)));
    if (!readable) return void console.warn('skipped: the checkout is not readable by the user nobody');
    const dir = await mk('/tmp/gitoku-nproc-');
    await ch(dir, 0o777);
    const script = `${dir}/probe.mts`;
    await wf(
      script,
      `import { bubblewrapBackend } from ${JSON.stringify(`${process.cwd()}/src/runner/sandbox.ts`)};
const sb = bubblewrapBackend({ pids: 40, memoryBytes: 1024 ** 3, cpuWeight: 50, workspaceBytes: 1024 ** 3, tmpBytes: 64 * 1024 ** 2 }, null);
const ws = await sb.provision();
const r = await sb.exec(ws, ['/bin/sh', '-c', 'i=0; while [ $i -lt 100 ]; do (sleep 3) 2>/dev/null & i=$((i+1)); done; wait; echo finished'], { timeoutMs: 20000 });
console.log(JSON.stringify({ code: r.code, stderr: r.stderr }));
await sb.destroy(ws);
`,
    );
    await ch(script, 0o644);
    try {
      const out = await new Promise<string>((resolve, reject) =>
        execFile('runuser', ['-u', 'nobody', '--', 'env', `HOME=${dir}`, 'GITOKU_SNAPSHOTS=off', process.execPath, '--import', `${process.cwd()}/node_modules/tsx/dist/esm/index.mjs`, script], { cwd: dir, timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))),
      );
      const result = JSON.parse(out.trim().split('\n').at(-1)!) as { code: number; stderr: string };
      expect(result.stderr).toMatch(/Cannot fork|Resource temporarily unavailable/);
    } finally {
      await rmrf(dir, { recursive: true, force: true });
    }
  }, 90_000);

  for (const [name, make] of [
    ['bubblewrap', () => bubblewrapBackend(limits)],
    ['directory', () => directoryBackend(limits)],
  ] as const) {
    describe.skipIf(name === 'bubblewrap' && !bubblewrap)(name, () => {
      let sandbox: SandboxBackend;
      let ws: Workspace;
      let cgroups: string | null;
      beforeAll(async () => {
        sandbox = make();
        ws = await sandbox.provision();
        cgroups = await cgroupSupport();
      });
      afterAll(async () => {
        await sandbox?.destroy(ws);
      });
      const sh = (script: string, timeoutMs = 30_000) => sandbox.exec(ws, ['/bin/sh', '-c', script], { timeoutMs });

      it('stops a fork bomb at the process limit, and kills what it left behind', async () => {
        if (!cgroups) return void console.warn('no writable cgroups on this machine: process limits are not enforced here');
        const started = Date.now();
        await expect(sh('i=0; while [ $i -lt 300 ]; do (sleep 30) & i=$((i+1)); done 2>/dev/null; wait')).rejects.toThrow(/process limit \(64/);
        expect(Date.now() - started).toBeLessThan(15_000);
        expect((await sh('echo still here')).stdout).toBe('still here\n');
      });

      it('stops a memory hog at the memory limit', async () => {
        if (!cgroups) return;
        await expect(sh('head -c 600M /dev/zero | tail -c 1 >/dev/null; python3 -c "x = bytearray(600*1024*1024)" 2>/dev/null || perl -e \'$x = "a" x (600*1024*1024)\'')).rejects.toThrow(/memory limit \(256 MiB/);
        expect((await sh('echo still here')).code).toBe(0);
      });

      it('stops a disk filler at the workspace quota, also one that finished before the check', async () => {
        await expect(sh('head -c 60M /dev/zero > big.bin; sleep 5')).rejects.toThrow(/workspace quota \(40 MiB/);
        await expect(sh('head -c 60M /dev/zero > big2.bin')).rejects.toThrow(/workspace quota/);
        await sh('rm -f big.bin big2.bin').catch(() => undefined);
        expect((await sh('echo fine')).stdout).toBe('fine\n');
      });

      if (name === 'bubblewrap') {
        it('caps the private /tmp', async () => {
          const r = await sh('head -c 32M /dev/zero > /tmp/big; echo $?');
          expect(r.stderr).toMatch(/No space left on device/);
        });

        it('runs the agent unprivileged, as 65534 without capabilities', async () => {
          const r = await sh('id -u; grep CapEff /proc/self/status');
          expect(r.stdout).toMatch(/^65534\nCapEff:\s+0+\n$/);
        });
      }
    });
  }

  // An overlay workspace is not walked whole at each check: the changes since boot plus the layers it
  // booted from, each measured once. The quota still covers both.
  describe.skipIf(process.getuid?.() !== 0 || !bubblewrap)('bubblewrap on an overlay snapshot store', () => {
    let base: string;
    let store: SnapshotStore;
    let sandbox: SandboxBackend;
    beforeAll(async () => {
      base = await mkdtemp(join(tmpdir(), 'gitoku-quota-'));
      store = await SnapshotStore.open(base, { quotaBytes: 1024 ** 3, retentionMs: 3_600_000, mode: 'overlay' });
      sandbox = bubblewrapBackend(limits, store);
    });
    afterAll(async () => {
      await store?.close();
      await rm(base, { recursive: true, force: true });
    });

    it('counts what the workspace booted from and what it wrote since', async () => {
      const first = await sandbox.provision();
      await sandbox.exec(first, ['/bin/sh', '-c', 'head -c 30M /dev/urandom > deps.bin'], { timeoutMs: 30_000 });
      const snapshot = (await sandbox.snapshot(first))!;
      await sandbox.destroy(first);
      const fork = await sandbox.provision({ from: snapshot.id });
      try {
        expect(await fork.usage!()).toBeGreaterThanOrEqual(30 * MiB);
        // 30 MiB below + 5 MiB written: within 40 MiB.
        expect((await sandbox.exec(fork, ['/bin/sh', '-c', 'head -c 5M /dev/urandom > small.bin; echo ok'], { timeoutMs: 30_000 })).stdout).toBe('ok\n');
        // 30 MiB below + 15 MiB more: over.
        await expect(sandbox.exec(fork, ['/bin/sh', '-c', 'head -c 15M /dev/urandom > more.bin'], { timeoutMs: 30_000 })).rejects.toThrow(/workspace quota \(40 MiB/);
      } finally {
        await sandbox.destroy(fork);
      }
    });
  });
});

