import type { FC } from 'hono/jsx';
import { raw } from 'hono/html';
import type { PageContext } from '../context.ts';
import type { CommitBrief, RefLists } from '../../../services/uiBrowse.ts';
import type { StatusState } from '../../../services/statuses.ts';
import type { DiffResult, FileDiff } from '../../../git/diff.ts';
import { Avatar, Badge, EmptyState, PageLinks, Time } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { Breadcrumbs, CommitGroups, DiffFileBox, DiffView, INLINE_DIFF_LINES, RefSwitcher, shortSha, StatusDot } from '../code.tsx';
import { commitUrl, commitsUrl, compareUrl, diffFileUrl, pullUrl, repoUrl, treeUrl } from '../urls.ts';
import { RepoLayout, type RepoView } from './repo.tsx';
import { sameViewAt, type Location } from './tree.tsx';
import { NewPullForm, type NewPullValues } from './pulls.tsx';
import type { FormError } from '../context.ts';
import type { CaptureView } from '../../../services/provenance.ts';
import { AiCommitPanel } from '../aiProvenance.tsx';
import { renderPlainText, type ReferenceLinks } from '../../markdown.ts';

/**
 * A page of commits (with its page links): the commits page's cacheable body; each commit's status is a
 * slot the route fills per request (`statusSlots`), or a dot from `statuses`.
 */
export const CommitsBody: FC<{ repo: RepoView['repo']; loc: Location; commits: CommitBrief[]; page: number; hasMore: boolean; statuses?: Map<string, StatusState>; statusSlots?: boolean; aiOnly?: boolean }> = ({ repo, loc, commits, page, hasMore, statuses, statusSlots, aiOnly }) => {
  const refLabel = loc.kind === 'commit' ? shortSha(loc.ref) : loc.ref;
  return (
    <>
      {commits.length === 0 ? (
        <div class="card">
          <EmptyState icon="history" title="No commits found">
            <p class="muted">{aiOnly ? `No commit on ${refLabel} with AI provenance touches ${loc.path}.` : loc.path ? `No commit on ${refLabel} touches ${loc.path}.` : 'There is nothing on this page.'}</p>
          </EmptyState>
        </div>
      ) : (
        <CommitGroups repo={repo} commits={commits} statuses={statuses} statusSlots={statusSlots} />
      )}
      {(page > 1 || hasMore) && <PageLinks page={page} hasMore={hasMore} href={(n) => commitsUrl(repo, loc.ref, { path: loc.path, page: n })} />}
    </>
  );
};

/** `body`: the rendered CommitsBody (HTML). */
export const CommitsPage: FC<{ ctx: PageContext; view: RepoView; loc: Location; refs: RefLists; body: string; aiOnly?: boolean }> = ({ ctx, view, loc, refs, body, aiOnly }) => {
  const { repo } = view;
  const allHref = commitsUrl(repo, loc.ref, { path: loc.path });
  const refLabel = loc.kind === 'commit' ? shortSha(loc.ref) : loc.ref;
  return (
    <RepoLayout ctx={ctx} view={view} title={`Commits${loc.path ? ` · ${loc.path}` : ''} at ${refLabel} · ${repo.owner_name}/${repo.name}`} active="commits">
      <div class="page-title-row">
        <h2 class="page-title">{loc.path ? 'History' : 'Commits'}</h2>
      </div>
      <div class="code-toolbar">
        <RefSwitcher current={loc.ref} kind={loc.kind} refs={refs} href={sameViewAt(view, 'commits', loc.path)} />
        {loc.path && <Breadcrumbs repo={repo} refName={loc.ref} path={loc.path} />}
        <span class="toolbar-spacer"></span>
        <form method="get" action={commitsUrl(repo, loc.ref)} class="path-filter" role="search">
          <label class="sr-only" for="path-filter">
            Only commits touching a path
          </label>
          <input id="path-filter" class="input input-sm mono" type="text" name="path" value={loc.path} placeholder="Filter by path, e.g. src/app.ts" />
          {aiOnly && <input type="hidden" name="ai" value="1" />}
          <button type="submit" class="btn btn-sm">
            Filter
          </button>
          {loc.path && (
            <a class="btn btn-sm btn-ghost" href={commitsUrl(repo, loc.ref)} title="Show all commits">
              <Icon name="x" /> Clear
            </a>
          )}
        </form>
        {loc.path && (
          <span class="segmented ai-history-filter" role="group" aria-label="Which changes">
            <a class={aiOnly ? 'seg' : 'seg active'} href={allHref} aria-current={aiOnly ? undefined : 'true'}>
              All changes
            </a>
            <a class={aiOnly ? 'seg active' : 'seg'} href={`${allHref}${allHref.includes('?') ? '&' : '?'}ai=1`} aria-current={aiOnly ? 'true' : undefined} id="ai-history-only">
              AI changes only
            </a>
          </span>
        )}
      </div>
      {raw(body)}
    </RepoLayout>
  );
};

/** `diffHtml`: the commit's rendered DiffView (cached by the route: a commit's diff never changes). */
export const CommitPage: FC<{ ctx: PageContext; view: RepoView; commit: CommitBrief; diffHtml: string; status: { state: StatusState; contexts: { context: string; state: StatusState; description: string; targetUrl: string | null }[] } | null; ai?: CaptureView[]; aiGraphHref?: string | null; links?: ReferenceLinks }> = ({ ctx, view, commit, diffHtml, status, ai, aiGraphHref, links }) => {
  const { repo } = view;
  const body = commit.message.slice(commit.title.length).trim();
  return (
    <RepoLayout ctx={ctx} view={view} title={`${commit.title} · ${repo.owner_name}/${repo.name}@${shortSha(commit.sha)}`} active="commits">
      <div class="card commit-header">
        <div class="commit-header-main">
          <h1 class="commit-header-title">
            {commit.title}
            <StatusDot state={status?.state} title={status ? status.contexts.map((c) => `${c.context}: ${c.state}`).join(', ') : undefined} />
          </h1>
          {/* Escaped text with #N / OWNER/REPO#N / @user linked (web/markdown.ts). */}
          {body && <pre class="commit-body commit-body-full" dangerouslySetInnerHTML={{ __html: renderPlainText(body, links) }} />}
          <a class="btn btn-sm browse-files" href={treeUrl(repo, commit.sha)}>
            <Icon name="code" /> Browse files
          </a>
        </div>
        <div class="commit-header-foot">
          <span class="commit-who">
            <Avatar name={commit.authorName || '?'} size="sm" />
            <strong title={commit.authorEmail}>{commit.authorName}</strong>
            <span class="muted">
              {commit.committerName && commit.committerName !== commit.authorName ? (
                <>
                  authored <Time iso={commit.authorDate} /> · {commit.committerName} committed <Time iso={commit.committerDate} />
                </>
              ) : (
                <>
                  committed <Time iso={commit.committerDate} />
                </>
              )}
            </span>
          </span>
          <span class="commit-ids">
            {commit.parents.length > 0 && (
              <span class="muted">
                {commit.parents.length === 1 ? '1 parent' : `${commit.parents.length} parents`}{' '}
                {commit.parents.map((p, i) => (
                  <>
                    {i > 0 && ' + '}
                    <a href={commitUrl(repo, p)} class="sha-link">
                      <code class="sha">{shortSha(p)}</code>
                    </a>
                  </>
                ))}
              </span>
            )}
            <span class="muted">
              commit <code class="sha sha-full">{commit.sha}</code>
            </span>
          </span>
        </div>
      </div>
      {status && status.contexts.length > 0 && (
        <div class="card checks-card" id="checks">
          <ul class="checks-list">
            {status.contexts.map((s) => (
              <li class="check-row">
                <StatusDot state={s.state} />
                <strong class="check-context">{s.context}</strong>
                <span class="muted check-desc">{s.description || s.state}</span>
                {s.targetUrl && /^https?:\/\//i.test(s.targetUrl) && (
                  <a class="check-link" href={s.targetUrl} rel="nofollow noopener noreferrer">
                    Details
                  </a>
                )}
              </li>
            ))}
          </ul>
        </div>
      )}
      {ai && ai.length > 0 && <AiCommitPanel repo={repo} sha={commit.sha} captures={ai} graphHref={aiGraphHref} />}
      {raw(diffHtml)}
    </RepoLayout>
  );
};

export interface CompareInfo {
  base: string;
  head: string;
  baseSha: string;
  headSha: string;
  mergeBase: string | null;
  ahead: number;
  behind: number;
  commits: CommitBrief[];
  diff: DiffResult | null;
  /** Both sides are branches (a pull request can be opened). */
  branches: boolean;
  existingPull: number | null;
}

/** The commits and the diff of a comparison: the compare page's cacheable part (everything in it is addressed by the two commits). */
export const CompareChanges: FC<{ repo: RepoView['repo']; cmp: CompareInfo }> = ({ repo, cmp }) => (
  <>
    <section class="section-tight">
      <CommitGroups repo={repo} commits={[...cmp.commits].reverse()} />
    </section>
    {cmp.diff && (
      <section class="section-tight">
        <DiffView repo={repo} diff={cmp.diff} viewRef={cmp.headSha} defer={cmp.mergeBase ? { lines: INLINE_DIFF_LINES, href: (f) => diffFileUrl(repo, cmp.mergeBase!, cmp.headSha, f.path) } : undefined} />
      </section>
    )}
  </>
);

/** One file's diff between two commits (where "Load diff" leads without scripts). */
export const DiffFilePage: FC<{ ctx: PageContext; view: RepoView; from: string; to: string; file: FileDiff; index: number }> = ({ ctx, view, from, to, file, index }) => (
  <RepoLayout ctx={ctx} view={view} title={`${file.path} · ${shortSha(from)}...${shortSha(to)} · ${view.repo.owner_name}/${view.repo.name}`} active="code">
    <div class="page-title-row">
      <h2 class="page-title">
        Changes to <span class="mono">{file.path}</span>
      </h2>
      <p class="muted">
        From <a href={commitUrl(view.repo, from)}>{shortSha(from)}</a> to <a href={commitUrl(view.repo, to)}>{shortSha(to)}</a>
      </p>
    </div>
    <DiffFileBox repo={view.repo} file={file} index={index} viewRef={to} expanded />
  </RepoLayout>
);

/** `changesHtml`: the rendered CompareChanges when the route has it cached (else they are rendered here). */
export const ComparePage: FC<{ ctx: PageContext; view: RepoView; refs: RefLists; cmp: CompareInfo; canOpen: boolean; form?: NewPullValues; error?: FormError | null; changesHtml?: string; pullTemplate?: string | null }> = ({ ctx, view, refs, cmp, canOpen, form, error, changesHtml, pullTemplate }) => {
  const { repo } = view;
  const identical = cmp.ahead === 0;
  return (
    <RepoLayout ctx={ctx} view={view} title={`Comparing ${cmp.base}...${cmp.head} · ${repo.owner_name}/${repo.name}`} active="pulls">
      <div class="page-title-row">
        <h2 class="page-title">Comparing changes</h2>
        <p class="muted">Choose two branches to see what changed, or to open a pull request.</p>
      </div>
      <div class="card compare-bar">
        <Icon name="compare" class="muted" />
        <RefSwitcher current={cmp.base} kind={refs.branches.some((b) => b.name === cmp.base) ? 'branch' : refs.tags.some((t) => t.name === cmp.base) ? 'tag' : 'commit'} refs={refs} href={(r) => compareUrl(repo, r, cmp.head)} label="base" id="compare-base" />
        <span class="compare-arrow" aria-hidden="true">
          ←
        </span>
        <RefSwitcher current={cmp.head} kind={refs.branches.some((b) => b.name === cmp.head) ? 'branch' : refs.tags.some((t) => t.name === cmp.head) ? 'tag' : 'commit'} refs={refs} href={(r) => compareUrl(repo, cmp.base, r)} label="compare" id="compare-head" />
        <span class="compare-state">
          {cmp.mergeBase === null ? (
            <span class="text-del">
              <Icon name="x" /> No common history
            </span>
          ) : identical ? (
            <span class="muted">{cmp.behind > 0 ? `${cmp.head} is ${cmp.behind} ${cmp.behind === 1 ? 'commit' : 'commits'} behind ${cmp.base}` : 'These refs are identical'}</span>
          ) : (
            <span>
              <strong>{cmp.ahead}</strong> {cmp.ahead === 1 ? 'commit' : 'commits'} ahead{cmp.behind > 0 ? <>, <strong>{cmp.behind}</strong> behind</> : null}
            </span>
          )}
        </span>
      </div>
      {cmp.existingPull !== null ? (
        <div class="flash flash-info">
          <Icon name="pull" />
          <span>
            A pull request for these branches is already open:{' '}
            <a href={pullUrl(repo, cmp.existingPull)}>
              <strong>#{cmp.existingPull}</strong>
            </a>
          </span>
        </div>
      ) : !identical && cmp.branches && cmp.mergeBase !== null && canOpen ? (
        <NewPullForm ctx={ctx} view={view} values={form ?? { base: cmp.base, head: cmp.head, title: defaultTitle(cmp), body: pullTemplate ?? defaultBody(cmp) }} error={error} />
      ) : null}
      {identical ? (
        <div class="card">
          <EmptyState icon="compare" title="There isn't anything to compare">
            <p class="muted">
              {cmp.base === cmp.head ? 'Choose two different branches.' : `${cmp.head} has no commits that ${cmp.base} does not have.`} Pick another branch with the switchers above.
            </p>
          </EmptyState>
        </div>
      ) : changesHtml !== undefined ? (
        raw(changesHtml)
      ) : (
        <CompareChanges repo={repo} cmp={cmp} />
      )}
    </RepoLayout>
  );
};

function defaultTitle(cmp: CompareInfo): string {
  if (cmp.commits.length === 1) return cmp.commits[0]!.title;
  const name = cmp.head.split('/').pop() ?? cmp.head;
  const words = name.replace(/[-_]+/g, ' ').trim();
  return words ? words[0]!.toUpperCase() + words.slice(1) : cmp.head;
}

function defaultBody(cmp: CompareInfo): string {
  if (cmp.commits.length === 1) return cmp.commits[0]!.message.slice(cmp.commits[0]!.title.length).trim();
  return '';
}

export interface BranchRow {
  name: string;
  sha: string;
  commit: CommitBrief | null;
  pull: { number: number; draft: boolean } | null;
  /** Covered by a branch protection rule (settings). */
  protected?: boolean;
}

export const BranchesPage: FC<{ ctx: PageContext; view: RepoView; branches: BranchRow[]; canWrite: boolean }> = ({ ctx, view, branches, canWrite }) => {
  const { repo } = view;
  const def = branches.find((b) => b.name === repo.default_branch);
  const others = branches.filter((b) => b.name !== repo.default_branch).sort((a, b) => Date.parse(b.commit?.committerDate ?? '') - Date.parse(a.commit?.committerDate ?? '') || a.name.localeCompare(b.name));
  const row = (b: BranchRow) => (
    <li class="ref-row">
      <div class="ref-row-main">
        <a class="ref-row-name mono" href={treeUrl(repo, b.name)}>
          <Icon name="branch" /> {b.name}
        </a>
        {b.name === repo.default_branch && <Badge kind="accent">default</Badge>}
        {b.protected && (
          <span class="badge branch-protected-badge" title="A branch protection rule covers this branch">
            <Icon name="lock" /> Protected
          </span>
        )}
        {b.commit && (
          <span class="ref-row-meta muted">
            Updated <Time iso={b.commit.committerDate} /> by {b.commit.authorName} ·{' '}
            <a href={commitUrl(repo, b.sha)} class="muted-link">
              {b.commit.title}
            </a>
          </span>
        )}
      </div>
      <div class="ref-row-actions">
        {b.pull ? (
          <a class={`pr-chip ${b.pull.draft ? 'pr-chip-draft' : 'pr-chip-open'}`} href={pullUrl(repo, b.pull.number)}>
            <Icon name={b.pull.draft ? 'draft' : 'pull'} /> #{b.pull.number}
          </a>
        ) : b.name !== repo.default_branch && canWrite ? (
          <a class="btn btn-sm" href={compareUrl(repo, repo.default_branch, b.name)}>
            New pull request
          </a>
        ) : null}
        <a class="btn btn-sm btn-ghost" href={commitsUrl(repo, b.name)} title="Commits" aria-label={`Commits on ${b.name}`}>
          <Icon name="history" />
        </a>
      </div>
    </li>
  );
  return (
    <RepoLayout ctx={ctx} view={view} title={`Branches · ${repo.owner_name}/${repo.name}`} active="branches">
      <div class="page-title-row">
        <h2 class="page-title">Branches</h2>
        <a class="btn btn-sm" href={`${repoUrl(repo)}/tags`}>
          <Icon name="tag" /> Tags
        </a>
      </div>
      {def && (
        <section class="section-tight">
          <h3 class="section-label">Default branch</h3>
          <ul class="card ref-list">{row(def)}</ul>
        </section>
      )}
      <section class="section-tight">
        <h3 class="section-label">
          {others.length ? 'Other branches' : 'No other branches'} <span class="counter">{others.length}</span>
        </h3>
        {others.length > 0 && <ul class="card ref-list">{others.map(row)}</ul>}
      </section>
    </RepoLayout>
  );
};
