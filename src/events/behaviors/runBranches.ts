import type { Behavior } from '../registry.ts';
import { getRunById } from '../../services/runs.ts';
import { cleanUpRunBranch } from '../../services/runPullRequests.ts';
import { pullRequestById, systemAccess } from './context.ts';

/**
 * A run's pull request was closed or merged, or a run ended whose pull request already was: its
 * `gitoku/run-*` branch is deleted as the repository's `run_branch_cleanup` says (by default only a
 * branch without commits of the run's own). The pull request page can restore it.
 */
export const runBranchCleanup: Behavior = {
  key: 'run-branch-cleanup',
  description: "Delete a finished run's branch when its pull request is closed or merged (repository setting: never, only without commits, always)",
  on: ['pull_request.closed', 'pull_request.merged', 'run.succeeded', 'run.failed', 'run.cancelled'],
  optional: true,
  when: (_event, ctx) => !!ctx.repo,
  async run(event, { app, repo }) {
    const isRunEvent = event.type.startsWith('run.');
    const run = isRunEvent
      ? await getRunById(app.db, Number(event.payload.run_id))
      : await app.db.selectFrom('prompt_pull_request_jobs').selectAll().where('repository_id', '=', repo!.id).where('pull_request_id', '=', Number(event.payload.pull_request_id)).executeTakeFirst();
    if (!run) return { outcome: isRunEvent ? 'the run no longer exists' : 'not the pull request of a run' };
    const pr = await pullRequestById(app, run.pull_request_id);
    if (!pr) return { outcome: 'the run has no pull request' };
    const outcome = await cleanUpRunBranch(app, systemAccess(app, repo!), run, pr);
    return { outcome, links: [{ kind: 'pull_request', id: pr.number, label: `#${pr.number}` }, { kind: 'run', id: run.number, label: `run #${run.number}` }] };
  },
};
