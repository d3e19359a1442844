import type { AppContext } from '../../services/app.ts';
import type { RepositoryAccess } from '../../services/repositories.ts';
import type { IssueRunRef, TimelineItem } from '../../services/issueTimeline.ts';

/** A pull request of this repository linked to the issue (opened by one of its runs, or mentioning it). */
export interface LinkedPull {
  number: number;
  title: string;
  state: 'open' | 'closed' | 'merged';
  draft: boolean;
}

/**
 * Pull requests of this repository linked to the issue: those its runs opened, the one that closed it
 * and those that mention it — in number order.
 */
export async function loadLinkedPulls(app: AppContext, access: RepositoryAccess, runs: IssueRunRef[], timeline: TimelineItem[]): Promise<LinkedPull[]> {
  const numbers = new Set<number>();
  for (const r of runs) if (r.pull_request) numbers.add(r.pull_request.number);
  for (const item of timeline) {
    if (item.type === 'closed' && item.pull_request && item.pull_request.repository.id === access.repo.id) numbers.add(item.pull_request.number);
    if (item.type === 'cross-referenced' && item.source.kind === 'pull' && item.source.repository.id === access.repo.id) numbers.add(item.source.number);
  }
  if (numbers.size === 0) return [];
  const rows = await app.db
    .selectFrom('pull_requests')
    .select(['number', 'title', 'state', 'draft'])
    .where('repository_id', '=', access.repo.id)
    .where('number', 'in', [...numbers].slice(0, 200))
    .orderBy('number')
    .execute();
  return rows.map((r) => ({ number: r.number, title: r.title, state: r.state, draft: r.draft === 1 }));
}

const ACTIVE = new Set(['queued', 'running', 'blocked']);

export const isActiveRun = (r: Pick<IssueRunRef, 'status'>) => ACTIVE.has(r.status);

/**
 * What the issue page's poller compares: the issue's state, each run's status and pull request, and how
 * many timeline entries there are (so an agent that could not start, or a new reference, shows up too).
 */
export function liveKey(state: string, runs: Pick<IssueRunRef, 'number' | 'status' | 'pull_request'>[], events: number): string {
  return `${state}|${events}|${runs.map((r) => `${r.number}:${r.status}:${r.pull_request?.number ?? ''}`).join(',')}`;
}

/** The number of timeline entries of issue `number` (all of them, whoever may see which). */
export async function issueEventCount(app: AppContext, repositoryId: number, number: number): Promise<number> {
  const row = await app.db.selectFrom('issue_events').select((eb) => eb.fn.countAll<number>().as('n')).where('repository_id', '=', repositoryId).where('number', '=', number).executeTakeFirstOrThrow();
  return Number(row.n);
}
