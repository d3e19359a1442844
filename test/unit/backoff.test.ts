import { describe, expect, it } from 'vitest';
import { createBackoff } from '../../src/domain/backoff.ts';

/** One failed attempt: take it, then settle it as a failure. */
function failOnce(b: ReturnType<typeof createBackoff>, key: string, now: number): number {
  const wait = b.acquire(key, now);
  if (wait === 0) b.release(key, now, 'failure');
  return wait;
}

describe('failure back-off (leaky bucket)', () => {
  const options = { free: 3, baseMs: 1000, maxMs: 8000, leakMs: 60_000 };

  it('lets `free` failures through, then locks for base · 2^n, capped at max', () => {
    const b = createBackoff(options);
    let t = 0;
    for (let i = 0; i < 3; i++) expect(failOnce(b, 'k', t)).toBe(0);
    expect(b.waitMs('k', t)).toBe(1000);
    expect(b.acquire('k', t + 999)).toBe(1);
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      t += b.waitMs('k', t); // wait out the lock, fail again
      expect(failOnce(b, 'k', t)).toBe(0);
      waits.push(b.waitMs('k', t));
    }
    expect(waits).toEqual([2000, 4000, 8000, 8000, 8000, 8000]);
    // Other keys are untouched.
    expect(b.acquire('other', t)).toBe(0);
  });

  it('a success empties the key; a neutral outcome changes nothing', () => {
    const b = createBackoff(options);
    failOnce(b, 'k', 0);
    failOnce(b, 'k', 0);
    expect(b.acquire('k', 0)).toBe(0);
    b.release('k', 0, 'success');
    expect(b.size).toBe(0);
    failOnce(b, 'k', 0);
    failOnce(b, 'k', 0);
    expect(b.acquire('k', 0)).toBe(0);
    b.release('k', 0, 'neutral');
    expect(b.waitMs('k', 0)).toBe(0); // still two failures: a third locks
    failOnce(b, 'k', 0);
    expect(b.waitMs('k', 0)).toBe(1000);
  });

  it('forgives one failure per leak interval, and forgets a quiet key', () => {
    const b = createBackoff(options);
    for (let i = 0; i < 3; i++) failOnce(b, 'k', 0);
    // After one leak interval only two failures remain: no lock, and the next failure locks for base again.
    expect(b.waitMs('k', 60_000)).toBe(0);
    failOnce(b, 'k', 60_000);
    expect(b.waitMs('k', 60_000)).toBe(1000);
    expect(b.waitMs('k', 60_000 + 4 * 60_000)).toBe(0);
    expect(b.size).toBe(0);
  });

  it('counts attempts in flight, so parallel guesses cannot all start before the first fails', () => {
    const b = createBackoff(options);
    expect([b.acquire('k', 0), b.acquire('k', 0), b.acquire('k', 0)]).toEqual([0, 0, 0]);
    expect(b.acquire('k', 0)).toBe(1000); // a fourth would exceed the free failures
    for (let i = 0; i < 3; i++) b.release('k', 10, 'failure');
    // Over the limit, once the lock passes, one attempt at a time.
    const t = 10 + b.waitMs('k', 10);
    expect(b.acquire('k', t)).toBe(0);
    expect(b.acquire('k', t)).toBe(1000);
    b.release('k', t, 'failure');
    expect(b.waitMs('k', t)).toBe(2000);
  });

  it('fail() counts a failure that was never acquired, with the same locks', () => {
    const b = createBackoff(options);
    for (let i = 0; i < 3; i++) b.fail('k', 0);
    expect(b.waitMs('k', 0)).toBe(1000);
    expect(b.acquire('k', 500)).toBe(500);
    b.fail('k', 1000);
    expect(b.waitMs('k', 1000)).toBe(2000);
  });

  it('stays bounded: the least recently touched keys go first, never one in flight', () => {
    const b = createBackoff({ ...options, maxEntries: 100 });
    expect(b.acquire('busy', 0)).toBe(0);
    for (let i = 0; i < 1000; i++) failOnce(b, `k${i}`, 0);
    expect(b.size).toBeLessThanOrEqual(100);
    b.release('busy', 0, 'failure');
    expect(b.size).toBeLessThanOrEqual(101);
    failOnce(b, 'busy', 0);
    failOnce(b, 'busy', 0);
    expect(b.waitMs('busy', 0)).toBe(1000); // its three failures survived the eviction
  });
});
