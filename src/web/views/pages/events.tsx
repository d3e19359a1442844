import type { FC } from 'hono/jsx';
import type { PageContext } from '../context.ts';
import type { BehaviorRunView, EventView } from '../../../services/automation.ts';
import { Layout } from '../layout.tsx';
import { EmptyState, PageLinks, Time } from '../components.tsx';
import { Icon, type IconName } from '../icons.tsx';
import { commitUrl, pullUrl, repoUrl, treeUrl, type RepoRef } from '../urls.ts';
import { fullDate } from '../format.ts';
import type { RepoView } from './repo.tsx';
import { AdminNav } from './adminRunners.tsx';
import { AutomationAssets, AutomationLayout, AutomationNav, workflowRunUrl } from './automation.tsx';

/** The event types gitoku emits, offered by the filter (a type seen only in the data is added to it). */
export const KNOWN_EVENT_TYPES = [
  'ref.updated',
  'pull_request.opened',
  'pull_request.synchronized',
  'pull_request.ready_for_review',
  'pull_request.converted_to_draft',
  'pull_request.base_moved',
  'pull_request.reopened',
  'pull_request.closed',
  'pull_request.merged',
  'pull_request.comment_created',
  'pull_request.review_comment_created',
  'review.submitted',
  'run.queued',
  'run.blocked',
  'run.unblocked',
  'run.started',
  'run.succeeded',
  'run.failed',
  'run.cancelled',
  'workflow_run.completed',
  'status.created',
] as const;

export interface EventListProps {
  events: EventView[];
  /** The repository of an event (null when it has none or it was deleted). */
  repoOf: (e: EventView) => (RepoRef & { is_private?: number }) | null;
  showRepo: boolean;
}

function typeIcon(type: string): IconName {
  if (type.startsWith('ref.')) return 'commit';
  if (type.startsWith('pull_request.')) return 'pull';
  if (type.startsWith('review.')) return 'review';
  if (type.startsWith('run.')) return 'sparkle';
  if (type.startsWith('workflow_run.')) return 'play';
  if (type.startsWith('status.')) return 'check';
  return 'bolt';
}

/** Where an event's subject lives: pull/3, run/5, workflow/2, refs/heads/x, a commit. */
function subjectLink(repo: RepoRef | null, subject: string): { href: string | null; label: string; icon: IconName } {
  let m: RegExpExecArray | null;
  if ((m = /^pull\/(\d{1,9})$/.exec(subject))) return { href: repo && pullUrl(repo, Number(m[1])), label: `#${m[1]}`, icon: 'pull' };
  if ((m = /^run\/(\d{1,9})$/.exec(subject))) return { href: repo && `${repoUrl(repo)}/runs/${m[1]}`, label: `task #${m[1]}`, icon: 'sparkle' };
  if ((m = /^workflow\/(\d{1,9})$/.exec(subject))) return { href: repo && workflowRunUrl(repo, Number(m[1])), label: `workflow run #${m[1]}`, icon: 'play' };
  if ((m = /^refs\/heads\/(.+)$/.exec(subject))) return { href: repo && treeUrl(repo, m[1]!), label: m[1]!, icon: 'branch' };
  if ((m = /^refs\/tags\/(.+)$/.exec(subject))) return { href: repo && treeUrl(repo, m[1]!), label: m[1]!, icon: 'tag' };
  if (/^[0-9a-f]{40}$/.test(subject)) return { href: repo && commitUrl(repo, subject), label: subject.slice(0, 7), icon: 'commit' };
  return { href: null, label: subject, icon: 'dot' };
}

function behaviorLink(repo: RepoRef | null, link: BehaviorRunView['links'][number]): string | null {
  if (!repo || !Number.isSafeInteger(link.id) || link.id <= 0) return null;
  switch (link.kind) {
    case 'run':
      return `${repoUrl(repo)}/runs/${link.id}`;
    case 'workflow_run':
      return workflowRunUrl(repo, link.id);
    case 'pull_request':
      return pullUrl(repo, link.id);
    default:
      return null;
  }
}

const LINK_ICON: Record<string, IconName> = { run: 'sparkle', workflow_run: 'play', pull_request: 'pull', job: 'server', review: 'review', comment: 'comment', status: 'check' };

const BEHAVIOR_STATUS: Record<string, { cls: string; label: string }> = {
  succeeded: { cls: 'succeeded', label: 'Succeeded' },
  failed: { cls: 'failed', label: 'Failed' },
  retry: { cls: 'retry', label: 'Retrying' },
  running: { cls: 'running', label: 'Running' },
  skipped: { cls: 'cancelled', label: 'Skipped' },
};

export const BehaviorStatusBadge: FC<{ status: string }> = ({ status }) => {
  const s = BEHAVIOR_STATUS[status] ?? { cls: 'queued', label: status };
  return (
    <span class={`run-status run-status-${s.cls}`} data-status={status}>
      <span class="run-status-dot" aria-hidden="true"></span>
      <span class="run-status-text">{s.label}</span>
    </span>
  );
};

const s7 = (v: unknown) => (typeof v === 'string' && /^[0-9a-f]{40}$/.test(v) ? v.slice(0, 7) : null);

/** One line about the payload, where there is something useful to say. */
function payloadSummary(e: EventView): string | null {
  const p = e.payload;
  if (e.type === 'ref.updated') {
    if (p.created === true) return `created at ${s7(p.after) ?? '?'}${typeof p.cause === 'string' ? ` · ${p.cause}` : ''}`;
    if (p.deleted === true) return `deleted (was ${s7(p.before) ?? '?'})${typeof p.cause === 'string' ? ` · ${p.cause}` : ''}`;
    return `${s7(p.before) ?? '?'} → ${s7(p.after) ?? '?'}${typeof p.cause === 'string' ? ` · ${p.cause}` : ''}`;
  }
  if (e.type === 'workflow_run.completed' && typeof p.conclusion === 'string') return `${typeof p.workflow === 'string' ? p.workflow : 'workflow'}: ${p.conclusion}`;
  if (e.type === 'status.created' && typeof p.context === 'string') return `${p.context}: ${typeof p.state === 'string' ? p.state : '?'}`;
  if (e.type === 'review.submitted' && typeof p.state === 'string') return p.state.toLowerCase();
  if (typeof p.error === 'string' && p.error) return p.error;
  if (typeof p.after === 'string' && s7(p.after)) return `at ${s7(p.after)}`;
  return null;
}

const BehaviorResult: FC<{ b: BehaviorRunView; repo: RepoRef | null }> = ({ b, repo }) => (
  <li class={`ev-behavior ev-behavior-${b.status.replace(/[^a-z]/g, '')}`} data-behavior={b.key}>
    <div class="ev-behavior-status">
      <BehaviorStatusBadge status={b.status} />
    </div>
    <div class="ev-behavior-main">
      <div class="ev-behavior-line">
        <code class="ev-behavior-key">{b.key}</code>
        {b.outcome ? <span class="ev-outcome">{b.outcome}</span> : null}
      </div>
      {b.error ? <pre class="ev-error">{b.error}</pre> : null}
      {(b.links.length > 0 || b.attempts > 1 || b.status === 'retry' || b.status === 'failed') && (
        <div class="ev-behavior-meta">
          {b.links.map((l) => {
            const href = behaviorLink(repo, l);
            const icon = LINK_ICON[l.kind] ?? 'link';
            return href ? (
              <a class="ev-link" href={href} data-kind={l.kind}>
                <Icon name={icon} /> {l.label}
              </a>
            ) : (
              <span class="ev-link ev-link-plain" data-kind={l.kind}>
                <Icon name={icon} /> {l.label}
              </span>
            );
          })}
          {(b.attempts > 1 || b.status === 'retry' || b.status === 'failed') && (
            <span class="muted ev-attempts">
              {b.attempts} {b.attempts === 1 ? 'attempt' : 'attempts'}
            </span>
          )}
          {b.status === 'retry' && b.next_attempt_at && (
            <span class="muted">
              next <Time iso={b.next_attempt_at} />
            </span>
          )}
        </div>
      )}
    </div>
  </li>
);

export const EventList: FC<EventListProps> = ({ events, repoOf, showRepo }) => (
  <ol class="ev-list" id="event-list">
    {events.map((e) => {
      const repo = repoOf(e);
      const subject = subjectLink(repo, e.subject);
      const summary = payloadSummary(e);
      return (
        <li class="card ev-item" data-event-id={e.id} data-event-type={e.type}>
          <div class="ev-head">
            <span class="ev-icon" aria-hidden="true">
              <Icon name={typeIcon(e.type)} />
            </span>
            <div class="ev-head-main">
              <div class="ev-title">
                <code class="ev-type">{e.type}</code>
                {showRepo &&
                  (repo ? (
                    <a class="ev-repo" href={repoUrl(repo)}>
                      {repo.is_private ? <Icon name="lock" /> : null}
                      {repo.owner_name}/{repo.name}
                    </a>
                  ) : (
                    <span class="muted ev-repo">{e.repository_id === null ? 'no repository' : 'deleted repository'}</span>
                  ))}
                {subject.href ? (
                  <a class="ev-subject" href={subject.href}>
                    <Icon name={subject.icon} /> {subject.label}
                  </a>
                ) : (
                  <span class="ev-subject">
                    <Icon name={subject.icon} /> {subject.label}
                  </span>
                )}
              </div>
              {summary && <div class="muted ev-summary">{summary}</div>}
            </div>
            <div class="ev-when">
              {e.created_at ? <Time iso={e.created_at} /> : null}
              {e.dispatched_at ? (
                <span class="ev-state ev-dispatched" title={`Dispatched ${fullDate(e.dispatched_at)}`}>
                  <Icon name="check" /> dispatched
                </span>
              ) : (
                <span class="ev-state ev-pending" title="Waiting for the dispatcher">
                  <Icon name="clock" /> pending
                </span>
              )}
            </div>
          </div>
          {e.behaviors.length > 0 ? (
            <ul class="ev-behaviors">
              {e.behaviors.map((b) => (
                <BehaviorResult b={b} repo={repo} />
              ))}
            </ul>
          ) : (
            <p class="ev-none">{e.dispatched_at ? 'No behavior reacted to this event.' : 'Not dispatched yet.'}</p>
          )}
          <details class="ev-payload">
            <summary>Payload</summary>
            <pre>{JSON.stringify(e.payload, null, 2)}</pre>
          </details>
        </li>
      );
    })}
  </ol>
);

export interface EventsQuery {
  type: string;
  page: number;
  pages: number;
  total: number;
}

function eventsHref(base: string, type: string, page: number): string {
  const q = new URLSearchParams();
  if (type) q.set('type', type);
  if (page > 1) q.set('page', String(page));
  const qs = q.toString();
  return `${base}${qs ? `?${qs}` : ''}`;
}

const EventFilter: FC<{ base: string; query: EventsQuery }> = ({ base, query }) => {
  const types: string[] = [...KNOWN_EVENT_TYPES];
  if (query.type && !types.includes(query.type)) types.unshift(query.type);
  return (
    <form method="get" action={base} class="ev-filter" role="search">
      <label for="event-type" class="ev-filter-label">
        Event type
      </label>
      <select class="input select select-sm" name="type" id="event-type" data-autosubmit="">
        <option value="" selected={!query.type}>
          All events
        </option>
        {types.map((t) => (
          <option value={t} selected={t === query.type}>
            {t}
          </option>
        ))}
      </select>
      <button type="submit" class="btn btn-sm" id="event-filter-submit">
        Filter
      </button>
      {query.type && (
        <a class="btn btn-sm btn-ghost" href={base}>
          <Icon name="x" /> Clear
        </a>
      )}
      <span class="muted ev-count">
        {query.total.toLocaleString('en')} {query.total === 1 ? 'event' : 'events'}
      </span>
    </form>
  );
};

const Pager: FC<{ base: string; query: EventsQuery }> = ({ base, query }) =>
  query.pages > 1 ? <PageLinks navClass="run-pager" page={query.page} pages={query.pages} href={(n) => eventsHref(base, query.type, n)} /> : null;

const NoEvents: FC<{ query: EventsQuery; base: string }> = ({ query, base }) => (
  <div class="card">
    <EmptyState icon="bolt" title={query.type ? `No ${query.type} events` : 'No events yet'}>
      {query.type ? (
        <p>
          <a href={base}>Show all events</a>
        </p>
      ) : (
        <p class="muted">Pushes, pull requests, tasks and workflow runs emit events; behaviors react to them.</p>
      )}
    </EmptyState>
  </div>
);

export const RepoEventsPage: FC<{ ctx: PageContext; view: RepoView; events: EventView[]; query: EventsQuery }> = ({ ctx, view, events, query }) => {
  const base = `${repoUrl(view.repo)}/events`;
  return (
    <AutomationLayout ctx={ctx} view={view} title={`Events · ${view.repo.owner_name}/${view.repo.name}`}>
      <div class="au-head">
        <div>
          <h1 class="au-title">Automation</h1>
          <p class="muted au-sub">Every event of this repository and, for each, the behaviors that ran: what they did, what failed, what they created.</p>
        </div>
      </div>
      <AutomationNav view={view} active="events" />
      <EventFilter base={base} query={query} />
      {events.length === 0 ? <NoEvents query={query} base={base} /> : <EventList events={events} repoOf={() => view.repo} showRepo={false} />}
      <Pager base={base} query={query} />
    </AutomationLayout>
  );
};

export const AdminEventsPage: FC<{ ctx: PageContext; events: EventView[]; repos: Map<number, RepoRef & { is_private: number }>; query: EventsQuery }> = ({ ctx, events, repos, query }) => {
  const base = '/-/admin/events';
  return (
    <Layout ctx={ctx} title="Events · Site administration" head={<AutomationAssets ctx={ctx} />}>
      <div class="split">
        <aside class="split-side">
          <p class="admin-eyebrow">Site administration</p>
          <AdminNav active="events" />
        </aside>
        <section class="split-main">
          <div class="page-head">
            <h1>Events</h1>
            <p class="muted">Recent events of every repository and the behaviors each one triggered.</p>
          </div>
          <EventFilter base={base} query={query} />
          {events.length === 0 ? <NoEvents query={query} base={base} /> : <EventList events={events} repoOf={(e) => (e.repository_id === null ? null : (repos.get(e.repository_id) ?? null))} showRepo />}
          <Pager base={base} query={query} />
        </section>
      </div>
    </Layout>
  );
};
