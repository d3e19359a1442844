import type { AppContext } from './app.ts';
import type { Job } from '../db/schema.ts';
import { jobKindHandler } from './jobKinds.ts';

/**
 * Records the results of many jobs a runner finished, reported in one request (`POST /jobs/complete`):
 * one read of the jobs `owner` still holds, then each kind's `completeMany` (one statement for a batch)
 * or, for kinds without it, its `complete` per job. Idempotent like a single completion: a job `owner`
 * no longer holds (lease lost, already finished, unknown) is reported lost and left alone.
 */
export async function completeJobs(app: AppContext, owner: string, items: readonly { id: number; result: unknown }[]): Promise<{ completed: number[]; lost: number[] }> {
  const results = new Map<number, unknown>();
  for (const { id, result } of items) if (!results.has(id)) results.set(id, result);
  if (results.size === 0) return { completed: [], lost: [] };
  const held = await app.db.selectFrom('jobs').selectAll().where('id', 'in', [...results.keys()]).where('lease_owner', '=', owner).where('status', '=', 'running').execute();
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
