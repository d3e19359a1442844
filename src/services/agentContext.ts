import type { Run } from '../db/schema.ts';
import type { RepositoryWithOwner } from './repositories.ts';

/**
 * The only places that assemble what an agent sees (DESIGN §4.4). Memory and per-repository agent
 * instructions will be added here as new sections; the rendered text is stored on the run.
 */
export function renderAgentPrompt(run: Run, repo: RepositoryWithOwner): string {
  const sections = [
    `You are working in a checkout of the repository ${repo.owner_name}/${repo.name} on branch ${run.compare_branch} (started from ${run.source_branch ?? run.source_commit.slice(0, 12)}).`,
    'Make the change the task asks for. Your uncommitted changes will be committed and pushed to the branch when you finish, and a draft pull request into ' +
      `${run.base_branch} shows them for review.`,
    `## Task: ${run.title}`,
    run.prompt,
  ];
  return sections.join('\n\n');
}

/** Environment variables for the agent process: only what the driver needs, never the server's secrets. */
export function agentEnvironment(run: Run, repo: RepositoryWithOwner): Record<string, string> {
  return {
    GITOKU_RUN: `${repo.owner_name}/${repo.name}#${run.number}`,
    GITOKU_RUN_BRANCH: run.compare_branch,
    GITOKU_BASE_BRANCH: run.base_branch,
    GITOKU_MODEL: run.model,
  };
}
