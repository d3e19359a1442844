import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunnerClient } from './client.ts';
import type { SandboxBackend, Workspace } from './sandbox.ts';
import type { ReviewJobPayload } from '../services/reviews.ts';
import { TraceBuffer } from './traceBuffer.ts';
import { redactor } from './promptRun.ts';
import { reportJobError, type JobOutcome } from './outcome.ts';
import { checkoutCommit, workspaceGit } from './workspaceGit.ts';
import { driverFor } from './drivers/index.ts';
import { AgentFailure, type TraceEvent } from './drivers/types.ts';

export const REVIEW_FILE = '.gitoku/review.json';

/**
 * An agent in review mode: it reads the pull request's head (with its merge base fetched, so it can
 * diff) and leaves its review in .gitoku/review.json — {summary, event, comments: [{path, line, body}]}.
 * Without that file its last message becomes the review's summary. Nothing is pushed.
 */
export async function executeReviewRun(client: RunnerClient, sandbox: SandboxBackend, jobId: number, payload: ReviewJobPayload, signal: AbortSignal): Promise<JobOutcome> {
  const redact = redactor([payload.token, ...(payload.secret_env ?? []).map((name) => payload.env[name] ?? '')]);
  const trace = new TraceBuffer(client, jobId, payload.attempt, redact);
  const emit = (e: TraceEvent) => trace.push(e);
  let ws: Workspace | null = null;
  try {
    ws = await sandbox.provision();
    await checkoutCommit(workspaceGit(sandbox, ws, payload.token, signal, redact), payload.clone_url, payload.head_sha, 'review', [payload.base_sha]);
    const driver = driverFor(payload.driver);
    if (!driver) throw new AgentFailure(`this runner has no "${payload.driver}" driver`);
    const result = await driver.run({ prompt: payload.prompt, model: payload.model, workspace: ws, sandbox, env: payload.env, timeoutMs: payload.timeout_ms, signal, emit });
    let review: unknown = null;
    const text = await readFile(join(ws.dir, REVIEW_FILE), 'utf8').catch(() => null);
    if (text !== null) {
      try {
        review = JSON.parse(text);
      } catch {
        emit({ kind: 'error', data: { message: `${REVIEW_FILE} is not valid JSON; using the agent's summary` } });
      }
    }
    await trace.flush();
    await client.complete(jobId, { review: review ?? { summary: result.summary, event: 'COMMENT', comments: [] }, usage: result.usage });
    return { status: 'succeeded' };
  } catch (err) {
    return reportJobError(client, jobId, trace, err, signal, redact);
  } finally {
    if (ws && !process.env.GITOKU_KEEP_WORKSPACES) await sandbox.destroy(ws).catch(() => undefined);
  }
}
