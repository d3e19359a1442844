import type { Child, FC } from 'hono/jsx';
import type { FormError, PageContext } from '../context.ts';
import type { Run, RunStatus } from '../../../db/schema.ts';
import type { RunLinks, RunPullRequest } from '../../../services/uiRuns.ts';
import type { DiffResult, FileDiff } from '../../../git/diff.ts';
import { parsePatchLines } from '../../../domain/diffLines.ts';
import { roleAtLeast } from '../../../domain/permissions.ts';
import { Layout } from '../layout.tsx';
import { RepoHeader, type RepoView } from './repo.tsx';
import { EmptyState, PageAssets, PageLinks, PostForm, Time } from '../components.tsx';
import { Icon, type IconName } from '../icons.tsx';
import { fullDate, sentence } from '../format.ts';

/* ---------- shared pieces of the task (agent run) pages ---------- */

export const runsUrl = (view: RepoView) => `/${encodeURIComponent(view.repo.owner_name)}/${encodeURIComponent(view.repo.name)}/runs`;
export const runUrl = (view: RepoView, number: number) => `${runsUrl(view)}/${number}`;
export const pullHref = (view: RepoView, number: number) => `/${encodeURIComponent(view.repo.owner_name)}/${encodeURIComponent(view.repo.name)}/pull/${number}`;
export const canWriteRuns = (view: RepoView) => roleAtLeast(view.role, 'write');

export const ACTIVE: ReadonlySet<RunStatus> = new Set(['queued', 'running', 'blocked']);
export const isActive = (run: Run) => ACTIVE.has(run.status);

const STATUS_LABEL: Record<RunStatus, string> = { queued: 'Queued', running: 'Running', succeeded: 'Succeeded', failed: 'Failed', cancelled: 'Cancelled', blocked: 'Blocked' };
export const statusLabel = (status: string) => STATUS_LABEL[status as RunStatus] ?? status;

/** The script driver is a deterministic stand-in for an agent: the UI says so. */
export const driverLabel = (driver: string) => (driver === 'script' ? 'scripted' : driver);

/** The stylesheet and live-log script of the task pages (only these pages load them). */
export const RunAssets: FC<{ ctx: PageContext; refresh?: boolean }> = ({ ctx, refresh }) => (
  // Without JavaScript, an unfinished run's page reloads itself to follow progress.
  <PageAssets ctx={ctx} styles={['runs.css']} scripts={['runs.js']} refreshSeconds={refresh ? 3 : undefined} />
);

/** A repository page on the Tasks tab. */
export const RunsLayout: FC<{ ctx: PageContext; view: RepoView; title: string; refresh?: boolean; children?: Child }> = ({ ctx, view, title, refresh, children }) => (
  <Layout ctx={ctx} title={title} band={<RepoHeader ctx={ctx} view={view} active="runs" />} head={<RunAssets ctx={ctx} refresh={refresh} />}>
    {children}
  </Layout>
);

/** Queued grey, running blue with a pulsing dot, succeeded green, failed red, cancelled grey. */
export const RunStatusBadge: FC<{ status: string; large?: boolean; id?: string }> = ({ status, large, id }) => (
  <span class={`run-status run-status-${status}${large ? ' run-status-lg' : ''}`} id={id} data-run-status={status}>
    <span class="run-status-dot" aria-hidden="true"></span>
    <span class="run-status-text">{statusLabel(status)}</span>
  </span>
);

export function runDurationMs(run: Run, now = Date.now()): number | null {
  if (!run.started_at) return null;
  const end = run.finished_at ? Date.parse(run.finished_at) : now;
  const ms = end - Date.parse(run.started_at);
  return Number.isFinite(ms) ? Math.max(0, ms) : null;
}

/** "4s", "2m 05s", "1h 03m". */
export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** The run's duration; while it runs, /-/static/runs.js keeps it ticking. */
export const RunDuration: FC<{ run: Run; now: number }> = ({ run, now }) => {
  const ms = runDurationMs(run, now);
  if (ms === null) return <span class="run-duration muted">{run.status === 'queued' ? 'waiting' : '—'}</span>;
  return (
    <span class="run-duration" data-elapsed-from={run.status === 'running' ? run.started_at! : undefined} data-server-now={run.status === 'running' ? String(now) : undefined} title={run.finished_at ? `Finished ${fullDate(run.finished_at)}` : undefined}>
      {formatDuration(ms)}
    </span>
  );
};

/** "scripted" or "codex · gpt-5". */
export const RunAgent: FC<{ run: Pick<Run, 'driver' | 'model'> }> = ({ run }) => (
  <span class={`run-agent run-agent-${run.driver === 'script' ? 'scripted' : 'agent'}`} title={`Driver: ${run.driver}${run.model ? ` · model: ${run.model}` : ''}`}>
    <span class="run-agent-driver">{driverLabel(run.driver)}</span>
    {run.model && run.model !== run.driver ? <span class="run-agent-model">{run.model}</span> : null}
  </span>
);

const PR_ICON: Record<string, IconName> = { open: 'pull', merged: 'merge', closed: 'closed' };

export const RunPullLink: FC<{ view: RepoView; pr: RunPullRequest | undefined }> = ({ view, pr }) =>
  pr ? (
    <a class={`run-pr run-pr-${pr.state === 'open' && pr.draft ? 'draft' : pr.state}`} href={pullHref(view, pr.number)} title={`Pull request #${pr.number} (${pr.state === 'open' && pr.draft ? 'draft' : pr.state})`}>
      <Icon name={pr.state === 'open' && pr.draft ? 'draft' : (PR_ICON[pr.state] ?? 'pull')} /> PR #{pr.number}
    </a>
  ) : null;

/**
 * A form error whose message may span lines (the script driver explains its syntax): the first line
 * as a sentence, the rest as preformatted text.
 */
export const RunFormAlert: FC<{ error: FormError | null | undefined }> = ({ error }) => {
  if (!error) return null;
  const [head = '', ...rest] = error.message.split('\n');
  const detail = rest.join('\n').trim();
  return (
    <div class="flash flash-error form-alert run-form-alert" role="alert">
      <Icon name="alert" />
      <div>
        <span>{sentence(head.trim())}</span>
        {detail ? <pre class="run-form-alert-detail">{detail}</pre> : null}
      </div>
    </div>
  );
};

/* ---------- the Tasks page ---------- */

export type StatusFilter = RunStatus | 'all';
const FILTERS: StatusFilter[] = ['all', 'running', 'queued', 'succeeded', 'failed', 'cancelled'];

export interface TasksPageProps {
  ctx: PageContext;
  view: RepoView;
  runs: Run[];
  links: RunLinks;
  counts: Record<StatusFilter, number>;
  filter: StatusFilter;
  page: number;
  pages: number;
  now: number;
}

function listHref(view: RepoView, filter: StatusFilter, page = 1): string {
  const q = new URLSearchParams();
  if (filter !== 'all') q.set('status', filter);
  if (page > 1) q.set('page', String(page));
  const qs = q.toString();
  return `${runsUrl(view)}${qs ? `?${qs}` : ''}`;
}

export const TasksPage: FC<TasksPageProps> = ({ ctx, view, runs, links, counts, filter, page, pages, now }) => {
  const write = canWriteRuns(view);
  return (
    <RunsLayout ctx={ctx} view={view} title={`Tasks · ${view.repo.owner_name}/${view.repo.name}`}>
      <div class="runs-head">
        <div>
          <h2 class="runs-title">Tasks</h2>
          <p class="muted runs-sub">Each task gives an agent a prompt. It works on its own branch and opens a draft pull request.</p>
        </div>
        <div class="runs-head-actions">
          {counts.all > 1 && (
            <a class="btn" href={`${runsUrl(view)}/compare`}>
              <Icon name="compare" /> Compare
            </a>
          )}
          {write && (
            <a class="btn btn-primary" href={`${runsUrl(view)}/new`}>
              <Icon name="plus" /> New task
            </a>
          )}
        </div>
      </div>
      <nav class="run-filters" aria-label="Filter by status">
        {FILTERS.map((f) => (
          <a href={listHref(view, f)} class={f === filter ? 'run-filter active' : 'run-filter'} aria-current={f === filter ? 'page' : undefined}>
            {f === 'all' ? 'All' : statusLabel(f)}
            <span class="counter">{counts[f] ?? 0}</span>
          </a>
        ))}
      </nav>
      {runs.length === 0 ? (
        <div class="card">
          <EmptyState icon="sparkle" title={filter === 'all' ? 'No tasks yet' : `No ${statusLabel(filter).toLowerCase()} tasks`}>
            {filter === 'all' ? (
              <>
                <p class="muted">Describe a change and an agent makes it on a new branch, with a draft pull request for you to review.</p>
                {write && (
                  <a class="btn btn-primary" href={`${runsUrl(view)}/new`}>
                    <Icon name="plus" /> New task
                  </a>
                )}
              </>
            ) : (
              <p class="muted">
                <a href={listHref(view, 'all')}>Show all tasks</a>
              </p>
            )}
          </EmptyState>
        </div>
      ) : (
        <ul class="card run-list" id="run-list">
          {runs.map((run) => (
            <RunRow ctx={ctx} view={view} run={run} links={links} now={now} write={write} />
          ))}
        </ul>
      )}
      {pages > 1 && <PageLinks navClass="run-pager" page={page} pages={pages} href={(n) => listHref(view, filter, n)} />}
    </RunsLayout>
  );
};

const RunRow: FC<{ ctx: PageContext; view: RepoView; run: Run; links: RunLinks; now: number; write: boolean }> = ({ ctx, view, run, links, now, write }) => {
  const pr = run.pull_request_id ? links.pulls.get(run.pull_request_id) : undefined;
  const parent = run.forked_from_job_id ? links.numbers.get(run.forked_from_job_id) : undefined;
  const author = run.created_by_id ? links.users.get(run.created_by_id) : undefined;
  const returnTo = ctx.path;
  return (
    <li class={`run-row run-row-${run.status}`} data-run-number={run.number}>
      <div class="run-row-status">
        <RunStatusBadge status={run.status} />
      </div>
      <div class="run-row-main">
        <div class="run-row-title">
          <a href={runUrl(view, run.number)} class="run-title-link">
            {run.title}
          </a>
          <span class="run-number">#{run.number}</span>
        </div>
        <div class="run-row-meta">
          <RunAgent run={run} />
          {pr && <RunPullLink view={view} pr={pr} />}
          {parent !== undefined && (
            <a class="run-forked" href={runUrl(view, parent)} title={`Forked from run #${parent}`}>
              <Icon name="branch" /> fork of #{parent}
            </a>
          )}
          {run.workspace_start && (
            <span class={`badge run-workspace run-workspace-${run.workspace_start}`} title={run.workspace_start === 'warm' ? 'Booted from a snapshot: dependencies, build caches and the agent session intact' : 'Checked out fresh (and set up)'}>
              {run.workspace_start}
            </span>
          )}
          {(links.dependsOn.get(run.id) ?? []).length > 0 && (
            <span class="run-forked" title="This task starts when the tasks it depends on have succeeded">
              <Icon name="clock" /> {run.status === 'blocked' ? 'waits for' : 'after'}{' '}
              {(links.dependsOn.get(run.id) ?? []).map((d, i) => (
                <>
                  {i > 0 ? ', ' : ''}
                  <a href={runUrl(view, d.number)} title={`#${d.number}: ${d.status}`}>
                    #{d.number}
                  </a>
                </>
              ))}
            </span>
          )}
          <span class="run-when">
            {author ? <>{author} · </> : null}
            <Time iso={run.created_at} />
          </span>
          <span class="run-took">
            <Icon name="clock" /> <RunDuration run={run} now={now} />
          </span>
        </div>
      </div>
      {write && (
        <div class="run-row-actions">
          {isActive(run) ? (
            <PostForm ctx={ctx} action={`${runUrl(view, run.number)}/cancel`} class="inline-form">
              <input type="hidden" name="return_to" value={returnTo} />
              <button type="submit" class="btn btn-sm btn-danger-outline" aria-label={`Cancel task #${run.number}`}>
                <Icon name="stop" /> Cancel
              </button>
            </PostForm>
          ) : (
            <PostForm ctx={ctx} action={`${runUrl(view, run.number)}/retry`} class="inline-form">
              <button type="submit" class="btn btn-sm" aria-label={`Retry task #${run.number}`} title="Run the same prompt again from the same source">
                <Icon name="retry" /> Retry
              </button>
            </PostForm>
          )}
          <a class="btn btn-sm" href={`${runUrl(view, run.number)}/fork`} aria-label={`Fork task #${run.number}`} title="Continue from this run's result with an edited prompt">
            <Icon name="branch" /> Fork
          </a>
        </div>
      )}
    </li>
  );
};

/* ---------- diffs ---------- */

const FILE_STATUS: Record<string, { letter: string; label: string }> = {
  added: { letter: 'A', label: 'added' },
  removed: { letter: 'D', label: 'deleted' },
  modified: { letter: 'M', label: 'modified' },
  renamed: { letter: 'R', label: 'renamed' },
  copied: { letter: 'C', label: 'copied' },
  changed: { letter: 'T', label: 'type changed' },
};

const MAX_LINES_PER_FILE = 1500;

export function diffTotals(diff: DiffResult): { additions: number; deletions: number } {
  return diff.files.reduce((t, f) => ({ additions: t.additions + f.additions, deletions: t.deletions + f.deletions }), { additions: 0, deletions: 0 });
}

export const DiffStat: FC<{ additions: number; deletions: number }> = ({ additions, deletions }) => (
  <span class="rdiff-stat">
    <span class="rdiff-plus">+{additions}</span> <span class="rdiff-minus">−{deletions}</span>
  </span>
);

/** A list of changed files with their +/− counts (linking to the file's diff on the page when `anchor` is set). */
export const DiffFileList: FC<{ diff: DiffResult; anchor?: string }> = ({ diff, anchor }) => (
  <ul class="rdiff-files">
    {diff.files.map((f, i) => {
      const st = FILE_STATUS[f.status] ?? { letter: '?', label: f.status };
      return (
        <li>
          <span class={`rdiff-letter rdiff-${f.status}`} title={st.label}>
            {st.letter}
          </span>
          {anchor ? (
            <a href={`#${anchor}-${i}`} class="mono rdiff-path">
              {f.path}
            </a>
          ) : (
            <span class="mono rdiff-path">{f.path}</span>
          )}
          {f.binary ? <span class="muted">binary</span> : <DiffStat additions={f.additions} deletions={f.deletions} />}
        </li>
      );
    })}
  </ul>
);

export const DiffFileView: FC<{ file: FileDiff; id: string }> = ({ file, id }) => {
  const st = FILE_STATUS[file.status] ?? { letter: '?', label: file.status };
  const lines = file.patch ? parsePatchLines(file.patch) : [];
  const shown = lines.slice(0, MAX_LINES_PER_FILE);
  return (
    <div class="card rdiff-file" id={id}>
      <div class="rdiff-file-head">
        <span class={`rdiff-letter rdiff-${file.status}`} title={st.label}>
          {st.letter}
        </span>
        <span class="mono rdiff-path">
          {file.previousPath && file.previousPath !== file.path ? (
            <>
              {file.previousPath} <span class="muted">→</span> {file.path}
            </>
          ) : (
            file.path
          )}
        </span>
        {!file.binary && <DiffStat additions={file.additions} deletions={file.deletions} />}
      </div>
      {file.binary ? (
        <p class="rdiff-note">Binary file not shown.</p>
      ) : file.patch === null ? (
        <p class="rdiff-note">{file.patchTruncated ? 'This diff is too large to show.' : 'No content changes.'}</p>
      ) : lines.length === 0 ? (
        <p class="rdiff-note">{file.status === 'renamed' ? 'File renamed without changes.' : 'Empty file.'}</p>
      ) : (
        <div class="rdiff-scroll">
          <table class="rdiff-table">
            <tbody>
              {shown.map((l) =>
                l.kind === 'hunk' ? (
                  <tr class="rdiff-hunk">
                    <td class="rdiff-ln" colspan={2}></td>
                    <td class="rdiff-code">{l.text}</td>
                  </tr>
                ) : (
                  <tr class={`rdiff-${l.kind}`}>
                    <td class="rdiff-ln" data-ln={l.oldLine ?? undefined}></td>
                    <td class="rdiff-ln" data-ln={l.newLine ?? undefined}></td>
                    <td class="rdiff-code">
                      <span class="rdiff-sign" aria-hidden="true">
                        {l.kind === 'add' ? '+' : l.kind === 'del' ? '-' : ' '}
                      </span>
                      {l.text}
                    </td>
                  </tr>
                ),
              )}
            </tbody>
          </table>
          {lines.length > shown.length && <p class="rdiff-note">{lines.length - shown.length} more lines not shown.</p>}
        </div>
      )}
    </div>
  );
};

/** All files of a diff, with a summary line. */
export const DiffView: FC<{ diff: DiffResult; anchor: string; empty?: string }> = ({ diff, anchor, empty = 'No files changed.' }) => {
  if (diff.files.length === 0) return <p class="muted rdiff-empty">{empty}</p>;
  const totals = diffTotals(diff);
  return (
    <div class="rdiff">
      <p class="rdiff-summary">
        <strong>
          {diff.files.length} {diff.files.length === 1 ? 'file' : 'files'} changed
        </strong>{' '}
        <DiffStat additions={totals.additions} deletions={totals.deletions} />
      </p>
      {diff.files.map((f, i) => (
        <DiffFileView file={f} id={`${anchor}-${i}`} />
      ))}
      {diff.truncated && <p class="rdiff-note">The diff is too large: later files are listed without their changes.</p>}
    </div>
  );
};

/**
 * The header of a task's or a workflow run's page: title and number, then its status badge, what it is
 * (agent, event), who started it and when, and how long it took; actions on the right.
 */
export const JobHeader: FC<{ title: Child; number: number; badge: Child; kind: Child; startedBy: { name: string; verb: string } | null; startedWord: string; createdAt: string; duration: Child; actions?: Child }> = ({
  title,
  number,
  badge,
  kind,
  startedBy,
  startedWord,
  createdAt,
  duration,
  actions,
}) => (
  <div class="run-header">
    <div class="run-header-main">
      <h1 class="run-h1">
        {title} <span class="run-number">#{number}</span>
      </h1>
      <div class="run-header-meta">
        {badge}
        {kind}
        <span class="muted">
          {startedBy ? (
            <>
              <strong class="run-author">{startedBy.name}</strong> {startedBy.verb}{' '}
            </>
          ) : (
            `${startedWord} `
          )}
          <Time iso={createdAt} />
        </span>
        <span class="muted run-took">
          <Icon name="clock" /> {duration}
        </span>
      </div>
    </div>
    {actions}
  </div>
);

export type TraceData = Record<string, unknown>;

/** A stored trace or log event's JSON data; anything that is not an object becomes `{ value }`. */
export function parseTraceData(raw: string): TraceData {
  try {
    const v = JSON.parse(raw) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as TraceData) : { value: v };
  } catch {
    return { value: raw };
  }
}
