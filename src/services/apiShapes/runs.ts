import type { AppContext } from '../app.ts';
import type { RepositoryAccess } from '../repositories.ts';
import type { Run } from '../../db/schema.ts';
import { getRunById } from '../runs.ts';
import { parseAgentRunContext } from '../agents.ts';
import { iso } from './common.ts';

/** The agent definition the run used (without the instruction texts, which are in rendered_prompt). */
function agentJson(run: Run) {
  const ctx = parseAgentRunContext(run.agent_definition);
  const a = ctx?.agent;
  return {
    key: run.agent_key,
    definition: a ? { name: a.name, source: a.source, format: a.format, blob_sha: a.blob_sha, commit_sha: a.file_commit_sha, instructions_path: a.instructions_path, instructions_blob_sha: a.instructions_blob_sha, instructions_commit_sha: a.instructions_commit_sha, driver_note: a.driver_note } : null,
    repository_instructions: ctx?.repository_instructions ? { path: ctx.repository_instructions.path, blob_sha: ctx.repository_instructions.blob_sha } : null,
    resolved_at: ctx?.commit_sha ?? null,
  };
}

export async function runJson(app: AppContext, access: RepositoryAccess, run: Run) {
  const repo = access.repo;
  const api = `${app.config.baseUrl}/api/v1/repos/${repo.owner_name}/${repo.name}`;
  const pr = run.pull_request_id ? await app.db.selectFrom('pull_requests').select(['number', 'state', 'draft']).where('id', '=', run.pull_request_id).executeTakeFirst() : undefined;
  const forkedFrom = run.forked_from_job_id ? await getRunById(app.db, run.forked_from_job_id) : undefined;
  return {
    id: run.id,
    number: run.number,
    status: run.status,
    title: run.title,
    prompt: run.prompt,
    description: run.description,
    mode: run.mode,
    agent_key: run.agent_key,
    driver: run.driver,
    model: run.model,
    /** The model that answered (the alias in `model` resolved), when the agent reported it. */
    resolved_model: run.resolved_model ?? null,
    base_branch: run.base_branch,
    source_branch: run.source_branch,
    source_commit: run.source_commit,
    compare_branch: run.compare_branch,
    commit_sha: run.commit_sha,
    error: run.error,
    result_summary: run.result_summary,
    usage: JSON.parse(run.usage) as Record<string, unknown>,
    session_id: run.session_id,
    rendered_prompt: run.rendered_prompt,
    agent: agentJson(run),
    forked_from: forkedFrom ? { id: forkedFrom.id, number: forkedFrom.number, step: run.forked_from_step } : null,
    forked_from_step: run.forked_from_step,
    workspace_start: run.workspace_start,
    group_id: run.group_id,
    group_url: run.group_id !== null ? `${api}/run-groups/${run.group_id}` : null,
    depends_on: (
      await app.db.selectFrom('run_dependencies').innerJoin('prompt_pull_request_jobs', 'prompt_pull_request_jobs.id', 'run_dependencies.depends_on_run_id').select(['prompt_pull_request_jobs.number', 'prompt_pull_request_jobs.status']).where('run_dependencies.run_id', '=', run.id).execute()
    ).map((d) => ({ number: d.number, status: d.status })),
    pull_request: pr ? { number: pr.number, state: pr.state, draft: pr.draft === 1, html_url: `${app.config.baseUrl}/${repo.owner_name}/${repo.name}/pull/${pr.number}`, url: `${api}/pulls/${pr.number}` } : null,
    created_at: iso(run.created_at),
    started_at: iso(run.started_at),
    finished_at: iso(run.finished_at),
    url: `${api}/runs/${run.number}`,
    html_url: `${app.config.baseUrl}/${repo.owner_name}/${repo.name}/runs/${run.number}`,
  };
}
