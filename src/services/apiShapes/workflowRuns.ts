import type { AppContext } from '../app.ts';
import type { RepositoryAccess } from '../repositories.ts';
import type { WorkflowRun } from '../../db/schema.ts';
import { iso } from './common.ts';

export function workflowRunJson(app: AppContext, access: RepositoryAccess, r: WorkflowRun) {
  const base = `${app.config.baseUrl}/${access.repo.owner_name}/${access.repo.name}`;
  return {
    id: r.id,
    run_number: r.number,
    name: r.name,
    workflow: r.workflow_key,
    event: r.event,
    head_branch: r.ref.replace(/^refs\/heads\//, ''),
    head_sha: r.sha,
    status: r.status,
    conclusion: r.conclusion,
    pull_request_id: r.pull_request_id,
    error: r.error,
    steps: JSON.parse(r.steps) as unknown,
    created_at: iso(r.created_at),
    run_started_at: iso(r.started_at),
    updated_at: iso(r.finished_at ?? r.started_at ?? r.created_at),
    html_url: `${base}/actions/runs/${r.number}`,
    url: `${app.config.baseUrl}/api/v1/repos/${access.repo.owner_name}/${access.repo.name}/actions/runs/${r.number}`,
  };
}
