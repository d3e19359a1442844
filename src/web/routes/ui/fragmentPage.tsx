import type { Context } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { RepositoryAccess } from '../../../services/repositories.ts';
import type { RefLists } from '../../../services/uiBrowse.ts';
import type { StatusState } from '../../../services/statuses.ts';
import type { PageContext } from '../../views/context.ts';
import type { RepoView } from '../../views/pages/repo.tsx';
import { StatusDot } from '../../views/code.tsx';
import { cachedFrame, cachedPage, fillSlots, filledChunks, keepFrame, keepPage, pageBytesEnabled, pageMinute, versionOf, versionOfImmutable, type Fragment } from '../../fragmentCache.ts';
import { pageContext, type render } from './render.tsx';

/**
 * Pages whose body is a cached fragment (src/web/fragmentCache.ts): the per-request frame around it, the
 * ETag made of keys (no rendering to answer 304) and the slots filled per request.
 */

const utf8 = new TextEncoder();

export type PageElement = Parameters<typeof render>[1];

/**
 * Answers a code page whose body is a cached fragment (src/web/fragmentCache.ts). The ETag is made of the
 * fragment's key (immutable ids and the versions of the mutable inputs it shows) and of the per-request
 * frame (viewer, header counts, repository row, ref lists), so a revalidation (If-None-Match) is answered
 * 304 without rendering anything; it can never match another viewer's or an outdated page. A page with a
 * flash message (shown once) is never 304. The relative times shown make the tag change every minute.
 * The tag also keys the whole page's bytes (fragmentCache's `ui.pages`).
 */
export async function answerPage(c: Context<WebEnv>, frame: { view: RepoView; refs: RefLists | null }, version: unknown, page: (ctx: PageContext) => PageElement): Promise<Response> {
  const ctx = pageContext(c);
  const etag = pageTag(ctx, frame, version);
  const headers: Record<string, string> = { 'Cache-Control': 'private, no-cache' };
  if (!etag) return c.html(`<!DOCTYPE html>\n${await (await page(ctx)).toString()}`, 200, headers);
  headers.ETag = etag;
  if (revalidated(c, etag)) return c.body(null, 304, headers);
  if (!pageBytesEnabled()) return c.html(`<!DOCTYPE html>\n${await (await page(ctx)).toString()}`, 200, headers);
  headers['Content-Type'] = 'text/html; charset=UTF-8';
  // The tag names everything the page shows: the same tag is the same bytes.
  const kept = cachedPage(etag);
  if (kept) return c.body(kept, 200, headers);
  const bytes = utf8.encode(`<!DOCTYPE html>\n${await (await page(ctx)).toString()}`);
  keepPage(etag, bytes);
  return c.body(bytes, 200, headers);
}

/** Where a chunked page's body goes in its rendered frame (a comment no view emits). */
const BODY_MARK = '<!--gitoku:fragment-body-->';

/**
 * answerPage for a large body (a diff of hundreds of files): the fragment's text goes out as the UTF-8
 * it was kept as (`filledChunks`), around the frame rendered with a marker in its place, so the body
 * is neither concatenated into the frame's string nor re-encoded per request. `page` gets the HTML to
 * put where the body goes.
 */
export async function answerChunkedPage(
  c: Context<WebEnv>,
  frame: { view: RepoView; refs: RefLists | null },
  version: unknown,
  body: Pick<Fragment<unknown>, 'html' | 'pieces' | 'chunks'> | null,
  page: (ctx: PageContext, bodyHtml: string | undefined) => PageElement,
): Promise<Response> {
  const ctx = pageContext(c);
  const etag = pageTag(ctx, frame, version);
  const headers: Record<string, string> = { 'Cache-Control': 'private, no-cache', 'Content-Type': 'text/html; charset=UTF-8' };
  if (etag) {
    headers.ETag = etag;
    if (revalidated(c, etag)) return c.body(null, 304, headers);
  }
  let around = etag && body ? cachedFrame(etag) : undefined;
  if (!around) {
    const text = `<!DOCTYPE html>\n${await (await page(ctx, body ? BODY_MARK : undefined)).toString()}`;
    const at = body ? text.indexOf(BODY_MARK) : -1;
    if (at < 0) return c.body(utf8.encode(text), 200, headers);
    around = { head: utf8.encode(text.slice(0, at)), tail: utf8.encode(text.slice(at + BODY_MARK.length)) };
    // The tag names everything the frame shows (as for whole pages): the same tag, the same frame.
    if (etag) keepFrame(etag, around);
  }
  const parts = coalesced([around.head, ...filledChunks(body!, fillStatus(new Map())), around.tail]);
  headers['Content-Length'] = String(parts.reduce((n, part) => n + part.length, 0));
  // Written part by part: the kept body goes out as it is, never copied into one buffer per request.
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const part of parts) controller.enqueue(part);
      controller.close();
    },
  });
  return c.body(stream, 200, headers);
}

/** Chunks at least this large are written as they are; smaller neighbours are joined (one write each, not one per slot). */
const WRITE_AS_IS = 16 * 1024;

function coalesced(chunks: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let small: Uint8Array[] = [];
  const flush = () => {
    if (small.length) out.push(small.length === 1 ? small[0]! : Buffer.concat(small));
    small = [];
  };
  for (const chunk of chunks) {
    if (chunk.length >= WRITE_AS_IS) {
      flush();
      out.push(chunk);
    } else if (chunk.length > 0) small.push(chunk);
  }
  flush();
  return out;
}

/** Whether the browser's copy is this one (If-None-Match names the tag). */
function revalidated(c: Context<WebEnv>, etag: string): boolean {
  const asked = c.req.header('if-none-match');
  return !!asked && asked.split(',').some((t) => t.trim() === etag);
}

/**
 * The page's ETag, or null for a page that must not be revalidated (it shows a flash message).
 */
function pageTag(ctx: PageContext, frame: { view: RepoView; refs: RefLists | null }, version: unknown): string | null {
  return ctx.flash
    ? null
    : `W/"${versionOf([
        version,
        ctx.user,
        // Forms (and so the CSRF token) are only rendered for signed-in viewers.
        ctx.user ? ctx.csrfToken : null,
        ctx.path,
        ctx.signupEnabled,
        ctx.assetVersion,
        frame.view,
        frame.refs ? [versionOfImmutable(frame.refs.branches), versionOfImmutable(frame.refs.tags)] : null,
        pageMinute(),
      ])}"`;
}

/** A view rendered to its HTML string (for a cached fragment). */
export async function htmlOf(element: PageElement): Promise<string> {
  return (await (await element).toString()) as string;
}

const statusDotCache = new Map<string, string>();

/** A cached fragment with its slots filled: relative times, and each commit's status dot from `statuses`. */
export function filled(fragment: Pick<Fragment<unknown>, 'html' | 'pieces'>, statuses: Map<string, StatusState> = new Map()): string {
  return fillSlots(fragment, fillStatus(statuses));
}

/** Fills a `status:SHA` slot with that commit's status dot from `statuses`. */
function fillStatus(statuses: Map<string, StatusState>): (kind: string, arg: string) => string {
  return (kind, arg) => {
    if (kind !== 'status') return '';
    const state = statuses.get(arg);
    if (!state) return '';
    let dot = statusDotCache.get(state);
    if (dot === undefined) {
      dot = String((<StatusDot state={state} />).toString());
      statusDotCache.set(state, dot);
    }
    return dot;
  };
}

/** The parts of every fragment key that name the repository (its URLs are in the HTML). */
export const repoKey = (access: RepositoryAccess) => [access.repo.id, access.repo.owner_name, access.repo.name] as const;
