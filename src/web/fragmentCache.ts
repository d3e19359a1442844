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
  /** `pieces` (or the whole HTML) as UTF-8, encoded once when kept: a page sends it without re-encoding. */
  chunks?: Uint8Array[];
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
  /** Also keep the HTML as UTF-8 (`chunks`), for a page answered with `filledChunks` (large bodies). */
  bytes?: boolean;
}

const DEFAULT_MB = 48;

/** A cache's budget in bytes from its environment variable (in MB; `0` turns the cache off). */
function budgetBytes(variable: string, defaultMb: number): number {
  const raw = process.env[variable];
  const mb = raw === undefined || raw === '' ? defaultMb : Number(raw);
  return Number.isFinite(mb) && mb >= 0 ? Math.floor(mb * 1024 * 1024) : defaultMb * 1024 * 1024;
}

const cache = new LruCache<string, Fragment<unknown>>(200_000, budgetBytes('GITOKU_PAGE_CACHE_MB', DEFAULT_MB), 'ui.pageFragments');
/**
 * Whole pages (UTF-8, as sent) by their ETag, which names everything a page shows (the fragment's key and
 * the per-request frame: viewer, header counts, refs, the minute of its relative times): a repeated view
 * is answered without rendering or encoding the frame (most of a warm page's time). Bounded by
 * `GITOKU_PAGE_BYTES_MB` (default 8): a page is held a second time beside its fragment, but only from
 * its second view within the minute its tag names (`keepPage`), so pages seen once (a crawler) and
 * pages of past minutes cost nothing here.
 */
const DEFAULT_PAGE_BYTES_MB = 8;
const pageBytesBudget = budgetBytes('GITOKU_PAGE_BYTES_MB', DEFAULT_PAGE_BYTES_MB);
const pages = new LruCache<string, Uint8Array<ArrayBuffer>>(50_000, pageBytesBudget, 'ui.pages');
export const pageBytesEnabled = (): boolean => pageBytesBudget > 0;
const seenPages = new LruCache<string, true>(20_000);
/**
 * The frame of a page whose body is sent as kept chunks (answerChunkedPage): its UTF-8 before and after
 * the body, by the page's ETag (which names everything the frame shows). A few KB each (8 MB in all).
 */
export interface Frame {
  head: Uint8Array;
  tail: Uint8Array;
}
const frames = new LruCache<string, Frame>(10_000, 8 * 1024 * 1024, 'ui.pageFrames');
const flights = new SingleFlight<string, Fragment<unknown> | null>();
/** For tests: how many fragments were computed (misses that rendered). */
let computed = 0;
export const fragmentsComputed = (): number => computed;

/** Approximate bytes a string holds (V8 keeps one byte per character for Latin-1 text, two otherwise). */
function weightOf(f: Fragment<unknown>, key: string): number {
  const wide = /[^\u0000-\u00ff]/.test(f.html);
  const bytes = f.chunks ? f.chunks.reduce((n, chunk) => n + chunk.length, 0) : 0;
  return f.html.length * (wide ? 2 : 1) + bytes + key.length + 200;
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
    if (out.keep !== false && !holdsForm) {
      if (out.bytes) fragment.chunks = (fragment.pieces ?? [html]).map((piece, i) => (i % 2 === 0 ? utf8.encode(piece) : EMPTY));
      cache.set(key, fragment, weightOf(fragment, key));
    }
    return fragment;
  });
  return made as Fragment<M> | null;
}

/** Drops every fragment and page (tests). */
export function clearFragments(): void {
  cache.clear();
  pages.clear();
  frames.clear();
  seenPages.clear();
}

/** The minute a page's tag names: the relative times it shows ("3 minutes ago") are exact to it. */
export const pageMinute = (): number => Math.floor(Date.now() / 60_000);

let pagesMinute = pageMinute();

/** Pages and frames kept in an earlier minute can never be asked for again (their tags named that minute): dropped. */
function forgetPastMinutes(): void {
  const minute = pageMinute();
  if (minute === pagesMinute) return;
  pagesMinute = minute;
  pages.clear();
  seenPages.clear();
  frames.clear();
}

/** A page's frame kept under its ETag (see `frames`). */
export function cachedFrame(etag: string): Frame | undefined {
  forgetPastMinutes();
  return frames.get(etag);
}

export function keepFrame(etag: string, frame: Frame): void {
  frames.set(etag, frame, frame.head.length + frame.tail.length + etag.length + 100);
}

/** A whole page kept under its ETag (see `pages`). */
export function cachedPage(etag: string): Uint8Array<ArrayBuffer> | undefined {
  forgetPastMinutes();
  return pages.get(etag);
}

/**
 * Keeps a page's bytes from its second view on: a page seen once (a crawler walking every commit) only
 * leaves its tag in a small doorkeeper, so one-off pages do not push out the hot ones nor grow memory.
 */
export function keepPage(etag: string, bytes: Uint8Array<ArrayBuffer>): void {
  forgetPastMinutes();
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
    out += slotText(piece, fill, now);
  }
  return out;
}

/** What a slot marker becomes: a relative time, or `fill(kind, arg)`; an unknown marker, nothing. */
function slotText(marker: string, fill: (kind: string, arg: string) => string, now: number): string {
  const m = SLOT.exec(marker);
  return m ? (m[1] === 'ago' ? escapeHtml(timeAgo(m[2]!, now)) : fill(m[1]!, m[2]!)) : '';
}

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);

/**
 * fillSlots as UTF-8 chunks: the fragment's text encoded once (`chunks`, kept with it) and only the slots
 * encoded per request, so a large page costs a copy rather than a rebuild and a re-encoding of its text.
 */
export function filledChunks(fragment: Pick<Fragment<unknown>, 'html' | 'pieces' | 'chunks'>, fill: (kind: string, arg: string) => string = () => ''): Uint8Array[] {
  const chunks = fragment.chunks;
  if (!chunks) return [utf8.encode(fillSlots(fragment, fill))];
  const pieces = fragment.pieces;
  if (!pieces) return chunks;
  const now = Date.now();
  const out: Uint8Array[] = [];
  for (let i = 0; i < chunks.length; i++) {
    if (i % 2 === 0) {
      out.push(chunks[i]!);
      continue;
    }
    const text = slotText(pieces[i]!, fill, now);
    if (text) out.push(utf8.encode(text));
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
