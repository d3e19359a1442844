import type { Behavior, BehaviorOutcome } from '../registry.ts';
import { triggerWorkflows } from '../../services/workflows.ts';
import type { WorkflowRun } from '../../db/schema.ts';
import { ZERO_SHA } from '../../domain/refs.ts';
import { runGit } from '../../git/exec.ts';
import { EMPTY_TREE } from '../../git/diff.ts';
import { mergeBase } from '../../git/merge.ts';
import { resolveCommit } from '../../git/tree.ts';
import { branchOfRef, pullRequestById, systemAccess } from './context.ts';

function outcomeOf(runs: WorkflowRun[], problems: string[] | null): BehaviorOutcome {
  if (problems) return { outcome: `gitoku.toml has problems: ${problems.join('; ')}` };
  if (runs.length === 0) return { outcome: 'no matching workflow' };
  return { outcome: `queued ${runs.map((r) => `${r.workflow_key} (#${r.number})`).join(', ')}`, links: runs.map((r) => ({ kind: 'workflow_run' as const, id: r.number, label: `${r.workflow_key} #${r.number}` })) };
}

/** On a branch push: the branch's matching `push` workflows from gitoku.toml at the new commit. */
export const branchWorkflows: Behavior = {
  key: 'branch-workflows',
  description: "Run the branch's matching `push` workflows from gitoku.toml",
  on: ['ref.updated'],
  optional: true,
  when: (event, ctx) => !!ctx.repo && branchOfRef(event.payload.ref) !== null && event.payload.after !== ZERO_SHA,
  async run(event, { app, repo }) {
    const before = String(event.payload.before);
    const after = String(event.payload.after);
    const gitDir = systemAccess(app, repo!).gitDir;
    // The push's changed files matter only to `paths` filters: listed only when a workflow has one (a
    // push of thousands of branches would otherwise run a merge-base and a diff per branch).
    const listChangedFiles = async (): Promise<string[] | null> => {
      // A new branch is compared with where it left the default branch (or, for the first push, with nothing).
      let from = before;
      if (before === ZERO_SHA) {
        const defaultSha = await resolveCommit(gitDir, `refs/heads/${repo!.default_branch}`);
        const base = defaultSha && defaultSha !== after ? await mergeBase(gitDir, defaultSha, after) : null;
        from = base ?? EMPTY_TREE;
      }
      const diff = await runGit(['diff', '--name-only', '-z', '--no-renames', '--end-of-options', from, after], { gitDir });
      return diff.code === 0 ? diff.stdout.toString('utf8').split('\0').filter(Boolean) : null;
    };
    const { runs, problems } = await triggerWorkflows(app, repo!, { event: 'push', ref: String(event.payload.ref), sha: after, changedFiles: null, listChangedFiles, actorId: (event.payload.actor_id as number | null) ?? null });
    return outcomeOf(runs, problems);
  },
};

/** On a pull request opening or its compare branch moving: its `pull_request` workflows at the head. */
export const pullRequestWorkflows: Behavior = {
  key: 'pull-request-workflows',
  description: 'Run the matching `pull_request` workflows when a pull request opens or its branch moves',
  on: ['pull_request.opened', 'pull_request.synchronized', 'pull_request.reopened'],
  optional: true,
  when: (_event, ctx) => !!ctx.repo,
  async run(event, { app, repo }) {
    const pr = await pullRequestById(app, event.payload.pull_request_id);
    if (!pr || pr.state !== 'open') return { outcome: 'pull request is not open' };
    const sha = typeof event.payload.after === 'string' ? event.payload.after : pr.head_sha;
    const { runs, problems } = await triggerWorkflows(app, repo!, { event: 'pull_request', ref: `refs/heads/${pr.compare_branch}`, sha, changedFiles: null, pullRequestId: pr.id, baseBranch: pr.base_branch, actorId: (event.payload.actor_id as number | null) ?? null });
    return outcomeOf(runs, problems);
  },
};
