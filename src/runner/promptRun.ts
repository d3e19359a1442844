import type { RunJobPayload } from '../services/runs.ts';
import type { RunnerClient } from './client.ts';
import { sandboxWarning, type SandboxBackend, type Workspace } from './sandbox.ts';
import { AgentFailure, type TraceEvent } from './drivers/types.ts';
import { TraceBuffer } from './traceBuffer.ts';
import { reportJobError, type JobOutcome } from './outcome.ts';
import { checkoutCommit, stageWorkTree, workspaceGit } from './workspaceGit.ts';
import { runAgentPhase } from './agentPhase.ts';
import { redactor } from './redact.ts';

export type { JobOutcome } from './outcome.ts';
/** Redaction of secrets in every form an agent prints them (see redact.ts). */
export { redactor } from './redact.ts';

const AGENT_IDENTITY = { name: 'gitoku agent', email: 'agent@gitoku.invalid' };
const COMMITTER = { name: 'gitoku', email: 'gitoku@gitoku.invalid' };

/**
 * Runs one agent job: clone the source commit into a fresh workspace, run the driver, commit what the
 * agent left uncommitted (agent as author, gitoku as committer, run trailers), push the compare branch
 * with the job token, report. Git commands the runner itself needs run in the same sandbox.
 */
export async function executePromptRun(client: RunnerClient, sandbox: SandboxBackend, jobId: number, payload: RunJobPayload, signal: AbortSignal): Promise<JobOutcome> {
  const secrets = [payload.token, ...(payload.secret_env ?? []).map((name) => payload.env[name] ?? '')];
  let redact = redactor(secrets);
  const trace = new TraceBuffer(client, jobId, payload.attempt, (text) => redact(text));
  const emit = (e: TraceEvent) => trace.push(e);
  let ws: Workspace | null = null;
  try {
    ws = await sandbox.provision();
    const git = workspaceGit(sandbox, ws, payload.token, signal, redact);
    emit({ kind: 'status', data: { message: `Preparing workspace (${sandbox.name} sandbox) at ${payload.source_commit.slice(0, 12)}` } });
    const warning = sandboxWarning(sandbox);
    if (warning) emit({ kind: 'status', data: { message: `⚠ ${warning}` } });
    await checkoutCommit(git, ws, payload.clone_url, payload.source_commit, payload.compare_branch);
    const result = await runAgentPhase(sandbox, ws, payload, signal, emit, (secret) => (redact = redactor([...secrets, secret])));
    result.summary = redact(result.summary);
    if (signal.aborted) throw new AgentFailure('cancelled');

    // The runner commits the checkout's files in its own repository: whatever the agent did to the
    // checkout's .git (its own commits included) is not trusted, only the files it left.
    const identity = { GIT_AUTHOR_NAME: AGENT_IDENTITY.name, GIT_AUTHOR_EMAIL: AGENT_IDENTITY.email, GIT_COMMITTER_NAME: COMMITTER.name, GIT_COMMITTER_EMAIL: COMMITTER.email };
    if (await stageWorkTree(git)) {
      const message = `${payload.prompt.split('\n').find((l) => l.startsWith('## Task: '))?.slice(9) ?? 'Agent changes'}\n\n${result.summary}\n\n${payload.commit_trailers.join('\n')}\n`;
      await git(['commit', '-q', '--no-verify', '-F', '-'], { env: identity, input: message });
    }
    const head = (await git(['rev-parse', 'HEAD'])).trim();
    const changed = head !== payload.source_commit;
    const files = changed ? (await git(['diff', '--name-only', '--no-ext-diff', payload.source_commit, head])).split('\n').filter(Boolean) : [];
    const tip = payload.compare_tip ?? payload.source_commit;
    if (changed) emit({ kind: 'status', data: { message: `Pushing ${files.length} changed file${files.length === 1 ? '' : 's'} to ${payload.compare_branch}` } });
    else emit({ kind: 'status', data: { message: 'The agent made no changes' } });
    if (head !== tip) {
      // Each attempt starts from the run's source; a retry replaces what an interrupted attempt pushed —
      // but only that: the lease fails if anyone else moved the branch since this attempt was claimed.
      await git(['push', '-q', `--force-with-lease=refs/heads/${payload.compare_branch}:${tip}`, payload.clone_url, `HEAD:refs/heads/${payload.compare_branch}`], { auth: true });
    }
    await trace.flush();
    await client.complete(jobId, { commit_sha: head, changed, summary: result.summary, files, usage: result.usage, session_id: result.sessionId, model: result.model ?? null });
    return { status: 'succeeded' };
  } catch (err) {
    return await reportJobError(client, jobId, trace, err, signal, redact);
  } finally {
    if (ws && !process.env.GITOKU_KEEP_WORKSPACES) await sandbox.destroy(ws).catch(() => undefined);
  }
}
