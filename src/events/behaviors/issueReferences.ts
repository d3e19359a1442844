import type { Behavior } from '../registry.ts';
import { closeIssuesForMergedPull, recordCommitReferences, recordCrossReferences } from '../../services/issueReferences.ts';
import { findIssueById } from '../../services/issues.ts';
import { listCommits } from '../../git/log.ts';
import { ZERO_SHA } from '../../domain/refs.ts';
import { resolveCommit } from '../../git/tree.ts';
import { branchOfRef, pullRequestById, systemAccess } from './context.ts';

const MAX_COMMITS = 250;

/**
 * Commits pushed to a branch (any ref change through the ingress: push, merge, API) mention issues:
 * `referenced` entries on them; on the default branch, `fixes #N` closes issue N ("closed in <commit>").
 */
export const issueCommitReferences: Behavior = {
  key: 'issue-commit-references',
  description: 'Link issues that commit messages mention (#N, OWNER/REPO#N) and close those a commit on the default branch says it fixes',
  on: ['ref.updated'],
  optional: false,
  when: (event, ctx) => !!ctx.repo && branchOfRef(event.payload.ref) !== null && event.payload.after !== ZERO_SHA && typeof event.payload.after === 'string',
  async run(event, { app, repo }) {
    const access = systemAccess(app, repo!);
    const branch = branchOfRef(event.payload.ref)!;
    const after = String(event.payload.after);
    const before = String(event.payload.before ?? ZERO_SHA);
    const onDefault = branch === repo!.default_branch;
    // A new branch: its commits that the default branch does not have yet (all of them for the first push).
    const exclude = before !== ZERO_SHA ? before : onDefault ? undefined : ((await resolveCommit(access.gitDir, `refs/heads/${repo!.default_branch}`)) ?? undefined);
    const commits = await listCommits(access.gitDir, after, { exclude, limit: MAX_COMMITS }).catch(() => []);
    const withRefs = commits.filter((c) => c.message.includes('#'));
    if (withRefs.length === 0) return { outcome: `no issue references in ${commits.length} commit(s)` };
    const actorId = typeof event.payload.actor_id === 'number' ? event.payload.actor_id : null;
    const result = await recordCommitReferences(app, repo!, actorId, withRefs.map((c) => ({ sha: c.sha, message: c.message })), onDefault);
    return { outcome: `${result.referenced} reference(s) recorded${result.closed.length ? `; closed ${result.closed.join(', ')}` : ''}` };
  },
};

/** An issue, pull request or comment mentions issues: `cross-referenced` entries on their timelines. */
export const issueCrossReferences: Behavior = {
  key: 'issue-cross-references',
  description: 'Add "mentioned in" entries to the timelines of issues that an issue, pull request or comment mentions',
  on: ['issue.opened', 'issue.edited', 'issue_comment.created', 'pull_request.opened', 'pull_request.comment_created'],
  optional: false,
  when: (_event, ctx) => !!ctx.repo,
  async run(event, { app, repo }) {
    const actorId = typeof event.payload.actor_id === 'number' ? event.payload.actor_id : null;
    let text: string;
    let source: { kind: 'issue' | 'pull'; number: number };
    if (event.type.startsWith('pull_request.')) {
      const pr = await pullRequestById(app, event.payload.pull_request_id);
      if (!pr) return { outcome: 'pull request not found' };
      source = { kind: 'pull', number: pr.number };
      if (event.type === 'pull_request.comment_created') {
        const c = await app.db.selectFrom('pull_request_comments').select('body').where('id', '=', Number(event.payload.comment_id)).executeTakeFirst();
        text = c?.body ?? '';
      } else text = `${pr.title}\n\n${pr.body}`;
    } else {
      const issue = await findIssueById(app.db, Number(event.payload.issue_id));
      if (!issue) return { outcome: 'issue not found' };
      source = { kind: 'issue', number: issue.number };
      if (event.type === 'issue_comment.created') {
        const c = await app.db.selectFrom('issue_comments').select('body').where('id', '=', Number(event.payload.comment_id)).executeTakeFirst();
        text = c?.body ?? '';
      } else text = `${issue.title}\n\n${issue.body}`;
    }
    if (!text.includes('#')) return { outcome: 'no references' };
    const added = await recordCrossReferences(app, repo!, actorId, source, text);
    return { outcome: `${added} cross-reference(s) recorded` };
  },
};

/** A pull request merged into the default branch closes the issues it says it fixes (and its run's issue). */
export const issueClosingPullRequests: Behavior = {
  key: 'issue-closing-pull-requests',
  description: 'Close the issues a pull request merged into the default branch says it fixes (closes, fixes, resolves #N), and the issue its agent run was started for',
  on: ['pull_request.merged'],
  optional: false,
  when: (_event, ctx) => !!ctx.repo,
  async run(event, { app, repo }) {
    const pr = await pullRequestById(app, event.payload.pull_request_id);
    if (!pr) return { outcome: 'pull request not found' };
    const actorId = typeof event.payload.actor_id === 'number' ? event.payload.actor_id : null;
    const closed = await closeIssuesForMergedPull(app, repo!, pr, actorId);
    return { outcome: closed.length ? `closed ${closed.join(', ')}` : 'no issue to close', links: [{ kind: 'pull_request', id: pr.number, label: `#${pr.number}` }] };
  },
};
