import { describe, expect, it } from 'vitest';
import { LruCache } from '../../src/git/lru.ts';
import { SingleFlight } from '../../src/git/singleFlight.ts';
import { Limiter } from '../../src/git/limiter.ts';
import { cacheStats } from '../../src/git/cacheStats.ts';
import { capturesFromTrailers, namesKnownAi } from '../../src/domain/aiProvenance.ts';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('LruCache', () => {
  it('evicts the least recently used entry by count and by weight, and counts hits and misses', () => {
    const lru = new LruCache<string, number>(2, 10, 'test.lru');
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1);
    lru.set('c', 3);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe(1);
    lru.set('heavy', 4, 9);
    // Over the count (3 > 2): the oldest ("c") goes; a + heavy weigh exactly the limit.
    expect(lru.size).toBe(2);
    expect(lru.get('c')).toBeUndefined();
    lru.set('too-heavy', 5, 11);
    expect(lru.get('too-heavy')).toBeUndefined();
    expect(lru.stats()).toMatchObject({ entries: 2, maxEntries: 2, weight: 10, maxWeight: 10, hits: 2, misses: 3 });
    expect(cacheStats()['test.lru']).toMatchObject({ entries: 2, hits: 2 });
    lru.deleteWhere((k) => k === 'heavy');
    expect(lru.stats()).toMatchObject({ entries: 1, weight: 1 });
  });
});

describe('SingleFlight', () => {
  it('shares one computation among concurrent calls with the same key, and forgets it once settled', async () => {
    const flight = new SingleFlight<string, number>();
    let calls = 0;
    const compute = async () => {
      calls++;
      await tick();
      return 42;
    };
    const results = await Promise.all([flight.run('k', compute), flight.run('k', compute), flight.run('k', compute), flight.run('other', compute)]);
    expect(results).toEqual([42, 42, 42, 42]);
    expect(calls).toBe(2);
    expect(flight.shared).toBe(2);
    expect(flight.size).toBe(0);
    await flight.run('k', compute);
    expect(calls).toBe(3);
  });

  it('passes a failure to every waiter and does not keep it', async () => {
    const flight = new SingleFlight<string, number>();
    let calls = 0;
    const failing = async () => {
      calls++;
      await tick();
      throw new Error('boom');
    };
    const settled = await Promise.allSettled([flight.run('k', failing), flight.run('k', failing)]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    await expect(flight.run('k', async () => 1)).resolves.toBe(1);
  });
});

describe('Limiter', () => {
  it('runs at most `limit` tasks at once, in FIFO order, and frees slots after failures', async () => {
    const limiter = new Limiter(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    const task = (n: number, fail = false) => async () => {
      active++;
      peak = Math.max(peak, active);
      await tick();
      active--;
      order.push(n);
      if (fail) throw new Error(`task ${n}`);
      return n;
    };
    const results = await Promise.allSettled([1, 2, 3, 4, 5, 6].map((n) => limiter.run(task(n, n === 2))));
    expect(peak).toBe(2);
    expect(results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value)).toEqual([1, 3, 4, 5, 6]);
    expect(order.slice(0, 2).sort()).toEqual([1, 2]);
    expect(limiter.queued).toBe(4);
    expect(limiter.running).toBe(0);
    expect(limiter.pending).toBe(0);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => new Limiter(0)).toThrow();
    expect(() => new Limiter(1.5)).toThrow();
  });
});

describe('Assisted-by trailers: AI only when they name a known agent or model', () => {
  it('tells agents and models from people', () => {
    for (const ai of ['Claude:claude-3-opus', 'Claude Code (claude-opus-4)', 'Copilot', 'aider (gpt-4o)', 'Cursor', 'Gemini:gemini-2.5-pro coccinelle', 'OpenCode:qwen3-coder', 'GPT-4o', 'ChatGPT', 'Codex <noreply@openai.com>', 'MyTool:gpt-5', 'Devin AI', 'o3-mini', 'deepseek-coder']) {
      expect(namesKnownAi(ai), ai).toBe(true);
    }
    for (const person of ['Jane Doe <jane@example.com>', 'Junio C Hamano <gitster@pobox.com>', 'Devin Smith <devin@example.com>', 'Jules Verne', 'John Smith <john@openai.com>', 'Kimi Räikkönen', 'Ævar Arnfjörð Bjarmason <avarab@gmail.com>', 'Amplify Team']) {
      expect(namesKnownAi(person), person).toBe(false);
    }
  });

  it('records no capture for a person and keeps the ones naming AI', () => {
    const human = capturesFromTrailers('Fix a leak\n\nAssisted-by: Jeff King <peff@peff.net>\nGenerated-by: Jane Doe\nSigned-off-by: A <a@x>');
    expect(human).toEqual({ captures: [], warnings: [] });
    const mixed = capturesFromTrailers('Fix\n\nAssisted-by: Jeff King <peff@peff.net>\nAssisted-by: Claude:claude-sonnet-4\nAI-assisted-by: MyTool:gpt-4o');
    expect(mixed.captures.map((c) => [c.sourceFamily, c.model])).toEqual([
      ['claude', 'claude-sonnet-4'],
      ['mytool', 'gpt-4o'],
    ]);
    expect(capturesFromTrailers('Fix\n\nAssisted-by: <x@y>').warnings).toHaveLength(1);
  });
});
