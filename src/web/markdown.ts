import { Marked, type Token, type Tokens } from 'marked';
import sanitizeHtml from 'sanitize-html';
import { isValidRepositoryName, isValidUsername } from '../domain/names.ts';

/** GitHub-flavoured markdown; raw HTML passes through marked and is then sanitized. */
const marked = new Marked({ gfm: true, breaks: false, async: false });

const SANITIZE: sanitizeHtml.IOptions = {
  allowedTags: [
    'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'p', 'br', 'hr', 'blockquote', 'pre', 'code', 'kbd', 'samp', 'var',
    'b', 'i', 'strong', 'em', 'del', 's', 'ins', 'mark', 'sub', 'sup', 'small', 'abbr', 'q', 'cite', 'dfn',
    'ul', 'ol', 'li', 'dl', 'dt', 'dd', 'a', 'img', 'picture', 'source',
    'table', 'thead', 'tbody', 'tfoot', 'tr', 'th', 'td', 'caption', 'colgroup', 'col',
    'details', 'summary', 'div', 'span', 'figure', 'figcaption', 'input',
  ],
  allowedAttributes: {
    a: ['href', 'title', 'name', 'id', 'class'],
    img: ['src', 'alt', 'title', 'width', 'height', 'align'],
    source: ['srcset', 'media', 'type'],
    code: ['class'],
    pre: ['lang'],
    th: ['align', 'colspan', 'rowspan'],
    td: ['align', 'colspan', 'rowspan'],
    ol: ['start'],
    li: ['value'],
    details: ['open'],
    input: ['type', 'checked', 'disabled'],
    abbr: ['title'],
    p: ['align'],
    div: ['align'],
    h1: ['id'], h2: ['id'], h3: ['id'], h4: ['id'], h5: ['id'], h6: ['id'],
  },
  // The reference links below carry these classes (a user writing them by hand gains nothing).
  allowedClasses: { code: [/^language-[\w+#.-]+$/], a: ['issue-ref', 'user-mention'] },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesByTag: { img: ['http', 'https'], source: ['http', 'https'] },
  allowedSchemesAppliedToAttributes: ['href', 'src', 'cite', 'srcset'],
  allowProtocolRelative: false,
  disallowedTagsMode: 'discard',
  transformTags: {
    // Links off the site get rel=nofollow; fragments and local paths (references) do not need it.
    a: (tagName, attribs) => ({ tagName, attribs: attribs.href && !/^(#|\/(?![/\\]))/.test(attribs.href) ? { ...attribs, rel: 'nofollow noopener noreferrer' } : attribs }),
    // Only GFM task-list checkboxes survive: anything else named <input> becomes a disabled checkbox.
    input: (tagName, attribs) => ({ tagName, attribs: { type: 'checkbox', disabled: '', ...('checked' in attribs ? { checked: '' } : {}) } }),
  },
  exclusiveFilter: (frame) => frame.tag === 'img' && !frame.attribs.src,
};
// rel is produced by transformTags and must survive the attribute filter.
(SANITIZE.allowedAttributes as Record<string, string[]>).a!.push('rel');

// ---------- references: #N, OWNER/REPO#N, @user ----------

/** An issue or pull request number named in text, in the current repository or another one. */
export interface IssueReference {
  owner: string;
  repo: string;
  number: number;
}

/** What a reference links to; only references the viewer may see get one. */
export interface ReferenceTarget {
  href: string;
  /** The issue's or pull request's title (a tooltip). */
  title: string;
}

/**
 * The resolved references of a page: built by the route (one lookup per kind, with the viewer's access
 * checked) and handed to the renderer, which never touches the database.
 */
export interface ReferenceLinks {
  /** The repository `#N` refers to. */
  current: { owner: string; name: string };
  /** Keyed by referenceKey(owner, repo, number). */
  issues: ReadonlyMap<string, ReferenceTarget>;
  /** Lower-case username → profile URL, for users that exist. */
  users: ReadonlyMap<string, string>;
}

/** Issue numbers are 32-bit integers in the database: larger ones are never references. */
const MAX_NUMBER = 2_147_483_647;

/**
 * `OWNER/REPO#N`, `#N` or `@user`, not glued to a word, a path, an e-mail address or another reference
 * (so `a#1`, `x/y/z#1`, `me@host` and `##1` stay text), and not followed by more of a word.
 */
const REFERENCE = /(?<![\w/@#.&-])(?:([A-Za-z0-9][A-Za-z0-9_.-]{0,38})\/([A-Za-z0-9._-]{1,100})#([1-9][0-9]{0,9})|#([1-9][0-9]{0,9})|@([A-Za-z0-9](?:[A-Za-z0-9]|[-_.](?=[A-Za-z0-9])){0,38}))(?![A-Za-z0-9_-])/g;

export const referenceKey = (owner: string, repo: string, number: number) => `${owner.toLowerCase()}/${repo.toLowerCase()}#${number}`;

type Match = { index: number; length: number } & ({ kind: 'issue'; ref: IssueReference; cross: boolean } | { kind: 'user'; name: string });

function* referencesIn(text: string, current: { owner: string; name: string }): Generator<Match> {
  for (const m of text.matchAll(REFERENCE)) {
    const [whole, owner, repo, crossNumber, localNumber, user] = m;
    const index = m.index ?? 0;
    if (user !== undefined) {
      if (isValidUsername(user)) yield { kind: 'user', name: user, index, length: whole.length };
      continue;
    }
    const number = Number(crossNumber ?? localNumber);
    if (!Number.isSafeInteger(number) || number > MAX_NUMBER) continue;
    if (owner !== undefined && repo !== undefined) {
      if (isValidUsername(owner) && isValidRepositoryName(repo)) yield { kind: 'issue', ref: { owner, repo, number }, cross: true, index, length: whole.length };
      continue;
    }
    yield { kind: 'issue', ref: { owner: current.owner, repo: current.name, number }, cross: false, index, length: whole.length };
  }
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** Escaped text with the resolvable references made links; unresolvable ones stay plain text. */
function linkText(text: string, links: ReferenceLinks): string {
  let out = '';
  let at = 0;
  for (const m of referencesIn(text, links.current)) {
    const raw = text.slice(m.index, m.index + m.length);
    let html: string | null = null;
    if (m.kind === 'user') {
      const href = links.users.get(m.name.toLowerCase());
      if (href) html = `<a class="user-mention" href="${escapeHtml(href)}">${escapeHtml(raw)}</a>`;
    } else {
      const target = links.issues.get(referenceKey(m.ref.owner, m.ref.repo, m.ref.number));
      if (target) html = `<a class="issue-ref" href="${escapeHtml(target.href)}" title="${escapeHtml(target.title)}">${escapeHtml(raw)}</a>`;
    }
    if (html === null) continue;
    out += escapeHtml(text.slice(at, m.index)) + html;
    at = m.index + m.length;
  }
  return out + escapeHtml(text.slice(at));
}

/** Raw inline HTML that opens or closes an element whose text must not become links. */
const OPENS_NO_LINK = /^<(a|code|pre|kbd|samp)(\s[^>]*)?>$/i;
const CLOSES_NO_LINK = /^<\/(a|code|pre|kbd|samp)\s*>$/i;

/**
 * Visits the leaf text tokens where references count: not in code (spans, blocks, raw <code>), not
 * inside links (markdown, autolinks, raw <a>) and not in raw HTML blocks. `visit` may replace the token.
 */
function eachTextToken(tokens: Token[], visit: (token: Tokens.Text, replace: (t: Token) => void) => void): void {
  let noLinkDepth = 0;
  tokens.forEach((token, i) => {
    if (token.type === 'html') {
      const t = token as Tokens.HTML;
      if (t.block) return;
      const raw = t.raw.trim();
      if (OPENS_NO_LINK.test(raw)) noLinkDepth++;
      else if (CLOSES_NO_LINK.test(raw)) noLinkDepth = Math.max(0, noLinkDepth - 1);
      return;
    }
    if (token.type === 'link' || token.type === 'image' || token.type === 'code' || token.type === 'codespan') return;
    if (token.type === 'text' && !('tokens' in token && token.tokens)) {
      const t = token as Tokens.Text;
      if (noLinkDepth === 0 && !t.escaped) visit(t, (replacement) => (tokens[i] = replacement));
      return;
    }
    forEachChildList(token, (children) => eachTextToken(children, visit));
  });
}

function forEachChildList(token: Token, fn: (children: Token[]) => void): void {
  const t = token as Partial<Tokens.Generic> & { items?: { tokens?: Token[] }[]; header?: { tokens: Token[] }[]; rows?: { tokens: Token[] }[][] };
  if (Array.isArray(t.tokens)) fn(t.tokens);
  if (token.type === 'list' && Array.isArray(t.items)) for (const item of t.items) if (item.tokens) fn(item.tokens);
  if (token.type === 'table') {
    for (const cell of t.header ?? []) fn(cell.tokens);
    for (const row of t.rows ?? []) for (const cell of row) fn(cell.tokens);
  }
}

/**
 * The references markdown makes (outside code and links), for the route to resolve in one go;
 * `#N` is read as `current`'s.
 */
export function findReferences(texts: Iterable<string>, current: { owner: string; name: string }, opts: { plain?: boolean } = {}): { issues: IssueReference[]; users: string[] } {
  const issues = new Map<string, IssueReference>();
  const users = new Map<string, string>();
  const scan = (text: string) => {
    for (const m of referencesIn(text, current)) {
      if (m.kind === 'user') users.set(m.name.toLowerCase(), m.name);
      else issues.set(referenceKey(m.ref.owner, m.ref.repo, m.ref.number), m.ref);
    }
  };
  for (const text of texts) {
    if (!text) continue;
    if (opts.plain) scan(text);
    else eachTextToken(marked.lexer(text), (token) => scan(token.text));
  }
  return { issues: [...issues.values()], users: [...users.values()] };
}

/** Renders user-supplied markdown (READMEs, descriptions, comments) to safe HTML; with `links`, references become links. */
export function renderMarkdown(text: string, links?: ReferenceLinks): string {
  let html: string;
  if (links && (links.issues.size > 0 || links.users.size > 0)) {
    const tokens = marked.lexer(text);
    eachTextToken(tokens, (token, replace) => {
      const linked = linkText(token.text, links);
      if (linked !== escapeHtml(token.text)) replace({ type: 'html', raw: token.raw, text: linked, block: false, pre: false } as Tokens.HTML);
    });
    html = marked.parser(tokens);
  } else {
    html = marked.parse(text) as string;
  }
  return sanitizeHtml(html, SANITIZE);
}

/** Plain text (a commit message) as escaped HTML with its references linked: for a <pre>. */
export function renderPlainText(text: string, links?: ReferenceLinks): string {
  return links ? linkText(text, links) : escapeHtml(text);
}
