import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { invalid } from './errors.ts';
import type { RepositoryAccess } from './repositories.ts';
import type { CommitStatus } from '../db/schema.ts';
import { catFilePool } from '../git/catFile.ts';
import { isSha } from '../domain/refs.ts';
import { appendEvents } from '../events/outbox.ts';
import { wakeDispatcher } from '../events/wake.ts';

export type StatusState = CommitStatus['state'];
export const STATUS_STATES: readonly StatusState[] = ['pending', 'success', 'failure', 'error'];

export interface StatusInput {
  state: StatusState;
  context?: string;
  description?: string;
  targetUrl?: string | null;
}

export async function createCommitStatus(app: AppContext, access: RepositoryAccess, creatorId: number | null, sha: string, input: StatusInput): Promise<CommitStatus> {
  if (!isSha(sha)) throw invalid('sha must be a full 40-character commit sha', 'sha');
  const info = await catFilePool.info(access.gitDir, sha);
  if (!info || info.type !== 'commit') throw invalid('No commit found for SHA', 'sha');
  const context = (input.context ?? 'default').trim();
  if (!context || context.length > 255) throw invalid('context must be 1..255 characters', 'context');
  if (input.targetUrl && !/^https?:\/\//.test(input.targetUrl)) throw invalid('target_url must be an http(s) URL', 'target_url');
  const at = now();
  const status = await app.db.transaction().execute(async (tx) => {
    const row = await tx
      .insertInto('commit_statuses')
      .values({ repository_id: access.repo.id, sha, state: input.state, context, description: (input.description ?? '').slice(0, 1024), target_url: input.targetUrl ?? null, creator_id: creatorId, created_at: at, updated_at: at })
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendEvents(tx, [{ type: 'status.created', repositoryId: access.repo.id, subject: sha, payload: { sha, state: row.state, context, status_id: row.id } }], at);
    return row;
  });
  wakeDispatcher(app);
  return status;
}

/** All statuses of a commit, newest first. */
export async function listCommitStatuses(app: AppContext, repositoryId: number, sha: string): Promise<CommitStatus[]> {
  return app.db.selectFrom('commit_statuses').selectAll().where('repository_id', '=', repositoryId).where('sha', '=', sha).orderBy('id', 'desc').execute();
}

/** The newest status per context, and GitHub's combined state: failure > pending > success. */
export function combineStatuses(all: CommitStatus[]): { state: StatusState | 'pending'; statuses: CommitStatus[] } {
  const latest = new Map<string, CommitStatus>();
  for (const s of all) if (!latest.has(s.context)) latest.set(s.context, s);
  const statuses = [...latest.values()];
  let state: StatusState = 'success';
  if (statuses.length === 0) state = 'pending';
  else if (statuses.some((s) => s.state === 'failure' || s.state === 'error')) state = 'failure';
  else if (statuses.some((s) => s.state === 'pending')) state = 'pending';
  return { state, statuses };
}
