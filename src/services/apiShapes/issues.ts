import type { AppContext } from '../app.ts';
import type { RepositoryAccess } from '../repositories.ts';
import type { Label } from '../../db/schema.ts';
import type { Assignee, IssueItem } from '../issues.ts';
import { agentOfLabel } from '../issueLabels.ts';
import { avatarPath } from '../../domain/avatarUrls.ts';
import { iso } from './common.ts';
import { simpleUserJson } from './users.ts';

export function repoApi(app: AppContext, access: RepositoryAccess): string {
  return `${app.config.baseUrl}/api/v1/repos/${access.repo.owner_name}/${access.repo.name}`;
}

export function labelJson(app: AppContext, access: RepositoryAccess, l: Label) {
  return { id: l.id, node_id: `L_${l.id}`, url: `${repoApi(app, access)}/labels/${encodeURIComponent(l.name)}`, name: l.name, color: l.color, default: false, description: l.description || null, agent: agentOfLabel(l) };
}

export function agentUserJson(app: AppContext, access: RepositoryAccess, key: string) {
  const base = app.config.baseUrl;
  return { login: key, id: 0, type: 'Bot' as const, site_admin: false, avatar_url: `${base}${avatarPath(key)}`, html_url: `${base}/${access.repo.owner_name}/${access.repo.name}/runs`, url: `${repoApi(app, access)}/assignable-agents` };
}

export function assigneeJson(app: AppContext, access: RepositoryAccess, a: Assignee) {
  return a.kind === 'user' ? simpleUserJson(app, a.user) : agentUserJson(app, access, a.key);
}

export function issueJson(app: AppContext, access: RepositoryAccess, item: IssueItem) {
  const api = repoApi(app, access);
  const html = `${app.config.baseUrl}/${access.repo.owner_name}/${access.repo.name}`;
  const assignees = item.assignees.map((a) => assigneeJson(app, access, a));
  return {
    id: item.id,
    node_id: `${item.kind === 'pull' ? 'PR' : 'I'}_${item.id}`,
    number: item.number,
    title: item.title,
    body: item.body || null,
    state: item.state,
    state_reason: item.state_reason,
    locked: false,
    user: item.author ? simpleUserJson(app, item.author) : null,
    labels: item.labels.map((l) => labelJson(app, access, l)),
    assignee: assignees[0] ?? null,
    assignees,
    milestone: null,
    comments: item.comments,
    created_at: iso(item.created_at),
    updated_at: iso(item.updated_at),
    closed_at: iso(item.closed_at),
    closed_by: item.closed_by ? simpleUserJson(app, item.closed_by) : null,
    author_association: 'NONE',
    url: `${api}/issues/${item.number}`,
    html_url: item.kind === 'pull' ? `${html}/pull/${item.number}` : `${html}/issues/${item.number}`,
    repository_url: api,
    labels_url: `${api}/issues/${item.number}/labels{/name}`,
    comments_url: `${api}/issues/${item.number}/comments`,
    events_url: `${api}/issues/${item.number}/events`,
    timeline_url: `${api}/issues/${item.number}/timeline`,
    ...(item.pull_request
      ? { draft: item.pull_request.draft, pull_request: { url: `${api}/pulls/${item.number}`, html_url: `${html}/pull/${item.number}`, diff_url: `${html}/pull/${item.number}.diff`, patch_url: `${html}/pull/${item.number}.patch`, merged_at: iso(item.pull_request.merged_at) } }
      : {}),
  };
}
