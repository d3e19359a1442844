import type { FC } from 'hono/jsx';
import type { PageContext } from '../context.ts';
import type { Run } from '../../../db/schema.ts';
import type { RunLinks } from '../../../services/uiRuns.ts';
import type { DiffResult } from '../../../git/diff.ts';
import type { RepoView } from './repo.tsx';
import { EmptyState } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { DiffFileList, DiffStat, DiffView, RunAgent, RunDuration, RunPullLink, RunStatusBadge, RunsLayout, diffTotals, runUrl, runsUrl, statusLabel } from './runs.tsx';

export interface CompareSide {
  run: Run;
  diff: DiffResult | null;
}

export interface RunComparePageProps {
  ctx: PageContext;
  view: RepoView;
  choices: Pick<Run, 'number' | 'title' | 'status'>[];
  a: CompareSide | null;
  b: CompareSide | null;
  /** a's result → b's result. */
  between: DiffResult | null;
  links: RunLinks;
  now: number;
  /** A requested run that does not exist. */
  missing: number[];
}

const Picker: FC<{ view: RepoView; choices: RunComparePageProps['choices']; a?: number; b?: number }> = ({ view, choices, a, b }) => (
  <form method="get" action={`${runsUrl(view)}/compare`} class="card card-pad run-compare-picker">
    {(['a', 'b'] as const).map((side) => (
      <div class="field">
        <label for={`compare-${side}`}>{side === 'a' ? 'Task' : 'Compare with'}</label>
        <select id={`compare-${side}`} class="input select" name={side}>
          {choices.map((c) => (
            <option value={String(c.number)} selected={(side === 'a' ? a : b) === c.number}>
              #{c.number} {c.title.length > 60 ? `${c.title.slice(0, 59)}…` : c.title} ({statusLabel(c.status).toLowerCase()})
            </option>
          ))}
        </select>
      </div>
    ))}
    <button type="submit" class="btn btn-primary">
      <Icon name="compare" /> Compare
    </button>
  </form>
);

const Side: FC<{ view: RepoView; side: CompareSide; label: string; links: RunLinks; now: number }> = ({ view, side, label, links, now }) => {
  const { run, diff } = side;
  const pr = run.pull_request_id ? links.pulls.get(run.pull_request_id) : undefined;
  const totals = diff ? diffTotals(diff) : null;
  return (
    <section class="card run-compare-side" data-side={label}>
      <div class="card-head run-compare-head">
        <span class="run-compare-label">{label}</span>
        <a href={runUrl(view, run.number)} class="run-compare-title">
          {run.title} <span class="run-number">#{run.number}</span>
        </a>
      </div>
      <div class="card-pad stack-sm">
        <div class="run-row-meta">
          <RunStatusBadge status={run.status} />
          <RunAgent run={run} />
          {pr && <RunPullLink view={view} pr={pr} />}
          <span class="run-took">
            <Icon name="clock" /> <RunDuration run={run} now={now} />
          </span>
        </div>
        {run.result_summary ? <p class="run-summary">{run.result_summary}</p> : run.error ? <p class="run-summary run-error-text">{run.error}</p> : null}
        <details class="run-compare-prompt">
          <summary>Prompt</summary>
          <pre class="run-prompt-text">{run.prompt}</pre>
        </details>
        {diff ? (
          diff.files.length ? (
            <div>
              <p class="run-compare-files">
                <strong>
                  {diff.files.length} {diff.files.length === 1 ? 'file' : 'files'} changed
                </strong>{' '}
                {totals && <DiffStat additions={totals.additions} deletions={totals.deletions} />}
              </p>
              <DiffFileList diff={diff} />
            </div>
          ) : (
            <p class="muted">No changes.</p>
          )
        ) : (
          <p class="muted">No result yet.</p>
        )}
      </div>
    </section>
  );
};

export const RunComparePage: FC<RunComparePageProps> = ({ ctx, view, choices, a, b, between, links, now, missing }) => (
  <RunsLayout ctx={ctx} view={view} title={a && b ? `Compare #${a.run.number} and #${b.run.number}` : 'Compare tasks'}>
    <nav class="run-crumbs" aria-label="Breadcrumb">
      <a href={runsUrl(view)}>Tasks</a>
      <span aria-hidden="true">/</span>
      <span>Compare</span>
    </nav>
    <div class="page-head">
      <h1>Compare tasks</h1>
      <p class="muted">Two runs of the same task side by side: their prompts, what each changed, and how their results differ.</p>
    </div>
    {choices.length < 2 ? (
      <div class="card">
        <EmptyState icon="compare" title="Nothing to compare yet">
          <p class="muted">Start a task and retry or fork it; then compare the runs here.</p>
        </EmptyState>
      </div>
    ) : (
      <Picker view={view} choices={choices} a={a?.run.number ?? choices[1]?.number} b={b?.run.number ?? choices[0]?.number} />
    )}
    {missing.length > 0 && (
      <div class="flash flash-error" role="alert">
        <Icon name="alert" />
        <span>No task {missing.map((n) => `#${n}`).join(' or ')} in this repository.</span>
      </div>
    )}
    {a && b && (
      <>
        {a.run.prompt === b.run.prompt ? (
          <p class="run-compare-note">
            <Icon name="check" /> Both runs had the same prompt.
          </p>
        ) : (
          <p class="run-compare-note">
            <Icon name="info" /> The prompts differ: open them below.
          </p>
        )}
        <div class="run-compare-grid">
          <Side view={view} side={a} label="A" links={links} now={now} />
          <Side view={view} side={b} label="B" links={links} now={now} />
        </div>
        <section class="run-diff-section" id="between">
          <h2 class="h3 run-section-title">
            <Icon name="compare" /> From #{a.run.number}'s result to #{b.run.number}'s result
          </h2>
          {between ? (
            <DiffView diff={between} anchor="between" empty="Both runs produced the same tree." />
          ) : (
            <p class="muted rdiff-empty">Both runs need a result commit to be compared.</p>
          )}
        </section>
      </>
    )}
  </RunsLayout>
);
