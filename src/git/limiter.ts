import { availableParallelism } from 'node:os';

/**
 * A concurrency limiter: at most `limit` tasks run at once, the rest wait in FIFO order. Expensive cold
 * git work (history walks, blame) goes through `coldWork`, so a burst of different cold requests queues
 * instead of multiplying processes that all slow each other down.
 */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  /** Tasks that had to wait for a slot. */
  queued = 0;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error('limit must be a positive integer');
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) {
      this.queued++;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.active++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter (active stays the same), else it is freed.
      if (next) next();
      else this.active--;
    }
  }

  get running(): number {
    return this.active;
  }

  get pending(): number {
    return this.waiting.length;
  }
}

/** The process-wide bound on expensive cold git work: one slot per core. */
export const coldWork = new Limiter(Math.max(1, availableParallelism()));
