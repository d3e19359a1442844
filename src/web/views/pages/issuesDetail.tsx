import type { Child, FC } from 'hono/jsx';
import type { FormError, PageContext } from '../context.ts';
import type { Label } from '../../../db/schema.ts';
import type { Assignee, IssueItem } from '../../../services/issues.ts';
import type { IssueRunRef, RepoRef, TimelineItem } from '../../../services/issueTimeline.ts';
import type { IssueAgent } from '../../../services/issueAgentKeys.ts';
import { isActiveRun, type LinkedPull } from '../../models/issuePage.ts';
import { renderMarkdown, type ReferenceLinks } from '../../markdown.ts';
import { Avatar, EditTitleBody, FormAlert, PageAssets, PostForm, Time, fieldInvalid } from '../components.tsx';
import { Icon, type IconName } from '../icons.tsx';
import { commitUrl, issuesUrl, issueUrl, labelsUrl, pullUrl } from '../urls.ts';
import { RepoLayout, type RepoView } from './repo.tsx';
import { LabelChip, LabelStyles } from './labels.tsx';
import { AssigneeChip, IssueStateBadge } from './issues.tsx';
import { RunAgent, RunStatusBadge, runUrl } from './runs.tsx';

export interface IssuePageData {
  issue: IssueItem;
  /** Comments and events, oldest first, as the viewer may see them (services/issueTimeline.ts). */
  timeline: TimelineItem[];
  runs: IssueRunRef[];
  linkedPulls: LinkedPull[];
  /** Every label of the repository (chips in the timeline, the picker). */
  repoLabels: Label[];
  labelsVersion: string;
  /** Writers: labels, assignees, agents. */
  canWrite: boolean;
  /** The author or a writer: edit, close, reopen. */
  canEdit: boolean;
  /** Users who can be assigned (writers see the picker). */
  assignable: string[];
  /** Agents that can be assigned (writers only; empty for others). */
  agents: IssueAgent[];
  links: ReferenceLinks;
  /** The page should follow the issue live (a run active, or one about to start). */
  live: boolean;
  /** What the poller compares against (models/issuePage.ts liveKey). */
  liveKey: string;
}

const sha7 = (sha: string) => sha.slice(0, 7);

// ---------- header ----------

const IssueHeader: FC<{ ctx: PageContext; view: RepoView; data: IssuePageData; editError?: FormError | null }> = ({ ctx, view, data, editError }) => {
  const { issue } = data;
  const n = data.timeline.filter((t) => t.type === 'commented').length;
  return (
    <div class="pull-head issue-head">
      <div class="pull-title-row">
        <h1 class="pull-title">
          <span class="pull-title-text" id="issue-title">
            {issue.title}
          </span>{' '}
          <span class="pull-number">#{issue.number}</span>
        </h1>
        <div class="issue-head-actions">
          {data.canEdit && (
            <EditTitleBody ctx={ctx} action={`${issueUrl(view.repo, issue.number)}/edit`} title={issue.title} body={issue.body} error={editError} id="edit-issue" />
          )}
          {ctx.user && (
            <a class="btn btn-sm btn-primary" href={`${issuesUrl(view.repo)}/new`}>
              New issue
            </a>
          )}
        </div>
      </div>
      <div class="pull-meta">
        <IssueStateBadge item={issue} id="issue-state" />
        <span class="pull-meta-text">
          <strong>{issue.author?.username ?? 'ghost'}</strong> opened this issue <Time iso={issue.created_at} /> · {n} {n === 1 ? 'comment' : 'comments'}
        </span>
      </div>
    </div>
  );
};

// ---------- timeline ----------

const CommentCard: FC<{ id: string; author: string | null; verb: string; at: string; html: string | null; isAuthor?: boolean }> = ({ id, author, verb, at, html, isAuthor }) => (
  <div class="timeline-item timeline-comment">
    <Avatar name={author ?? 'ghost'} size="md" />
    <div class="comment-card">
      <div class="comment" id={id}>
        <div class="comment-head">
          <Avatar name={author ?? 'ghost'} size="sm" />
          <strong class="comment-author">{author ?? 'ghost'}</strong>
          <span class="muted">
            {verb}{' '}
            <a href={`#${id}`} class="muted-link">
              <Time iso={at} />
            </a>
          </span>
          <span class="comment-badges">{isAuthor && <span class="label">Author</span>}</span>
        </div>
        {html !== null ? <div class="markdown-body comment-body" dangerouslySetInnerHTML={{ __html: html }} /> : <div class="comment-body muted comment-empty">No description provided.</div>}
      </div>
    </div>
  </div>
);

const EventRow: FC<{ icon: IconName; tone?: string; id?: string; children?: Child }> = ({ icon, tone, id, children }) => (
  <div class="timeline-item timeline-event" id={id}>
    <span class={`event-badge${tone ? ` ${tone}` : ''}`}>
      <Icon name={icon} />
    </span>
    <span class="event-text">{children}</span>
  </div>
);

/** A label named in the timeline, with the repository's colour when it still exists. */
function labelFor(data: IssuePageData, label: { name: string; color: string }): Pick<Label, 'id' | 'name' | 'color' | 'description'> {
  return data.repoLabels.find((x) => x.name.toLowerCase() === label.name.toLowerCase()) ?? { id: 0, name: label.name, color: label.color, description: '' };
}

const Who: FC<{ user: { username: string } | null }> = ({ user }) => <strong>{user?.username ?? 'gitoku'}</strong>;

const AssigneeText: FC<{ assignee: string; login: string }> = ({ assignee, login }) =>
  assignee.startsWith('agent:') ? (
    <span class="assignee assignee-agent">
      <span class="agent-avatar" aria-hidden="true">
        <Icon name="robot" />
      </span>
      <strong>{assignee.slice(6)}</strong> <span class="muted">(agent)</span>
    </span>
  ) : (
    <strong>{login || 'ghost'}</strong>
  );

const repoOf = (view: RepoView, r: RepoRef) => (r.id === view.repo.id ? view.repo : { owner_name: r.owner, name: r.name });
const prefixOf = (view: RepoView, r: RepoRef) => (r.id === view.repo.id ? '' : `${r.owner}/${r.name}`);

const TRIGGER_TEXT: Record<string, string> = { assigned: 'by assigning it', labeled: 'with a label', comment: 'with /run' };

const TimelineEvent: FC<{ view: RepoView; data: IssuePageData; item: TimelineItem }> = ({ view, data, item }) => {
  const at = <Time iso={item.created_at} />;
  const id = item.key;
  switch (item.type) {
    case 'commented':
      return null;
    case 'labeled':
    case 'unlabeled':
      return (
        <EventRow icon="tag" id={id}>
          <Who user={item.actor} /> {item.type === 'labeled' ? 'added' : 'removed'} <LabelChip view={view} label={labelFor(data, item.label)} /> {at}
        </EventRow>
      );
    case 'assigned':
    case 'unassigned':
      return (
        <EventRow icon={item.assignee.startsWith('agent:') ? 'robot' : 'user'} id={id}>
          <Who user={item.actor} /> {item.type} <AssigneeText assignee={item.assignee} login={item.login} /> {at}
        </EventRow>
      );
    case 'renamed':
      return (
        <EventRow icon="pencil" id={id}>
          <Who user={item.actor} /> changed the title <del>{item.from}</del> <ins class="event-ins">{item.to}</ins> {at}
        </EventRow>
      );
    case 'reopened':
      return (
        <EventRow icon="issueOpen" tone="event-open" id={id}>
          <Who user={item.actor} /> reopened this {at}
        </EventRow>
      );
    case 'closed': {
      const notPlanned = item.state_reason === 'not_planned';
      return (
        <EventRow icon={notPlanned ? 'issueSkipped' : 'issueClosed'} tone={notPlanned ? 'event-skipped' : 'event-done'} id={id}>
          <Who user={item.actor} /> closed this as {notPlanned ? 'not planned' : 'completed'}
          {item.pull_request ? (
            <>
              {' '}
              in{' '}
              <a href={pullUrl(repoOf(view, item.pull_request.repository), item.pull_request.number)} class="issue-ref closed-by-pull">
                {prefixOf(view, item.pull_request.repository)}#{item.pull_request.number}
              </a>
              {item.pull_request.title ? <span class="event-ref-title"> {item.pull_request.title}</span> : null}
            </>
          ) : item.commit_id && item.repository ? (
            <>
              {' '}
              in commit{' '}
              <a href={commitUrl(repoOf(view, item.repository), item.commit_id)} class="sha-link">
                <code class="sha">
                  {prefixOf(view, item.repository) ? `${prefixOf(view, item.repository)}@` : ''}
                  {sha7(item.commit_id)}
                </code>
              </a>
            </>
          ) : null}{' '}
          {at}
        </EventRow>
      );
    }
    case 'referenced':
      return (
        <EventRow icon="commit" id={id}>
          <Who user={item.actor} /> referenced this issue in commit{' '}
          <a href={commitUrl(repoOf(view, item.repository), item.commit_id)} class="sha-link">
            <code class="sha">
              {prefixOf(view, item.repository) ? `${prefixOf(view, item.repository)}@` : ''}
              {sha7(item.commit_id)}
            </code>
          </a>{' '}
          <span class="event-ref-title">{item.message}</span> {at}
        </EventRow>
      );
    case 'cross-referenced': {
      const src = item.source;
      const href = src.kind === 'pull' ? pullUrl(repoOf(view, src.repository), src.number) : issueUrl(repoOf(view, src.repository), src.number);
      return (
        <EventRow icon={src.kind === 'pull' ? 'pull' : 'issueOpen'} id={id}>
          <Who user={item.actor} /> mentioned this issue in{' '}
          <a href={href} class="issue-ref">
            {prefixOf(view, src.repository)}#{src.number}
          </a>{' '}
          <span class="event-ref-title">{src.title}</span> {at}
        </EventRow>
      );
    }
    case 'run_started':
      return (
        <EventRow icon="sparkle" tone="event-run" id={id}>
          <Who user={item.actor} /> started {item.run.agent_key ? <strong>{item.run.agent_key}</strong> : null} <RunAgent run={item.run} /> {TRIGGER_TEXT[item.trigger] ?? ''}:{' '}
          <a href={runUrl(view, item.run.number)} class="issue-run-link">
            run #{item.run.number}
          </a>{' '}
          <RunStatusBadge status={item.run.status} id={`timeline-run-${item.run.number}-status`} />
          {item.run.pull_request && (
            <>
              {' '}
              · draft{' '}
              <a href={pullUrl(view.repo, item.run.pull_request.number)} class="issue-ref">
                #{item.run.pull_request.number}
              </a>
            </>
          )}{' '}
          {at}
        </EventRow>
      );
    case 'run_not_started':
      return (
        <EventRow icon="alert" tone="event-skipped" id={id}>
          <Who user={item.actor} /> could not start <strong>{item.agent}</strong>: <span class="event-ref-title">{item.reason}</span> {at}
        </EventRow>
      );
    default:
      return null;
  }
};

const IssueTimeline: FC<{ view: RepoView; data: IssuePageData }> = ({ view, data }) => {
  const { issue, links } = data;
  const author = issue.author?.username ?? null;
  return (
    <>
      <CommentCard id="issue-description" author={author} verb="opened this issue" at={issue.created_at} html={issue.body.trim() ? renderMarkdown(issue.body, links) : null} />
      {data.timeline.map((item) =>
        item.type === 'commented' ? (
          <CommentCard id={`issuecomment-${item.comment.id}`} author={item.comment.author?.username ?? null} verb="commented" at={item.created_at} html={renderMarkdown(item.comment.body, links)} isAuthor={!!author && item.comment.author?.username === author} />
        ) : (
          <TimelineEvent view={view} data={data} item={item} />
        ),
      )}
    </>
  );
};

const CommentForm: FC<{ ctx: PageContext; view: RepoView; data: IssuePageData; error?: FormError | null; body?: string }> = ({ ctx, view, data, error, body }) => {
  const { issue } = data;
  const base = issueUrl(view.repo, issue.number);
  if (!ctx.user) {
    return (
      <div class="card card-pad sign-in-to-comment">
        <a href={`/-/login?next=${encodeURIComponent(base)}`}>Sign in</a> to join this conversation.
      </div>
    );
  }
  return (
    <div class="timeline-item timeline-comment new-comment">
      <Avatar name={ctx.user.username} size="md" />
      <PostForm ctx={ctx} action={`${base}/comment`} class="comment-card comment-form" id="comment-form">
        <div class="comment-form-head">Add a comment</div>
        <div class="card-pad stack">
          <FormAlert error={error} />
          <textarea id="comment-body" class="input" name="body" rows={5} placeholder="Leave a comment (Markdown)" aria-label="Comment" aria-invalid={fieldInvalid(error, 'body') ? 'true' : undefined}>
            {body ?? ''}
          </textarea>
          {data.canWrite && issue.state === 'open' && (
            <span class="hint">
              <code>/run</code> followed by instructions starts another agent run on this issue.
            </span>
          )}
          <div class="form-actions form-actions-end issue-comment-actions">
            {data.canEdit && issue.state === 'open' && (
              <>
                <button type="submit" class="btn" formaction={`${base}/state`} name="state" value="completed" id="close-issue">
                  <Icon name="issueClosed" class="text-done" /> Close issue
                </button>
                <button type="submit" class="btn" formaction={`${base}/state`} name="state" value="not_planned" id="close-not-planned">
                  <Icon name="issueSkipped" class="muted" /> Close as not planned
                </button>
              </>
            )}
            {data.canEdit && issue.state === 'closed' && (
              <button type="submit" class="btn" formaction={`${base}/state`} name="state" value="open" id="reopen-issue">
                <Icon name="issueOpen" class="text-add" /> Reopen issue
              </button>
            )}
            <button type="submit" class="btn btn-primary" id="comment-submit">
              Comment
            </button>
          </div>
        </div>
      </PostForm>
    </div>
  );
};

// ---------- sidebar ----------

const SideAssignees: FC<{ ctx: PageContext; view: RepoView; data: IssuePageData }> = ({ ctx, view, data }) => {
  const { issue } = data;
  const assigned = new Set(issue.assignees.map((a) => (a.kind === 'agent' ? a.key : a.user.username.toLowerCase())));
  return (
    <section class="side-section" id="side-assignees">
      <div class="side-heading-row">
        <h3 class="side-heading">Assignees</h3>
        {data.canWrite && (
          <details class="dropdown side-picker" id="assignee-picker">
            <summary class="side-edit" aria-label="Edit assignees">
              <Icon name="gear" />
            </summary>
            <div class="dropdown-panel dropdown-panel-right side-picker-panel">
              <PostForm ctx={ctx} action={`${issueUrl(view.repo, issue.number)}/assignees`} class="stack">
                <fieldset class="side-fieldset">
                  <legend class="side-picker-title">People</legend>
                  {data.assignable.length === 0 && <p class="muted side-empty">Nobody to assign.</p>}
                  {data.assignable.map((u) => (
                    <label class="checkbox-line">
                      <input type="checkbox" name="assignees" value={u} checked={assigned.has(u.toLowerCase())} /> <Avatar name={u} size="sm" /> {u}
                    </label>
                  ))}
                </fieldset>
                {data.agents.length > 0 && (
                  <fieldset class="side-fieldset">
                    <legend class="side-picker-title">Agents</legend>
                    {data.agents.map((a) => (
                      <label class={a.available ? 'checkbox-line' : 'checkbox-line disabled'} title={a.reason ?? a.description}>
                        <input type="checkbox" name="assignees" value={`agent:${a.key}`} checked={assigned.has(`agent:${a.key}`)} disabled={!a.available && !assigned.has(`agent:${a.key}`)} />{' '}
                        <span class="agent-avatar" aria-hidden="true">
                          <Icon name="robot" />
                        </span>{' '}
                        {a.key}
                        {a.kind === 'driver' && a.key === 'script' ? <span class="muted"> (scripted)</span> : null}
                        {!a.available && <span class="muted"> (unavailable)</span>}
                      </label>
                    ))}
                    <p class="hint">Assigning an agent starts a run on this issue.</p>
                  </fieldset>
                )}
                <button type="submit" class="btn btn-primary btn-sm" id="apply-assignees">
                  Apply
                </button>
              </PostForm>
            </div>
          </details>
        )}
      </div>
      {issue.assignees.length === 0 ? (
        <p class="muted side-empty">No one assigned</p>
      ) : (
        <ul class="side-list" id="side-assignees-values">
          {issue.assignees.map((a: Assignee) => (
            <li>
              <AssigneeChip a={a} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
};

const SideLabels: FC<{ ctx: PageContext; view: RepoView; data: IssuePageData }> = ({ ctx, view, data }) => {
  const { issue } = data;
  const has = new Set(issue.labels.map((l) => l.id));
  return (
    <section class="side-section" id="side-labels">
      <div class="side-heading-row">
        <h3 class="side-heading">Labels</h3>
        {data.canWrite && (
          <details class="dropdown side-picker" id="label-picker">
            <summary class="side-edit" aria-label="Edit labels">
              <Icon name="gear" />
            </summary>
            <div class="dropdown-panel dropdown-panel-right side-picker-panel">
              <PostForm ctx={ctx} action={`${issueUrl(view.repo, issue.number)}/labels`} class="stack">
                <input type="hidden" name="labels_form" value="1" />
                {data.repoLabels.length === 0 ? (
                  <p class="muted side-empty">
                    No labels yet. <a href={labelsUrl(view.repo)}>Create one</a>
                  </p>
                ) : (
                  <fieldset class="side-fieldset side-label-choices">
                    <legend class="sr-only">Labels</legend>
                    {data.repoLabels.map((l) => (
                      <label class="checkbox-line">
                        <input type="checkbox" name="labels" value={l.name} checked={has.has(l.id)} /> <LabelChip view={view} label={l} plain />
                      </label>
                    ))}
                  </fieldset>
                )}
                <div class="side-picker-foot">
                  <a href={labelsUrl(view.repo)} class="muted-link">
                    Edit labels
                  </a>
                  <button type="submit" class="btn btn-primary btn-sm" id="apply-labels">
                    Apply
                  </button>
                </div>
              </PostForm>
            </div>
          </details>
        )}
      </div>
      {issue.labels.length === 0 ? (
        <p class="muted side-empty">None yet</p>
      ) : (
        <div class="side-labels" id="side-labels-values">
          {issue.labels.map((l) => (
            <LabelChip view={view} label={l} />
          ))}
        </div>
      )}
    </section>
  );
};

const PULL_ICON: Record<string, IconName> = { open: 'pull', merged: 'merge', closed: 'closed' };

const SideDevelopment: FC<{ view: RepoView; data: IssuePageData }> = ({ view, data }) => (
  <section class="side-section" id="side-pulls">
    <h3 class="side-heading">Linked pull requests</h3>
    {data.linkedPulls.length === 0 ? (
      <p class="muted side-empty">None yet</p>
    ) : (
      <ul class="side-list">
        {data.linkedPulls.map((p) => {
          const kind = p.state === 'open' && p.draft ? 'draft' : p.state;
          return (
            <li class="side-pull">
              <span class={`state-icon state-icon-${kind}`} title={kind}>
                <Icon name={kind === 'draft' ? 'draft' : (PULL_ICON[p.state] ?? 'pull')} />
              </span>
              <a href={pullUrl(view.repo, p.number)} class="side-pull-link">
                <span class="side-pull-title">{p.title}</span> <span class="muted">#{p.number}</span>
              </a>
            </li>
          );
        })}
      </ul>
    )}
  </section>
);

const SideRuns: FC<{ view: RepoView; data: IssuePageData }> = ({ view, data }) => (
  <section class="side-section" id="side-runs">
    <h3 class="side-heading">Runs</h3>
    {data.runs.length === 0 ? (
      <p class="muted side-empty">{data.canWrite ? 'Assign an agent to start one.' : 'No agent has worked on this issue.'}</p>
    ) : (
      <ol class="side-list issue-runs" reversed>
        {[...data.runs].reverse().map((r) => (
          <li class="issue-run" data-run={String(r.number)}>
            <a href={runUrl(view, r.number)} class="issue-run-number">
              #{r.number}
            </a>
            <RunAgent run={r} />
            <RunStatusBadge status={r.status} id={`side-run-${r.number}-status`} />
            {r.pull_request && (
              <a class="muted-link issue-run-pr" href={pullUrl(view.repo, r.pull_request.number)}>
                PR #{r.pull_request.number}
              </a>
            )}
          </li>
        ))}
      </ol>
    )}
  </section>
);

// ---------- page ----------

export const IssuePage: FC<{ ctx: PageContext; view: RepoView; data: IssuePageData; editError?: FormError | null; commentError?: FormError | null; commentBody?: string }> = ({ ctx, view, data, editError, commentError, commentBody }) => {
  const { issue } = data;
  const active = data.runs.some(isActiveRun);
  return (
    <RepoLayout ctx={ctx} view={view} title={`${issue.title} · Issue #${issue.number} · ${view.repo.owner_name}/${view.repo.name}`} active="issues">
      <PageAssets ctx={ctx} styles={['runs.css', 'issues.css']} scripts={['issues.js']} refreshSeconds={data.live ? 10 : undefined} />
      <LabelStyles view={view} version={data.labelsVersion} />
      <IssueHeader ctx={ctx} view={view} data={data} editError={editError} />
      <div
        id="issue-live"
        class="issue-live"
        hidden={!data.live}
        data-live-url={data.live ? `${issueUrl(view.repo, issue.number)}/live` : undefined}
        data-live-key={data.liveKey}
        aria-live="polite"
      >
        <span class="run-live-dot" aria-hidden="true"></span>
        <span class="issue-live-text">{active ? 'An agent is working on this issue' : 'Waiting for the agent to start'}</span>
      </div>
      <div class="pull-body issue-body">
        <div class="timeline">
          <IssueTimeline view={view} data={data} />
          <CommentForm ctx={ctx} view={view} data={data} error={commentError} body={commentBody} />
        </div>
        <aside class="pull-side issue-side">
          <SideAssignees ctx={ctx} view={view} data={data} />
          <SideLabels ctx={ctx} view={view} data={data} />
          <SideDevelopment view={view} data={data} />
          <SideRuns view={view} data={data} />
        </aside>
      </div>
    </RepoLayout>
  );
};
