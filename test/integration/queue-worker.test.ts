/**
 * Issue 19, goal 6: the queue's drain path. ServerJobWorker records finished jobs and claims the next
 * ones in one round trip and claims ahead of its free slots: 200 jobs enqueued at once each run exactly
 * once (one worker, then two side by side), never more than `concurrency` at a time; a stop hands back
 * the running and the prefetched jobs uncounted; a SIGKILLed worker's running and prefetched jobs stay
 * its own while their leases live and come back after them. Through the runner protocol, `POST
 * /jobs/complete` records many results in one request (a kind's completeMany, or its complete per job),
 * and a claim may carry results too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { testDialects } from '../helpers/databases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/scriptedRuns.ts';
import { claimJobs, enqueueJob, failJobAttempt, finishJob, finishJobsSucceeded, wakeClaimers } from '../../src/services/jobs.ts';
import { registerJobKind, registerServerJobKind, type JobKindHandler } from '../../src/services/jobKinds.ts';
import { ServerJobWorker } from '../../src/services/serverJobs.ts';
import { createRegistrationToken } from '../../src/services/runners.ts';
import { RunnerClient } from '../../src/runner/client.ts';

const CHILD = resolve(import.meta.dirname, '../helpers/queueWorkerChild.ts');
const RUN_TS = resolve(import.meta.dirname, '../../bin/run-ts.js');

/** Runs of the counting kind, per job id, and how many ran at once (per worker owner). */
const runs = new Map<number, number>();
const running = new Map<string, number>();
const peak = new Map<string, number>();
registerServerJobKind('test_worker_count', {
  async execute(_app, job) {
    runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
    const owner = job.lease_owner!;
    running.set(owner, (running.get(owner) ?? 0) + 1);
    peak.set(owner, Math.max(peak.get(owner) ?? 0, running.get(owner)!));
    // Some jobs take a little while, so completions and claims interleave.
    await new Promise((r) => (job.id % 3 === 0 ? setTimeout(r, 2) : setImmediate(r)));
    running.set(owner, running.get(owner)! - 1);
    return { status: 'succeeded', result: { id: job.id } };
  },
});

/** Never finishes by itself: ends (with a retry outcome) when the worker stops. */
const blockedStarts: number[] = [];
registerServerJobKind('test_worker_block', {
  execute: (_app, job, signal) =>
    new Promise((resolveOutcome) => {
      blockedStarts.push(job.id);
      signal.addEventListener('abort', () => resolveOutcome({ status: 'retry', error: 'stopped' }));
    }),
});

/** The kind the crash test's child process runs (there it never finishes; here it succeeds). */
const afterCrash: number[] = [];
registerServerJobKind('test_child_slow', {
  async execute(_app, job) {
    afterCrash.push(job.id);
    return { status: 'succeeded' };
  },
});

/** Runner-protocol kinds: one records a batch in one statement, the other has only the per-job complete. */
function protocolKind(many: boolean): JobKindHandler {
  return {
    prepare: async (_app, job) => JSON.parse(job.payload) as unknown,
    appendEvents: async () => undefined,
    complete: async (app, job, owner, result) => finishJob(app.db, job.id, owner, 'succeeded', { result }),
    ...(many ? { completeMany: async (app, items, owner) => finishJobsSucceeded(app, owner, items.map(({ job, result }) => ({ id: job.id, result }))) } : {}),
    fail: async (app, job, owner, error, retryable) => failJobAttempt(app.db, job, owner, error, retryable),
    cancelled: async (app, job, owner, reason) => finishJob(app.db, job.id, owner, 'cancelled', { error: reason }),
    closed: async () => undefined,
  };
}
registerJobKind('test_proto_many', protocolKind(true));
registerJobKind('test_proto_single', protocolKind(false));
registerJobKind('test_proto_revoked', protocolKind(true));

describe.each(testDialects())('queue drain path (%s)', (dialect) => {
  let server: TestServer;

  beforeAll(async () => {
    // No server job worker of its own: each test starts the workers it needs.
    server = await startTestServer(dialect, {}, { dispatcher: false });
  });

  afterAll(async () => {
    await server?.close();
  });

  async function enqueueMany(kind: string, count: number): Promise<number[]> {
    const ids = await server.app.db.transaction().execute(async (tx) => {
      const out: number[] = [];
      for (let i = 0; i < count; i++) out.push((await enqueueJob(tx, { kind, repositoryId: null, payload: { i } })).id);
      return out;
    });
    await wakeClaimers(server.app);
    return ids;
  }

  async function statuses(ids: number[]) {
    return server.app.db.selectFrom('jobs').select(['id', 'status', 'attempts', 'lease_owner', 'result']).where('id', 'in', ids).orderBy('id').execute();
  }

  it('runs 200 jobs enqueued at once exactly once with concurrency 8, with one worker and with two', async () => {
    for (const workers of [1, 2]) {
      runs.clear();
      peak.clear();
      const ids = await enqueueMany('test_worker_count', 200);
      const pool = Array.from({ length: workers }, () => new ServerJobWorker(server.app, { concurrency: 8 }));
      for (const w of pool) w.start();
      try {
        await waitFor(async () => (await statuses(ids)).every((j) => j.status === 'succeeded'), 60_000);
      } finally {
        for (const w of pool) await w.stop();
      }
      expect(ids.filter((id) => runs.get(id) !== 1), `jobs not run exactly once with ${workers} worker(s)`).toEqual([]);
      expect(runs.size).toBe(200);
      const rows = await statuses(ids);
      expect(rows.every((j) => j.attempts === 1 && j.lease_owner === null && j.result === JSON.stringify({ id: j.id }))).toBe(true);
      expect(Math.max(...peak.values())).toBeLessThanOrEqual(8);
      expect(peak.size).toBe(workers === 2 ? new Set(pool.map((w) => w.owner)).size : 1);
      // A lease owner names the process holding the lease (the admin job list shows it), unique per worker.
      for (const w of pool) expect(w.owner).toMatch(new RegExp(`^server@${hostname()}/${process.pid}-[0-9a-f]{6}$`));
    }
  });

  it('hands back running and prefetched jobs, uncounted, when stopped', async () => {
    blockedStarts.length = 0;
    const ids = await enqueueMany('test_worker_block', 6);
    const worker = new ServerJobWorker(server.app, { concurrency: 2, prefetch: 2 });
    worker.start();
    // Two run, two wait claimed ahead, two stay queued.
    await waitFor(async () => blockedStarts.length === 2 && (await statuses(ids)).filter((j) => j.status === 'running').length === 4);
    const held = await statuses(ids);
    expect(held.map((j) => j.status)).toEqual(['running', 'running', 'running', 'running', 'queued', 'queued']);
    expect(held.slice(0, 4).every((j) => j.lease_owner === worker.owner && j.attempts === 1)).toBe(true);
    await worker.stop();
    expect([...blockedStarts].sort((a, b) => a - b)).toEqual(ids.slice(0, 2));
    expect((await statuses(ids)).map((j) => [j.status, j.attempts, j.lease_owner])).toEqual(ids.map(() => ['queued', 0, null]));
    // Nobody holds them now: they are claimable at once.
    expect((await claimJobs(server.app, 'after-stop', ['test_worker_block'], 60_000, undefined, 10)).map((j) => j.id)).toEqual(ids);
    await server.app.db.updateTable('jobs').set({ status: 'cancelled', lease_owner: null }).where('id', 'in', ids).execute();
  });

  it("keeps a killed worker's running and prefetched jobs leased until their lease ends, then runs each once", async () => {
    const leaseMs = 2500;
    const ids = await enqueueMany('test_child_slow', 3);
    const child = spawn(process.execPath, [RUN_TS, CHILD], {
      env: { ...server.env, PATH: process.env.PATH, HOME: process.env.HOME, QUEUE_CONCURRENCY: '1', QUEUE_PREFETCH: '2', QUEUE_LEASE_MS: String(leaseMs) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    try {
      // One job running, two claimed ahead, all three leased by the child.
      await waitFor(async () => out.includes(`started ${ids[0]}`) && (await statuses(ids)).every((j) => j.status === 'running'), 30_000);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}\n${out}`);
    }
    const owners = new Set((await statuses(ids)).map((j) => j.lease_owner));
    expect(owners.size).toBe(1);
    expect(out).not.toContain(`started ${ids[1]}`);
    child.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();

    // While the leases live, nobody else runs them.
    afterCrash.length = 0;
    const worker = new ServerJobWorker(server.app, { concurrency: 8 });
    worker.start();
    try {
      expect(await claimJobs(server.app, 'someone-else', ['test_child_slow'], 60_000, undefined, 10)).toEqual([]);
      await waitFor(async () => (await statuses(ids)).every((j) => j.status === 'succeeded'), 30_000);
    } finally {
      await worker.stop();
    }
    // The worker retries the queue every second: the jobs came back after the lease (less the poll).
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(leaseMs - 1500);
    expect([...afterCrash].sort((a, b) => a - b)).toEqual(ids);
    expect((await statuses(ids)).map((j) => j.attempts)).toEqual([2, 2, 2]);
  });

  it('records many runner results in one request, with each kind’s batch path or its per-job complete', async () => {
    const registration = await createRegistrationToken(server.app, null);
    const { token } = await RunnerClient.register(server.url, registration, 'batch-complete', [], 'test');
    const client = new RunnerClient(server.url, token);
    const many = await enqueueMany('test_proto_many', 3);
    const single = await enqueueMany('test_proto_single', 2);
    const claimed = await client.claimMany(0, 10);
    expect(claimed.map((j) => j.id).sort((a, b) => a - b)).toEqual([...many, ...single]);

    // Another runner's job, an unknown id and a repeated id: reported lost or counted once.
    await server.app.db.updateTable('jobs').set({ lease_owner: 'runner-elsewhere' }).where('id', '=', many[2]!).execute();
    const answer = await client.completeMany([
      { id: many[0]!, result: { n: 0 } },
      { id: single[0]!, result: { n: 10 } },
      { id: many[1]!, result: { n: 1 } },
      { id: many[0]!, result: { n: 99 } },
      { id: many[2]!, result: { n: 2 } },
      { id: 987_654, result: {} },
      { id: single[1]!, result: { n: 11 } },
    ]);
    expect(answer.completed).toEqual([many[0], single[0], many[1], single[1]]);
    expect(answer.lost).toEqual([many[2], 987_654]);
    const rows = await statuses([...many, ...single]);
    expect(rows.map((j) => [j.id, j.status, j.result])).toEqual([
      [many[0], 'succeeded', '{"n":0}'],
      [many[1], 'succeeded', '{"n":1}'],
      [many[2], 'running', null],
      [single[0], 'succeeded', '{"n":10}'],
      [single[1], 'succeeded', '{"n":11}'],
    ]);
    // Again: already finished, so lost (idempotent).
    expect(await client.completeMany([{ id: many[0]!, result: {} }])).toEqual({ completed: [], lost: [many[0]] });

    const post = async (body: string, auth = true) =>
      (
        await fetch(`${server.url}/api/v1/runner/jobs/complete`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', ...(auth ? { Authorization: `Bearer ${token}` } : {}) },
          body,
        })
      ).status;
    expect(await post('{not json')).toBe(400);
    expect(await post('{}')).toBe(422);
    expect(await post(JSON.stringify({ jobs: [] }))).toBe(422);
    expect(await post(JSON.stringify({ jobs: [{ id: 0, result: {} }] }))).toBe(422);
    expect(await post(JSON.stringify({ jobs: [{ id: 1.5, result: {} }] }))).toBe(422);
    expect(await post(JSON.stringify({ jobs: [{ id: many[2], result: 'done' }] }))).toBe(422);
    expect(await post(JSON.stringify({ jobs: Array.from({ length: 1001 }, (_, i) => ({ id: i + 1, result: {} })) }))).toBe(422);
    expect(await post(JSON.stringify({ jobs: [{ id: many[2], result: {} }] }), false)).toBe(401);
    expect((await statuses([many[2]!]))[0]!.status).toBe('running');
  });

  it('records the results a claim carries before it looks for jobs, and answers at once', async () => {
    const registration = await createRegistrationToken(server.app, null);
    const { token } = await RunnerClient.register(server.url, registration, 'claim-complete', [], 'test');
    const client = new RunnerClient(server.url, token);
    const ids = await enqueueMany('test_proto_many', 4);
    const first = await client.claimAndComplete(0, 2, []);
    expect(first.jobs.map((j) => j.id)).toEqual(ids.slice(0, 2));
    expect(first).toMatchObject({ completed: [], lost: [] });
    // Two results ride on the next claim, which takes the other two jobs.
    const second = await client.claimAndComplete(0, 5, [
      { id: ids[0]!, result: { n: 0 } },
      { id: ids[1]!, result: { n: 1 } },
      { id: 987_650, result: {} },
    ]);
    expect(second.jobs.map((j) => j.id)).toEqual(ids.slice(2));
    expect(second.completed).toEqual(ids.slice(0, 2));
    expect(second.lost).toEqual([987_650]);
    expect((await statuses(ids)).map((j) => j.status)).toEqual(['succeeded', 'succeeded', 'running', 'running']);
    // Nothing left to claim: a claim with results answers at once (200, no jobs) however long it may wait.
    const t0 = Date.now();
    const third = await client.claimAndComplete(20, 5, ids.slice(2).map((id) => ({ id, result: { id } })));
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(third).toEqual({ jobs: [], completed: ids.slice(2), lost: [] });
    expect((await statuses(ids)).map((j) => [j.status, j.result])).toEqual([
      ['succeeded', '{"n":0}'],
      ['succeeded', '{"n":1}'],
      ['succeeded', JSON.stringify({ id: ids[2] })],
      ['succeeded', JSON.stringify({ id: ids[3] })],
    ]);
    // Without results, an empty claim is still a 204 after its wait; bad bodies are refused.
    expect(await client.claimAndComplete(0, 5, [])).toEqual({ jobs: [], completed: [], lost: [] });
    const post = async (body: string) =>
      (await fetch(`${server.url}/api/v1/runner/claim?wait=0`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body })).status;
    expect(await post('')).toBe(204);
    expect(await post('{not json')).toBe(400);
    expect(await post(JSON.stringify({ complete: 'x' }))).toBe(422);
    expect(await post(JSON.stringify({ complete: [{ id: -1, result: {} }] }))).toBe(422);
    expect(await post(JSON.stringify({ complete: Array.from({ length: 1001 }, (_, i) => ({ id: i + 1, result: {} })) }))).toBe(422);
  });

  it('never hands out again a job whose result the claim carries, even when its lease expired meanwhile', async () => {
    const registration = await createRegistrationToken(server.app, null);
    const { token } = await RunnerClient.register(server.url, registration, 'claim-expired', [], 'test');
    const client = new RunnerClient(server.url, token);
    const ids = await enqueueMany('test_proto_many', 2);
    expect((await client.claimAndComplete(0, 2, [])).jobs.map((j) => j.id)).toEqual(ids);
    await server.app.db.updateTable('jobs').set({ lease_expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', 'in', ids).execute();
    // The result is recorded while the claim looks for jobs: the other expired job is taken over again, the reported one is not.
    const answer = await client.claimAndComplete(0, 5, [{ id: ids[0]!, result: { n: 0 } }]);
    expect(answer.completed).toEqual([ids[0]]);
    expect(answer.jobs.map((j) => [j.id, j.attempt])).toEqual([[ids[1], 2]]);
    expect((await statuses(ids)).map((j) => [j.status, j.attempts])).toEqual([
      ['succeeded', 1],
      ['running', 2],
    ]);
    // A revoked runner's claim records nothing.
    await server.app.db.updateTable('runners').set({ token_hash: 'revoked' }).where('name', '=', 'claim-expired').execute();
    await expect(client.claimAndComplete(0, 5, [{ id: ids[1]!, result: {} }])).rejects.toThrow(/rejected this runner's token/);
    expect((await statuses([ids[1]!]))[0]!.status).toBe('running');
  });

  it('never hands a job to a runner revoked during its long poll: the claim itself takes nothing, and the runner is told', async () => {
    const registration = await createRegistrationToken(server.app, null);
    const { token } = await RunnerClient.register(server.url, registration, 'revoked-mid-poll', [], 'test');
    const runner = await server.app.db.selectFrom('runners').select(['id', 'token_hash']).where('name', '=', 'revoked-mid-poll').executeTakeFirstOrThrow();
    const poll = new RunnerClient(server.url, token).claimMany(10, 2).then(
      (jobs) => `answered with ${jobs.length} jobs`,
      (err: Error) => err.message,
    );
    await new Promise((r) => setTimeout(r, 300));
    const revoked = `revoked-${runner.id}`;
    await server.app.db.updateTable('runners').set({ token_hash: revoked }).where('id', '=', runner.id).execute();
    const ids = await enqueueMany('test_proto_revoked', 2);
    try {
      expect(await poll).toMatch(/rejected this runner's token/);
      expect((await statuses(ids)).map((j) => j.status)).toEqual(['queued', 'queued']);
      // The guard is the claim's: with the old token hash nothing is taken, with the current one the jobs are.
      const as = (tokenHash: string) => claimJobs(server.app, 'guard-owner', ['test_proto_revoked'], 60_000, { runnerId: runner.id, windowMs: 0, tokenHash }, 5);
      expect(await as(runner.token_hash)).toEqual([]);
      expect((await as(revoked)).map((j) => j.id)).toEqual(ids);
    } finally {
      await server.app.db.deleteFrom('jobs').where('id', 'in', ids).execute();
    }
  });
});
