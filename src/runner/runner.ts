import { hostname } from 'node:os';
import { RunnerClient, LeaseLostError, type ClaimedJob } from './client.ts';
import type { SandboxBackend } from './sandbox.ts';
import { executePromptRun, type JobOutcome } from './promptRun.ts';
import { executeWorkflowRun } from './workflowRun.ts';
import { executeReviewRun } from './reviewRun.ts';

type Executor = (client: RunnerClient, sandbox: SandboxBackend, jobId: number, payload: unknown, signal: AbortSignal) => Promise<JobOutcome>;

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
}

/**
 * The runner loop (the same code for the embedded runner and `gitoku runner`): up to `concurrency`
 * long-polls for jobs; each claimed job heartbeats every third of its lease, and is aborted when the
 * server asks for cancellation or the lease is lost.
 */
export class JobRunner {
  private stopped = false;
  private readonly active = new Map<number, AbortController>();
  private readonly slots: Promise<void>[] = [];
  private readonly pollAbort = new AbortController();

  constructor(private readonly opts: RunnerOptions) {}

  start(): void {
    for (let i = 0; i < this.opts.concurrency; i++) this.slots.push(this.slot());
  }

  get busy(): number {
    return this.active.size;
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  private async slot(): Promise<void> {
    let backoff = 500;
    while (!this.stopped) {
      let job: ClaimedJob | null = null;
      try {
        job = await this.opts.client.claim(25, this.pollAbort.signal);
        backoff = 500;
      } catch (err) {
        if (this.stopped) return;
        this.log(`claim failed: ${(err as Error).message}; retrying in ${backoff} ms`);
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 15_000);
        continue;
      }
      if (job) await this.execute(job);
    }
  }

  private async execute(job: ClaimedJob): Promise<void> {
    const abort = new AbortController();
    this.active.set(job.id, abort);
    const beat = setInterval(async () => {
      try {
        const r = await this.opts.client.heartbeat(job.id, this.active.size);
        if (r.cancel_requested && !abort.signal.aborted) {
          this.log(`job ${job.id}: cancel requested`);
          abort.abort();
        }
      } catch (err) {
        if (err instanceof LeaseLostError && !abort.signal.aborted) {
          this.log(`job ${job.id}: lease lost, stopping`);
          abort.abort();
        }
      }
    }, Math.max(1000, Math.floor(job.lease_ms / 3)));
    try {
      this.log(`job ${job.id} (${job.kind}, attempt ${job.attempt}) started`);
      const execute = EXECUTORS[job.kind];
      if (!execute) {
        await this.opts.client.fail(job.id, `this runner does not handle ${job.kind} jobs`, true);
        return;
      }
      const outcome = await execute(this.opts.client, this.opts.sandbox, job.id, job.payload, abort.signal);
      this.log(`job ${job.id} ${outcome.status}${outcome.error ? `: ${outcome.error.split('\n')[0]}` : ''}`);
    } catch (err) {
      this.log(`job ${job.id} could not be reported: ${(err as Error).message}`);
    } finally {
      clearInterval(beat);
      this.active.delete(job.id);
    }
  }

  /** Stops claiming, cancels running jobs and waits for the slots to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.pollAbort.abort();
    for (const a of this.active.values()) a.abort();
    await Promise.allSettled(this.slots);
  }
}

export function defaultRunnerName(): string {
  return `${hostname()}-${process.pid}`;
}
