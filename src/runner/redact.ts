/**
 * Redaction of secrets (the job token, the driver's credentials) from everything a runner reports:
 * trace events, summaries, error messages. An agent prints a secret in ordinary ways — as it is,
 * JSON-escaped, URL-encoded, in hex (`xxd -p`, `od`), in base64 (`printenv KEY | base64`: after any
 * number of leading bytes and with the trailing newline) — and line-wrapped (`base64` wraps at 76
 * columns, `xxd -p` at 60) or cut across trace events. Every one of those forms is replaced.
 */

const MARK = '[redacted]';
/** A piece of an encoded secret at least this long is redacted on its own (a wrapped line, a cut event). */
export const MIN_PIECE = 12;

/** The base64 characters that depend only on `input` when it follows `offset` other bytes (and precedes any). */
function base64Core(input: Buffer, offset: number): string {
  const encoded = Buffer.concat([Buffer.alloc(offset), input]).toString('base64');
  return encoded.slice(Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + input.length)) / 6));
}

/** The forms a secret takes in ordinary output. */
export function encodedForms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const forms = new Set<string>([secret, JSON.stringify(secret).slice(1, -1)]);
  // URL encoders differ: JavaScript keeps ! ' ( ) *, RFC 3986 encoders (jq, curl) do not; some keep '/' or write spaces as '+'.
  const url = encodeURIComponent(secret);
  for (const base of [url, url.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)]) {
    for (const u of [base, base.replace(/%2F/g, '/'), base.replace(/%20/g, '+')]) {
      forms.add(u);
      forms.add(u.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
    }
  }
  const hex = bytes.toString('hex');
  forms.add(hex);
  forms.add(hex.toUpperCase());
  for (const input of [bytes, Buffer.concat([bytes, Buffer.from('\n')])]) {
    forms.add(input.toString('base64')); // whole, with its padding
    forms.add(input.toString('base64url'));
    for (let offset = 0; offset < 3; offset++) {
      const core = base64Core(input, offset);
      forms.add(core);
      forms.add(core.replace(/\+/g, '-').replace(/\//g, '_')); // base64url
    }
  }
  return [...forms].filter((f) => f.length >= 8);
}

/** Line breaks a wrapped encoding may carry, raw or JSON-escaped (redaction also runs over JSON text). */
const BREAK = /\r?\n|\\r\\n|\\n/g;

/**
 * A redactor for `secrets` (those shorter than 8 characters are ignored: too likely to occur by chance).
 * Whole forms are replaced first; then any run of text that is a piece (at least MIN_PIECE characters)
 * of a form once line breaks are ignored.
 */
export function redactor(secrets: string[]): (text: string) => string {
  const forms = [...new Set(secrets.filter((s) => s.length >= 8).flatMap(encodedForms))].sort((a, b) => b.length - a.length);
  const pieces = new Set<string>();
  for (const form of forms) {
    for (let i = 0; i + MIN_PIECE <= form.length; i++) {
      const piece = form.slice(i, i + MIN_PIECE);
      // Pieces never hold a backslash or a quote, so replacing one cannot cut a JSON escape in two.
      if (!/[\\"\u0000-\u001f]/.test(piece)) pieces.add(piece);
    }
  }
  return (text) => {
    let out = text;
    for (const form of forms) if (out.includes(form)) out = out.split(form).join(MARK);
    if (pieces.size === 0 || out.length < MIN_PIECE) return out;
    // The text without line breaks, and where each of its characters is in `out`.
    const kept: number[] = [];
    let flat = '';
    let last = 0;
    for (const m of out.matchAll(BREAK)) {
      for (let i = last; i < m.index; i++) kept.push(i);
      flat += out.slice(last, m.index);
      last = m.index + m[0].length;
    }
    for (let i = last; i < out.length; i++) kept.push(i);
    flat += out.slice(last);
    const ranges: [number, number][] = [];
    for (let i = 0; i + MIN_PIECE <= flat.length; i++) {
      if (!pieces.has(flat.slice(i, i + MIN_PIECE))) continue;
      const range = ranges[ranges.length - 1];
      if (range && i <= range[1]) range[1] = i + MIN_PIECE;
      else ranges.push([i, i + MIN_PIECE]);
    }
    if (ranges.length === 0) return out;
    let result = '';
    let at = 0;
    for (const [from, to] of ranges) {
      let start = kept[from]!;
      const end = kept[to - 1]! + 1;
      if (out[start - 1] === '\\') start++; // the character after a backslash is part of an escape: leave it
      if (start >= end) continue;
      // The line breaks inside the piece are kept: the text's lines stay as they were, each piece marked.
      result += out.slice(at, start) + MARK + (out.slice(start, end).match(BREAK) ?? []).join('');
      at = end;
    }
    return result + out.slice(at);
  };
}
