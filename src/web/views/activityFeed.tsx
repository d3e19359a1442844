import type { Child, FC } from 'hono/jsx';
import type { ActivityItem } from '../../services/activity.ts';
import { Avatar, EmptyState, Time } from './components.tsx';
import { Icon, type IconName } from './icons.tsx';
import { commitUrl, pullUrl, repoUrl, treeUrl } from './urls.ts';

const short = (sha: unknown) => (typeof sha === 'string' ? sha.slice(0, 7) : '');
const num = (v: unknown) => (typeof v === 'number' ? v : Number(v));

/** What one outbox event says, as an icon and a sentence with links (text is escaped by JSX). */
function describe(item: ActivityItem): { icon: IconName; text: Child } | null {
  const repo = { owner_name: item.owner, name: item.repo };
  const p = item.payload;
  const who = item.actor ?? (p.cause === 'run' ? 'An agent' : 'Someone');
  const repoLink = (
    <a href={repoUrl(repo)} class="activity-repo">
      {item.owner}/{item.repo}
    </a>
  );
  const numberOf = (prefix: string) => num(item.subject.slice(prefix.length));
  switch (item.type) {
    case 'ref.updated': {
      const isTag = item.subject.startsWith('refs/tags/');
      const name = item.subject.replace(/^refs\/(heads|tags)\//, '');
      const refLink = isTag ? <strong class="mono">{name}</strong> : <a href={treeUrl(repo, name)} class="mono">{name}</a>;
      if (p.deleted) return { icon: 'trash', text: <>{who} deleted {isTag ? 'tag' : 'branch'} <strong class="mono">{name}</strong> in {repoLink}</> };
      if (p.created) return { icon: isTag ? 'tag' : 'branch', text: <>{who} created {isTag ? 'tag' : 'branch'} {refLink} in {repoLink}</> };
      return {
        icon: 'commit',
        text: (
          <>
            {who} pushed to {refLink} in {repoLink} <a href={commitUrl(repo, String(p.after))} class="mono muted-link">{short(p.after)}</a>
          </>
        ),
      };
    }
    case 'pull_request.opened':
    case 'pull_request.closed':
    case 'pull_request.reopened':
    case 'pull_request.merged': {
      const n = numberOf('pull/');
      const verb = item.type.slice('pull_request.'.length);
      const link = (
        <a href={pullUrl(repo, n)}>
          #{n}
          {item.title ? ` ${item.title}` : ''}
        </a>
      );
      const icon: IconName = verb === 'merged' ? 'merge' : verb === 'closed' ? 'closed' : 'pull';
      return { icon, text: <>{who} {verb} pull request {link} in {repoLink}</> };
    }
    case 'review.submitted': {
      const n = numberOf('pull/');
      const state = String(p.state ?? '');
      const verb = state === 'APPROVED' ? 'approved' : state === 'CHANGES_REQUESTED' ? 'requested changes on' : 'reviewed';
      return { icon: 'review', text: <>{who} {verb} <a href={pullUrl(repo, n)}>#{n}{item.title ? ` ${item.title}` : ''}</a> in {repoLink}</> };
    }
    case 'run.queued':
    case 'run.succeeded':
    case 'run.failed':
    case 'run.cancelled': {
      const n = numberOf('run/');
      const verb = { 'run.queued': 'started', 'run.succeeded': 'finished', 'run.failed': 'failed:', 'run.cancelled': 'was cancelled:' }[item.type];
      const link = (
        <a href={`${repoUrl(repo)}/runs/${n}`}>
          task #{n}
          {item.title ? ` ${item.title}` : ''}
        </a>
      );
      const icon: IconName = item.type === 'run.failed' ? 'alert' : item.type === 'run.succeeded' ? 'check' : item.type === 'run.cancelled' ? 'stop' : 'sparkle';
      if (item.type === 'run.queued') return { icon, text: <>{who} started {link} in {repoLink}</> };
      return { icon, text: <>Agent {verb === 'finished' ? 'finished' : verb} {link} in {repoLink}</> };
    }
    case 'workflow_run.completed': {
      const n = num(p.number);
      const conclusion = String(p.conclusion ?? 'completed');
      return {
        icon: conclusion === 'success' ? 'check' : conclusion === 'failure' ? 'alert' : 'play',
        text: (
          <>
            Workflow <strong>{String(p.workflow ?? '')}</strong> <a href={`${repoUrl(repo)}/actions/runs/${n}`}>#{n}</a> {conclusion === 'success' ? 'succeeded' : conclusion === 'failure' ? 'failed' : conclusion} in {repoLink}
          </>
        ),
      };
    }
  }
  return null;
}

/** The dashboard's feed: recent activity across the user's repositories, newest first. */
export const ActivityFeed: FC<{ items: ActivityItem[] }> = ({ items }) => {
  const rows = items.map((item) => ({ item, d: describe(item) })).filter((r) => r.d !== null);
  return (
    <section class="activity" aria-labelledby="activity-title">
      <div class="section-head">
        <h2 class="h3" id="activity-title">
          Recent activity
        </h2>
      </div>
      <div class="card">
        {rows.length === 0 ? (
          <EmptyState icon="history" title="No activity yet">
            <p class="muted">Pushes, pull requests and agent runs in your repositories show up here.</p>
          </EmptyState>
        ) : (
          <ul class="activity-list">
            {rows.map(({ item, d }) => (
              <li class="activity-item">
                <span class="activity-icon">
                  <Icon name={d!.icon} />
                </span>
                {item.actor ? <Avatar name={item.actor} size="sm" /> : null}
                <span class="activity-text">{d!.text}</span>
                <span class="activity-time muted">
                  <Time iso={item.createdAt} />
                </span>
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
};
