import type { AppContext } from './app.ts';
import { findRepositoryById, roleFor, type RepositoryAccess } from './repositories.ts';
import { allIssueComments, type IssueCommentItem } from './issues.ts';
import { findIssueTarget } from './issueEvents.ts';
import { notFound } from './errors.ts';
import type { Run, User } from '../db/schema.ts';
import { roleAtLeast, type Viewer } from '../domain/permissions.ts';

/**
 * An issue's timeline (GitHub's): its comments and the entries of `issue_events`, oldest first, each
 * resolved for the viewer. An entry whose source lives in another repository (a commit or pull request
 * of another repository that referenced or closed this issue) is shown only to viewers who can read
 * that repository — otherwise it is left out entirely, so no title or name leaks.
 */

export type UserRef = Pick<User, 'id' | 'username' | 'is_admin'>;

export interface RepoRef {
  id: number;
  owner: string;
  name: string;
}

/** A run started for the issue, with its live status. */
export interface IssueRunRef {
  id: number;
  number: number;
  status: Run['status'];
  title: string;
  driver: string;
  model: string;
  agent_key: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** The run's draft pull request. */
  pull_request: { number: number; state: 'open' | 'closed' | 'merged'; title: string } | null;
  created_by: UserRef | null;
}

interface Base {
  /** `comment-<id>` or `event-<id>`. */
  key: string;
  id: number;
  created_at: string;
  actor: UserRef | null;
}

export type TimelineItem = Base &
  (
    | { type: 'commented'; comment: IssueCommentItem }
    | { type: 'labeled' | 'unlabeled'; label: { name: string; color: string } }
    | { type: 'assigned' | 'unassigned'; assignee: string; login: string }
    | { type: 'renamed'; from: string; to: string }
    | { type: 'reopened' }
    /** Closed by a person (no commit or pull request), by a commit, or by a merged pull request. */
    | { type: 'closed'; state_reason: string; commit_id: string | null; pull_request: { number: number; title: string; state: string; repository: RepoRef } | null; repository: RepoRef | null }
    /** A commit that mentions the issue (pushed to any branch). */
    | { type: 'referenced'; commit_id: string; message: string; repository: RepoRef }
    /** An issue or pull request that mentions this one. */
    | { type: 'cross-referenced'; source: { kind: 'issue' | 'pull'; number: number; title: string; state: string; repository: RepoRef } }
    | { type: 'run_started'; run: IssueRunRef; trigger: string }
    | { type: 'run_not_started'; agent: string; reason: string; trigger: string }
  );

/** Every run started for an issue, oldest first, with its status and pull request. */
export async function issueRuns(app: AppContext, issueId: number): Promise<IssueRunRef[]> {
  const rows = await app.db
    .selectFrom('prompt_pull_request_jobs as r')
    .leftJoin('pull_requests as p', 'p.id', 'r.pull_request_id')
    .leftJoin('users as u', 'u.id', 'r.created_by_id')
    .select(['r.id', 'r.number', 'r.status', 'r.title', 'r.driver', 'r.model', 'r.agent_key', 'r.created_at', 'r.started_at', 'r.finished_at', 'p.number as pr_number', 'p.state as pr_state', 'p.title as pr_title', 'u.id as user_id', 'u.username', 'u.is_admin'])
    .where('r.issue_id', '=', issueId)
    .orderBy('r.id')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    number: r.number,
    status: r.status,
    title: r.title,
    driver: r.driver,
    model: r.model,
    agent_key: r.agent_key,
    created_at: r.created_at,
    started_at: r.started_at,
    finished_at: r.finished_at,
    pull_request: r.pr_number !== null && r.pr_state ? { number: r.pr_number, state: r.pr_state, title: r.pr_title ?? '' } : null,
    created_by: r.user_id !== null && r.username ? { id: r.user_id, username: r.username, is_admin: r.is_admin ?? 0 } : null,
  }));
}

/** Whether `viewer` may read repository `id` (cached per call). */
function readability(app: AppContext, viewer: Viewer | null, access: RepositoryAccess) {
  const cache = new Map<number, Promise<RepoRef | null>>();
  cache.set(access.repo.id, Promise.resolve({ id: access.repo.id, owner: access.repo.owner_name, name: access.repo.name }));
  return (id: number): Promise<RepoRef | null> => {
    let hit = cache.get(id);
    if (!hit) {
      hit = (async () => {
        const repo = await findRepositoryById(app.db, id);
        if (!repo) return null;
        return roleAtLeast(await roleFor(app, repo, viewer), 'read') ? { id: repo.id, owner: repo.owner_name, name: repo.name } : null;
      })();
      cache.set(id, hit);
    }
    return hit;
  };
}

/** A pull request's conversation comments in the shape of issue comments (the issue API's view of a pull request). */
async function pullConversation(app: AppContext, access: RepositoryAccess, pullRequestId: number, number: number): Promise<IssueCommentItem[]> {
  const rows = await app.db
    .selectFrom('pull_request_comments')
    .leftJoin('users', 'users.id', 'pull_request_comments.author_id')
    .select(['pull_request_comments.id', 'pull_request_comments.author_id', 'pull_request_comments.body', 'pull_request_comments.created_at', 'pull_request_comments.updated_at', 'users.username', 'users.is_admin'])
    .where('pull_request_comments.pull_request_id', '=', pullRequestId)
    .where('pull_request_comments.path', 'is', null)
    .orderBy('pull_request_comments.id')
    .execute();
  return rows.map((r) => ({ id: r.id, repository_id: access.repo.id, issue_id: 0, number, author_id: r.author_id, body: r.body, created_at: r.created_at, updated_at: r.updated_at, author: r.author_id !== null && r.username ? { id: r.author_id, username: r.username, is_admin: r.is_admin ?? 0 } : null }));
}

/** The timeline of issue (or pull request) `number` as `viewer` may see it. */
export async function issueTimeline(app: AppContext, access: RepositoryAccess, viewer: Viewer | null, number: number): Promise<TimelineItem[]> {
  const target = await findIssueTarget(app.db, access.repo.id, number);
  if (!target) throw notFound('Issue not found');
  const [comments, events, runs] = await Promise.all([
    target.issue_id !== null ? allIssueComments(app.db, target.issue_id) : pullConversation(app, access, target.pull_request_id!, number),
    app.db
      .selectFrom('issue_events')
      .leftJoin('users', 'users.id', 'issue_events.actor_id')
      .selectAll('issue_events')
      .select(['users.username', 'users.is_admin'])
      .where('issue_events.repository_id', '=', access.repo.id)
      .where('issue_events.number', '=', number)
      .orderBy('issue_events.id')
      .execute(),
    target.issue_id !== null ? issueRuns(app, target.issue_id) : Promise.resolve([] as IssueRunRef[]),
  ]);
  const canRead = readability(app, viewer, access);
  const runById = new Map(runs.map((r) => [r.id, r]));
  const items: TimelineItem[] = comments.map((c) => ({ key: `comment-${c.id}`, id: c.id, created_at: c.created_at, actor: c.author, type: 'commented', comment: c }));
  for (const e of events) {
    const base: Base = { key: `event-${e.id}`, id: e.id, created_at: e.created_at, actor: e.actor_id !== null && e.username ? { id: e.actor_id, username: e.username, is_admin: e.is_admin ?? 0 } : null };
    let d: Record<string, unknown> = {};
    try {
      d = JSON.parse(e.data) as Record<string, unknown>;
    } catch {
      d = {};
    }
    const str = (k: string) => (typeof d[k] === 'string' ? (d[k] as string) : '');
    const sourceRepo = typeof d.source_repository_id === 'number' ? d.source_repository_id : access.repo.id;
    switch (e.event) {
      case 'labeled':
      case 'unlabeled': {
        const label = (d.label ?? {}) as { name?: string; color?: string };
        items.push({ ...base, type: e.event, label: { name: String(label.name ?? ''), color: String(label.color ?? 'ededed') } });
        break;
      }
      case 'assigned':
      case 'unassigned':
        items.push({ ...base, type: e.event, assignee: str('assignee'), login: str('login') });
        break;
      case 'renamed':
        items.push({ ...base, type: 'renamed', from: str('from'), to: str('to') });
        break;
      case 'reopened':
        items.push({ ...base, type: 'reopened' });
        break;
      case 'closed': {
        const repo = d.commit_id || d.pull_request ? await canRead(sourceRepo) : null;
        if ((d.commit_id || d.pull_request) && !repo) {
          // Closed from a repository the viewer cannot read: that it was closed shows, never by what.
          items.push({ ...base, actor: null, type: 'closed', state_reason: str('state_reason') || 'completed', commit_id: null, pull_request: null, repository: null });
          break;
        }
        let pull: { number: number; title: string; state: string; repository: RepoRef } | null = null;
        if (typeof d.pull_request === 'number' && repo) {
          const pr = await app.db.selectFrom('pull_requests').select(['number', 'title', 'state']).where('repository_id', '=', repo.id).where('number', '=', d.pull_request).executeTakeFirst();
          pull = pr ? { ...pr, repository: repo } : { number: d.pull_request, title: '', state: 'merged', repository: repo };
        }
        items.push({ ...base, type: 'closed', state_reason: str('state_reason') || 'completed', commit_id: str('commit_id') || null, pull_request: pull, repository: repo });
        break;
      }
      case 'referenced': {
        const repo = await canRead(sourceRepo);
        if (repo) items.push({ ...base, type: 'referenced', commit_id: str('commit_id'), message: str('message'), repository: repo });
        break;
      }
      case 'cross-referenced': {
        const repo = await canRead(sourceRepo);
        if (!repo || typeof d.source_number !== 'number') break;
        const kind = d.source_kind === 'pull' ? 'pull' : 'issue';
        const src =
          kind === 'pull'
            ? await app.db.selectFrom('pull_requests').select(['title', 'state']).where('repository_id', '=', repo.id).where('number', '=', d.source_number).executeTakeFirst()
            : await app.db.selectFrom('issues').select(['title', 'state']).where('repository_id', '=', repo.id).where('number', '=', d.source_number).executeTakeFirst();
        if (src) items.push({ ...base, type: 'cross-referenced', source: { kind, number: d.source_number, title: src.title, state: src.state, repository: repo } });
        break;
      }
      case 'run_started': {
        const run = typeof d.run_id === 'number' ? runById.get(d.run_id) : undefined;
        if (run) items.push({ ...base, type: 'run_started', run, trigger: str('trigger') });
        break;
      }
      case 'run_not_started':
        items.push({ ...base, type: 'run_not_started', agent: str('agent'), reason: str('reason'), trigger: str('trigger') });
        break;
      default:
        break;
    }
  }
  return items.sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.key.startsWith('comment') === b.key.startsWith('comment') ? a.id - b.id : a.key.startsWith('event') ? -1 : 1));
}
