import type { RunJobPayload } from '../services/runs.ts';
import type { RunnerClient } from './client.ts';
import type { SandboxBackend, Workspace } from './sandbox.ts';
import { driverFor } from './drivers/index.ts';
import { AgentFailure, type TraceEvent } from './drivers/types.ts';
import { TraceBuffer } from './traceBuffer.ts';
import { reportJobError, type JobOutcome } from './outcome.ts';

export type { JobOutcome } from './outcome.ts';

const AGENT_IDENTITY = { name: 'gitoku agent', email: 'agent@gitoku.invalid' };
const COMMITTER = { name: 'gitoku', email: 'gitoku@gitoku.invalid' };

/**
 * Replaces every occurrence of the secrets — the job token and the driver's credentials — (and their
 * base64 and JSON-escaped forms) in text sent to the server.
 */
export function redactor(secrets: string[]): (text: string) => string {
  const needles = [...new Set(secrets.filter((s) => s.length >= 8).flatMap((s) => [s, Buffer.from(s).toString('base64'), JSON.stringify(s).slice(1, -1)]))].sort((a, b) => b.length - a.length);
  return (text) => needles.reduce((t, n) => t.split(n).join('[redacted]'), text);
}

/**
 * Runs one agent job: clone the source commit into a fresh workspace, run the driver, commit what the
 * agent left uncommitted (agent as author, gitoku as committer, run trailers), push the compare branch
 * with the job token, report. Git commands the runner itself needs run in the same sandbox.
 */
export async function executePromptRun(client: RunnerClient, sandbox: SandboxBackend, jobId: number, payload: RunJobPayload, signal: AbortSignal): Promise<JobOutcome> {
  const redact = redactor([payload.token, ...(payload.secret_env ?? []).map((name) => payload.env[name] ?? '')]);
  const trace = new TraceBuffer(client, jobId, payload.attempt, redact);
  const emit = (e: TraceEvent) => trace.push(e);
  const auth = ['-c', `http.extraHeader=Authorization: Bearer ${payload.token}`];
  let ws: Workspace | null = null;
  const git = async (args: string[], opts: { auth?: boolean; env?: Record<string, string>; input?: string } = {}) => {
    const r = await sandbox.exec(ws!, ['git', ...(opts.auth ? auth : []), ...args], { timeoutMs: 10 * 60_000, signal, env: opts.env, input: opts.input, maxOutputBytes: 1024 * 1024 });
    if (r.cancelled) throw new AgentFailure('cancelled');
    if (r.code !== 0) throw new Error(`git ${args[0]} failed: ${redact(r.stderr.trim()).slice(-2000)}`);
    return r.stdout;
  };
  try {
    ws = await sandbox.provision();
    emit({ kind: 'status', data: { message: `Preparing workspace (${sandbox.name} sandbox) at ${payload.source_commit.slice(0, 12)}` } });
    await git(['init', '-q', `--initial-branch=${payload.compare_branch}`, '.']);
    await git(['fetch', '-q', '--no-tags', payload.clone_url, payload.source_commit], { auth: true });
    await git(['checkout', '-q', '-B', payload.compare_branch, payload.source_commit]);
    const driver = driverFor(payload.driver);
    if (!driver) throw new AgentFailure(`this runner has no "${payload.driver}" driver`);
    emit({ kind: 'status', data: { message: `Running the ${driver.name} agent${payload.model ? ` (${payload.model})` : ''}` } });
    const result = await driver.run({ prompt: payload.prompt, model: payload.model, workspace: ws, sandbox, env: payload.env, timeoutMs: payload.timeout_ms, signal, emit });
    result.summary = redact(result.summary);
    if (signal.aborted) throw new AgentFailure('cancelled');

    await git(['add', '-A']);
    const status = await git(['status', '--porcelain']);
    const identity = { GIT_AUTHOR_NAME: AGENT_IDENTITY.name, GIT_AUTHOR_EMAIL: AGENT_IDENTITY.email, GIT_COMMITTER_NAME: COMMITTER.name, GIT_COMMITTER_EMAIL: COMMITTER.email };
    if (status.trim()) {
      const message = `${payload.prompt.split('\n').find((l) => l.startsWith('## Task: '))?.slice(9) ?? 'Agent changes'}\n\n${result.summary}\n\n${payload.commit_trailers.join('\n')}\n`;
      await git(['commit', '-q', '--no-verify', '-F', '-'], { env: identity, input: message });
    }
    const head = (await git(['rev-parse', 'HEAD'])).trim();
    const changed = head !== payload.source_commit;
    const files = changed ? (await git(['diff', '--name-only', payload.source_commit, head])).split('\n').filter(Boolean) : [];
    const tip = payload.compare_tip ?? payload.source_commit;
    if (changed) emit({ kind: 'status', data: { message: `Pushing ${files.length} changed file${files.length === 1 ? '' : 's'} to ${payload.compare_branch}` } });
    else emit({ kind: 'status', data: { message: 'The agent made no changes' } });
    if (head !== tip) {
      // Each attempt starts from the run's source; a retry replaces what an interrupted attempt pushed —
      // but only that: the lease fails if anyone else moved the branch since this attempt was claimed.
      await git(['push', '-q', `--force-with-lease=refs/heads/${payload.compare_branch}:${tip}`, payload.clone_url, `HEAD:refs/heads/${payload.compare_branch}`], { auth: true });
    }
    await trace.flush();
    await client.complete(jobId, { commit_sha: head, changed, summary: result.summary, files, usage: result.usage, session_id: result.sessionId });
    return { status: 'succeeded' };
  } catch (err) {
    return reportJobError(client, jobId, trace, err, signal, redact);
  } finally {
    if (ws && !process.env.GITOKU_KEEP_WORKSPACES) await sandbox.destroy(ws).catch(() => undefined);
  }
}
