import type { RunnerClient } from './client.ts';
import type { SandboxBackend, Workspace } from './sandbox.ts';
import type { ReviewJobPayload } from '../services/reviews.ts';
import { TraceBuffer } from './traceBuffer.ts';
import { redactor } from './promptRun.ts';
import { reportJobError, type JobOutcome } from './outcome.ts';
import { checkoutCommit, workspaceGit } from './workspaceGit.ts';
import { readConfinedFile, WorkspacePathError } from './workspaceFs.ts';
import { runAgentPhase } from './agentPhase.ts';
import { AgentFailure, type TraceEvent } from './drivers/types.ts';

export const REVIEW_FILE = '.gitoku/review.json';
const MAX_REVIEW_BYTES = 1024 * 1024;

/**
 * An agent in review mode: it reads the pull request's head (with its merge base fetched, so it can
 * diff) and leaves its review in .gitoku/review.json — {summary, event, comments: [{path, line, body}]}.
 * Without that file its last message becomes the review's summary. Nothing is pushed.
 */
export async function executeReviewRun(client: RunnerClient, sandbox: SandboxBackend, jobId: number, payload: ReviewJobPayload, signal: AbortSignal): Promise<JobOutcome> {
  const secrets = [payload.token, ...(payload.secret_env ?? []).map((name) => payload.env[name] ?? '')];
  let redact = redactor(secrets);
  const trace = new TraceBuffer(client, jobId, payload.attempt, (text) => redact(text));
  const emit = (e: TraceEvent) => trace.push(e);
  let ws: Workspace | null = null;
  try {
    // An automatic reviewer runs on every pull request, whoever opened it: never unisolated.
    if (sandbox.name === 'directory') throw new AgentFailure('automatic reviews never run on an unisolated (directory) runner: install bubblewrap on it');
    ws = await sandbox.provision();
    await checkoutCommit(workspaceGit(sandbox, ws, payload.token, signal, redact), ws, payload.clone_url, payload.head_sha, 'review', [payload.base_sha]);
    const result = await runAgentPhase(sandbox, ws, payload, signal, emit, (secret) => (redact = redactor([...secrets, secret])));
    let review: unknown = null;
    let text: string | null = null;
    try {
      text = (await readConfinedFile(ws.dir, REVIEW_FILE, { maxBytes: MAX_REVIEW_BYTES }))?.toString('utf8') ?? null;
    } catch (err) {
      if (!(err instanceof WorkspacePathError)) throw err;
      emit({ kind: 'error', data: { message: `${REVIEW_FILE} was not read: ${err.message}; using the agent's summary` } });
    }
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
    return await reportJobError(client, jobId, trace, err, signal, redact);
  } finally {
    if (ws && !process.env.GITOKU_KEEP_WORKSPACES) await sandbox.destroy(ws).catch(() => undefined);
  }
}
