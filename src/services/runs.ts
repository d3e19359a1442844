import { sql } from 'kysely';
import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { invalid, notFound, ServiceError, forbidden } from './errors.ts';
import { findRepositoryById, repositoryNetworkPolicy, type RepositoryAccess, type RepositoryWithOwner } from './repositories.ts';
import type { NetworkPolicy } from '../domain/network.ts';
import { handleRepositoryRefChanges } from './refChanges.ts';
import { createPullRequest, pullRequestEvent } from './pulls.ts';
import { isUniqueViolation, findUserById } from './users.ts';
import { enqueueJob, failJobAttempt, finishJob, requestJobCancel, wakeClaimers } from './jobs.ts';
import { createJobToken, revokeJobTokens } from './jobTokens.ts';
import { agentEnvironment, agentSecretNames, renderAgentPrompt } from './agentContext.ts';
import { applyAgentToRequest, promptForDriverCheck, resolveAgentRunContext, type AgentRunContext } from './agents.ts';
import { checkPromptForDriver, defaultDriver, findDriver } from './drivers.ts';
import { repositoryGitDir } from './storage.ts';
import type { DbOrTx } from '../db/index.ts';
import type { Job, Run, RunEvent, User } from '../db/schema.ts';
import { compareBranchName, type DriverName, MAX_PROMPT_BYTES, titleFromPrompt } from '../domain/runs.ts';
import { isSha, isValidBranchName, ZERO_SHA } from '../domain/refs.ts';
import { roleAtLeast } from '../domain/permissions.ts';
import { resolveCommit } from '../git/tree.ts';
import { compareAndSwapRef } from '../git/mergeCommits.ts';
import { runGit } from '../git/exec.ts';
import { appendEvents } from '../events/outbox.ts';
import { addEdge, ensureNode } from './graph.ts';
import { wakeDispatcher } from '../events/wake.ts';
import { prepareRunProvenance, writeRunProvenance } from './provenance.ts';
import { exportProvenanceNotes } from './provenanceNotes.ts';
import { runBranchIsEmpty, runOutcomeBody, settleRunPullRequest } from './runPullRequests.ts';
import { checkpointRefPrefix, priorRunContext, warmPayloadForRun, type WarmPayload } from './checkpoints.ts';
import { recordMemoryUse, selectRunMemory } from './memoryRetrieval.ts';
import { recordMemoryEntry } from './memory.ts';
import { prepareDeclaredMemory, prepareFailureMemory } from './memoryRuns.ts';

export const RUN_JOB_KIND = 'prompt_run';
export const DEFAULT_RUN_TIMEOUT_MS = 30 * 60 * 1000;

/** What a client asks for (API, UI, CLI). */
export interface RunRequest {
  prompt: string;
  title?: string;
  description?: string;
  baseBranch?: string;
  sourceBranch?: string;
  sourceCommit?: string;
  driver?: string;
  model?: string;
  mode?: string;
  agentKey?: string | null;
  forkedFromJobId?: number | null;
  timeoutMs?: number;
  /** Numbers of runs of the same repository that must succeed first; the run waits as `blocked`. */
  dependsOn?: number[];
  /** AGENTS.md and the named agent resolved at the source (services/agents.ts); resolved at launch when absent. */
  agentContext?: AgentRunContext | null;
  /** A fork from a step: the source run's checkpoint step (issue 13). */
  forkedFromStep?: number | null;
  /** The best-of-N group this run is an attempt of. */
  groupId?: number | null;
  /** The runner holding the snapshot the run boots from: it gets the first claim. */
  preferredRunnerId?: number | null;
}

/** A run ready to validate: every field filled in. */
export interface RunDraft {
  prompt: string;
  title: string;
  description: string;
  baseBranch: string;
  sourceBranch: string | null;
  sourceCommit: string | null;
  driver: string;
  model: string;
  mode: string;
  agentKey: string | null;
  forkedFromJobId: number | null;
  timeoutMs: number;
  dependsOn: number[];
  agentContext: AgentRunContext | null;
  forkedFromStep: number | null;
  groupId: number | null;
  preferredRunnerId: number | null;
}

/** A validated draft: the source resolved to a commit. */
export interface ValidatedRun extends RunDraft {
  driver: DriverName;
  sourceCommit: string;
  /** The runs this one waits for (resolved from dependsOn). */
  dependencies: Run[];
}

/** Step 1 of the launch path: fill in defaults from the repository. */
export function buildPromptPullRequestJob(app: AppContext, access: RepositoryAccess, request: RunRequest): RunDraft {
  // The run's agent: as asked, else the repository's default, else the server's.
  const repoDefault = access.repo.default_driver && findDriver(access.repo.default_driver, app.config.agents)?.available ? access.repo.default_driver : '';
  const driver = request.driver || repoDefault || defaultDriver(app.config.agents).name;
  const info = findDriver(driver, app.config.agents);
  const baseBranch = request.baseBranch || access.repo.default_branch;
  return {
    prompt: request.prompt,
    title: (request.title ?? '').trim() || titleFromPrompt(request.prompt ?? ''),
    description: request.description ?? '',
    baseBranch,
    sourceBranch: request.sourceCommit ? (request.sourceBranch ?? null) : request.sourceBranch || baseBranch,
    sourceCommit: request.sourceCommit ?? null,
    driver,
    model: request.model || (driver === repoDefault && access.repo.default_model) || info?.defaultModel || '',
    mode: request.mode || 'code',
    agentKey: request.agentKey ?? null,
    forkedFromJobId: request.forkedFromJobId ?? null,
    timeoutMs: request.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS,
    dependsOn: [...new Set(request.dependsOn ?? [])],
    agentContext: request.agentContext ?? null,
    forkedFromStep: request.forkedFromStep ?? null,
    groupId: request.groupId ?? null,
    preferredRunnerId: request.preferredRunnerId ?? null,
  };
}

/** Step 2: validation. Nothing is created when it fails. */
export async function draftPromptPullRequestJob(app: AppContext, access: RepositoryAccess, actor: User, draft: RunDraft): Promise<ValidatedRun> {
  if (!roleAtLeast(access.role, 'write')) throw forbidden(`${actor.username} needs write access to start an agent run`);
  if (typeof draft.prompt !== 'string' || draft.prompt.trim() === '') throw invalid('prompt is required', 'prompt');
  if (Buffer.byteLength(draft.prompt) > MAX_PROMPT_BYTES) throw new ServiceError(413, `prompt is too large (limit ${MAX_PROMPT_BYTES} bytes)`, 'prompt');
  if (draft.title.length > 256) throw invalid('title is too long (at most 256 characters)', 'title');
  const driver = findDriver(draft.driver, app.config.agents);
  if (!driver) throw invalid(`unknown driver "${draft.driver}"`, 'driver');
  if (!driver.available) throw invalid(`driver "${draft.driver}" is not available: ${driver.reason}`, 'driver');
  if (draft.model && !driver.models.includes(draft.model)) throw invalid(`unknown model "${draft.model}" for driver ${driver.name} (known: ${driver.models.join(', ')})`, 'model');
  // An agent's instructions count too; a draft naming an agent not resolved yet (a fork) is checked by the driver when it runs.
  const promptProblem = draft.agentKey && !draft.agentContext ? null : checkPromptForDriver(driver.name, promptForDriverCheck(draft.agentContext, draft.prompt));
  if (promptProblem) throw invalid(promptProblem, 'prompt');
  if (!Number.isFinite(draft.timeoutMs) || draft.timeoutMs < 1000 || draft.timeoutMs > 6 * 3600_000) throw invalid('timeout must be between 1 second and 6 hours', 'timeout');
  if (!isValidBranchName(draft.baseBranch) || !(await resolveCommit(access.gitDir, `refs/heads/${draft.baseBranch}`))) throw invalid(`base branch "${draft.baseBranch}" does not exist`, 'base_branch');
  let sourceCommit: string | null;
  if (draft.sourceCommit) {
    if (!isSha(draft.sourceCommit)) throw invalid('source commit must be a full 40-character sha', 'source_commit');
    sourceCommit = await resolveCommit(access.gitDir, draft.sourceCommit);
    if (!sourceCommit) throw invalid(`source commit ${draft.sourceCommit} does not exist`, 'source_commit');
  } else {
    if (!draft.sourceBranch || !isValidBranchName(draft.sourceBranch)) throw invalid(`source branch "${draft.sourceBranch}" is not a valid branch name`, 'source_branch');
    sourceCommit = await resolveCommit(access.gitDir, `refs/heads/${draft.sourceBranch}`);
    if (!sourceCommit) throw invalid(`source branch "${draft.sourceBranch}" does not exist`, 'source_branch');
  }
  if (draft.dependsOn.length > 50) throw invalid('a run may depend on at most 50 runs', 'depends_on');
  const dependencies = draft.dependsOn.length ? await dependencyRuns(app, access, draft.dependsOn) : [];
  return { ...draft, driver: driver.name, model: draft.model || driver.defaultModel, sourceCommit, dependencies };
}

function initialPullRequestBody(run: { number: number; driver: string; model: string; prompt: string }, repo: RepositoryWithOwner): string {
  const quoted = run.prompt.length > 4000 ? `${run.prompt.slice(0, 4000)}\n…` : run.prompt;
  return [
    `🤖 This draft pull request belongs to agent run [#${run.number}](/${repo.owner_name}/${repo.name}/runs/${run.number}) (${run.driver}${run.model ? ` · ${run.model}` : ''}).`,
    'The agent is working; this description is updated when it finishes.',
    '<details><summary>Prompt</summary>\n\n```text\n' + quoted.replace(/```/g, '`​``') + '\n```\n</details>',
  ].join('\n\n');
}

/**
 * The repository's next run number: one atomic increment (seeded from the runs that exist), so runs
 * launched at the same moment never compute the same number.
 */
async function nextRunNumber(app: AppContext, repositoryId: number): Promise<number> {
  const row = await app.db
    .insertInto('repository_counters')
    .values({
      repository_id: repositoryId,
      kind: 'run',
      value: sql<number>`(select coalesce(max(number), 0) + 1 from prompt_pull_request_jobs where repository_id = ${repositoryId})`,
    })
    .onConflict((oc) => oc.columns(['repository_id', 'kind']).doUpdateSet({ value: sql<number>`repository_counters.value + 1` }))
    .returning('value')
    .executeTakeFirstOrThrow();
  return Number(row.value);
}

/**
 * Step 3: cut the compare branch from the source commit (through the ref-change ingress), open a
 * draft pull request compare → base, create the run row and enqueue its job — the database writes in
 * one transaction; if it fails, the branch is removed again.
 */
/**
 * `withRun` writes what belongs to the new run (e.g. a fork's lineage edge) in the transaction that
 * creates it: committed together, and before a runner is woken to start it.
 */
export async function launchPromptPullRequestJob(app: AppContext, access: RepositoryAccess, actor: User, run: ValidatedRun, withRun?: (tx: DbOrTx, row: Run) => Promise<void>): Promise<Run> {
  // Every run gets AGENTS.md (and its agent's definition) as they are at its source commit, recorded on the run.
  const agentContext = run.agentContext ?? (await resolveAgentRunContext(app, access.gitDir, run.sourceCommit, run.agentKey, run.sourceCommit.slice(0, 12)));
  for (let attempt = 0; attempt < 8; attempt++) {
    const number = await nextRunNumber(app, access.repo.id);
    const compareBranch = compareBranchName(number, run.title);
    const ref = `refs/heads/${compareBranch}`;
    if (!(await compareAndSwapRef(access.gitDir, ref, run.sourceCommit, ZERO_SHA))) continue; // taken: try the next number
    try {
      const created = await app.db.transaction().execute(async (tx) => {
        await handleRepositoryRefChanges(app, access.repo, [{ ref, before: ZERO_SHA, after: run.sourceCommit }], { kind: 'run', actorId: actor.id, details: { run_number: number } }, tx);
        const at = now();
        const pr = await createPullRequest(
          app,
          access,
          actor,
          { title: run.title, body: initialPullRequestBody({ number, driver: run.driver, model: run.model, prompt: run.prompt }, access.repo), head: compareBranch, base: run.baseBranch, draft: true },
          tx,
        );
        const row = await tx
          .insertInto('prompt_pull_request_jobs')
          .values({
            repository_id: access.repo.id,
            number,
            prompt: run.prompt,
            title: run.title,
            description: run.description,
            mode: run.mode,
            agent_key: run.agentKey,
            driver: run.driver,
            model: run.model,
            base_branch: run.baseBranch,
            source_branch: run.sourceBranch,
            source_commit: run.sourceCommit,
            compare_branch: compareBranch,
            commit_sha: null,
            pull_request_id: pr.id,
            forked_from_job_id: run.forkedFromJobId,
            forked_from_step: run.forkedFromStep,
            group_id: run.groupId,
            job_id: null,
            status: 'queued',
            error: null,
            result_summary: null,
            usage: '{}',
            rendered_prompt: null,
            agent_definition: JSON.stringify(agentContext),
            session_id: null,
            created_by_id: actor.id,
            created_at: at,
            started_at: null,
            finished_at: null,
            updated_at: at,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        if (withRun) await withRun(tx, row);
        const blocked = run.dependencies.filter((d) => d.status !== 'succeeded');
        if (run.dependencies.length) await recordDependencies(tx, access.repo.id, row, run.dependencies);
        if (blocked.length) {
          await tx.updateTable('prompt_pull_request_jobs').set({ status: 'blocked' }).where('id', '=', row.id).execute();
          await appendEvents(tx, [{ type: 'run.blocked', repositoryId: access.repo.id, subject: `run/${number}`, payload: { run_id: row.id, number, waiting_for: blocked.map((d) => d.number) } }], at);
          return { ...row, status: 'blocked' as const };
        }
        const job = await enqueueRunJob(tx, row, run.timeoutMs, run.preferredRunnerId);
        await appendEvents(tx, [{ type: 'run.queued', repositoryId: access.repo.id, subject: `run/${number}`, payload: { run_id: row.id, number, pull_request_id: pr.id, forked_from_job_id: run.forkedFromJobId, actor_id: actor.id } }], at);
        return { ...row, job_id: job.id };
      });
      // Runners first: the dispatcher's reactions to the new events (webhooks, indexes, sync) shares
      // this process and would otherwise delay the claim that starts the run by tens of ms.
      await wakeClaimers(app);
      wakeDispatcher(app);
      return created;
    } catch (err) {
      await compareAndSwapRef(access.gitDir, ref, ZERO_SHA, run.sourceCommit).catch(() => undefined);
      await runGit(['update-ref', '-d', ref, run.sourceCommit], { gitDir: access.gitDir });
      if (isUniqueViolation(err)) continue;
      throw err;
    }
  }
  throw new ServiceError(409, 'Could not allocate a run number; try again');
}

/** The runs named by `numbers` in this repository; unknown, failed or cancelled ones are a 422. */
async function dependencyRuns(app: AppContext, access: RepositoryAccess, numbers: number[]): Promise<Run[]> {
  if (numbers.some((n) => !Number.isInteger(n) || n < 1)) throw invalid('depends_on must list run numbers', 'depends_on');
  const runs = await app.db.selectFrom('prompt_pull_request_jobs').selectAll().where('repository_id', '=', access.repo.id).where('number', 'in', numbers).execute();
  const missing = numbers.filter((n) => !runs.some((r) => r.number === n));
  if (missing.length) throw invalid(`depends_on names unknown runs: ${missing.map((n) => `#${n}`).join(', ')}`, 'depends_on');
  const failed = runs.filter((r) => r.status === 'failed' || r.status === 'cancelled');
  if (failed.length) throw invalid(`depends_on names runs that ${failed.map((r) => `#${r.number} (${r.status})`).join(', ')}`, 'depends_on');
  return runs;
}

/** Queues the job that executes a run. */
async function enqueueRunJob(tx: DbOrTx, run: Run, timeoutMs: number, preferredRunnerId: number | null = null) {
  const job = await enqueueJob(tx, { kind: RUN_JOB_KIND, repositoryId: run.repository_id, payload: { run_id: run.id, timeout_ms: timeoutMs }, maxAttempts: 3, preferredRunnerId });
  await tx.updateTable('prompt_pull_request_jobs').set({ job_id: job.id, status: 'queued' }).where('id', '=', run.id).execute();
  return job;
}

/** run_dependencies rows and `depends_on` edges between the runs' graph nodes. */
async function recordDependencies(tx: DbOrTx, repositoryId: number, run: Run, dependencies: Run[]): Promise<void> {
  const node = await ensureNode(tx, repositoryId, 'run', String(run.id), { number: run.number });
  for (const d of dependencies) {
    await tx.insertInto('run_dependencies').values({ run_id: run.id, depends_on_run_id: d.id }).execute();
    await addEdge(tx, node, await ensureNode(tx, repositoryId, 'run', String(d.id), { number: d.number }), 'depends_on');
  }
}

/**
 * A run finished: its blocked dependents start when all their dependencies succeeded, and fail with a
 * clear reason when this one failed or was cancelled. Returns what happened, for the behavior's outcome.
 */
export async function settleDependents(app: AppContext, finished: Run): Promise<{ started: Run[]; failed: Run[] }> {
  const dependents = await app.db
    .selectFrom('run_dependencies')
    .innerJoin('prompt_pull_request_jobs', 'prompt_pull_request_jobs.id', 'run_dependencies.run_id')
    .selectAll('prompt_pull_request_jobs')
    .where('run_dependencies.depends_on_run_id', '=', finished.id)
    .where('prompt_pull_request_jobs.status', '=', 'blocked')
    .execute();
  const started: Run[] = [];
  const failed: Run[] = [];
  for (const run of dependents) {
    if (finished.status === 'failed' || finished.status === 'cancelled') {
      await closeRun(app, run, 'failed', { error: `dependency #${finished.number} ${finished.status}; this run was not started` });
      failed.push(run);
      continue;
    }
    const waiting = await app.db
      .selectFrom('run_dependencies')
      .innerJoin('prompt_pull_request_jobs', 'prompt_pull_request_jobs.id', 'run_dependencies.depends_on_run_id')
      .select(['prompt_pull_request_jobs.status'])
      .where('run_dependencies.run_id', '=', run.id)
      .execute();
    if (waiting.some((w) => w.status === 'failed' || w.status === 'cancelled')) {
      await closeRun(app, run, 'failed', { error: 'a dependency failed; this run was not started' });
      failed.push(run);
    } else if (waiting.every((w) => w.status === 'succeeded')) {
      const timeoutMs = DEFAULT_RUN_TIMEOUT_MS;
      const at = now();
      const job = await app.db.transaction().execute(async (tx) => {
        const res = await tx.updateTable('prompt_pull_request_jobs').set({ status: 'queued', updated_at: at }).where('id', '=', run.id).where('status', '=', 'blocked').executeTakeFirst();
        if (Number(res.numUpdatedRows) === 0) return null;
        const queued = await enqueueRunJob(tx, run, timeoutMs);
        await appendEvents(tx, [{ type: 'run.unblocked', repositoryId: run.repository_id, subject: `run/${run.number}`, payload: { run_id: run.id, number: run.number, after: finished.number } }], at);
        return queued;
      });
      if (job) {
        started.push(run);
        await wakeClaimers(app);
        wakeDispatcher(app);
      }
    }
  }
  return { started, failed };
}

export async function startRun(app: AppContext, access: RepositoryAccess, actor: User, request: RunRequest): Promise<Run> {
  const withAgent = await applyAgentToRequest(app, access, request);
  return launchPromptPullRequestJob(app, access, actor, await draftPromptPullRequestJob(app, access, actor, buildPromptPullRequestJob(app, access, withAgent)));
}

/**
 * Branch-only fork / rewind: a new run that continues from a prior run's result (its compare branch at
 * its commit), copying prompt, mode, driver and base branch unless overridden. Feeds the same launch path.
 */
export async function forkPromptPullRequestJob(app: AppContext, access: RepositoryAccess, actor: User, source: Run, overrides: Partial<RunRequest> = {}): Promise<Run> {
  if (source.repository_id !== access.repo.id) throw notFound('Run not found');
  const commit = source.commit_sha ?? (source.status === 'succeeded' ? null : source.source_commit);
  if (!commit) throw invalid('the run has no result commit to continue from', 'run');
  const request: RunRequest = {
    prompt: overrides.prompt ?? source.prompt,
    title: overrides.title ?? `${source.title} (fork of #${source.number})`,
    description: overrides.description ?? source.description,
    baseBranch: overrides.baseBranch ?? source.base_branch,
    sourceBranch: source.compare_branch,
    sourceCommit: commit,
    driver: overrides.driver ?? source.driver,
    model: overrides.model ?? (overrides.driver && overrides.driver !== source.driver ? undefined : source.model),
    mode: source.mode,
    agentKey: source.agent_key,
    forkedFromJobId: source.id,
    timeoutMs: overrides.timeoutMs,
  };
  return launchPromptPullRequestJob(app, access, actor, await draftPromptPullRequestJob(app, access, actor, buildPromptPullRequestJob(app, access, request)));
}

export async function listRuns(app: AppContext, repositoryId: number, opts: { page: number; perPage: number; status?: string }): Promise<{ items: Run[]; total: number }> {
  let q = app.db.selectFrom('prompt_pull_request_jobs').where('repository_id', '=', repositoryId);
  if (opts.status) q = q.where('status', '=', opts.status as Run['status']);
  const items = await q.selectAll().orderBy('number', 'desc').limit(opts.perPage).offset((opts.page - 1) * opts.perPage).execute();
  const total = Number((await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  return { items, total };
}

export async function getRun(app: AppContext, repositoryId: number, number: number): Promise<Run> {
  if (!Number.isSafeInteger(number) || number < 1 || number > 2_147_483_647) throw notFound('Run not found');
  const run = await app.db.selectFrom('prompt_pull_request_jobs').selectAll().where('repository_id', '=', repositoryId).where('number', '=', number).executeTakeFirst();
  if (!run) throw notFound('Run not found');
  return run;
}

export async function getRunById(db: DbOrTx, id: number): Promise<Run | undefined> {
  return db.selectFrom('prompt_pull_request_jobs').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function cancelRun(app: AppContext, access: RepositoryAccess, actor: User, number: number): Promise<Run> {
  if (!roleAtLeast(access.role, 'write')) throw forbidden('You need write access to cancel a run');
  const run = await getRun(app, access.repo.id, number);
  if (['succeeded', 'failed', 'cancelled'].includes(run.status)) throw new ServiceError(409, `run is already ${run.status}`);
  const reason = `cancelled by ${actor.username}`;
  const outcome = run.job_id ? await requestJobCancel(app.db, run.job_id, reason) : 'cancelled';
  if (outcome === 'cancelled') await closeRun(app, run, 'cancelled', { error: reason });
  else if (outcome === 'requested') await appendRunEvents(app, run.id, 0, [{ kind: 'status', data: { message: `cancel requested by ${actor.username}` } }]);
  return (await getRunById(app.db, run.id))!;
}

export interface TraceEventInput {
  kind: string;
  data: Record<string, unknown>;
}

/** Appends trace events for an attempt; sequence numbers continue from the last stored one. */
export async function appendRunEvents(app: AppContext, runId: number, attempt: number, events: TraceEventInput[]): Promise<void> {
  if (events.length === 0) return;
  const at = now();
  await app.db.transaction().execute(async (tx) => {
    const last = await tx.selectFrom('run_events').select((eb) => eb.fn.max<number>('seq').as('seq')).where('run_id', '=', runId).where('attempt', '=', attempt).executeTakeFirst();
    let seq = Number(last?.seq ?? 0);
    await tx
      .insertInto('run_events')
      .values(events.map((e) => ({ run_id: runId, attempt, seq: ++seq, kind: e.kind.slice(0, 32), data: JSON.stringify(e.data).slice(0, 1_000_000), created_at: at })))
      .execute();
  });
  app.signals.emit(`run:${runId}`);
}

export async function listRunEvents(app: AppContext, runId: number, afterId: number, limit = 1000): Promise<RunEvent[]> {
  return app.db.selectFrom('run_events').selectAll().where('run_id', '=', runId).where('id', '>', afterId).orderBy('id').limit(limit).execute();
}

export interface RunJobPayload {
  run_id: number;
  number: number;
  repository: string;
  clone_url: string;
  token: string;
  source_commit: string;
  compare_branch: string;
  /** Where the compare branch points at claim time: an earlier attempt may have pushed there; this attempt replaces it. */
  compare_tip: string;
  driver: string;
  model: string;
  prompt: string;
  env: Record<string, string>;
  /** Names of the `env` entries that are credentials: the runner redacts their values from everything it reports. */
  secret_env?: string[];
  /** What the agent's sandbox may reach (the repository's policy). */
  network?: NetworkPolicy;
  timeout_ms: number;
  attempt: number;
  commit_trailers: string[];
  /** Hidden ref prefix under which the runner pushes each checkpoint's commit: `refs/gitoku/runs/<number>/steps/` (the step number is appended). The job token may push refs under it (besides the compare branch). */
  checkpoint_ref_prefix: WarmPayload['checkpoint_ref_prefix'];
  /** Boot from this snapshot when this runner holds it (a fork from a step); else cold. */
  from_snapshot: WarmPayload['from_snapshot'];
  /** The repository's `[workspace]` set-up at the source commit (gitoku.toml), or null. */
  setup: WarmPayload['setup'];
  /** When a fork keeps the driver of the run it forks: the agent resumes its own session. */
  resume_session: WarmPayload['resume_session'];
  /** Step the run was forked from (informational, for the trace). */
  forked_from_step: WarmPayload['forked_from_step'];
}

/**
 * Called when a runner claims a run's job: renders the prompt, issues the job-scoped token (fetch the
 * repository, push only the compare branch) and marks the run running. Returns the runner's payload.
 */
export async function prepareRunJob(app: AppContext, job: Job): Promise<RunJobPayload | null> {
  const payload = JSON.parse(job.payload) as { run_id: number; timeout_ms?: number };
  const run = await getRunById(app.db, payload.run_id);
  if (!run || ['succeeded', 'failed', 'cancelled'].includes(run.status)) return null;
  const repo = await findRepositoryById(app.db, run.repository_id);
  if (!repo) return null;
  const at = now();
  // Memory is retrieved and validated before the (pure) render; what was given is recorded with the prompt.
  const memory = await selectRunMemory(app, run, repo, at);
  const rendered = renderAgentPrompt(run, repo, await priorRunContext(app, run), memory?.section ?? null);
  const timeoutMs = payload.timeout_ms ?? DEFAULT_RUN_TIMEOUT_MS;
  const token = await app.db.transaction().execute(async (tx) => {
    await tx.updateTable('prompt_pull_request_jobs').set({ status: 'running', rendered_prompt: rendered, started_at: run.started_at ?? at, updated_at: at }).where('id', '=', run.id).execute();
    await recordMemoryUse(tx, run, memory, at);
    if (run.status !== 'running') await appendEvents(tx, [{ type: 'run.started', repositoryId: repo.id, subject: `run/${run.number}`, payload: { run_id: run.id, number: run.number, attempt: job.attempts } }], at);
    return createJobToken(tx, { jobId: job.id, repositoryId: repo.id, userId: run.created_by_id ?? repo.owner_id, allowedRef: `refs/heads/${run.compare_branch}`, allowedRefPrefix: checkpointRefPrefix(run.number), ttlMs: timeoutMs + 10 * 60_000 });
  });
  app.signals.emit(`run:${run.id}`);
  const warm = await warmPayloadForRun(app, run, repositoryGitDir(app, repo));
  return {
    ...warm,
    run_id: run.id,
    number: run.number,
    repository: `${repo.owner_name}/${repo.name}`,
    clone_url: `${app.config.baseUrl}/${repo.owner_name}/${repo.name}.git`,
    token,
    source_commit: run.commit_sha ?? run.source_commit,
    compare_branch: run.compare_branch,
    compare_tip: (await resolveCommit(repositoryGitDir(app, repo), `refs/heads/${run.compare_branch}`)) ?? run.source_commit,
    driver: run.driver,
    model: run.model,
    prompt: rendered,
    env: agentEnvironment(run, repo, app.config.agents),
    secret_env: agentSecretNames(run, app.config.agents),
    network: repositoryNetworkPolicy(repo),
    timeout_ms: timeoutMs,
    attempt: job.attempts,
    commit_trailers: [`Gitoku-Run: ${repo.owner_name}/${repo.name}#${run.number}`, `Gitoku-Model: ${run.driver}${run.model ? `/${run.model}` : ''}`],
  };
}

export interface RunResult {
  commit_sha: string;
  changed: boolean;
  summary: string;
  files: string[];
  usage?: Record<string, unknown>;
  session_id?: string | null;
  /** The model that answered (the alias resolved), when the agent reported it. */
  model?: string | null;
  /** 'warm' when the runner booted from a snapshot, else 'cold'. */
  workspace?: 'warm' | 'cold';
  /** Entries the agent appended to its memory file (runner/memoryFile.ts), unchecked: validated here; a string is the runner's note on a line it dropped. */
  memory?: unknown[];
}

/**
 * The run success point (DESIGN §4.5): in one transaction the job completes, the run records its
 * commit and summary, the pull request gets its head and description, and `run.succeeded` is emitted.
 * A duplicate or late completion (lease lost) changes nothing and returns false.
 */
export async function completeRun(app: AppContext, job: Job, owner: string, result: RunResult): Promise<boolean> {
  const payload = JSON.parse(job.payload) as { run_id: number };
  const run = await getRunById(app.db, payload.run_id);
  if (!run) return false;
  const repo = (await findRepositoryById(app.db, run.repository_id))!;
  if (!isSha(result.commit_sha) || !(await resolveCommit(repositoryGitDir(app, repo), result.commit_sha))) return false;
  // Provenance (spans, captures per agent turn) is computed before the transaction and written inside it.
  const provenance = await prepareRunProvenance(app, repositoryGitDir(app, repo), run, result.commit_sha, result.session_id ?? null, result.model ?? null).catch((err: Error) => {
    console.error(`gitoku: could not compute AI provenance of run ${run.id}: ${err.message}`);
    return null;
  });
  // A run that left no commits of its own closes its pull request (issue 16).
  const empty = await runBranchIsEmpty(repositoryGitDir(app, repo), run, result.commit_sha);
  // What the agent declared it learned (issue 14): checked against the result commit; bad entries are dropped with a trace note.
  const memory = await prepareDeclaredMemory(app, run, repo, result.commit_sha, result.memory ?? []);
  // The notes are in the trace before the run shows as succeeded.
  if (memory.dropped.length) await appendRunEvents(app, run.id, job.attempts, memory.dropped.map((message) => ({ kind: 'status', data: { message } })));
  const at = now();
  const done = await app.db.transaction().execute(async (tx) => {
    if (!(await finishJob(tx, job.id, owner, 'succeeded', { result }))) return false;
    await tx
      .updateTable('prompt_pull_request_jobs')
      .set({ status: 'succeeded', commit_sha: result.commit_sha, result_summary: result.changed ? result.summary : `No changes. ${result.summary}`.trim(), usage: JSON.stringify(result.usage ?? {}), session_id: result.session_id ?? null, resolved_model: result.model || null, workspace_start: result.workspace ?? null, error: null, finished_at: at, updated_at: at })
      .where('id', '=', run.id)
      .execute();
    await settleRunPullRequest(tx, run, runOutcomeBody(run, repo, { status: 'succeeded', changed: result.changed, summary: result.summary, files: result.files }, empty), { headSha: result.commit_sha, close: empty }, at);
    await revokeJobTokens(tx, job.id);
    await writeRunProvenance(tx, run, result.commit_sha, provenance);
    for (const entry of memory.entries) await recordMemoryEntry(tx, repo.id, entry, at);
    await appendEvents(tx, [{ type: 'run.succeeded', repositoryId: repo.id, subject: `run/${run.number}`, payload: { run_id: run.id, number: run.number, commit_sha: result.commit_sha, changed: result.changed, pull_request_id: run.pull_request_id, forked_from_job_id: run.forked_from_job_id } }], at);
    return true;
  });
  if (done) {
    wakeDispatcher(app);
    app.signals.emit(`run:${run.id}`);
    // After the commit: a failure to write notes must not turn a completed run into a protocol error.
    await exportProvenanceNotes(app, repo.id, provenance?.commits.map((c) => c.sha) ?? []).catch((err: Error) => console.error(`gitoku: could not export AI provenance notes of run ${run.id}: ${err.message}`));
  }
  return done;
}

/** A failed attempt: retried when the failure is the runner's (retryable), else the run fails and its PR says why. */
export async function failRunAttempt(app: AppContext, job: Job, owner: string, error: string, retryable: boolean): Promise<'retry' | 'failed' | null> {
  const outcome = await app.db.transaction().execute((tx) => failJobAttempt(tx, job, owner, error, retryable));
  if (outcome === 'failed') {
    const run = await getRunById(app.db, (JSON.parse(job.payload) as { run_id: number }).run_id);
    if (run) await closeRun(app, run, 'failed', { error });
  } else if (outcome === 'retry') {
    await revokeJobTokens(app.db, job.id);
    await wakeClaimers(app);
  }
  return outcome;
}

/** The runner stopped a job because it was cancelled. */
export async function cancelledRunAttempt(app: AppContext, job: Job, owner: string, runnerReason: string): Promise<boolean> {
  // Who asked (recorded with the request) says more than the runner's "cancelled".
  const reason = job.cancel_requested === 1 && job.last_error ? job.last_error : runnerReason;
  const ok = await finishJob(app.db, job.id, owner, 'cancelled', { error: reason });
  if (!ok) return false;
  const run = await getRunById(app.db, (JSON.parse(job.payload) as { run_id: number }).run_id);
  if (run) await closeRun(app, run, 'cancelled', { error: reason });
  return true;
}

/** Ends a run that did not succeed: keeps its trace and branch, and posts the outcome to its pull request. */
export async function closeRun(app: AppContext, run: Run, status: 'failed' | 'cancelled', outcome: { error: string }): Promise<void> {
  const at = now();
  const repo = (await findRepositoryById(app.db, run.repository_id))!;
  const author = run.created_by_id ? await findUserById(app.db, run.created_by_id) : undefined;
  const gitDir = repositoryGitDir(app, repo);
  // A run that left no commits of its own closes its pull request (issue 16).
  const empty = await runBranchIsEmpty(gitDir, run, await resolveCommit(gitDir, `refs/heads/${run.compare_branch}`));
  // The failure it leaves in the repository's memory (issue 14): what it attempted and why it failed.
  const failure = await prepareFailureMemory(app, run, repo, status, outcome.error).catch((err: Error) => {
    console.error(`gitoku: could not prepare the failure memory of run ${run.id}: ${err.message}`);
    return null;
  });
  await app.db.transaction().execute(async (tx) => {
    const res = await tx
      .updateTable('prompt_pull_request_jobs')
      .set({ status, error: outcome.error.slice(0, 10_000), finished_at: at, updated_at: at })
      .where('id', '=', run.id)
      .where('status', 'in', ['queued', 'running', 'blocked'])
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return;
    if (failure) await recordMemoryEntry(tx, repo.id, failure, at);
    if (run.job_id) await revokeJobTokens(tx, run.job_id);
    if (run.pull_request_id) {
      const pr = await tx.selectFrom('pull_requests').selectAll().where('id', '=', run.pull_request_id).executeTakeFirst();
      const settled = await settleRunPullRequest(tx, run, runOutcomeBody(run, repo, { status, error: outcome.error }, empty), { close: empty }, at);
      if (pr) {
        const verb = status === 'failed' ? 'failed' : 'was cancelled';
        await tx
          .insertInto('pull_request_comments')
          .values({ pull_request_id: pr.id, author_id: author?.id ?? null, review_id: null, in_reply_to_id: null, body: `🤖 Agent run [#${run.number}](/${repo.owner_name}/${repo.name}/runs/${run.number}) ${verb}:\n\n\`\`\`text\n${outcome.error.slice(0, 4000)}\n\`\`\`\n\n${settled?.closed ? 'It left no commits, so this pull request was closed.' : 'The branch was left as it was.'}`, path: null, line: null, side: null, commit_sha: null, line_content: null, diff_hunk: null, created_at: at, updated_at: at })
          .execute();
        await appendEvents(tx, [pullRequestEvent('pull_request.comment_created', pr, author?.id ?? null)], at);
      }
    }
    await appendEvents(tx, [{ type: `run.${status}`, repositoryId: repo.id, subject: `run/${run.number}`, payload: { run_id: run.id, number: run.number, error: outcome.error.slice(0, 1000), pull_request_id: run.pull_request_id } }], at);
  });
  wakeDispatcher(app);
  app.signals.emit(`run:${run.id}`);
}
