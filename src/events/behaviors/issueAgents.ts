import type { Behavior, BehaviorOutcome } from '../registry.ts';
import { claimAgentTrigger, runClaimed, userById } from '../../services/agentTriggers.ts';
import { findIssueById } from '../../services/issues.ts';
import { activeIssueRun, recordRunNotStarted, restoreFixesLine, startIssueRun, type IssueRunTrigger } from '../../services/issueRuns.ts';
import { canSummonAgents } from '../../services/agentTriggers.ts';
import { reviewBot } from '../../services/reviews.ts';
import { agentOfLabel } from '../../services/issueLabels.ts';
import { parseRunCommand } from '../../domain/issueReferences.ts';

/**
 * Agents started from issues (issue 17): an issue assigned to `agent:<key>`, labelled with an agent's
 * label (`agent:<key>`, or a label whose agent is set), or a `/run <instructions>` comment by a writer.
 * Once per event (agent_triggers); assignment and labels do not start a second run while one of the
 * same agent is still going on the issue; `/run` always starts another. Only writers start agents:
 * a reader's `/run` is ignored.
 */
export const issueAgentRuns: Behavior = {
  key: 'issue-agent-runs',
  description: 'Start an agent on an issue when it is assigned to the agent, labelled with its label, or a writer comments `/run <instructions>`',
  on: ['issue.assigned', 'issue.labeled', 'issue_comment.created'],
  optional: true,
  when: (event, ctx) => !!ctx.repo && typeof event.payload.issue_id === 'number' && (event.type === 'issue_comment.created' || typeof event.payload.agent_key === 'string' || typeof event.payload.label_id === 'number'),
  async run(event, { app, repo }): Promise<BehaviorOutcome> {
    const issue = await findIssueById(app.db, event.payload.issue_id as number);
    if (!issue || issue.repository_id !== repo!.id) return { outcome: 'the issue no longer exists' };
    let agentKey: string | null;
    let trigger: IssueRunTrigger;
    let instructions: string | undefined;
    let actorId: unknown = event.payload.actor_id;
    if (event.type === 'issue_comment.created') {
      const comment = await app.db.selectFrom('issue_comments').selectAll().where('id', '=', Number(event.payload.comment_id)).executeTakeFirst();
      if (!comment) return { outcome: 'the comment no longer exists' };
      const command = parseRunCommand(comment.body);
      if (!command) return { outcome: 'no /run command' };
      const bot = await reviewBot(app);
      if (comment.author_id === null || comment.author_id === bot.id) return { outcome: 'comment by an agent: agents never start agents' };
      actorId = comment.author_id;
      trigger = 'comment';
      instructions = command.instructions;
      // The agent the issue is assigned to (the first), else its agent label, else the repository's default.
      const assigned = await app.db.selectFrom('issue_assignees').select('agent_key').where('repository_id', '=', issue.repository_id).where('number', '=', issue.number).where('agent_key', 'is not', null).orderBy('created_at').executeTakeFirst();
      let key = assigned?.agent_key ?? null;
      if (!key) {
        const labels = await app.db.selectFrom('issue_labels').innerJoin('labels', 'labels.id', 'issue_labels.label_id').select(['labels.name', 'labels.agent_key']).where('issue_labels.repository_id', '=', issue.repository_id).where('issue_labels.number', '=', issue.number).execute();
        key = labels.map(agentOfLabel).find((k): k is string => !!k) ?? null;
      }
      agentKey = key;
    } else if (event.type === 'issue.assigned') {
      agentKey = String(event.payload.agent_key);
      trigger = 'assigned';
    } else {
      const label = await app.db.selectFrom('labels').select(['name', 'agent_key']).where('id', '=', Number(event.payload.label_id)).executeTakeFirst();
      agentKey = label ? agentOfLabel(label) : null;
      if (!agentKey) return { outcome: 'the label starts no agent' };
      trigger = 'labeled';
    }
    const actor = await userById(app, actorId);
    if (!actor) return { outcome: 'no user to run the agent as' };
    if (!(await canSummonAgents(app, repo!, actor))) return { outcome: `${actor.username} may not start agents (no write access): ignored` };
    if (issue.state !== 'open') {
      await recordRunNotStarted(app, issue, actor.id, agentKey ?? 'default', trigger, 'the issue is closed');
      return { outcome: 'the issue is closed' };
    }
    if (trigger !== 'comment') {
      const active = await activeIssueRun(app, issue.id, agentKey);
      if (active) return { outcome: `run #${active.number} of ${agentKey} is still ${active.status} on #${issue.number}` };
    }
    const claim = await claimAgentTrigger(app, repo!.id, agentKey ?? '(default)', `issue.${trigger}`, `event/${event.id}`);
    if (claim === null) return { outcome: 'already started for this event' };
    const result = await runClaimed(app, claim, () => startIssueRun(app, repo!, issue, { agentKey, trigger, instructions, actor }));
    if (!result.run) {
      await recordRunNotStarted(app, issue, actor.id, agentKey ?? 'default', trigger, result.error ?? 'unknown error');
      return { outcome: `${agentKey ?? 'the default agent'} was not started: ${result.error}` };
    }
    return { outcome: `started ${agentKey ?? result.run.driver} (run #${result.run.number}) on #${issue.number}`, links: [{ kind: 'run', id: result.run.number, label: `run #${result.run.number}` }] };
  },
};

/** A run on an issue ended and its pull request's description was rewritten: `Fixes #N` goes back on top. */
export const issueRunPullRequestBody: Behavior = {
  key: 'issue-run-fixes-line',
  description: "Keep `Fixes #N` at the top of the pull request of a run started for an issue once the run's outcome rewrites the description",
  on: ['run.succeeded', 'run.failed', 'run.cancelled'],
  optional: false,
  when: (event, ctx) => !!ctx.repo && typeof event.payload.run_id === 'number',
  async run(event, { app }) {
    return { outcome: await restoreFixesLine(app, event.payload.run_id as number) };
  },
};
