import type { RunJobPayload } from '../services/runs.ts';
import type { RunnerClient } from './client.ts';
import { CheckpointRecorder, reportSnapshots } from './checkpoints.ts';
import { sandboxWarning, type SandboxBackend, type Workspace } from './sandbox.ts';
import { AgentFailure, type TraceEvent } from './drivers/types.ts';
import { TraceBuffer } from './traceBuffer.ts';
import { reportJobError, type JobOutcome } from './outcome.ts';
import { checkoutCommit, stageWorkTree, workspaceGit, type WorkspaceGit } from './workspaceGit.ts';
import { runAgentPhase } from './agentPhase.ts';
import { redactor } from './redact.ts';
import { memoryFileEnvironment, readMemoryFile, redactMemory, resetMemoryFile } from './memoryFile.ts';

export type { JobOutcome } from './outcome.ts';
/** Redaction of secrets in every form an agent prints them (see redact.ts). */
export { redactor } from './redact.ts';

const AGENT_IDENTITY = { name: 'gitoku agent', email: 'agent@gitoku.invalid' };
/** Drivers that call DriverContext.afterStep between their steps. */
const STEPWISE_DRIVERS = new Set(['script', 'openai']);
const COMMITTER = { name: 'gitoku', email: 'gitoku@gitoku.invalid' };

/**
 * Runs one agent job: prepare the workspace (booted warm from a snapshot this runner holds — a fork's
 * step or the repository's cached set-up — or cloned cold, running the set-up), run the driver with a
 * checkpoint after each step, commit what the agent left (agent as author, gitoku as committer, run
 * trailers), push the compare branch with the job token, report. Git commands the runner itself needs
 * run in the same sandbox.
 */
export async function executePromptRun(client: RunnerClient, sandbox: SandboxBackend, jobId: number, payload: RunJobPayload, signal: AbortSignal): Promise<JobOutcome> {
  const secrets = [payload.token, ...(payload.secret_env ?? []).map((name) => payload.env[name] ?? '')];
  let redact = redactor(secrets);
  const trace = new TraceBuffer(client, jobId, payload.attempt, (text) => redact(text));
  const emit = (e: TraceEvent) => trace.push(e);
  let ws: Workspace | null = null;
  let checkpoints: CheckpointRecorder | null = null;
  const onSnapshot = () => sandbox.store && reportSnapshots(client, sandbox.store, () => undefined);
  try {
    // Snapshot ids are random and a store is held by one runner process at a time: whichever runner the
    // server named, this one boots warm when it has the snapshot (a restarted runner has its store's).
    const held = (ref: { id: string; runner_id: number } | null | undefined) => (ref && sandbox.store?.has(ref.id) ? ref.id : null);
    let forkSnapshot = held(payload.from_snapshot);
    let setupSnapshot = forkSnapshot ? null : held(payload.setup?.snapshot);
    try {
      ws = await sandbox.provision({ from: forkSnapshot ?? setupSnapshot });
    } catch (err) {
      if (!(forkSnapshot ?? setupSnapshot)) throw err;
      // A snapshot this runner can no longer boot (its files gone): the run starts cold instead.
      emit({ kind: 'status', data: { message: `Snapshot ${(forkSnapshot ?? setupSnapshot)!} could not be restored (${(err as Error).message.split('\n')[0]}); starting cold` } });
      forkSnapshot = setupSnapshot = null;
      ws = await sandbox.provision({});
    }
    const git = workspaceGit(sandbox, ws, payload.token, signal, (text) => redact(text));
    const warm = !!(forkSnapshot ?? setupSnapshot);
    emit({ kind: 'status', data: { message: `Preparing workspace (${sandbox.name} sandbox) at ${payload.source_commit.slice(0, 12)}: ${warm ? `warm, from snapshot ${(forkSnapshot ?? setupSnapshot)!}${forkSnapshot && payload.forked_from_step !== null ? ` (step ${payload.forked_from_step})` : ' (cached set-up)'}` : 'cold'}` } });
    const warning = sandboxWarning(sandbox);
    if (warning) emit({ kind: 'status', data: { message: `⚠ ${warning}` } });
    if (forkSnapshot) await continueCheckout(git, payload.compare_branch, payload.source_commit);
    else if (setupSnapshot) {
      await git(['fetch', '-q', '--no-tags', '--end-of-options', payload.clone_url, payload.source_commit], { auth: true });
      await continueCheckout(git, payload.compare_branch, payload.source_commit, { checkout: true });
    } else {
      await checkoutCommit(git, ws, payload.clone_url, payload.source_commit, payload.compare_branch);
      if (payload.setup) await runSetup(sandbox, ws, payload.setup, signal, emit);
    }
    checkpoints = new CheckpointRecorder(sandbox, ws, git, payload.source_commit, emit, onSnapshot, () => trace.pushed);
    // Step 0: the prepared workspace; after a fresh set-up, also the repository's cached set-up. A fork
    // booted from a step's snapshot is that snapshot (at that step's commit): no new one is needed.
    const reuse = forkSnapshot ? sandbox.store?.get(forkSnapshot) : undefined;
    await checkpoints.take({ commit: payload.source_commit, label: 'workspace prepared', setupCacheKey: payload.setup && !warm ? payload.setup.cache_key : undefined, reuse });
    const recorder = checkpoints;
    // Drivers whose steps the runner sees one by one call afterStep (a full checkpoint between steps);
    // for the others (one agent process), the trace marks the steps: code-only checkpoints.
    const stepwise = STEPWISE_DRIVERS.has(payload.driver);
    const agentEmit = stepwise ? emit : (e: TraceEvent) => (emit(e), recorder.onTraceEvent(e));
    await resetMemoryFile(ws);
    const result = await runAgentPhase(sandbox, ws, { ...payload, env: { ...payload.env, ...memoryFileEnvironment(ws) } }, signal, agentEmit, (secret) => (redact = redactor([...secrets, secret])), {
      afterStep: stepwise ? () => recorder.take() : undefined,
      resumeSession: payload.resume_session?.driver === payload.driver ? payload.resume_session.session_id : null,
    });
    await recorder.settled();
    result.summary = redact(result.summary);
    if (signal.aborted) throw new AgentFailure('cancelled');
    // What the agent asked the repository to remember (validated by the server; a bad file never fails the run).
    const memory = await readMemoryFile(ws).catch((err: Error) => [`the memory file could not be read: ${err.message}`]);

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
    await checkpoints.take({ final: true, commit: head, label: 'result' });
    await trace.flush(); // the checkpoints point into the stored trace
    await checkpoints.flush(client, jobId, payload.attempt, payload.clone_url, payload.checkpoint_ref_prefix);
    await client.complete(jobId, { commit_sha: head, changed, summary: result.summary, files, usage: result.usage, session_id: result.sessionId, model: result.model ?? null, workspace: warm ? 'warm' : 'cold', memory: redactMemory(memory, redact) });
    return { status: 'succeeded' };
  } catch (err) {
    // A failed run keeps the checkpoints it took: it can be forked from before it went wrong. (A run that
    // was stopped — cancelled, or its lease or token lost — reports nothing more.)
    if (checkpoints && ws && !signal.aborted) {
      await trace.flush();
      await checkpoints.flush(client, jobId, payload.attempt, payload.clone_url, payload.checkpoint_ref_prefix);
    }
    return await reportJobError(client, jobId, trace, err, signal, redact);
  } finally {
    if (ws && !process.env.GITOKU_KEEP_WORKSPACES) await sandbox.destroy(ws).catch(() => undefined);
  }
}

/**
 * A workspace booted from a snapshot already holds the runner's repository and the agent's: point
 * both at `sha` on `branch` — moving the files too after a set-up snapshot (`checkout`), only the
 * branch and index after a fork's snapshot, whose files are that commit's.
 */
async function continueCheckout(git: WorkspaceGit, branch: string, sha: string, opts: { checkout?: boolean } = {}): Promise<void> {
  // The two repositories are independent, and so are a branch, HEAD and the index within one: a warm
  // fork's first step waits on two git processes in a row, not six.
  const runnerRepository = opts.checkout
    ? git(['checkout', '-q', '-f', '-B', branch, sha]).then(() => undefined)
    : Promise.all([git(['update-ref', `refs/heads/${branch}`, sha]), git(['symbolic-ref', 'HEAD', `refs/heads/${branch}`]), git(['read-tree', sha])]).then(() => undefined);
  // `reset` moves the branch HEAD names (creating it when unborn) and the index to `sha`.
  const checkoutRepository = git(['symbolic-ref', 'HEAD', `refs/heads/${branch}`], { checkoutRepository: true }).then(() => git(['reset', '-q', sha], { checkoutRepository: true }));
  await Promise.all([runnerRepository, checkoutRepository]);
}

/** The repository's `[workspace]` set-up, once after a cold checkout, with the runner's network (package registries). */
async function runSetup(sandbox: SandboxBackend, ws: Workspace, setup: NonNullable<RunJobPayload['setup']>, signal: AbortSignal, emit: (e: TraceEvent) => void): Promise<void> {
  emit({ kind: 'status', data: { message: `Setting up the workspace: ${setup.command}` } });
  const started = Date.now();
  const r = await sandbox.exec(ws, ['/bin/sh', '-e', '-c', setup.command], { timeoutMs: setup.timeout_ms, signal, maxOutputBytes: 256 * 1024, onOutput: (stream, text) => emit({ kind: 'log', data: { stream, text } }) });
  emit({ kind: 'command', data: { command: setup.command, exit_code: r.code, output: `${(r.stdout + r.stderr).slice(-4096)}\nfinished in ${Date.now() - started} ms`, timed_out: r.timedOut } });
  if (r.cancelled) throw new AgentFailure('cancelled');
  if (r.timedOut) throw new AgentFailure(`the workspace set-up timed out after ${Math.round(setup.timeout_ms / 1000)} s`);
  if (r.code !== 0) throw new AgentFailure(`the workspace set-up failed with exit code ${r.code}: ${setup.command}`);
}

export { reportSnapshots } from './checkpoints.ts';
