import { protectedBranchNames } from '../../../services/branchProtection.ts';
import { loadPullRequestTemplate } from '../../../services/issueTemplates.ts';
import { createHash } from 'node:crypto';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { RepositoryAccess } from '../../../services/repositories.ts';
import { checkPathOr404, discardRawFile, FILE_LIMITS, openRawFile, resolveRefOr404, tooLargeMessage } from '../../../services/code.ts';
import { notFound, ServiceError } from '../../../services/errors.ts';
import { combineStatuses, listCommitStatuses } from '../../../services/statuses.ts';
import {
  briefFromSummary,
  cachedComparison,
  cachedDiff,
  combinedStatusesFor,
  listRepoRefs,
  loadBlobView,
  loadTreeView,
  openPullsByBranch,
  readCommitBrief,
  resolveRefAndPath,
  loadLastCommits,
  searchRepoRefs,
  type RefAndPath,
} from '../../../services/uiBrowse.ts';
import { roleAtLeast } from '../../../domain/permissions.ts';
import { blobSize, isBinary, isSafeRepoPath, entryAtPath, readBlobAtPath, resolveCommit } from '../../../git/tree.ts';
import { listCommits } from '../../../git/log.ts';
import { LruCache } from '../../../git/lru.ts';
import { renderMarkdown } from '../../markdown.ts';
import { highlightLines, languageFor } from '../../views/highlight.ts';
import { RepoHomePage } from '../../views/pages/repo.tsx';
import { RepoNotFoundPage } from '../../views/pages/repoNotFound.tsx';
import { BlameBody, BlamePage, BlobBody, BlobPage, TreeBody, TreePage, type BlameGroup, type BlobAiToggle, type BlobDisplay, type Location } from '../../views/pages/tree.tsx';
import { BranchesPage, CommitPage, CommitsBody, CommitsPage, CompareChanges, ComparePage, DiffFilePage, type CompareInfo } from '../../views/pages/history.tsx';
import { DiffFileChanges, DiffView } from '../../views/code.tsx';
import type { StatusState } from '../../../services/statuses.ts';
import { cachedFragment, fragmentKey, versionOf } from '../../fragmentCache.ts';
import { answerChunkedPage, answerPage, filled, htmlOf, repoKey } from './fragmentPage.tsx';
import { blobUrl, commitUrl, commitsUrl, compareUrl, graphUrl, treeUrl } from '../../views/urls.ts';
import { lastCommitsUrl } from '../../views/code.tsx';
import { fullDate, timeAgo } from '../../views/format.ts';
import { findGraphNode } from '../../../services/provenanceGraph.ts';
import { pageContext, pageNumber, render, setFlash } from './render.tsx';
import { type AiBlameRange, loadCaptureViews, loadCommitAiContexts, loadFileAiHistory, loadLineAiContextAtRevision } from '../../../services/provenance.ts';
import { blameLineOrigins } from '../../../git/blameOrigins.ts';
import { aiLineMarks } from '../../views/aiProvenance.tsx';
import { repoAccess, repoView } from './access.ts';
import { resolveReferenceLinks } from '../../models/references.ts';

/** Files above this are not shown inline ("too large to display", with a raw link). */
export const MAX_DISPLAY_BYTES = FILE_LIMITS.render;
/** Size guard for diffs rendered in pages. */
export const UI_DIFF_MAX_BYTES = 2 * 1024 * 1024;
const COMMITS_PER_PAGE = 30;

const IMAGE_TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', bmp: 'image/bmp', ico: 'image/x-icon', avif: 'image/avif' };
const MARKDOWN = /\.(md|markdown|mdown|mkd)$/i;

const markdownCache = new LruCache<string, string>(500, 16 * 1024 * 1024, 'ui.markdown');

/** Rendered (sanitized) markdown of a blob, cached by its object id. */
export function markdownOfBlob(sha: string, text: string): string {
  const hit = markdownCache.get(sha);
  if (hit !== undefined) return hit;
  const html = renderMarkdown(text);
  markdownCache.set(sha, html, html.length);
  return html;
}

function imageType(path: string): string | null {
  const dot = path.lastIndexOf('.');
  return dot < 0 ? null : (IMAGE_TYPES[path.slice(dot + 1).toLowerCase()] ?? null);
}

/** The "<ref>/<path>" part of the URL, resolved; anything unknown or unsafe is a 404. */
async function locate(access: RepositoryAccess, rest: string | undefined): Promise<RefAndPath> {
  if (!rest) throw notFound();
  const split = await resolveRefAndPath(access, rest.replace(/\/+$/, ''));
  if (!split) throw notFound();
  return { ...split, path: checkPathOr404(split.path) };
}

/**
 * Blame groups (consecutive lines last changed by one commit) from the AI blame's ranges, which may
 * split a commit's lines further by capture; the age (0 oldest … 9 newest) colours the bar.
 */
export function blameGroups(ranges: readonly AiBlameRange[], html: readonly string[]): BlameGroup[] {
  const times = ranges.map((r) => Date.parse(r.commit.authored_at));
  const oldest = Math.min(...times);
  const newest = Math.max(...times);
  const groups: BlameGroup[] = [];
  ranges.forEach((r, i) => {
    const lines: string[] = [];
    for (let n = r.start_line; n <= r.end_line; n++) lines.push(html[n - 1] ?? '');
    const last = groups[groups.length - 1];
    if (last && last.commit.sha === r.commit.sha && last.start + last.lines.length === r.start_line) {
      last.lines.push(...lines);
      return;
    }
    const age = newest === oldest ? 9 : Math.round(((times[i]! - oldest) / (newest - oldest)) * 9);
    groups.push({ commit: { sha: r.commit.sha, title: r.commit.summary, authorName: r.commit.author_name, authorDate: r.commit.authored_at }, start: r.start_line, lines, age });
  });
  return groups;
}

const locOf = (s: RefAndPath): Location => ({ ref: s.ref, kind: s.kind, sha: s.sha, path: s.path });

/** The repository front page: the default branch's root, or the quick setup of an empty repository. */
export async function renderRepoHome(c: Context<WebEnv>, access: RepositoryAccess): Promise<Response> {
  const app = c.get('app');
  const view = await repoView(c, access);
  const ref = access.repo.default_branch;
  const sha = access.repo.is_empty === 1 ? null : await resolveCommit(access.gitDir, `refs/heads/${ref}`);
  if (!sha) return render(c, <RepoHomePage ctx={pageContext(c)} view={view} browse={null} />);
  const [refs, tree, statuses] = await Promise.all([listRepoRefs(access), loadTreeView(access, sha, ''), combinedStatusesFor(app, access.repo.id, [sha])]);
  if (!tree) return render(c, <RepoHomePage ctx={pageContext(c)} view={view} browse={null} />);
  const readmeHtml = tree.readme?.isMarkdown ? markdownOfBlob(tree.readme.sha, tree.readme.text) : null;
  return render(c, <RepoHomePage ctx={pageContext(c)} view={view} browse={{ ref, refs, tree, readmeHtml, latestStatus: statuses.get(sha) ?? null, lastCommitsUrl: tree.pending ? lastCommitsUrl(access.repo, sha, '') : null }} />);
}

/** The blob page's body (or where to go instead: a directory's page), rendered. */
async function blobBody(c: Context<WebEnv>, access: RepositoryAccess, loc: RefAndPath, plain: boolean, aiOn: boolean): Promise<{ html: string; meta: { redirect?: string }; keep?: boolean } | null> {
  const entry = await entryAtPath(access.gitDir, loc.sha, loc.path);
  if (!entry) return null;
  if (entry.type === 'tree') return { html: '', meta: { redirect: treeUrl(access.repo, loc.ref, loc.path) }, keep: false };
  if (entry.type !== 'blob') return null;
  const blob = await loadBlobView(access, loc.sha, loc.path, MAX_DISPLAY_BYTES);
  if (!blob) return null;
  const isMarkdown = MARKDOWN.test(loc.path);
  let display: BlobDisplay;
  if (imageType(loc.path) && (blob.binary || blob.blob.truncated)) display = { image: true };
  else if (blob.blob.truncated) display = { notice: 'large' };
  else if (blob.binary) display = { notice: 'binary' };
  else {
    const text = blob.blob.content.toString('utf8');
    if (entry.mode === '120000') display = { lines: highlightLines(text, null), symlink: text };
    else if (isMarkdown && !plain) display = { markdownHtml: markdownOfBlob(blob.blob.sha, text) };
    else display = { lines: highlightLines(text, languageFor(loc.path), blob.blob.sha) };
  }
  const here = blobUrl(access.repo, loc.ref, loc.path);
  const toggle = isMarkdown && !blob.blob.truncated && !blob.binary ? { preview: here, code: `${here}?plain=1` } : null;
  let ai: BlobAiToggle | undefined;
  if (display.lines && display.symlink === undefined) {
    const base = plain ? `${here}?plain=1` : here;
    ai = { on: aiOn, href: aiOn ? base : `${base}${plain ? '&' : '?'}ai=1` };
    if (aiOn) {
      const aiBlame = await loadLineAiContextAtRevision(c.get('app'), access, loc.sha, loc.path);
      ai.marks = aiLineMarks(aiBlame?.ranges ?? []);
    }
  }
  return { html: await htmlOf(<BlobBody repo={access.repo} loc={locOf(loc)} blob={blob} display={display} toggle={toggle} ai={ai} />), meta: {} };
}

/** The pages under a ref whose 404s keep the repository frame (header, tabs) and link to the branch root. */
const REF_PAGES = ['tree', 'blob', 'blame', 'commits', 'commit', 'raw'] as const;

/**
 * After a page under /:owner/:repo/<kind>/… answered 404 (an unknown ref or path), shows the repository's
 * own 404 instead of the generic one — only to viewers who can see the repository: for anyone else the
 * access check fails again here and the generic 404 stands (a private repository stays invisible).
 */
const repoFrame404: MiddlewareHandler<WebEnv> = async (c, next) => {
  await next();
  const err = c.error;
  if (!(err instanceof ServiceError) || err.status !== 404 || c.req.method !== 'GET') return;
  const access = await repoAccess(c).catch(() => null);
  if (!access) return;
  const parts = c.req.path.split('/').slice(4);
  let asked: string;
  try {
    asked = parts.map(decodeURIComponent).join('/').replace(/\/+$/, '');
  } catch {
    return;
  }
  const split = asked && !asked.includes('\0') ? await resolveRefAndPath(access, asked).catch(() => null) : null;
  c.res = undefined;
  c.res = await render(c, <RepoNotFoundPage ctx={pageContext(c)} view={await repoView(c, access)} missing={{ ref: split?.ref ?? null, asked }} />, 404);
};

export function registerCodeRoutes(ui: Hono<WebEnv>): void {
  for (const kind of REF_PAGES) ui.use(`/:owner/:repo/${kind}/*`, repoFrame404);
  // The ref switcher's filter: branches and tags matching ?q= (kind=branch|tag narrows), as JSON.
  ui.get('/:owner/:repo/-/refs', async (c) => {
    const access = await repoAccess(c);
    const q = c.req.query('q') ?? '';
    const kindParam = c.req.query('kind');
    const kind = kindParam === 'branch' || kindParam === 'tag' ? kindParam : kindParam === undefined || kindParam === '' || kindParam === 'all' ? 'all' : null;
    if (kind === null) return c.json({ message: 'kind must be branch, tag or all' }, 422);
    if (q.length > 255) return c.json({ message: 'q is too long (at most 255 characters)' }, 422);
    const limitParam = Number(c.req.query('limit') ?? '100');
    const limit = Number.isInteger(limitParam) && limitParam >= 1 ? Math.min(limitParam, 100) : 100;
    const found = await searchRepoRefs(access, q, kind, limit);
    return c.json(found, 200, { 'Cache-Control': 'private, no-cache' });
  });

  // The tree page's deferred "last commit" cells: every entry's last commit, once the history walk is done.
  ui.get('/:owner/:repo/-/last-commits/:sha{[0-9a-f]{40}}', async (c) => {
    const access = await repoAccess(c);
    const sha = c.req.param('sha');
    const path = checkPathOr404((c.req.query('path') ?? '').replace(/^\/+/, ''));
    const etag = `"lc-${sha}-${createHash('sha1').update(path).digest('hex').slice(0, 16)}"`;
    const headers = { ETag: etag, 'Cache-Control': 'private, max-age=86400' };
    if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
    const rows = await loadLastCommits(access, sha, path);
    if (!rows) throw notFound();
    return c.json(
      {
        entries: rows.map(({ name, commit }) => ({ name, sha: commit.sha, title: commit.title, href: commitUrl(access.repo, commit.sha), date: commit.committerDate, age: timeAgo(commit.committerDate), dateTitle: fullDate(commit.committerDate) })),
      },
      200,
      headers,
    );
  });

  ui.get('/:owner/:repo/tree', async (c) => {
    const access = await repoAccess(c);
    return c.redirect(treeUrl(access.repo, access.repo.default_branch), 302);
  });

  // Links of the first UI version.
  ui.get('/:owner/:repo/src/branch/:rest{.+}', async (c) => {
    const access = await repoAccess(c);
    return c.redirect(`${treeUrl(access.repo, '')}${c.req.param('rest')!.split('/').map(encodeURIComponent).join('/')}`, 301);
  });

  ui.get('/:owner/:repo/tree/:rest{.+}', async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c);
    const loc = await locate(access, c.req.param('rest'));
    // The listing and README at this commit: cached by ids; the last commit's status is a slot.
    const key = fragmentKey('tree', ...repoKey(access), loc.ref, loc.sha, loc.path);
    const [body, refs, view] = await Promise.all([
      cachedFragment<{ latest: string | null }>(key, async () => {
        const tree = await loadTreeView(access, loc.sha, loc.path);
        if (!tree) return null;
        const readmeHtml = tree.readme?.isMarkdown ? markdownOfBlob(tree.readme.sha, tree.readme.text) : null;
        // Still walking for some entries' last commits: shown now, kept once complete.
        return { html: await htmlOf(<TreeBody repo={access.repo} loc={locOf(loc)} tree={tree} readmeHtml={readmeHtml} />), meta: { latest: tree.latest?.sha ?? null }, keep: !tree.pending };
      }),
      listRepoRefs(access),
      repoView(c, access),
    ]);
    if (!body) {
      const entry = await entryAtPath(access.gitDir, loc.sha, loc.path);
      if (entry?.type === 'blob') return c.redirect(blobUrl(access.repo, loc.ref, loc.path), 302);
      throw notFound();
    }
    const statuses = body.meta.latest ? await combinedStatusesFor(app, access.repo.id, [body.meta.latest]) : new Map<string, StatusState>();
    return answerPage(c, { view, refs }, [key, [...statuses]], (ctx) => <TreePage ctx={ctx} view={view} loc={locOf(loc)} refs={refs} body={filled(body, statuses)} />);
  });

  ui.get('/:owner/:repo/blob/:rest{.+}', async (c) => {
    const access = await repoAccess(c);
    const loc = await locate(access, c.req.param('rest'));
    if (loc.path === '') return c.redirect(treeUrl(access.repo, loc.ref), 302);
    const plain = c.req.query('plain') === '1';
    const aiOn = c.req.query('ai') === '1';
    // The file at this commit: cached by ids. With the AI highlighting on, the marks (captures may be
    // recorded later) are looked up per request and the page is not cached.
    const key = fragmentKey('blob', ...repoKey(access), loc.ref, loc.sha, loc.path, plain);
    const compute = () => blobBody(c, access, loc, plain, aiOn);
    const [body, refs, view] = await Promise.all([aiOn ? compute() : cachedFragment(key, compute), listRepoRefs(access), repoView(c, access)]);
    if (!body) throw notFound();
    if (body.meta.redirect) return c.redirect(body.meta.redirect, 302);
    return answerPage(c, { view, refs }, aiOn ? body.html : key, (ctx) => <BlobPage ctx={ctx} view={view} loc={locOf(loc)} refs={refs} body={filled(body)} />);
  });

  ui.get('/:owner/:repo/raw/:rest{.+}', async (c) => {
    const access = await repoAccess(c);
    const loc = await locate(access, c.req.param('rest'));
    // Streamed from git when large: never read whole into memory, whatever the size.
    const blob = loc.path ? await openRawFile(access, loc.sha, loc.path) : null;
    if (!blob) throw notFound();
    const name = loc.path.split('/').pop()!;
    const image = imageType(loc.path);
    const binary = isBinary(blob.head);
    const headers: Record<string, string> = {
      'Content-Type': image && binary ? image : binary ? 'application/octet-stream' : 'text/plain; charset=utf-8',
      'Content-Length': String(blob.size),
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox",
      'Cache-Control': loc.kind === 'commit' && /^[0-9a-f]{40}$/.test(loc.ref) ? 'private, max-age=86400' : 'private, no-cache',
      ETag: `"${blob.sha}"`,
    };
    if (binary && !image) headers['Content-Disposition'] = `attachment; filename="${name.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`;
    if (c.req.header('if-none-match') === headers.ETag) {
      await discardRawFile(blob);
      return c.body(null, 304, { ETag: headers.ETag!, 'Cache-Control': headers['Cache-Control']! });
    }
    // HEAD: the body would be dropped unread, so stop its git process now.
    if (c.req.method === 'HEAD') {
      await discardRawFile(blob);
      return c.body(null, 200, headers);
    }
    return c.body(blob.body, 200, headers);
  });

  ui.get('/:owner/:repo/blame/:rest{.+}', async (c) => {
    const access = await repoAccess(c);
    const loc = await locate(access, c.req.param('rest'));
    if (loc.path === '') throw notFound();
    const entry = await entryAtPath(access.gitDir, loc.sha, loc.path);
    if (!entry) throw notFound();
    if (entry.type === 'tree') return c.redirect(treeUrl(access.repo, loc.ref, loc.path), 302);
    const size = entry.type === 'blob' ? await blobSize(access.gitDir, entry.sha) : null;
    if (size === null) throw notFound();
    if (size > FILE_LIMITS.blame) {
      setFlash(c, 'info', tooLargeMessage('blame', size, FILE_LIMITS.blame));
      return c.redirect(blobUrl(access.repo, loc.ref, loc.path), 302);
    }
    // One git blame (the AI blame: commits, line groups and captures; cached per commit and path) serves
    // the commit column and the AI gutter. The rendered table is cached by ids and by the version of the
    // captures it shows (they may be recorded after the commit); the refs and the header load beside it.
    // Per request only the blame's commits (the blame itself is cached per commit and path) and their
    // captures (one query) are looked up: the captures' version is part of the key.
    const [origins, refs, view] = await Promise.all([blameLineOrigins(access.gitDir, loc.sha, loc.path), listRepoRefs(access), repoView(c, access)]);
    if (!origins) throw notFound();
    const captures = await loadCaptureViews(c.get('app'), access.repo, [...origins.commits.keys()]);
    const key = fragmentKey('blame', ...repoKey(access), loc.ref, loc.sha, loc.path, versionOf([...captures]));
    const body = await cachedFragment<{ binary?: boolean }>(key, async () => {
      const aiBlame = await loadLineAiContextAtRevision(c.get('app'), access, loc.sha, loc.path);
      if (!aiBlame) return null;
      const blob = await readBlobAtPath(access.gitDir, loc.sha, loc.path, FILE_LIMITS.blame);
      if (!blob) return null;
      if (isBinary(blob.content)) return { html: '', meta: { binary: true } };
      const html = highlightLines(blob.content.toString('utf8'), languageFor(loc.path), blob.sha);
      const groups = blameGroups(aiBlame.ranges, html);
      const lineCount = aiBlame.ranges.length ? aiBlame.ranges[aiBlame.ranges.length - 1]!.end_line : 0;
      return { html: await htmlOf(<BlameBody repo={access.repo} loc={locOf(loc)} groups={groups} lineCount={lineCount} size={blob.size} ai={aiLineMarks(aiBlame.ranges)} />), meta: {} };
    });
    if (!body) throw notFound();
    if (body.meta.binary) return c.redirect(blobUrl(access.repo, loc.ref, loc.path), 302);
    return answerPage(c, { view, refs }, key, (ctx) => <BlamePage ctx={ctx} view={view} loc={locOf(loc)} refs={refs} body={filled(body)} />);
  });

  ui.get('/:owner/:repo/commits', async (c) => {
    const access = await repoAccess(c);
    const path = c.req.query('path');
    return c.redirect(commitsUrl(access.repo, access.repo.default_branch, { path: path && path.length < 4096 ? path : undefined }), 302);
  });

  ui.get('/:owner/:repo/commits/:rest{.+}', async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c);
    const loc = await locate(access, c.req.param('rest'));
    const queryPath = (c.req.query('path') ?? '').trim().replace(/^\/+/, '');
    const path = queryPath ? checkPathOr404(queryPath) : loc.path;
    const page = pageNumber(c.req.query('page'), 100_000);
    if (path && c.req.query('ai') === '1') {
      // "AI changes only": the file's commits with AI captures for it (renames followed), newest first, one page.
      const [refs, history] = await Promise.all([listRepoRefs(access), loadFileAiHistory(app, access, loc.sha, path, { limit: 100 })]);
      const briefs = (await Promise.all((history?.entries ?? []).map((e) => readCommitBrief(access.gitDir, e.commit.sha)))).filter((x) => x !== null);
      const [statuses, view] = await Promise.all([combinedStatusesFor(app, access.repo.id, briefs.map((x) => x.sha)), repoView(c, access)]);
      const here = { ...locOf(loc), path };
      const html = await htmlOf(<CommitsBody repo={access.repo} loc={here} commits={briefs} page={1} hasMore={false} statuses={statuses} aiOnly />);
      return answerPage(c, { view, refs }, html, (ctx) => <CommitsPage ctx={ctx} view={view} loc={here} refs={refs} body={html} aiOnly />);
    }
    // A page of the log at this commit (of one path, or all): cached by ids; statuses are slots.
    const here = { ...locOf(loc), path };
    const key = fragmentKey('commits', ...repoKey(access), loc.ref, loc.sha, path, page);
    const [body, refs, view] = await Promise.all([
      cachedFragment<{ shas: string[] }>(key, async () => {
        const rows = await listCommits(access.gitDir, loc.sha, { path: path || undefined, skip: (page - 1) * COMMITS_PER_PAGE, limit: COMMITS_PER_PAGE + 1 });
        const commits = rows.slice(0, COMMITS_PER_PAGE).map(briefFromSummary);
        return { html: await htmlOf(<CommitsBody repo={access.repo} loc={here} commits={commits} page={page} hasMore={rows.length > COMMITS_PER_PAGE} statusSlots />), meta: { shas: commits.map((x) => x.sha) } };
      }),
      listRepoRefs(access),
      repoView(c, access),
    ]);
    if (!body) throw notFound();
    const statuses = await combinedStatusesFor(app, access.repo.id, body.meta.shas);
    return answerPage(c, { view, refs }, [key, [...statuses]], (ctx) => <CommitsPage ctx={ctx} view={view} loc={here} refs={refs} body={filled(body, statuses)} />);
  });

  ui.get('/:owner/:repo/commit/:sha', async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c);
    const sha = await resolveRefOr404(access, c.req.param('sha'));
    const commit = await readCommitBrief(access.gitDir, sha);
    if (!commit) throw notFound();
    // The diff never changes for a commit: its rendering is cached by ids. The header (statuses, AI
    // captures, linked references as this viewer may see them) is built per request.
    const parent = commit.parents[0] ?? null;
    const key = fragmentKey('commit-diff', ...repoKey(access), sha, parent);
    const [diffBody, all, ai, links, view] = await Promise.all([
      cachedFragment(key, async () => {
        const diff = await cachedDiff(access.gitDir, parent, sha, UI_DIFF_MAX_BYTES);
        return { html: await htmlOf(<DiffView repo={access.repo} diff={diff} viewRef={sha} truncatedHref={treeUrl(access.repo, sha)} />), meta: undefined };
      }),
      listCommitStatuses(app, access.repo.id, sha),
      loadCommitAiContexts(app, access.repo, sha),
      resolveReferenceLinks(app, c.get('identity')?.viewer ?? null, access, [commit.message], { plain: true }),
      repoView(c, access),
    ]);
    const combined = all.length ? combineStatuses(all) : null;
    const status = combined ? { state: combined.state, contexts: combined.statuses.map((s) => ({ context: s.context, state: s.state, description: s.description, targetUrl: s.target_url })) } : null;
    const node = ai.length ? await findGraphNode(app, access.repo.id, 'commit', sha) : null;
    const aiGraphHref = node ? graphUrl(access.repo, { node: node.id }) : null;
    return answerPage(c, { view, refs: null }, [key, status, ai, aiGraphHref, links], (ctx) => <CommitPage ctx={ctx} view={view} commit={commit} diffHtml={filled(diffBody!)} status={status} ai={ai} aiGraphHref={aiGraphHref} links={links} />);
  });

  ui.get('/:owner/:repo/compare', async (c) => {
    const access = await repoAccess(c);
    const base = c.req.query('base') || access.repo.default_branch;
    let head = c.req.query('head') ?? '';
    if (!head) {
      const refs = await listRepoRefs(access);
      const others = refs.branches.filter((b) => b.name !== base);
      head = others[0]?.name ?? base;
    }
    return c.redirect(compareUrl(access.repo, base, head), 302);
  });

  ui.get('/:owner/:repo/compare/:spec{.+}', async (c) => {
    const access = await repoAccess(c);
    const [view, refs, cmp] = await Promise.all([repoView(c, access), listRepoRefs(access), loadCompare(c, access, c.req.param('spec')!, { diff: false })]);
    const canOpen = !!c.get('identity') && roleAtLeast(access.role, 'write');
    // The repository's pull request template is the form's description (GitHub's and Gitea's).
    const pullTemplate = canOpen && cmp.branches && cmp.existingPull === null ? await loadPullRequestTemplate(access) : null;
    // The commits and the diff between the two commits: cached by ids; the form and the refs per request.
    const key = fragmentKey('compare', ...repoKey(access), cmp.baseSha, cmp.headSha, cmp.mergeBase);
    const changes =
      cmp.ahead > 0
        ? await cachedFragment(key, async () => {
            const diff = cmp.mergeBase ? await cachedDiff(access.gitDir, cmp.mergeBase, cmp.headSha, UI_DIFF_MAX_BYTES) : null;
            return { html: await htmlOf(<CompareChanges repo={access.repo} cmp={{ ...cmp, diff }} />), meta: undefined, bytes: true };
          })
        : null;
    return answerChunkedPage(c, { view, refs }, [key, cmp.base, cmp.head, cmp.branches, cmp.existingPull, canOpen, pullTemplate], changes, (ctx, changesHtml) => <ComparePage ctx={ctx} view={view} refs={refs} cmp={cmp} canOpen={canOpen} changesHtml={changesHtml} pullTemplate={pullTemplate} />);
  });

  // One file's diff between two commits: what a comparison's "Load diff" fetches (gitoku.js asks for the
  // changes alone), or a page of its own without scripts. Both ids are immutable: so is the answer.
  ui.get('/:owner/:repo/diff-file/:from{[0-9a-f]{40,64}}/:to{[0-9a-f]{40,64}}', async (c) => {
    const access = await repoAccess(c);
    const from = c.req.param('from')!;
    const to = c.req.param('to')!;
    const path = c.req.query('path') ?? '';
    if (!isSafeRepoPath(path)) throw notFound();
    const [fromSha, toSha] = await Promise.all([resolveCommit(access.gitDir, from), resolveCommit(access.gitDir, to)]);
    if (fromSha !== from || toSha !== to) throw notFound();
    const diff = await cachedDiff(access.gitDir, from, to, UI_DIFF_MAX_BYTES);
    const index = diff.files.findIndex((f) => f.path === path);
    if (index < 0) throw notFound('That file is not part of this diff');
    const file = diff.files[index]!;
    if (c.req.header('x-gitoku-fragment') === 'diff-file') return c.html(await htmlOf(<DiffFileChanges file={file} />), 200, { 'Cache-Control': 'private, max-age=86400' });
    return render(c, <DiffFilePage ctx={pageContext(c)} view={await repoView(c, access)} from={from} to={to} file={file} index={index} />);
  });

  ui.get('/:owner/:repo/branches', async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c);
    const [refs, pulls] = await Promise.all([listRepoRefs(access), openPullsByBranch(app, access.repo.id)]);
    const protectedNames = await protectedBranchNames(app.db, access.repo.id, refs.branches.map((b) => b.name));
    const branches = await Promise.all(refs.branches.map(async (b) => ({ name: b.name, sha: b.sha, commit: await readCommitBrief(access.gitDir, b.sha), pull: pulls.get(b.name) ?? null, protected: protectedNames.has(b.name) })));
    return render(c, <BranchesPage ctx={pageContext(c)} view={await repoView(c, access)} branches={branches} canWrite={!!c.get('identity') && roleAtLeast(access.role, 'write')} />);
  });

  // /:owner/:repo/tags (with archives and releases) is in ui/releases.tsx.
}

/** base...head (or just head, against the default branch): commits, counts and the diff from the merge base. */
export async function loadCompare(c: Context<WebEnv>, access: RepositoryAccess, spec: string, opts: { diff?: boolean } = {}): Promise<CompareInfo> {
  const app = c.get('app');
  const sep = spec.indexOf('...');
  const base = sep < 0 ? access.repo.default_branch : spec.slice(0, sep);
  const head = sep < 0 ? spec : spec.slice(sep + 3);
  const [baseSha, headSha] = await Promise.all([resolveRefOr404(access, base), resolveRefOr404(access, head)]);
  const [{ mergeBase: mb, ahead, behind, commits }, refs] = await Promise.all([cachedComparison(access.gitDir, baseSha, headSha, 250), listRepoRefs(access)]);
  const diff = mb && ahead > 0 && opts.diff !== false ? await cachedDiff(access.gitDir, mb, headSha, UI_DIFF_MAX_BYTES) : null;
  const branches = refs.branches.some((b) => b.name === base) && refs.branches.some((b) => b.name === head);
  const existing = branches
    ? await app.db.selectFrom('pull_requests').select('number').where('repository_id', '=', access.repo.id).where('state', '=', 'open').where('base_branch', '=', base).where('compare_branch', '=', head).executeTakeFirst()
    : undefined;
  return { base, head, baseSha, headSha, mergeBase: mb, ahead, behind, commits: [...commits].reverse(), diff, branches, existingPull: existing?.number ?? null };
}
