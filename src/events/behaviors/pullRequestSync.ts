import type { Behavior } from '../registry.ts';
import { refreshPullRequest } from '../../services/pulls.ts';
import { reopenRunPullRequests } from '../../services/runPullRequests.ts';
import { ZERO_SHA } from '../../domain/refs.ts';
import { branchOfRef, systemAccess } from './context.ts';

/**
 * A branch moved: open pull requests whose compare or base branch it is are brought up to date (emitting
 * .synchronized / .base_moved), and a run's pull request closed because the run left no commits reopens
 * when the branch now holds commits (a retry or a later run pushed there).
 */
export const pullRequestSync: Behavior = {
  key: 'pull-request-sync',
  description: 'When a branch moves, refresh the open pull requests it heads or bases (head, mergeability) and emit pull_request.synchronized / .base_moved; reopen a run pull request closed for lack of commits once its branch has some',
  on: ['ref.updated'],
  optional: false,
  when: (event, ctx) => !!ctx.repo && branchOfRef(event.payload.ref) !== null,
  async run(event, { app, repo }) {
    const branch = branchOfRef(event.payload.ref)!;
    const prs = await app.db
      .selectFrom('pull_requests')
      .selectAll()
      .where('repository_id', '=', repo!.id)
      .where('state', '=', 'open')
      .where((eb) => eb.or([eb('compare_branch', '=', branch), eb('base_branch', '=', branch)]))
      .execute();
    const access = systemAccess(app, repo!);
    for (const pr of prs) await refreshPullRequest(app, access, pr);
    const after = String(event.payload.after);
    const reopened = after !== ZERO_SHA ? await reopenRunPullRequests(app, access, branch, after) : [];
    const parts = [prs.length ? `refreshed ${prs.map((p) => `#${p.number}`).join(', ')}` : 'no open pull request uses this branch', ...(reopened.length ? [`reopened ${reopened.map((p) => `#${p.number}`).join(', ')}`] : [])];
    return { outcome: parts.join('; '), links: [...prs, ...reopened].map((p) => ({ kind: 'pull_request' as const, id: p.number, label: `#${p.number}` })) };
  },
};
