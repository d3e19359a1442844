import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AppContext } from './app.ts';
import type { Job } from '../db/schema.ts';
import { enqueueJob, findQueuedJob } from './jobs.ts';
import { registerServerJobKind, type ServerJobOutcome } from './jobKinds.ts';
import { repositoryGitDir } from './storage.ts';
import { runGit } from '../git/exec.ts';

/**
 * Repository maintenance after pushes, as a server job (never in the push path): the commit-graph with
 * changed-path Bloom filters (path-limited log, blame and the tree pages' "last commit" walks skip the
 * commits that did not touch the path instead of parsing and diffing each one), refs packed, and —
 * when packs pile up — a geometric repack with a multi-pack index. Debounced per repository: a push
 * schedules a run a little later unless one is already waiting, which then covers every push meanwhile.
 */

export const MAINTENANCE_JOB_KIND = 'repository.maintenance';

/** How long after a push maintenance runs (GITOKU_MAINTENANCE_DELAY_MS; default 5 s): pushes in a burst share one run; an incremental commit-graph layer is cheap, so the delay stays short. */
export function maintenanceDelayMs(): number {
  const raw = Number(process.env.GITOKU_MAINTENANCE_DELAY_MS);
  return process.env.GITOKU_MAINTENANCE_DELAY_MS !== undefined && Number.isFinite(raw) && raw >= 0 ? raw : 5_000;
}

/** Packs beyond this many are rolled up geometrically (with a multi-pack index). */
const MAX_PACKS = 8;

/** Schedules maintenance of a repository unless a run is already waiting (which will see this push too). */
export async function scheduleRepositoryMaintenance(app: AppContext, repositoryId: number): Promise<'scheduled' | 'already scheduled'> {
  const waiting = await findQueuedJob(app.db, MAINTENANCE_JOB_KIND, repositoryId);
  if (waiting) return 'already scheduled';
  await enqueueJob(app.db, { kind: MAINTENANCE_JOB_KIND, repositoryId, payload: { repository_id: repositoryId }, maxAttempts: 3, runAfter: new Date(Date.now() + maintenanceDelayMs()) });
  return 'scheduled';
}

export interface MaintenanceTask {
  task: string;
  ms: number;
  ok: boolean;
  error?: string;
}

async function countPacks(gitDir: string): Promise<number> {
  try {
    return (await readdir(join(gitDir, 'objects', 'pack'))).filter((f) => f.endsWith('.pack')).length;
  } catch {
    return 0;
  }
}

/**
 * Changed-path Bloom filters at 32 bits per path instead of git's 10. With 10, a path-limited walk of a
 * path few commits touch still diffed the trees of ~4.5% of all commits (false positives: 226 of 5,000
 * on the bench's repository), half of `git log -n 31 -- path`'s time (8.6 → 4.0 ms); with 32, none. Git
 * reads the setting from this variable only (newer versions still do; without it filters are just
 * git's default, never wrong), and a new layer of a split graph keeps its chain's settings.
 */
const BLOOM_ENV = { GIT_TEST_BLOOM_SETTINGS_BITS_PER_ENTRY: '32' };
/** Present once the repository's commit-graph was rewritten with BLOOM_ENV's filters (a one-time rebuild). */
const BLOOM_MARKER = 'gitoku-bloom-32';

/** Runs the maintenance tasks on a bare repository; each task's outcome is reported (a failed one does not stop the others). */
export async function maintainRepository(gitDir: string, signal?: AbortSignal): Promise<MaintenanceTask[]> {
  const tasks: MaintenanceTask[] = [];
  const step = async (task: string, args: string[], env?: Record<string, string>) => {
    if (signal?.aborted) return false;
    const t0 = performance.now();
    const r = await runGit(args, { gitDir, env });
    tasks.push({ task, ms: Math.round(performance.now() - t0), ok: r.code === 0, ...(r.code === 0 ? {} : { error: r.stderr.trim().split('\n').slice(-2).join(' | ').slice(0, 500) }) });
    return r.code === 0;
  };
  if ((await countPacks(gitDir)) > MAX_PACKS) await step('repack', ['repack', '-d', '-q', '--geometric=2', '--write-midx']);
  await step('pack-refs', ['pack-refs', '--all']);
  const marker = join(gitDir, BLOOM_MARKER);
  if (existsSync(marker)) {
    await step('commit-graph', ['commit-graph', 'write', '--reachable', '--changed-paths', '--split', '--no-progress'], BLOOM_ENV);
  } else if (
    // Once: the whole graph anew, its filters computed afresh (not read back from the old layers, which
    // a rewrite otherwise reuses, settings included): 2.6 s for 50,000 commits.
    await step('commit-graph', ['-c', 'commitGraph.readChangedPaths=false', 'commit-graph', 'write', '--reachable', '--changed-paths', '--split=replace', '--no-progress'], BLOOM_ENV)
  ) {
    await writeFile(marker, 'commit-graph changed-path filters: 32 bits per path\n');
  }
  return tasks;
}

async function executeMaintenance(app: AppContext, job: Job, signal: AbortSignal): Promise<ServerJobOutcome> {
  if (job.repository_id === null) return { status: 'failed', error: 'maintenance job without a repository' };
  const repo = await app.db.selectFrom('repositories').select(['id', 'storage_path', 'name']).where('id', '=', job.repository_id).executeTakeFirst();
  if (!repo) return { status: 'succeeded', result: { skipped: 'the repository no longer exists' } };
  const tasks = await maintainRepository(repositoryGitDir(app, repo), signal);
  const summary = tasks.map((t) => `${t.task} ${t.ok ? 'ok' : 'FAILED'} (${t.ms} ms)`).join(', ');
  console.error(`[maintenance] repository ${repo.id} (${repo.name}): ${summary}`);
  const failed = tasks.filter((t) => !t.ok);
  if (failed.length > 0) return { status: 'retry', error: failed.map((t) => `${t.task}: ${t.error ?? 'failed'}`).join('; ') };
  return { status: 'succeeded', result: { tasks } };
}

registerServerJobKind(MAINTENANCE_JOB_KIND, { execute: executeMaintenance });
