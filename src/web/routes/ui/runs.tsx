import type { Context, Hono } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { RepositoryAccess } from '../../../services/repositories.ts';
import { ServiceError } from '../../../services/errors.ts';
import { cancelRun, getRun, listRuns, startRun, type RunRequest } from '../../../services/runs.ts';
import { forkRunFromStep, runLineage } from '../../../services/forks.ts';
import { compareRunGroup, createRunGroup, getRunGroup, groupRuns, keepRunGroupAttempt } from '../../../services/runGroups.ts';
import { listCheckpointsWithState } from '../../../services/checkpoints.ts';
import { memoryGivenToRun } from '../../../services/memory.ts';
import { RunGroupPage } from '../../views/pages/runGroup.tsx';
import type { StepForkValues } from '../../views/pages/runTimeline.tsx';
import { streamRunEvents } from '../../runEvents.ts';
import { listDrivers } from '../../../services/drivers.ts';
import { listBranchNames } from '../../../services/uiQueries.ts';
import {
  RUN_STATUSES,
  countRunsByStatus,
  listRecentRunChoices,
  listRunForks,
  listSiblingRuns,
  loadRunLinks,
  loadRunTrace,
  runDiff,
  runResultsDiff,
} from '../../../services/uiRuns.ts';
import type { Run, RunStatus } from '../../../db/schema.ts';
import type { FormError } from '../../views/context.ts';
import { TasksPage, type StatusFilter } from '../../views/pages/runs.tsx';
import { NewRunPage, type AgentChoice, type NewRunValues } from '../../views/pages/runNew.tsx';
import { agentsAtRef } from '../../../services/agents.ts';
import { RunForkPage, RunPage, type ForkValues } from '../../views/pages/run.tsx';
import { RunComparePage, type CompareSide } from '../../views/pages/runCompare.tsx';
import { pageContext, pageNumber, readForm, render, requireUser, safeNext, setFlash } from './render.tsx';
import { askToConfirm, isConfirmed } from './confirm.tsx';
import { repoAccess, repoView } from './access.ts';

const PER_PAGE = 25;
const NUMBER = '{[0-9]{1,9}}';

const runNumber = (c: Context<WebEnv>) => Number(c.req.param('number'));
const tasksPath = (access: RepositoryAccess) => `/${encodeURIComponent(access.repo.owner_name)}/${encodeURIComponent(access.repo.name)}/runs`;
const runPath = (access: RepositoryAccess, n: number) => `${tasksPath(access)}/${n}`;
const groupPath = (access: RepositoryAccess, id: number) => `${tasksPath(access)}/groups/${id}`;

/** A form error from a service (422, 413, 409) re-renders the form; anything else is the error page's. */
function formError(err: unknown): { error: FormError; status: 409 | 413 | 422 } | null {
  if (!(err instanceof ServiceError)) return null;
  if (err.status !== 422 && err.status !== 413 && err.status !== 409) return null;
  return { error: { message: err.message, field: err.field }, status: err.status };
}

function sortedBranches(branches: string[], defaultBranch: string): string[] {
  const agent = (b: string) => b.startsWith('gitoku/');
  return [...branches].sort((x, y) => Number(y === defaultBranch) - Number(x === defaultBranch) || Number(agent(x)) - Number(agent(y)) || x.localeCompare(y));
}

/** The agents the New-task form offers: those defined at the branch the form starts from. */
async function agentChoices(access: RepositoryAccess, branch: string): Promise<AgentChoice[]> {
  const manifest = await agentsAtRef(access, branch).catch(() => null);
  return (manifest?.agents ?? []).map((d) => ({ key: d.agent.key, name: d.agent.name, description: d.agent.description, source: d.agent.source }));
}

async function renderNewRun(c: Context<WebEnv>, access: RepositoryAccess, values: NewRunValues | null, error: FormError | null = null, status: 200 | 409 | 413 | 422 = 200) {
  const [view, branches] = await Promise.all([repoView(c, access), listBranchNames(access)]);
  const drivers = listDrivers(c.get('app').config.agents);
  // Preselect the repository's default agent, else the server's default, else the first available one.
  const preferred = [access.repo.default_driver, drivers.find((d) => d.default)?.name].find((name) => name && drivers.some((d) => d.name === name && d.available));
  const firstDriver = drivers.find((d) => d.name === preferred) ?? drivers.find((d) => d.available);
  const model = firstDriver?.name === access.repo.default_driver ? access.repo.default_model : '';
  const v: NewRunValues = values ?? { title: '', prompt: '', baseBranch: access.repo.default_branch, sourceBranch: access.repo.default_branch, driver: firstDriver?.name ?? '', model };
  const agents = await agentChoices(access, v.sourceBranch || access.repo.default_branch);
  if (!values) v.agent = agents.some((a) => a.key === c.req.query('agent')) ? c.req.query('agent') : '';
  return render(c, <NewRunPage ctx={pageContext(c)} view={view} branches={sortedBranches(branches, access.repo.default_branch)} drivers={drivers} values={v} error={error} agents={agents} />, status);
}

async function renderRunPage(c: Context<WebEnv>, access: RepositoryAccess, run: Run, fork?: { values: ForkValues; error: FormError | null }, status: 200 | 409 | 413 | 422 = 200, stepFork?: { values: StepForkValues; error: FormError | null }) {
  const app = c.get('app');
  const checkpoints = await listCheckpointsWithState(app.db, run.id);
  // What the run was given from memory: known once its prompt was rendered.
  const memory = run.rendered_prompt ? await memoryGivenToRun(app.db, run.id) : null;
  const [view, trace, diff, forks, siblings, lineage] = await Promise.all([repoView(c, access), loadRunTrace(app, run.id), runDiff(access, run), listRunForks(app, run), listSiblingRuns(app, run), runLineage(app, run)]);
  const links = await loadRunLinks(app, [run, ...forks]);
  return render(
    c,
    <RunPage
      ctx={pageContext(c)}
      view={view}
      run={run}
      links={links}
      events={trace.events}
      omittedEvents={trace.omitted}
      diff={diff}
      forks={forks}
      lineage={lineage}
      siblings={siblings}
      drivers={listDrivers(c.get('app').config.agents)}
      now={Date.now()}
      fork={fork}
      checkpoints={checkpoints}
      stepFork={stepFork}
      groupId={run.group_id}
      memory={memory}
    />,
    status,
  );
}


/** The Tasks tab: list, new task form, run pages with live trace, cancel, retry, fork and compare. */
export function registerRunPages(ui: Hono<WebEnv>): void {
  ui.get('/:owner/:repo/runs', async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c);
    const statusParam = c.req.query('status') ?? '';
    const filter: StatusFilter = (RUN_STATUSES as readonly string[]).includes(statusParam) ? (statusParam as RunStatus) : 'all';
    const page = pageNumber(c.req.query('page'), 100_000);
    const [view, counts, list] = await Promise.all([
      repoView(c, access),
      countRunsByStatus(app, access.repo.id),
      listRuns(app, access.repo.id, { page, perPage: PER_PAGE, status: filter === 'all' ? undefined : filter }),
    ]);
    const links = await loadRunLinks(app, list.items);
    const pages = Math.max(1, Math.ceil(list.total / PER_PAGE));
    return render(c, <TasksPage ctx={pageContext(c)} view={view} runs={list.items} links={links} counts={counts} filter={filter} page={page} pages={pages} now={Date.now()} />);
  });

  ui.get('/:owner/:repo/runs/new', async (c) => renderNewRun(c, await repoAccess(c, 'write'), null));

  ui.post('/:owner/:repo/runs', async (c) => {
    const access = await repoAccess(c, 'write');
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const form = await readForm(c);
    const values: NewRunValues = {
      title: form.get('title').trim(),
      prompt: form.get('prompt').replace(/\r\n/g, '\n'),
      baseBranch: form.get('base_branch').trim(),
      sourceBranch: form.get('source_branch').trim(),
      driver: form.get('driver').trim(),
      model: form.get('model').trim(),
      attempts: form.get('attempts').trim() || '1',
      agent: form.get('agent').trim(),
      agentOverride: form.get('agent_override') === '1',
    };
    // With an agent, its driver and model apply unless the form overrides them.
    const useDriverFields = !values.agent || values.agentOverride;
    try {
      const attempts = Number(values.attempts);
      if (!Number.isInteger(attempts) || attempts < 1 || attempts > 8) return renderNewRun(c, access, values, { message: 'Attempts must be a whole number from 1 to 8', field: 'attempts' }, 422);
      const request: RunRequest = {
        prompt: values.prompt,
        title: values.title || undefined,
        baseBranch: values.baseBranch || undefined,
        sourceBranch: values.sourceBranch || undefined,
        driver: (useDriverFields && values.driver) || undefined,
        model: (useDriverFields && values.model) || undefined,
        agentKey: values.agent || undefined,
      };
      if (attempts > 1) {
        const { group } = await createRunGroup(c.get('app'), access, identity.user, request, { attempts });
        setFlash(c, 'success', `${attempts} attempts started: compare them here as they finish.`);
        return c.redirect(groupPath(access, group.id), 303);
      }
      const run = await startRun(c.get('app'), access, identity.user, request);
      setFlash(c, 'success', `Task #${run.number} started.`);
      return c.redirect(runPath(access, run.number), 303);
    } catch (err) {
      const problem = formError(err);
      if (problem) return renderNewRun(c, access, values, problem.error, problem.status);
      throw err;
    }
  });

  ui.get('/:owner/:repo/runs/compare', async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c);
    const wanted = (['a', 'b'] as const).map((k) => {
      const raw = c.req.query(k);
      const n = Number(raw);
      return raw && Number.isInteger(n) && n > 0 && n < 1e9 ? n : null;
    });
    const missing: number[] = [];
    const load = async (n: number | null): Promise<Run | null> => {
      if (n === null) return null;
      try {
        return await getRun(app, access.repo.id, n);
      } catch (err) {
        if (err instanceof ServiceError && err.status === 404) {
          missing.push(n);
          return null;
        }
        throw err;
      }
    };
    const [view, choices, runA, runB] = await Promise.all([repoView(c, access), listRecentRunChoices(app, access.repo.id), load(wanted[0]!), load(wanted[1]!)]);
    let a: CompareSide | null = null;
    let b: CompareSide | null = null;
    let between = null;
    if (runA && runB) {
      [a, b, between] = await Promise.all([
        runDiff(access, runA).then((diff) => ({ run: runA, diff })),
        runDiff(access, runB).then((diff) => ({ run: runB, diff })),
        runResultsDiff(access, runA, runB),
      ]);
    }
    const links = await loadRunLinks(app, [runA, runB].filter((r): r is Run => !!r));
    return render(c, <RunComparePage ctx={pageContext(c)} view={view} choices={choices} a={a} b={b} between={between} links={links} now={Date.now()} missing={missing} />);
  });

  ui.get(`/:owner/:repo/runs/:number${NUMBER}`, async (c) => {
    const access = await repoAccess(c);
    return renderRunPage(c, access, await getRun(c.get('app'), access.repo.id, runNumber(c)));
  });

  ui.get(`/:owner/:repo/runs/:number${NUMBER}/events`, async (c) => {
    const access = await repoAccess(c);
    const run = await getRun(c.get('app'), access.repo.id, runNumber(c));
    const after = Math.max(Number(c.req.query('after') ?? 0) || 0, Number(c.req.header('last-event-id') ?? 0) || 0);
    return streamRunEvents(c, run, Math.max(0, Math.floor(after)));
  });

  ui.post(`/:owner/:repo/runs/:number${NUMBER}/cancel`, async (c) => {
    const access = await repoAccess(c, 'write');
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const form = await readForm(c);
    const number = runNumber(c);
    if (!isConfirmed(form)) {
      const run = await getRun(c.get('app'), access.repo.id, number);
      return askToConfirm(c, {
        title: `Cancel task #${number}?`,
        message: `The agent working on “${run.title}” is stopped; what it has not pushed yet is lost. You can retry the task afterwards.`,
        action: `${runPath(access, number)}/cancel`,
        fields: form.get('return_to') ? [['return_to', form.get('return_to')]] : [],
        confirmLabel: 'Cancel task',
        cancelHref: runPath(access, number),
      });
    }
    try {
      const run = await cancelRun(c.get('app'), access, identity.user, number);
      setFlash(c, 'success', run.status === 'cancelled' ? `Task #${number} cancelled.` : `Cancelling task #${number}…`);
    } catch (err) {
      if (!(err instanceof ServiceError) || err.status !== 409) throw err;
      setFlash(c, 'info', `Task #${number} had already finished.`);
    }
    const back = safeNext(form.get('return_to'));
    return c.redirect(back !== '/' && back.startsWith(tasksPath(access)) ? back : runPath(access, number), 303);
  });

  ui.post(`/:owner/:repo/runs/:number${NUMBER}/retry`, async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c, 'write');
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const source = await getRun(app, access.repo.id, runNumber(c));
    try {
      // The same task again: same prompt, same source commit (so the results compare), same agent.
      const run = await startRun(app, access, identity.user, {
        prompt: source.prompt,
        title: source.title,
        description: source.description,
        baseBranch: source.base_branch,
        sourceBranch: source.source_branch ?? undefined,
        sourceCommit: source.source_commit,
        driver: source.driver,
        model: source.model,
        mode: source.mode,
        agentKey: source.agent_key,
        forkedFromJobId: source.forked_from_job_id,
      });
      setFlash(c, 'success', `Task #${run.number} started (a retry of #${source.number}).`);
      return c.redirect(runPath(access, run.number), 303);
    } catch (err) {
      const problem = formError(err);
      if (!problem) throw err;
      setFlash(c, 'error', `Could not retry task #${source.number}: ${problem.error.message}`);
      return c.redirect(runPath(access, source.number), 303);
    }
  });

  ui.get(`/:owner/:repo/runs/:number${NUMBER}/fork`, async (c) => {
    const access = await repoAccess(c, 'write');
    const run = await getRun(c.get('app'), access.repo.id, runNumber(c));
    return render(c, <RunForkPage ctx={pageContext(c)} view={await repoView(c, access)} run={run} drivers={listDrivers(c.get('app').config.agents)} />);
  });

  ui.post(`/:owner/:repo/runs/:number${NUMBER}/fork`, async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c, 'write');
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const source = await getRun(app, access.repo.id, runNumber(c));
    const form = await readForm(c);
    const values: ForkValues = {
      prompt: form.get('prompt').replace(/\r\n/g, '\n'),
      title: form.get('title').trim(),
      driver: form.get('driver').trim() || source.driver,
      model: form.get('model').trim(),
    };
    // "Fork from here" on a timeline step sends its step; the "Fork this task" form forks the last one.
    const stepField = form.get('step').trim();
    const step = stepField === '' ? undefined : /^\d{1,9}$/.test(stepField) ? Number(stepField) : -1;
    try {
      const run = await forkRunFromStep(app, access, identity.user, source, {
        step,
        prompt: values.prompt,
        title: values.title || undefined,
        driver: values.driver,
        // Keep the parent's model unless another one was picked (or the driver changed).
        model: values.model || (values.driver === source.driver ? source.model : undefined),
      });
      setFlash(c, 'success', `Task #${run.number} started: a fork of #${source.number}${run.forked_from_step !== null ? ` at step ${run.forked_from_step}` : ''}.`);
      return c.redirect(runPath(access, run.number), 303);
    } catch (err) {
      const problem = formError(err);
      if (!problem) throw err;
      if (stepField !== '') return renderRunPage(c, access, source, undefined, problem.status, { values: { step: stepField, prompt: values.prompt, driver: values.driver, model: values.model }, error: problem.error });
      if (form.get('from') === 'page') return render(c, <RunForkPage ctx={pageContext(c)} view={await repoView(c, access)} run={source} drivers={listDrivers(c.get('app').config.agents)} values={values} error={problem.error} />, problem.status);
      return renderRunPage(c, access, source, { values, error: problem.error }, problem.status);
    }
  });

  // Best-of-N: the attempts of a group side by side, ranked, with "Keep this one".
  ui.get(`/:owner/:repo/runs/groups/:id${NUMBER}`, async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c);
    const group = await getRunGroup(app, access.repo.id, Number(c.req.param('id')));
    const [view, attempts] = await Promise.all([repoView(c, access), compareRunGroup(app, access, group)]);
    const links = await loadRunLinks(app, attempts.map((a) => a.run));
    return render(c, <RunGroupPage ctx={pageContext(c)} view={view} group={group} attempts={attempts} links={links} />);
  });

  ui.post(`/:owner/:repo/runs/groups/:id${NUMBER}/keep`, async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c, 'write');
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const group = await getRunGroup(app, access.repo.id, Number(c.req.param('id')));
    const form = await readForm(c);
    const number = Number(form.get('run'));
    try {
      await keepRunGroupAttempt(app, access, identity.user, group, number);
      const others = (await groupRuns(app, group.id)).filter((r) => r.number !== number).map((r) => `#${r.number}`);
      setFlash(c, 'success', `Kept task #${number}: its pull request is ready for review${others.length ? `; ${others.join(', ')} were closed (their branches stay)` : ''}.`);
    } catch (err) {
      const problem = formError(err);
      if (!problem) throw err;
      setFlash(c, 'error', problem.error.message);
    }
    return c.redirect(groupPath(access, group.id), 303);
  });
}
