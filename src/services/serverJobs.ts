import { instanceName } from './instanceNames.ts';
import type { AppContext } from './app.ts';
import type { Job } from '../db/schema.ts';
import { completeAndClaimJobs, failJobAttempt, finishJob, finishJobsSucceeded, heartbeatJobs, releaseJob, releaseJobs } from './jobs.ts';
import { registeredServerJobKinds, serverJobKindHandler } from './jobKinds.ts';
import './jobKindRegistry.ts';

export interface ServerJobWorkerOptions {
  /** Jobs executed at once (a slow target must not hold up the others). */
  concurrency?: number;
  /**
   * Jobs claimed ahead of a free slot (default: `concurrency`): they start the moment a running job ends,
   * without waiting for a round trip to the database. A crash returns them to the queue when their lease
   * expires; a stop hands them back at once.
   */
  prefetch?: number;
  /** Lease of a claimed job: longer than any attempt takes, so no heartbeat is needed. */
  leaseMs?: number;
  log?: (line: string) => void;
}

interface Finished {
  id: number;
  result: unknown;
}

/**
 * Executes the server's own jobs (ServerJobKindHandler: webhook deliveries) from the job queue: claims
 * with a lease (several instances may run one), runs up to `concurrency` at once, records each
 * attempt's outcome — a retryable failure goes back to the queue with the queue's backoff. Woken by
 * the 'jobs' signal (enqueues in this process, NOTIFY on PostgreSQL) and every second for retries.
 *
 * One loop talks to the database, one statement at a time: each round trip records the jobs that
 * succeeded since the last one and claims enough to fill the free slots plus `prefetch` waiting jobs
 * (completeAndClaimJobs: one statement on PostgreSQL). Jobs start from the prefetched ones as slots
 * free up, so the slots never wait on the database while the queue has work. A succeeded job stays
 * leased until its completion is written (a crash before that runs it again: at least once).
 * Stopping aborts attempts in flight and hands their jobs and the prefetched ones back uncounted.
 */
export class ServerJobWorker {
  readonly owner = instanceName('server');
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** A 'jobs' signal arrived: the queue may hold jobs again. */
  private dirty = false;
  /** The last claim got fewer jobs than it asked for: claim again only after a signal or the 1 s tick. */
  private exhausted = false;
  /** Claimed, not started yet (in claim order). */
  private readonly prefetched: Job[] = [];
  /** Succeeded, not recorded yet. */
  private finished: Finished[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly onSignal = () => {
    this.dirty = true;
    this.exhausted = false;
    this.wake?.();
  };

  constructor(
    private readonly app: AppContext,
    private readonly opts: ServerJobWorkerOptions = {},
  ) {}

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
    if (this.app.isClosing()) return;
    // What succeeded is recorded, what was prefetched goes back to the queue uncounted.
    const finished = this.takeFinished();
    const held = this.prefetched.splice(0).map((j) => j.id);
    try {
      await finishJobsSucceeded(this.app, this.owner, finished);
      await releaseJobs(this.app.db, held, this.owner);
    } catch (err) {
      this.opts.log?.(`handing back server jobs failed: ${(err as Error).message}`);
    }
  }

  private get concurrency(): number {
    return Math.max(1, this.opts.concurrency ?? 4);
  }

  private takeFinished(): Finished[] {
    const batch = this.finished;
    this.finished = [];
    return batch;
  }

  private async run(): Promise<void> {
    const kinds = registeredServerJobKinds();
    const capacity = this.concurrency + Math.max(0, this.opts.prefetch ?? this.concurrency);
    while (this.running && !this.app.isClosing()) {
      const want = this.exhausted ? 0 : capacity - this.inFlight.size - this.prefetched.length;
      if (want > 0 || this.finished.length > 0) {
        this.dirty = false;
        const batch = this.takeFinished();
        try {
          const { claimed } = await completeAndClaimJobs(this.app, batch, { owner: this.owner, kinds, leaseMs: this.opts.leaseMs ?? 120_000, limit: Math.max(0, want) });
          if (!this.running) {
            // Stopping while the claim was in flight: stop() hands these back.
            this.prefetched.push(...claimed);
            break;
          }
          this.prefetched.push(...claimed);
          // Fewer than asked: the queue is empty (for now) unless a signal came meanwhile.
          if (want > 0 && claimed.length < want && !this.dirty) this.exhausted = true;
          this.startJobs();
        } catch (err) {
          // The completions are retried with the next round trip; the jobs stay leased meanwhile.
          this.finished.unshift(...batch);
          if (!this.app.isClosing()) this.opts.log?.(`claiming server jobs failed: ${(err as Error).message}`);
          await this.sleep(1000);
        }
        continue;
      }
      await this.sleep(1000);
      // Let the other completions of the same batch land first: the next round trip then takes them all at once.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Waits for a wake (a signal, a job ending) or `ms`; after the full `ms`, the queue is looked at again (due retries). */
  private async sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.exhausted = false;
        done();
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      this.wake = done;
    });
  }

  /** Starts prefetched jobs while slots are free. */
  private startJobs(): void {
    while (this.running && this.inFlight.size < this.concurrency && this.prefetched.length > 0) {
      const job = this.prefetched.shift()!;
      const task = this.execute(job).finally(() => {
        this.inFlight.delete(task);
        this.startJobs();
        this.wake?.();
      });
      this.inFlight.add(task);
    }
  }

  private async execute(job: Job): Promise<void> {
    const handler = serverJobKindHandler(job.kind);
    const db = this.app.db;
    try {
      // A job prefetched behind slow ones starts with at least half its lease left.
      const leaseMs = this.opts.leaseMs ?? 120_000;
      if (Date.parse(job.lease_expires_at ?? '') - Date.now() < leaseMs / 2 && !(await heartbeatJobs(this.app, [job.id], this.owner, leaseMs)).has(job.id)) return;
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
      // Successes are recorded by the next round trip of the loop, many in one statement; the slot is free now.
      if (outcome.status === 'succeeded') this.finished.push({ id: job.id, result: outcome.result });
      else if ((await failJobAttempt(db, job, this.owner, outcome.error, outcome.status === 'retry')) === 'failed') await handler.closed?.(this.app, job);
    } catch (err) {
      if (this.app.isClosing()) return;
      this.opts.log?.(`server job ${job.id} (${job.kind}) failed: ${(err as Error).message}`);
      // No attempts left: the job's subject (a webhook delivery) is closed as failed.
      if ((await failJobAttempt(db, job, this.owner, (err as Error).message, true).catch(() => null)) === 'failed') await handler?.closed?.(this.app, job).catch(() => undefined);
    }
  }
}
