import type { Context, Hono } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { Identity } from '../../../services/auth.ts';
import type { RepositoryAccess } from '../../../services/repositories.ts';
import { findRepositoryById, updateRepository } from '../../../services/repositories.ts';
import { ServiceError } from '../../../services/errors.ts';
import { eventsWithBehaviors, listRepositoryBehaviors, setRepositoryBehaviorEnabled } from '../../../services/automation.ts';
import { dispatchWorkflow, getWorkflowRun, listWorkflowRunEvents, listWorkflowRuns, loadWorkflowManifestForBranch } from '../../../services/workflows.ts';
import { listDrivers } from '../../../services/drivers.ts';
import { listRepoRefs, openPullsByBranch } from '../../../services/uiBrowse.ts';
import { findUserById } from '../../../services/users.ts';
import { resolveCommit } from '../../../git/tree.ts';
import { canAdministerSite } from '../../../domain/permissions.ts';
import type { FormError } from '../../views/context.ts';
import type { RepoRef } from '../../views/urls.ts';
import { AutomationPage, type AutomationSettingsValues } from '../../views/pages/automation.tsx';
import { WorkflowRunPage, type WorkflowLogEvent } from '../../views/pages/workflowRun.tsx';
import { AdminEventsPage, RepoEventsPage, type EventsQuery } from '../../views/pages/events.tsx';
import { pageContext, readForm, render, requireUser, setFlash } from './render.tsx';
import { repoAccess, repoPath, repoView } from './access.ts';

const RUNS_PER_PAGE = 10;
const EVENTS_PER_PAGE = 25;
/** The run page renders at most this many log events (the live script and the API page through the rest). */
const MAX_LOG_EVENTS = 10_000;
const NUMBER = '{[0-9]{1,9}}';
const EVENT_TYPE = /^[a-z_]{1,40}(\.[a-z_]{1,40}){0,3}$/;

function pageParam(c: Context<WebEnv>, name = 'page'): number {
  const n = Number(c.req.query(name) ?? '1');
  return Number.isInteger(n) && n >= 1 && n <= 100_000 ? n : 1;
}

/** Site administrators only: anonymous visitors are sent to sign in, everyone else gets a 403. */
function requireSiteAdmin(c: Context<WebEnv>): Identity | Response {
  const identity = requireUser(c);
  if (identity instanceof Response) return identity;
  if (!canAdministerSite(identity.viewer)) throw new ServiceError(403, 'Only site administrators can see this page.');
  return identity;
}

const automationPath = (access: RepositoryAccess, ref?: string) => `${repoPath(access)}/automation${ref && ref !== access.repo.default_branch ? `?ref=${encodeURIComponent(ref)}` : ''}`;
const runPagePath = (access: RepositoryAccess, n: number) => `${repoPath(access)}/actions/runs/${n}`;

function settingsOf(access: RepositoryAccess): AutomationSettingsValues {
  const r = access.repo;
  return { aiReviews: r.ai_reviews_enabled === 1, conflictResolution: r.conflict_resolution_enabled === 1, reviewDriver: r.review_driver, reviewModel: r.review_model, reviewInstructions: r.review_instructions, defaultDriver: r.default_driver, defaultModel: r.default_model, agentNetwork: r.agent_network, agentNetworkHosts: r.agent_network_hosts, runBranchCleanup: r.run_branch_cleanup };
}

async function renderAutomation(c: Context<WebEnv>, access: RepositoryAccess, settings?: { values: AutomationSettingsValues; error: FormError }, status: 200 | 422 = 200) {
  const app = c.get('app');
  const refs = await listRepoRefs(access);
  const requested = (c.req.query('ref') ?? '').trim().slice(0, 255) || access.repo.default_branch;
  const known = refs.branches.find((b) => b.name === requested) ?? refs.tags.find((t) => t.name === requested);
  const sha = known ? known.sha : /^[0-9a-f]{40}$/.test(requested) ? await resolveCommit(access.gitDir, requested) : null;
  const runsPage = pageParam(c);
  const [view, manifest, runs, behaviors] = await Promise.all([
    repoView(c, access),
    sha ? loadWorkflowManifestForBranch(access.gitDir, sha) : Promise.resolve(null),
    listWorkflowRuns(app, access.repo.id, { page: runsPage, perPage: RUNS_PER_PAGE }),
    listRepositoryBehaviors(app, access.repo.id),
  ]);
  return render(
    c,
    <AutomationPage
      ctx={pageContext(c)}
      view={view}
      refs={refs}
      refName={requested}
      sha={sha}
      manifest={manifest}
      runs={runs.items}
      runsPage={runsPage}
      runsPages={Math.max(1, Math.ceil(runs.total / RUNS_PER_PAGE))}
      runsTotal={runs.total}
      behaviors={behaviors}
      drivers={listDrivers(c.get('app').config.agents)}
      settings={{ ...(settings?.values ?? settingsOf(access)), serverReviewer: app.config.agents.review?.driver ?? null }}
      settingsError={settings?.error ?? null}
      now={Date.now()}
    />,
    status,
  );
}

function eventsQuery(c: Context<WebEnv>): { type: string; page: number } {
  const type = (c.req.query('type') ?? '').trim();
  return { type: EVENT_TYPE.test(type) ? type : '', page: pageParam(c) };
}

function logEventJson(e: WorkflowLogEvent) {
  let data: unknown;
  try {
    data = JSON.parse(e.data);
  } catch {
    data = { value: e.data };
  }
  return { id: e.id, attempt: e.attempt, kind: e.kind, data };
}

/**
 * The Automation tab (gitoku.toml's workflows or problems, recent workflow runs, manual dispatch,
 * behaviors and their switches, automation settings), workflow run pages with their live log, and
 * the Events pages (per repository and, for site administrators, for the whole instance).
 */
export function registerAutomationRoutes(ui: Hono<WebEnv>): void {
  // Before /:owner/:repo/events, which "/-/admin/events" would otherwise match.
  ui.get('/-/admin/events', async (c) => {
    const identity = requireSiteAdmin(c);
    if (identity instanceof Response) return identity;
    const app = c.get('app');
    const { type, page } = eventsQuery(c);
    const { items, total } = await eventsWithBehaviors(app, null, { page, perPage: EVENTS_PER_PAGE, type: type || undefined });
    const ids = [...new Set(items.map((e) => e.repository_id).filter((id): id is number => id !== null))];
    const found = await Promise.all(ids.map((id) => findRepositoryById(app.db, id)));
    const repos = new Map<number, RepoRef & { is_private: number }>();
    for (const r of found) if (r) repos.set(r.id, { owner_name: r.owner_name, name: r.name, is_private: r.is_private });
    const query: EventsQuery = { type, page, pages: Math.max(1, Math.ceil(total / EVENTS_PER_PAGE)), total };
    return render(c, <AdminEventsPage ctx={pageContext(c)} events={items} repos={repos} query={query} />);
  });

  ui.get('/:owner/:repo/automation', async (c) => renderAutomation(c, await repoAccess(c)));

  ui.get('/:owner/:repo/actions', async (c) => c.redirect(`${repoPath(await repoAccess(c))}/automation#runs`, 302));
  ui.get('/:owner/:repo/actions/runs', async (c) => c.redirect(`${repoPath(await repoAccess(c))}/automation#runs`, 302));

  ui.post('/:owner/:repo/automation/dispatch', async (c) => {
    const access = await repoAccess(c, 'write');
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const form = await readForm(c);
    const key = form.get('workflow').trim();
    const ref = form.get('ref').trim();
    try {
      const run = await dispatchWorkflow(c.get('app'), access, identity.user, key, ref || undefined);
      setFlash(c, 'success', `Workflow run #${run.number} (${run.name}) queued on ${ref || access.repo.default_branch}.`);
      return c.redirect(runPagePath(access, run.number), 303);
    } catch (err) {
      if (!(err instanceof ServiceError) || ![404, 409, 422].includes(err.status)) throw err;
      setFlash(c, 'error', `Could not run workflow "${key}": ${err.message}`);
      return c.redirect(`${automationPath(access, ref)}#workflows`, 303);
    }
  });

  ui.post('/:owner/:repo/automation/behaviors/:key{[a-z0-9_-]{1,64}}', async (c) => {
    const access = await repoAccess(c, 'admin');
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const form = await readForm(c);
    const enabled = form.get('enabled') === '1';
    try {
      const key = await setRepositoryBehaviorEnabled(c.get('app'), access.repo.id, c.req.param('key'), enabled);
      setFlash(c, 'success', `${key} is now ${enabled ? 'on' : 'off'} for this repository.`);
    } catch (err) {
      if (!(err instanceof ServiceError) || err.status !== 422) throw err;
      setFlash(c, 'error', err.message);
    }
    return c.redirect(`${repoPath(access)}/automation#behaviors`, 303);
  });

  ui.post('/:owner/:repo/automation/settings', async (c) => {
    const access = await repoAccess(c, 'admin');
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const form = await readForm(c);
    const values: AutomationSettingsValues = {
      aiReviews: form.get('ai_reviews') === 'on',
      conflictResolution: form.get('conflict_resolution') === 'on',
      reviewDriver: form.get('review_driver').trim(),
      reviewModel: form.get('review_model').trim(),
      reviewInstructions: form.get('review_instructions').replace(/\r\n/g, '\n'),
      defaultDriver: form.get('default_driver').trim(),
      defaultModel: form.get('default_model').trim(),
      agentNetwork: form.get('agent_network').trim() || access.repo.agent_network,
      agentNetworkHosts: form.get('agent_network_hosts').trim(),
      runBranchCleanup: form.get('run_branch_cleanup').trim() || access.repo.run_branch_cleanup,
    };
    try {
      // Only drivers this server can run are offered; keeping the current one is always allowed.
      const driver = listDrivers(c.get('app').config.agents).find((d) => d.name === values.reviewDriver);
      if (values.reviewDriver !== '' && (!driver || (!driver.available && values.reviewDriver !== access.repo.review_driver))) throw new ServiceError(422, driver ? `${driver.label} is not available on this server${driver.reason ? `: ${driver.reason}` : ''}` : `unknown agent "${values.reviewDriver}"`, 'review_driver');
      await updateRepository(c.get('app'), access, {
        aiReviewsEnabled: values.aiReviews,
        conflictResolutionEnabled: values.conflictResolution,
        reviewDriver: values.reviewDriver,
        reviewModel: values.reviewModel,
        reviewInstructions: values.reviewInstructions,
        defaultDriver: values.defaultDriver,
        defaultModel: values.defaultModel,
        agentNetwork: values.agentNetwork,
        agentNetworkHosts: values.agentNetworkHosts,
        runBranchCleanup: values.runBranchCleanup,
      });
      setFlash(c, 'success', 'Automation settings saved.');
      return c.redirect(`${repoPath(access)}/automation#settings`, 303);
    } catch (err) {
      if (!(err instanceof ServiceError) || err.status !== 422) throw err;
      return renderAutomation(c, access, { values, error: { message: err.message, field: err.field } }, 422);
    }
  });

  ui.get(`/:owner/:repo/actions/runs/:number${NUMBER}`, async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c);
    const run = await getWorkflowRun(app, access.repo.id, Number(c.req.param('number')));
    const events: WorkflowLogEvent[] = [];
    for (let after = 0; events.length < MAX_LOG_EVENTS; ) {
      const batch = await listWorkflowRunEvents(app, run.id, after);
      events.push(...batch);
      if (batch.length < 2000) break;
      after = batch[batch.length - 1]!.id;
    }
    const [view, actor, pulls] = await Promise.all([
      repoView(c, access),
      run.created_by_id ? findUserById(app.db, run.created_by_id) : Promise.resolve(undefined),
      run.event === 'pull_request' ? openPullsByBranch(app, access.repo.id) : Promise.resolve(null),
    ]);
    const pull = pulls?.get(run.ref.replace(/^refs\/heads\//, '')) ?? null;
    return render(c, <WorkflowRunPage ctx={pageContext(c)} view={view} run={run} events={events} actor={actor?.username ?? null} pull={pull} now={Date.now()} />);
  });

  // The live log for the run page's script (session-authenticated; the API's /logs takes tokens).
  ui.get(`/:owner/:repo/actions/runs/:number${NUMBER}/log`, async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c);
    const run = await getWorkflowRun(app, access.repo.id, Number(c.req.param('number')));
    const after = Number(c.req.query('after') ?? 0);
    const events = await listWorkflowRunEvents(app, run.id, Number.isSafeInteger(after) && after > 0 ? after : 0);
    c.header('Cache-Control', 'no-store');
    return c.json({ status: run.status, conclusion: run.conclusion, events: events.map(logEventJson) });
  });

  ui.get('/:owner/:repo/events', async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c);
    const { type, page } = eventsQuery(c);
    const [view, { items, total }] = await Promise.all([repoView(c, access), eventsWithBehaviors(app, access.repo.id, { page, perPage: EVENTS_PER_PAGE, type: type || undefined })]);
    const query: EventsQuery = { type, page, pages: Math.max(1, Math.ceil(total / EVENTS_PER_PAGE)), total };
    return render(c, <RepoEventsPage ctx={pageContext(c)} view={view} events={items} query={query} />);
  });
}
