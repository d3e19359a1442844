import { sql } from 'kysely';
import type { AppContext } from './app.ts';
import { now } from './app.ts';
import type { Repository } from '../db/schema.ts';
import { ZERO_SHA } from '../domain/refs.ts';
import { listRefs } from '../git/refs.ts';
import { setHead } from '../git/repository.ts';
import { invalidateRefMap } from '../git/refCache.ts';
import { repositoryGitDir } from './storage.ts';
import { appendEvents } from '../events/outbox.ts';
import type { DbOrTx } from '../db/index.ts';
import { wakeDispatcher } from '../events/wake.ts';
import { ingestProvenanceForRefChanges } from './provenanceIngest.ts';
import { GITOKU_NOTES_REF } from './provenanceNotes.ts';

export interface RefChange {
  ref: string;
  before: string;
  after: string;
}

/** Where a ref change came from; 'reconcile' is a change found on disk that no ingress call recorded (a crash). */
export type RefChangeCauseKind = 'push' | 'merge' | 'api' | 'run' | 'reconcile';

export interface RefChangeCause {
  kind: RefChangeCauseKind;
  actorId: number | null;
  /** Extra facts for the event payload (e.g. the pull request or run that moved the ref). */
  details?: Record<string, unknown>;
}

/**
 * The refs whose state the ingress records (repository_refs) and the reconciler repairs: branches, tags
 * and notes — everything a push moves that something reacts to (behaviors, provenance ingestion).
 * Not tracked: refs/notes/gitoku-ai, gitoku's own export, which it moves itself without the ingress (it is
 * bookkeeping and must not trigger behaviors; a pushed one still passes through the ingress, uncompared),
 * and refs outside these namespaces, which nothing reacts to. Untracked changes are emitted as reported.
 */
export function isTrackedRef(ref: string): boolean {
  if (ref === GITOKU_NOTES_REF) return false;
  return ref.startsWith('refs/heads/') || ref.startsWith('refs/tags/') || ref.startsWith('refs/notes/');
}

/** Rows per statement: far below SQLite's and PostgreSQL's limits on bound parameters. */
const CHUNK = 500;

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * The single ingress for ref movements (DESIGN §4.1): every push, API branch change, merge and run
 * completion reports its changes here, and so does the reconciler for changes a crash left unrecorded.
 * In one transaction it compares the changes with the recorded state of the repository's refs
 * (repository_refs, the repository row locked), appends a `ref.updated` event per change not recorded
 * yet, records the new state and refreshes the repository's cached state; then it wakes the dispatcher.
 * Given a transaction, it writes there instead, so the change commits together with the caller's state.
 * Returns the changes it emitted (a change already recorded — e.g. by a reconcile — emits nothing).
 */
export async function handleRepositoryRefChanges(app: AppContext, repo: Repository, changes: RefChange[], cause: RefChangeCause, tx?: DbOrTx): Promise<RefChange[]> {
  if (changes.length === 0) return [];
  // AI provenance of new commits and pushed notes (trailers, git-ai, Agent Trace, whogitit, gitoku-ai) is
  // read from git while the outbox is written, and stored in its own transaction; it logs problems and
  // never fails the ref change. The caller (a push) waits for both. Callers passing a transaction only
  // create refs at existing commits: there is nothing to ingest.
  const ingestion = tx ? null : ingestProvenanceForRefChanges(app, repo, changes);
  // The in-memory ref map (pages' ref resolution) is dropped now and again once the change is recorded.
  const gitDir = repositoryGitDir(app, repo);
  invalidateRefMap(gitDir);
  try {
    return await recordRefChanges(app, repo, changes, cause, tx);
  } finally {
    invalidateRefMap(gitDir);
    await ingestion;
  }
}

/**
 * Which changes to emit, and the recorded refs to write, given the recorded state (baselined) and the
 * refs on disk read after the repository row was locked. Per tracked ref, with R the recorded sha:
 * - R equals the change's new sha: already recorded (by a reconcile, or twice reported) — nothing;
 * - R equals its old sha (the next move in the ref's chain), or the disk holds its new sha (the latest
 *   move, with earlier ones lost or recorded out of order): emitted with `before` = R, and recorded;
 * - otherwise the change is stale: a later move already replaced it on disk, and that move's own record
 *   (or a reconcile) emits the net change from R — emitting this one too would move the record backwards.
 * Untracked refs are emitted as reported. Pure; the ingress calls it inside its transaction.
 */
export function planRefChanges(
  changes: readonly RefChange[],
  recorded: ReadonlyMap<string, string>,
  disk: ReadonlyMap<string, string>,
): { emit: RefChange[]; writes: Map<string, string> } {
  const emit: RefChange[] = [];
  const writes = new Map<string, string>();
  const current = new Map(recorded);
  for (const change of changes) {
    if (!isTrackedRef(change.ref)) {
      emit.push(change);
      continue;
    }
    const r = current.get(change.ref) ?? ZERO_SHA;
    if (r === change.after) continue;
    if (r !== change.before && (disk.get(change.ref) ?? ZERO_SHA) !== change.after) continue;
    emit.push({ ref: change.ref, before: r, after: change.after });
    current.set(change.ref, change.after);
    writes.set(change.ref, change.after);
  }
  return { emit, writes };
}

/** The differences between the recorded refs and those on disk, as changes recorded → disk, by ref name. */
export function diffRefs(recorded: ReadonlyMap<string, string>, disk: ReadonlyMap<string, string>): RefChange[] {
  const names = [...new Set([...recorded.keys(), ...disk.keys()])].filter(isTrackedRef).sort();
  const out: RefChange[] = [];
  for (const ref of names) {
    const before = recorded.get(ref) ?? ZERO_SHA;
    const after = disk.get(ref) ?? ZERO_SHA;
    if (before !== after) out.push({ ref, before, after });
  }
  return out;
}

/** The repository's refs on disk (all of refs/), by full name. */
export async function refsOnDisk(gitDir: string): Promise<Map<string, string>> {
  return new Map((await listRefs(gitDir, 'refs/')).map((r) => [r.name, r.sha]));
}

/** The ingress's record of a repository's tracked refs. */
export async function recordedRefs(db: DbOrTx, repositoryId: number, refs?: readonly string[]): Promise<Map<string, string>> {
  const rows =
    refs && refs.length <= CHUNK
      ? refs.length
        ? await db.selectFrom('repository_refs').select(['ref', 'sha']).where('repository_id', '=', repositoryId).where('ref', 'in', refs).execute()
        : []
      : await db.selectFrom('repository_refs').select(['ref', 'sha']).where('repository_id', '=', repositoryId).execute();
  return new Map(rows.map((r) => [r.ref, r.sha]));
}

/**
 * Locks the repository's row for the rest of the transaction — PostgreSQL: FOR NO KEY UPDATE (not FOR
 * UPDATE, which waits on the key-share locks that inserts referencing the repository take: two run
 * launches inserting rows and then recording their branch deadlocked on it); SQLite: a write
 * first, which takes the database's write lock — so recordings and reconciles of one repository, from
 * any process, compare and set its recorded refs one at a time. Undefined when the repository is gone.
 */
async function lockRepository(app: AppContext, tx: DbOrTx, repositoryId: number): Promise<{ default_branch: string; refs_baselined: number } | undefined> {
  if (app.dialect === 'sqlite') {
    await tx.updateTable('repositories').set({ refs_baselined: sql`refs_baselined` }).where('id', '=', repositoryId).execute();
    return tx.selectFrom('repositories').select(['default_branch', 'refs_baselined']).where('id', '=', repositoryId).executeTakeFirst();
  }
  return tx.selectFrom('repositories').select(['default_branch', 'refs_baselined']).where('id', '=', repositoryId).forNoKeyUpdate().executeTakeFirst();
}

async function writeRecordedRefs(tx: DbOrTx, repositoryId: number, writes: ReadonlyMap<string, string>): Promise<void> {
  const removed = [...writes].filter(([, sha]) => sha === ZERO_SHA).map(([ref]) => ref);
  const kept = [...writes].filter(([, sha]) => sha !== ZERO_SHA).map(([ref, sha]) => ({ repository_id: repositoryId, ref, sha }));
  for (const part of chunks(removed)) await tx.deleteFrom('repository_refs').where('repository_id', '=', repositoryId).where('ref', 'in', part).execute();
  for (const part of chunks(kept)) {
    await tx
      .insertInto('repository_refs')
      .values(part)
      .onConflict((oc) => oc.columns(['repository_id', 'ref']).doUpdateSet({ sha: (eb) => eb.ref('excluded.sha') }))
      .execute();
  }
}

/** Replaces the record with the tracked refs on disk and marks it complete. */
async function writeBaseline(tx: DbOrTx, repositoryId: number, disk: ReadonlyMap<string, string>): Promise<void> {
  await tx.deleteFrom('repository_refs').where('repository_id', '=', repositoryId).execute();
  const rows = [...disk].filter(([ref]) => isTrackedRef(ref)).map(([ref, sha]) => ({ repository_id: repositoryId, ref, sha }));
  for (const part of chunks(rows)) await tx.insertInto('repository_refs').values(part).execute();
  await tx.updateTable('repositories').set({ refs_baselined: 1 }).where('id', '=', repositoryId).execute();
}

/**
 * Takes the refs on disk as the record of a repository that has none yet (one that existed before the
 * record did), without events. False when it already had one (another process baselined it first).
 */
export async function baselineRepositoryRefs(app: AppContext, repo: Pick<Repository, 'id' | 'storage_path'>): Promise<boolean> {
  const gitDir = repositoryGitDir(app, repo);
  return app.db.transaction().execute(async (tx) => {
    const row = await lockRepository(app, tx, repo.id);
    if (!row || row.refs_baselined === 1) return false;
    await writeBaseline(tx, repo.id, await refsOnDisk(gitDir));
    return true;
  });
}

async function recordRefChanges(app: AppContext, repo: Repository, changes: RefChange[], cause: RefChangeCause, tx?: DbOrTx): Promise<RefChange[]> {
  const gitDir = repositoryGitDir(app, repo);
  const write = async (tx: DbOrTx): Promise<RefChange[]> => {
    const row = await lockRepository(app, tx, repo.id);
    if (!row) return [];
    // Read under the lock: what no other recording or reconcile can move the record past meanwhile.
    const disk = await refsOnDisk(gitDir);
    let emit: RefChange[];
    if (row.refs_baselined === 1) {
      const tracked = changes.filter((c) => isTrackedRef(c.ref)).map((c) => c.ref);
      const plan = planRefChanges(changes, await recordedRefs(tx, repo.id, tracked), disk);
      emit = plan.emit;
      await writeRecordedRefs(tx, repo.id, plan.writes);
    } else {
      // No record yet (a repository from before it existed): these changes as reported, and the disk —
      // which already holds them — as the baseline.
      emit = changes;
      await writeBaseline(tx, repo.id, disk);
    }
    if (emit.length === 0) return emit;

    const branches = [...disk.keys()].filter((ref) => ref.startsWith('refs/heads/')).map((ref) => ref.slice('refs/heads/'.length));
    const state = nextRepositoryState(row, branches);
    if (state.defaultBranch !== row.default_branch) await setHead(gitDir, state.defaultBranch);
    const at = now();
    for (const part of chunks(emit)) {
      await appendEvents(
        tx,
        part.map((change) => ({
          type: 'ref.updated',
          repositoryId: repo.id,
          subject: change.ref,
          payload: {
            ref: change.ref,
            before: change.before,
            after: change.after,
            created: change.before === ZERO_SHA,
            deleted: change.after === ZERO_SHA,
            cause: cause.kind,
            actor_id: cause.actorId,
            ...cause.details,
          },
        })),
        at,
      );
    }
    await tx
      .updateTable('repositories')
      .set({ is_empty: state.isEmpty ? 1 : 0, default_branch: state.defaultBranch, pushed_at: at, updated_at: at })
      .where('id', '=', repo.id)
      .execute();
    return emit;
  };
  if (tx) {
    // The caller's transaction: it signals the dispatcher after its commit.
    return write(tx);
  }
  const emitted = await app.db.transaction().execute(write);
  if (emitted.length) wakeDispatcher(app);
  return emitted;
}

/**
 * A repository's cached state after its refs moved: empty when it has no branches; when the default
 * branch does not exist but others do (a first push of "master" into a "main" repository), the default
 * becomes the only or the first pushed branch, as Gitea and GitHub do.
 */
export function nextRepositoryState(repo: Pick<Repository, 'default_branch'>, branchNames: string[]): { isEmpty: boolean; defaultBranch: string } {
  if (branchNames.length === 0) return { isEmpty: true, defaultBranch: repo.default_branch };
  if (branchNames.includes(repo.default_branch)) return { isEmpty: false, defaultBranch: repo.default_branch };
  const preferred = ['main', 'master'].find((b) => branchNames.includes(b)) ?? branchNames[0]!;
  return { isEmpty: false, defaultBranch: preferred };
}
