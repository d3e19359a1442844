import { z } from 'zod';
import type { ApiRegistry } from './registry.ts';
import { repoFromPath } from './repos.ts';
import { agentsOverview, type AgentRecord } from '../../../services/agentStats.ts';
import { formatProblem } from '../../../domain/manifest.ts';

const iso = (s: string | null) => (s ? s.replace(/\.\d{3}Z$/, 'Z') : null);

function recordJson(r: AgentRecord | undefined) {
  return {
    runs: r?.runs ?? 0,
    succeeded: r?.succeeded ?? 0,
    failed: r?.failed ?? 0,
    pull_requests_merged: r?.merged ?? 0,
    pull_requests_closed: r?.closed ?? 0,
    success_rate: r?.successRate ?? null,
    average_seconds: r?.averageMs != null ? Math.round(r.averageMs / 100) / 10 : null,
    average_tokens: r?.averageTokens ?? null,
  };
}

export function registerAgentRoutes(api: ApiRegistry): void {
  api.add(
    {
      method: 'get',
      path: '/repos/{owner}/{repo}/agents',
      summary: "The repository's agents at the default branch (or ?ref=): gitoku.toml [agent.*], .github/agents, .claude/agents, AGENTS.md; with problems and each agent's record",
      tag: 'agents',
      access: 'public',
      query: z.object({ ref: z.string().max(255).optional() }),
      responses: { 200: { description: 'Agents' } },
    },
    async (c, { query }) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const ref = query.ref || access.repo.default_branch;
      const o = await agentsOverview(app, access, ref);
      const m = o.manifest;
      return c.json({
        ref,
        sha: o.sha,
        repository_instructions: m?.repositoryInstructions ? { path: m.repositoryInstructions.path, blob_sha: m.repositoryInstructions.blobSha } : null,
        agents: (m?.agents ?? []).map((d) => ({
          key: d.agent.key,
          name: d.agent.name,
          description: d.agent.description,
          source: d.agent.source,
          format: d.agent.format,
          blob_sha: d.blobSha,
          driver: d.agent.driver,
          model: d.agent.model,
          mode: d.agent.mode,
          events: d.agent.events,
          branches: d.agent.branches,
          paths: d.agent.paths,
          tools: d.agent.tools,
          timeout: d.agent.timeout,
          instructions_path: d.instructionsPath,
          instructions_blob_sha: d.instructionsBlobSha,
          instructions: d.instructions,
          record: recordJson(o.records.get(d.agent.key)),
        })),
        problems: (m?.broken ?? []).map((b) => ({ key: b.key, source: b.source, problems: b.problems, messages: b.problems.map(formatProblem) })),
        shadowed: m?.shadowed ?? [],
      });
    },
  );

  api.add(
    { method: 'get', path: '/repos/{owner}/{repo}/agents/{key}/runs', summary: "An agent's runs, newest first, with the definition version each used and its pull request", tag: 'agents', access: 'public', responses: { 200: { description: 'Runs' } } },
    async (c) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const key = c.req.param('key') ?? '';
      const o = await agentsOverview(app, access, access.repo.default_branch);
      const base = `${app.config.baseUrl}/${access.repo.owner_name}/${access.repo.name}`;
      return c.json({
        key,
        record: recordJson(o.records.get(key)),
        runs: o.runs
          .filter((r) => r.run.agent_key === key)
          .map((r) => ({ number: r.run.number, status: r.run.status, title: r.run.title, driver: r.run.driver, model: r.run.model, instructions_blob_sha: r.instructionsBlob, definition_commit_sha: r.definitionCommit, pull_request: r.pullRequest, created_at: iso(r.run.created_at), finished_at: iso(r.run.finished_at), html_url: `${base}/runs/${r.run.number}` })),
      });
    },
  );
}
