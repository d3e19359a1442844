import type { RunnerClient } from './client.ts';
import type { SandboxBackend, Workspace } from './sandbox.ts';
import type { WorkflowJobPayload } from '../services/workflows.ts';
import { TraceBuffer } from './traceBuffer.ts';
import { redactor } from './promptRun.ts';
import { reportJobError, type JobOutcome } from './outcome.ts';
import { checkoutCommit, workspaceGit } from './workspaceGit.ts';
import { AgentFailure } from './drivers/types.ts';

/** Runs a workflow's steps in order on a checkout of the exact commit, streaming their output. */
export async function executeWorkflowRun(client: RunnerClient, sandbox: SandboxBackend, jobId: number, payload: WorkflowJobPayload, signal: AbortSignal): Promise<JobOutcome> {
  const redact = redactor([payload.token]);
  const trace = new TraceBuffer(client, jobId, payload.attempt, redact);
  let ws: Workspace | null = null;
  try {
    if (!sandbox.isolated) throw new AgentFailure(`workflows run only in an isolated sandbox, and this runner has none (${sandbox.name}): install bubblewrap on it`);
    ws = await sandbox.provision();
    trace.push({ kind: 'status', data: { message: `Checking out ${payload.sha.slice(0, 12)} (${sandbox.name} sandbox)` } });
    await checkoutCommit(workspaceGit(sandbox, ws, payload.token, signal, redact), ws, payload.clone_url, payload.sha, null);
    for (const step of payload.steps) {
      trace.push({ kind: 'status', data: { message: `▶ ${step.name}` } });
      const started = Date.now();
      const r = await sandbox.exec(ws, ['/bin/sh', '-e', '-c', step.run], {
        env: { ...payload.env, ...step.env },
        timeoutMs: step.timeout * 1000,
        signal,
        maxOutputBytes: 1024 * 1024,
        onOutput: (stream, text) => trace.push({ kind: 'log', data: { stream, text } }),
      });
      if (r.cancelled) throw new AgentFailure('cancelled');
      trace.push({ kind: 'command', data: { command: `${step.name}: ${step.run}`, exit_code: r.code, output: `finished in ${Date.now() - started} ms`, timed_out: r.timedOut } });
      if (r.code !== 0 || r.timedOut) {
        trace.push({ kind: 'error', data: { message: r.timedOut ? `step "${step.name}" timed out after ${step.timeout} s` : `step "${step.name}" exited with ${r.code}` } });
        await trace.flush();
        await client.complete(jobId, { conclusion: 'failure', failed_step: step.name });
        return { status: 'failed', error: `step ${step.name} failed` };
      }
    }
    await trace.flush();
    await client.complete(jobId, { conclusion: 'success' });
    return { status: 'succeeded' };
  } catch (err) {
    return await reportJobError(client, jobId, trace, err, signal, redact);
  } finally {
    if (ws && !process.env.GITOKU_KEEP_WORKSPACES) await sandbox.destroy(ws).catch(() => undefined);
  }
}
