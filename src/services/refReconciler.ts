/**
 * The ref reconciler (issue 12): git moves a pushed ref before the ref-change ingress records it, so a
 * crash in between leaves a ref moved on disk with no ref.updated event — and a second push says
 * "Everything up-to-date". The reconciler compares each repository's refs on disk with what the ingress
 * recorded (repository_refs) and reports the differences through the same ingress, with cause
 * 'reconcile'; the ingress's compare-and-set makes that exactly once, even against a push recording the
 * same change or another server reconciling at the same time.
 *
 * It runs at start-up of `gitoku serve`, every few minutes, and (debounced) when a git request for a
 * repository arrives. Within one process, pushes of a repository (shared) and its reconcile (exclusive)
 * take turns, so a reconcile never reports — under its own cause — a change a push is about to record.
 */
import type { AppContext } from './app.ts';
import type { Repository } from '../db/schema.ts';
import { repositoryGitDir } from './storage.ts';
import { baselineRepositoryRefs, diffRefs, handleRepositoryRefChanges, recordedRefs, refsOnDisk, type RefChange } from './refChanges.ts';

/** How long a difference must last before it is reported: in-process writers (API, merge, run launch) move a ref, then record it. */
const SETTLE_MS = 1000;
/** At most one request-triggered check per repository and process in this period. */
const REQUEST_DEBOUNCE_MS = 10_000;
export const DEFAULT_RECONCILE_INTERVAL_MS = 5 * 60_000;

// ---------------------------------------------------------------------------------------------------
// Per-repository turns within this process: pushes share, a reconcile is alone. Pushes are preferred (a
// reconcile waits until none is in flight), so they never queue behind a reconcile waiting for a slow one.

interface Turns {
  shared: number;
  exclusive: boolean;
  waiters: (() => void)[];
}

const turnsByApp = new WeakMap<AppContext, Map<number, Turns>>();

function turnsOf(app: AppContext, repositoryId: number): Turns {
  let byRepo = turnsByApp.get(app);
  if (!byRepo) turnsByApp.set(app, (byRepo = new Map()));
  let turns = byRepo.get(repositoryId);
  if (!turns) byRepo.set(repositoryId, (turns = { shared: 0, exclusive: false, waiters: [] }));
  return turns;
}

function release(app: AppContext, repositoryId: number, turns: Turns): void {
  const waiters = turns.waiters.splice(0);
  if (!turns.exclusive && turns.shared === 0 && waiters.length === 0) turnsByApp.get(app)?.delete(repositoryId);
  for (const wake of waiters) wake();
}

async function withTurn<T>(app: AppContext, repositoryId: number, exclusive: boolean, fn: () => Promise<T>): Promise<T> {
  const turns = turnsOf(app, repositoryId);
  while (exclusive ? turns.exclusive || turns.shared > 0 : turns.exclusive) await new Promise<void>((resolve) => turns.waiters.push(resolve));
  if (exclusive) turns.exclusive = true;
  else turns.shared++;
  try {
    return await fn();
  } finally {
    if (exclusive) turns.exclusive = false;
    else turns.shared--;
    release(app, repositoryId, turns);
  }
}

/** Runs a push — git's ref update through its recording by the ingress — in the repository's shared turn. */
export function withPushTurn<T>(app: AppContext, repositoryId: number, fn: () => Promise<T>): Promise<T> {
  return withTurn(app, repositoryId, false, fn);
}

// ---------------------------------------------------------------------------------------------------

export interface ReconcileResult {
  /** The repository had no record yet: the refs on disk became it, without events. */
  baselined: boolean;
  /** The changes reported through the ingress (and emitted by it). */
  emitted: RefChange[];
}

export interface ReconcileOptions {
  /** Wait this long before reporting a difference (default 1 s); tests pass 0. */
  settleMs?: number;
}

async function loadRepository(app: AppContext, id: number): Promise<Repository | undefined> {
  return app.db.selectFrom('repositories').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Reconciles one repository: baselines it when it has no record, else reports the differences between
 * its recorded and on-disk refs through the ingress. Safe to run any number of times, concurrently, in
 * any number of processes: each lost change is emitted once.
 */
export async function reconcileRepository(app: AppContext, repositoryId: number, opts: ReconcileOptions = {}): Promise<ReconcileResult> {
  const none: ReconcileResult = { baselined: false, emitted: [] };
  const repo = await loadRepository(app, repositoryId);
  if (!repo) return none;
  if (repo.refs_baselined !== 1) {
    return withTurn(app, repositoryId, true, async () => ({ baselined: await baselineRepositoryRefs(app, repo), emitted: [] }));
  }
  // A cheap look first (one for-each-ref, one query): nearly always there is nothing to do.
  if (diffRefs(await recordedRefs(app.db, repositoryId), await refsOnDisk(repositoryGitDir(app, repo))).length === 0) return none;
  const settle = opts.settleMs ?? SETTLE_MS;
  if (settle > 0) await new Promise((resolve) => setTimeout(resolve, settle));
  if (app.isClosing()) return none;
  return withTurn(app, repositoryId, true, async () => {
    const current = await loadRepository(app, repositoryId);
    if (!current) return none;
    const changes = diffRefs(await recordedRefs(app.db, repositoryId), await refsOnDisk(repositoryGitDir(app, current)));
    if (changes.length === 0) return none;
    return { baselined: false, emitted: await handleRepositoryRefChanges(app, current, changes, { kind: 'reconcile', actorId: null }) };
  });
}

export interface ReconcileSummary {
  repositories: number;
  baselined: number;
  emitted: number;
  failed: number;
}

/** Reconciles every repository, one at a time; a repository that fails (e.g. missing on disk) is logged and skipped. */
export async function reconcileAllRepositories(app: AppContext, opts: ReconcileOptions & { log?: (line: string) => void } = {}): Promise<ReconcileSummary> {
  const summary: ReconcileSummary = { repositories: 0, baselined: 0, emitted: 0, failed: 0 };
  let after = 0;
  for (;;) {
    if (app.isClosing()) return summary;
    const ids = (await app.db.selectFrom('repositories').select('id').where('id', '>', after).orderBy('id').limit(200).execute()).map((r) => r.id);
    if (ids.length === 0) return summary;
    for (const id of ids) {
      if (app.isClosing()) return summary;
      try {
        const result = await reconcileRepository(app, id, opts);
        summary.repositories++;
        if (result.baselined) summary.baselined++;
        summary.emitted += result.emitted.length;
        if (result.emitted.length) opts.log?.(`repository ${id}: recorded ${result.emitted.length} ref change(s) a crash had left unrecorded: ${result.emitted.map((c) => c.ref).join(', ')}`);
      } catch (err) {
        summary.failed++;
        if (!app.isClosing()) opts.log?.(`repository ${id}: reconcile failed: ${(err as Error).message}`);
      }
    }
    after = ids[ids.length - 1]!;
  }
}

const lastRequestCheck = new WeakMap<AppContext, Map<number, number>>();

/**
 * A git request for the repository arrived: reconcile it in the background, at most once per
 * REQUEST_DEBOUNCE_MS per repository and process. Never fails or delays the request.
 */
export function reconcileOnRequest(app: AppContext, repositoryId: number): void {
  let seen = lastRequestCheck.get(app);
  if (!seen) lastRequestCheck.set(app, (seen = new Map()));
  const at = Date.now();
  const last = seen.get(repositoryId);
  if (last !== undefined && at - last < REQUEST_DEBOUNCE_MS) return;
  seen.set(repositoryId, at);
  if (seen.size > 10_000) for (const [id, t] of seen) if (at - t >= REQUEST_DEBOUNCE_MS) seen.delete(id);
  reconcileRepository(app, repositoryId).catch((err) => {
    if (!app.isClosing()) console.error(`ref reconcile of repository ${repositoryId} failed: ${(err as Error).message}`);
  });
}

export interface RefReconcilerHandle {
  /** The start-up pass (resolves when it finished). */
  initial: Promise<ReconcileSummary>;
  stop(): Promise<void>;
}

/** Reconciles every repository now and then every `intervalMs` (default 5 minutes), never two passes at once. */
export function startRefReconciler(app: AppContext, opts: { intervalMs?: number; log?: (line: string) => void } = {}): RefReconcilerHandle {
  const log = opts.log ?? ((line: string) => console.error(`[refs] ${line}`));
  let current: Promise<ReconcileSummary> | null = null;
  const pass = (): Promise<ReconcileSummary> => {
    if (current) return current;
    current = reconcileAllRepositories(app, { log })
      .catch((err) => {
        if (!app.isClosing()) log(`reconcile pass failed: ${(err as Error).message}`);
        return { repositories: 0, baselined: 0, emitted: 0, failed: 1 };
      })
      .finally(() => {
        current = null;
      });
    return current;
  };
  const initial = pass();
  const timer = setInterval(() => void pass(), opts.intervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS);
  timer.unref();
  return {
    initial,
    stop: async () => {
      clearInterval(timer);
      await current;
    },
  };
}
