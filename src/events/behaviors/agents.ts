import type { Behavior, BehaviorLink, BehaviorOutcome } from '../registry.ts';
import type { AppContext } from '../../services/app.ts';
import type { RepositoryWithOwner } from '../../services/repositories.ts';
import type { PullRequest, Run, User } from '../../db/schema.ts';
import { agentFileProblems, loadAgentManifestForBranch, parseAgentRunContext } from '../../services/agents.ts';
import { agentMatches, canSummonAgents, claimAgentTrigger, replyInThread, runClaimed, settleAgentTrigger, runOfBranch, runOfPullRequest, startAgentOnBranch, startAgentOnPullRequest, userById, type AgentRouteTrigger } from '../../services/agentTriggers.ts';
import { reportManifestProblems } from '../../services/workflows.ts';
import { reviewBot } from '../../services/reviews.ts';
import { addEdge, ensureNode, upsertNode } from '../../services/graph.ts';
import { getRunById } from '../../services/runs.ts';
import { MANIFEST_PATH } from '../../domain/manifest.ts';
import type { AgentEvent } from '../../domain/agentManifest.ts';
import { parseAgentMentions } from '../../domain/mentions.ts';
import { ZERO_SHA } from '../../domain/refs.ts';
import { runGit } from '../../git/exec.ts';
import { EMPTY_TREE } from '../../git/diff.ts';
import { branchOfRef, pullRequestById, systemAccess } from './context.ts';

const PR_EVENTS: Record<string, AgentEvent> = {
  'pull_request.opened': 'pull_request.opened',
  'pull_request.synchronized': 'pull_request.synchronized',
  'pull_request.reopened': 'pull_request.reopened',
  'pull_request.ready_for_review': 'pull_request.ready_for_review',
};

async function changedFiles(gitDir: string, from: string, to: string): Promise<string[] | null> {
  const diff = await runGit(['diff', '--name-only', '-z', '--no-renames', '--end-of-options', from, to], { gitDir });
  return diff.code === 0 ? diff.stdout.toString('utf8').split('\0').filter(Boolean) : null;
}

function summarize(started: Run[], notes: string[], none: string): BehaviorOutcome {
  const parts = [...started.map((r) => `started ${r.agent_key} (run #${r.number})`), ...notes];
  const links: BehaviorLink[] = started.map((r) => ({ kind: 'run', id: r.number, label: `${r.agent_key} #${r.number}` }));
  return { outcome: parts.length ? parts.join('; ') : none, links };
}

/** Who a routed run belongs to: the event's actor while they can write, else the repository owner. */
async function routedActor(app: AppContext, repo: RepositoryWithOwner, actorId: unknown): Promise<User | null> {
  const actor = await userById(app, actorId);
  if (actor && (await canSummonAgents(app, repo, actor))) return actor;
  const owner = await userById(app, repo.owner_id);
  return owner ?? null;
}

/**
 * Routing: an agent whose `events` (and `branches` / `paths`) match runs on the event, once per
 * (agent, event, commit). Pull requests and branches of agent runs are never routed (no agent loops).
 */
export const agentRouting: Behavior = {
  key: 'agent-routing',
  description: 'Start the repository agents whose `events`, `branches` and `paths` match (pull request events, pushes); once per agent, event and commit',
  on: [...Object.keys(PR_EVENTS), 'ref.updated'],
  optional: true,
  when: (event, ctx) => !!ctx.repo && (event.type !== 'ref.updated' || (branchOfRef(event.payload.ref) !== null && event.payload.after !== ZERO_SHA)),
  async run(event, { app, repo }) {
    const gitDir = systemAccess(app, repo!).gitDir;
    let sha: string;
    let trigger: AgentRouteTrigger;
    let pr: PullRequest | undefined;
    let diffRange: [string, string];
    if (event.type === 'ref.updated') {
      const branch = branchOfRef(event.payload.ref)!;
      sha = String(event.payload.after);
      const run = await runOfBranch(app, repo!.id, branch);
      if (run) return { outcome: `${branch} is the branch of agent run #${run.number}: agents are not routed on runs' own branches` };
      const before = String(event.payload.before);
      trigger = { event: 'push', branch, changedFiles: null };
      diffRange = [before === ZERO_SHA ? EMPTY_TREE : before, sha];
    } else {
      pr = await pullRequestById(app, event.payload.pull_request_id);
      if (!pr || pr.state !== 'open') return { outcome: 'pull request is not open' };
      const run = await runOfPullRequest(app, pr);
      if (run) return { outcome: `#${pr.number} is the pull request of agent run #${run.number}: agents are not routed on runs' own pull requests` };
      sha = typeof event.payload.after === 'string' ? event.payload.after : pr.head_sha;
      trigger = { event: PR_EVENTS[event.type]!, branch: pr.base_branch, changedFiles: null };
      diffRange = [pr.merge_base_sha ?? pr.base_sha, sha];
    }
    const manifest = await loadAgentManifestForBranch(gitDir, sha);
    // The diff matters only to `paths` filters of agents listening to this event: a push of thousands
    // of branches would otherwise run one diff per branch for nothing.
    if (manifest.agents.some((d) => d.agent.events.includes(trigger.event) && d.agent.paths.length > 0)) trigger.changedFiles = await changedFiles(gitDir, ...diffRange);
    const notes: string[] = [];
    if (trigger.event === 'push') {
      // Files gitoku.toml names (instructions_file) are checked here: a failed `gitoku.toml` status, never a refused push.
      const problems = agentFileProblems(manifest);
      if (problems.length) {
        await reportManifestProblems(app, repo!, sha, { ok: false, problems });
        notes.push(`${MANIFEST_PATH} has problems: ${problems.map((p) => p.message).join('; ')}`);
      }
    }
    const matching = manifest.agents.filter((d) => agentMatches(d, trigger));
    if (matching.length === 0) return summarize([], notes, 'no matching agent');
    const actor = await routedActor(app, repo!, event.payload.actor_id);
    if (!actor) return { outcome: 'no user to run the agents as' };
    const started: Run[] = [];
    for (const def of matching) {
      const claim = await claimAgentTrigger(app, repo!.id, def.agent.key, trigger.event, sha);
      if (claim === null) {
        notes.push(`${def.agent.key} already ran for ${trigger.event} at ${sha.slice(0, 12)}`);
        continue;
      }
      const result = await runClaimed(app, claim, () =>
        pr
          ? startAgentOnPullRequest(app, repo!, pr, def.agent.key, {
              actor,
              task: `Pull request #${pr.number} into ${pr.base_branch} (event ${trigger.event}, head ${sha}). Do what your instructions say for it.`,
              title: `${def.agent.name} on #${pr.number}`,
              headSha: sha,
            })
          : startAgentOnBranch(app, repo!, trigger.branch, sha, def.agent.key, actor),
      );
      if (result.run) started.push(result.run);
      else notes.push(`${def.agent.key} was not started: ${result.error}`);
    }
    return summarize(started, notes, 'no matching agent');
  },
};

/**
 * `@<agent-key> <request>` in a pull-request comment or line comment: starts the agent on the PR's
 * branch (a child pull request into it) and replies in the thread. Only writers may summon; an agent's
 * (the bot's) own comments never summon anyone.
 */
export const agentMentions: Behavior = {
  key: 'agent-mentions',
  description: 'Start the agent a pull-request comment @mentions (writers only) on the pull request\'s branch, and reply in the thread with its pull request',
  on: ['pull_request.comment_created', 'pull_request.review_comment_created'],
  optional: true,
  when: (event, ctx) => !!ctx.repo && typeof event.payload.comment_id === 'number',
  async run(event, { app, repo }) {
    const comment = await app.db.selectFrom('pull_request_comments').selectAll().where('id', '=', event.payload.comment_id as number).executeTakeFirst();
    if (!comment || !comment.body.includes('@')) return { outcome: 'no mention' };
    const pr = await pullRequestById(app, comment.pull_request_id);
    if (!pr) return { outcome: 'pull request not found' };
    const bot = await reviewBot(app);
    if (comment.author_id === null || comment.author_id === bot.id) return { outcome: 'comment by an agent: agents never summon agents' };
    const manifest = await loadAgentManifestForBranch(systemAccess(app, repo!).gitDir, pr.head_sha);
    const known = new Set([...manifest.agents.map((a) => a.agent.key), ...manifest.broken.flatMap((b) => (b.key ? [b.key] : []))]);
    const mentions = parseAgentMentions(comment.body, (k) => known.has(k));
    if (mentions.length === 0) return { outcome: 'no agent mentioned' };
    const author = await userById(app, comment.author_id);
    if (!author) return { outcome: 'comment author not found' };
    const keys = mentions.map((m) => `@${m.key}`).join(', ');
    if (pr.state !== 'open') {
      await replyInThread(app, repo!, pr, comment, `@${author.username} ${keys}: this pull request is ${pr.state}; agents work only on open pull requests.`);
      return { outcome: `pull request is ${pr.state}` };
    }
    if (!(await canSummonAgents(app, repo!, author))) {
      await replyInThread(app, repo!, pr, comment, `@${author.username} only people with write access to ${repo!.owner_name}/${repo!.name} can summon agents; ${keys} ${mentions.length === 1 ? 'was' : 'were'} not started.`);
      return { outcome: `${author.username} may not summon agents (no write access)` };
    }
    const started: Run[] = [];
    const notes: string[] = [];
    for (const m of mentions) {
      const claim = await claimAgentTrigger(app, repo!.id, m.key, 'mention', `comment/${comment.id}`);
      if (claim === null) {
        notes.push(`@${m.key} was already started for this comment`);
        continue;
      }
      if (!m.request) {
        await settleAgentTrigger(app, claim, null, 'empty request');
        await replyInThread(app, repo!, pr, comment, `@${author.username} tell @${m.key} what to do: \`@${m.key} <request>\`.`);
        notes.push(`@${m.key}: empty request`);
        continue;
      }
      const result = await runClaimed(app, claim, () =>
        startAgentOnPullRequest(app, repo!, pr, m.key, { actor: author, task: m.request, title: `${m.key}: ${m.request.split('\n')[0]!.slice(0, 120)}`, headSha: pr.head_sha }),
      );
      if (result.run) {
        started.push(result.run);
        const child = result.run.pull_request_id ? await app.db.selectFrom('pull_requests').select('number').where('id', '=', result.run.pull_request_id).executeTakeFirst() : undefined;
        const base = `/${repo!.owner_name}/${repo!.name}`;
        await replyInThread(
          app,
          repo!,
          pr,
          comment,
          `@${author.username} 🤖 **@${m.key}** is on it: agent run [#${result.run.number}](${base}/runs/${result.run.number})${child ? `, with draft pull request [#${child.number}](${base}/pull/${child.number}) into \`${pr.compare_branch}\`` : ''}.`,
        );
      } else {
        await replyInThread(app, repo!, pr, comment, `@${author.username} @${m.key} could not start: ${result.error}`);
        notes.push(`@${m.key} was not started: ${result.error}`);
      }
    }
    return summarize(started, notes, 'nothing started');
  },
};

/**
 * Lineage: a run that names an agent gets `produced_by` from its run node to the agent node of
 * (repository, key); the edge says which version of the definition (blob and commit) it ran with.
 */
export const agentLineage: Behavior = {
  key: 'agent-lineage',
  description: 'Link runs of repository agents to their agent in the graph (produced_by, with the definition version)',
  on: ['run.queued', 'run.blocked'],
  optional: false,
  when: (event, ctx) => !!ctx.repo && typeof event.payload.run_id === 'number',
  async run(event, { app, repo }) {
    const run = await getRunById(app.db, event.payload.run_id as number);
    if (!run?.agent_key) return { outcome: 'the run names no agent' };
    const def = parseAgentRunContext(run.agent_definition)?.agent;
    const agentNode = await upsertNode(app.db, repo!.id, 'agent', run.agent_key, { agent_key: run.agent_key, name: def?.name ?? run.agent_key, source: def?.source ?? null });
    const runNode = await ensureNode(app.db, repo!.id, 'run', String(run.id), { run_id: run.id, number: run.number });
    await addEdge(app.db, runNode, agentNode, 'produced_by', { source: def?.source ?? null, blob_sha: def?.blob_sha ?? null, commit_sha: def?.file_commit_sha ?? null, instructions_blob_sha: def?.instructions_blob_sha ?? null });
    return { outcome: `run #${run.number} produced_by agent ${run.agent_key}`, links: [{ kind: 'run', id: run.number, label: `#${run.number}` }] };
  },
};
