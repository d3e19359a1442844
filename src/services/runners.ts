import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { invalid } from './errors.ts';
import type { Job, Runner } from '../db/schema.ts';
import { randomToken, sha256Hex } from '../domain/secrets.ts';
import { claimJobs, finishJob, sweepExpiredJobs } from './jobs.ts';
import { jobKindHandler, registeredJobKinds, serverJobKindHandler } from './jobKinds.ts';
import './jobKindRegistry.ts';

export const RUNNER_TOKEN_PREFIX = 'gtr_';
export const REGISTRATION_TOKEN_PREFIX = 'gtreg_';
/** A runner that has not been seen for this long is shown offline. */
export { RUNNER_ONLINE_MS } from '../domain/runnerPresence.ts';
import { RUNNER_ONLINE_MS } from '../domain/runnerPresence.ts';

export async function createRegistrationToken(app: AppContext, createdById: number | null, ttlMs: number | null = null): Promise<string> {
  const token = REGISTRATION_TOKEN_PREFIX + randomToken(40);
  await app.db
    .insertInto('runner_registration_tokens')
    .values({ token_hash: sha256Hex(token), created_by_id: createdById, expires_at: ttlMs ? new Date(Date.now() + ttlMs).toISOString() : null, created_at: now() })
    .execute();
  return token;
}

async function insertRunner(app: AppContext, name: string, labels: string[], version: string, embedded: boolean): Promise<{ runner: Runner; token: string }> {
  const token = RUNNER_TOKEN_PREFIX + randomToken(40);
  const runner = await app.db
    .insertInto('runners')
    .values({ name, token_hash: sha256Hex(token), labels: JSON.stringify(labels), version, embedded: embedded ? 1 : 0, busy_jobs: 0, last_seen_at: now(), created_at: now() })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { runner, token };
}

/** Exchanges a registration token for a runner identity and its own token. */
export async function registerRunner(app: AppContext, registrationToken: string, input: { name: string; labels: string[]; version: string }): Promise<{ runner: Runner; token: string } | null> {
  const row = await app.db.selectFrom('runner_registration_tokens').selectAll().where('token_hash', '=', sha256Hex(registrationToken)).executeTakeFirst();
  if (!row || (row.expires_at && row.expires_at <= now())) return null;
  const name = input.name.trim();
  if (!name || name.length > 255) throw invalid('runner name is required (at most 255 characters)', 'name');
  if (input.labels.some((l) => !/^[\w.-]{1,64}$/.test(l))) throw invalid('labels may only contain letters, digits, ".", "-" and "_"', 'labels');
  return insertRunner(app, name, input.labels, input.version, false);
}

/** An embedded runner not seen for this long belongs to a process that is gone: its record is pruned. */
export const EMBEDDED_RUNNER_PRUNE_MS = 10 * 60_000;

/**
 * The embedded runner of `gitoku serve`: a runner record of its own (a new one per process, so that
 * servers sharing a database never take each other's identity) that talks the same HTTP protocol.
 * `replaces` is the id of this process's previous record when it registers again after its token was
 * rejected; records of embedded runners that stopped long ago are pruned on the way.
 */
export async function createEmbeddedRunner(app: AppContext, name: string, opts: { replaces?: number } = {}): Promise<{ runner: Runner; token: string }> {
  await pruneStaleEmbeddedRunners(app);
  if (opts.replaces !== undefined) await app.db.deleteFrom('runners').where('id', '=', opts.replaces).where('embedded', '=', 1).execute();
  return insertRunner(app, name.slice(0, 255), ['embedded'], 'embedded', true);
}

/**
 * Deletes the records of embedded runners not seen for `olderThanMs`: their process is gone (a live
 * embedded runner is seen at least every long poll) and nobody else can use their token. Should such a
 * process come back, its token is refused and it registers again. Remote runners are an administrator's
 * to delete. Returns how many were deleted.
 */
export async function pruneStaleEmbeddedRunners(app: AppContext, olderThanMs = EMBEDDED_RUNNER_PRUNE_MS): Promise<number> {
  const cutoff = new Date(Date.now() - olderThanMs).toISOString();
  const res = await app.db
    .deleteFrom('runners')
    .where('embedded', '=', 1)
    .where((eb) => eb.or([eb('last_seen_at', 'is', null), eb('last_seen_at', '<', cutoff)]))
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}

/** Whether `runner` still exists with the token it authenticated with (it may be deleted or re-keyed meanwhile). */
export async function runnerStillValid(app: AppContext, runner: Runner): Promise<boolean> {
  const row = await app.db.selectFrom('runners').select('id').where('id', '=', runner.id).where('token_hash', '=', runner.token_hash).executeTakeFirst();
  return !!row;
}

export async function authenticateRunner(app: AppContext, presented: string | undefined): Promise<Runner | null> {
  if (!presented || !presented.startsWith(RUNNER_TOKEN_PREFIX)) return null;
  const runner = await app.db.selectFrom('runners').selectAll().where('token_hash', '=', sha256Hex(presented)).executeTakeFirst();
  if (!runner) return null;
  const at = now();
  if (!runner.last_seen_at || Date.parse(at) - Date.parse(runner.last_seen_at) > 5000) {
    await app.db.updateTable('runners').set({ last_seen_at: at }).where('id', '=', runner.id).execute();
  }
  return runner;
}

export async function setRunnerBusy(app: AppContext, runnerId: number, busyJobs: number): Promise<void> {
  await app.db.updateTable('runners').set({ busy_jobs: Math.max(0, busyJobs), last_seen_at: now() }).where('id', '=', runnerId).execute();
}

export interface RunnerView extends Runner {
  online: boolean;
}

/** Runners with their online state and the jobs they hold right now (live leases, not the last heartbeat's count). */
export async function listRunners(app: AppContext): Promise<RunnerView[]> {
  const rows = await app.db.selectFrom('runners').selectAll().orderBy('id').execute();
  const held = new Map(
    (
      await app.db
        .selectFrom('jobs')
        .select(['lease_owner', (eb) => eb.fn.countAll<number>().as('n')])
        .where('status', '=', 'running')
        .where('lease_expires_at', '>', now())
        .groupBy('lease_owner')
        .execute()
    ).map((l) => [l.lease_owner, Number(l.n)]),
  );
  const cutoff = Date.now() - RUNNER_ONLINE_MS;
  return rows.map((r) => ({ ...r, busy_jobs: held.get(leaseOwner(r)) ?? 0, online: !!r.last_seen_at && Date.parse(r.last_seen_at) > cutoff }));
}

export async function deleteRunner(app: AppContext, id: number): Promise<void> {
  await app.db.deleteFrom('runners').where('id', '=', id).execute();
}

export function leaseOwner(runner: Runner): string {
  return `runner-${runner.id}`;
}

/** Closes the subjects (runs, workflow runs, reviews) of jobs that ended without their runner (expired leases). */
export async function sweepJobs(app: AppContext): Promise<void> {
  for (const job of await sweepExpiredJobs(app)) await (jobKindHandler(job.kind) ?? serverJobKindHandler(job.kind))?.closed?.(app, job);
}

export interface ClaimedJob {
  job: Job;
  payload: unknown;
}

/**
 * Claims up to `max` jobs for a runner in one statement (claimJobs), each with its runner payload. A
 * job whose subject was closed meanwhile is dropped; the answer may then hold fewer jobs than claimed.
 * `exclude`: the jobs whose results the runner is reporting in the same request. Nothing is claimed once
 * the runner was deleted or re-keyed (checked in the claim statement itself).
 */
export async function claimJobsForRunner(app: AppContext, runner: Runner, max: number, exclude: readonly number[] = []): Promise<ClaimedJob[]> {
  const jobs = await claimJobs(app, leaseOwner(runner), registeredJobKinds(), app.config.jobLeaseMs, { runnerId: runner.id, windowMs: app.config.runnerPreferenceMs, tokenHash: runner.token_hash }, max, exclude);
  const claimed: ClaimedJob[] = [];
  for (const job of jobs) {
    const payload = await jobKindHandler(job.kind)!.prepare(app, job);
    if (payload) claimed.push({ job, payload });
    else await finishJob(app.db, job.id, leaseOwner(runner), 'cancelled', { error: 'run already finished' });
  }
  return claimed;
}
