/**
 * Search queries as GitHub writes them: free text (words and "quoted phrases") with `key:value`
 * qualifiers — `repo:owner/name`, `user:`/`org:`/`owner:`, `path:`, `language:`, `extension:`,
 * `is:`/`state:`/`type:`, `in:`. Pure: no I/O. Unknown `key:value` pairs stay text (a URL is searchable).
 */

export const SEARCH_TYPES = ['repositories', 'code', 'issues'] as const;
export type SearchType = (typeof SEARCH_TYPES)[number];

export const MAX_QUERY_LENGTH = 256;

export interface SearchQuery {
  /** The free text with qualifiers removed, words joined by single spaces (phrases unquoted). */
  text: string;
  /** Words and phrases of the free text, in order. */
  terms: string[];
  /** `repo:owner/name` (any of them). */
  repos: { owner: string; name: string }[];
  /** `user:`, `org:`, `owner:` (any of them). */
  owners: string[];
  /** `path:` prefixes or globs. */
  paths: string[];
  /** File extensions from `language:` and `extension:` (without the dot). */
  extensions: string[];
  /** `is:open`/`state:open` etc.; null when not given. */
  state: 'open' | 'closed' | 'merged' | null;
  /** `is:pr`/`type:pr` or `is:issue`/`type:issue`; null for both. */
  kind: 'pr' | 'issue' | null;
  /** `is:public` / `is:private`; null for both. */
  visibility: 'public' | 'private' | null;
  /** `in:name`, `in:description`, `in:title`, `in:body` (empty: everywhere). */
  inFields: string[];
}

export type ParsedSearchQuery = { ok: true; query: SearchQuery } | { ok: false; message: string };

/** Extensions searched for a `language:` qualifier (GitHub's language names, lower-cased). */
const LANGUAGE_EXTENSIONS: Record<string, string[]> = {
  typescript: ['ts', 'tsx', 'mts', 'cts'],
  javascript: ['js', 'jsx', 'mjs', 'cjs'],
  python: ['py', 'pyi'],
  go: ['go'],
  rust: ['rs'],
  ruby: ['rb'],
  java: ['java'],
  kotlin: ['kt', 'kts'],
  c: ['c', 'h'],
  'c++': ['cc', 'cpp', 'cxx', 'hpp', 'hh', 'hxx', 'h'],
  cpp: ['cc', 'cpp', 'cxx', 'hpp', 'hh', 'hxx', 'h'],
  'c#': ['cs'],
  csharp: ['cs'],
  php: ['php'],
  swift: ['swift'],
  shell: ['sh', 'bash', 'zsh'],
  bash: ['sh', 'bash'],
  markdown: ['md', 'markdown'],
  html: ['html', 'htm'],
  css: ['css'],
  scss: ['scss'],
  json: ['json'],
  yaml: ['yml', 'yaml'],
  toml: ['toml'],
  sql: ['sql'],
  haskell: ['hs'],
  elixir: ['ex', 'exs'],
  lua: ['lua'],
  scala: ['scala'],
  dart: ['dart'],
  zig: ['zig'],
};

export function languageExtensions(language: string): string[] | null {
  return LANGUAGE_EXTENSIONS[language.toLowerCase()] ?? null;
}

const QUALIFIERS = new Set(['repo', 'user', 'org', 'owner', 'path', 'language', 'lang', 'extension', 'ext', 'is', 'state', 'type', 'in']);

/** Splits a query into tokens: whitespace-separated, with "double-quoted phrases" (also as qualifier values: path:"a b"). */
export function tokenize(input: string): { token: string; quoted: boolean; startsQuoted: boolean }[] {
  const tokens: { token: string; quoted: boolean; startsQuoted: boolean }[] = [];
  let i = 0;
  while (i < input.length) {
    while (i < input.length && /\s/.test(input[i]!)) i++;
    if (i >= input.length) break;
    let token = '';
    let quoted = false;
    const startsQuoted = input[i] === '"';
    while (i < input.length && !/\s/.test(input[i]!)) {
      if (input[i] === '"') {
        const end = input.indexOf('"', i + 1);
        if (end < 0) {
          // An unbalanced quote: the rest of the input is the phrase.
          token += input.slice(i + 1);
          i = input.length;
        } else {
          token += input.slice(i + 1, end);
          i = end + 1;
        }
        quoted = true;
      } else {
        token += input[i];
        i++;
      }
    }
    if (token !== '' || quoted) tokens.push({ token, quoted, startsQuoted });
  }
  return tokens;
}

/**
 * Parses a search query. Fails (with a message for a 422) when it is empty, too long, contains a control
 * character, or gives a qualifier a value it cannot have.
 */
export function parseSearchQuery(input: string | undefined | null): ParsedSearchQuery {
  const raw = (input ?? '').trim();
  if (raw === '') return { ok: false, message: 'q is required: give words to search for' };
  if (raw.length > MAX_QUERY_LENGTH) return { ok: false, message: `q is too long (maximum is ${MAX_QUERY_LENGTH} characters)` };
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(raw)) return { ok: false, message: 'q must not contain control characters' };
  const query: SearchQuery = { text: '', terms: [], repos: [], owners: [], paths: [], extensions: [], state: null, kind: null, visibility: null, inFields: [] };
  for (const { token, startsQuoted } of tokenize(raw)) {
    const colon = token.indexOf(':');
    const key = colon > 0 ? token.slice(0, colon).toLowerCase() : '';
    // "repo:x" in quotes is text; path:"a b" is a qualifier with a quoted value.
    if (colon > 0 && QUALIFIERS.has(key) && !startsQuoted) {
      const value = token.slice(colon + 1);
      if (value === '') return { ok: false, message: `the ${key}: qualifier needs a value` };
      const problem = applyQualifier(query, key, value);
      if (problem) return { ok: false, message: problem };
      continue;
    }
    if (token !== '') query.terms.push(token);
  }
  query.text = query.terms.join(' ');
  return { ok: true, query };
}

function applyQualifier(query: SearchQuery, key: string, value: string): string | null {
  const lower = value.toLowerCase();
  switch (key) {
    case 'repo': {
      const m = /^([^/\s]+)\/([^/\s]+)$/.exec(value);
      if (!m) return `repo: expects owner/name, got "${value}"`;
      query.repos.push({ owner: m[1]!, name: m[2]! });
      return null;
    }
    case 'user':
    case 'org':
    case 'owner':
      if (value.includes('/')) return `${key}: expects a user name, got "${value}"`;
      query.owners.push(value);
      return null;
    case 'path': {
      const path = value.replace(/^\/+/, '');
      if (path.split('/').includes('..')) return 'path: must not contain ".."';
      if (path !== '') query.paths.push(path);
      return null;
    }
    case 'language':
    case 'lang': {
      const exts = languageExtensions(lower);
      if (!exts) return `unknown language "${value}" (try extension:EXT)`;
      for (const ext of exts) if (!query.extensions.includes(ext)) query.extensions.push(ext);
      return null;
    }
    case 'extension':
    case 'ext': {
      const ext = lower.replace(/^\./, '');
      if (!/^[a-z0-9_+-]{1,16}$/.test(ext)) return `extension: expects a file extension, got "${value}"`;
      if (!query.extensions.includes(ext)) query.extensions.push(ext);
      return null;
    }
    case 'state':
    case 'is':
    case 'type': {
      if (lower === 'open' || lower === 'closed' || lower === 'merged') query.state = lower;
      else if (lower === 'pr' || lower === 'pull-request' || lower === 'pullrequest') query.kind = 'pr';
      else if (lower === 'issue') query.kind = 'issue';
      else if (key === 'is' && (lower === 'public' || lower === 'private')) query.visibility = lower;
      else return `${key}:${value} is not supported`;
      return null;
    }
    case 'in': {
      for (const field of lower.split(',')) {
        if (!['name', 'description', 'title', 'body', 'readme', 'file', 'path'].includes(field)) return `in:${field} is not supported`;
        if (!query.inFields.includes(field)) query.inFields.push(field);
      }
      return null;
    }
  }
  return null;
}

/** Escapes LIKE's wildcards (`%`, `_`) and the escape character itself, for `LIKE ? ESCAPE '\'`. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}

/** Where `needle` occurs in `haystack`, case-insensitively, as [start, end) ranges (non-overlapping). */
export function matchRanges(haystack: string, needle: string, limit = 20): [number, number][] {
  if (needle === '') return [];
  const h = haystack.toLowerCase();
  const n = needle.toLowerCase();
  // Lower-casing can change lengths outside ASCII; fall back to an exact search then.
  const folded = h.length === haystack.length && n.length === needle.length;
  const hay = folded ? h : haystack;
  const pin = folded ? n : needle;
  const ranges: [number, number][] = [];
  let from = 0;
  while (ranges.length < limit) {
    const at = hay.indexOf(pin, from);
    if (at < 0) break;
    ranges.push([at, at + pin.length]);
    from = at + pin.length;
  }
  return ranges;
}
