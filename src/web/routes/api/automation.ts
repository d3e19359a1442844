import { z } from 'zod';
import type { Context } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { ApiRegistry } from './registry.ts';
import { paginationQuery, setPaginationLinks } from './registry.ts';
import { repoFromPath } from './repos.ts';
import { requireIdentity } from './guards.ts';
import { now } from '../../../services/app.ts';
import { dispatchWorkflow, getWorkflowRun, listWorkflowRunEvents, listWorkflowRuns, loadWorkflowManifestForBranch } from '../../../services/workflows.ts';
import { eventsWithBehaviors, listRepositoryBehaviors, setRepositoryBehaviorEnabled } from '../../../services/automation.ts';
import { formatProblem } from '../../../domain/manifest.ts';
import { resolveCommit } from '../../../git/tree.ts';
import { workflowRunJson } from '../../../services/apiShapes/workflowRuns.ts';

export { workflowRunJson };

const iso = (s: string | null) => (s ? s.replace(/\.\d{3}Z$/, 'Z') : null);

const eventsQuery = paginationQuery.extend({ type: z.string().optional() });

function runNumber(c: Context<WebEnv>): number {
  const n = Number(c.req.param('number'));
  return Number.isSafeInteger(n) && n > 0 && n <= 2_147_483_647 ? n : -1;
}

export function registerAutomationRoutes(api: ApiRegistry): void {
  api.add({ method: 'get', path: '/repos/{owner}/{repo}/events', summary: 'Recent events of the repository and the behaviors they triggered', tag: 'automation', access: 'public', query: eventsQuery, responses: { 200: { description: 'Events' } } }, async (c, { query }) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const { items, total } = await eventsWithBehaviors(app, access.repo.id, { page: query.page, perPage: query.per_page, type: query.type });
    setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, total);
    return c.json(items);
  });

  api.add({ method: 'get', path: '/admin/events', summary: 'Recent events of the whole instance with their behavior runs (site administrators)', tag: 'admin', access: 'admin', query: eventsQuery, responses: { 200: { description: 'Events' } } }, async (c, { query }) => {
    const app = c.get('app');
    const { items, total } = await eventsWithBehaviors(app, null, { page: query.page, perPage: query.per_page, type: query.type });
    setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, total);
    return c.json(items);
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/behaviors', summary: 'Built-in behaviors and whether they are enabled for the repository', tag: 'automation', access: 'public', responses: { 200: { description: 'Behaviors' } } }, async (c) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    return c.json(await listRepositoryBehaviors(app, access.repo.id));
  });

  api.add(
    { method: 'put', path: '/repos/{owner}/{repo}/behaviors/{key}', summary: 'Switch an optional behavior on or off for the repository', tag: 'automation', access: 'repo', body: z.object({ enabled: z.boolean() }), responses: { 200: { description: 'The behavior' } } },
    async (c, { body }) => {
      const app = c.get('app');
      const access = await repoFromPath(c, 'admin');
      const key = await setRepositoryBehaviorEnabled(app, access.repo.id, c.req.param('key')!, body.enabled);
      return c.json({ key, enabled: body.enabled, updated_at: now() });
    },
  );

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/automation', summary: "gitoku.toml at the default branch (or ?ref=): its workflows or its problems", tag: 'automation', access: 'public', query: z.object({ ref: z.string().optional() }), responses: { 200: { description: 'Manifest state' } } }, async (c, { query }) => {
    const access = await repoFromPath(c);
    const ref = query.ref || access.repo.default_branch;
    const sha = await resolveCommit(access.gitDir, ref);
    if (!sha) return c.json({ ref, sha: null, manifest: null });
    const manifest = await loadWorkflowManifestForBranch(access.gitDir, sha);
    return c.json({ ref, sha, manifest: manifest === null ? null : manifest.ok ? { ok: true, workflows: manifest.workflows } : { ok: false, problems: manifest.problems, messages: manifest.problems.map(formatProblem) } });
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/actions/runs', summary: 'Workflow runs, newest first', tag: 'automation', access: 'public', query: paginationQuery.extend({ head_sha: z.string().optional() }), responses: { 200: { description: '{total_count, workflow_runs}' } } }, async (c, { query }) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const { items, total } = await listWorkflowRuns(app, access.repo.id, { page: query.page, perPage: query.per_page, sha: query.head_sha });
    setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, total);
    return c.json({ total_count: total, workflow_runs: items.map((r) => workflowRunJson(app, access, r)) });
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/actions/runs/{number}', summary: 'A workflow run', tag: 'automation', access: 'public', responses: { 200: { description: 'The run' } } }, async (c) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    return c.json(workflowRunJson(app, access, await getWorkflowRun(app, access.repo.id, runNumber(c))));
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/actions/runs/{number}/logs', summary: "A workflow run's log (steps, output)", tag: 'automation', access: 'public', query: z.object({ after: z.coerce.number().int().min(0).default(0) }), responses: { 200: { description: 'Log events' } } }, async (c, { query }) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const run = await getWorkflowRun(app, access.repo.id, runNumber(c));
    const events = await listWorkflowRunEvents(app, run.id, query.after);
    return c.json({ status: run.status, conclusion: run.conclusion, events: events.map((e) => ({ id: e.id, attempt: e.attempt, kind: e.kind, data: JSON.parse(e.data) as unknown, created_at: iso(e.created_at) })) });
  });

  api.add(
    { method: 'post', path: '/repos/{owner}/{repo}/workflows/{key}/dispatches', summary: 'Run a workflow by hand (its events must include "manual")', tag: 'automation', access: 'repo', body: z.object({ ref: z.string().optional() }), responses: { 204: { description: 'Queued' } } },
    async (c, { body }) => {
      const app = c.get('app');
      const identity = requireIdentity(c);
      const access = await repoFromPath(c, 'write');
      const run = await dispatchWorkflow(app, access, identity.user, c.req.param('key')!, body.ref);
      c.header('Location', workflowRunJson(app, access, run).url);
      return c.body(null, 204);
    },
  );
}
