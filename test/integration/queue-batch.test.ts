/**
 * Issue 19, goal 6: the queue's batch operations. claimJobs takes up to k jobs in one statement (oldest
 * first; due, not cancelled, expired leases with attempts left); heartbeatJobs extends many leases at
 * once and tells which were lost; finishJobsSucceeded completes many, idempotently, only for the lease
 * holder; claims and completions read about as many jobs as they take, whatever the planner's statistics. Through the runner protocol: `/claim?max=k`
 * hands several jobs in one answer (bad `max` values are clamped), `/jobs/heartbeat` beats many.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Database } from '../../src/db/schema.ts';
import { testDialects } from '../helpers/databases.ts';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { createPushedRepo, scriptPrompt } from '../helpers/scriptedRuns.ts';
import { claimJobs, claimStatement, completeAndClaimJobs, completeAndClaimStatement, enqueueJob, enqueueJobAndWake, finishJobsSucceeded, getJob, heartbeatJobs, requestJobCancel, sweepExpiredJobs } from '../../src/services/jobs.ts';
import { createRegistrationToken } from '../../src/services/runners.ts';

const KIND = 'test_batch_kind';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

/** Rows a PostgreSQL statement read from `jobs` (its scans' rows, those filtered out included): EXPLAIN ANALYZE in a transaction rolled back. */
async function rowsRead(db: Kysely<Database>, statement: RawBuilder<unknown>): Promise<number> {
  let plan: PlanNode | null = null;
  await db
    .transaction()
    .execute(async (tx) => {
      const rows = (await sql<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>`explain (analyze, format json) ${statement}`.execute(tx)).rows;
      plan = rows[0]!['QUERY PLAN'][0].Plan;
      throw new Error('roll back');
    })
    .catch((err: Error) => {
      if (err.message !== 'roll back') throw err;
    });
  const read = (node: PlanNode): number => {
    const scansJobs = node['Node Type'].endsWith('Scan') && (node['Relation Name'] === 'jobs' || node['Node Type'] === 'Bitmap Index Scan');
    const own = scansJobs ? (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)) * node['Actual Loops'] : 0;
    return own + (node.Plans ?? []).reduce((sum, child) => sum + read(child), 0);
  };
  return read(plan!);
}

describe.each(testDialects())('queue batch operations (%s)', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let removeWork: (() => Promise<void>) | null = null;

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server, { username: 'qowner' });
    const pushed = await createPushedRepo(server, owner, 'q', { 'README.md': '# q\n' });
    removeWork = () => pushed.work.remove();
  });

  afterAll(async () => {
    await removeWork?.();
    await server?.close();
  });

  it('enqueues a job and wakes the claimers in one step (one statement on PostgreSQL)', async () => {
    const app = server.app;
    const woken = new Promise<void>((resolve) => app.signals.once('jobs', () => resolve()));
    const job = await enqueueJobAndWake(app, { kind: 'test_wake_kind', repositoryId: null, payload: { x: 1 }, maxAttempts: 2 });
    await woken;
    expect(job).toMatchObject({ kind: 'test_wake_kind', status: 'queued', payload: '{"x":1}', max_attempts: 2 });
    expect(job).not.toHaveProperty('woken');
    expect(await getJob(app.db, job.id)).toEqual(job);
    expect((await claimJobs(app, 'wake-owner', ['test_wake_kind'], 60_000, undefined, 5)).map((j) => j.id)).toEqual([job.id]);
  });

  it('claims the earliest due first, then the oldest (a retry due again goes before newer jobs due later)', async () => {
    const app = server.app;
    const kind = 'test_due_order';
    const due = (secondsAgo: number) => enqueueJob(app.db, { kind, repositoryId: null, payload: {}, runAfter: new Date(Date.now() - secondsAgo * 1000) });
    const [late, early, alsoEarly] = [await due(1), await due(60), await due(60)];
    expect((await claimJobs(app, 'order-owner', [kind, 'test_due_other'], 60_000, undefined, 3)).map((j) => j.id)).toEqual([early.id, alsoEarly.id, late.id]);
  });

  it('claims up to k due jobs in one statement, skipping cancelled, future and finished ones', async () => {
    const app = server.app;
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) ids.push((await enqueueJob(app.db, { kind: KIND, repositoryId: null, payload: { i } })).id);
    await enqueueJob(app.db, { kind: KIND, repositoryId: null, payload: { later: true }, runAfter: new Date(Date.now() + 60_000) });
    await requestJobCancel(app.db, ids[1]!);
    const first = await claimJobs(app, 'owner-a', [KIND], 60_000, undefined, 3);
    expect(first.map((j) => j.id)).toEqual([ids[0], ids[2], ids[3]]);
    expect(first.every((j) => j.status === 'running' && j.lease_owner === 'owner-a' && j.attempts === 1)).toBe(true);
    const rest = await claimJobs(app, 'owner-b', [KIND], 60_000, undefined, 10);
    expect(rest.map((j) => j.id)).toEqual([ids[4], ids[5]]);
    expect(await claimJobs(app, 'owner-b', [KIND], 60_000, undefined, 10)).toEqual([]);
    expect(await claimJobs(app, 'owner-b', [], 60_000, undefined, 10)).toEqual([]);
    expect(await claimJobs(app, 'owner-b', [KIND], 60_000, undefined, 0)).toEqual([]);

    // Heartbeats: one statement for many; jobs of another owner, or unknown, are reported lost (absent).
    const beats = await heartbeatJobs(app, [ids[0]!, ids[2]!, ids[4]!, 987654], 'owner-a', 120_000);
    expect([...beats.keys()].sort((a, b) => a - b)).toEqual([ids[0], ids[2]]);
    expect(Date.parse((await getJob(app.db, ids[0]!))!.lease_expires_at!)).toBeGreaterThan(Date.now() + 90_000);
    expect(Date.parse((await getJob(app.db, ids[3]!))!.lease_expires_at!)).toBeLessThan(Date.now() + 61_000);

    // An expired lease with attempts left is taken over by the next claim.
    await app.db.updateTable('jobs').set({ lease_expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', ids[3]!).execute();
    const takenOver = await claimJobs(app, 'owner-c', [KIND], 60_000, undefined, 5);
    expect(takenOver.map((j) => [j.id, j.lease_owner, j.attempts])).toEqual([[ids[3], 'owner-c', 2]]);

    // Completion: many at once, only by the lease holder, idempotent.
    const done = await finishJobsSucceeded(app, 'owner-a', [
      { id: ids[0]!, result: { ok: 1 } },
      { id: ids[2]!, result: null },
      { id: ids[3]!, result: null }, // owner-c holds it now
    ]);
    expect([...done].sort((a, b) => a - b)).toEqual([ids[0], ids[2]]);
    expect(await getJob(app.db, ids[0]!)).toMatchObject({ status: 'succeeded', result: '{"ok":1}', lease_owner: null });
    expect((await getJob(app.db, ids[3]!))!.status).toBe('running');
    expect((await finishJobsSucceeded(app, 'owner-a', [{ id: ids[0]!, result: null }])).size).toBe(0);
    expect((await getJob(app.db, ids[0]!))!.result).toBe('{"ok":1}');

    // One round trip records what a worker finished and claims the next ones (one statement on PostgreSQL):
    // only jobs it still holds are recorded, and a job being recorded is never claimed again by it.
    const more: number[] = [];
    for (let i = 0; i < 3; i++) more.push((await enqueueJob(app.db, { kind: KIND, repositoryId: null, payload: { more: i } })).id);
    const trip = await completeAndClaimJobs(
      app,
      [
        { id: ids[4]!, result: null },
        { id: ids[5]!, result: { n: 5 } },
        { id: ids[3]!, result: null }, // owner-c holds it
      ],
      { owner: 'owner-b', kinds: [KIND], leaseMs: 60_000, limit: 2 },
    );
    expect([...trip.done].sort((a, b) => a - b)).toEqual([ids[4], ids[5]]);
    expect(trip.claimed.map((j) => [j.id, j.lease_owner, j.status])).toEqual([
      [more[0], 'owner-b', 'running'],
      [more[1], 'owner-b', 'running'],
    ]);
    expect((await getJob(app.db, ids[5]!))!).toMatchObject({ status: 'succeeded', result: '{"n":5}', lease_owner: null });
    expect((await getJob(app.db, ids[3]!))!).toMatchObject({ status: 'running', lease_owner: 'owner-c' });
    // Nothing finished: a plain claim; nothing to claim: a plain completion.
    expect((await completeAndClaimJobs(app, [], { owner: 'owner-b', kinds: [KIND], leaseMs: 60_000, limit: 5 })).claimed.map((j) => j.id)).toEqual([more[2]]);
    const last = await completeAndClaimJobs(app, more.map((id) => ({ id, result: { id } })), { owner: 'owner-b', kinds: [KIND], leaseMs: 60_000, limit: 5 });
    expect([...last.done].sort((a, b) => a - b)).toEqual(more);
    expect(last.claimed).toEqual([]);

    // An expired lease whose job also has its completion in the same round trip is recorded, not re-claimed.
    const lapsed = (await enqueueJob(app.db, { kind: KIND, repositoryId: null, payload: { lapsed: true } })).id;
    await claimJobs(app, 'owner-d', [KIND], 60_000, undefined, 1);
    await app.db.updateTable('jobs').set({ lease_expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', lapsed).execute();
    const raced = await completeAndClaimJobs(app, [{ id: lapsed, result: null }], { owner: 'owner-d', kinds: [KIND], leaseMs: 60_000, limit: 5 });
    expect([...raced.done]).toEqual([lapsed]);
    expect(raced.claimed).toEqual([]);
    expect((await getJob(app.db, lapsed))!).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('sweeps expired leases in one statement: cancelled when asked, failed without attempts, left alone with attempts', async () => {
    const app = server.app;
    const kind = 'test_sweep_kind';
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) ids.push((await enqueueJob(app.db, { kind, repositoryId: null, payload: { i }, maxAttempts: i === 2 ? 3 : 1 })).id);
    expect((await claimJobs(app, 'sweep-owner', [kind], 60_000, undefined, 3)).map((j) => j.id)).toEqual(ids.slice(0, 3));
    await requestJobCancel(app.db, ids[0]!);
    await app.db.updateTable('jobs').set({ lease_expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', 'in', ids.slice(0, 3)).execute();
    const swept = await sweepExpiredJobs(app);
    expect(swept.map((j) => [j.id, j.status]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([
      [ids[0], 'cancelled'],
      [ids[1], 'failed'],
    ]);
    expect((await getJob(app.db, ids[0]!))!).toMatchObject({ status: 'cancelled', last_error: 'cancelled (the runner stopped responding)', lease_owner: null });
    expect((await getJob(app.db, ids[1]!))!).toMatchObject({ status: 'failed', last_error: 'the runner stopped responding (lease expired) and no attempts are left' });
    // Attempts left: the next claim takes it over; the queued one is untouched.
    expect((await getJob(app.db, ids[2]!))!).toMatchObject({ status: 'running', lease_owner: 'sweep-owner' });
    expect((await getJob(app.db, ids[3]!))!.status).toBe('queued');
    expect(await sweepExpiredJobs(app)).toEqual([]);
  });

  // Statistics describe the table at another moment than the claim (migration 0026): both shapes that misled the planner.
  it.each([
    ['taken on history alone, before a backlog', 'history'],
    ['taken during a backlog, most of it finished since', 'backlog'],
  ] as const)('claims and completes reading about as many jobs as they take, on statistics %s', async (_, shape) => {
    const app = server.app;
    const [kind, other] = ['test_plan_kind', 'test_plan_other'];
    const row = (k: string, status: 'succeeded' | 'queued', i: number) => {
      const at = new Date(Date.now() - 60_000).toISOString();
      return { kind: k, repository_id: null, payload: JSON.stringify({ i }), status, run_after: at, attempts: status === 'queued' ? 0 : 1, max_attempts: 3, lease_owner: null, lease_expires_at: null, last_error: null, result: null, cancel_requested: 0, dedup_key: null, preferred_runner_id: null, created_at: at, updated_at: at, finished_at: status === 'queued' ? null : at };
    };
    const insert = async (k: string, status: 'succeeded' | 'queued', count: number) => {
      for (let i = 0; i < count; i += 250) await app.db.insertInto('jobs').values(Array.from({ length: Math.min(250, count - i) }, (_, j) => row(k, status, i + j))).execute();
    };
    if (shape === 'history') {
      await insert(kind, 'succeeded', 3000);
      await sql`analyze jobs`.execute(app.db);
      await insert(kind, 'queued', 3000);
    } else {
      await insert(kind, 'queued', 6000);
      await sql`analyze jobs`.execute(app.db);
      const { first } = await app.db.selectFrom('jobs').select((eb) => eb.fn.min('id').as('first')).where('kind', '=', kind).executeTakeFirstOrThrow();
      await app.db.updateTable('jobs').set({ status: 'succeeded', attempts: 1 }).where('kind', '=', kind).where('id', '<', Number(first) + 3000).execute();
    }
    await insert(other, 'queued', 500);
    const claim = { owner: 'plan-owner', kinds: [kind, other], leaseMs: 60_000, limit: 16 };

    if (dialect === 'sqlite') {
      const plan = (await sql<{ detail: string }>`explain query plan ${claimStatement(app, claim)}`.execute(app.db)).rows.map((r) => r.detail).join(' | ');
      expect(plan).toContain('USING INDEX jobs_unfinished_by_kind');
      expect(plan).not.toMatch(/SCAN jobs(?! USING)/);
    } else {
      // Per kind up to k from its walk, then k by primary key for the update (before: every queued job, or every finished one).
      const claimReads = (claim.kinds.length + 1) * claim.limit;
      expect(await rowsRead(app.db, claimStatement(app, claim))).toBeLessThanOrEqual(claimReads);
      const claimed = await claimJobs(app, claim.owner, claim.kinds, claim.leaseMs, undefined, claim.limit);
      expect(claimed).toHaveLength(16);
      const finished = claimed.map((j) => ({ id: j.id, result: null }));
      // Each finished job by primary key, and passed over in the walk (it still runs).
      expect(await rowsRead(app.db, completeAndClaimStatement(app, finished, claim))).toBeLessThanOrEqual(2 * finished.length + claimReads);
    }
    await app.db.deleteFrom('jobs').where('kind', 'in', [kind, other]).execute();
  });

  it('hands several jobs in one long-poll answer and beats many leases in one request', async () => {
    const registration = await createRegistrationToken(server.app, null);
    const reg = await fetch(`${server.url}/api/v1/runner/register`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token: registration, name: 'batch-runner' }) });
    const { token } = (await reg.json()) as { token: string };
    const call = async (path: string, body: unknown = {}) => {
      const res = await fetch(`${server.url}/api/v1/runner${path}`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : null };
    };
    for (let i = 0; i < 4; i++) {
      const started = await api(server, 'POST', '/repos/qowner/q/runs', { token: owner.token, body: { prompt: scriptPrompt(`say ${i}`), title: `batch ${i}` } });
      expect(started.status, started.text).toBe(201);
    }
    // No max: one job, as older runners expect (and `job` is the first of `jobs`).
    const one = await call('/claim?wait=0');
    expect(one.status).toBe(200);
    expect(one.json.jobs).toHaveLength(1);
    expect(one.json.job).toEqual(one.json.jobs[0]);
    // Bad values of max are clamped to 1…64.
    for (const bad of ['0', '-3', 'abc']) {
      const r = await call(`/claim?wait=0&max=${bad}`);
      expect(r.status).toBe(200);
      expect(r.json.jobs, `max=${bad}`).toHaveLength(1);
    }
    const rest = await call('/claim?wait=0&max=1000');
    expect(rest.status).toBe(204);
    const ids = [one.json.job.id as number];
    const claimed = await server.app.db.selectFrom('jobs').select('id').where('status', '=', 'running').where('kind', '=', 'prompt_run').execute();
    expect(claimed).toHaveLength(4);
    ids.push(...claimed.map((r) => r.id).filter((id) => id !== ids[0]));
    const beat = await call('/jobs/heartbeat', { jobs: [...ids, 999_999], busy: 4 });
    expect(beat.status).toBe(200);
    expect(beat.json.jobs.map((j: { id: number }) => j.id).sort((a: number, b: number) => a - b)).toEqual([...ids].sort((a, b) => a - b));
    expect(beat.json.jobs.every((j: { cancel_requested: boolean }) => j.cancel_requested === false)).toBe(true);
    expect(beat.json.lost).toEqual([999_999]);
    expect(beat.json.lease_ms).toBeGreaterThan(0);
    // Bad heartbeat bodies.
    expect((await call('/jobs/heartbeat', { jobs: 'x' })).status).toBe(422);
    expect((await call('/jobs/heartbeat', { jobs: [0] })).status).toBe(422);
    expect((await call('/jobs/heartbeat', '{not json')).status).toBe(400);
    expect((await call('/jobs/heartbeat', { jobs: Array.from({ length: 1001 }, (_, i) => i + 1) })).status).toBe(422);
  });
});
