import type { AppContext } from './app.ts';
import { now } from './app.ts';
import type { DbOrTx } from '../db/index.ts';
import type { User } from '../db/schema.ts';
import { randomToken, sha256Hex } from '../domain/secrets.ts';

export const JOB_TOKEN_PREFIX = 'gtj_';

export interface JobTokenIdentity {
  user: User;
  repositoryId: number;
  allowedRef: string;
  /** Refs under this prefix (followed by a step number) may be pushed too; null: none. */
  allowedRefPrefix: string | null;
  jobId: number;
}

/** A token for one job: fetch its repository and push only `allowedRef` (and refs under `allowedRefPrefix`), until the job ends. */
export async function createJobToken(db: DbOrTx, input: { jobId: number; repositoryId: number; userId: number; allowedRef: string; allowedRefPrefix?: string | null; ttlMs: number }): Promise<string> {
  const token = JOB_TOKEN_PREFIX + randomToken(40);
  await db
    .insertInto('job_tokens')
    .values({
      token_hash: sha256Hex(token),
      job_id: input.jobId,
      repository_id: input.repositoryId,
      user_id: input.userId,
      allowed_ref: input.allowedRef,
      allowed_ref_prefix: input.allowedRefPrefix ?? null,
      expires_at: new Date(Date.now() + input.ttlMs).toISOString(),
      revoked_at: null,
      created_at: now(),
    })
    .execute();
  return token;
}

/** Valid only while its job is running, before expiry and revocation. */
export async function authenticateJobToken(app: AppContext, presented: string): Promise<JobTokenIdentity | null> {
  if (!presented.startsWith(JOB_TOKEN_PREFIX) || presented.length > 100) return null;
  const row = await app.db
    .selectFrom('job_tokens')
    .innerJoin('jobs', 'jobs.id', 'job_tokens.job_id')
    .innerJoin('users', 'users.id', 'job_tokens.user_id')
    .selectAll('users')
    .select(['job_tokens.repository_id', 'job_tokens.allowed_ref', 'job_tokens.allowed_ref_prefix', 'job_tokens.job_id', 'job_tokens.expires_at', 'job_tokens.revoked_at', 'jobs.status as job_status'])
    .where('job_tokens.token_hash', '=', sha256Hex(presented))
    .executeTakeFirst();
  if (!row || row.revoked_at || row.expires_at <= now() || row.job_status !== 'running') return null;
  const { repository_id, allowed_ref, allowed_ref_prefix, job_id, expires_at: _e, revoked_at: _r, job_status: _s, ...user } = row;
  return { user, repositoryId: repository_id, allowedRef: allowed_ref, allowedRefPrefix: allowed_ref_prefix, jobId: job_id };
}

export async function revokeJobTokens(db: DbOrTx, jobId: number): Promise<void> {
  await db.updateTable('job_tokens').set({ revoked_at: now() }).where('job_id', '=', jobId).where('revoked_at', 'is', null).execute();
}
