import { createRequire } from 'node:module';
import type { HLJSApi } from 'highlight.js';
import { LruCache } from '../../git/lru.ts';

/**
 * Server-side syntax highlighting (highlight.js, common languages). The output is HTML made only of
 * `<span class="hljs-…">` and text that highlight.js (or escapeHtml, for plain text) has escaped:
 * this module is the one place besides renderMarkdown whose output pages insert as HTML.
 */

/** highlight.js, loaded on the first highlighted page (~350 ms of imports a server start, a CLI call or a runner never needs). */
let loaded: HLJSApi | null = null;
function hljs(): HLJSApi {
  return (loaded ??= createRequire(import.meta.url)('highlight.js/lib/common') as HLJSApi);
}

const BY_EXTENSION: Record<string, string> = {
  ts: 'typescript', tsx: 'typescript', mts: 'typescript', cts: 'typescript',
  js: 'javascript', jsx: 'javascript', mjs: 'javascript', cjs: 'javascript',
  json: 'json', jsonc: 'json', json5: 'json',
  py: 'python', pyi: 'python', rb: 'ruby', go: 'go', rs: 'rust', java: 'java', kt: 'kotlin', kts: 'kotlin',
  c: 'c', h: 'c', cc: 'cpp', cpp: 'cpp', cxx: 'cpp', hpp: 'cpp', hh: 'cpp', cs: 'csharp', m: 'objectivec', mm: 'objectivec',
  swift: 'swift', php: 'php', pl: 'perl', pm: 'perl', lua: 'lua', r: 'r', sql: 'sql', graphql: 'graphql', gql: 'graphql',
  sh: 'bash', bash: 'bash', zsh: 'bash', ksh: 'bash',
  css: 'css', scss: 'scss', less: 'less',
  html: 'xml', htm: 'xml', xml: 'xml', svg: 'xml', xsl: 'xml', vue: 'xml', svelte: 'xml',
  md: 'markdown', markdown: 'markdown', mdown: 'markdown', mkd: 'markdown',
  yml: 'yaml', yaml: 'yaml', toml: 'ini', ini: 'ini', cfg: 'ini', conf: 'ini', properties: 'ini', editorconfig: 'ini',
  diff: 'diff', patch: 'diff', mk: 'makefile', vb: 'vbnet', wat: 'wasm',
};

const BY_NAME: Record<string, string> = {
  makefile: 'makefile', gnumakefile: 'makefile', dockerfile: 'bash', gemfile: 'ruby', rakefile: 'ruby', '.gitconfig': 'ini', '.bashrc': 'bash', '.profile': 'bash', '.zshrc': 'bash',
};

/** The highlight.js language for a file path, or null for plain text. */
export function languageFor(path: string): string | null {
  const name = (path.split('/').pop() ?? '').toLowerCase();
  if (BY_NAME[name]) return BY_NAME[name]!;
  const dot = name.lastIndexOf('.');
  if (dot < 0) return null;
  const lang = BY_EXTENSION[name.slice(dot + 1)];
  return lang && hljs().getLanguage(lang) ? lang : null;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch]!);
}

/** Beyond these, files are shown as escaped plain text: highlighting would cost more than it helps. */
const MAX_HIGHLIGHT_BYTES = 400 * 1024;
const MAX_HIGHLIGHT_LINES = 20_000;

const TOKEN = /<span class="([^"]*)">|<\/span>|\n/g;

/** Splits highlight.js HTML into one fragment per line, closing and reopening spans that cross lines. */
export function splitHighlighted(html: string): string[] {
  const lines: string[] = [];
  const open: string[] = [];
  let current = '';
  let last = 0;
  for (const m of html.matchAll(TOKEN)) {
    current += html.slice(last, m.index);
    last = m.index + m[0].length;
    if (m[0] === '\n') {
      lines.push(current + '</span>'.repeat(open.length));
      current = open.map((cls) => `<span class="${cls}">`).join('');
    } else if (m[0] === '</span>') {
      open.pop();
      current += m[0];
    } else {
      open.push(m[1]!);
      current += m[0];
    }
  }
  current += html.slice(last);
  lines.push(current);
  return lines;
}

const cache = new LruCache<string, string[]>(2_000, 48 * 1024 * 1024);

/** Escaped, highlighted HTML for each line of `text` (a final newline does not make an empty last line). */
export function highlightLines(text: string, language: string | null, cacheKey?: string): string[] {
  const key = cacheKey ? `${language ?? ''}\0${cacheKey}` : null;
  if (key) {
    const hit = cache.get(key);
    if (hit) return hit;
  }
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  let lines: string[];
  const lineCount = body.length === 0 ? 0 : body.split('\n', MAX_HIGHLIGHT_LINES + 1).length;
  if (!language || body.length > MAX_HIGHLIGHT_BYTES || lineCount > MAX_HIGHLIGHT_LINES) {
    lines = body.split('\n').map((l) => escapeHtml(l.endsWith('\r') ? l.slice(0, -1) : l));
  } else {
    const html = hljs().highlight(body.replace(/\r\n/g, '\n'), { language, ignoreIllegals: true }).value;
    lines = splitHighlighted(html);
  }
  if (body.length === 0) lines = [];
  if (key) cache.set(key, lines, lines.reduce((n, l) => n + l.length + 16, 0));
  return lines;
}
