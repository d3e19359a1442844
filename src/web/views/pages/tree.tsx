import type { Child, FC } from 'hono/jsx';
import { raw } from 'hono/html';
import type { PageContext } from '../context.ts';
import type { BlobView, CommitBrief, RefLists, TreeView } from '../../../services/uiBrowse.ts';
import { Icon } from '../icons.tsx';
import { formatBytes, shortDate } from '../format.ts';
import { Breadcrumbs, CodeTable, CommitBar, FileTable, lastCommitsUrl, Readme, RefSwitcher, shortSha } from '../code.tsx';
import { blameUrl, blobUrl, commitUrl, commitsUrl, graphUrl, rawUrl, treeUrl } from '../urls.ts';
import { RepoLayout, type RepoView } from './repo.tsx';
import { AiCodeTable, AiLegend, AiPopover, aiHue, type AiLineMark } from '../aiProvenance.tsx';
import { escapeHtml } from '../highlight.ts';

/** Where the page is: the ref (as typed in the URL), what it is, its commit, and the path. */
export interface Location {
  ref: string;
  kind: 'branch' | 'tag' | 'commit';
  sha: string;
  path: string;
}

export type PageKind = 'tree' | 'blob' | 'blame' | 'commits';

/** The URL of the same page at another ref. */
export function sameViewAt(view: RepoView, page: PageKind, path: string): (ref: string) => string {
  const repo = view.repo;
  return (ref) => (page === 'blob' ? blobUrl(repo, ref, path) : page === 'blame' ? blameUrl(repo, ref, path) : page === 'commits' ? commitsUrl(repo, ref, { path }) : treeUrl(repo, ref, path));
}

export const CodeToolbar: FC<{ view: RepoView; loc: Location; refs: RefLists; page: PageKind; children?: Child; crumbs?: boolean }> = ({ view, loc, refs, page, children, crumbs = true }) => (
  <div class="code-toolbar">
    <RefSwitcher current={loc.ref} kind={loc.kind} refs={refs} href={sameViewAt(view, page, loc.path)} />
    {crumbs && loc.path !== '' && <Breadcrumbs repo={view.repo} refName={loc.ref} path={loc.path} trailingSlash={page === 'tree'} />}
    {children}
  </div>
);

/**
 * A directory's listing and README: the tree page's cacheable body (src/web/fragmentCache.ts). The last
 * commit's status is left as a slot the route fills per request.
 */
export const TreeBody: FC<{ repo: RepoView['repo']; loc: Location; tree: TreeView; readmeHtml: string | null }> = ({ repo, loc, tree, readmeHtml }) => (
  <>
    <FileTable repo={repo} refName={loc.ref} path={loc.path} entries={tree.entries} latest={tree.latest} lastCommitsUrl={tree.pending ? lastCommitsUrl(repo, loc.sha, loc.path) : null} statusSlot />
    {tree.readme && <Readme name={tree.readme.name} html={readmeHtml} text={tree.readme.text} />}
  </>
);

/** `body`: the rendered TreeBody (HTML), cached by the route. */
export const TreePage: FC<{ ctx: PageContext; view: RepoView; loc: Location; refs: RefLists; body: string }> = ({ ctx, view, loc, refs, body }) => {
  const { repo } = view;
  return (
    <RepoLayout ctx={ctx} view={view} title={`${loc.path || repo.name} at ${loc.kind === 'commit' ? shortSha(loc.ref) : loc.ref} · ${repo.owner_name}/${repo.name}`} active="code">
      <CodeToolbar view={view} loc={loc} refs={refs} page="tree">
        <span class="toolbar-spacer"></span>
        <a class="btn btn-sm" href={commitsUrl(repo, loc.ref, { path: loc.path })}>
          <Icon name="history" /> History
        </a>
      </CodeToolbar>
      {raw(body)}
    </RepoLayout>
  );
};

export interface BlobDisplay {
  /** Highlighted lines (escaped HTML), when shown as code. */
  lines?: string[];
  /** Rendered (sanitized) markdown, when shown as a document. */
  markdownHtml?: string;
  /** The file is an image shown from its raw URL. */
  image?: boolean;
  /** Why the content is not shown (binary, too large). */
  notice?: 'binary' | 'large';
  /** Text that is a symbolic link's target. */
  symlink?: string;
}

/** The "Highlight AI-written lines" toggle of a file view: its state, the link that flips it, and the marks when on. */
export interface BlobAiToggle {
  on: boolean;
  href: string;
  marks?: Map<number, AiLineMark>;
}

/** `body`: the rendered BlobBody (HTML), cached by the route. */
export const BlobPage: FC<{ ctx: PageContext; view: RepoView; loc: Location; refs: RefLists; body: string }> = ({ ctx, view, loc, refs, body }) => {
  const { repo } = view;
  return (
    <RepoLayout ctx={ctx} view={view} title={`${loc.path} at ${loc.kind === 'commit' ? shortSha(loc.ref) : loc.ref} · ${repo.owner_name}/${repo.name}`} active="code">
      <CodeToolbar view={view} loc={loc} refs={refs} page="blob" />
      {raw(body)}
    </RepoLayout>
  );
};

/** A file's last commit and its content: the blob page's cacheable body. */
export const BlobBody: FC<{ repo: RepoView['repo']; loc: Location; blob: BlobView; display: BlobDisplay; toggle: { preview: string; code: string } | null; ai?: BlobAiToggle }> = ({ repo, loc, blob, display, toggle, ai }) => {
  const name = loc.path.split('/').pop() ?? loc.path;
  const lineCount = display.lines?.length ?? null;
  return (
    <>
      {blob.latest && (
        <div class="card file-card blob-commit">
          <CommitBar repo={repo} commit={blob.latest} historyHref={commitsUrl(repo, loc.ref, { path: loc.path })} />
        </div>
      )}
      <div class="card file-card blob-card">
        <div class="blob-head">
          <div class="blob-info">
            {toggle ? (
              <span class="segmented" role="group" aria-label="Display">
                <a class={display.markdownHtml !== undefined ? 'seg active' : 'seg'} href={toggle.preview} aria-current={display.markdownHtml !== undefined ? 'true' : undefined}>
                  Preview
                </a>
                <a class={display.markdownHtml === undefined ? 'seg active' : 'seg'} href={toggle.code} aria-current={display.markdownHtml === undefined ? 'true' : undefined}>
                  Code
                </a>
              </span>
            ) : null}
            {lineCount !== null && (
              <span class="muted">
                {lineCount} {lineCount === 1 ? 'line' : 'lines'}
              </span>
            )}
            <span class="muted">{formatBytes(blob.blob.size)}</span>
            {display.symlink !== undefined && <span class="badge">Symbolic link</span>}
            {ai && display.lines && display.lines.length > 0 && (
              <a class={ai.on ? 'btn btn-sm ai-toggle active' : 'btn btn-sm ai-toggle'} href={ai.href} id="ai-toggle" aria-pressed={ai.on ? 'true' : 'false'}>
                {ai.on ? 'Hide AI-written lines' : 'Highlight AI-written lines'}
              </a>
            )}
          </div>
          <div class="btn-group">
            <a class="btn btn-sm" href={rawUrl(repo, loc.ref, loc.path)} id="raw-link">
              Raw
            </a>
            {!display.notice && !display.image && (
              <a class="btn btn-sm" href={blameUrl(repo, loc.ref, loc.path)}>
                Blame
              </a>
            )}
            <a class="btn btn-sm" href={graphUrl(repo, { path: loc.path })} id="graph-link" title="The knowledge graph of this file: its AI-written ranges and the runs behind them">
              <Icon name="graph" /> Graph
            </a>
            <a class="btn btn-sm" href={rawUrl(repo, loc.ref, loc.path)} download={name} title="Download" aria-label="Download">
              <Icon name="download" />
            </a>
          </div>
        </div>
        {display.markdownHtml !== undefined ? (
          <article class="markdown-body" dangerouslySetInnerHTML={{ __html: display.markdownHtml }} />
        ) : display.image ? (
          <div class="blob-image">
            <img src={rawUrl(repo, loc.ref, loc.path)} alt={name} />
          </div>
        ) : display.notice ? (
          <div class="blob-notice">
            <Icon name={display.notice === 'binary' ? 'file' : 'alert'} size={24} />
            <p>{display.notice === 'binary' ? 'Binary file not shown.' : 'This file is too large to display.'}</p>
            <a class="btn btn-sm" href={rawUrl(repo, loc.ref, loc.path)}>
              View raw
            </a>
          </div>
        ) : display.lines && display.lines.length === 0 ? (
          <div class="blob-notice">
            <p class="muted">This file is empty.</p>
          </div>
        ) : ai?.on && ai.marks ? (
          <>
            <AiLegend repo={repo} marks={ai.marks} total={display.lines?.length ?? 0} />
            <AiCodeTable lines={display.lines ?? []} marks={ai.marks} />
          </>
        ) : (
          <CodeTable lines={display.lines ?? []} />
        )}
      </div>
    </>
  );
};

export interface BlameGroup {
  commit: CommitBrief | { sha: string; title: string; authorName: string; authorDate: string };
  start: number;
  lines: string[];
  /** 0 (oldest) … 9 (newest) for the age bar. */
  age: number;
}

/** `body`: the rendered BlameBody (HTML), cached by the route. */
export const BlamePage: FC<{ ctx: PageContext; view: RepoView; loc: Location; refs: RefLists; body: string }> = ({ ctx, view, loc, refs, body }) => {
  const { repo } = view;
  return (
    <RepoLayout ctx={ctx} view={view} title={`Blame · ${loc.path} at ${loc.kind === 'commit' ? shortSha(loc.ref) : loc.ref} · ${repo.owner_name}/${repo.name}`} active="code">
      <CodeToolbar view={view} loc={loc} refs={refs} page="blame" />
      {raw(body)}
    </RepoLayout>
  );
};

/** The blame table with its head: the blame page's cacheable body. */
export const BlameBody: FC<{ repo: RepoView['repo']; loc: Location; groups: BlameGroup[]; lineCount: number; size: number; ai?: Map<number, AiLineMark> }> = ({ repo, loc, groups, lineCount, size, ai }) => {
  return (
    <div class="card file-card blob-card blame-card">
        <div class="blob-head">
          <div class="blob-info">
            <span class="badge badge-accent">Blame</span>
            <span class="muted">
              {lineCount} {lineCount === 1 ? 'line' : 'lines'}
            </span>
            <span class="muted">{formatBytes(size)}</span>
            <span class="blame-legend muted hide-sm">
              Older <span class="age-scale" aria-hidden="true"></span> Newer
            </span>
            {ai && ai.size > 0 && (
              <span class="ai-blame-count muted">
                {ai.size} AI-written {ai.size === 1 ? 'line' : 'lines'}
              </span>
            )}
          </div>
          <div class="btn-group">
            <a class="btn btn-sm" href={blobUrl(repo, loc.ref, loc.path)}>
              Normal view
            </a>
            <a class="btn btn-sm" href={rawUrl(repo, loc.ref, loc.path)}>
              Raw
            </a>
            <a class="btn btn-sm" href={commitsUrl(repo, loc.ref, { path: loc.path })}>
              <Icon name="history" /> History
            </a>
            <a class="btn btn-sm" href={graphUrl(repo, { path: loc.path })} id="graph-link" title="The knowledge graph of this file: its AI-written ranges and the runs behind them">
              <Icon name="graph" /> Graph
            </a>
          </div>
        </div>
        <div class="code-scroll">
          <table class={ai && ai.size > 0 ? 'code-table blame-table has-ai' : 'code-table blame-table'} data-line-anchors="">
            {raw(blameRowsHtml(repo, groups, lineCount, ai))}
          </table>
        </div>
    </div>
  );
};


/** Lines from the end of a long file whose AI popover opens upwards, so that it stays above the page footer. */
const POP_UP_LINES = 16;

/**
 * The blame table's rows, built as one string (a 3,000-line file is thousands of cells: JSX per cell
 * costs more than the blame itself). Each group is a tbody; its commit cell is one text line (date,
 * title, author), so a row is exactly as tall as a line of the file view; the AI mark is a narrow chip.
 */
export function blameRowsHtml(repo: RepoView['repo'], groups: readonly BlameGroup[], lineCount: number, ai?: Map<number, AiLineMark>): string {
  const withAi = !!ai && ai.size > 0;
  let out = '';
  for (const g of groups) {
    out += '<tbody class="blame-group">';
    const title = escapeHtml(g.commit.title);
    const author = escapeHtml(g.commit.authorName);
    const date = escapeHtml(g.commit.authorDate);
    for (let i = 0; i < g.lines.length; i++) {
      const n = g.start + i;
      out += `<tr id="L${n}">`;
      if (i === 0) {
        out +=
          `<td class="blame-commit age-${g.age}" rowspan="${g.lines.length}"><div class="blame-info">` +
          `<time class="blame-date" datetime="${date}" title="${date}">${escapeHtml(shortDate(g.commit.authorDate))}</time>` +
          `<a class="blame-title" href="${escapeHtml(commitUrl(repo, g.commit.sha))}" title="${title}">${title}</a>` +
          `<span class="blame-author" title="${author}">${author}</span></div></td>`;
      }
      if (withAi) out += aiGutterHtml(repo, ai.get(n), n > lineCount - POP_UP_LINES && n > POP_UP_LINES);
      out += `<td class="ln"><a href="#L${n}" data-line="${n}">${n}</a></td><td class="lc">${g.lines[i] || ' '}</td></tr>`;
    }
    out += '</tbody>';
  }
  return out;
}

function aiGutterHtml(repo: RepoView['repo'], mark: AiLineMark | undefined, up: boolean): string {
  if (!mark) return '<td class="ai-gutter"></td>';
  const hue = aiHue(mark.captures[0]!);
  if (!mark.start) return `<td class="ai-gutter ai-on ${hue}"></td>`;
  const pop: unknown = (<AiPopover repo={repo} captures={mark.captures} lines={mark.label} up={up} />).toString();
  return `<td class="ai-gutter ai-on ${hue} ai-start">${typeof pop === 'string' ? pop : ''}</td>`;
}
