import type { Behavior } from '../registry.ts';
import { refreshPullRequest } from '../../services/pulls.ts';
import { startRun } from '../../services/runs.ts';
import { findUserById } from '../../services/users.ts';
import { createConflictedMergeCommit } from '../../git/mergeCommits.ts';
import { pullRequestById, systemAccess } from './context.ts';

export const CONFLICT_MODE = 'conflict-resolution';

/** Keeps the pull request's side of every conflict: the offline scripted resolver. */
const SCRIPTED_RESOLUTION = [
  '```gitoku-script',
  'think The merge left conflict markers; the scripted resolver keeps the pull request side of each conflict.',
  `run for f in $(git grep -l -e '^<<<<<<< ' || true); do awk '/^<<<<<<< /{side=1; next} /^=======$/{ if (side==1) { side=2; next } } /^>>>>>>> /{ if (side==2) { side=0; next } } { if (side!=2) print }' "$f" > "$f.resolved" && mv "$f.resolved" "$f"; done`,
  'say Resolved the conflicts by keeping the pull request side.',
  '```',
].join('\n');

/**
 * When a pull request's branches move: recompute mergeability; if it now conflicts and the repository
 * enabled conflict resolution, start an agent run from a merge of the base into the compare branch
 * (conflict markers included), whose draft pull request targets the compare branch.
 */
export const pullRequestConflicts: Behavior = {
  key: 'pull-request-conflicts',
  description: 'Recompute mergeability when either branch moves; start a conflict-resolution run when the pull request conflicts (if enabled)',
  on: ['pull_request.opened', 'pull_request.synchronized', 'pull_request.base_moved'],
  optional: true,
  when: (_event, ctx) => !!ctx.repo,
  async run(event, { app, repo }) {
    const found = await pullRequestById(app, event.payload.pull_request_id);
    if (!found || found.state !== 'open') return { outcome: 'pull request is not open' };
    const access = systemAccess(app, repo!);
    const pr = await refreshPullRequest(app, access, found);
    if (pr.mergeable !== 0) return { outcome: 'mergeable' };
    if (repo!.conflict_resolution_enabled !== 1) return { outcome: 'conflicts; conflict resolution is disabled for this repository' };
    const existing = await app.db
      .selectFrom('prompt_pull_request_jobs')
      .select('number')
      .where('repository_id', '=', repo!.id)
      .where('mode', '=', CONFLICT_MODE)
      .where('base_branch', '=', pr.compare_branch)
      .where('description', '=', `pr:${pr.id}:${pr.head_sha}:${pr.base_sha}`)
      .executeTakeFirst();
    if (existing) return { outcome: `conflict run #${existing.number} already started`, links: [{ kind: 'run', id: existing.number, label: `run #${existing.number}` }] };
    const author = (pr.author_id ? await findUserById(app.db, pr.author_id) : undefined) ?? (await findUserById(app.db, repo!.owner_id))!;
    const { sha, conflicts } = await createConflictedMergeCommit(access.gitDir, pr.head_sha, pr.base_sha, `Merge ${pr.base_branch} into ${pr.compare_branch} (conflicts to resolve)\n`, { name: 'gitoku', email: 'gitoku@gitoku.invalid' });
    // No file conflicts (unrelated histories, or nothing an agent could edit away): no run to start.
    if (conflicts.length === 0) return { outcome: 'not mergeable, but no conflicted files to resolve' };
    const driver = repo!.review_driver || 'script';
    const prompt = [
      `Pull request #${pr.number} (${pr.compare_branch} → ${pr.base_branch}) conflicts with ${pr.base_branch}.`,
      `The checkout is a merge of ${pr.base_branch} into ${pr.compare_branch} that left conflict markers in: ${conflicts.join(', ')}.`,
      'Resolve every conflict so that both sides\' intent is kept, remove all conflict markers, and make sure the code still builds.',
      driver === 'script' ? SCRIPTED_RESOLUTION : '',
    ].join('\n\n');
    const run = await startRun(app, access, author, {
      prompt,
      title: `Resolve conflicts of #${pr.number} with ${pr.base_branch}`,
      description: `pr:${pr.id}:${pr.head_sha}:${pr.base_sha}`,
      baseBranch: pr.compare_branch,
      sourceBranch: pr.compare_branch,
      sourceCommit: sha,
      driver,
      model: driver === 'script' ? undefined : repo!.review_model || undefined,
      mode: CONFLICT_MODE,
    });
    return { outcome: `conflicts in ${conflicts.join(', ')}; started run #${run.number}`, links: [{ kind: 'run', id: run.number, label: `run #${run.number}` }] };
  },
};
