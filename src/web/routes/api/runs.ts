import { z } from 'zod';
import type { Context } from 'hono';
import type { WebEnv } from '../../context.ts';
import { runEventJson, streamRunEvents } from '../../runEvents.ts';
import type { ApiRegistry } from './registry.ts';
import { paginationQuery, setPaginationLinks } from './registry.ts';
import { errorSchema } from './shapes.ts';
import { repoFromPath } from './repos.ts';
import { requireIdentity } from './guards.ts';
import { cancelRun, getRun, listRunEvents, listRuns, startRun, type RunRequest } from '../../../services/runs.ts';
import { listDrivers } from '../../../services/drivers.ts';
import { createRegistrationToken, listRunners } from '../../../services/runners.ts';
import { forkRunFromStep } from '../../../services/forks.ts';
import { createRunGroup, MAX_ATTEMPTS } from '../../../services/runGroups.ts';
import { runGroupJson } from './runGroups.ts';
import { runJson } from '../../../services/apiShapes/runs.ts';


const iso = (s: string | null) => (s ? s.replace(/\.\d{3}Z$/, 'Z') : null);

const startBody = z.object({
  prompt: z.string(),
  title: z.string().max(256).optional(),
  description: z.string().max(65536).optional(),
  base_branch: z.string().optional(),
  source_branch: z.string().optional(),
  source_commit: z.string().optional(),
  driver: z.string().optional(),
  model: z.string().optional(),
  timeout_seconds: z.number().int().positive().optional(),
  depends_on: z.array(z.number().int().positive()).max(50).optional(),
  /** Best-of-N: run the task this many ways (1–8), or once per variant; the response is the run group. */
  attempts: z.number().int().min(1, `attempts must be between 1 and ${MAX_ATTEMPTS}`).max(MAX_ATTEMPTS, `attempts must be between 1 and ${MAX_ATTEMPTS}`).optional(),
  variants: z
    .array(z.object({ driver: z.string().optional(), model: z.string().optional(), prompt: z.string().optional() }))
    .min(1, `variants must list 1 to ${MAX_ATTEMPTS} variants`)
    .max(MAX_ATTEMPTS, `variants must list 1 to ${MAX_ATTEMPTS} variants`)
    .optional(),
  /** A repository agent (gitoku.toml `[agent.<key>]`, .github/agents, .claude/agents) resolved at the source. */
  agent: z.string().max(64).optional(),
});
const forkBody = z.object({ step: z.number().int().min(0).optional(), prompt: z.string().optional(), title: z.string().max(256).optional(), driver: z.string().optional(), model: z.string().optional(), timeout_seconds: z.number().int().positive().optional() });
const listQuery = paginationQuery.extend({ status: z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled', 'blocked']).optional() });
const eventsQuery = z.object({ after: z.coerce.number().int().min(0).default(0) });

function runNumber(c: Context<WebEnv>): number {
  const n = Number(c.req.param('number'));
  return Number.isSafeInteger(n) && n > 0 && n <= 2_147_483_647 ? n : -1;
}

export { runJson };

export function registerRunRoutes(api: ApiRegistry): void {
  api.add({ method: 'get', path: '/drivers', summary: 'Agent drivers this server offers (with availability)', tag: 'runs', access: 'public', responses: { 200: { description: 'Drivers' } } }, (c) => c.json(listDrivers(c.get('app').config.agents)));

  api.add(
    {
      method: 'post',
      path: '/repos/{owner}/{repo}/runs',
      summary: 'Start an agent run: a compare branch is cut from the source, a draft PR opens, the agent works in a sandbox',
      tag: 'runs',
      access: 'repo',
      body: startBody,
      responses: { 201: { description: 'The run (queued)' }, 413: { description: 'Prompt too large', schema: errorSchema }, 422: { description: 'Invalid request', schema: errorSchema } },
    },
    async (c, { body }) => {
      const app = c.get('app');
      const identity = requireIdentity(c);
      const access = await repoFromPath(c, 'write');
      const request: RunRequest = {
        prompt: body.prompt,
        title: body.title,
        description: body.description,
        baseBranch: body.base_branch,
        sourceBranch: body.source_branch,
        sourceCommit: body.source_commit,
        driver: body.driver,
        model: body.model,
        timeoutMs: body.timeout_seconds ? body.timeout_seconds * 1000 : undefined,
        dependsOn: body.depends_on,
        agentKey: body.agent,
      };
      if (body.attempts !== undefined || body.variants !== undefined) {
        const { group } = await createRunGroup(app, access, identity.user, request, { attempts: body.attempts, variants: body.variants });
        return c.json(await runGroupJson(app, access, group), 201);
      }
      const run = await startRun(app, access, identity.user, request);
      return c.json(await runJson(app, access, run), 201);
    },
  );

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/runs', summary: 'Agent runs, newest first', tag: 'runs', access: 'public', query: listQuery, responses: { 200: { description: 'Runs' } } }, async (c, { query }) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const { items, total } = await listRuns(app, access.repo.id, { page: query.page, perPage: query.per_page, status: query.status });
    setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, total);
    return c.json(await Promise.all(items.map((r) => runJson(app, access, r))));
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/runs/{number}', summary: 'An agent run', tag: 'runs', access: 'public', responses: { 200: { description: 'The run' } } }, async (c) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    return c.json(await runJson(app, access, await getRun(app, access.repo.id, runNumber(c))));
  });

  api.add(
    { method: 'get', path: '/repos/{owner}/{repo}/runs/{number}/events', summary: 'The run trace: JSON after an id, or Server-Sent Events with Accept: text/event-stream', tag: 'runs', access: 'public', query: eventsQuery, responses: { 200: { description: 'Trace events' } } },
    async (c, { query }) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const run = await getRun(app, access.repo.id, runNumber(c));
      const lastEventId = Number(c.req.header('last-event-id') ?? '') || 0;
      if ((c.req.header('accept') ?? '').includes('text/event-stream')) return streamRunEvents(c, run, Math.max(query.after, lastEventId));
      const events = await listRunEvents(app, run.id, query.after, 1000);
      return c.json({ run: { number: run.number, status: run.status }, events: events.map(runEventJson) });
    },
  );

  api.add({ method: 'post', path: '/repos/{owner}/{repo}/runs/{number}/cancel', summary: 'Cancel a queued or running run', tag: 'runs', access: 'repo', responses: { 200: { description: 'The run' }, 409: { description: 'Already finished', schema: errorSchema } } }, async (c) => {
    const app = c.get('app');
    const identity = requireIdentity(c);
    const access = await repoFromPath(c, 'write');
    return c.json(await runJson(app, access, await cancelRun(app, access, identity.user, runNumber(c))));
  });

  api.add(
    { method: 'post', path: '/repos/{owner}/{repo}/runs/{number}/forks', summary: 'Fork a run from a step (default: its last checkpoint; without checkpoints, its result), optionally with an edited prompt, another driver or model', tag: 'runs', access: 'repo', body: forkBody, responses: { 201: { description: 'The new run' }, 404: { description: 'No such run (or no access)', schema: errorSchema }, 422: { description: 'Unknown step or invalid request', schema: errorSchema } } },
    async (c, { body }) => {
      const app = c.get('app');
      const identity = requireIdentity(c);
      const access = await repoFromPath(c, 'write');
      const source = await getRun(app, access.repo.id, runNumber(c));
      const run = await forkRunFromStep(app, access, identity.user, source, { step: body.step, prompt: body.prompt, title: body.title, driver: body.driver, model: body.model, timeoutMs: body.timeout_seconds ? body.timeout_seconds * 1000 : undefined });
      return c.json(await runJson(app, access, run), 201);
    },
  );

  api.add({ method: 'get', path: '/admin/runners', summary: 'Runners (online, busy, last seen)', tag: 'admin', access: 'admin', responses: { 200: { description: 'Runners' } } }, async (c) => {
    const runners = await listRunners(c.get('app'));
    return c.json(runners.map((r) => ({ id: r.id, name: r.name, labels: JSON.parse(r.labels) as string[], embedded: r.embedded === 1, online: r.online, busy: r.busy_jobs > 0, busy_jobs: r.busy_jobs, last_seen_at: iso(r.last_seen_at), version: r.version })));
  });

  api.add({ method: 'post', path: '/admin/runners/registration-token', summary: 'Create a runner registration token', tag: 'admin', access: 'admin', responses: { 201: { description: '{token}' } } }, async (c) => {
    const identity = requireIdentity(c);
    return c.json({ token: await createRegistrationToken(c.get('app'), identity.user.id) }, 201);
  });
}
