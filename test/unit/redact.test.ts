import { describe, expect, it } from 'vitest';
import { encodedForms, redactor } from '../../src/runner/redact.ts';

const SECRET = 'sk-live-4f9a"quote\\slash/plus+eq=&amp ~tilde!';

describe('redactor (issue 16, point 18)', () => {
  it('replaces the base64 of the secret at each of the three alignments, with and without a trailing newline', () => {
    const redact = redactor([SECRET]);
    for (const prefix of ['', 'a', 'ab', 'abc']) {
      for (const suffix of ['', '\n', 'tail']) {
        const encoded = Buffer.from(`${prefix}${SECRET}${suffix}`).toString('base64');
        const out = redact(`before ${encoded} after`);
        expect(out, `${JSON.stringify(prefix)} … ${JSON.stringify(suffix)}`).toContain('[redacted]');
        expect(out.replace('[redacted]', '').length).toBeLessThanOrEqual(`before  after`.length + 12); // at most the edge characters remain
      }
    }
  });

  it('replaces hex (either case), URL-encodings and wrapped or cut pieces, and leaves other text alone', () => {
    const redact = redactor([SECRET]);
    const hex = Buffer.from(`${SECRET}\n`).toString('hex');
    expect(redact(hex.match(/.{1,60}/g)!.join('\n'))).not.toMatch(/[0-9a-f]{12}/);
    expect(redact(Buffer.from(SECRET).toString('hex').toUpperCase())).toBe('[redacted]');
    expect(redact(`k=${encodeURIComponent(SECRET)}&x=1`)).toBe('k=[redacted]&x=1');
    const wrapped = Buffer.from(`${SECRET}\n`).toString('base64').match(/.{1,20}/g)!.join('\n');
    expect(redact(wrapped).replace(/\[redacted\]|\n/g, '').length).toBeLessThan(4);
    expect(redact('an ordinary line of output, nothing secret here')).toBe('an ordinary line of output, nothing secret here');
    expect(redactor(['short'])(Buffer.from('short').toString('hex'))).toBe('73686f7274'); // too short to redact at all
    const shifted = Buffer.from(`x${SECRET}`).toString('base64');
    expect(encodedForms(SECRET).some((f) => f.length >= shifted.length - 6 && shifted.includes(f))).toBe(true);
  });

  it('keeps JSON valid when it redacts inside JSON text (the trace is redacted as JSON)', () => {
    const redact = redactor([SECRET]);
    const b64 = Buffer.from(`${SECRET}\n`).toString('base64');
    const event = { kind: 'log', data: { text: `${SECRET}\n${b64.slice(0, 40)}\n${b64.slice(40)}\n\t"${JSON.stringify({ key: SECRET })}"\\` } };
    const out = JSON.parse(redact(JSON.stringify(event))) as typeof event;
    expect(out.data.text).not.toContain(SECRET.slice(0, 12));
    expect(out.data.text).toContain('[redacted]');
  });
});
