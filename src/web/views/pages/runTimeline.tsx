import type { FC } from 'hono/jsx';
import type { FormError, PageContext } from '../context.ts';
import type { Run, RunEvent } from '../../../db/schema.ts';
import type { DriverInfo } from '../../../services/drivers.ts';
import type { RepoView } from './repo.tsx';
import { PostForm } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { formatBytes } from '../format.ts';
import { parseTraceData, RunFormAlert, runUrl } from './runs.tsx';
import { AgentFields } from './runNew.tsx';

/** A checkpoint as the run page shows it: the step, its commit and whether a fork from it boots warm. */
export interface TimelineCheckpoint {
  step: number;
  commit_sha: string;
  trace_event_id: number | null;
  final: number;
  snapshot_id: string | null;
  snapshot_mode: string | null;
  snapshot_bytes: number | string | null;
  /** An online runner still holds the snapshot. */
  warm: boolean;
}

export interface StepForkValues {
  step: string;
  prompt: string;
  driver: string;
  model: string;
}

const text = (v: unknown, max = 90): string => {
  const s = typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v);
  const line = s.split('\n')[0] ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
};

/** One line saying what the trace event at a checkpoint was. */
export function describeTraceEvent(e: RunEvent | undefined): string {
  if (!e) return '';
  const d = parseTraceData(e.data);
  switch (e.kind) {
    case 'command':
      return `ran ${text(d.command)}`;
    case 'file_edit':
      return `${text(d.action) || 'edited'} ${text(d.path)}`;
    case 'tool_call':
      return `called ${text(d.tool)}`;
    case 'message':
      return `said “${text(d.text, 70)}”`;
    case 'thinking':
      return `thought “${text(d.text, 70)}”`;
    default:
      return `${e.kind}${d.message ? `: ${text(d.message)}` : ''}`;
  }
}

function stepLabel(c: TimelineCheckpoint, last: boolean): string {
  if (c.step === 0) return 'Workspace prepared';
  if (c.final === 1 || last) return `Step ${c.step} · result`;
  return `Step ${c.step}`;
}

/** "warm" / "cold" for a snapshot: whether a fork from here boots from it. */
export const SnapshotBadge: FC<{ c: TimelineCheckpoint }> = ({ c }) =>
  c.snapshot_id ? (
    c.warm ? (
      <span class="badge badge-success run-step-warm" title={`Snapshot ${c.snapshot_id} (${c.snapshot_mode ?? 'overlay'}${c.snapshot_bytes !== null ? `, ${formatBytes(Number(c.snapshot_bytes))}` : ''}) is on an online runner: a fork boots from it`}>
        warm
      </span>
    ) : (
      <span class="badge run-step-cold" title="The snapshot is gone (evicted, or its runner is offline): a fork checks out this commit and runs set-up">
        cold
      </span>
    )
  ) : (
    <span class="badge run-step-cold" title="No snapshot was taken: a fork checks out this commit and runs set-up">
      cold
    </span>
  );

/**
 * The run's checkpoints as a timeline: each step with what happened there, its commit, whether a fork
 * boots warm, and a "Fork from here" form (plain HTML form: works without JavaScript).
 */
export const RunTimeline: FC<{ ctx: PageContext; view: RepoView; run: Run; checkpoints: TimelineCheckpoint[]; events: RunEvent[]; drivers: DriverInfo[]; write: boolean; fork?: { values: StepForkValues; error: FormError | null } }> = ({
  ctx,
  view,
  run,
  checkpoints,
  events,
  drivers,
  write,
  fork,
}) => {
  if (checkpoints.length === 0) return null;
  const byId = new Map(events.map((e) => [e.id, e]));
  return (
    <section class="card run-timeline-card" id="timeline">
      <div class="card-head">
        <Icon name="history" />
        <h2 class="h3">Steps</h2>
        <span class="muted run-fork-hint">fork from any step: its code, and its workspace when the snapshot is still warm</span>
      </div>
      <ol class="run-timeline" id="run-timeline">
        {checkpoints.map((c, i) => {
          const open = fork?.values.step === String(c.step);
          const v: StepForkValues = open ? fork!.values : { step: String(c.step), prompt: run.prompt, driver: run.driver, model: run.model };
          const happened = c.step === 0 ? 'checked out and set up' : describeTraceEvent(c.trace_event_id !== null ? byId.get(c.trace_event_id) : undefined);
          return (
            <li class="run-step" id={`step-${c.step}`} data-step={String(c.step)}>
              <div class="run-step-line">
                <span class="run-step-num" aria-label={`Step ${c.step}`}>
                  {c.step}
                </span>
                <span class="run-step-label">{stepLabel(c, i === checkpoints.length - 1)}</span>
                {happened && <span class="run-step-what muted">{happened}</span>}
                <code class="sha run-step-sha" title={c.commit_sha}>
                  {c.commit_sha.slice(0, 7)}
                </code>
                <SnapshotBadge c={c} />
              </div>
              {write && (
                <details class="run-step-fork" open={open ? true : undefined}>
                  <summary class="btn btn-sm">
                    <Icon name="branch" /> Fork from here
                  </summary>
                  {open && <RunFormAlert error={fork!.error} />}
                  <PostForm ctx={ctx} action={`${runUrl(view, run.number)}/fork`} class="stack run-form run-step-form">
                    <input type="hidden" name="step" value={String(c.step)} />
                    <div class="field">
                      <label for={`step-${c.step}-prompt`}>Prompt</label>
                      <textarea id={`step-${c.step}-prompt`} class="input mono run-prompt-input" name="prompt" rows={8} required spellcheck={false}>
                        {v.prompt}
                      </textarea>
                    </div>
                    <AgentFields drivers={drivers} values={v} idPrefix={`step-${c.step}`} error={open ? fork!.error : null} />
                    <div class="form-actions">
                      <button type="submit" class="btn btn-primary">
                        <Icon name="branch" /> Fork from step {c.step}
                      </button>
                      <span class="muted">{c.warm ? 'boots warm from the snapshot' : 'cold: checks out this commit and runs set-up'}</span>
                    </div>
                  </PostForm>
                </details>
              )}
            </li>
          );
        })}
      </ol>
    </section>
  );
};
