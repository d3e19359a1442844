import type { AppContext } from './app.ts';
import type { RepositoryAccess } from './repositories.ts';
import type { Run, RunEvent, RunStatus, Runner } from '../db/schema.ts';
import { leaseOwner } from './runners.ts';
import { cachedDiff } from './uiBrowse.ts';
import { catFilePool } from '../git/catFile.ts';
import type { DiffResult } from '../git/diff.ts';

/** Read models for the agent-run pages (no HTML here; the rules live in runs.ts). */

export const RUN_STATUSES: readonly RunStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'blocked'];
export const ACTIVE_RUN_STATUSES: readonly RunStatus[] = ['queued', 'running', 'blocked'];

export interface RunPullRequest {
  number: number;
  state: 'open' | 'closed' | 'merged';
  draft: boolean;
  /** Why gitoku closed it ('run-no-commits'), '' otherwise. */
  closedReason: string;
}

/** What a list row or a run page shows next to the run itself. */
export interface RunLinks {
  pulls: Map<number, RunPullRequest>;
  /** Run id → run number, for forked-from links. */
  numbers: Map<number, number>;
  /** User id → username. */
  users: Map<number, string>;
  /** Run id → the runs it waits for (task dependencies). */
  dependsOn: Map<number, { number: number; status: RunStatus }[]>;
}

/** Pull requests, parent run numbers, authors and dependencies for a set of runs: four queries, whatever the count. */
export async function loadRunLinks(app: AppContext, runs: Run[]): Promise<RunLinks> {
  const prIds = [...new Set(runs.map((r) => r.pull_request_id).filter((id): id is number => id !== null))];
  const parentIds = [...new Set(runs.map((r) => r.forked_from_job_id).filter((id): id is number => id !== null))];
  const userIds = [...new Set(runs.map((r) => r.created_by_id).filter((id): id is number => id !== null))];
  const runIds = runs.map((r) => r.id);
  const [prs, parents, users, deps] = await Promise.all([
    prIds.length ? app.db.selectFrom('pull_requests').select(['id', 'number', 'state', 'draft', 'closed_reason']).where('id', 'in', prIds).execute() : [],
    parentIds.length ? app.db.selectFrom('prompt_pull_request_jobs').select(['id', 'number']).where('id', 'in', parentIds).execute() : [],
    userIds.length ? app.db.selectFrom('users').select(['id', 'username']).where('id', 'in', userIds).execute() : [],
    runIds.length
      ? app.db
          .selectFrom('run_dependencies')
          .innerJoin('prompt_pull_request_jobs', 'prompt_pull_request_jobs.id', 'run_dependencies.depends_on_run_id')
          .select(['run_dependencies.run_id', 'prompt_pull_request_jobs.number', 'prompt_pull_request_jobs.status'])
          .where('run_dependencies.run_id', 'in', runIds)
          .orderBy('prompt_pull_request_jobs.number')
          .execute()
      : [],
  ]);
  const dependsOn = new Map<number, { number: number; status: RunStatus }[]>();
  for (const d of deps) dependsOn.set(d.run_id, [...(dependsOn.get(d.run_id) ?? []), { number: d.number, status: d.status }]);
  return {
    pulls: new Map(prs.map((p) => [p.id, { number: p.number, state: p.state as RunPullRequest['state'], draft: p.draft === 1, closedReason: p.closed_reason }])),
    numbers: new Map(parents.map((p) => [p.id, p.number])),
    users: new Map(users.map((u) => [u.id, u.username])),
    dependsOn,
  };
}

/** How many runs of a repository are in each status (for the filter tabs). */
export async function countRunsByStatus(app: AppContext, repositoryId: number): Promise<Record<RunStatus, number> & { all: number }> {
  const rows = await app.db
    .selectFrom('prompt_pull_request_jobs')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('repository_id', '=', repositoryId)
    .groupBy('status')
    .execute();
  const counts = { all: 0, queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, blocked: 0 };
  for (const r of rows) {
    counts[r.status] += Number(r.n);
    counts.all += Number(r.n);
  }
  return counts;
}

/** Runs that continue from this one, oldest first. */
export async function listRunForks(app: AppContext, run: Run, limit = 50): Promise<Run[]> {
  return app.db.selectFrom('prompt_pull_request_jobs').selectAll().where('forked_from_job_id', '=', run.id).orderBy('number').limit(limit).execute();
}

/** Other runs of the same task in this repository: same prompt (retries, re-runs), newest first. */
export async function listSiblingRuns(app: AppContext, run: Run, limit = 20): Promise<Run[]> {
  return app.db
    .selectFrom('prompt_pull_request_jobs')
    .selectAll()
    .where('repository_id', '=', run.repository_id)
    .where('prompt', '=', run.prompt)
    .where('id', '!=', run.id)
    .orderBy('number', 'desc')
    .limit(limit)
    .execute();
}

/** Recent runs of a repository as (number, title, status), for the compare picker. */
export async function listRecentRunChoices(app: AppContext, repositoryId: number, limit = 100): Promise<Pick<Run, 'number' | 'title' | 'status'>[]> {
  return app.db.selectFrom('prompt_pull_request_jobs').select(['number', 'title', 'status']).where('repository_id', '=', repositoryId).orderBy('number', 'desc').limit(limit).execute();
}

/** All trace events of a run so far, oldest first (bounded: the page shows the last ones past the limit). */
export async function loadRunTrace(app: AppContext, runId: number, limit = 5000): Promise<{ events: RunEvent[]; omitted: number }> {
  const total = Number(
    (await app.db.selectFrom('run_events').select((eb) => eb.fn.countAll<number>().as('n')).where('run_id', '=', runId).executeTakeFirstOrThrow()).n,
  );
  const events = await app.db.selectFrom('run_events').selectAll().where('run_id', '=', runId).orderBy('id', 'desc').limit(limit).execute();
  return { events: events.reverse(), omitted: Math.max(0, total - events.length) };
}

async function isCommit(gitDir: string, sha: string | null): Promise<boolean> {
  if (!sha) return false;
  return (await catFilePool.info(gitDir, sha))?.type === 'commit';
}

/** What the run changed: its source commit → its result commit. Null while it has no result (or the commits are gone). */
export async function runDiff(access: RepositoryAccess, run: Run, maxPatchBytes = 2 * 1024 * 1024): Promise<DiffResult | null> {
  if (!run.commit_sha) return null;
  if (!(await isCommit(access.gitDir, run.source_commit)) || !(await isCommit(access.gitDir, run.commit_sha))) return null;
  return cachedDiff(access.gitDir, run.source_commit, run.commit_sha, maxPatchBytes);
}

/** The difference between two runs' results (a's commit → b's commit). */
export async function runResultsDiff(access: RepositoryAccess, a: Run, b: Run, maxPatchBytes = 2 * 1024 * 1024): Promise<DiffResult | null> {
  if (!a.commit_sha || !b.commit_sha) return null;
  if (!(await isCommit(access.gitDir, a.commit_sha)) || !(await isCommit(access.gitDir, b.commit_sha))) return null;
  return cachedDiff(access.gitDir, a.commit_sha, b.commit_sha, maxPatchBytes);
}

/**
 * Jobs each runner holds right now (running, lease not expired), by runner id. The queue is the truth:
 * `runners.busy_jobs` is only written on heartbeats, so it stays at its last value after a job ends.
 */
export async function activeJobsByRunner(app: AppContext, runnerIds: number[]): Promise<Map<number, number>> {
  if (runnerIds.length === 0) return new Map();
  const owners = new Map(runnerIds.map((id) => [leaseOwner({ id } as Runner), id]));
  const rows = await app.db
    .selectFrom('jobs')
    .select(['lease_owner', (eb) => eb.fn.countAll<number>().as('n')])
    .where('status', '=', 'running')
    .where('lease_owner', 'in', [...owners.keys()])
    .where('lease_expires_at', '>', new Date().toISOString())
    .groupBy('lease_owner')
    .execute();
  const out = new Map<number, number>();
  for (const r of rows) {
    const id = r.lease_owner ? owners.get(r.lease_owner) : undefined;
    if (id !== undefined) out.set(id, Number(r.n));
  }
  return out;
}
