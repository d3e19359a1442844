import { randomUUID } from 'node:crypto';
import type { AppContext } from './app.ts';
import type { Job } from '../db/schema.ts';
import { claimJobs, CompletionBatcher, failJobAttempt, finishJob, releaseJob } from './jobs.ts';
import { registeredServerJobKinds, serverJobKindHandler } from './jobKinds.ts';
import './jobKindRegistry.ts';

export interface ServerJobWorkerOptions {
  /** Jobs executed at once (a slow target must not hold up the others). */
  concurrency?: number;
  /** Lease of a claimed job: longer than any attempt takes, so no heartbeat is needed. */
  leaseMs?: number;
  log?: (line: string) => void;
}

/**
 * Executes the server's own jobs (ServerJobKindHandler: webhook deliveries) from the job queue: claims
 * with a lease (several instances may run one), runs up to `concurrency` at once, records each
 * attempt's outcome — a retryable failure goes back to the queue with the queue's backoff. Woken by
 * the 'jobs' signal (enqueues in this process, NOTIFY on PostgreSQL) and every second for retries.
 * Stopping aborts attempts in flight and hands their jobs back uncounted (delivery is at-least-once).
 */
export class ServerJobWorker {
  readonly owner = `server-${randomUUID()}`;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private dirty = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly completions: CompletionBatcher;
  private readonly onSignal = () => {
    this.dirty = true;
    this.wake?.();
  };

  constructor(
    private readonly app: AppContext,
    private readonly opts: ServerJobWorkerOptions = {},
  ) {
    this.completions = new CompletionBatcher(app, this.owner);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.app.signals.on('jobs', this.onSignal);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.app.signals.off('jobs', this.onSignal);
    this.abort.abort();
    this.wake?.();
    await this.loop;
    await Promise.all([...this.inFlight]);
  }

  private async run(): Promise<void> {
    const kinds = registeredServerJobKinds();
    const concurrency = this.opts.concurrency ?? 4;
    while (this.running && !this.app.isClosing()) {
      this.dirty = false;
      try {
        while (this.running && this.inFlight.size < concurrency) {
          // As many as there are free slots, in one claim statement.
          const jobs = await claimJobs(this.app, this.owner, kinds, this.opts.leaseMs ?? 120_000, undefined, concurrency - this.inFlight.size);
          if (jobs.length === 0) break;
          for (const job of jobs) {
            const task = this.execute(job).finally(() => {
              this.inFlight.delete(task);
              this.wake?.();
            });
            this.inFlight.add(task);
          }
        }
      } catch (err) {
        if (!this.app.isClosing()) this.opts.log?.(`claiming server jobs failed: ${(err as Error).message}`);
      }
      if (this.dirty) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 1000);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = null;
      // Let the other completions of the same batch land first: the next claim then takes them all at once.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private async execute(job: Job): Promise<void> {
    const handler = serverJobKindHandler(job.kind);
    const db = this.app.db;
    try {
      if (!handler) {
        await finishJob(db, job.id, this.owner, 'failed', { error: `no handler for job kind ${job.kind}` });
        return;
      }
      const outcome = await handler.execute(this.app, job, this.abort.signal);
      if (this.abort.signal.aborted && !this.app.isClosing()) {
        await releaseJob(db, job.id, this.owner);
        return;
      }
      if (this.app.isClosing()) return;
      // Completions arriving together are written in one statement.
      if (outcome.status === 'succeeded') await this.completions.succeed(job.id, outcome.result);
      else await failJobAttempt(db, job, this.owner, outcome.error, outcome.status === 'retry');
    } catch (err) {
      if (this.app.isClosing()) return;
      this.opts.log?.(`server job ${job.id} (${job.kind}) failed: ${(err as Error).message}`);
      await failJobAttempt(db, job, this.owner, (err as Error).message, true).catch(() => undefined);
    }
  }
}
