import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import { createPushedRepo, runScripted, scriptPrompt as script, waitFor, type PushedRepo } from '../helpers/scriptedRuns.ts';
import type { JobRunner } from '../../src/runner/runner.ts';

/**
 * Issue 13 end to end, through a real runner: the repository's set-up runs once and is cached as a
 * snapshot; a later run boots warm from it; a run takes a checkpoint after each step, pushed to hidden
 * refs; a fork from step 1 boots warm from that step's snapshot (its files, the set-up's node_modules,
 * none of the later steps) and finishes.
 */
const MANIFEST = `[workspace]
setup = "mkdir -p node_modules/dep && echo installed > node_modules/dep/index.js && date +%s%N > node_modules/.installed-at"
cache_key_files = ["package-lock.json"]
`;

describe.skipIf(!existsSync('/usr/bin/bwrap')).each(testDialects())('warm forks through a runner (%s)', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let runner: JobRunner;
  let repo: PushedRepo;
  const name = () => `${owner.username}/warm`;
  const trace = async (n: number) => ((await api(server, 'GET', `/repos/${name()}/runs/${n}/events`, { token: owner.token })).json.events as { kind: string; data: { message?: string; command?: string } }[]).map((e) => e.data.message ?? e.data.command ?? '').join('\n');
  const file = async (ref: string, path: string) => {
    const r = await api(server, 'GET', `/repos/${name()}/contents/${path}?ref=${encodeURIComponent(ref)}`, { token: owner.token });
    return r.status === 200 ? Buffer.from(r.json.content, 'base64').toString() : null;
  };

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    repo = await createPushedRepo(server, owner, 'warm', { 'README.md': '# Warm\n', 'gitoku.toml': MANIFEST, 'package-lock.json': '{"lockfileVersion": 3}\n', '.gitignore': 'node_modules/\n' });
    runner = await startInProcessRunner(server);
  });

  afterAll(async () => {
    await runner?.stop();
    await repo?.work.remove();
    await server?.close();
  });

  it('sets up once, checkpoints every step, and forks warm from a step with its files and the set-up', async () => {
    const first = await runScripted(server, owner, name(), script('write a.txt\nfirst\nend\nrun test -f node_modules/dep/index.js\nwrite b.txt\nsecond\nend\nsay done'));
    expect(first.status).toBe('succeeded');
    const firstTrace = await trace(first.number);
    expect(firstTrace).toContain('Setting up the workspace');
    expect(firstTrace).toMatch(/cold/);
    const checkpoints = await api(server, 'GET', `/repos/${name()}/runs/${first.number}/checkpoints`, { token: owner.token });
    expect(checkpoints.status, checkpoints.text).toBe(200);
    const steps = (checkpoints.json.checkpoints ?? checkpoints.json) as { step: number; commit_sha: string; snapshot_id?: string | null; ref?: string }[];
    expect(steps.map((s) => s.step)).toEqual([0, 1, 2, 3, 4]);
    // Each checkpoint points at its own place in the trace, in order.
    const places = (steps as unknown as { trace_event_id: number }[]).map((s) => s.trace_event_id);
    expect(places).toEqual([...places].sort((a, b) => a - b));
    expect(new Set(places).size).toBe(places.length);
    // Step 1's commit holds a.txt only; the step refs exist on the server.
    expect(await file(steps[1]!.commit_sha, 'a.txt')).toBe('first\n');
    expect(await file(steps[1]!.commit_sha, 'b.txt')).toBeNull();

    // A second run of the repository boots from the cached set-up: no set-up in its trace.
    const second = await runScripted(server, owner, name(), script('run test -f node_modules/dep/index.js\nsay warm'));
    expect(second.status).toBe('succeeded');
    const secondTrace = await trace(second.number);
    expect(secondTrace).toMatch(/warm, from snapshot/);
    expect(secondTrace).not.toContain('Setting up the workspace');

    // Fork from step 1: a.txt there, b.txt not, node_modules kept, warm.
    const fork = await api(server, 'POST', `/repos/${name()}/runs/${first.number}/forks`, { token: owner.token, body: { step: 1, prompt: script('run test -f a.txt && test ! -f b.txt && test -f node_modules/dep/index.js\nwrite c.txt\nthird\nend\nsay forked') } });
    expect(fork.status, fork.text).toBe(201);
    const forked = await waitFor(async () => {
      const r = await api(server, 'GET', `/repos/${name()}/runs/${fork.json.number}`, { token: owner.token });
      return ['succeeded', 'failed', 'cancelled'].includes(r.json.status) ? r.json : null;
    });
    const forkTrace = await trace(fork.json.number);
    if (process.env.SHOW_TRACE) console.log(firstTrace, '\n----\n', secondTrace, '\n----\n', forkTrace);
    expect(forked.status, forkTrace).toBe('succeeded');
    expect(forkTrace).toMatch(/warm, from snapshot \S+ \(step 1\)/);
    expect(forkTrace).not.toContain('Setting up the workspace');
    expect(forked.workspace_start).toBe('warm');
    // The scripted agent keeps no session to resume: the fork's prompt says what run #1 did up to step 1.
    expect(forked.rendered_prompt).toContain('## Earlier work on this task');
    expect(forked.rendered_prompt).toMatch(/- write a\.txt/);
    expect(forked.rendered_prompt).not.toMatch(/- write b\.txt/);
    expect(await file(forked.compare_branch, 'a.txt')).toBe('first\n');
    expect(await file(forked.compare_branch, 'c.txt')).toBe('third\n');
    expect(await file(forked.compare_branch, 'b.txt')).toBeNull();
  }, 120_000);
});
