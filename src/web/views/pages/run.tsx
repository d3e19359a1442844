import type { LineageNode } from '../../../services/forks.ts';
import type { Child, FC } from 'hono/jsx';
import type { FormError, PageContext } from '../context.ts';
import type { Run, RunEvent } from '../../../db/schema.ts';
import type { RunLinks } from '../../../services/uiRuns.ts';
import type { DriverInfo } from '../../../services/drivers.ts';
import type { DiffResult } from '../../../git/diff.ts';
import type { RepoView } from './repo.tsx';
import { PostForm, Time } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { graphUrl } from '../urls.ts';
import { parseAgentRunContext } from '../../../domain/agentRunContext.ts';
import { formatBytes } from '../format.ts';
import {
  DiffView,
  JobHeader,
  RunAgent,
  RunDuration,
  RunFormAlert,
  RunPullLink,
  RunStatusBadge,
  RunsLayout,
  canWriteRuns,
  driverLabel,
  isActive,
  runUrl,
  runsUrl,
  statusLabel,
  parseTraceData,
  type TraceData,
} from './runs.tsx';
import { AgentFields, type AgentValues } from './runNew.tsx';
import { RunTimeline, type StepForkValues, type TimelineCheckpoint } from './runTimeline.tsx';
import { RunMemorySection, type RunMemoryGiven } from './runMemory.tsx';

/* ---------- the trace ---------- */


const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v, null, 2) : String(v));
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** "+0:07" since the run started: the same clock the live script uses. */
export function traceClock(at: string, t0: string): string {
  const ms = Date.parse(at) - Date.parse(t0);
  if (!Number.isFinite(ms)) return '';
  const s = Math.max(0, Math.floor(ms / 1000));
  return `+${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

const lineCount = (text: string) => (text ? text.replace(/\n$/, '').split('\n').length : 0);

/** One trace event as the page shows it. /-/static/runs.js builds the same markup for live events. */
const TraceBody: FC<{ kind: string; data: TraceData }> = ({ kind, data }) => {
  switch (kind) {
    case 'message':
      return <div class="trace-text">{str(data.text)}</div>;
    case 'thinking':
      return <div class="trace-text trace-thinking-text">{str(data.text)}</div>;
    case 'status':
      return <div class="trace-status-text">{str(data.message)}</div>;
    case 'error':
      return <div class="trace-error-text">{str(data.message)}</div>;
    case 'file_edit': {
      const action = str(data.action);
      const verb = action === 'delete' ? 'Deleted' : action === 'append' ? 'Appended to' : 'Wrote';
      const bytes = num(data.bytes);
      return (
        <div class="trace-file">
          <span class="trace-verb">{verb}</span> <code class="trace-path">{str(data.path)}</code>
          {bytes !== null && action !== 'delete' ? <span class="muted trace-bytes">{formatBytes(bytes)}</span> : null}
        </div>
      );
    }
    case 'command': {
      const code = num(data.exit_code);
      const output = str(data.output);
      const ok = code === 0 && data.timed_out !== true;
      return (
        <div class="trace-cmd">
          <div class="trace-cmd-line">
            <code class="trace-cmd-text">$ {str(data.command)}</code>
            <span class={ok ? 'trace-exit trace-exit-ok' : 'trace-exit trace-exit-bad'}>{data.timed_out === true ? 'timed out' : `exit ${code ?? '?'}`}</span>
          </div>
          {output ? (
            <details class="trace-output" open={!ok}>
              <summary>
                Output · {lineCount(output)} {lineCount(output) === 1 ? 'line' : 'lines'}
              </summary>
              <pre class="trace-pre">{output}</pre>
            </details>
          ) : null}
        </div>
      );
    }
    case 'tool_call':
      return (
        <div class="trace-tool">
          <div>
            Tool <code>{str(data.tool)}</code>
          </div>
          {data.input !== undefined && <pre class="trace-pre">{str(data.input)}</pre>}
          {data.output !== undefined && str(data.output) && (
            <details class="trace-output">
              <summary>Result</summary>
              <pre class="trace-pre">{str(data.output)}</pre>
            </details>
          )}
        </div>
      );
    case 'usage': {
      const parts = [['input', num(data.input_tokens)], ['output', num(data.output_tokens)], ['total', num(data.total_tokens)]].filter(([, n]) => n !== null) as [string, number][];
      return <div class="trace-status-text">Usage: {parts.length ? parts.map(([k, n]) => `${n.toLocaleString('en')} ${k}`).join(' · ') : 'not reported'} tokens</div>;
    }
    default:
      return <pre class="trace-pre">{JSON.stringify(data, null, 2)}</pre>;
  }
};

const KIND_LABEL: Record<string, string> = { message: 'Agent', thinking: 'Thinking', status: 'Status', error: 'Error', file_edit: 'Edit', command: 'Command', tool_call: 'Tool', usage: 'Usage', log: 'Output' };

/** Groups consecutive log output into one terminal block; marks a new attempt (after a runner retry). */
export const TraceList: FC<{ events: RunEvent[]; t0: string }> = ({ events, t0 }) => {
  const items: Child[] = [];
  let maxAttempt = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.attempt > maxAttempt) {
      if (maxAttempt >= 1) {
        items.push(
          <li class="trace-item trace-attempt" data-attempt={e.attempt}>
            <div class="trace-body">Attempt {e.attempt}: the runner tried again</div>
          </li>,
        );
      }
      maxAttempt = e.attempt;
    }
    if (e.kind === 'log') {
      const chunks: { stream: string; text: string }[] = [];
      let last = e;
      while (i < events.length && events[i]!.kind === 'log') {
        last = events[i]!;
        const d = parseTraceData(last.data);
        chunks.push({ stream: str(d.stream) === 'stderr' ? 'stderr' : 'stdout', text: str(d.text) });
        i++;
      }
      i--;
      items.push(
        <li class="trace-item trace-log" data-id={last.id} data-kind="log" data-attempt={e.attempt}>
          <span class="trace-kind">Output</span>
          <div class="trace-body">
            <pre class="trace-terminal">
              {chunks.map((c) => (
                <span class={`log-${c.stream}`}>{c.text}</span>
              ))}
            </pre>
          </div>
          <time class="trace-time" datetime={e.created_at}>
            {traceClock(e.created_at, t0)}
          </time>
        </li>,
      );
      continue;
    }
    items.push(
      <li class={`trace-item trace-${e.kind.replace(/[^a-z_]/g, '')}`} data-id={e.id} data-kind={e.kind} data-attempt={e.attempt}>
        <span class="trace-kind">{KIND_LABEL[e.kind] ?? e.kind}</span>
        <div class="trace-body">
          <TraceBody kind={e.kind} data={parseTraceData(e.data)} />
        </div>
        <time class="trace-time" datetime={e.created_at}>
          {traceClock(e.created_at, t0)}
        </time>
      </li>,
    );
  }
  return <>{items}</>;
};

/* ---------- the run page ---------- */

export interface ForkValues extends AgentValues {
  prompt: string;
  title: string;
}

export interface RunPageProps {
  ctx: PageContext;
  view: RepoView;
  run: Run;
  links: RunLinks;
  events: RunEvent[];
  omittedEvents: number;
  diff: DiffResult | null;
  forks: Run[];
  /** The run's family, from its first ancestor through every fork (tree order). */
  lineage: LineageNode[];
  siblings: Run[];
  drivers: DriverInfo[];
  now: number;
  fork?: { values: ForkValues; error: FormError | null };
  /** Warm workspaces (issue 13): the run's checkpoints, a step fork's values after an error, its best-of-N group. */
  checkpoints?: TimelineCheckpoint[];
  stepFork?: { values: StepForkValues; error: FormError | null };
  groupId?: number | null;
  /** Semantic memory (issue 14): what the run was given from the repository's memory. */
  memory?: RunMemoryGiven | null;
}

function usageSummary(raw: string): string | null {
  const u = parseTraceData(raw);
  const parts: string[] = [];
  for (const [key, label] of [['input_tokens', 'input'], ['output_tokens', 'output'], ['total_tokens', 'total']] as const) {
    const n = num(u[key]);
    if (n !== null && n > 0) parts.push(`${n.toLocaleString('en')} ${label}`);
  }
  return parts.length ? `${parts.join(' · ')} tokens` : null;
}

export const RunPage: FC<RunPageProps> = ({ ctx, view, run, links, events, omittedEvents, diff, forks, siblings, drivers, now, fork, checkpoints, stepFork, groupId, memory, lineage }) => {
  const write = canWriteRuns(view);
  const active = isActive(run);
  const pr = run.pull_request_id ? links.pulls.get(run.pull_request_id) : undefined;
  const parent = run.forked_from_job_id ? links.numbers.get(run.forked_from_job_id) : undefined;
  const author = run.created_by_id ? links.users.get(run.created_by_id) : undefined;
  const base = runUrl(view, run.number);
  const t0 = run.started_at ?? run.created_at;
  const lastId = events.length ? events[events.length - 1]!.id : 0;
  const usage = usageSummary(run.usage);
  const eventsUrl = `${base}/events`;
  const compareTargets = [...(parent !== undefined ? [parent] : []), ...forks.map((f) => f.number), ...siblings.map((s) => s.number)].filter((n, i, all) => all.indexOf(n) === i);
  return (
    <RunsLayout ctx={ctx} view={view} title={`${run.title} · Task #${run.number}`} refresh={active}>
      <nav class="run-crumbs" aria-label="Breadcrumb">
        <a href={runsUrl(view)}>Tasks</a>
        <span aria-hidden="true">/</span>
        <span>#{run.number}</span>
      </nav>
      <JobHeader
        title={<span class="run-h1-title">{run.title}</span>}
        number={run.number}
        badge={<RunStatusBadge status={run.status} large id="run-status" />}
        kind={<RunAgent run={run} />}
        startedBy={author ? { name: author, verb: 'started this' } : null}
        startedWord="Started"
        createdAt={run.created_at}
        duration={<RunDuration run={run} now={now} />}
        actions={
          (write || !active) && (
            <div class="run-header-actions">
              {!active && (
                <a class="btn" href={graphUrl(view.repo, { run: run.number })} id="run-graph" title="This task's knowledge graph: evidence, file ranges, commits, pull request">
                  <Icon name="graph" /> Graph
                </a>
              )}
              {write && active && (
                <PostForm ctx={ctx} action={`${base}/cancel`} class="inline-form">
                  <button type="submit" class="btn btn-danger-outline" id="run-cancel">
                    <Icon name="stop" /> Cancel
                  </button>
                </PostForm>
              )}
              {write && !active && (
                <PostForm ctx={ctx} action={`${base}/retry`} class="inline-form">
                  <button type="submit" class="btn" title="Run the same prompt again from the same source">
                    <Icon name="retry" /> Retry
                  </button>
                </PostForm>
              )}
              {write && (
                <a class="btn" href="#fork" data-open-details="fork">
                  <Icon name="branch" /> Fork
                </a>
              )}
            </div>
          )
        }
      />

      <div class="run-branches">
        <span class="run-branch mono" title={`Source: ${run.source_branch ?? run.source_commit}`}>
          {run.source_branch ?? run.source_commit.slice(0, 12)}
        </span>
        <span class="muted" aria-label="to">
          →
        </span>
        <span class="run-branch mono" title="Compare branch: the agent's work">
          {run.compare_branch}
        </span>
        {pr ? (
          <span class="run-pr-line">
            <RunPullLink view={view} pr={pr} />
            <span class="muted">
              into <span class="mono">{run.base_branch}</span>
            </span>
          </span>
        ) : null}
        {parent !== undefined && (
          <a class="run-forked" href={runUrl(view, parent)} id="run-forked-from">
            <Icon name="branch" /> {run.forked_from_step !== null ? `Forked from run #${parent} at step ${run.forked_from_step}` : `Forked from #${parent}`}
          </a>
        )}
        {run.workspace_start && <span class="muted run-workspace-label">workspace</span>}
        {run.workspace_start && (
          <span class={`badge run-workspace run-workspace-${run.workspace_start}`} id="run-workspace" title={run.workspace_start === 'warm' ? 'The workspace booted from a snapshot (dependencies and the agent session intact)' : 'The workspace was checked out fresh (and set up)'}>
            {run.workspace_start}
          </span>
        )}
        {groupId ? (
          <a class="run-group-link" href={`${runsUrl(view)}/groups/${groupId}`} id="run-group-link">
            Best of N: compare the attempts
          </a>
        ) : null}
      </div>

      <div class="run-layout">
        <div class="run-main">
          {run.status === 'failed' && run.error && (
            <div class="run-callout run-callout-failed" role="alert">
              <Icon name="alert" />
              <div>
                <strong>The task failed</strong>
                <pre class="run-callout-pre">{run.error}</pre>
              </div>
            </div>
          )}
          {run.status === 'cancelled' && (
            <div class="run-callout run-callout-cancelled">
              <Icon name="stop" />
              <div>
                <strong>The task was cancelled</strong>
                {run.error && run.error.trim().toLowerCase() !== 'cancelled' ? <pre class="run-callout-pre">{run.error}</pre> : null}
              </div>
            </div>
          )}
          {pr && pr.closedReason === 'run-no-commits' && (
            <p class="run-callout run-callout-closed" id="run-pr-closed">
              <Icon name="closed" />
              <span>
                The task left no commits, so its pull request #{pr.number} was closed. It reopens by itself if a later run pushes to <span class="mono">{run.compare_branch}</span>.
              </span>
            </p>
          )}
          {run.status === 'succeeded' && (
            <section class="card run-result" id="run-result">
              <div class="card-head">
                <Icon name="check" class="run-ok-icon" />
                <h2 class="h3">Result</h2>
                {pr && (
                  <a class="btn btn-sm btn-primary run-result-pr" href={`/${encodeURIComponent(view.repo.owner_name)}/${encodeURIComponent(view.repo.name)}/pull/${pr.number}`} id="run-open-pr">
                    <Icon name="pull" /> View pull request #{pr.number}
                  </a>
                )}
              </div>
              <div class="card-pad">
                <p class="run-summary">{run.result_summary || 'The agent finished.'}</p>
                {diff && diff.files.length > 0 && (
                  <p class="muted run-result-files">
                    <a href="#diff">
                      {diff.files.length} {diff.files.length === 1 ? 'file' : 'files'} changed
                    </a>{' '}
                    on <span class="mono">{run.compare_branch}</span>
                    {run.commit_sha ? (
                      <>
                        {' '}
                        at <code class="sha">{run.commit_sha.slice(0, 10)}</code>
                      </>
                    ) : null}
                  </p>
                )}
              </div>
            </section>
          )}

          <details class="card run-prompt" id="prompt" open={events.length === 0 && !run.rendered_prompt ? true : undefined}>
            <summary class="card-head">
              <Icon name="comment" />
              <h2 class="h3">Prompt</h2>
              <span class="muted run-prompt-size">{run.prompt.split('\n').length} lines</span>
            </summary>
            <pre class="run-prompt-text" id="run-prompt-text">{run.prompt}</pre>
            {run.rendered_prompt ? (
              <details class="run-rendered">
                <summary>What the agent saw (rendered prompt)</summary>
                <pre class="run-prompt-text" id="run-rendered-prompt">{run.rendered_prompt}</pre>
              </details>
            ) : null}
          </details>

          {memory && <RunMemorySection ctx={ctx} view={view} given={memory} />}

          <RunTimeline ctx={ctx} view={view} run={run} checkpoints={checkpoints ?? []} events={events} drivers={drivers} write={write} fork={stepFork} />

          <section class="card run-trace-card" id="trace">
            <div class="card-head">
              <Icon name="history" />
              <h2 class="h3">Trace</h2>
              <span class="run-live" id="run-live" hidden={!active} data-active={active ? '' : undefined}>
                <span class="run-live-dot" aria-hidden="true"></span> <span class="run-live-text">{active ? 'Live' : ''}</span>
              </span>
            </div>
            {omittedEvents > 0 && <p class="trace-omitted">{omittedEvents.toLocaleString('en')} earlier events are not shown.</p>}
            <ol
              class="trace"
              id="run-trace"
              data-events-url={active ? eventsUrl : undefined}
              data-after={String(lastId)}
              data-t0={t0}
              data-status={run.status}
              aria-live="polite"
            >
              <TraceList events={events} t0={t0} />
            </ol>
            <p class="trace-empty" id="run-trace-empty" hidden={events.length > 0}>
              {run.status === 'queued' ? 'Waiting for a runner to pick this task up…' : active ? 'Waiting for the agent…' : 'No trace was recorded.'}
            </p>
          </section>

          <section class="run-diff-section" id="diff">
            <h2 class="h3 run-section-title">
              <Icon name="filediff" /> Diff
            </h2>
            {diff ? (
              <DiffView diff={diff} anchor="file" empty="The agent made no changes." />
            ) : (
              <p class="muted rdiff-empty">{active ? 'The diff appears when the agent has finished.' : run.commit_sha ? 'The commits of this task are no longer in the repository.' : 'This task produced no commit.'}</p>
            )}
          </section>

          {write && (
            <details class="card run-fork" id="fork" open={fork ? true : undefined}>
              <summary class="card-head">
                <Icon name="branch" />
                <h2 class="h3">Fork this task</h2>
                <span class="muted run-fork-hint">{run.commit_sha ? 'continue from its result with an edited prompt' : 'start again from its source with an edited prompt'}</span>
              </summary>
              <div class="card-pad">
                <ForkForm ctx={ctx} view={view} run={run} drivers={drivers} values={fork?.values} error={fork?.error ?? null} />
              </div>
            </details>
          )}
        </div>

        <aside class="run-side">
          <dl class="run-facts">
            <div>
              <dt>Status</dt>
              <dd id="run-side-status">{statusLabel(run.status)}</dd>
            </div>
            <div>
              <dt>Agent</dt>
              <dd>
                {driverLabel(run.driver)}
                {run.driver === 'script' ? <span class="muted"> (deterministic, offline)</span> : null}
              </dd>
            </div>
            <RunRepositoryAgent run={run} agentsHref={`/${encodeURIComponent(view.repo.owner_name)}/${encodeURIComponent(view.repo.name)}/agents`} />
            {run.model && (
              <div>
                <dt>Model</dt>
                <dd class="mono">{run.model}</dd>
              </div>
            )}
            <div>
              <dt>Base branch</dt>
              <dd class="mono">{run.base_branch}</dd>
            </div>
            <div>
              <dt>Source</dt>
              <dd>
                <span class="mono">{run.source_branch ?? 'commit'}</span> <code class="sha" title={run.source_commit}>{run.source_commit.slice(0, 7)}</code>
              </dd>
            </div>
            {run.commit_sha && (
              <div>
                <dt>Result commit</dt>
                <dd>
                  <code class="sha" title={run.commit_sha}>
                    {run.commit_sha.slice(0, 10)}
                  </code>
                </dd>
              </div>
            )}
            {pr && (
              <div>
                <dt>Pull request</dt>
                <dd>
                  <RunPullLink view={view} pr={pr} /> <span class="muted">{pr.state === 'open' && pr.draft ? 'draft' : pr.state}</span>
                </dd>
              </div>
            )}
            {parent !== undefined && (
              <div>
                <dt>Forked from</dt>
                <dd>
                  <a href={runUrl(view, parent)}>Task #{parent}</a>
                </dd>
              </div>
            )}
            <div>
              <dt>Created</dt>
              <dd>
                <Time iso={run.created_at} />
              </dd>
            </div>
            {run.started_at && (
              <div>
                <dt>Started</dt>
                <dd>
                  <Time iso={run.started_at} />
                </dd>
              </div>
            )}
            {run.finished_at && (
              <div>
                <dt>Finished</dt>
                <dd>
                  <Time iso={run.finished_at} />
                </dd>
              </div>
            )}
            {usage && (
              <div>
                <dt>Usage</dt>
                <dd>{usage}</dd>
              </div>
            )}
          </dl>
          {lineage.length > 1 && (
            <div class="run-side-block" id="run-lineage">
              <h3 class="run-side-title">Lineage</h3>
              <ul class="run-mini-list run-lineage">
                {lineage.map((n) => (
                  <li class={`run-lineage-d${Math.min(n.depth, 6)}${n.run.id === run.id ? ' run-lineage-current' : ''}`} data-run={String(n.run.number)}>
                    <RunStatusBadge status={n.run.status} />
                    <span class="run-lineage-text">
                      {n.run.id === run.id ? (
                        <strong aria-current="true">#{n.run.number}</strong>
                      ) : (
                        <a href={runUrl(view, n.run.number)} title={n.run.title}>
                          #{n.run.number}
                        </a>
                      )}
                      {n.depth > 0 ? <span class="muted"> from {n.run.forked_from_step !== null ? `step ${n.run.forked_from_step}` : 'its result'}</span> : <span class="muted"> first run</span>}
                      {n.run.workspace_start && <span class={`badge run-workspace run-workspace-${n.run.workspace_start}`}>{n.run.workspace_start}</span>}
                    </span>
                  </li>
                ))}
              </ul>
            </div>
          )}
          {siblings.length > 0 && (
            <div class="run-side-block">
              <h3 class="run-side-title">Other runs of this prompt</h3>
              <ul class="run-mini-list">
                {siblings.map((s) => (
                  <li>
                    <RunStatusBadge status={s.status} />
                    <a href={runUrl(view, s.number)}>
                      #{s.number} {s.title}
                    </a>
                  </li>
                ))}
              </ul>
            </div>
          )}
          {compareTargets.length > 0 && (
            <form method="get" action={`${runsUrl(view)}/compare`} class="run-side-block run-compare-form">
              <h3 class="run-side-title">Compare</h3>
              <input type="hidden" name="a" value={String(run.number)} />
              <div class="run-compare-row">
                <label class="sr-only" for="compare-with">
                  Compare with task
                </label>
                <select class="input select select-sm grow" name="b" id="compare-with">
                  {compareTargets.map((n) => (
                    <option value={String(n)}>with #{n}</option>
                  ))}
                </select>
                <button type="submit" class="btn btn-sm">
                  <Icon name="compare" /> Compare
                </button>
              </div>
            </form>
          )}
        </aside>
      </div>
    </RunsLayout>
  );
};

/* ---------- forking ---------- */

export const ForkForm: FC<{ ctx: PageContext; view: RepoView; run: Run; drivers: DriverInfo[]; values?: ForkValues; error: FormError | null; onPage?: boolean }> = ({ ctx, view, run, drivers, values, error, onPage }) => {
  const v: ForkValues = values ?? { prompt: run.prompt, title: '', driver: run.driver, model: run.model };
  const from = run.commit_sha ?? run.source_commit;
  return (
    <>
      <RunFormAlert error={error} />
      <PostForm ctx={ctx} action={`${runUrl(view, run.number)}/fork`} class="stack run-form" id="fork-form">
        {onPage ? <input type="hidden" name="from" value="page" /> : null}
        <p class="run-fork-from">
          <Icon name="branch" /> The fork starts from{' '}
          {run.commit_sha ? (
            <>
              this task's result, <span class="mono">{run.compare_branch}</span>
            </>
          ) : (
            <>
              this task's source, <span class="mono">{run.source_branch ?? 'commit'}</span>
            </>
          )}{' '}
          at <code class="sha">{from.slice(0, 7)}</code>, and opens its own draft pull request.
        </p>
        <div class="field">
          <label for="fork-title">
            Title <span class="muted">(optional)</span>
          </label>
          <input type="text" id="fork-title" class="input" name="title" value={v.title} maxlength={256} placeholder={`${run.title} (fork of #${run.number})`} aria-invalid={error?.field === 'title' ? 'true' : undefined} />
        </div>
        <div class="field">
          <label for="fork-prompt">Prompt</label>
          <textarea id="fork-prompt" class="input mono run-prompt-input" name="prompt" rows={12} required spellcheck={false} aria-invalid={error?.field === 'prompt' ? 'true' : undefined}>
            {v.prompt}
          </textarea>
        </div>
        <AgentFields drivers={drivers} values={v} idPrefix="fork" error={error} />
        <div class="form-actions">
          <button type="submit" class="btn btn-primary">
            <Icon name="branch" /> Start fork
          </button>
        </div>
      </PostForm>
    </>
  );
};

/** The fork form on a page of its own (from the Tasks list; works without JavaScript). */
export const RunForkPage: FC<{ ctx: PageContext; view: RepoView; run: Run; drivers: DriverInfo[]; values?: ForkValues; error?: FormError | null }> = ({ ctx, view, run, drivers, values, error }) => (
  <RunsLayout ctx={ctx} view={view} title={`Fork task #${run.number}`}>
    <div class="run-form-page">
      <nav class="run-crumbs" aria-label="Breadcrumb">
        <a href={runsUrl(view)}>Tasks</a>
        <span aria-hidden="true">/</span>
        <a href={runUrl(view, run.number)}>#{run.number}</a>
        <span aria-hidden="true">/</span>
        <span>Fork</span>
      </nav>
      <div class="page-head">
        <h1>Fork task #{run.number}</h1>
        <p class="muted">
          <RunStatusBadge status={run.status} /> {run.title}
        </p>
      </div>
      <div class="card card-pad">
        <ForkForm ctx={ctx} view={view} run={run} drivers={drivers} values={values} error={error ?? null} onPage />
      </div>
    </div>
  </RunsLayout>
);

/** The repository agent a run used (issue 15): its key, the file and version of its definition, how its model was mapped. */
const RunRepositoryAgent: FC<{ run: Run; agentsHref: string }> = ({ run, agentsHref }) => {
  const a = run.agent_key ? parseAgentRunContext(run.agent_definition)?.agent : null;
  if (!run.agent_key) return null;
  return (
    <div id="run-repository-agent">
      <dt>Repository agent</dt>
      <dd>
        <a href={`${agentsHref}#agent-${encodeURIComponent(run.agent_key)}`}>@{run.agent_key}</a>
        {a && (
          <>
            {' '}
            <span class="muted">
              from <span class="mono">{a.source}</span>
              {a.file_commit_sha && <> @ <code class="sha">{a.file_commit_sha.slice(0, 7)}</code></>}
            </span>
            {a.driver_note && <div class="hint">{a.driver_note}</div>}
          </>
        )}
      </dd>
    </div>
  );
};
