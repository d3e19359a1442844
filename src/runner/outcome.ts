import { RunnerAuthError, type RunnerClient } from './client.ts';
import type { TraceBuffer } from './traceBuffer.ts';
import { AgentFailure } from './drivers/types.ts';

export interface JobOutcome {
  /** 'dropped': this runner no longer holds the job (lease lost, token revoked) and reported nothing. */
  status: 'succeeded' | 'failed' | 'cancelled' | 'dropped';
  error?: string;
  retryable?: boolean;
  /** Why the outcome could not be reported to the server: the job is then the server's to time out and retry. */
  unreported?: string;
}

/**
 * The abort reason the runner gives a job it must give up without reporting: its lease is gone (another
 * runner holds the job, or it ended) or the server no longer accepts this runner's token.
 */
export class JobDropped extends Error {}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * Reports a job that stopped on an error: cancelled when the server asked for it, else failed —
 * retryable unless the agent itself failed (the same prompt would fail again). The message is redacted.
 * Never rejects: a report the server refuses (lease lost, token revoked, server unreachable) is logged by
 * the runner from `unreported`, and the job is left to the lease sweep.
 */
export async function reportJobError(client: RunnerClient, jobId: number, trace: TraceBuffer, err: unknown, signal: AbortSignal, redact: (text: string) => string): Promise<JobOutcome> {
  const dropped = signal.aborted && signal.reason instanceof JobDropped ? (signal.reason as JobDropped) : err instanceof RunnerAuthError ? err : null;
  if (dropped) {
    trace.discard();
    return { status: 'dropped', error: dropped.message };
  }
  let outcome: JobOutcome = { status: 'failed' };
  try {
    const message = redact(errorMessage(err));
    if (signal.aborted || message === 'cancelled') {
      outcome = { status: 'cancelled' };
      trace.push({ kind: 'status', data: { message: 'Cancelled' } });
      await trace.flush();
      await client.cancelled(jobId, 'cancelled');
      return outcome;
    }
    outcome = { status: 'failed', error: message, retryable: !(err instanceof AgentFailure) };
    trace.push({ kind: 'error', data: { message } });
    await trace.flush();
    await client.fail(jobId, message, outcome.retryable!);
    return outcome;
  } catch (reportErr) {
    return { ...outcome, unreported: redact(errorMessage(reportErr)) };
  }
}
