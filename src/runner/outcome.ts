import type { RunnerClient } from './client.ts';
import type { TraceBuffer } from './traceBuffer.ts';
import { AgentFailure } from './drivers/types.ts';

export interface JobOutcome {
  status: 'succeeded' | 'failed' | 'cancelled';
  error?: string;
  retryable?: boolean;
}

/**
 * Reports a job that stopped on an error: cancelled when the server asked for it, else failed —
 * retryable unless the agent itself failed (the same prompt would fail again). The message is redacted.
 */
export async function reportJobError(client: RunnerClient, jobId: number, trace: TraceBuffer, err: unknown, signal: AbortSignal, redact: (text: string) => string): Promise<JobOutcome> {
  const message = redact((err as Error).message ?? String(err));
  if (signal.aborted || message === 'cancelled') {
    trace.push({ kind: 'status', data: { message: 'Cancelled' } });
    await trace.flush();
    await client.cancelled(jobId, 'cancelled');
    return { status: 'cancelled' };
  }
  const retryable = !(err instanceof AgentFailure);
  trace.push({ kind: 'error', data: { message } });
  await trace.flush();
  await client.fail(jobId, message, retryable);
  return { status: 'failed', error: message, retryable };
}
