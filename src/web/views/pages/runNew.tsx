import type { FC } from 'hono/jsx';
import type { FormError, PageContext } from '../context.ts';
import type { DriverInfo } from '../../../services/drivers.ts';
import type { RepoView } from './repo.tsx';
import { EmptyState, PostForm } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { RunFormAlert, RunsLayout, driverLabel, runsUrl } from './runs.tsx';

export interface AgentValues {
  driver: string;
  model: string;
}

export interface NewRunValues extends AgentValues {
  title: string;
  prompt: string;
  baseBranch: string;
  sourceBranch: string;
  /** Best-of-N: how many attempts (1–8); more than one starts a run group. */
  attempts?: string;
  /** A repository agent's key ('' = none), and whether the driver fields override the agent's own. */
  agent?: string;
  agentOverride?: boolean;
}

/** A repository agent offered by the form (issue 15). */
export interface AgentChoice {
  key: string;
  name: string;
  description: string;
  source: string;
}

export const SCRIPT_EXAMPLE = [
  'Describe the change you want, e.g. "Add a CONTRIBUTING guide".',
  '',
  'The scripted driver runs a gitoku-script block instead of a model:',
  '```gitoku-script',
  'think Plan: add a guide and check it',
  'write CONTRIBUTING.md',
  '# Contributing',
  'Open a pull request.',
  'end',
  'run cat CONTRIBUTING.md',
  'say Added CONTRIBUTING.md',
  '```',
].join('\n');

const SYNTAX = [
  ['write PATH … end', 'write a file (content on the lines up to "end")'],
  ['append PATH … end', 'append to a file'],
  ['delete PATH', 'delete a file'],
  ['run COMMAND', 'run a shell command in the workspace'],
  ['say TEXT', 'an agent message (the last one is the summary)'],
  ['think TEXT', 'a thinking step'],
  ['sleep SECONDS', 'wait'],
  ['fail MESSAGE', 'fail the task'],
] as const;

/** "Agent" and "Model" selects: only drivers this server can run are offered. */
export const AgentFields: FC<{ drivers: DriverInfo[]; values: AgentValues; idPrefix: string; error?: FormError | null }> = ({ drivers, values, idPrefix, error }) => {
  const available = drivers.filter((d) => d.available);
  const unavailable = drivers.filter((d) => !d.available);
  return (
    <div class="run-form-row">
      <div class="field">
        <label for={`${idPrefix}-driver`}>Agent</label>
        <select id={`${idPrefix}-driver`} class="input select" name="driver" data-driver-select={`${idPrefix}-model`} aria-invalid={error?.field === 'driver' ? 'true' : undefined}>
          {available.map((d) => (
            <option value={d.name} selected={d.name === values.driver}>
              {d.name === 'script' ? 'scripted — deterministic, offline' : d.label}
            </option>
          ))}
        </select>
        {unavailable.length > 0 && (
          <p class="hint">
            Not available on this server: {unavailable.map((d, i) => (
              <>
                {i > 0 ? ', ' : ''}
                <span title={d.reason ?? undefined}>{driverLabel(d.name)}</span>
              </>
            ))}
            .
          </p>
        )}
      </div>
      <div class="field">
        <label for={`${idPrefix}-model`}>Model</label>
        <select id={`${idPrefix}-model`} class="input select" name="model" aria-invalid={error?.field === 'model' ? 'true' : undefined}>
          <option value="" selected={!values.model}>
            Default
          </option>
          {available.map((d) => (
            <optgroup label={driverLabel(d.name)} data-driver={d.name}>
              {d.models.map((m) => (
                <option value={m} selected={values.driver === d.name && values.model === m}>
                  {m}
                  {m === d.defaultModel ? ' (default)' : ''}
                </option>
              ))}
            </optgroup>
          ))}
        </select>
      </div>
    </div>
  );
};

const HowItWorks: FC = () => (
  <aside class="run-how">
    <h2 class="run-side-title">How a task runs</h2>
    <ol class="run-how-steps">
      <li>
        <strong>A branch is cut</strong>
        <span>from the source branch, named after the task.</span>
      </li>
      <li>
        <strong>A draft pull request opens</strong>
        <span>into the base branch, so you can follow along.</span>
      </li>
      <li>
        <strong>A runner starts the agent</strong>
        <span>in a sandbox; its trace streams to the task page.</span>
      </li>
      <li>
        <strong>The agent's commit is pushed</strong>
        <span>to the branch and the pull request is ready for review.</span>
      </li>
    </ol>
    <p class="hint">
      Not happy with the result? <strong>Fork</strong> a task to continue from it with an edited prompt, or <strong>retry</strong> it, then compare the runs.
    </p>
  </aside>
);

export const NewRunPage: FC<{ ctx: PageContext; view: RepoView; branches: string[]; drivers: DriverInfo[]; values: NewRunValues; error?: FormError | null; agents?: AgentChoice[] }> = ({ ctx, view, branches, drivers, values, error, agents = [] }) => {
  const invalid = (field: string) => (error?.field === field ? 'true' : undefined);
  return (
    <RunsLayout ctx={ctx} view={view} title={`New task · ${view.repo.owner_name}/${view.repo.name}`}>
      <div class="run-new-page">
        <nav class="run-crumbs" aria-label="Breadcrumb">
          <a href={runsUrl(view)}>Tasks</a>
          <span aria-hidden="true">/</span>
          <span>New</span>
        </nav>
        <div class="page-head">
          <h1>New task</h1>
          <p class="muted">An agent works on a new branch cut from the source branch and opens a draft pull request into the base branch.</p>
        </div>
        {branches.length === 0 ? (
          <div class="card">
            <EmptyState icon="branch" title="This repository has no branches yet">
              <p class="muted">Push a branch first: a task starts from one.</p>
            </EmptyState>
          </div>
        ) : (
          <div class="run-new-layout">
            <div class="run-new-main">
              <RunFormAlert error={error} />
              <PostForm ctx={ctx} action={runsUrl(view)} class="card card-pad stack run-form" id="new-run-form">
                <div class="field">
                  <label for="run-title">
                    Title <span class="muted">(optional)</span>
                  </label>
                  <input type="text" id="run-title" class="input" name="title" value={values.title} maxlength={256} placeholder="Defaults to the first line of the prompt" aria-invalid={invalid('title')} />
                </div>
                <div class="field">
                  <label for="run-prompt">Prompt</label>
                  <textarea id="run-prompt" class="input mono run-prompt-input" name="prompt" rows={14} required autofocus spellcheck={false} placeholder={SCRIPT_EXAMPLE} aria-invalid={invalid('prompt')}>
                    {values.prompt}
                  </textarea>
                  <details class="run-syntax">
                    <summary>gitoku-script reference (scripted driver)</summary>
                    <dl class="run-syntax-list">
                      {SYNTAX.map(([cmd, what]) => (
                        <div>
                          <dt>
                            <code>{cmd}</code>
                          </dt>
                          <dd>{what}</dd>
                        </div>
                      ))}
                    </dl>
                  </details>
                </div>
                <div class="run-form-row">
                  <div class="field">
                    <label for="run-base">Base branch</label>
                    <select id="run-base" class="input select" name="base_branch" aria-invalid={invalid('base_branch')}>
                      {branches.map((b) => (
                        <option value={b} selected={b === values.baseBranch}>
                          {b}
                        </option>
                      ))}
                    </select>
                    <p class="hint">The pull request merges into this branch.</p>
                  </div>
                  <div class="field">
                    <label for="run-source">Source branch</label>
                    <select id="run-source" class="input select" name="source_branch" aria-invalid={invalid('source_branch')}>
                      {branches.map((b) => (
                        <option value={b} selected={b === values.sourceBranch}>
                          {b}
                        </option>
                      ))}
                    </select>
                    <p class="hint">The agent starts from this branch's latest commit.</p>
                  </div>
                </div>
                {agents.length > 0 && <RepositoryAgentField agents={agents} values={values} invalid={invalid('agent')} />}
                <AgentFields drivers={drivers} values={values} idPrefix="run" error={error} />
                <div class="field run-attempts-field">
                  <label for="run-attempts">Attempts</label>
                  <input type="number" id="run-attempts" class="input run-attempts-input" name="attempts" min={1} max={8} step={1} value={values.attempts ?? '1'} aria-invalid={invalid('attempts')} aria-describedby="run-attempts-hint" />
                  <p class="hint" id="run-attempts-hint">
                    Best of N: more than one runs the task that many ways, each on its own branch and draft pull request, ranked side by side.
                  </p>
                </div>
                <div class="form-actions">
                  <button type="submit" class="btn btn-primary" id="run-submit">
                    <Icon name="play" /> Start task
                  </button>
                  <a class="btn btn-ghost" href={runsUrl(view)}>
                    Cancel
                  </a>
                </div>
              </PostForm>
            </div>
            <HowItWorks />
          </div>
        )}
      </div>
    </RunsLayout>
  );
};

/** Pick a repository agent: its instructions, driver and model apply (the driver fields only when overriding). */
const RepositoryAgentField: FC<{ agents: AgentChoice[]; values: NewRunValues; invalid: string | undefined }> = ({ agents, values, invalid }) => (
  <div class="field run-agent-field">
    <label for="run-agent">Agent</label>
    <select id="run-agent" class="input select" name="agent" aria-invalid={invalid} aria-describedby="run-agent-hint">
      <option value="" selected={!values.agent}>
        None — just the prompt
      </option>
      {agents.map((a) => (
        <option value={a.key} selected={values.agent === a.key}>
          {a.name === a.key ? a.key : `${a.name} (${a.key})`}
          {a.description ? ` — ${a.description}` : ''}
        </option>
      ))}
    </select>
    <label class="checkbox run-agent-override">
      <input type="checkbox" name="agent_override" value="1" checked={values.agentOverride} /> Use the driver and model below instead of the agent's own
    </label>
    <p class="hint" id="run-agent-hint">
      A repository agent (defined at the source branch) adds its instructions before the prompt, after AGENTS.md.
    </p>
  </div>
);
