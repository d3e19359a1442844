import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { invalid, notFound, forbidden, ServiceError } from './errors.ts';
import { findRepositoryById, type RepositoryAccess, type RepositoryWithOwner } from './repositories.ts';
import { repositoryGitDir } from './storage.ts';
import { enqueueJob, failJobAttempt, finishJob, wakeClaimers } from './jobs.ts';
import { createJobToken, revokeJobTokens } from './jobTokens.ts';
import { isUniqueViolation } from './users.ts';
import { createCommitStatus } from './statuses.ts';
import { registerJobKind } from './jobKinds.ts';
import type { TraceEventInput } from './runs.ts';
import type { DbOrTx } from '../db/index.ts';
import type { Job, User, WorkflowRun } from '../db/schema.ts';
import { formatProblem, type GitokuWorkflow, type ManifestResult, MANIFEST_PATH, MAX_MANIFEST_BYTES, parseWorkflowManifest, type WorkflowEvent } from '../domain/manifest.ts';
import { matchesAny } from '../domain/glob.ts';
import { roleAtLeast } from '../domain/permissions.ts';
import { isValidBranchName } from '../domain/refs.ts';
import { readBlobAtPath, resolveCommit } from '../git/tree.ts';
import { appendEvents } from '../events/outbox.ts';
import { wakeDispatcher } from '../events/wake.ts';
import { z } from 'zod';

export const WORKFLOW_JOB_KIND = 'workflow_run';
/** Pushes with a workflow's token are refused: no ref is named "-". */
const NO_PUSH_REF = '-';

/** gitoku.toml at a commit: null when there is none, else the parsed manifest or its problems. */
export async function loadWorkflowManifestForBranch(gitDir: string, sha: string): Promise<ManifestResult | null> {
  const blob = await readBlobAtPath(gitDir, sha, MANIFEST_PATH, MAX_MANIFEST_BYTES);
  if (!blob) return null;
  if (blob.truncated) return parseWorkflowManifest('x'.repeat(MAX_MANIFEST_BYTES + 1));
  return parseWorkflowManifest(blob.content.toString('utf8'));
}

/** A bad manifest becomes a failed `gitoku.toml` status on the commit (and shows on the Automation page). */
export async function reportManifestProblems(app: AppContext, repo: RepositoryWithOwner, sha: string, result: ManifestResult): Promise<void> {
  if (result.ok) return;
  const access = { repo, role: 'admin' as const, gitDir: repositoryGitDir(app, repo) };
  await createCommitStatus(app, access, null, sha, {
    state: 'failure',
    context: MANIFEST_PATH,
    description: result.problems.map(formatProblem).join('; ').slice(0, 1000),
    targetUrl: `${app.config.baseUrl}/${repo.owner_name}/${repo.name}/automation`,
  });
}

export interface WorkflowTrigger {
  event: WorkflowEvent;
  ref: string;
  sha: string;
  /** For push: files changed by the push (for `paths` filters); null when unknown (all match). */
  changedFiles: string[] | null;
  /** Or: how to list them, asked only when a workflow of this event has a `paths` filter (a diff per push is the costly part). */
  listChangedFiles?: () => Promise<string[] | null>;
  pullRequestId?: number | null;
  /** For pull_request: the base branch the `branches` filter applies to, as on GitHub. */
  baseBranch?: string;
  actorId: number | null;
}

export function workflowMatches(w: GitokuWorkflow, trigger: WorkflowTrigger): boolean {
  if (!w.events.includes(trigger.event)) return false;
  if (trigger.event === 'manual') return true;
  const branch = trigger.event === 'pull_request' ? trigger.baseBranch ?? '' : trigger.ref.replace(/^refs\/heads\//, '');
  if (w.branches.length && !matchesAny(w.branches, branch)) return false;
  if (w.paths.length && trigger.changedFiles && !trigger.changedFiles.some((f) => matchesAny(w.paths, f))) return false;
  return true;
}

function statusContext(key: string): string {
  return `gitoku/${key}`;
}

/**
 * Queues one workflow run (row + job + pending status) unless the same workflow already ran for this
 * event, commit and ref/pull request (the job's dedup key) — so a redelivered event adds nothing.
 */
export async function enqueueWorkflowRun(app: AppContext, repo: RepositoryWithOwner, w: GitokuWorkflow, trigger: WorkflowTrigger): Promise<WorkflowRun | null> {
  const dedup = `workflow:${repo.id}:${w.key}:${trigger.event}:${trigger.sha}:${trigger.pullRequestId ?? trigger.ref}${trigger.event === 'manual' ? `:${Date.now()}` : ''}`;
  const existing = await app.db.selectFrom('jobs').select('id').where('dedup_key', '=', dedup).executeTakeFirst();
  if (existing) return null;
  for (let attempt = 0; attempt < 5; attempt++) {
    const at = now();
    try {
      const run = await app.db.transaction().execute(async (tx) => {
        const max = await tx.selectFrom('workflow_runs').select((eb) => eb.fn.max<number>('number').as('n')).where('repository_id', '=', repo.id).executeTakeFirst();
        const row = await tx
          .insertInto('workflow_runs')
          .values({ repository_id: repo.id, number: Number(max?.n ?? 0) + 1, workflow_key: w.key, name: w.name, event: trigger.event, ref: trigger.ref, sha: trigger.sha, pull_request_id: trigger.pullRequestId ?? null, status: 'queued', conclusion: null, job_id: null, steps: JSON.stringify(w.steps), error: null, created_by_id: trigger.actorId, created_at: at, started_at: null, finished_at: null })
          .returningAll()
          .executeTakeFirstOrThrow();
        const job = await enqueueJob(tx, { kind: WORKFLOW_JOB_KIND, repositoryId: repo.id, payload: { workflow_run_id: row.id }, maxAttempts: 2, dedupKey: dedup });
        await tx.updateTable('workflow_runs').set({ job_id: job.id }).where('id', '=', row.id).execute();
        await writeStatus(tx, repo, row, 'pending', 'Queued', at, app.config.baseUrl);
        return { ...row, job_id: job.id };
      });
      await wakeClaimers(app);
      return run;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      if (await app.db.selectFrom('jobs').select('id').where('dedup_key', '=', dedup).executeTakeFirst()) return null;
    }
  }
  throw new ServiceError(409, 'Could not allocate a workflow run number');
}

async function writeStatus(db: DbOrTx, repo: RepositoryWithOwner, run: WorkflowRun, state: 'pending' | 'success' | 'failure' | 'error', description: string, at: string, baseUrl?: string): Promise<void> {
  await db
    .insertInto('commit_statuses')
    .values({ repository_id: repo.id, sha: run.sha, state, context: statusContext(run.workflow_key), description, target_url: baseUrl ? `${baseUrl}/${repo.owner_name}/${repo.name}/actions/runs/${run.number}` : null, creator_id: null, created_at: at, updated_at: at })
    .execute();
}

/** Enqueues every workflow of the manifest at `trigger.sha` that matches; reports a bad manifest instead. */
export async function triggerWorkflows(app: AppContext, repo: RepositoryWithOwner, trigger: WorkflowTrigger): Promise<{ runs: WorkflowRun[]; problems: string[] | null }> {
  const manifest = await loadWorkflowManifestForBranch(repositoryGitDir(app, repo), trigger.sha);
  if (!manifest) return { runs: [], problems: null };
  if (!manifest.ok) {
    await reportManifestProblems(app, repo, trigger.sha, manifest);
    return { runs: [], problems: manifest.problems.map(formatProblem) };
  }
  if (trigger.changedFiles === null && trigger.listChangedFiles && manifest.workflows.some((w) => w.events.includes(trigger.event) && w.paths.length > 0)) {
    trigger = { ...trigger, changedFiles: await trigger.listChangedFiles() };
  }
  const runs: WorkflowRun[] = [];
  for (const w of manifest.workflows.filter((wf) => workflowMatches(wf, trigger))) {
    const run = await enqueueWorkflowRun(app, repo, w, trigger);
    if (run) runs.push(run);
  }
  return { runs, problems: null };
}

/** Manual dispatch (UI and POST /repos/{o}/{r}/workflows/{key}/dispatches). */
export async function dispatchWorkflow(app: AppContext, access: RepositoryAccess, actor: User, key: string, ref: string | undefined): Promise<WorkflowRun> {
  if (!roleAtLeast(access.role, 'write')) throw forbidden('You need write access to run workflows');
  const branch = ref || access.repo.default_branch;
  if (!isValidBranchName(branch)) throw invalid(`"${branch}" is not a valid branch`, 'ref');
  const sha = await resolveCommit(access.gitDir, `refs/heads/${branch}`);
  if (!sha) throw invalid(`branch "${branch}" does not exist`, 'ref');
  const manifest = await loadWorkflowManifestForBranch(access.gitDir, sha);
  if (!manifest) throw new ServiceError(404, `there is no ${MANIFEST_PATH} on ${branch}`);
  if (!manifest.ok) throw invalid(manifest.problems.map(formatProblem).join('; '), 'workflow');
  const w = manifest.workflows.find((x) => x.key === key);
  if (!w) throw new ServiceError(404, `workflow "${key}" is not defined in ${MANIFEST_PATH} on ${branch}`);
  if (!w.events.includes('manual')) throw invalid(`workflow "${key}" does not allow manual runs (add "manual" to its events)`, 'workflow');
  const run = await enqueueWorkflowRun(app, access.repo, w, { event: 'manual', ref: `refs/heads/${branch}`, sha, changedFiles: null, actorId: actor.id });
  return run!;
}

export async function listWorkflowRuns(app: AppContext, repositoryId: number, opts: { page: number; perPage: number; sha?: string }): Promise<{ items: WorkflowRun[]; total: number }> {
  let q = app.db.selectFrom('workflow_runs').where('repository_id', '=', repositoryId);
  if (opts.sha) q = q.where('sha', '=', opts.sha);
  const items = await q.selectAll().orderBy('number', 'desc').limit(opts.perPage).offset((opts.page - 1) * opts.perPage).execute();
  const total = Number((await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  return { items, total };
}

export async function getWorkflowRun(app: AppContext, repositoryId: number, number: number): Promise<WorkflowRun> {
  const run = Number.isSafeInteger(number) && number > 0 && number <= 2_147_483_647 ? await app.db.selectFrom('workflow_runs').selectAll().where('repository_id', '=', repositoryId).where('number', '=', number).executeTakeFirst() : undefined;
  if (!run) throw notFound('Workflow run not found');
  return run;
}

export async function listWorkflowRunEvents(app: AppContext, runId: number, afterId: number) {
  return app.db.selectFrom('workflow_run_events').selectAll().where('workflow_run_id', '=', runId).where('id', '>', afterId).orderBy('id').limit(2000).execute();
}

// --- the job kind -------------------------------------------------------------------------------

export interface WorkflowJobPayload {
  workflow_run_id: number;
  number: number;
  repository: string;
  clone_url: string;
  token: string;
  sha: string;
  workflow: string;
  steps: { name: string; run: string; env: Record<string, string>; timeout: number }[];
  env: Record<string, string>;
  attempt: number;
}

const runIdOf = (job: Job) => (JSON.parse(job.payload) as { workflow_run_id: number }).workflow_run_id;

async function loadRun(app: AppContext, job: Job) {
  const run = await app.db.selectFrom('workflow_runs').selectAll().where('id', '=', runIdOf(job)).executeTakeFirst();
  const repo = run ? await findRepositoryById(app.db, run.repository_id) : undefined;
  return run && repo ? { run, repo } : null;
}

/** Finishes a workflow run: job, run row, commit status and `workflow_run.completed`, in one transaction. */
async function concludeWorkflowRun(app: AppContext, job: Job, conclusion: 'success' | 'failure' | 'error' | 'cancelled', error: string | null, finishJobToo: (tx: DbOrTx) => Promise<boolean>): Promise<boolean> {
  const loaded = await loadRun(app, job);
  if (!loaded) return false;
  const { run, repo } = loaded;
  const at = now();
  const done = await app.db.transaction().execute(async (tx) => {
    if (!(await finishJobToo(tx))) return false;
    const res = await tx.updateTable('workflow_runs').set({ status: 'completed', conclusion, error, finished_at: at }).where('id', '=', run.id).where('status', '!=', 'completed').executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return true;
    await revokeJobTokens(tx, job.id);
    const state = conclusion === 'success' ? 'success' : conclusion === 'failure' ? 'failure' : 'error';
    const description = conclusion === 'success' ? 'All steps passed' : (error ?? conclusion).slice(0, 200);
    await writeStatus(tx, repo, run, state, description, at, app.config.baseUrl);
    await appendEvents(tx, [{ type: 'workflow_run.completed', repositoryId: repo.id, subject: `workflow/${run.number}`, payload: { workflow_run_id: run.id, number: run.number, workflow: run.workflow_key, sha: run.sha, conclusion, pull_request_id: run.pull_request_id } }], at);
    return true;
  });
  if (done) {
    wakeDispatcher(app);
    app.signals.emit(`workflow:${run.id}`);
  }
  return done;
}

const resultSchema = z.object({ conclusion: z.enum(['success', 'failure']), failed_step: z.string().nullish() });

registerJobKind(WORKFLOW_JOB_KIND, {
  async prepare(app, job) {
    const loaded = await loadRun(app, job);
    if (!loaded || loaded.run.status === 'completed') return null;
    const { run, repo } = loaded;
    const at = now();
    const token = await app.db.transaction().execute(async (tx) => {
      await tx.updateTable('workflow_runs').set({ status: 'running', started_at: run.started_at ?? at }).where('id', '=', run.id).execute();
      await writeStatus(tx, repo, run, 'pending', 'Running', at, app.config.baseUrl);
      return createJobToken(tx, { jobId: job.id, repositoryId: repo.id, userId: run.created_by_id ?? repo.owner_id, allowedRef: NO_PUSH_REF, ttlMs: 7 * 3600_000 });
    });
    const payload: WorkflowJobPayload = {
      workflow_run_id: run.id,
      number: run.number,
      repository: `${repo.owner_name}/${repo.name}`,
      clone_url: `${app.config.baseUrl}/${repo.owner_name}/${repo.name}.git`,
      token,
      sha: run.sha,
      workflow: run.workflow_key,
      steps: JSON.parse(run.steps) as WorkflowJobPayload['steps'],
      env: { CI: 'true', GITOKU: 'true', GITOKU_WORKFLOW: run.workflow_key, GITOKU_EVENT: run.event, GITOKU_REF: run.ref, GITOKU_SHA: run.sha, GITOKU_REPOSITORY: `${repo.owner_name}/${repo.name}` },
      attempt: job.attempts,
    };
    return payload;
  },
  async appendEvents(app, job, attempt, events: TraceEventInput[]) {
    if (events.length === 0) return;
    const runId = runIdOf(job);
    const at = now();
    await app.db.transaction().execute(async (tx) => {
      const last = await tx.selectFrom('workflow_run_events').select((eb) => eb.fn.max<number>('seq').as('seq')).where('workflow_run_id', '=', runId).where('attempt', '=', attempt).executeTakeFirst();
      let seq = Number(last?.seq ?? 0);
      await tx.insertInto('workflow_run_events').values(events.map((e) => ({ workflow_run_id: runId, attempt, seq: ++seq, kind: e.kind.slice(0, 32), data: JSON.stringify(e.data).slice(0, 1_000_000), created_at: at }))).execute();
    });
    app.signals.emit(`workflow:${runId}`);
  },
  async complete(app, job, owner, result) {
    const parsed = resultSchema.safeParse(result);
    if (!parsed.success) return false;
    const error = parsed.data.conclusion === 'failure' ? `step "${parsed.data.failed_step ?? '?'}" failed` : null;
    return concludeWorkflowRun(app, job, parsed.data.conclusion, error, (tx) => finishJob(tx, job.id, owner, 'succeeded', { result: parsed.data }));
  },
  async fail(app, job, owner, error, retryable) {
    let outcome: 'retry' | 'failed' | null = null;
    const ok = await concludeWorkflowRun(app, job, 'error', error, async (tx) => {
      outcome = await failJobAttempt(tx, job, owner, error, retryable);
      return outcome === 'failed';
    });
    if (!ok && outcome === 'retry') await wakeClaimers(app);
    return outcome;
  },
  cancelled: (app, job, owner, reason) => concludeWorkflowRun(app, job, 'cancelled', reason, (tx) => finishJob(tx, job.id, owner, 'cancelled', { error: reason })),
  async closed(app, job) {
    await concludeWorkflowRun(app, job, job.status === 'cancelled' ? 'cancelled' : 'error', job.last_error ?? job.status, async () => true);
  },
});
