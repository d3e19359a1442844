import { randomBytes } from 'node:crypto';

/**
 * Text in an agent's prompt that someone other than the prompt's principal wrote (a pull request's
 * title, description, branch names…) is data, never instructions. It is wrapped in a delimited region
 *
 *   <untrusted-data id="NONCE" source="pull request description">
 *   …
 *   </untrusted-data id="NONCE">
 *
 * where NONCE is fresh random per rendered prompt: the text inside cannot guess it, so it can neither
 * close its region early nor forge one. Anything that acts on a prompt mechanically (the scripted
 * driver) drops these regions first with `withoutUntrustedData`.
 */
export function untrustedNonce(): string {
  return randomBytes(16).toString('hex');
}

const NONCE = /^[0-9a-f]{32}$/;
const OPEN = /<untrusted-data id="([0-9a-f]{32})"[^>\n]*>/g;

/** Wraps `text` (verbatim) in an untrusted-data region; `source` says where it came from (our own words, not user text). */
export function untrustedBlock(nonce: string, source: string, text: string): string {
  if (!NONCE.test(nonce)) throw new Error('untrusted-data nonce must be 32 hex digits');
  const label = source.replace(/[^a-z0-9 _-]/gi, ' ');
  return `<untrusted-data id="${nonce}" source="${label}">\n${text}\n</untrusted-data id="${nonce}">`;
}

/**
 * The prompt with every untrusted-data region removed, scanning left to right: a region ends only at
 * the closing tag with its own nonce, and a region that is never closed runs to the end of the text.
 */
export function withoutUntrustedData(text: string): string {
  let out = '';
  let pos = 0;
  for (;;) {
    OPEN.lastIndex = pos;
    const m = OPEN.exec(text);
    if (!m) return out + text.slice(pos);
    out += text.slice(pos, m.index);
    const close = `</untrusted-data id="${m[1]}">`;
    const end = text.indexOf(close, OPEN.lastIndex);
    if (end < 0) return out;
    pos = end + close.length;
  }
}
