import type { AppContext } from './app.ts';
import { invalid, notFound } from './errors.ts';
import type { RepositoryAccess } from './repositories.ts';
import { buildPromptPullRequestJob, draftPromptPullRequestJob, forkPromptPullRequestJob, launchPromptPullRequestJob, type RunRequest } from './runs.ts';
import { listCheckpoints, onlineHolder } from './checkpoints.ts';
import { addEdge, ensureNode } from './graph.ts';
import type { Run, User } from '../db/schema.ts';
import type { DbOrTx } from '../db/index.ts';

/**
 * Fork from any step (issue 13): a builder feeding the one launch path. The fork starts from the step's
 * checkpoint commit; when an online runner still holds that step's snapshot, the job prefers that runner
 * (which boots warm); when the driver stays the same, the runner resumes the parent's agent session
 * (decided at claim time, see checkpoints.ts warmPayloadForRun). A run without checkpoints is forked from
 * its result as before.
 */
export interface ForkRequest {
  step?: number;
  prompt?: string;
  title?: string;
  driver?: string;
  model?: string;
  timeoutMs?: number;
}

export async function forkRunFromStep(app: AppContext, access: RepositoryAccess, actor: User, source: Run, req: ForkRequest): Promise<Run> {
  if (source.repository_id !== access.repo.id) throw notFound('Run not found');
  const checkpoints = await listCheckpoints(app.db, source.id);
  if (req.step !== undefined) {
    if (!Number.isInteger(req.step) || req.step < 0) throw invalid('step must be a step number (0 or more)', 'step');
    if (!checkpoints.some((c) => c.step === req.step)) {
      const known = checkpoints.map((c) => c.step).join(', ');
      throw invalid(`run #${source.number} has no step ${req.step} (${known ? `steps: ${known}` : 'it has no checkpoints'})`, 'step');
    }
  }
  const checkpoint = req.step !== undefined ? checkpoints.find((c) => c.step === req.step)! : checkpoints.at(-1);
  // Lineage: the fork derives from its source at that step.
  const lineage = async (db: DbOrTx, run: Run) => {
    const child = await ensureNode(db, access.repo.id, 'run', String(run.id), { run_id: run.id, number: run.number });
    const parent = await ensureNode(db, access.repo.id, 'run', String(source.id), { run_id: source.id, number: source.number });
    await addEdge(db, child, parent, 'derived_from', { step: checkpoint?.step ?? null, commit_sha: checkpoint?.commit_sha ?? run.source_commit });
  };
  if (!checkpoint) {
    const run = await forkPromptPullRequestJob(app, access, actor, source, { prompt: req.prompt, title: req.title, driver: req.driver, model: req.model, timeoutMs: req.timeoutMs });
    await lineage(app.db, run);
    return run;
  }
  const holder = await onlineHolder(app.db, checkpoint.runner_id, checkpoint.snapshot_id);
  const driverChanged = !!req.driver && req.driver !== source.driver;
  const request: RunRequest = {
    prompt: req.prompt ?? source.prompt,
    title: req.title ?? `${source.title} (fork of #${source.number} at step ${checkpoint.step})`.slice(0, 256),
    description: source.description,
    baseBranch: source.base_branch,
    sourceBranch: source.compare_branch,
    sourceCommit: checkpoint.commit_sha,
    driver: req.driver ?? source.driver,
    model: req.model ?? (driverChanged ? undefined : source.model),
    mode: source.mode,
    agentKey: source.agent_key,
    forkedFromJobId: source.id,
    forkedFromStep: checkpoint.step,
    preferredRunnerId: holder?.runner_id ?? null,
    timeoutMs: req.timeoutMs,
  };
  // The lineage is written with the run, before a runner is woken to start it.
  return launchPromptPullRequestJob(app, access, actor, await draftPromptPullRequestJob(app, access, actor, buildPromptPullRequestJob(app, access, request)), lineage);
}

export interface LineageNode {
  run: Run;
  /** 0 for the family's first run. */
  depth: number;
}

/** The most runs a lineage shows (a family bigger than this is cut, deepest and latest forks first). */
const LINEAGE_LIMIT = 200;

/**
 * A run's family (issue 13 "lineage"): from its first ancestor down through every fork, in tree order
 * (each run followed by its forks, oldest first), with the step each fork started from on the run row
 * (`forked_from_step`). Walks up at most 100 generations; lists at most 200 runs.
 */
export async function runLineage(app: AppContext, run: Run): Promise<LineageNode[]> {
  let root = run;
  for (let hops = 0; root.forked_from_job_id !== null && hops < 100; hops++) {
    const parent = await app.db.selectFrom('prompt_pull_request_jobs').selectAll().where('id', '=', root.forked_from_job_id).executeTakeFirst();
    if (!parent || parent.repository_id !== run.repository_id) break;
    root = parent;
  }
  const children = new Map<number, Run[]>();
  let frontier = [root.id];
  let count = 1;
  while (frontier.length && count < LINEAGE_LIMIT) {
    const rows = await app.db.selectFrom('prompt_pull_request_jobs').selectAll().where('forked_from_job_id', 'in', frontier).where('repository_id', '=', run.repository_id).orderBy('number').limit(LINEAGE_LIMIT - count).execute();
    for (const r of rows) children.set(r.forked_from_job_id!, [...(children.get(r.forked_from_job_id!) ?? []), r]);
    count += rows.length;
    frontier = rows.map((r) => r.id);
  }
  const out: LineageNode[] = [];
  const visit = (r: Run, depth: number) => {
    out.push({ run: r, depth });
    for (const child of children.get(r.id) ?? []) visit(child, depth + 1);
  };
  visit(root, 0);
  return out;
}
