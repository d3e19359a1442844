import { hostname } from 'node:os';
import { RunnerClient, RunnerAuthError, type ClaimedJob } from './client.ts';
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
/** The longest a running job goes without a heartbeat: how long a Cancel may take to reach it. */
const CANCEL_LATENCY_MS = 2_000;
/** How often the heartbeat loop looks for jobs whose beat is due. */
const HEARTBEAT_TICK_MS = 250;

/**
 * The runner loop (the same code for the embedded runner and `gitoku runner`): one long-poll claims as
 * many jobs as there are free slots (of `concurrency`) in one request; one loop heartbeats every running
 * job every third of its lease, all due jobs in one request, and aborts a job when the server asks for
 * cancellation or its lease is lost.
 *
 * Nothing the server answers ends the loop: a lost lease drops that job (its outcome is no longer this
 * runner's to report); a rejected token drops every running job and re-registers (`reregister`), or
 * keeps retrying with back-off when the runner cannot register by itself.
 */
export class JobRunner {
  private stopped = false;
  private readonly active = new Map<number, AbortController>();
  private readonly slots: Promise<void>[] = [];
  /** Executions in flight (each holds one of `concurrency` slots). */
  private readonly executions = new Set<Promise<void>>();
  /** When each running job's next heartbeat is due, and its interval (a third of its lease, at most CANCEL_LATENCY_MS). */
  private readonly beats = new Map<number, { due: number; interval: number }>();
  private slotFreed: (() => void) | null = null;
  private readonly pollAbort = new AbortController();
  private recovering: Promise<void> | null = null;
  private credentialsBackoff = 1000;
  private readonly stopping = new Promise<void>((resolve) => this.pollAbort.signal.addEventListener('abort', () => resolve(), { once: true }));

  constructor(private readonly opts: RunnerOptions) {
    opts.client.onCredentialsRejected((err) => this.credentialsRejected(err));
  }

  start(): void {
    // The server learns what this runner holds now: the snapshots a previous process of it left (a
    // persistent store), or nothing (a fresh one) — then it forgets what that earlier process held.
    // Claiming waits for that (a few seconds at most), so the first jobs can boot warm from them.
    const store = this.opts.sandbox.store;
    const reported = store ? Promise.race([reportSnapshots(this.opts.client, store, (l) => this.log(l)), this.pause(5_000)]) : Promise.resolve();
    // One long-poll asks for as many jobs as there are free slots; one loop heartbeats every running job.
    this.slots.push(reported.then(() => this.poll()));
    this.slots.push(reported.then(() => this.heartbeats()));
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

  /** Resolves when a running job ends (a slot frees up) or the runner stops. */
  private waitForFreeSlot(): Promise<void> {
    return Promise.race([new Promise<void>((resolve) => (this.slotFreed = resolve)), this.stopping]);
  }

  /** The claim loop: long-polls for up to the number of free slots, runs what it gets, and polls again. */
  private async poll(): Promise<void> {
    let backoff = FIRST_BACKOFF_MS;
    while (!this.stopped) {
      try {
        if (this.recovering) await Promise.race([this.recovering, this.stopping]);
        if (this.stopped) return;
        const free = this.opts.concurrency - this.active.size;
        if (free <= 0) {
          await this.waitForFreeSlot();
          continue;
        }
        let jobs: ClaimedJob[];
        try {
          jobs = await this.opts.client.claimMany(25, free, this.pollAbort.signal);
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
        for (const job of jobs) {
          const run = this.execute(job).finally(() => {
            this.executions.delete(run);
            this.slotFreed?.();
            this.slotFreed = null;
          });
          this.executions.add(run);
        }
      } catch (err) {
        // Not expected (execute reports its own errors): log it and keep polling.
        this.log(`runner poll error: ${(err as Error)?.stack ?? errorMessage(err)}`);
        await this.pause(backoff);
      }
    }
  }

  /**
   * Heartbeats every running job whose beat is due (a third of its lease after the last one) in one
   * request, one request at a time (a slow server must not pile them up): a job whose cancellation was
   * requested is aborted, one whose lease was lost is dropped. Never rejects.
   */
  private async heartbeats(): Promise<void> {
    while (!this.stopped) {
      await this.pause(HEARTBEAT_TICK_MS);
      if (this.stopped) return;
      const at = Date.now();
      const due = [...this.beats].filter(([id, b]) => b.due <= at && !this.active.get(id)?.signal.aborted).map(([id]) => id);
      if (due.length === 0) continue;
      try {
        const r = await this.opts.client.heartbeatMany(due, this.active.size);
        for (const id of due) {
          const beat = this.beats.get(id);
          if (beat) beat.due = Date.now() + beat.interval;
        }
        for (const { id, cancel_requested } of r.jobs) {
          const abort = this.active.get(id);
          if (cancel_requested && abort && !abort.signal.aborted) {
            this.log(`job ${id}: cancel requested`);
            abort.abort();
          }
        }
        for (const id of r.lost) {
          const abort = this.active.get(id);
          if (abort && !abort.signal.aborted) {
            this.log(`job ${id}: lease lost (the server says this runner no longer holds it); dropping the job`);
            abort.abort(new JobDropped('lease lost: this runner does not hold the job'));
          }
        }
      } catch (err) {
        // A rejected token is handled by credentialsRejected; anything else (network) is retried on the next tick.
        if (!(err instanceof RunnerAuthError)) this.log(`heartbeat of job(s) ${due.join(', ')} failed: ${errorMessage(err)}`);
        await this.pause(Math.min(1000, ...due.map((id) => this.beats.get(id)?.interval ?? 1000)));
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
    // A third of the lease keeps it, but the beat is also how a cancellation reaches the job: at most
    // CANCEL_LATENCY_MS apart (all running jobs beat in one request, so this costs one request a tick).
    const interval = Math.max(500, Math.min(CANCEL_LATENCY_MS, Math.floor(job.lease_ms / 3)));
    this.beats.set(job.id, { due: Date.now() + interval, interval });
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
      this.beats.delete(job.id);
      this.active.delete(job.id);
    }
  }

  /** Stops claiming, cancels running jobs and waits for the slots to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.pollAbort.abort();
    for (const a of this.active.values()) a.abort();
    await Promise.allSettled(this.slots);
    await Promise.allSettled([...this.executions]);
    // A clean stop releases the workspaces; a persistent store keeps its snapshots for the next process,
    // so this one tells the server it holds none any more (forks go to whichever runner takes them over).
    await this.opts.sandbox.store?.close().catch((err: unknown) => this.log(`closing the snapshot store failed: ${errorMessage(err)}`));
    if (this.opts.sandbox.store) await Promise.race([this.opts.client.reportSnapshots([]).catch(() => undefined), new Promise((r) => setTimeout(r, 2_000).unref())]);
  }
}

export function defaultRunnerName(): string {
  return `${hostname()}-${process.pid}`;
}
