import { hostname } from 'node:os';
import { RunnerClient, LeaseLostError, RunnerAuthError, type ClaimedJob } from './client.ts';
import type { SandboxBackend } from './sandbox.ts';
import { executePromptRun, reportSnapshots, type JobOutcome } from './promptRun.ts';
import { executeWorkflowRun } from './workflowRun.ts';
import { executeReviewRun } from './reviewRun.ts';
import { errorMessage, JobDropped } from './outcome.ts';

type Executor = (client: RunnerClient, sandbox: SandboxBackend, jobId: number, payload: unknown, signal: AbortSignal, job: ClaimedJob) => Promise<JobOutcome>;

/** What this runner can execute, by job kind. */
const EXECUTORS: Record<string, Executor> = {
  prompt_run: executePromptRun as unknown as Executor,
  workflow_run: executeWorkflowRun as unknown as Executor,
  pr_review: executeReviewRun as unknown as Executor,
};

export interface RunnerOptions {
  client: RunnerClient;
  sandbox: SandboxBackend;
  concurrency: number;
  log?: (line: string) => void;
  /**
   * Gets this runner a new identity (a new runner token) when the server rejects the current one. Without
   * it the runner keeps presenting its token, with back-off, and says why it cannot work.
   */
  reregister?: () => Promise<string>;
  /** The longest wait between two attempts to get accepted credentials again (default 60 s). */
  maxCredentialsBackoffMs?: number;
}

const FIRST_BACKOFF_MS = 500;

/**
 * The runner loop (the same code for the embedded runner and `gitoku runner`): up to `concurrency`
 * long-polls for jobs; each claimed job heartbeats every third of its lease, and is aborted when the
 * server asks for cancellation or the lease is lost.
 *
 * Nothing the server answers ends the loop: a lost lease drops that job (its outcome is no longer this
 * runner's to report); a rejected token drops every running job and re-registers (`reregister`), or
 * keeps retrying with back-off when the runner cannot register by itself.
 */
export class JobRunner {
  private stopped = false;
  private readonly active = new Map<number, AbortController>();
  private readonly slots: Promise<void>[] = [];
  private readonly pollAbort = new AbortController();
  private recovering: Promise<void> | null = null;
  private credentialsBackoff = 1000;
  private readonly stopping = new Promise<void>((resolve) => this.pollAbort.signal.addEventListener('abort', () => resolve(), { once: true }));

  constructor(private readonly opts: RunnerOptions) {
    opts.client.onCredentialsRejected((err) => this.credentialsRejected(err));
  }

  start(): void {
    for (let i = 0; i < this.opts.concurrency; i++) this.slots.push(this.slot());
    // A fresh store holds nothing: the server forgets what an earlier process of this runner held.
    if (this.opts.sandbox.store) reportSnapshots(this.opts.client, this.opts.sandbox.store, (l) => this.log(l));
  }

  get busy(): number {
    return this.active.size;
  }

  private log(line: string): void {
    try {
      this.opts.log?.(line);
    } catch {
      /* a broken log sink must not stop the runner */
    }
  }

  /** Waits `ms`, or less when the runner stops. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.pollAbort.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.pollAbort.signal.addEventListener('abort', done);
    });
  }

  private async slot(): Promise<void> {
    let backoff = FIRST_BACKOFF_MS;
    while (!this.stopped) {
      try {
        if (this.recovering) await Promise.race([this.recovering, this.stopping]);
        if (this.stopped) return;
        let job: ClaimedJob | null;
        try {
          job = await this.opts.client.claim(25, this.pollAbort.signal);
          backoff = FIRST_BACKOFF_MS;
        } catch (err) {
          if (this.stopped) return;
          // A rejected token started a recovery (see credentialsRejected); the next turn waits for it.
          if (err instanceof RunnerAuthError) continue;
          this.log(`claim failed: ${errorMessage(err)}; retrying in ${backoff} ms`);
          await this.pause(backoff);
          backoff = Math.min(backoff * 2, 15_000);
          continue;
        }
        if (job) await this.execute(job);
      } catch (err) {
        // Not expected (execute reports its own errors): log it and keep the slot alive.
        this.log(`runner slot error: ${(err as Error)?.stack ?? errorMessage(err)}`);
        await this.pause(backoff);
      }
    }
  }

  /**
   * The server said no to this runner's token: drop every running job (their leases belong to the
   * rejected identity) and get accepted credentials again — once, however many requests were refused.
   */
  private credentialsRejected(err: RunnerAuthError): void {
    if (err.generation !== this.opts.client.generation || this.stopped) return;
    for (const [id, abort] of this.active) {
      if (abort.signal.aborted) continue;
      this.log(`job ${id}: dropped: ${err.message}`);
      abort.abort(new JobDropped(err.message));
    }
    this.recovering ??= this.recoverCredentials(err).finally(() => {
      this.recovering = null;
    });
  }

  private async recoverCredentials(err: RunnerAuthError): Promise<void> {
    const generation = this.opts.client.generation;
    const wait = this.credentialsBackoff;
    this.credentialsBackoff = Math.min(this.credentialsBackoff * 2, this.opts.maxCredentialsBackoffMs ?? 60_000);
    if (this.opts.reregister) {
      this.log(`${err.message}; registering again`);
      try {
        const token = await this.opts.reregister();
        if (this.opts.client.generation === generation) this.opts.client.setToken(token);
        this.credentialsBackoff = 1000;
        this.log('registered again with a new runner token; claiming jobs');
        return;
      } catch (e) {
        this.log(`registering again failed: ${errorMessage(e)}; retrying in ${Math.round(wait / 1000)} s`);
      }
    } else {
      this.log(
        `${err.message}. Its runner token was revoked or its runner record deleted, and a runner started with a runner token cannot register by itself: ` +
          `restart it with a registration token (--token gtreg_…). Retrying in ${Math.round(wait / 1000)} s`,
      );
    }
    await this.pause(wait);
  }

  private async execute(job: ClaimedJob): Promise<void> {
    const abort = new AbortController();
    this.active.set(job.id, abort);
    let finished = false;
    let beatTimer: NodeJS.Timeout | null = null;
    const interval = Math.max(1000, Math.floor(job.lease_ms / 3));
    // One heartbeat at a time (a slow server must not pile them up); never rejects.
    const beat = async () => {
      try {
        const r = await this.opts.client.heartbeat(job.id, this.active.size);
        if (r.cancel_requested && !abort.signal.aborted) {
          this.log(`job ${job.id}: cancel requested`);
          abort.abort();
        }
      } catch (err) {
        if (err instanceof LeaseLostError) {
          if (!abort.signal.aborted) {
            this.log(`job ${job.id}: lease lost (${err.message}); dropping the job`);
            abort.abort(new JobDropped(`lease lost: ${err.message}`));
          }
        } else if (!(err instanceof RunnerAuthError)) {
          // A rejected token is handled by credentialsRejected; anything else (network) is retried on the next beat.
          this.log(`job ${job.id}: heartbeat failed: ${errorMessage(err)}`);
        }
      } finally {
        if (!finished) beatTimer = setTimeout(() => void beat(), interval);
      }
    };
    beatTimer = setTimeout(() => void beat(), interval);
    try {
      this.log(`job ${job.id} (${job.kind}, attempt ${job.attempt}) started`);
      const execute = EXECUTORS[job.kind];
      if (!execute) {
        await this.opts.client.fail(job.id, `this runner does not handle ${job.kind} jobs`, true);
        return;
      }
      const outcome = await execute(this.opts.client, this.opts.sandbox, job.id, job.payload, abort.signal, job);
      const detail = outcome.error ? `: ${outcome.error.split('\n')[0]}` : '';
      this.log(`job ${job.id} ${outcome.status}${detail}${outcome.unreported ? ` (not reported: ${outcome.unreported})` : ''}`);
    } catch (err) {
      this.log(`job ${job.id} could not be reported: ${errorMessage(err)}`);
    } finally {
      finished = true;
      if (beatTimer) clearTimeout(beatTimer);
      this.active.delete(job.id);
    }
  }

  /** Stops claiming, cancels running jobs and waits for the slots to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.pollAbort.abort();
    for (const a of this.active.values()) a.abort();
    await Promise.allSettled(this.slots);
    // Snapshots live as long as the runner process: a clean stop releases them.
    await this.opts.sandbox.store?.close().catch((err: unknown) => this.log(`closing the snapshot store failed: ${errorMessage(err)}`));
  }
}

export function defaultRunnerName(): string {
  return `${hostname()}-${process.pid}`;
}
