import { createHash } from 'node:crypto';
import { LruCache } from '../git/lru.ts';
import { SingleFlight } from '../git/singleFlight.ts';
import { timeAgo } from './views/format.ts';
import { escapeHtml } from './views/highlight.ts';

/**
 * Rendered page fragments keyed by immutable ids. A code page's body (a directory listing at a commit, a
 * file, a blame, a diff between two commits) depends only on object ids and on a few small mutable
 * inputs the route loads per request anyway (commit statuses, AI captures, comments); the key names all
 * of them, so an entry is never stale and nothing has to invalidate it: a push moves a ref, the ref
 * resolves to another commit, and the page asks for another key. Only the per-request frame (layout,
 * identity, counts, ref switcher) is rendered each time.
 *
 * Bounded by bytes (`GITOKU_PAGE_CACHE_MB`, default 48) as one LRU shown in /api/v1/admin/stats as
 * `ui.pageFragments`; identical concurrent misses share one computation (single-flight), and the cold
 * git work under them is bounded by the git layer's limiter.
 */

export interface Fragment<M = undefined> {
  html: string;
  /** What the route needs besides the HTML (e.g. the commits whose statuses fill the fragment's slots). */
  meta: M;
  /** The HTML cut at its slots (odd indices are the markers), so filling a large page is a join, not a scan. */
  pieces?: string[];
}

export interface Computed<M> extends Fragment<M> {
  /** false: answer with it but do not keep it (e.g. a tree page whose history walk is still running). */
  keep?: boolean;
  /**
   * The key names the viewer's CSRF token: only then may the fragment hold a form (a token served to
   * another browser would let a third party forge that viewer's posts). A fragment with a form and
   * without this is answered but never kept.
   */
  viewerBound?: boolean;
}

const DEFAULT_MB = 48;

function budgetBytes(): number {
  const raw = process.env.GITOKU_PAGE_CACHE_MB;
  const mb = raw === undefined || raw === '' ? DEFAULT_MB : Number(raw);
  return Number.isFinite(mb) && mb >= 0 ? Math.floor(mb * 1024 * 1024) : DEFAULT_MB * 1024 * 1024;
}

const cache = new LruCache<string, Fragment<unknown>>(200_000, budgetBytes(), 'ui.pageFragments');
/**
 * Whole pages (UTF-8, as sent) by their ETag, which names everything a page shows (the fragment's key and
 * the per-request frame: viewer, header counts, refs, the minute of its relative times): a repeated view
 * is answered without rendering or encoding the frame. Off unless `GITOKU_PAGE_BYTES_MB` is set: it holds
 * each page a second time (fragment and page), which the memory goal (issue 19, goal 7) cannot afford by
 * default.
 */
const pageBytesBudget = Math.max(0, Math.floor(Number(process.env.GITOKU_PAGE_BYTES_MB ?? 0) * 1024 * 1024) || 0);
const pages = new LruCache<string, Uint8Array<ArrayBuffer>>(50_000, pageBytesBudget, 'ui.pages');
export const pageBytesEnabled = (): boolean => pageBytesBudget > 0;
const seenPages = new LruCache<string, true>(20_000);
const flights = new SingleFlight<string, Fragment<unknown> | null>();
/** For tests: how many fragments were computed (misses that rendered). */
let computed = 0;
export const fragmentsComputed = (): number => computed;

/** Approximate bytes a string holds (V8 keeps one byte per character for Latin-1 text, two otherwise). */
function weightOf(f: Fragment<unknown>, key: string): number {
  const wide = /[^\u0000-\u00ff]/.test(f.html);
  return f.html.length * (wide ? 2 : 1) + key.length + 200;
}

type KeyPart = string | number | boolean | null | undefined;

/** A cache key from its parts (NUL-separated: no part can run into the next). */
export function fragmentKey(...parts: KeyPart[]): string {
  return parts.map((p) => (p === null || p === undefined ? '' : String(p))).join('\0');
}

/** A short digest of any JSON-able value: the version of a mutable input that a fragment shows. */
export function versionOf(value: unknown): string {
  return createHash('sha1')
    .update(JSON.stringify(value) ?? '')
    .digest('base64url')
    .slice(0, 16);
}

/**
 * The fragment under `key`, computed on a miss (once for concurrent identical misses). `compute` returns
 * null when there is nothing to show (the caller answers 404 or redirects); null is not kept.
 */
export async function cachedFragment<M>(key: string, compute: () => Promise<Computed<M> | null>): Promise<Fragment<M> | null> {
  const hit = cache.get(key);
  if (hit) return hit as Fragment<M>;
  const made = await flights.run(key, async () => {
    const out = await compute();
    if (!out) return null;
    computed++;
    const html = withTimeSlots(out.html);
    const fragment: Fragment<unknown> = { html, meta: out.meta, pieces: html.includes('<!--slot:') ? html.split(SLOT_SPLIT) : undefined };
    const holdsForm = !out.viewerBound && out.html.includes('name="_csrf"');
    if (out.keep !== false && !holdsForm) cache.set(key, fragment, weightOf(fragment, key));
    return fragment;
  });
  return made as Fragment<M> | null;
}

/** Drops every fragment and page (tests). */
export function clearFragments(): void {
  cache.clear();
  pages.clear();
  seenPages.clear();
}

/** A whole page kept under its ETag (see `pages`). */
export function cachedPage(etag: string): Uint8Array<ArrayBuffer> | undefined {
  return pages.get(etag);
}

/**
 * Keeps a page's bytes from its second view on: a page seen once (a crawler walking every commit) only
 * leaves its tag in a small doorkeeper, so one-off pages do not push out the hot ones nor grow memory.
 */
export function keepPage(etag: string, bytes: Uint8Array<ArrayBuffer>): void {
  if (!seenPages.get(etag)) {
    seenPages.set(etag, true);
    return;
  }
  pages.set(etag, bytes, bytes.length + etag.length + 100);
}

/**
 * A cached fragment made current: `<!--slot:KIND:ARG-->` markers are replaced per request — `ago:ISO` by
 * the relative time ("3 hours ago", which a cached fragment must not freeze), others by `fill(kind, arg)`
 * (e.g. `status:SHA`, a commit's status dot); unknown ones become empty.
 */
export function fillSlots(fragment: Pick<Fragment<unknown>, 'html' | 'pieces'>, fill: (kind: string, arg: string) => string = () => ''): string {
  const pieces = fragment.pieces ?? (fragment.html.includes('<!--slot:') ? fragment.html.split(SLOT_SPLIT) : null);
  if (!pieces) return fragment.html;
  const now = Date.now();
  let out = '';
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i]!;
    if (i % 2 === 0) {
      out += piece;
      continue;
    }
    const m = SLOT.exec(piece);
    if (m) out += m[1] === 'ago' ? escapeHtml(timeAgo(m[2]!, now)) : fill(m[1]!, m[2]!);
  }
  return out;
}

const SLOT = /^<!--slot:([a-z]{1,20}):([^<>\s]{1,100})-->$/;
const SLOT_SPLIT = /(<!--slot:[a-z]{1,20}:[^<>\s]{1,100}-->)/;

/**
 * Replaces the relative text of each `<time datetime=…>` (the Time component) by an `ago` slot, so that
 * fillSlots renders it at each request.
 */
function withTimeSlots(html: string): string {
  const now = Date.now();
  return html.replace(/(<time datetime="([0-9T:.+Z-]{10,40})"(?: title="[^"<>]*")?>)([^<]*)<\/time>/g, (whole, open: string, iso: string, text: string) => {
    const ago = escapeHtml(timeAgo(iso, now));
    return text.endsWith(ago) ? `${open}${text.slice(0, text.length - ago.length)}<!--slot:ago:${iso}--></time>` : whole;
  });
}

const memo = new WeakMap<object, string>();

/**
 * versionOf(value), remembered per object: for values that are replaced (never mutated) when what they
 * describe changes — the ref lists of a repository's in-memory ref map, part of a page's ETag without
 * hashing thousands of refs per request, and the same in every server instance.
 */
export function versionOfImmutable(value: object): string {
  let v = memo.get(value);
  if (v === undefined) {
    v = versionOf(value);
    memo.set(value, v);
  }
  return v;
}
