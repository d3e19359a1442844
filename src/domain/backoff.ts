/**
 * Failure back-off: a leaky bucket of failures per key (an account, an address, a pair of both)
 * that locks the key for an exponentially growing time once it holds `free` failures.
 *
 * - Each failure adds one; one failure leaks out every `leakMs` (so a key is clean again after a quiet
 *   spell, and a trickle of failures slower than one per `leakMs` never locks it).
 * - Holding `free` or more failures locks the key for `baseMs · 2^(failures − free)`, at most `maxMs`,
 *   from the last failure.
 * - A success empties the key.
 * - An attempt is taken (`acquire`) before the slow check and settled (`release`) after it: attempts
 *   still in flight count as failures, so many parallel guesses cannot all start before the first
 *   one fails; over the limit, one attempt at a time.
 *
 * State is a Map in memory, bounded by `maxEntries` (the least recently touched keys go first). The
 * clock is passed in, so the rules can be tested without waiting.
 */
export interface BackoffOptions {
  free: number;
  leakMs: number;
  baseMs: number;
  maxMs: number;
  maxEntries?: number;
}

export type Outcome = 'failure' | 'success' | 'neutral';

export interface Backoff {
  /** Milliseconds until the key may try again (0: it may now). Read-only. */
  waitMs(key: string, now: number): number;
  /** Takes an attempt: 0 when it may go ahead (then `release` it exactly once), else the wait in ms. */
  acquire(key: string, now: number): number;
  /** Settles an acquired attempt: a failure counts (and may lock), a success empties the key. */
  release(key: string, now: number, outcome: Outcome): void;
  /** Counts a failure of a check that was not acquired (a fast one, where parallel attempts gain nothing). */
  fail(key: string, now: number): void;
  readonly size: number;
}

interface Entry {
  failures: number;
  /** When the last whole failure leaked out (or the first was recorded). */
  leakedAt: number;
  lastFailureAt: number;
  inFlight: number;
}

export function createBackoff(options: BackoffOptions): Backoff {
  const { free, leakMs, baseMs, maxMs } = options;
  const maxEntries = options.maxEntries ?? 100_000;
  const entries = new Map<string, Entry>();

  /** The entry, less the failures that leaked out since it was last touched; undefined when clean. */
  function current(key: string, now: number): Entry | undefined {
    const entry = entries.get(key);
    if (!entry) return undefined;
    const leaked = Math.floor((now - entry.leakedAt) / leakMs);
    if (leaked > 0) {
      entry.failures = Math.max(0, entry.failures - leaked);
      entry.leakedAt += leaked * leakMs;
    }
    if (entry.failures === 0 && entry.inFlight === 0) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  }

  function lockedFor(entry: Entry, now: number): number {
    if (entry.failures < free) return 0;
    const lock = Math.min(maxMs, baseMs * 2 ** Math.min(entry.failures - free, 40));
    return Math.max(0, entry.lastFailureAt + lock - now);
  }

  function addFailure(entry: Entry, now: number): void {
    if (entry.failures === 0) entry.leakedAt = now;
    entry.failures++;
    entry.lastFailureAt = now;
  }

  function touch(key: string, entry: Entry): void {
    // A Map iterates in insertion order: re-inserting what is touched keeps the stalest keys first.
    entries.delete(key);
    entries.set(key, entry);
    if (entries.size <= maxEntries) return;
    let excess = entries.size - maxEntries + Math.ceil(maxEntries / 10);
    for (const [k, e] of entries) {
      if (excess <= 0) break;
      if (e.inFlight > 0) continue;
      entries.delete(k);
      excess--;
    }
  }

  return {
    waitMs(key, now) {
      const entry = current(key, now);
      return entry ? lockedFor(entry, now) : 0;
    },
    acquire(key, now) {
      const entry = current(key, now) ?? { failures: 0, leakedAt: now, lastFailureAt: 0, inFlight: 0 };
      const locked = lockedFor(entry, now);
      if (locked > 0) return locked;
      // In-flight attempts may all fail: below the limit they may fill it, over it only one runs at a time.
      if (entry.inFlight > 0 && entry.failures + entry.inFlight >= Math.max(free, entry.failures + 1)) return baseMs;
      entry.inFlight++;
      touch(key, entry);
      return 0;
    },
    release(key, now, outcome) {
      const entry = current(key, now);
      if (!entry) return;
      entry.inFlight = Math.max(0, entry.inFlight - 1);
      if (outcome === 'success') {
        entries.delete(key);
        return;
      }
      if (outcome === 'failure') addFailure(entry, now);
      if (entry.failures === 0 && entry.inFlight === 0) entries.delete(key);
      else touch(key, entry);
    },
    fail(key, now) {
      const entry = current(key, now) ?? { failures: 0, leakedAt: now, lastFailureAt: 0, inFlight: 0 };
      addFailure(entry, now);
      touch(key, entry);
    },
    get size() {
      return entries.size;
    },
  };
}
