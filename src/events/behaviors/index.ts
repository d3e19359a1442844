import { BehaviorRegistry } from '../registry.ts';
import { pullRequestSync } from './pullRequestSync.ts';
import { branchWorkflows, pullRequestWorkflows } from './workflows.ts';
import { pullRequestReview } from './review.ts';
import { pullRequestConflicts } from './conflicts.ts';
import { taskDependencies } from './dependencies.ts';
import { overlappingAiEdits } from './overlap.ts';
import { agentLineage, agentMentions, agentRouting } from './agents.ts';
import { runBranchCleanup } from './runBranches.ts';
import { issueAgentRuns, issueRunPullRequestBody } from './issueAgents.ts';
import { issueClosingPullRequests, issueCommitReferences, issueCrossReferences } from './issueReferences.ts';
import { webhookDeliveries } from './webhooks.ts';
import { memoryBehaviors } from './memory.ts';
import { repositoryMaintenance } from './maintenance.ts';
import { searchIndexAfterPush } from './searchIndex.ts';
import { notificationInbox } from './notifications.ts';

/** The built-in behaviors, registered in one place. New reactions are new entries here. */
export function builtInBehaviors(): BehaviorRegistry {
  const registry = new BehaviorRegistry();
  for (const behavior of [pullRequestSync, branchWorkflows, pullRequestWorkflows, pullRequestReview, pullRequestConflicts, taskDependencies, overlappingAiEdits, runBranchCleanup, agentRouting, agentMentions, agentLineage, issueAgentRuns, issueRunPullRequestBody, issueCommitReferences, issueCrossReferences, issueClosingPullRequests, webhookDeliveries, repositoryMaintenance, searchIndexAfterPush, notificationInbox, ...memoryBehaviors]) {
    registry.register(behavior);
  }
  return registry;
}
