import type { Context } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { RepositoryAccess } from '../../../services/repositories.ts';
import type { RefLists } from '../../../services/uiBrowse.ts';
import type { StatusState } from '../../../services/statuses.ts';
import type { PageContext } from '../../views/context.ts';
import type { RepoView } from '../../views/pages/repo.tsx';
import { StatusDot } from '../../views/code.tsx';
import { cachedPage, fillSlots, keepPage, pageBytesEnabled, versionOf, versionOfImmutable, type Fragment } from '../../fragmentCache.ts';
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
  const etag = ctx.flash
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
        Math.floor(Date.now() / 60_000),
      ])}"`;
  const headers: Record<string, string> = { 'Cache-Control': 'private, no-cache' };
  if (!etag) return c.html(`<!DOCTYPE html>\n${await (await page(ctx)).toString()}`, 200, headers);
  headers.ETag = etag;
  const asked = c.req.header('if-none-match');
  if (asked && asked.split(',').some((t) => t.trim() === etag)) return c.body(null, 304, headers);
  if (!pageBytesEnabled()) return c.html(`<!DOCTYPE html>\n${await (await page(ctx)).toString()}`, 200, headers);
  headers['Content-Type'] = 'text/html; charset=UTF-8';
  // The tag names everything the page shows: the same tag is the same bytes.
  const kept = cachedPage(etag);
  if (kept) return c.body(kept, 200, headers);
  const bytes = utf8.encode(`<!DOCTYPE html>\n${await (await page(ctx)).toString()}`);
  keepPage(etag, bytes);
  return c.body(bytes, 200, headers);
}

/** A view rendered to its HTML string (for a cached fragment). */
export async function htmlOf(element: PageElement): Promise<string> {
  return (await (await element).toString()) as string;
}

const statusDotCache = new Map<string, string>();

/** A cached fragment with its slots filled: relative times, and each commit's status dot from `statuses`. */
export function filled(fragment: Pick<Fragment<unknown>, 'html' | 'pieces'>, statuses: Map<string, StatusState> = new Map()): string {
  return fillSlots(fragment, (kind, arg) => {
    if (kind !== 'status') return '';
    const state = statuses.get(arg);
    if (!state) return '';
    let dot = statusDotCache.get(state);
    if (dot === undefined) {
      dot = String((<StatusDot state={state} />).toString());
      statusDotCache.set(state, dot);
    }
    return dot;
  });
}

/** The parts of every fragment key that name the repository (its URLs are in the HTML). */
export const repoKey = (access: RepositoryAccess) => [access.repo.id, access.repo.owner_name, access.repo.name] as const;
