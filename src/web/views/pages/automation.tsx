import type { Child, FC } from 'hono/jsx';
import type { FormError, PageContext } from '../context.ts';
import type { WorkflowRun } from '../../../db/schema.ts';
import type { BehaviorSetting } from '../../../services/automation.ts';
import type { DriverInfo } from '../../../services/drivers.ts';
import type { RefLists } from '../../../services/uiBrowse.ts';
import type { GitokuWorkflow, ManifestProblem, ManifestResult } from '../../../domain/manifest.ts';
import { roleAtLeast } from '../../../domain/permissions.ts';
import { Layout } from '../layout.tsx';
import { EmptyState, FormAlert, PageAssets, PageLinks, PostForm, Time, fieldInvalid } from '../components.tsx';
import { Icon, type IconName } from '../icons.tsx';
import { RefSwitcher } from '../code.tsx';
import { blobUrl, commitUrl, repoUrl, type RepoRef } from '../urls.ts';
import { fullDate } from '../format.ts';
import { RepoHeader, type RepoView } from './repo.tsx';
import { formatDuration } from './runs.tsx';

/* ---------- shared pieces of the automation pages (workflows, workflow runs, events) ---------- */

export const automationUrl = (view: RepoView, ref?: string) => `${repoUrl(view.repo)}/automation${ref ? `?ref=${encodeURIComponent(ref)}` : ''}`;
export const eventsUrl = (view: RepoView) => `${repoUrl(view.repo)}/events`;
export const workflowRunUrl = (repo: RepoRef, number: number) => `${repoUrl(repo)}/actions/runs/${number}`;
export const branchOf = (ref: string) => ref.replace(/^refs\/heads\//, '');

/** The automation pages' stylesheets (status badges and the terminal come from runs.css) and script. */
export const AutomationAssets: FC<{ ctx: PageContext; refresh?: boolean }> = ({ ctx, refresh }) => (
  // Without JavaScript, an unfinished workflow run's page reloads itself to follow its log.
  <PageAssets ctx={ctx} styles={['runs.css', 'automation.css']} scripts={['automation.js']} refreshSeconds={refresh ? 2 : undefined} />
);

/** A repository page on the Automation tab. */
export const AutomationLayout: FC<{ ctx: PageContext; view: RepoView; title: string; refresh?: boolean; children?: Child }> = ({ ctx, view, title, refresh, children }) => (
  <Layout ctx={ctx} title={title} band={<RepoHeader ctx={ctx} view={view} active="automation" />} head={<AutomationAssets ctx={ctx} refresh={refresh} />}>
    {children}
  </Layout>
);

/** Workflows | Events, under the page title. */
export const AutomationNav: FC<{ view: RepoView; active: 'workflows' | 'events' }> = ({ view, active }) => (
  <nav class="au-subnav" aria-label="Automation">
    <a href={automationUrl(view)} class={active === 'workflows' ? 'au-subnav-link active' : 'au-subnav-link'} aria-current={active === 'workflows' ? 'page' : undefined}>
      <Icon name="play" /> Workflows &amp; behaviors
    </a>
    <a href={eventsUrl(view)} class={active === 'events' ? 'au-subnav-link active' : 'au-subnav-link'} aria-current={active === 'events' ? 'page' : undefined}>
      <Icon name="bolt" /> Events
    </a>
  </nav>
);

type WorkflowRunState = Pick<WorkflowRun, 'status' | 'conclusion'>;

const CONCLUSION: Record<string, { cls: string; label: string }> = {
  success: { cls: 'succeeded', label: 'Success' },
  failure: { cls: 'failed', label: 'Failure' },
  error: { cls: 'failed', label: 'Error' },
  cancelled: { cls: 'cancelled', label: 'Cancelled' },
};

export function workflowRunState(run: WorkflowRunState): { key: string; cls: string; label: string } {
  if (run.status === 'completed') {
    const c = CONCLUSION[run.conclusion ?? ''] ?? { cls: 'cancelled', label: 'Completed' };
    return { key: run.conclusion ?? 'completed', ...c };
  }
  return run.status === 'running' ? { key: 'running', cls: 'running', label: 'Running' } : { key: 'queued', cls: 'queued', label: 'Queued' };
}

/** Queued grey, running blue (pulsing), success green, failure/error red, cancelled grey. */
export const WorkflowStatusBadge: FC<{ run: WorkflowRunState; large?: boolean; id?: string }> = ({ run, large, id }) => {
  const s = workflowRunState(run);
  return (
    <span class={`run-status run-status-${s.cls}${large ? ' run-status-lg' : ''}`} id={id} data-status={s.key}>
      <span class="run-status-dot" aria-hidden="true"></span>
      <span class="run-status-text">{s.label}</span>
    </span>
  );
};

export function workflowDurationMs(run: Pick<WorkflowRun, 'started_at' | 'finished_at'>, now: number): number | null {
  if (!run.started_at) return null;
  const ms = (run.finished_at ? Date.parse(run.finished_at) : now) - Date.parse(run.started_at);
  return Number.isFinite(ms) ? Math.max(0, ms) : null;
}

export const WorkflowDuration: FC<{ run: Pick<WorkflowRun, 'status' | 'started_at' | 'finished_at'>; now: number }> = ({ run, now }) => {
  const ms = workflowDurationMs(run, now);
  if (ms === null) return <span class="run-duration muted">{run.status === 'queued' ? 'waiting' : '—'}</span>;
  return (
    <span class="run-duration" data-elapsed-from={run.status === 'running' ? run.started_at! : undefined} data-server-now={run.status === 'running' ? String(now) : undefined} title={run.finished_at ? `Finished ${fullDate(run.finished_at)}` : undefined}>
      {ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : formatDuration(ms)}
    </span>
  );
};

const EVENT_ICON: Record<string, IconName> = { push: 'commit', pull_request: 'pull', manual: 'play' };

export const EventChip: FC<{ event: string }> = ({ event }) => (
  <span class={`au-chip au-chip-${event.replace(/[^a-z_]/g, '')}`}>
    <Icon name={EVENT_ICON[event] ?? 'bolt'} /> {event}
  </span>
);

/** Text with `code` spans (behavior descriptions use backticks). */
export const Ticked: FC<{ text: string }> = ({ text }) => (
  <>
    {text.split('`').map((part, i) => (i % 2 === 1 ? <code>{part}</code> : part))}
  </>
);

/** "gitoku.toml:3 [workflow.test.steps] message", linking the location to the file at that line. */
export const ProblemLine: FC<{ problem: ManifestProblem; fileHref: string | null }> = ({ problem, fileHref }) => {
  const where = `${problem.file}${problem.line ? `:${problem.line}` : ''}`;
  return (
    <li class="au-problem">
      {fileHref ? (
        <a class="au-problem-where mono" href={problem.line ? `${fileHref}#L${problem.line}` : fileHref}>
          {where}
        </a>
      ) : (
        <span class="au-problem-where mono">{where}</span>
      )}
      {problem.key ? <code class="au-problem-key">[{problem.key}]</code> : null}
      <span class="au-problem-message">{problem.message}</span>
    </li>
  );
};

/* ---------- the Automation page ---------- */

export interface AutomationSettingsValues {
  aiReviews: boolean;
  conflictResolution: boolean;
  reviewDriver: string;
  reviewModel: string;
  /** Default agent for new tasks ('' = the server's default). */
  defaultDriver: string;
  defaultModel: string;
  reviewInstructions: string;
  /** What agent sandboxes may reach (domain/network.ts) and, for allow-list, the hosts. */
  agentNetwork: string;
  agentNetworkHosts: string;
  /** When a run's pull request is closed or merged, delete its branch: 'never' | 'no-commits' | 'always'. */
  runBranchCleanup: string;
  /** Shown, not submitted: the server's reviewer (GITOKU_REVIEW_DRIVER), used when reviewDriver is ''. */
  serverReviewer?: string | null;
}

const NETWORK_CHOICES: { mode: string; label: string; hint: string }[] = [
  { mode: 'model-only', label: 'Model only', hint: "The agent reaches its model endpoint through the runner's proxy, and nothing else. Its real API key never enters the sandbox." },
  { mode: 'allow-list', label: 'Allow-list', hint: 'The model, plus the hosts listed below (through the runner’s proxy, for package registries and the like).' },
  { mode: 'none', label: 'None', hint: 'No network at all (the scripted and OpenAI-compatible agents, whose model calls the runner makes itself).' },
  { mode: 'open', label: 'Open', hint: "The runner machine's whole network, including the servers beside it. Only for code and people you trust." },
];

export interface AutomationPageProps {
  ctx: PageContext;
  view: RepoView;
  refs: RefLists;
  /** The branch (or tag, or commit) whose gitoku.toml is shown. */
  refName: string;
  /** The commit it resolved to; null when it does not exist. */
  sha: string | null;
  /** null: no gitoku.toml at that commit. */
  manifest: ManifestResult | null;
  runs: WorkflowRun[];
  runsPage: number;
  runsPages: number;
  runsTotal: number;
  behaviors: BehaviorSetting[];
  drivers: DriverInfo[];
  settings: AutomationSettingsValues;
  settingsError?: FormError | null;
  now: number;
}

const EXAMPLE_MANIFEST = `[workflow.test]
name = "Tests"
events = ["push", "pull_request", "manual"]
branches = ["main"]

[[workflow.test.steps]]
name = "Install"
run = "npm ci"

[[workflow.test.steps]]
name = "Test"
run = "npm test"`;

function pageHref(view: RepoView, ref: string, isDefault: boolean, page: number): string {
  const q = new URLSearchParams();
  if (!isDefault) q.set('ref', ref);
  if (page > 1) q.set('page', String(page));
  const qs = q.toString();
  return `${repoUrl(view.repo)}/automation${qs ? `?${qs}` : ''}#runs`;
}

export const AutomationPage: FC<AutomationPageProps> = (props) => {
  const { ctx, view, refs, refName, sha, manifest, runs, runsPage, runsPages, runsTotal, behaviors } = props;
  const { repo } = view;
  const write = roleAtLeast(view.role, 'write') && !!ctx.user;
  const admin = roleAtLeast(view.role, 'admin') && !!ctx.user;
  const isBranch = refs.branches.some((b) => b.name === refName);
  const isDefault = refName === repo.default_branch;
  const fileHref = sha && manifest ? blobUrl(repo, refName, 'gitoku.toml') : null;
  const branchNames = refs.branches.map((b) => b.name);
  return (
    <AutomationLayout ctx={ctx} view={view} title={`Automation · ${repo.owner_name}/${repo.name}`}>
      <div class="au-head">
        <div>
          <h1 class="au-title">Automation</h1>
          <p class="muted au-sub">
            Workflows from <code>gitoku.toml</code> run on pushes, pull requests or by hand; built-in behaviors react to every event.
          </p>
        </div>
      </div>
      <AutomationNav view={view} active="workflows" />

      <section class="au-section" id="workflows" aria-labelledby="workflows-title">
        <div class="au-toolbar">
          <h2 class="h3 au-section-title" id="workflows-title">
            Workflows
          </h2>
          {refs.branches.length > 0 && (
            <RefSwitcher current={refName} kind={isBranch || !sha ? 'branch' : refName.length === 40 ? 'commit' : 'tag'} refs={refs} href={(r) => automationUrl(view, r === repo.default_branch ? undefined : r)} id="au-ref" />
          )}
          {sha && (
            <span class="muted au-at">
              {manifest ? (
                <>
                  <code>gitoku.toml</code> at{' '}
                </>
              ) : (
                'at '
              )}
              <a class="mono" href={commitUrl(repo, sha)} id="au-sha">
                {sha.slice(0, 7)}
              </a>
            </span>
          )}
          {fileHref && (
            <a class="btn btn-sm au-view-file" href={fileHref}>
              <Icon name="file" /> View file
            </a>
          )}
        </div>
        <ManifestState view={view} refName={refName} sha={sha} manifest={manifest} fileHref={fileHref} write={write} ctx={ctx} branches={branchNames} defaultDispatchBranch={isBranch ? refName : repo.default_branch} />
      </section>

      <section class="au-section" id="runs" aria-labelledby="runs-title">
        <div class="au-toolbar">
          <h2 class="h3 au-section-title" id="runs-title">
            Recent workflow runs
          </h2>
          {runsTotal > 0 && <span class="counter">{runsTotal}</span>}
        </div>
        {runs.length === 0 ? (
          <div class="card">
            <EmptyState icon="play" title="No workflow runs yet">
              <p class="muted">Runs appear here when a push or a pull request matches a workflow, or when one is run by hand.</p>
            </EmptyState>
          </div>
        ) : (
          <WorkflowRunList view={view} runs={runs} now={props.now} />
        )}
        {runsPages > 1 && <PageLinks navClass="run-pager" label="Workflow run pages" page={runsPage} pages={runsPages} href={(n) => pageHref(view, refName, isDefault, n)} />}
      </section>

      <section class="au-section" id="behaviors" aria-labelledby="behaviors-title">
        <div class="au-toolbar">
          <h2 class="h3 au-section-title" id="behaviors-title">
            Behaviors
          </h2>
          <a class="au-toolbar-link" href={eventsUrl(view)}>
            See what they did on the Events page →
          </a>
        </div>
        <ul class="card au-behaviors" id="behavior-list">
          {behaviors.map((b) => (
            <BehaviorItem ctx={ctx} view={view} behavior={b} admin={admin} />
          ))}
        </ul>
        {!admin && <p class="hint au-note">Repository administrators can switch optional behaviors off.</p>}
      </section>

      {admin && <SettingsCard ctx={ctx} view={view} drivers={props.drivers} values={props.settings} error={props.settingsError ?? null} />}
    </AutomationLayout>
  );
};

const ManifestState: FC<{ ctx: PageContext; view: RepoView; refName: string; sha: string | null; manifest: ManifestResult | null; fileHref: string | null; write: boolean; branches: string[]; defaultDispatchBranch: string }> = ({
  ctx,
  view,
  refName,
  sha,
  manifest,
  fileHref,
  write,
  branches,
  defaultDispatchBranch,
}) => {
  if (view.repo.is_empty === 1 || branches.length === 0) {
    return (
      <div class="card">
        <EmptyState icon="play" title="Nothing pushed yet">
          <p class="muted">
            Push a commit with a <code>gitoku.toml</code> to define workflows.
          </p>
        </EmptyState>
      </div>
    );
  }
  if (!sha) {
    return (
      <div class="flash flash-warning" role="status">
        <Icon name="alert" />
        <span>
          There is no branch, tag or commit named <code>{refName}</code>.
        </span>
      </div>
    );
  }
  if (!manifest) {
    return (
      <div class="card au-empty-manifest">
        <EmptyState icon="play" title={`No gitoku.toml on ${refName.length === 40 ? refName.slice(0, 7) : refName}`}>
          <p class="muted">
            Add a <code>gitoku.toml</code> at the root of the repository to run workflows on pushes, pull requests and by hand. For example:
          </p>
        </EmptyState>
        <pre class="au-example">{EXAMPLE_MANIFEST}</pre>
      </div>
    );
  }
  if (!manifest.ok) {
    return (
      <div class="au-problems" role="alert" id="manifest-problems">
        <div class="au-problems-head">
          <Icon name="alert" />
          <div>
            <strong>gitoku.toml is invalid</strong>
            <p class="au-problems-sub">
              No workflow runs from this commit until {manifest.problems.length === 1 ? 'this problem is' : `these ${manifest.problems.length} problems are`} fixed. Pushes are still accepted; the commit carries a failed <code>gitoku.toml</code> status.
            </p>
          </div>
        </div>
        <ul class="au-problem-list">
          {manifest.problems.map((p) => (
            <ProblemLine problem={p} fileHref={fileHref} />
          ))}
        </ul>
      </div>
    );
  }
  if (manifest.workflows.length === 0) {
    return (
      <div class="card">
        <EmptyState icon="play" title="No workflows defined">
          <p class="muted">
            This <code>gitoku.toml</code> has no <code>[workflow.&lt;key&gt;]</code> sections.
          </p>
        </EmptyState>
      </div>
    );
  }
  return (
    <div class="au-workflows" id="workflow-list">
      {manifest.workflows.map((w) => (
        <WorkflowCard ctx={ctx} view={view} workflow={w} write={write} branches={branches} defaultBranch={defaultDispatchBranch} open={manifest.workflows.length <= 3} />
      ))}
    </div>
  );
};

const Globs: FC<{ list: string[]; all: string }> = ({ list, all }) => (list.length ? <>{list.map((g) => <code class="au-glob">{g}</code>)}</> : <span class="muted">{all}</span>);

const WorkflowCard: FC<{ ctx: PageContext; view: RepoView; workflow: GitokuWorkflow; write: boolean; branches: string[]; defaultBranch: string; open: boolean }> = ({ ctx, view, workflow: w, write, branches, defaultBranch, open }) => {
  const manual = w.events.includes('manual');
  return (
    <article class="card au-workflow" data-workflow={w.key}>
      <div class="card-head au-workflow-head">
        <Icon name="play" class="au-workflow-icon" />
        <h3 class="au-workflow-name">{w.name}</h3>
        <code class="au-key" title="Workflow key">
          {w.key}
        </code>
        <span class="au-events">
          {w.events.map((e) => (
            <EventChip event={e} />
          ))}
        </span>
      </div>
      <div class="au-workflow-body">
        {w.description && <p class="au-workflow-desc">{w.description}</p>}
        <dl class="au-facts">
          <div>
            <dt>Branches</dt>
            <dd>
              <Globs list={w.branches} all="all branches" />
            </dd>
          </div>
          <div>
            <dt>Paths</dt>
            <dd>
              <Globs list={w.paths} all="any file" />
            </dd>
          </div>
        </dl>
        <details class="au-steps-wrap" open={open ? true : undefined}>
          <summary class="au-steps-summary">
            {w.steps.length} {w.steps.length === 1 ? 'step' : 'steps'}
            <span class="au-steps-names">{w.steps.map((st) => st.name).join(' → ')}</span>
          </summary>
          <ol class="au-steps">
            {w.steps.map((s, i) => (
              <li class="au-step">
                <div class="au-step-head">
                  <span class="au-step-n" aria-hidden="true">
                    {i + 1}
                  </span>
                  <strong class="au-step-name">{s.name}</strong>
                  {s.timeout !== 600 && <span class="muted au-step-meta">timeout {formatDuration(s.timeout * 1000)}</span>}
                  {Object.keys(s.env).length > 0 && <span class="muted au-step-meta">env {Object.keys(s.env).join(', ')}</span>}
                </div>
                <pre class="au-step-run">{s.run}</pre>
              </li>
            ))}
          </ol>
        </details>
      </div>
      {manual && write && (
        <PostForm ctx={ctx} action={`${repoUrl(view.repo)}/automation/dispatch`} class="au-dispatch">
          <input type="hidden" name="workflow" value={w.key} />
          <label class="au-dispatch-label" for={`dispatch-${w.key}`}>
            Run <strong>{w.name}</strong> on
          </label>
          <select class="input select select-sm au-dispatch-branch" name="ref" id={`dispatch-${w.key}`}>
            {branches.map((b) => (
              <option value={b} selected={b === defaultBranch}>
                {b}
              </option>
            ))}
          </select>
          <button type="submit" class="btn btn-sm btn-primary au-dispatch-button">
            <Icon name="play" /> Run workflow
          </button>
        </PostForm>
      )}
    </article>
  );
};

export const WorkflowRunList: FC<{ view: RepoView; runs: WorkflowRun[]; now: number }> = ({ view, runs, now }) => (
  <ul class="card run-list" id="workflow-runs">
    {runs.map((r) => (
      <li class="run-row au-run" data-run-number={r.number}>
        <div class="run-row-status">
          <WorkflowStatusBadge run={r} />
        </div>
        <div class="run-row-main">
          <div class="run-row-title">
            <a class="run-title-link au-run-link" href={workflowRunUrl(view.repo, r.number)}>
              {r.name}
            </a>
            <span class="run-number">#{r.number}</span>
          </div>
          <div class="run-row-meta">
            <EventChip event={r.event} />
            <span class="run-branch mono" title={r.ref}>
              {branchOf(r.ref)}
            </span>
            <a class="mono au-sha" href={commitUrl(view.repo, r.sha)} title={r.sha}>
              {r.sha.slice(0, 7)}
            </a>
            <Time iso={r.created_at} />
          </div>
        </div>
        <div class="au-run-took">
          <Icon name="clock" /> <WorkflowDuration run={r} now={now} />
        </div>
      </li>
    ))}
  </ul>
);

const BehaviorItem: FC<{ ctx: PageContext; view: RepoView; behavior: BehaviorSetting; admin: boolean }> = ({ ctx, view, behavior: b, admin }) => (
  <li class={`au-behavior ${b.enabled ? 'is-on' : 'is-off'}`} data-behavior={b.key}>
    <div class="au-behavior-main">
      <div class="au-behavior-title">
        <code class="au-behavior-key">{b.key}</code>
        {!b.optional && <span class="badge">always on</span>}
        {b.optional && !b.enabled && <span class="badge badge-danger">off</span>}
      </div>
      <p class="au-behavior-desc">
        <Ticked text={b.description} />
      </p>
      <div class="au-behavior-on">
        <span class="muted">on</span>
        {b.on.map((t) => (
          <code class="au-event-type">{t}</code>
        ))}
      </div>
    </div>
    <div class="au-behavior-toggle">
      {b.optional && admin ? (
        <PostForm ctx={ctx} action={`${repoUrl(view.repo)}/automation/behaviors/${encodeURIComponent(b.key)}`} class="inline-form">
          <input type="hidden" name="enabled" value={b.enabled ? '0' : '1'} />
          <button type="submit" class={`au-switch ${b.enabled ? 'is-on' : 'is-off'}`} role="switch" aria-checked={b.enabled ? 'true' : 'false'} aria-label={`${b.key}: ${b.enabled ? 'on, switch off' : 'off, switch on'}`} title={b.enabled ? 'Switch off for this repository' : 'Switch on for this repository'}>
            <span class="au-switch-track" aria-hidden="true">
              <span class="au-switch-thumb"></span>
            </span>
            <span class="au-switch-text">{b.enabled ? 'On' : 'Off'}</span>
          </button>
        </PostForm>
      ) : (
        <span class={`au-switch is-static ${b.enabled ? 'is-on' : 'is-off'}`} title={b.optional ? 'Repository administrators can switch this off' : 'This behavior cannot be switched off'}>
          <span class="au-switch-track" aria-hidden="true">
            <span class="au-switch-thumb"></span>
          </span>
          <span class="au-switch-text">{b.enabled ? 'On' : 'Off'}</span>
        </span>
      )}
    </div>
  </li>
);

const SettingsCard: FC<{ ctx: PageContext; view: RepoView; drivers: DriverInfo[]; values: AutomationSettingsValues; error: FormError | null }> = ({ ctx, view, drivers, values, error }) => {
  const available = drivers.filter((d) => d.available);
  const current = drivers.find((d) => d.name === values.reviewDriver);
  const options = current && !current.available ? [...available, current] : available;
  // The scripted reviewer is for tests and the demo: offered only where it is already chosen.
  const reviewOptions = options.filter((d) => d.name !== 'script' || values.reviewDriver === 'script');
  const serverReviewer = values.serverReviewer ? (drivers.find((d) => d.name === values.serverReviewer)?.label ?? values.serverReviewer) : null;
  const reviewsOff = !values.aiReviews ? null : !values.reviewDriver && !serverReviewer ? 'Off: no reviewing agent is chosen below, and the server has none (GITOKU_REVIEW_DRIVER).' : null;
  const models = [...new Set(available.flatMap((d) => d.models))];
  return (
    <section class="au-section" id="settings" aria-labelledby="settings-title">
      <div class="au-toolbar">
        <h2 class="h3 au-section-title" id="settings-title">
          Automation settings
        </h2>
      </div>
      <div class="card card-pad">
        <FormAlert error={error} />
        <PostForm ctx={ctx} action={`${repoUrl(view.repo)}/automation/settings`} class="stack" id="automation-settings">
          <fieldset class="field choice-group">
            <legend class="sr-only">Automatic agents</legend>
            <label class="choice">
              <input type="checkbox" name="ai_reviews" value="on" id="setting-ai-reviews" checked={values.aiReviews} />
              <Icon name="review" class="choice-icon" />
              <span>
                <strong>AI reviews</strong>
                <span class="hint">Review every pull request that opens, becomes ready or gets new commits (one review per commit; drafts are skipped) with the agent chosen below.</span>
                {reviewsOff && (
                  <span class="hint" id="setting-ai-reviews-off">
                    {reviewsOff}
                  </span>
                )}
              </span>
            </label>
            <label class="choice">
              <input type="checkbox" name="conflict_resolution" value="on" id="setting-conflict-resolution" checked={values.conflictResolution} />
              <Icon name="merge" class="choice-icon" />
              <span>
                <strong>Conflict resolution</strong>
                <span class="hint">When a pull request starts to conflict with its base, start an agent task that merges the base in and resolves the conflicts.</span>
              </span>
            </label>
          </fieldset>
          <div class="au-form-row">
            <div class="field">
              <label for="setting-review-driver">Agent</label>
              <select class="input select" name="review_driver" id="setting-review-driver" aria-invalid={fieldInvalid(error, 'review_driver') ? 'true' : undefined}>
                <option value="" selected={values.reviewDriver === ''}>
                  {serverReviewer ? `The server's reviewer (${serverReviewer})` : 'None: automatic AI reviews stay off'}
                </option>
                {reviewOptions.map((d) => (
                  <option value={d.name} selected={d.name === values.reviewDriver} disabled={!d.available && d.name !== values.reviewDriver}>
                    {d.label}
                    {d.available ? '' : ' (not available on this server)'}
                  </option>
                ))}
              </select>
              <p class="hint">Runs reviews and conflict resolutions. Only agents this server can run are offered.</p>
            </div>
            <div class="field">
              <label for="setting-review-model">Model</label>
              <input type="text" class="input mono" name="review_model" id="setting-review-model" value={values.reviewModel} maxlength={255} list="setting-models" placeholder="the agent's default" autocomplete="off" aria-invalid={fieldInvalid(error, 'review_model') ? 'true' : undefined} />
              <datalist id="setting-models">
                {models.map((m) => (
                  <option value={m} />
                ))}
              </datalist>
            </div>
          </div>
          <div class="au-form-row">
            <div class="field">
              <label for="setting-run-branch-cleanup">Run branches</label>
              <select class="input select" name="run_branch_cleanup" id="setting-run-branch-cleanup" aria-invalid={fieldInvalid(error, 'run_branch_cleanup') ? 'true' : undefined}>
                <option value="no-commits" selected={values.runBranchCleanup === 'no-commits'}>
                  Delete when its pull request closes, if the run made no commits
                </option>
                <option value="always" selected={values.runBranchCleanup === 'always'}>
                  Delete when its pull request is closed or merged
                </option>
                <option value="never" selected={values.runBranchCleanup === 'never'}>
                  Keep
                </option>
              </select>
              <p class="hint">What happens to a task's gitoku/run-* branch once its pull request is closed or merged. A pull request can restore its branch.</p>
            </div>
          </div>
          <div class="au-form-row">
            <div class="field">
              <label for="setting-default-driver">Default agent for new tasks</label>
              <select class="input select" name="default_driver" id="setting-default-driver" aria-invalid={fieldInvalid(error, 'default_driver') ? 'true' : undefined}>
                <option value="" selected={values.defaultDriver === ''}>
                  The server's default
                </option>
                {options.map((d) => (
                  <option value={d.name} selected={d.name === values.defaultDriver} disabled={!d.available && d.name !== values.defaultDriver}>
                    {d.label}
                    {d.available ? '' : ' (not available on this server)'}
                  </option>
                ))}
              </select>
              <p class="hint">Preselected in the New task form and used by the API and CLI when a run names no agent.</p>
            </div>
            <div class="field">
              <label for="setting-default-model">Default model</label>
              <input type="text" class="input mono" name="default_model" id="setting-default-model" value={values.defaultModel} maxlength={255} list="setting-models" placeholder="the agent's default" autocomplete="off" aria-invalid={fieldInvalid(error, 'default_model') ? 'true' : undefined} />
            </div>
          </div>
          <fieldset class="field choice-group" aria-describedby="setting-network-hint">
            <legend>Agent network</legend>
            <p class="hint" id="setting-network-hint">
              What an agent's sandbox may reach while it works on this repository (tasks and reviews; workflows keep the runner's network).
            </p>
            {NETWORK_CHOICES.map((choice) => (
              <label class="choice">
                <input type="radio" name="agent_network" value={choice.mode} id={`setting-network-${choice.mode}`} checked={values.agentNetwork === choice.mode} />
                <span>
                  <strong>{choice.label}</strong>
                  <span class="hint">{choice.hint}</span>
                </span>
              </label>
            ))}
          </fieldset>
          <div class="field">
            <label for="setting-network-hosts">Allowed hosts</label>
            <input type="text" class="input mono" name="agent_network_hosts" id="setting-network-hosts" value={values.agentNetworkHosts} maxlength={8192} placeholder="registry.npmjs.org, *.pythonhosted.org" autocomplete="off" aria-invalid={fieldInvalid(error, 'agent_network_hosts') ? 'true' : undefined} />
            <p class="hint">Host names or <code>*.</code> suffixes, separated by commas or spaces; used with <strong>Allow-list</strong>.</p>
          </div>
          <div class="field">
            <label for="setting-review-instructions">Review instructions</label>
            <textarea class="input au-instructions" name="review_instructions" id="setting-review-instructions" rows={5} maxlength={65536} placeholder="e.g. Focus on security and error handling. Ignore formatting." aria-invalid={fieldInvalid(error, 'review_instructions') ? 'true' : undefined}>
              {values.reviewInstructions}
            </textarea>
            <p class="hint">Added to every AI review prompt of this repository.</p>
          </div>
          <div class="form-actions">
            <button type="submit" class="btn btn-primary" id="automation-settings-save">
              Save settings
            </button>
          </div>
        </PostForm>
      </div>
    </section>
  );
};
