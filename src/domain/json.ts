/**
 * Parsing JSON request bodies safely. JSON.parse itself copes with deep nesting, but everything that
 * walks the result afterwards (validation, NUL checks, JSON.stringify when the value is stored or
 * echoed) recurses, and 100k levels of `[[[…` overflow the stack: a 500 and a busy event loop. So the
 * nesting depth is bounded with a linear scan of the text before anything is parsed.
 */

/** Deepest nesting of arrays/objects a request body may have. Real payloads stay far below this. */
export const MAX_JSON_DEPTH = 100;

const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \
const OPEN_BRACKET = 0x5b; // [
const OPEN_BRACE = 0x7b; // {
const CLOSE_BRACKET = 0x5d; // ]
const CLOSE_BRACE = 0x7d; // }

/**
 * Whether the text opens more than `max` arrays/objects inside one another. Brackets inside strings
 * do not count (escapes are honoured). One pass over the text, no allocation; it stops at the first
 * level too deep. Malformed text is left for JSON.parse to refuse.
 */
export function jsonNestingExceeds(text: string, max: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === BACKSLASH) i++;
      else if (ch === QUOTE) inString = false;
    } else if (ch === QUOTE) {
      inString = true;
    } else if (ch === OPEN_BRACKET || ch === OPEN_BRACE) {
      if (++depth > max) return true;
    } else if (ch === CLOSE_BRACKET || ch === CLOSE_BRACE) {
      depth--;
    }
  }
  return false;
}

export type JsonBodyResult = { ok: true; value: unknown } | { ok: false; message: string };

/**
 * Parses a request body: empty text is `{}`; text nested deeper than `maxDepth` is refused before
 * parsing; malformed text is refused. The messages are for a 400 answer.
 */
export function parseJsonBody(text: string, maxDepth: number = MAX_JSON_DEPTH): JsonBodyResult {
  if (text.trim() === '') return { ok: true, value: {} };
  if (jsonNestingExceeds(text, maxDepth)) return { ok: false, message: `Problems parsing JSON: nested too deeply (more than ${maxDepth} levels)` };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, message: 'Problems parsing JSON' };
  }
}
