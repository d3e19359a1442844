import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { startRunnerProcess, type RunnerProcess } from '../helpers/runner.ts';
import { createPushedRepo, runScripted, scriptPrompt as script, waitForRun, type PushedRepo } from '../helpers/scriptedRuns.ts';
import { userNamespaceOverlayWorks } from '../../src/runner/userNamespace.ts';

/**
 * Issue 13: overlay snapshots for a runner that is NOT root. The runner runs as uid 65534 (nobody),
 * re-executes itself in its own user + mount namespace, mounts its workspaces as overlays there,
 * checkpoints by renaming upper directories, and a fork boots warm from a step — exactly as a root
 * runner does, without copying the workspace. (Needs root to drop to nobody, and a kernel that lets an
 * unprivileged user mount overlayfs in a user namespace.)
 */
const NOBODY = 65534;
const MANIFEST = `[workspace]
setup = "mkdir -p node_modules/dep && echo installed > node_modules/dep/index.js"
`;
const possible = process.getuid?.() === 0 && existsSync('/usr/bin/bwrap') && existsSync('/usr/bin/setpriv');

describe.skipIf(!possible).each(testDialects().slice(0, 1))('an unprivileged runner snapshots with overlayfs in a user namespace (%s)', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let runner: RunnerProcess;
  let repo: PushedRepo;
  let home: string;
  const name = () => `${owner.username}/userns`;
  const trace = async (n: number) => ((await api(server, 'GET', `/repos/${name()}/runs/${n}/events`, { token: owner.token })).json.events as { data: { message?: string; command?: string } }[]).map((e) => e.data.message ?? e.data.command ?? '').join('\n');

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    repo = await createPushedRepo(server, owner, 'userns', { 'README.md': '# userns\n', 'gitoku.toml': MANIFEST, '.gitignore': 'node_modules/\n' });
    home = await mkdtemp(join(tmpdir(), 'gitoku-nobody-home-'));
    await chmod(home, 0o777);
    runner = await startRunnerProcess(server, 'nobody-runner', { uid: NOBODY, env: { HOME: home, GITOKU_SNAPSHOT_DIR: join(home, 'snapshots') } });
  }, 60_000);

  afterAll(async () => {
    await runner?.stop();
    await repo?.work.remove();
    await server?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('runs as nobody, takes overlay checkpoints, and forks warm from a step', async () => {
    expect(userNamespaceOverlayWorks()).toBe(true);
    expect(runner.output()).toMatch(/overlay snapshots in a user namespace/);

    const first = await runScripted(server, owner, name(), script('write a.txt\nfirst\nend\nwrite b.txt\nsecond\nend\nsay done'));
    expect(first.status, await trace(first.number)).toBe('succeeded');
    const checkpoints = await api(server, 'GET', `/repos/${name()}/runs/${first.number}/checkpoints`, { token: owner.token });
    const steps = (checkpoints.json.checkpoints ?? checkpoints.json) as { step: number; snapshot: { mode: string } | null }[];
    expect(steps.length).toBeGreaterThanOrEqual(3);
    expect(new Set(steps.map((s) => s.snapshot?.mode))).toEqual(new Set(['overlay']));

    // The store belongs to nobody: the runner never became root of the machine.
    const stores = await readdir(join(home, 'snapshots'));
    expect(stores.sort()).toEqual(['store', 'store.lock']);
    expect((await stat(join(home, 'snapshots', 'store', 'layers'))).uid).toBe(NOBODY);

    const fork = await api(server, 'POST', `/repos/${name()}/runs/${first.number}/forks`, { token: owner.token, body: { step: 1, prompt: script('run test -f a.txt && test ! -f b.txt && test -f node_modules/dep/index.js\nsay forked') } });
    expect(fork.status, fork.text).toBe(201);
    const forked = await waitForRun(server, owner, name(), fork.json.number);
    const forkTrace = await trace(fork.json.number);
    expect(forked.status, forkTrace).toBe('succeeded');
    expect(forked.workspace_start).toBe('warm');
    expect(forkTrace).not.toContain('Setting up the workspace');

    // The runner restarts (registering anew): its store, kept on disk, still boots forks warm.
    await runner.stop();
    runner = await startRunnerProcess(server, 'nobody-runner-again', { uid: NOBODY, env: { HOME: home, GITOKU_SNAPSHOT_DIR: join(home, 'snapshots') } });
    const again = await api(server, 'POST', `/repos/${name()}/runs/${first.number}/forks`, { token: owner.token, body: { step: 1, prompt: script('run test -f a.txt && test ! -f b.txt\nsay again') } });
    expect(again.status, again.text).toBe(201);
    const afterRestart = await waitForRun(server, owner, name(), again.json.number);
    expect(afterRestart.status, await trace(again.json.number)).toBe('succeeded');
    expect(afterRestart.workspace_start, (await trace(again.json.number)) + runner.output()).toBe("warm");
  }, 120_000);
});
