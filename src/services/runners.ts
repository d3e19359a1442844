import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { invalid } from './errors.ts';
import type { Job, Runner } from '../db/schema.ts';
import { randomToken, sha256Hex } from '../domain/secrets.ts';
import { claimJob, finishJob, sweepExpiredJobs } from './jobs.ts';
import { jobKindHandler, registeredJobKinds } from './jobKinds.ts';
import './jobKindRegistry.ts';

export const RUNNER_TOKEN_PREFIX = 'gtr_';
export const REGISTRATION_TOKEN_PREFIX = 'gtreg_';
/** A runner that has not been seen for this long is shown offline. */
export const RUNNER_ONLINE_MS = 60_000;

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

/** The embedded runner of `gitoku serve`: a runner row of its own that talks the same HTTP protocol. */
export async function createEmbeddedRunner(app: AppContext, name: string): Promise<{ runner: Runner; token: string }> {
  // A restart replaces the previous embedded runner of this host instead of piling up offline rows.
  await app.db.deleteFrom('runners').where('embedded', '=', 1).where('name', '=', name).execute();
  return insertRunner(app, name, ['embedded'], 'embedded', true);
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
  for (const job of await sweepExpiredJobs(app)) await jobKindHandler(job.kind)?.closed(app, job);
}

export interface ClaimedJob {
  job: Job;
  payload: unknown;
}

/** One claim attempt for a runner: a job with its runner payload (for runs: prompt, token …), or null. */
export async function claimForRunner(app: AppContext, runner: Runner): Promise<ClaimedJob | null> {
  for (;;) {
    const job = await claimJob(app, leaseOwner(runner), registeredJobKinds(), app.config.jobLeaseMs);
    if (!job) return null;
    const payload = await jobKindHandler(job.kind)!.prepare(app, job);
    if (payload) return { job, payload };
    // The job's subject was closed meanwhile: drop the job and look for another.
    await finishJob(app.db, job.id, leaseOwner(runner), 'cancelled', { error: 'run already finished' });
  }
}
