import type { Behavior } from '../registry.ts';
import { enqueueReview, reviewAgent } from '../../services/reviews.ts';
import { pullRequestById } from './context.ts';

/** An AI review when a pull request is opened (ready), becomes ready, or its branch moves; one per (PR, commit). */
export const pullRequestReview: Behavior = {
  key: 'pull-request-review',
  description: "Queue an AI review of the pull request (gated: open, not a draft, AI reviews enabled with a reviewing agent — the repository's or the server's; one per pull request and commit)",
  on: ['pull_request.opened', 'pull_request.synchronized', 'pull_request.ready_for_review', 'pull_request.reopened'],
  optional: true,
  when: (_event, ctx) => !!ctx.repo,
  async run(event, { app, repo }) {
    const agent = reviewAgent(app, repo!);
    if (agent.driver === null) return { outcome: agent.reason };
    const pr = await pullRequestById(app, event.payload.pull_request_id);
    if (!pr || pr.state !== 'open') return { outcome: 'pull request is not open' };
    if (pr.draft === 1) return { outcome: 'pull request is a draft' };
    const sha = typeof event.payload.after === 'string' ? event.payload.after : pr.head_sha;
    const job = await enqueueReview(app, repo!, pr, sha, agent);
    return job ? { outcome: `queued a review of ${sha.slice(0, 12)} by ${agent.driver}${agent.model && agent.model !== agent.driver ? ` · ${agent.model}` : ''}`, links: [{ kind: 'pull_request', id: pr.number, label: `#${pr.number}` }, { kind: 'job', id: job.id, label: `review job ${job.id}` }] } : { outcome: `a review of ${sha.slice(0, 12)} was already queued` };
  },
};
