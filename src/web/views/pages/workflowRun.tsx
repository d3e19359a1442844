import type { FC } from 'hono/jsx';
import type { PageContext } from '../context.ts';
import type { WorkflowRun } from '../../../db/schema.ts';
import { Time } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { commitUrl, pullUrl, treeUrl } from '../urls.ts';
import { fullDate } from '../format.ts';
import type { RepoView } from './repo.tsx';
import { JobHeader, parseTraceData, type TraceData } from './runs.tsx';
import { AutomationLayout, EventChip, WorkflowDuration, WorkflowStatusBadge, automationUrl, branchOf, workflowRunUrl } from './automation.tsx';

/** One stored log event of a workflow run (workflow_run_events). */
export interface WorkflowLogEvent {
  id: number;
  attempt: number;
  kind: string;
  data: string;
  created_at: string;
}

interface StepDef {
  name: string;
  run: string;
}

type LineClass = 'stdout' | 'stderr' | 'info' | 'error';

interface Section {
  /** -1 for "Set up job" (checkout), else the step's index. */
  index: number;
  name: string;
  run: string | null;
  started: boolean;
  lines: { cls: LineClass; text: string }[];
  exitCode: number | null;
  timedOut: boolean;
  finished: boolean;
  tookMs: number | null;
  errored: boolean;
}

interface AttemptLog {
  attempt: number;
  sections: Section[];
  /** Index into sections of where new output goes (what the live script continues from). */
  cursor: number;
}


const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));

export function parseSteps(raw: string): StepDef[] {
  try {
    const v = JSON.parse(raw) as unknown;
    if (!Array.isArray(v)) return [];
    return v.map((s, i) => {
      const o = (s && typeof s === 'object' ? s : {}) as TraceData;
      return { name: str(o.name) || `step ${i + 1}`, run: str(o.run) };
    });
  } catch {
    return [];
  }
}

/** The runner marks each step's start with a "▶ <name>" status line. /-/static/automation.js follows the same rules. */
const STEP_MARK = '\u25B6 ';

function newSection(index: number, step: StepDef | undefined, name?: string): Section {
  return { index, name: step?.name ?? name ?? `step ${index + 1}`, run: step?.run ?? null, started: false, lines: [], exitCode: null, timedOut: false, finished: false, tookMs: null, errored: false };
}

/** Splits the run's events into attempts, and each attempt into "Set up job" plus one section per step. */
export function buildWorkflowLog(steps: StepDef[], events: WorkflowLogEvent[]): AttemptLog[] {
  const attempts: AttemptLog[] = [];
  let current: AttemptLog | null = null;
  for (const e of events) {
    if (!current || current.attempt !== e.attempt) {
      current = { attempt: e.attempt, sections: [{ ...newSection(-1, undefined, 'Set up job'), started: true }, ...steps.map((s, i) => newSection(i, s))], cursor: 0 };
      attempts.push(current);
    }
    const d = parseTraceData(e.data);
    const section = current.sections[current.cursor]!;
    switch (e.kind) {
      case 'status': {
        const message = str(d.message);
        if (message.startsWith(STEP_MARK)) {
          const next = current.cursor + 1;
          if (!current.sections[next]) current.sections.push(newSection(next - 1, undefined, message.slice(STEP_MARK.length)));
          current.cursor = next;
          current.sections[next]!.started = true;
          if (section.index === -1) section.finished = true;
        } else {
          section.lines.push({ cls: 'info', text: `${message}\n` });
        }
        break;
      }
      case 'log':
        section.lines.push({ cls: str(d.stream) === 'stderr' ? 'stderr' : 'stdout', text: str(d.text) });
        break;
      case 'command': {
        section.exitCode = typeof d.exit_code === 'number' ? d.exit_code : null;
        section.timedOut = d.timed_out === true;
        section.finished = true;
        const took = /(\d+)\s*ms/.exec(str(d.output));
        section.tookMs = took ? Number(took[1]) : null;
        break;
      }
      case 'error':
        section.lines.push({ cls: 'error', text: `${str(d.message)}\n` });
        section.errored = true;
        break;
      default:
        section.lines.push({ cls: 'info', text: `${JSON.stringify(d)}\n` });
    }
  }
  return attempts;
}

type StepState = 'pending' | 'running' | 'ok' | 'failed' | 'skipped';

function sectionState(s: Section, run: WorkflowRun, latest: boolean): StepState {
  const active = run.status !== 'completed' && latest;
  if (s.index === -1) {
    if (s.errored) return 'failed';
    if (s.finished) return 'ok';
    return active ? 'running' : run.conclusion === 'success' ? 'ok' : 'failed';
  }
  if (s.exitCode !== null || s.finished) return s.exitCode === 0 && !s.timedOut && !s.errored ? 'ok' : 'failed';
  if (s.started) return active ? 'running' : s.errored || run.conclusion !== 'cancelled' ? 'failed' : 'skipped';
  return active ? 'pending' : 'skipped';
}

function formatMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)}m ${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

const STATE_LABEL: Record<StepState, string> = { pending: 'Pending', running: 'Running', ok: 'Succeeded', failed: 'Failed', skipped: 'Skipped' };

/** All state icons are rendered; CSS shows the one matching the section's class (so the live script only swaps a class). */
const StepIcons: FC = () => (
  <span class="wf-step-icon" aria-hidden="true">
    <Icon name="check" class="wf-i wf-i-ok" />
    <Icon name="x" class="wf-i wf-i-failed" />
    <span class="wf-i wf-i-running"></span>
    <span class="wf-i wf-i-pending"></span>
    <span class="wf-i wf-i-skipped"></span>
  </span>
);

const commandLines = (run: string) =>
  run
    .replace(/\n+$/, '')
    .split('\n')
    .map((l, i) => `${i === 0 ? '$ ' : '  '}${l}`)
    .join('\n') + '\n';

const StepSection: FC<{ section: Section; state: StepState; live: boolean }> = ({ section: s, state, live }) => {
  const exit = s.timedOut ? 'timed out' : s.exitCode !== null ? `exit ${s.exitCode}` : '';
  return (
    <details class={`wf-step is-${state}`} data-index={String(s.index)} open={state === 'running' || state === 'failed' || (s.started && (s.lines.length > 0 || s.index >= 0)) ? true : undefined}>
      <summary class="wf-step-head">
        <StepIcons />
        <span class="wf-step-name">{s.name}</span>
        <span class="sr-only wf-step-state">{STATE_LABEL[state]}</span>
        <span class={`wf-step-exit${s.exitCode === 0 && !s.timedOut ? ' is-zero' : ''}`}>{exit}</span>
        <span class="wf-step-time">{s.tookMs !== null ? formatMs(s.tookMs) : ''}</span>
      </summary>
      <pre class="wf-log" data-live={live ? '' : undefined}>
        {s.run !== null ? <span class="wf-cmd">{commandLines(s.run)}</span> : null}
        {s.lines.map((l) => (
          <span class={`wf-${l.cls}`}>{l.text}</span>
        ))}
      </pre>
    </details>
  );
};

export interface WorkflowRunPageProps {
  ctx: PageContext;
  view: RepoView;
  run: WorkflowRun;
  events: WorkflowLogEvent[];
  /** Who started it (manual runs and the pusher), when known. */
  actor: string | null;
  /** The open pull request of a pull_request run's branch. */
  pull: { number: number } | null;
  now: number;
}

export const WorkflowRunPage: FC<WorkflowRunPageProps> = ({ ctx, view, run, events, actor, pull, now }) => {
  const { repo } = view;
  const steps = parseSteps(run.steps);
  const attempts = buildWorkflowLog(steps, events);
  const active = run.status !== 'completed';
  const latest: AttemptLog = attempts[attempts.length - 1] ?? { attempt: 1, sections: [{ ...newSection(-1, undefined, 'Set up job') }, ...steps.map((s, i) => newSection(i, s))], cursor: 0 };
  const earlier = attempts.slice(0, -1);
  const lastId = events.length ? events[events.length - 1]!.id : 0;
  const branch = branchOf(run.ref);
  const base = workflowRunUrl(repo, run.number);
  const failed = run.status === 'completed' && (run.conclusion === 'failure' || run.conclusion === 'error');
  return (
    <AutomationLayout ctx={ctx} view={view} title={`${run.name} #${run.number} · Automation`} refresh={active}>
      <nav class="run-crumbs" aria-label="Breadcrumb">
        <a href={automationUrl(view)}>Automation</a>
        <span aria-hidden="true">/</span>
        <a href={`${automationUrl(view)}#runs`}>Workflow runs</a>
        <span aria-hidden="true">/</span>
        <span>#{run.number}</span>
      </nav>
      <JobHeader
        title={
          <span class="wf-title" id="wf-title">
            {run.name}
          </span>
        }
        number={run.number}
        badge={<WorkflowStatusBadge run={run} large id="wf-status" />}
        kind={<EventChip event={run.event} />}
        startedBy={actor ? { name: actor, verb: run.event === 'manual' ? 'ran this' : 'triggered this' } : null}
        startedWord="Triggered"
        createdAt={run.created_at}
        duration={<WorkflowDuration run={run} now={now} />}
      />
      <div class="run-branches">
        <a class="run-branch mono" href={treeUrl(repo, branch)} title={run.ref}>
          {branch}
        </a>
        <a class="mono au-sha" href={commitUrl(repo, run.sha)} id="wf-commit" title={run.sha}>
          <Icon name="commit" /> {run.sha.slice(0, 10)}
        </a>
        {pull && (
          <a class="run-pr run-pr-open" href={pullUrl(repo, pull.number)}>
            <Icon name="pull" /> PR #{pull.number}
          </a>
        )}
      </div>

      <div class="run-layout">
        <div class="run-main">
          {failed && (
            <div class="run-callout run-callout-failed" role="alert">
              <Icon name="alert" />
              <div>
                <strong>{run.conclusion === 'error' ? 'The workflow could not run' : 'The workflow failed'}</strong>
                {run.error ? <pre class="run-callout-pre">{run.error}</pre> : null}
              </div>
            </div>
          )}
          {run.status === 'completed' && run.conclusion === 'cancelled' && (
            <div class="run-callout run-callout-cancelled">
              <Icon name="stop" />
              <div>
                <strong>The workflow run was cancelled</strong>
              </div>
            </div>
          )}

          <section class="card wf-log-card" id="log" aria-labelledby="log-title">
            <div class="card-head wf-log-head">
              <Icon name="history" />
              <h2 class="h3" id="log-title">
                Log
              </h2>
              {latest.attempt > 1 && <span class="badge">attempt {latest.attempt}</span>}
              <span class="run-live" id="wf-live" hidden={!active}>
                <span class="run-live-dot" aria-hidden="true"></span> <span class="run-live-text">Live</span>
              </span>
            </div>
            <div class="wf-steps" id="wf-steps" data-log-url={active ? `${base}/log` : undefined} data-after={String(lastId)} data-attempt={String(latest.attempt)} data-cursor={String(latest.cursor)} aria-live="polite">
              {latest.sections.map((s) => (
                <StepSection section={s} state={sectionState(s, run, true)} live={active} />
              ))}
            </div>
            {events.length === 0 && <p class="wf-waiting">{run.status === 'queued' ? 'Waiting for a runner to pick this run up…' : active ? 'Starting…' : 'No log was recorded.'}</p>}
          </section>

          {earlier.length > 0 && (
            <section class="wf-earlier">
              {earlier.map((a) => (
                <details class="card wf-log-card wf-attempt">
                  <summary class="card-head wf-log-head">
                    <Icon name="retry" />
                    <h2 class="h3">Attempt {a.attempt}</h2>
                    <span class="muted wf-attempt-note">the runner gave up on this attempt and tried again</span>
                  </summary>
                  <div class="wf-steps">
                    {a.sections
                      .filter((s) => s.started)
                      .map((s) => (
                        <StepSection section={s} state={sectionState(s, run, false)} live={false} />
                      ))}
                  </div>
                </details>
              ))}
            </section>
          )}
        </div>

        <aside class="run-side">
          <dl class="run-facts" id="wf-facts">
            <div>
              <dt>Workflow</dt>
              <dd class="mono">{run.workflow_key}</dd>
            </div>
            <div>
              <dt>Event</dt>
              <dd>{run.event}</dd>
            </div>
            <div>
              <dt>Branch</dt>
              <dd class="mono">{branch}</dd>
            </div>
            <div>
              <dt>Commit</dt>
              <dd class="mono">
                <a href={commitUrl(repo, run.sha)}>{run.sha.slice(0, 10)}</a>
              </dd>
            </div>
            <div>
              <dt>Status check</dt>
              <dd class="mono">gitoku/{run.workflow_key}</dd>
            </div>
            <div>
              <dt>Steps</dt>
              <dd>{steps.length}</dd>
            </div>
            <div>
              <dt>Created</dt>
              <dd>
                <Time iso={run.created_at} />
              </dd>
            </div>
            <div>
              <dt>Started</dt>
              <dd>{run.started_at ? <Time iso={run.started_at} /> : '—'}</dd>
            </div>
            <div>
              <dt>Finished</dt>
              <dd title={run.finished_at ? fullDate(run.finished_at) : undefined}>{run.finished_at ? <Time iso={run.finished_at} /> : '—'}</dd>
            </div>
          </dl>
        </aside>
      </div>
    </AutomationLayout>
  );
};
