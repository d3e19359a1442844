import type { Child, FC } from 'hono/jsx';
import { raw } from 'hono/html';
import type { RefLists, CommitBrief, TreeRow } from '../../services/uiBrowse.ts';
import type { DiffResult, FileDiff } from '../../git/diff.ts';
import { parsePatchLines, type DiffLine } from '../../domain/diffLines.ts';
import type { StatusState } from '../../services/statuses.ts';
import { Avatar, Time } from './components.tsx';
import { Icon, type IconName } from './icons.tsx';
import { formatBytes, shortDate } from './format.ts';
import { escapeHtml, highlightLines, languageFor } from './highlight.ts';
import { blobUrl, commitUrl, commitsUrl, treeUrl, type RepoRef } from './urls.ts';
import { isRunBranch } from '../../domain/runs.ts';

/** Building blocks of the code pages: ref switcher, breadcrumbs, file lists, code and diff tables. */

export const shortSha = (sha: string) => sha.slice(0, 7);

/** The JSON endpoint with the last commit of every entry of a directory at a commit (the tree page's deferred cells). */
export const lastCommitsUrl = (r: RepoRef, sha: string, path: string) => `/${encodeURIComponent(r.owner_name)}/${encodeURIComponent(r.name)}/-/last-commits/${sha}${path ? `?path=${encodeURIComponent(path)}` : ''}`;
const isSha = (ref: string) => /^[0-9a-f]{40}$/.test(ref);

/** The branch or tag entries of the ref switcher, the current one checked. */
const RefItems: FC<{ names: string[]; selected: string | null; href: (ref: string) => string }> = ({ names, selected, href }) => (
  <ul class="dropdown-list">
    {names.map((name) => (
      <li>
        <a class={name === selected ? 'dropdown-item selected' : 'dropdown-item'} href={href(name)} data-filter-text={name} title={name}>
          <Icon name="check" class="dropdown-check" />
          <span class="mono">{name}</span>
        </a>
      </li>
    ))}
  </ul>
);

/** Branches the switcher lists inline (the current and default branches come on top of these); the rest load on demand. */
export const INLINE_BRANCHES = 20;
/** Stands for the ref in the switcher's link template (gitoku.js fills in the refs it fetches). */
const REF_PLACEHOLDER = '__gitoku_ref__';

/**
 * The branches shown inline: the current one, the default branch, then the most recently committed
 * (agent runs' branches apart), at most INLINE_BRANCHES. Tags are never inline beyond the current one:
 * a repository may have thousands, and the filter asks the server for matches as the user types.
 */
export function inlineRefs(refs: RefLists, current: string, kind: 'branch' | 'tag' | 'commit'): { branches: string[]; tags: string[]; moreBranches: number } {
  const picked: string[] = [];
  const add = (name: string | undefined) => {
    if (name && !picked.includes(name) && refs.branches.some((b) => b.name === name)) picked.push(name);
  };
  if (kind === 'branch') add(current);
  add(refs.defaultBranch);
  const recent = refs.branches.filter((b) => !isRunBranch(b.name)).sort((a, b) => (b.time ?? 0) - (a.time ?? 0) || a.name.localeCompare(b.name));
  for (const b of recent) {
    if (picked.length >= INLINE_BRANCHES) break;
    add(b.name);
  }
  return { branches: picked, tags: kind === 'tag' ? [current] : [], moreBranches: refs.branches.length - picked.length };
}

export const RefSwitcher: FC<{ current: string; kind: 'branch' | 'tag' | 'commit'; refs: RefLists; href: (ref: string) => string; label?: string; id?: string }> = ({ current, kind, refs, href, label, id }) => {
  const icon: IconName = kind === 'tag' ? 'tag' : kind === 'commit' ? 'commit' : 'branch';
  const shown = kind === 'commit' && isSha(current) ? shortSha(current) : current;
  const inline = inlineRefs(refs, current, kind);
  const template = href(REF_PLACEHOLDER);
  return (
    <details class="dropdown ref-switcher" id={id} data-refs-url={refs.repoUrl ? `${refs.repoUrl}/-/refs` : undefined} data-ref-href={template.includes(REF_PLACEHOLDER) ? template : undefined} data-ref-current={current}>
      <summary class="btn btn-sm ref-button" title={`${label ?? 'Switch branches or tags'}: ${current}`}>
        <Icon name={icon} />
        {label && <span class="ref-label">{label}:</span>}
        <span class="ref-name">{shown}</span>
        <span class="caret" aria-hidden="true"></span>
      </summary>
      <div class="dropdown-panel">
        <div class="dropdown-title">Switch branches/tags</div>
        <div class="dropdown-filter" hidden data-filter-for="next">
          <input type="search" class="input input-sm" placeholder="Find a branch or tag" aria-label="Find a branch or tag" />
        </div>
        <div class="dropdown-scroll">
          <div class="ref-results" data-ref-results>
            <div class="dropdown-section">{inline.moreBranches > 0 ? 'Recent branches' : 'Branches'}</div>
            <RefItems names={inline.branches} selected={kind === 'branch' ? current : null} href={href} />
            {inline.tags.length > 0 && (
              <>
                <div class="dropdown-section">Tags</div>
                <RefItems names={inline.tags} selected={current} href={href} />
              </>
            )}
          </div>
        </div>
        {refs.repoUrl && (
          <div class="dropdown-footer ref-more">
            <a href={`${refs.repoUrl}/branches`}>
              View all {refs.branches.length} {refs.branches.length === 1 ? 'branch' : 'branches'}
            </a>
            {refs.tags.length > 0 && (
              <a href={`${refs.repoUrl}/tags`}>
                View all {refs.tags.length} {refs.tags.length === 1 ? 'tag' : 'tags'}
              </a>
            )}
          </div>
        )}
      </div>
    </details>
  );
};

/** repo / dir / dir / file, each linking to its tree page. */
export const Breadcrumbs: FC<{ repo: RepoRef; refName: string; path: string; trailingSlash?: boolean }> = ({ repo, refName, path, trailingSlash }) => {
  const parts = path ? path.split('/') : [];
  return (
    <nav class="breadcrumbs" aria-label="Path">
      <a href={treeUrl(repo, refName)} class="crumb-root">
        {repo.name}
      </a>
      {parts.map((part, i) => {
        const sub = parts.slice(0, i + 1).join('/');
        return (
          <>
            <span class="crumb-sep">/</span>
            {i === parts.length - 1 ? (
              <strong class="crumb-leaf">{part}</strong>
            ) : (
              <a href={treeUrl(repo, refName, sub)} class="crumb">
                {part}
              </a>
            )}
          </>
        );
      })}
      {trailingSlash && <span class="crumb-sep">/</span>}
    </nav>
  );
};

export const StatusDot: FC<{ state: StatusState | null | undefined; title?: string }> = ({ state, title }) =>
  state ? (
    <span class={`status-dot status-${state === 'error' ? 'failure' : state}`} title={title ?? `Checks: ${state}`} role="img" aria-label={title ?? `Checks: ${state}`}>
      <Icon name={state === 'success' ? 'check' : state === 'pending' ? 'dot' : 'x'} size={12} />
    </span>
  ) : null;

/**
 * Where a commit's status dot goes in a cached page fragment (src/web/fragmentCache.ts): statuses change
 * without the commit changing, so a cached fragment keeps a marker the route fills per request.
 */
export const StatusSlot: FC<{ sha: string }> = ({ sha }) => raw(`<!--slot:status:${sha}-->`);

/** The last commit of a file or directory above its listing. `statusSlot`: leave a StatusSlot instead of the dot. */
export const CommitBar: FC<{ repo: RepoRef; commit: CommitBrief; historyHref?: string; status?: StatusState | null; statusSlot?: boolean }> = ({ repo, commit, historyHref, status, statusSlot }) => (
  <div class="commit-bar">
    <Avatar name={commit.authorName || '?'} size="sm" />
    <span class="commit-author" title={commit.authorEmail}>
      {commit.authorName}
    </span>
    <a class="commit-subject" href={commitUrl(repo, commit.sha)} title={commit.message}>
      {commit.title}
    </a>
    <span class="commit-meta">
      {statusSlot ? <StatusSlot sha={commit.sha} /> : <StatusDot state={status} />}
      <a class="sha-link" href={commitUrl(repo, commit.sha)} title={commit.sha}>
        <code class="sha">{shortSha(commit.sha)}</code>
      </a>
      <Time iso={commit.committerDate} />
      {historyHref && (
        <a class="btn btn-sm btn-ghost history-link" href={historyHref}>
          <Icon name="history" /> <span class="hide-sm">History</span>
        </a>
      )}
    </span>
  </div>
);

function entryIcon(entry: TreeRow): IconName {
  if (entry.type === 'tree') return 'folder';
  if (entry.type === 'commit') return 'submodule';
  if (entry.mode === '120000') return 'symlink';
  return 'file';
}

/** A directory listing: name, last commit and its age for each entry. */
/**
 * A directory listing with each entry's last commit. `lastCommitsUrl`: some last commits were not ready
 * within the page's time budget; gitoku.js fills their cells from that JSON endpoint (without script
 * they stay empty, and a reload shows them once the walk has finished).
 */
export const FileTable: FC<{ repo: RepoRef; refName: string; path: string; entries: TreeRow[]; latest: CommitBrief | null; latestStatus?: StatusState | null; lastCommitsUrl?: string | null; statusSlot?: boolean }> = ({ repo, refName, path, entries, latest, latestStatus, lastCommitsUrl, statusSlot }) => {
  const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
  return (
    <div class="card file-card">
      {latest && <CommitBar repo={repo} commit={latest} historyHref={commitsUrl(repo, refName, { path })} status={latestStatus} statusSlot={statusSlot} />}
      <ul class="file-list" data-last-commits={lastCommitsUrl ?? undefined}>
        {path !== '' && (
          <li class="file-row file-up">
            <Icon name="up" class="muted" />
            <a class="file-name" href={treeUrl(repo, refName, parent)} title="Parent directory">
              ..
            </a>
          </li>
        )}
        {entries.map((entry) => (
          <li class={`file-row file-${entry.type}`} data-entry={entry.commit ? undefined : entry.name}>
            <Icon name={entryIcon(entry)} class={entry.type === 'tree' ? 'icon-folder' : 'muted'} />
            {entry.type === 'commit' ? (
              <span class="file-name" title="Submodule">
                {entry.name} <span class="muted">@ {shortSha(entry.sha)}</span>
              </span>
            ) : (
              <a class="file-name" href={entry.type === 'tree' ? treeUrl(repo, refName, entry.path) : blobUrl(repo, refName, entry.path)} title={entry.name}>
                {entry.name}
              </a>
            )}
            {entry.commit ? (
              <a class="file-commit" href={commitUrl(repo, entry.commit.sha)} title={entry.commit.title}>
                {entry.commit.title}
              </a>
            ) : (
              <span class="file-commit"></span>
            )}
            <span class="file-age">{entry.commit ? <Time iso={entry.commit.committerDate} /> : entry.size !== null ? formatBytes(entry.size) : ''}</span>
          </li>
        ))}
      </ul>
    </div>
  );
};

/** Rows of a code table ("L12" anchors on line numbers); `lines` is escaped HTML from highlightLines. */
export function codeRowsHtml(lines: string[], idPrefix = 'L'): string {
  let out = '';
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    out += `<tr id="${idPrefix}${n}"><td class="ln"><a href="#${idPrefix}${n}" data-line="${n}">${n}</a></td><td class="lc">${lines[i] || ' '}</td></tr>`;
  }
  return out;
}

export const CodeTable: FC<{ lines: string[] }> = ({ lines }) => (
  <div class="code-scroll">
    <table class="code-table" data-line-anchors="">
      <tbody>{raw(codeRowsHtml(lines))}</tbody>
    </table>
  </div>
);

export const Readme: FC<{ name: string; html: string | null; text: string }> = ({ name, html, text }) => (
  <div class="card readme" id="readme">
    <div class="card-head readme-head">
      <Icon name="book" /> <span>{name}</span>
    </div>
    {html !== null ? <article class="markdown-body" dangerouslySetInnerHTML={{ __html: html }} /> : <pre class="readme-plain">{text}</pre>}
  </div>
);

// ---------- commits ----------

/** Commits grouped by day ("Commits on Mar 3, 2025"), newest first. */
export const CommitGroups: FC<{ repo: RepoRef; commits: CommitBrief[]; statuses?: Map<string, StatusState>; browseRef?: boolean; statusSlots?: boolean }> = ({ repo, commits, statuses, browseRef = true, statusSlots }) => {
  const groups: { day: string; commits: CommitBrief[] }[] = [];
  for (const c of commits) {
    const day = shortDate(c.committerDate);
    const last = groups[groups.length - 1];
    if (last && last.day === day) last.commits.push(c);
    else groups.push({ day, commits: [c] });
  }
  return (
    <div class="commit-groups">
      {groups.map((g) => (
        <section class="commit-group">
          <h3 class="commit-day">
            <Icon name="commit" /> Commits on {g.day}
          </h3>
          <ul class="card commit-list">
            {g.commits.map((c) => (
              <CommitRow repo={repo} commit={c} status={statuses?.get(c.sha) ?? null} browseRef={browseRef} statusSlot={statusSlots} />
            ))}
          </ul>
        </section>
      ))}
    </div>
  );
};

export const CommitRow: FC<{ repo: RepoRef; commit: CommitBrief; status?: StatusState | null; browseRef?: boolean; statusSlot?: boolean }> = ({ repo, commit, status, browseRef = true, statusSlot }) => {
  const body = commit.message.slice(commit.title.length).trim();
  return (
    <li class="commit-row">
      <div class="commit-row-main">
        <div class="commit-row-title">
          <a href={commitUrl(repo, commit.sha)} class="commit-title-link">
            {commit.title}
          </a>
          {body && (
            <details class="commit-more">
              <summary class="btn btn-sm btn-ghost" aria-label="Show the full message">
                …
              </summary>
              <pre class="commit-body">{body}</pre>
            </details>
          )}
        </div>
        <div class="commit-row-meta">
          <Avatar name={commit.authorName || '?'} size="sm" />
          <strong>{commit.authorName}</strong>
          <span class="muted">
            {commit.committerName && commit.committerName !== commit.authorName ? <>authored, {commit.committerName} committed </> : 'committed '}
            <Time iso={commit.committerDate} />
          </span>
          {statusSlot ? <StatusSlot sha={commit.sha} /> : <StatusDot state={status} />}
        </div>
      </div>
      <div class="commit-row-actions">
        <a class="btn btn-sm sha-button" href={commitUrl(repo, commit.sha)} title={commit.sha}>
          <code>{shortSha(commit.sha)}</code>
        </a>
        {browseRef && (
          <a class="btn btn-sm btn-icon-sm" href={treeUrl(repo, commit.sha)} title="Browse the repository at this point" aria-label="Browse the repository at this point">
            <Icon name="code" />
          </a>
        )}
      </div>
    </li>
  );
};

// ---------- diffs ----------

const STATUS_LABEL: Record<FileDiff['status'], string> = { added: 'Added', removed: 'Deleted', modified: 'Modified', renamed: 'Renamed', copied: 'Copied', changed: 'Type changed' };

/** Files with more changed lines than this start collapsed. */
const COLLAPSE_LINES = 800;

/**
 * A diff shown in part (as GitHub does on large comparisons): files are rendered while the changed lines
 * rendered so far stay within `lines`; any other file, and any one file over COLLAPSE_LINES, shows its
 * header and a "Load diff" link to `href(file)` (that file's diff alone, fetched in place by gitoku.js).
 */
export interface DiffDeferral {
  lines: number;
  href: (file: FileDiff) => string;
  /** Files rendered in place whatever their size (a pull request's files with conversations on them). */
  inline?: (file: FileDiff) => boolean;
}

/** The changed lines a comparison renders inline before files wait for "Load diff". */
export const INLINE_DIFF_LINES = 3000;

export interface DiffHooks {
  /** Extra content rendered under a new-side line (comment threads, an open comment form). */
  afterLine?: (file: FileDiff, line: number) => Child | null;
  /** "+" button on new-side lines: returns the no-script href of the inline form, or null for none. */
  commentHref?: (file: FileDiff, line: number) => string | null;
  /** Content at the top of a file's diff (outdated comments). */
  fileTop?: (file: FileDiff) => Child | null;
  /** A mark on an added line (AI-written lines): an extra row class, and trusted HTML put before the sign. */
  lineMark?: (file: FileDiff, line: number) => { className: string; html?: string } | null;
}

export function fileAnchor(index: number): string {
  return `diff-${index + 1}`;
}

export const DiffStat: FC<{ additions: number; deletions: number }> = ({ additions, deletions }) => {
  const total = additions + deletions;
  const blocks = 5;
  const green = total === 0 ? 0 : Math.round((additions / total) * blocks);
  const red = total === 0 ? 0 : Math.min(blocks - green, Math.max(deletions > 0 ? 1 : 0, Math.round((deletions / total) * blocks)));
  return (
    <span class="diffstat" title={`${additions} additions & ${deletions} deletions`}>
      <span class="diffstat-add">+{additions}</span>
      <span class="diffstat-del">−{deletions}</span>
      <span class="diffstat-bar" aria-hidden="true">
        {Array.from({ length: blocks }, (_, i) => (
          <span class={i < green ? 'sq sq-add' : i < green + red ? 'sq sq-del' : 'sq'}></span>
        ))}
      </span>
    </span>
  );
};

/** The whole diff: a summary line, the file list and each file in a collapsible box. */
export const DiffView: FC<{ repo: RepoRef; diff: DiffResult; viewRef: string; hooks?: DiffHooks; truncatedHref?: string; defer?: DiffDeferral }> = ({ repo, diff, viewRef, hooks, truncatedHref, defer }) => {
  const additions = diff.files.reduce((n, f) => n + f.additions, 0);
  const deletions = diff.files.reduce((n, f) => n + f.deletions, 0);
  let rendered = 0;
  const deferredHref = (f: FileDiff): string | undefined => {
    const size = f.additions + f.deletions;
    if (!defer || f.binary || f.patch === null || f.patchTruncated) return undefined;
    if (defer.inline?.(f) || (size <= COLLAPSE_LINES && rendered + size <= defer.lines)) {
      rendered += size;
      return undefined;
    }
    return defer.href(f);
  };
  return (
    <div class="diff-view">
      <div class="diff-summary">
        <span>
          Showing <strong>{diff.files.length} changed {diff.files.length === 1 ? 'file' : 'files'}</strong> with <strong class="text-add">{additions} {additions === 1 ? 'addition' : 'additions'}</strong> and{' '}
          <strong class="text-del">{deletions} {deletions === 1 ? 'deletion' : 'deletions'}</strong>
        </span>
        {diff.files.length > 1 && (
          <details class="dropdown diff-toc">
            <summary class="btn btn-sm">
              <Icon name="filediff" /> Files <span class="caret" aria-hidden="true"></span>
            </summary>
            <div class="dropdown-panel dropdown-panel-right">
              <ul class="dropdown-list">
                {diff.files.map((f, i) => (
                  <li>
                    <a class="dropdown-item toc-item" href={`#${fileAnchor(i)}`}>
                      <span class={`toc-status toc-${f.status}`}>{f.status[0]!.toUpperCase()}</span>
                      <span class="mono toc-path">{f.path}</span>
                      <span class="toc-counts">
                        <span class="text-add">+{f.additions}</span> <span class="text-del">−{f.deletions}</span>
                      </span>
                    </a>
                  </li>
                ))}
              </ul>
            </div>
          </details>
        )}
      </div>
      {diff.truncated && (
        <div class="flash flash-warning diff-notice" role="status">
          <Icon name="alert" />
          <span>
            This diff is too large to show in full: some files are listed without their changes.
            {truncatedHref && (
              <>
                {' '}
                <a href={truncatedHref}>Browse the files</a> instead.
              </>
            )}
          </span>
        </div>
      )}
      {diff.files.map((f, i) => (
        <DiffFileBox repo={repo} file={f} index={i} viewRef={viewRef} hooks={hooks} deferredHref={deferredHref(f)} />
      ))}
    </div>
  );
};

/** One file of a diff; with `deferredHref`, its header and a "Load diff" link instead of its changes. */
export const DiffFileBox: FC<{ repo: RepoRef; file: FileDiff; index: number; viewRef: string; hooks?: DiffHooks; deferredHref?: string; expanded?: boolean }> = ({ repo, file, index, viewRef, hooks, deferredHref, expanded }) => {
  const big = !deferredHref && !expanded && file.additions + file.deletions > COLLAPSE_LINES;
  const top = hooks?.fileTop?.(file) ?? null;
  return (
    <details class="diff-file card" id={fileAnchor(index)} open={!big}>
      <summary class="diff-file-head">
        <Icon name="chevron" class="diff-chevron" />
        <span class={`file-status file-status-${file.status}`}>{STATUS_LABEL[file.status]}</span>
        <span class="diff-path mono" title={file.path}>
          {file.previousPath && file.previousPath !== file.path ? (
            <>
              <span class="muted">{file.previousPath}</span> → {file.path}
            </>
          ) : (
            file.path
          )}
        </span>
        <DiffStat additions={file.additions} deletions={file.deletions} />
        {file.status !== 'removed' && (
          <a class="btn btn-sm btn-ghost view-file" href={blobUrl(repo, viewRef, file.path)} title="View the file">
            <Icon name="eye" /> <span class="hide-sm">View</span>
          </a>
        )}
      </summary>
      {top}
      {deferredHref ? (
        <div class="diff-deferred">
          <p class="diff-empty">
            {file.additions + file.deletions} changed lines, not shown until asked for.{' '}
            <a class="load-diff" href={deferredHref}>
              Load diff
            </a>
          </p>
        </div>
      ) : (
        <DiffBody file={file} hooks={hooks} big={big} />
      )}
    </details>
  );
};

/** A file's changes alone: what "Load diff" puts in place of a deferred file's link (with a pull request's hooks on its files tab). */
export const DiffFileChanges: FC<{ file: FileDiff; hooks?: DiffHooks }> = ({ file, hooks }) => <DiffBody file={file} hooks={hooks} big={false} />;

const DiffBody: FC<{ file: FileDiff; hooks?: DiffHooks; big: boolean }> = ({ file, hooks, big }) => {
  if (file.binary) return <p class="diff-empty">Binary file not shown.</p>;
  if (file.patch === null || file.patchTruncated) return <p class="diff-empty">This file's diff is too large to display.</p>;
  if (!file.patch.trim()) {
    return <p class="diff-empty">{file.status === 'renamed' ? 'File renamed without changes.' : file.oldMode !== file.newMode ? `File mode changed from ${file.oldMode} to ${file.newMode}.` : 'No changes to show.'}</p>;
  }
  const lines = parsePatchLines(file.patch);
  const html = highlightDiff(lines, file);
  return (
    <div class="code-scroll">
      {big && <p class="diff-empty diff-big-note">Large diff: {file.additions + file.deletions} lines changed.</p>}
      <table class="diff-table">
        <colgroup>
          <col class="col-num" />
          <col class="col-num" />
          <col />
        </colgroup>
        <tbody>{diffRows(file, lines, html, hooks)}</tbody>
      </table>
    </div>
  );
};

/** Highlights the old side (context + deletions) and the new side (context + additions) as two streams. */
function highlightDiff(lines: DiffLine[], file: FileDiff): string[] {
  const lang = languageFor(file.path);
  const oldIdx: number[] = [];
  const newIdx: number[] = [];
  lines.forEach((l, i) => {
    if (l.kind === 'del' || l.kind === 'context') oldIdx.push(i);
    if (l.kind === 'add' || l.kind === 'context') newIdx.push(i);
  });
  const out: string[] = lines.map((l) => escapeHtml(l.text));
  if (!lang) return out;
  const key = `${file.oldSha}:${file.newSha}:${file.patch!.length}`;
  const oldHtml = highlightLines(oldIdx.map((i) => lines[i]!.text).join('\n'), lang, `${key}:old`);
  const newHtml = highlightLines(newIdx.map((i) => lines[i]!.text).join('\n'), lang, `${key}:new`);
  oldIdx.forEach((i, k) => {
    if (lines[i]!.kind === 'del') out[i] = oldHtml[k] ?? out[i]!;
  });
  newIdx.forEach((i, k) => {
    out[i] = newHtml[k] ?? out[i]!;
  });
  return out;
}

function diffRows(file: FileDiff, lines: DiffLine[], html: string[], hooks?: DiffHooks): Child[] {
  const out: Child[] = [];
  let buf = '';
  const attrPath = escapeHtml(file.path);
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.kind === 'hunk') {
      buf += `<tr class="dl dl-hunk"><td class="dn" colspan="2"></td><td class="dc">${escapeHtml(l.text)}</td></tr>`;
      continue;
    }
    const mark = l.kind === 'add' && l.newLine !== null ? (hooks?.lineMark?.(file, l.newLine) ?? null) : null;
    const cls = (l.kind === 'add' ? 'dl dl-add' : l.kind === 'del' ? 'dl dl-del' : 'dl') + (mark ? ` ${escapeHtml(mark.className)}` : '');
    const sign = l.kind === 'add' ? '+' : l.kind === 'del' ? '-' : ' ';
    let plus = '';
    if (l.newLine !== null && hooks?.commentHref) {
      const href = hooks.commentHref(file, l.newLine);
      if (href) plus = `<a class="add-comment" href="${escapeHtml(href)}" data-path="${attrPath}" data-line="${l.newLine}" data-side="RIGHT" title="Comment on this line" aria-label="Comment on line ${l.newLine}">+</a>`;
    }
    buf += `<tr class="${cls}"><td class="dn" data-n="${l.oldLine ?? ''}"></td><td class="dn" data-n="${l.newLine ?? ''}"></td><td class="dc">${plus}${mark?.html ?? ''}<span class="dm">${sign}</span>${html[i] || ''}</td></tr>`;
    const extra = l.newLine !== null && l.kind !== 'del' ? (hooks?.afterLine?.(file, l.newLine) ?? null) : null;
    if (extra) {
      out.push(raw(buf));
      buf = '';
      out.push(
        <tr class="dl-extra">
          <td colspan={3}>{extra}</td>
        </tr>,
      );
    }
  }
  if (buf) out.push(raw(buf));
  return out;
}

/** A few lines of an original diff hunk (for outdated comments). */
export const HunkSnippet: FC<{ hunk: string; path: string; maxLines?: number }> = ({ hunk, path, maxLines = 6 }) => {
  const lines = parsePatchLines(hunk).filter((l) => l.kind !== 'hunk');
  const shown = lines.slice(-maxLines);
  const lang = languageFor(path);
  const html = shown.map((l) => (lang ? (highlightLines(l.text, lang)[0] ?? '') : escapeHtml(l.text)));
  let rows = '';
  shown.forEach((l, i) => {
    const cls = l.kind === 'add' ? 'dl dl-add' : l.kind === 'del' ? 'dl dl-del' : 'dl';
    const sign = l.kind === 'add' ? '+' : l.kind === 'del' ? '-' : ' ';
    rows += `<tr class="${cls}"><td class="dn" data-n="${l.oldLine ?? ''}"></td><td class="dn" data-n="${l.newLine ?? ''}"></td><td class="dc"><span class="dm">${sign}</span>${html[i] || ''}</td></tr>`;
  });
  return (
    <div class="code-scroll hunk-snippet">
      <table class="diff-table">
        <colgroup>
          <col class="col-num" />
          <col class="col-num" />
          <col />
        </colgroup>
        <tbody>{raw(rows)}</tbody>
      </table>
    </div>
  );
};
