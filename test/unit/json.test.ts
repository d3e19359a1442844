import { describe, expect, it } from 'vitest';
import { jsonNestingExceeds, MAX_JSON_DEPTH, parseJsonBody } from '../../src/domain/json.ts';

describe('JSON body depth bound', () => {
  it('counts nesting of arrays and objects, up to and past the limit', () => {
    const nested = (n: number) => '['.repeat(n) + ']'.repeat(n);
    expect(jsonNestingExceeds(nested(MAX_JSON_DEPTH))).toBe(false);
    expect(jsonNestingExceeds(nested(MAX_JSON_DEPTH + 1))).toBe(true);
    expect(jsonNestingExceeds('{"a":'.repeat(5) + '1' + '}'.repeat(5), 4)).toBe(true);
    expect(jsonNestingExceeds('{"a":'.repeat(5) + '1' + '}'.repeat(5), 5)).toBe(false);
    // Siblings do not add up: depth is nesting, not count.
    expect(jsonNestingExceeds(`[${'[1],'.repeat(10_000)}[1]]`, 2)).toBe(false);
  });

  it('ignores brackets inside strings, honouring escapes', () => {
    expect(jsonNestingExceeds(JSON.stringify({ text: '['.repeat(1000) + '{'.repeat(1000) }), 2)).toBe(false);
    expect(jsonNestingExceeds(JSON.stringify({ text: 'quote \\" then [[[[' }), 1)).toBe(false);
    expect(jsonNestingExceeds(JSON.stringify(['a\\', ['b"', ['c']]]), 2)).toBe(true);
    expect(jsonNestingExceeds(JSON.stringify(['a\\', ['b"', ['c']]]), 3)).toBe(false);
  });

  it('parseJsonBody: {} for empty text, 400 messages for too deep and malformed text', () => {
    expect(parseJsonBody('  ')).toEqual({ ok: true, value: {} });
    expect(parseJsonBody('{"a":[1,{"b":2}]}')).toEqual({ ok: true, value: { a: [1, { b: 2 }] } });
    const deep = parseJsonBody('['.repeat(500_000) + ']'.repeat(500_000));
    expect(deep).toEqual({ ok: false, message: expect.stringMatching(/nested too deeply/) });
    expect(parseJsonBody('{"a":')).toEqual({ ok: false, message: 'Problems parsing JSON' });
  });

  it('scans a megabyte in a few milliseconds', () => {
    const text = JSON.stringify({ items: Array.from({ length: 20_000 }, (_, i) => ({ id: i, name: `item ${i} [x] {y}` })) });
    expect(text.length).toBeGreaterThan(700_000);
    const started = performance.now();
    for (let i = 0; i < 10; i++) jsonNestingExceeds(text);
    const perScan = (performance.now() - started) / 10;
    expect(perScan).toBeLessThan(50);
  });
});
