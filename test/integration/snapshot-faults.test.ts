import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { createPushedRepo, runScripted, scriptPrompt as script, waitForRun, type PushedRepo } from '../helpers/scriptedRuns.ts';
import { createEmbeddedRunner } from '../../src/services/runners.ts';
import { RunnerClient } from '../../src/runner/client.ts';
import { JobRunner } from '../../src/runner/runner.ts';
import { bubblewrapBackend } from '../../src/runner/sandbox.ts';
import { DEFAULT_LIMITS } from '../../src/runner/limits.ts';
import { SnapshotStore } from '../../src/runner/snapshots.ts';

/**
 * Issue 13's faults: the disk fills while a checkpoint is snapshotted. The run goes on without that
 * snapshot and says so; the checkpoint keeps its code; the store stays usable and holds no half
 * snapshot. (A copy-mode store on a 3 MiB tmpfs: the workspace fits, a copy of it does not. Needs root
 * to mount the tmpfs.)
 */
const possible = process.getuid?.() === 0 && existsSync('/usr/bin/bwrap');

describe.skipIf(!possible)('a disk that fills while snapshotting', () => {
  let server: TestServer;
  let owner: TestUser;
  let repo: PushedRepo;
  let runner: JobRunner;
  let store: SnapshotStore;
  let mountpoint: string;

  beforeAll(async () => {
    mountpoint = await mkdtemp(join(tmpdir(), 'gitoku-fullfs-'));
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mountpoint]);
    expect(mounted.status, String(mounted.stderr)).toBe(0);
    server = await startTestServer('sqlite');
    owner = await createTestUser(server);
    repo = await createPushedRepo(server, owner, 'full', { 'README.md': '# full\n' });
    store = await SnapshotStore.open(mountpoint, { quotaBytes: 1024 ** 3, retentionMs: 3_600_000, mode: 'copy' });
    const { token } = await createEmbeddedRunner(server.app, 'full-disk');
    runner = new JobRunner({ client: new RunnerClient(server.url, token), sandbox: bubblewrapBackend(DEFAULT_LIMITS, store), concurrency: 1 });
    runner.start();
  });

  afterAll(async () => {
    await runner?.stop();
    await repo?.work.remove();
    await server?.close();
    spawnSync('umount', ['-l', mountpoint]);
    await rm(mountpoint, { recursive: true, force: true });
  });

  it('goes on without the snapshot, says so, keeps the code, and leaves no half snapshot', async () => {
    const run = await runScripted(server, owner, `${owner.username}/full`, script('run head -c 1800000 /dev/zero > big.bin\nwrite small.txt\nsmall\nend\nsay done'));
    const trace = ((await api(server, 'GET', `/repos/${owner.username}/full/runs/${run.number}/events`, { token: owner.token })).json.events as { data: { message?: string } }[]).map((e) => e.data.message ?? '').join('\n');
    expect(run.status, trace).toBe('succeeded');
    expect(trace).toMatch(/Checkpoint 1: no snapshot \(.*No space left on device/);
    expect(trace).toMatch(/its code is kept/);
    const checkpoints = (await api(server, 'GET', `/repos/${owner.username}/full/runs/${run.number}/checkpoints`, { token: owner.token })).json as { step: number; commit_sha: string; snapshot: unknown }[];
    const step1 = checkpoints.find((c) => c.step === 1)!;
    expect(step1.snapshot).toBeNull();
    expect(step1.commit_sha).toMatch(/^[0-9a-f]{40}$/);
    const file = await api(server, 'GET', `/repos/${owner.username}/full/contents/big.bin?ref=${step1.commit_sha}`, { token: owner.token });
    expect(file.status).toBe(200);
    expect((await readdir(join(store.root, 'layers'))).filter((l) => l.endsWith('.partial'))).toEqual([]);
    for (const s of store.list()) expect(s.layers.every((l) => existsSync(join(store.root, 'layers', l)))).toBe(true);

    // The snapshot of step 0 (taken before the disk filled) loses its files on this runner while the
    // server still thinks it is there: a fork from step 0 starts cold instead of failing.
    const step0 = checkpoints.find((c) => c.step === 0) as unknown as { snapshot: { id: string } | null };
    expect(step0.snapshot).not.toBeNull();
    for (const layer of store.get(step0.snapshot!.id)!.layers) await rm(join(store.root, 'layers', layer), { recursive: true, force: true });
    const fork = await api(server, 'POST', `/repos/${owner.username}/full/runs/${run.number}/forks`, { token: owner.token, body: { step: 0, prompt: script('run test -f README.md && test ! -f big.bin\nsay cold but fine') } });
    expect(fork.status, fork.text).toBe(201);
    const forked = await waitForRun(server, owner, `${owner.username}/full`, fork.json.number);
    const forkTrace = ((await api(server, 'GET', `/repos/${owner.username}/full/runs/${fork.json.number}/events`, { token: owner.token })).json.events as { data: { message?: string } }[]).map((e) => e.data.message ?? '').join('\n');
    expect(forked.status, forkTrace).toBe('succeeded');
    expect(forked.workspace_start).toBe('cold');
    expect(forkTrace).toMatch(/could not be restored .*; starting cold/);
  }, 120_000);
});
