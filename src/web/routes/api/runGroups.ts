import { z } from 'zod';
import type { Context } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { ApiRegistry } from './registry.ts';
import { errorSchema } from './shapes.ts';
import { repoFromPath } from './repos.ts';
import { requireIdentity } from './guards.ts';
import { runJson } from './runs.ts';
import type { AppContext } from '../../../services/app.ts';
import type { RepositoryAccess } from '../../../services/repositories.ts';
import type { RunGroup } from '../../../db/schema.ts';
import { getRun } from '../../../services/runs.ts';
import { compareRunGroup, getRunGroup, keepRunGroupAttempt } from '../../../services/runGroups.ts';
import { listCheckpointsWithState } from '../../../services/checkpoints.ts';
import { runLineage } from '../../../services/forks.ts';

const iso = (s: string | null) => (s ? s.replace(/\.\d{3}Z$/, 'Z') : null);

/** A run group with its attempts compared and ranked (best first). */
export async function runGroupJson(app: AppContext, access: RepositoryAccess, group: RunGroup) {
  const repo = access.repo;
  const api = `${app.config.baseUrl}/api/v1/repos/${repo.owner_name}/${repo.name}`;
  const ranked = await compareRunGroup(app, access, group);
  const kept = ranked.find((a) => a.run.id === group.kept_run_id);
  return {
    id: group.id,
    prompt: group.prompt,
    created_at: iso(group.created_at),
    kept_run: kept ? kept.run.number : null,
    best_run: ranked[0]?.run.number ?? null,
    ranking_reason: ranked[0] ? `#${ranked[0].run.number} ranks first: ${ranked[0].reason}` : null,
    attempts: await Promise.all(
      ranked.map(async (a) => ({
        rank: a.rank,
        reason: a.reason,
        run: await runJson(app, access, a.run),
        diff: a.diff,
        checks: { state: a.checks.state, statuses: a.checks.contexts },
        review: { verdict: a.review },
        tokens: a.tokens,
        duration_ms: a.durationMs,
      })),
    ),
    url: `${api}/run-groups/${group.id}`,
    html_url: `${app.config.baseUrl}/${repo.owner_name}/${repo.name}/runs/groups/${group.id}`,
  };
}

const keepBody = z.object({ run: z.number().int().positive() });

function idParam(c: Context<WebEnv>, name: string): number {
  const n = Number(c.req.param(name));
  return Number.isSafeInteger(n) && n > 0 && n <= 2_147_483_647 ? n : -1;
}

export function registerRunGroupRoutes(api: ApiRegistry): void {
  api.add(
    { method: 'get', path: '/repos/{owner}/{repo}/runs/{number}/lineage', summary: "A run's family: from its first ancestor through every fork, in tree order, with the step each fork started from", tag: 'runs', access: 'public', responses: { 200: { description: 'The family, tree order' }, 404: { description: 'No such run', schema: errorSchema } } },
    async (c) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const run = await getRun(app, access.repo.id, idParam(c, 'number'));
      const family = await runLineage(app, run);
      const numbers = new Map(family.map((n) => [n.run.id, n.run.number]));
      return c.json(
        family.map((n) => ({
          number: n.run.number,
          depth: n.depth,
          forked_from: n.run.forked_from_job_id !== null ? (numbers.get(n.run.forked_from_job_id) ?? null) : null,
          forked_from_step: n.run.forked_from_step,
          title: n.run.title,
          status: n.run.status,
          driver: n.run.driver,
          model: n.run.model,
          workspace_start: n.run.workspace_start,
          current: n.run.id === run.id,
        })),
      );
    },
  );

  api.add(
    { method: 'get', path: '/repos/{owner}/{repo}/runs/{number}/checkpoints', summary: "A run's checkpoints: per step its commit (on a hidden ref) and whether an online runner holds its snapshot", tag: 'runs', access: 'public', responses: { 200: { description: 'Checkpoints, by step' }, 404: { description: 'No such run', schema: errorSchema } } },
    async (c) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const run = await getRun(app, access.repo.id, idParam(c, 'number'));
      const rows = await listCheckpointsWithState(app.db, run.id);
      return c.json(
        rows.map((r) => ({
          step: r.step,
          attempt: r.attempt,
          trace_event_id: r.trace_event_id,
          commit_sha: r.commit_sha,
          ref: r.ref,
          final: r.final === 1,
          snapshot: r.snapshot_id ? { id: r.snapshot_id, mode: r.snapshot_mode, bytes: r.snapshot_bytes === null ? null : Number(r.snapshot_bytes), runner_id: r.runner_id, available: r.warm } : null,
          created_at: iso(r.created_at),
        })),
      );
    },
  );

  api.add(
    { method: 'get', path: '/repos/{owner}/{repo}/run-groups/{id}', summary: 'A best-of-N run group: its attempts with diff stats, checks, AI review verdict, tokens and time, ranked', tag: 'runs', access: 'public', responses: { 200: { description: 'The group' }, 404: { description: 'No such group', schema: errorSchema } } },
    async (c) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      return c.json(await runGroupJson(app, access, await getRunGroup(app, access.repo.id, idParam(c, 'id'))));
    },
  );

  api.add(
    { method: 'post', path: '/repos/{owner}/{repo}/run-groups/{id}/keep', summary: "Keep one attempt: its pull request becomes ready for review, the others' are closed (branches stay)", tag: 'runs', access: 'repo', body: keepBody, responses: { 200: { description: 'The group' }, 404: { description: 'No such group', schema: errorSchema }, 409: { description: 'The attempt has not succeeded', schema: errorSchema }, 422: { description: 'Not an attempt of this group', schema: errorSchema } } },
    async (c, { body }) => {
      const app = c.get('app');
      const identity = requireIdentity(c);
      const access = await repoFromPath(c, 'write');
      const group = await getRunGroup(app, access.repo.id, idParam(c, 'id'));
      return c.json(await runGroupJson(app, access, await keepRunGroupAttempt(app, access, identity.user, group, body.run)));
    },
  );
}
