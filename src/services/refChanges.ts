import type { AppContext } from './app.ts';
import { now } from './app.ts';
import type { Repository } from '../db/schema.ts';
import { ZERO_SHA } from '../domain/refs.ts';
import { listBranches } from '../git/refs.ts';
import { setHead } from '../git/repository.ts';
import { repositoryGitDir } from './storage.ts';
import { appendEvents } from '../events/outbox.ts';
import type { DbOrTx } from '../db/index.ts';
import { wakeDispatcher } from '../events/wake.ts';
import { ingestProvenanceForRefChanges } from './provenanceIngest.ts';

export interface RefChange {
  ref: string;
  before: string;
  after: string;
}

export type RefChangeCauseKind = 'push' | 'merge' | 'api' | 'run';

export interface RefChangeCause {
  kind: RefChangeCauseKind;
  actorId: number | null;
  /** Extra facts for the event payload (e.g. the pull request or run that moved the ref). */
  details?: Record<string, unknown>;
}

/**
 * The single ingress for ref movements (DESIGN §4.1): every push, API branch change, merge and run
 * completion reports its changes here. In one transaction it appends a `ref.updated` event per change
 * to the outbox and refreshes the repository's cached state; then it wakes the dispatcher. Given a
 * transaction, it writes there instead, so the change commits together with the caller's state.
 */
export async function handleRepositoryRefChanges(app: AppContext, repo: Repository, changes: RefChange[], cause: RefChangeCause, tx?: DbOrTx): Promise<void> {
  if (changes.length === 0) return;
  // AI provenance of new commits and pushed notes (trailers, git-ai, Agent Trace, whogitit, gitoku-ai) is
  // read from git while the outbox is written, and stored in its own transaction; it logs problems and
  // never fails the ref change. The caller (a push) waits for both. Callers passing a transaction only
  // create refs at existing commits: there is nothing to ingest.
  const ingestion = tx ? null : ingestProvenanceForRefChanges(app, repo, changes);
  try {
    await recordRefChanges(app, repo, changes, cause, tx);
  } finally {
    await ingestion;
  }
}

async function recordRefChanges(app: AppContext, repo: Repository, changes: RefChange[], cause: RefChangeCause, tx?: DbOrTx): Promise<void> {
  const gitDir = repositoryGitDir(app, repo);
  const branches = await listBranches(gitDir);
  const state = nextRepositoryState(repo, branches.map((b) => b.name));
  if (state.defaultBranch !== repo.default_branch) await setHead(gitDir, state.defaultBranch);

  const at = now();
  const write = async (tx: DbOrTx) => {
    await appendEvents(
      tx,
      changes.map((change) => ({
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
    await tx
      .updateTable('repositories')
      .set({ is_empty: state.isEmpty ? 1 : 0, default_branch: state.defaultBranch, pushed_at: at, updated_at: at })
      .where('id', '=', repo.id)
      .execute();
  };
  if (tx) {
    // The caller's transaction: it signals the dispatcher after its commit.
    await write(tx);
    return;
  }
  await app.db.transaction().execute(write);
  wakeDispatcher(app);
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
