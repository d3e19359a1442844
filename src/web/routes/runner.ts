import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import type { WebEnv } from '../context.ts';
import type { Job, Runner } from '../../db/schema.ts';
import { authenticateRunner, claimJobsForRunner, leaseOwner, registerRunner, runnerStillValid, setRunnerBusy, sweepJobs } from '../../services/runners.ts';
import { getJob, heartbeatJob, heartbeatJobs, releaseJobs } from '../../services/jobs.ts';
import type { AppContext } from '../../services/app.ts';
import { jobKindHandler } from '../../services/jobKinds.ts';
import { completeJobs, runningJobs } from '../../services/jobCompletions.ts';
import { ServiceError } from '../../services/errors.ts';
import { parseJsonBody } from '../../domain/json.ts';
import { MAX_INVENTORY, recordCheckpoint, replaceRunnerSnapshots } from '../../services/checkpoints.ts';
import { getRunById, RUN_JOB_KIND } from '../../services/runs.ts';
import { findRepositoryById } from '../../services/repositories.ts';
import { repositoryGitDir } from '../../services/storage.ts';

/**
 * The runner protocol (JSON over HTTP), used by remote `gitoku runner` processes and by the runner
 * embedded in `gitoku serve` alike: register, long-poll for a job, heartbeat, stream trace events, report.
 */
type RunnerEnv = WebEnv & { Variables: WebEnv['Variables'] & { runner: Runner } };

const registerBody = z.object({ token: z.string(), name: z.string(), labels: z.array(z.string()).max(32).default([]), version: z.string().max(64).default('') });
const eventsBody = z.object({ attempt: z.number().int().min(0), events: z.array(z.object({ kind: z.string().min(1).max(32), data: z.record(z.string(), z.unknown()) })).max(1000) });
const completeBody = z.object({ result: z.record(z.string(), z.unknown()) });
const failBody = z.object({ error: z.string().max(100_000), retryable: z.boolean().default(false) });
const cancelledBody = z.object({ reason: z.string().max(10_000).default('cancelled') });
const heartbeatBody = z.object({ busy: z.number().int().min(0).optional() });
const heartbeatsBody = z.object({ jobs: z.array(z.number().int().min(1)).max(1000), busy: z.number().int().min(0).optional() });
const completions = z.array(z.object({ id: z.number().int().min(1), result: z.record(z.string(), z.unknown()) })).max(1000);
const completionsBody = z.object({ jobs: completions.min(1) });
/** A claim may carry the results of the runner's jobs that finished since its last request (recorded before it looks for jobs). */
const claimBody = z.object({ complete: completions.optional() });
/** The most jobs one claim hands out (`?max=`; 1 when absent, as older runners expect). */
const MAX_CLAIM_BATCH = 64;
const snapshotId = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'snapshot ids are 1-128 letters, digits, ".", "-" or "_"');
const checkpointBody = z.object({
  attempt: z.number().int().min(1),
  step: z.number().int().min(0).max(100_000),
  trace_event_id: z.number().int().min(0).nullable().default(null),
  trace_seq: z.number().int().min(0).optional(),
  commit_sha: z.string().regex(/^[0-9a-f]{40}$/, 'commit_sha must be a 40-character hex sha'),
  final: z.boolean().default(false),
  snapshot: z.object({ id: snapshotId, mode: z.enum(['overlay', 'copy']), bytes: z.number().int().min(0) }).nullable().default(null),
  setup_cache_key: z.string().regex(/^[0-9a-f]{64}$/, 'setup_cache_key must be a sha256 hex digest').optional(),
});
const isoTime = z.string().datetime({ offset: true });
const snapshotsBody = z.object({
  snapshots: z
    .array(z.object({ id: snapshotId, mode: z.enum(['overlay', 'copy']), bytes: z.number().int().min(0), parent: snapshotId.nullable().default(null), created_at: isoTime, last_used_at: isoTime }))
    .max(MAX_INVENTORY),
});

async function parse<T>(c: Context<RunnerEnv>, schema: z.ZodType<T>): Promise<T> {
  let text: string;
  try {
    text = await c.req.text();
  } catch {
    throw new ServiceError(400, 'Problems reading the request body');
  }
  // Depth-bounded before parsing: deep nesting would overflow the stack of whatever walks it.
  const body = parseJsonBody(text);
  if (!body.ok) throw new ServiceError(400, body.message);
  const parsed = schema.safeParse(body.value);
  if (!parsed.success) throw new ServiceError(422, `Validation Failed: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

function presentedToken(c: Context<RunnerEnv>): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
}

function badCredentials(c: Context<RunnerEnv>) {
  return c.json({ message: 'Bad runner credentials (unknown or revoked runner token)' }, 401);
}

/**
 * For the routes that record results: authenticates the runner while the jobs whose results the body
 * carries are read (runningJobs), one round trip for both on a busy runner's every request. Nothing is
 * written, and nothing but credentials answered, before the runner is known; null when it is not.
 */
async function authenticateWithResults<T>(c: Context<RunnerEnv>, schema: z.ZodType<T>, results: (body: T) => readonly { id: number }[]): Promise<{ runner: Runner; body: T; running: Job[] } | null> {
  const app = c.get('app');
  const authenticating = authenticateRunner(app, presentedToken(c));
  // Awaited below; this only keeps a failure that arrives while the body is read from counting as unhandled.
  authenticating.catch(() => undefined);
  let body: T;
  try {
    body = await parse(c, schema);
  } catch (err) {
    if (!(await authenticating)) return null;
    throw err;
  }
  const [runner, running] = await Promise.all([authenticating, runningJobs(app, results(body).map((r) => r.id))]);
  if (!runner) return null;
  c.set('runner', runner);
  return { runner, body, running };
}

async function ownedJob(c: Context<RunnerEnv>) {
  const job = await getJob(c.get('app').db, Number(c.req.param('id')));
  if (!job || job.status !== 'running' || job.lease_owner !== leaseOwner(c.get('runner'))) throw new ServiceError(409, 'This runner does not hold the job (lease lost or job finished)');
  return job;
}

/**
 * The long-polls waiting for jobs, per server: a 'jobs' signal (one per committed enqueue transaction,
 * or NOTIFY on PostgreSQL) wakes the oldest waiter only, not every idle poll; a waiter that then
 * claimed something passes the wake on (more jobs may be waiting), one that found nothing does not.
 */
class JobWaiters {
  private readonly queue: (() => void)[] = [];
  /** How many 'jobs' signals arrived so far: a poll that saw it change while it claimed looks again rather than waits (no lost wake). */
  signals = 0;

  constructor(signals: AppContext['signals']) {
    signals.on('jobs', () => {
      this.signals++;
      this.wakeOne();
    });
  }

  wakeOne(): void {
    this.queue.shift()?.();
  }

  /** Waits for a wake, the timeout or the abort, whichever comes first. */
  wait(ms: number, abort: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        abort.removeEventListener('abort', done);
        const i = this.queue.indexOf(done);
        if (i >= 0) this.queue.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(done, ms);
      abort.addEventListener('abort', done);
      this.queue.push(done);
    });
  }
}

const waiters = new WeakMap<AppContext, JobWaiters>();
/** When each server last swept expired leases on a claim: at most once a second, however many runners poll. */
const lastSweep = new WeakMap<AppContext, number>();

async function sweepIfDue(app: AppContext): Promise<void> {
  const at = Date.now();
  if (at - (lastSweep.get(app) ?? 0) < 1000) return;
  lastSweep.set(app, at);
  await sweepJobs(app);
}

function jobWaiters(app: AppContext): JobWaiters {
  let w = waiters.get(app);
  if (!w) {
    w = new JobWaiters(app.signals);
    waiters.set(app, w);
  }
  return w;
}

export function runnerRoutes(): Hono<RunnerEnv> {
  const r = new Hono<RunnerEnv>();
  r.use('*', bodyLimit({ maxSize: 16 * 1024 * 1024, onError: (c) => c.json({ message: 'Request body is too large' }, 413) }));
  r.onError((err, c) => {
    if (err instanceof ServiceError) return c.json({ message: err.message }, err.status);
    if (c.get('app').isClosing()) return c.json({ message: 'Server is shutting down' }, 503);
    console.error('runner protocol:', err);
    return c.json({ message: 'Internal Server Error' }, 500);
  });

  r.post('/register', async (c) => {
    const body = await parse(c, registerBody);
    const registered = await registerRunner(c.get('app'), body.token, { name: body.name, labels: body.labels, version: body.version });
    if (!registered) return c.json({ message: 'Invalid or expired registration token' }, 401);
    return c.json({ id: registered.runner.id, name: registered.runner.name, token: registered.token }, 201);
  });

  // The two routes that record results authenticate by themselves (authenticateWithResults); every other one behind this.
  // Long-polls for up to `max` jobs (default 1): `{ job, jobs }`, `job` being the first, or 204. With
  // `complete` in the body, those results are recorded (while the first look for jobs runs, which never
  // takes them) and the answer — at once, with the jobs found if any (no waiting: the runner learns
  // without delay which results were accepted) — is always 200 and also says which were accepted
  // (`completed`) and which this runner no longer held (`lost`).
  r.post('/claim', async (c) => {
    const app = c.get('app');
    const request = await authenticateWithResults(c, claimBody, (body) => body.complete ?? []);
    if (!request) return badCredentials(c);
    const { runner, body, running } = request;
    const owner = leaseOwner(runner);
    const waitMs = Math.min(30_000, Math.max(0, Number(c.req.query('wait') ?? '25') * 1000 || 0));
    const max = Math.min(MAX_CLAIM_BATCH, Math.max(1, Math.floor(Number(c.req.query('max') ?? '1')) || 1));
    const deadline = Date.now() + waitMs;
    const gone = c.req.raw.signal;
    const finishing = body.complete ?? [];
    let report: { completed: number[]; lost: number[] } | null = null;
    const nothing = () => (report ? c.json({ job: null, jobs: [], completed: report.completed.map((id) => ({ id, status: 'succeeded' })), lost: report.lost }) : c.body(null, 204));
    for (let first = true; ; first = false) {
      if (first && finishing.length > 0 && (app.isClosing() || gone.aborted)) report = await completeJobs(app, owner, finishing, running);
      if (app.isClosing()) return c.json({ message: 'Server is shutting down' }, 503);
      // A runner that stopped polling (or died) must not be handed a job it will never run.
      if (gone.aborted) return nothing();
      const seen = jobWaiters(app).signals;
      // One round trip for the rest of a look: the results carried (first look), the sweep of expired
      // leases and the claim, which touch disjoint rows (the claim never takes a job being completed).
      const [recorded, swept, claim] = await Promise.allSettled([first && finishing.length > 0 ? completeJobs(app, owner, finishing, running) : null, sweepIfDue(app), claimJobsForRunner(app, runner, max, finishing.map((f) => f.id))]);
      const claimed = claim.status === 'fulfilled' ? claim.value : [];
      const failed = [recorded, swept, claim].find((r) => r.status === 'rejected');
      if (failed || (claimed.length > 0 && gone.aborted)) await releaseJobs(app.db, claimed.map(({ job }) => job.id), owner);
      if (failed) throw failed.reason;
      if (recorded.status === 'fulfilled' && recorded.value) report = recorded.value;
      // The runner may have been deleted or re-keyed during the long poll: the claim itself takes nothing
      // for a dead identity (preparing a claimed job has effects, a run starts), and a look after a wait
      // that found nothing tells the runner why rather than wait on.
      if (!first && claimed.length === 0 && !(await runnerStillValid(app, runner))) return c.json({ message: 'Bad runner credentials (the runner token was revoked)' }, 401);
      if (claimed.length > 0 && gone.aborted) return nothing();
      if (claimed.length > 0) {
        // There may be more: the next waiting poll looks too.
        if (claimed.length === max) jobWaiters(app).wakeOne();
        const jobs = claimed.map(({ job, payload }) => ({ id: job.id, kind: job.kind, attempt: job.attempts, lease_ms: app.config.jobLeaseMs, runner_id: runner.id, payload }));
        return c.json({ job: jobs[0], jobs, ...(report ? { completed: report.completed.map((id) => ({ id, status: 'succeeded' })), lost: report.lost } : {}) });
      }
      const left = report ? 0 : deadline - Date.now();
      if (left <= 0) return nothing();
      // Jobs were committed while this poll was claiming: look again at once.
      if (jobWaiters(app).signals !== seen) continue;
      // Backed-off retries and expired leases become claimable without a signal: look again at least every 2 s.
      await jobWaiters(app).wait(Math.min(left, 2000), gone);
    }
  });

  // Records many finished jobs at once: which were accepted, which this runner no longer held (lost).
  r.post('/jobs/complete', async (c) => {
    const request = await authenticateWithResults(c, completionsBody, (body) => body.jobs);
    if (!request) return badCredentials(c);
    const { completed, lost } = await completeJobs(c.get('app'), leaseOwner(request.runner), request.body.jobs, request.running);
    return c.json({ jobs: completed.map((id) => ({ id, status: 'succeeded' })), lost });
  });

  r.use('*', async (c, next) => {
    const runner = await authenticateRunner(c.get('app'), presentedToken(c));
    if (!runner) return badCredentials(c);
    c.set('runner', runner);
    await next();
  });

  // Extends the leases of many jobs at once: which are still held (and whether cancellation was asked), which were lost.
  r.post('/jobs/heartbeat', async (c) => {
    const body = await parse(c, heartbeatsBody);
    const app = c.get('app');
    const held = await heartbeatJobs(app, body.jobs, leaseOwner(c.get('runner')), app.config.jobLeaseMs);
    if (body.busy !== undefined) await setRunnerBusy(app, c.get('runner').id, body.busy);
    return c.json({
      jobs: [...held].map(([id, beat]) => ({ id, cancel_requested: beat.cancelRequested })),
      lost: [...new Set(body.jobs)].filter((id) => !held.has(id)),
      lease_ms: app.config.jobLeaseMs,
    });
  });

  r.post('/jobs/:id/heartbeat', async (c) => {
    const body = await parse(c, heartbeatBody);
    const app = c.get('app');
    const beat = await heartbeatJob(app, Number(c.req.param('id')), leaseOwner(c.get('runner')), app.config.jobLeaseMs);
    if (body.busy !== undefined) await setRunnerBusy(app, c.get('runner').id, body.busy);
    if (!beat) return c.json({ message: 'This runner does not hold the job (lease lost or job finished)' }, 409);
    return c.json({ cancel_requested: beat.cancelRequested, lease_ms: app.config.jobLeaseMs });
  });

  r.post('/jobs/:id/events', async (c) => {
    const body = await parse(c, eventsBody);
    const job = await ownedJob(c);
    await jobKindHandler(job.kind)?.appendEvents(c.get('app'), job, body.attempt, body.events);
    return c.json({ stored: body.events.length });
  });

  // A checkpoint of a run (issue 13): the runner pushed its commit to the step's hidden ref first.
  r.post('/jobs/:id/checkpoints', async (c) => {
    const body = await parse(c, checkpointBody);
    const job = await ownedJob(c);
    const app = c.get('app');
    if (job.kind !== RUN_JOB_KIND) throw new ServiceError(422, 'Only agent runs take checkpoints');
    const run = await getRunById(app.db, (JSON.parse(job.payload) as { run_id: number }).run_id);
    const repo = run ? await findRepositoryById(app.db, run.repository_id) : undefined;
    if (!run || !repo) throw new ServiceError(409, 'The run of this job is gone');
    const { ref } = await recordCheckpoint(app, job, c.get('runner'), repositoryGitDir(app, repo), run, body);
    return c.json({ ref }, 201);
  });

  // The runner's snapshot inventory, replaced whole (at start and after every snapshot made or evicted).
  r.put('/snapshots', async (c) => {
    const body = await parse(c, snapshotsBody);
    await replaceRunnerSnapshots(c.get('app'), c.get('runner').id, body.snapshots.map((s) => ({ ...s, parent: s.parent ?? null })));
    return c.body(null, 204);
  });

  r.post('/jobs/:id/complete', async (c) => {
    const body = await parse(c, completeBody);
    const job = await ownedJob(c);
    const ok = await jobKindHandler(job.kind)!.complete(c.get('app'), job, leaseOwner(c.get('runner')), body.result);
    if (!ok) return c.json({ message: 'Completion was not accepted (lease lost, or an invalid result)' }, 409);
    return c.json({ status: 'succeeded' });
  });

  r.post('/jobs/:id/fail', async (c) => {
    const body = await parse(c, failBody);
    const job = await ownedJob(c);
    const outcome = await jobKindHandler(job.kind)!.fail(c.get('app'), job, leaseOwner(c.get('runner')), body.error, body.retryable);
    if (!outcome) return c.json({ message: 'Failure was not accepted (lease lost)' }, 409);
    return c.json({ status: outcome });
  });

  r.post('/jobs/:id/cancelled', async (c) => {
    const body = await parse(c, cancelledBody);
    const job = await ownedJob(c);
    await jobKindHandler(job.kind)!.cancelled(c.get('app'), job, leaseOwner(c.get('runner')), body.reason);
    return c.json({ status: 'cancelled' });
  });

  return r;
}
