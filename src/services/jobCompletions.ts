import { sql } from 'kysely';
import type { AppContext } from './app.ts';
import { oneOf, prepared } from '../db/pgPrepared.ts';
import type { Job } from '../db/schema.ts';
import { jobKindHandler } from './jobKinds.ts';

/**
 * The running jobs among `ids`, whoever holds them: what completeJobs checks reported results against
 * (those `owner` holds). The runner protocol reads them while it authenticates the runner, one round
 * trip for both.
 */
export async function runningJobs(app: AppContext, ids: readonly number[]): Promise<Job[]> {
  if (ids.length === 0) return [];
  return (await prepared(sql<Job>`select * from jobs where ${oneOf(app.dialect, 'id', [...new Set(ids)])} and status = 'running'`).execute(app.db)).rows;
}

/**
 * Records the results of many jobs a runner finished, reported in one request (`POST /jobs/complete`):
 * one read of the jobs `owner` still holds (or the caller's runningJobs read), then each kind's
 * `completeMany` (one statement for a batch) or, for kinds without it, its `complete` per job.
 * Idempotent like a single completion: a job `owner` no longer holds (lease lost, already finished,
 * unknown) is reported lost and left alone.
 */
export async function completeJobs(
  app: AppContext,
  owner: string,
  items: readonly { id: number; result: unknown }[],
  running?: readonly Job[],
): Promise<{ completed: number[]; lost: number[] }> {
  const results = new Map<number, unknown>();
  for (const { id, result } of items) if (!results.has(id)) results.set(id, result);
  if (results.size === 0) return { completed: [], lost: [] };
  const held = (running ?? (await runningJobs(app, [...results.keys()]))).filter((job) => job.lease_owner === owner && results.has(job.id));
  const byKind = new Map<string, Job[]>();
  for (const job of held) byKind.set(job.kind, [...(byKind.get(job.kind) ?? []), job]);
  const completed = new Set<number>();
  for (const [kind, jobs] of byKind) {
    const handler = jobKindHandler(kind);
    if (!handler) continue;
    if (handler.completeMany) {
      for (const id of await handler.completeMany(app, jobs.map((job) => ({ job, result: results.get(job.id) })), owner)) completed.add(id);
      continue;
    }
    for (const job of jobs) if (await handler.complete(app, job, owner, results.get(job.id))) completed.add(job.id);
  }
  return { completed: [...results.keys()].filter((id) => completed.has(id)), lost: [...results.keys()].filter((id) => !completed.has(id)) };
}
