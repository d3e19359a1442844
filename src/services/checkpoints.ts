import { sql } from 'kysely';
import { createHash } from 'node:crypto';
import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { invalid, ServiceError } from './errors.ts';
import { RUNNER_ONLINE_MS } from '../domain/runnerPresence.ts';
import { loadWorkflowManifestForBranch } from './workflows.ts';
import type { DbOrTx } from '../db/index.ts';
import type { Job, Run, RunCheckpoint, Runner } from '../db/schema.ts';
import type { WorkspaceSetup } from '../domain/workspaceManifest.ts';
import { entryAtPath, resolveCommit } from '../git/tree.ts';

/**
 * Warm workspaces (issue 13), server side: checkpoints a runner reports after each step (code on a
 * hidden ref, snapshot on that runner), each runner's snapshot inventory, the `[workspace]` set-up
 * cache, and what a run's job payload says about them (boot from a snapshot, set-up, resume a session).
 */

export const HIDDEN_REF_PREFIX = 'refs/gitoku/';

/** The hidden ref prefix of a run's checkpoints: the step number is appended. */
export function checkpointRefPrefix(runNumber: number): string {
  return `${HIDDEN_REF_PREFIX}runs/${runNumber}/steps/`;
}

export interface SnapshotRef {
  id: string;
  runner_id: number;
}

export interface SetupPayload {
  command: string;
  cache_key: string;
  timeout_ms: number;
  snapshot: SnapshotRef | null;
}

/** What the run job payload adds for warm workspaces (the contract in RunJobPayload). */
export interface WarmPayload {
  checkpoint_ref_prefix: string;
  from_snapshot: SnapshotRef | null;
  setup: SetupPayload | null;
  resume_session: { driver: string; session_id: string } | null;
  forked_from_step: number | null;
}

/**
 * The set-up cache key: sha256 of the command, then per cache-key file (sorted) its path and its blob id
 * at the source commit ("missing" when it is not a file there) — read from git, never from a checkout.
 */
export async function setupCacheKey(gitDir: string, commit: string, setup: Pick<WorkspaceSetup, 'setup' | 'cacheKeyFiles'>): Promise<string> {
  const hash = createHash('sha256').update(setup.setup);
  for (const path of [...setup.cacheKeyFiles].sort()) {
    const entry = await entryAtPath(gitDir, commit, path);
    hash.update('\0').update(path).update('\0').update(entry && entry.type === 'blob' ? entry.sha : 'missing');
  }
  return hash.digest('hex');
}

function onlineCutoff(): string {
  return new Date(Date.now() - RUNNER_ONLINE_MS).toISOString();
}

/**
 * An online runner holding `snapshotId` in its inventory — the one that made it (`runnerId`) when it
 * still does, else any other: a runner restarted (or the server's embedded runner, re-registered under
 * a new record) reports the snapshots its persistent store kept. Null when no online runner holds it.
 */
export async function onlineHolder(db: DbOrTx, runnerId: number | null, snapshotId: string | null): Promise<SnapshotRef | null> {
  if (!snapshotId) return null;
  const row = await db
    .selectFrom('runner_snapshots')
    .innerJoin('runners', 'runners.id', 'runner_snapshots.runner_id')
    .select(['runner_snapshots.runner_id', 'runner_snapshots.snapshot_id'])
    .where('runner_snapshots.snapshot_id', '=', snapshotId)
    .where('runners.last_seen_at', '>', onlineCutoff())
    .orderBy(sql`case when runner_snapshots.runner_id = ${runnerId ?? -1} then 0 else 1 end`)
    .orderBy('runner_snapshots.runner_id')
    .executeTakeFirst();
  return row ? { id: row.snapshot_id, runner_id: row.runner_id } : null;
}

/** The set-up of the repository at the run's source commit, with its cache key and a cached snapshot an online runner holds. */
export async function setupForRun(app: AppContext, gitDir: string, repositoryId: number, sourceCommit: string): Promise<SetupPayload | null> {
  const manifest = await loadWorkflowManifestForBranch(gitDir, sourceCommit).catch(() => null);
  const workspace = manifest?.ok ? manifest.workspace : null;
  if (!workspace) return null;
  const cacheKey = await setupCacheKey(gitDir, sourceCommit, workspace);
  const cached = await app.db.selectFrom('workspace_caches').selectAll().where('repository_id', '=', repositoryId).where('cache_key', '=', cacheKey).executeTakeFirst();
  return { command: workspace.setup, cache_key: cacheKey, timeout_ms: workspace.timeout * 1000, snapshot: cached ? await onlineHolder(app.db, cached.runner_id, cached.snapshot_id) : null };
}

/** The checkpoint of `runId` at `step`. */
export async function findCheckpoint(db: DbOrTx, runId: number, step: number): Promise<RunCheckpoint | undefined> {
  return db.selectFrom('run_checkpoints').selectAll().where('run_id', '=', runId).where('step', '=', step).executeTakeFirst();
}

export async function listCheckpoints(db: DbOrTx, runId: number): Promise<RunCheckpoint[]> {
  return db.selectFrom('run_checkpoints').selectAll().where('run_id', '=', runId).orderBy('step').execute();
}

/** Checkpoints of a run with, per checkpoint, whether an online runner still holds its snapshot (a fork from there boots warm). */
export async function listCheckpointsWithState(db: DbOrTx, runId: number): Promise<(RunCheckpoint & { warm: boolean })[]> {
  const rows = await listCheckpoints(db, runId);
  const out: (RunCheckpoint & { warm: boolean })[] = [];
  for (const r of rows) out.push({ ...r, warm: !!(await onlineHolder(db, r.runner_id, r.snapshot_id)) });
  return out;
}

/** What a run's payload says about warm workspaces, computed at claim time (the inventory may have changed since launch). */
export async function warmPayloadForRun(app: AppContext, run: Run, gitDir: string): Promise<WarmPayload> {
  let fromSnapshot: SnapshotRef | null = null;
  let resume: WarmPayload['resume_session'] = null;
  if (run.forked_from_job_id !== null) {
    const parent = await app.db.selectFrom('prompt_pull_request_jobs').select(['id', 'driver', 'session_id']).where('id', '=', run.forked_from_job_id).executeTakeFirst();
    if (parent && run.forked_from_step !== null) {
      const cp = await findCheckpoint(app.db, parent.id, run.forked_from_step);
      if (cp) fromSnapshot = await onlineHolder(app.db, cp.runner_id, cp.snapshot_id);
    }
    if (parent && parent.driver === run.driver && parent.session_id) resume = { driver: parent.driver, session_id: parent.session_id };
  }
  return {
    checkpoint_ref_prefix: checkpointRefPrefix(run.number),
    from_snapshot: fromSnapshot,
    setup: await setupForRun(app, gitDir, run.repository_id, run.commit_sha ?? run.source_commit),
    resume_session: resume,
    forked_from_step: run.forked_from_step,
  };
}

export interface CheckpointInput {
  attempt: number;
  step: number;
  trace_event_id: number | null;
  /** Or the seq of the attempt's event just before the checkpoint (the runner counts what it emitted). */
  trace_seq?: number;
  commit_sha: string;
  final: boolean;
  snapshot: { id: string; mode: 'overlay' | 'copy'; bytes: number } | null;
  setup_cache_key?: string;
}

/**
 * Records a checkpoint the runner holding the job reports (it pushed the commit to the step's hidden ref
 * first). The attempt must be the job's current one; a checkpoint of a newer attempt replaces the rows an
 * earlier attempt left. With `setup_cache_key`, the snapshot becomes the repository's set-up cache.
 */
export async function recordCheckpoint(app: AppContext, job: Job, runner: Runner, gitDir: string, run: Run, input: CheckpointInput): Promise<{ ref: string }> {
  if (input.attempt !== job.attempts) throw new ServiceError(409, `attempt ${input.attempt} is not the job's current attempt (${job.attempts})`);
  const ref = `${checkpointRefPrefix(run.number)}${input.step}`;
  if (!(await resolveCommit(gitDir, input.commit_sha))) throw invalid(`commit ${input.commit_sha} is not in the repository (push it to ${ref} first)`, 'commit_sha');
  const at = now();
  await app.db.transaction().execute(async (tx) => {
    // The checkpoint's place in the trace: the event the runner counted, else the newest stored so far.
    let traceEventId = input.trace_event_id;
    if (traceEventId === null && input.trace_seq !== undefined) {
      const at = await tx.selectFrom('run_events').select('id').where('run_id', '=', run.id).where('attempt', '=', input.attempt).where('seq', '<=', input.trace_seq).orderBy('seq', 'desc').limit(1).executeTakeFirst();
      traceEventId = at?.id ?? null;
    }
    if (traceEventId === null) {
      const last = await tx.selectFrom('run_events').select((eb) => eb.fn.max<number>('id').as('id')).where('run_id', '=', run.id).executeTakeFirst();
      traceEventId = last?.id == null ? null : Number(last.id);
    }
    await tx.deleteFrom('run_checkpoints').where('run_id', '=', run.id).where('attempt', '<', input.attempt).execute();
    const values = {
      attempt: input.attempt,
      trace_event_id: traceEventId,
      commit_sha: input.commit_sha,
      ref,
      final: input.final ? 1 : 0,
      snapshot_id: input.snapshot?.id ?? null,
      snapshot_mode: input.snapshot?.mode ?? null,
      snapshot_bytes: input.snapshot?.bytes ?? null,
      runner_id: runner.id,
      created_at: at,
    };
    await tx
      .insertInto('run_checkpoints')
      .values({ run_id: run.id, step: input.step, ...values })
      .onConflict((oc) => oc.columns(['run_id', 'step']).doUpdateSet(values))
      .execute();
    if (input.setup_cache_key && input.snapshot) {
      const cache = { snapshot_id: input.snapshot.id, runner_id: runner.id, commit_sha: input.commit_sha, created_at: at };
      await tx
        .insertInto('workspace_caches')
        .values({ repository_id: run.repository_id, cache_key: input.setup_cache_key, ...cache })
        .onConflict((oc) => oc.columns(['repository_id', 'cache_key']).doUpdateSet(cache))
        .execute();
    }
  });
  app.signals.emit(`run:${run.id}`);
  return { ref };
}

export interface SnapshotInventoryEntry {
  id: string;
  mode: string;
  bytes: number;
  parent: string | null;
  created_at: string;
  last_used_at: string;
}

/** Replaces a runner's snapshot inventory (sent at start and after every snapshot made or evicted). */
export async function replaceRunnerSnapshots(app: AppContext, runnerId: number, snapshots: SnapshotInventoryEntry[]): Promise<void> {
  const seen = new Set<string>();
  const rows = snapshots
    .filter((s) => !seen.has(s.id) && seen.add(s.id))
    .map((s) => ({ runner_id: runnerId, snapshot_id: s.id, mode: s.mode, bytes: s.bytes, parent: s.parent, created_at: s.created_at, last_used_at: s.last_used_at }));
  await app.db.transaction().execute(async (tx) => {
    await tx.deleteFrom('runner_snapshots').where('runner_id', '=', runnerId).execute();
    for (let i = 0; i < rows.length; i += 500) await tx.insertInto('runner_snapshots').values(rows.slice(i, i + 500)).execute();
    // Cache entries whose snapshot this runner no longer has are gone for good.
    const held = rows.map((r) => r.snapshot_id);
    let stale = tx.deleteFrom('workspace_caches').where('runner_id', '=', runnerId);
    if (held.length) stale = stale.where('snapshot_id', 'not in', held);
    await stale.execute();
  });
}

/** The largest number of snapshots a runner may report at once. */
export const MAX_INVENTORY = 10_000;

/**
 * What a fork's agent is told of the run it continues, when it cannot resume that agent's own session
 * (another driver, or no session): the last steps of the parent's trace up to the fork's step — what
 * it said, ran and edited — and its summary. Null for runs that are not forks, or that resume.
 */
export async function priorRunContext(app: AppContext, run: Run): Promise<string | null> {
  if (run.forked_from_job_id === null) return null;
  const parent = await app.db.selectFrom('prompt_pull_request_jobs').selectAll().where('id', '=', run.forked_from_job_id).executeTakeFirst();
  if (!parent || (parent.driver === run.driver && parent.session_id)) return null;
  const upTo = run.forked_from_step !== null ? ((await findCheckpoint(app.db, parent.id, run.forked_from_step))?.trace_event_id ?? null) : null;
  let q = app.db.selectFrom('run_events').select(['kind', 'data']).where('run_id', '=', parent.id).where('kind', 'in', ['message', 'command', 'file_edit', 'error']);
  if (upTo !== null) q = q.where('id', '<=', upTo);
  const events = (await q.orderBy('id', 'desc').limit(40).execute()).reverse();
  const clip = (text: unknown, n: number) => String(text ?? '').replace(/\s+/g, ' ').trim().slice(0, n);
  const lines = events.map((e) => {
    const d = JSON.parse(e.data) as Record<string, unknown>;
    if (e.kind === 'message') return `- said: ${clip(d.text, 300)}`;
    if (e.kind === 'command') return `- ran \`${clip(d.command, 200)}\` (exit ${String(d.exit_code ?? '?')})`;
    if (e.kind === 'file_edit') return `- ${String(d.action ?? 'edited')} ${clip(d.path, 200)}`;
    return `- error: ${clip(d.message, 300)}`;
  });
  const where = run.forked_from_step !== null ? ` up to its step ${run.forked_from_step}` : '';
  return [
    `You continue the work of run #${parent.number} (${parent.driver}${parent.model && parent.model !== 'default' ? ` · ${parent.model}` : ''})${where}: the checkout holds its files at that point. What it did${where}:`,
    lines.length ? lines.join('\n') : '- (no recorded steps)',
    ...(upTo === null && parent.result_summary ? [`Its summary: ${clip(parent.result_summary, 1000)}`] : []),
  ].join('\n');
}
