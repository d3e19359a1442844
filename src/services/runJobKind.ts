import { z } from 'zod';
import { registerJobKind } from './jobKinds.ts';
import { appendRunEvents, cancelledRunAttempt, closeRun, completeRun, failRunAttempt, getRunById, prepareRunJob, RUN_JOB_KIND, type RunResult } from './runs.ts';

const resultSchema = z.object({
  commit_sha: z.string().regex(/^[0-9a-f]{40}$/),
  changed: z.boolean(),
  summary: z.string().max(100_000),
  files: z.array(z.string()).max(100_000),
  usage: z.record(z.string(), z.unknown()).optional(),
  session_id: z.string().nullish(),
  /** The model that answered (the alias resolved), when the agent reported it. */
  model: z.string().max(255).nullish(),
  workspace: z.enum(['warm', 'cold']).optional(),
  /** The agent's memory-file entries (issue 14), validated by the server (services/memoryRuns.ts). */
  memory: z.array(z.unknown()).max(100).optional(),
});

const runIdOf = (payload: string) => (JSON.parse(payload) as { run_id: number }).run_id;

registerJobKind(RUN_JOB_KIND, {
  prepare: (app, job) => prepareRunJob(app, job),
  appendEvents: (app, job, attempt, events) => appendRunEvents(app, runIdOf(job.payload), attempt, events),
  complete: async (app, job, owner, result) => {
    const parsed = resultSchema.safeParse(result);
    if (!parsed.success) return false;
    return completeRun(app, job, owner, { ...parsed.data, session_id: parsed.data.session_id ?? null } as RunResult);
  },
  fail: (app, job, owner, error, retryable) => failRunAttempt(app, job, owner, error, retryable),
  cancelled: (app, job, owner, reason) => cancelledRunAttempt(app, job, owner, reason),
  closed: async (app, job) => {
    const run = await getRunById(app.db, runIdOf(job.payload));
    if (run) await closeRun(app, run, job.status === 'cancelled' ? 'cancelled' : 'failed', { error: job.last_error ?? job.status });
  },
});
