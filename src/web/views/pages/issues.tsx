import type { FC } from 'hono/jsx';
import type { FormError, PageContext } from '../context.ts';
import type { Label } from '../../../db/schema.ts';
import type { Assignee, IssueItem } from '../../../services/issues.ts';
import type { IssueAgent } from '../../../services/issueAgentKeys.ts';
import type { IssueTemplates } from '../../../services/issueTemplates.ts';
import { Avatar, EmptyState, FormAlert, PageAssets, PageLinks, PostForm, StateTabs, Time, fieldInvalid } from '../components.tsx';
import { Icon, type IconName } from '../icons.tsx';
import { issuesUrl, issueUrl, labelsUrl, pullUrl } from '../urls.ts';
import { RepoLayout, type RepoView } from './repo.tsx';
import { LabelChip, LabelStyles } from './labels.tsx';

// ---------- shared pieces (list, issue page) ----------

export type IssueStateKind = 'open' | 'completed' | 'not_planned';

export function issueStateKind(item: Pick<IssueItem, 'state' | 'state_reason'>): IssueStateKind {
  if (item.state === 'open') return 'open';
  return item.state_reason === 'not_planned' ? 'not_planned' : 'completed';
}

const STATE_ICON: Record<IssueStateKind, IconName> = { open: 'issueOpen', completed: 'issueClosed', not_planned: 'issueSkipped' };
const STATE_LABEL: Record<IssueStateKind, string> = { open: 'Open', completed: 'Closed', not_planned: 'Closed as not planned' };

export const IssueStateBadge: FC<{ item: Pick<IssueItem, 'state' | 'state_reason'>; id?: string }> = ({ item, id }) => {
  const kind = issueStateKind(item);
  return (
    <span class={`state-badge issue-state-${kind}`} id={id} data-issue-state={kind}>
      <Icon name={STATE_ICON[kind]} /> {kind === 'not_planned' ? 'Not planned' : STATE_LABEL[kind]}
    </span>
  );
};

export const IssueStateIcon: FC<{ item: Pick<IssueItem, 'state' | 'state_reason'> }> = ({ item }) => {
  const kind = issueStateKind(item);
  return (
    <span class={`state-icon issue-icon-${kind}`} title={STATE_LABEL[kind]}>
      <Icon name={STATE_ICON[kind]} />
    </span>
  );
};

/** `agent:codex` → "codex". */
export const agentName = (a: Extract<Assignee, { kind: 'agent' }>) => a.agentKey;

/** A user (avatar and login, linking to the profile) or an agent (robot, its key). */
export const AssigneeChip: FC<{ a: Assignee; compact?: boolean }> = ({ a, compact }) =>
  a.kind === 'agent' ? (
    <span class="assignee assignee-agent" title={`Agent ${agentName(a)}`}>
      <span class="agent-avatar" aria-hidden="true">
        <Icon name="robot" />
      </span>
      {!compact && <span class="assignee-name">{agentName(a)}</span>}
      {compact && <span class="sr-only">agent {agentName(a)}</span>}
    </span>
  ) : (
    <a class="assignee" href={`/${encodeURIComponent(a.user.username)}`} title={a.user.username}>
      <Avatar name={a.user.username} size="sm" />
      {!compact && <span class="assignee-name">{a.user.username}</span>}
      {compact && <span class="sr-only">{a.user.username}</span>}
    </a>
  );

/** The issue pages' stylesheet, script and the repository's label colours. */
export const IssueAssets: FC<{ ctx: PageContext; view: RepoView; labelsVersion: string; script?: boolean }> = ({ ctx, view, labelsVersion, script }) => (
  <>
    <PageAssets ctx={ctx} styles={['issues.css']} scripts={script ? ['issues.js'] : []} />
    <LabelStyles view={view} version={labelsVersion} />
  </>
);

// ---------- the list ----------

export const ISSUE_SORTS = ['newest', 'oldest', 'updated', 'comments'] as const;
export type IssueSort = (typeof ISSUE_SORTS)[number];
const SORT_LABEL: Record<IssueSort, string> = { newest: 'Newest', oldest: 'Oldest', updated: 'Recently updated', comments: 'Most commented' };

export interface IssuesFilter {
  state: 'open' | 'closed' | 'all';
  label: string;
  /** '' anyone, 'none', a login or `agent:<key>`. */
  assignee: string;
  author: string;
  q: string;
  sort: IssueSort;
  page: number;
}

export function issuesListHref(view: RepoView, f: Partial<IssuesFilter>): string {
  const q = new URLSearchParams();
  if (f.state && f.state !== 'open') q.set('state', f.state);
  if (f.q) q.set('q', f.q);
  if (f.label) q.set('label', f.label);
  if (f.assignee) q.set('assignee', f.assignee);
  if (f.author) q.set('author', f.author);
  if (f.sort && f.sort !== 'newest') q.set('sort', f.sort);
  if (f.page && f.page > 1) q.set('page', String(f.page));
  const qs = q.toString();
  return `${issuesUrl(view.repo)}${qs ? `?${qs}` : ''}`;
}

export interface IssuesListProps {
  ctx: PageContext;
  view: RepoView;
  items: IssueItem[];
  total: number;
  /** Open and closed issues matching the other filters. */
  counts: { open: number; closed: number };
  filter: IssuesFilter;
  perPage: number;
  labels: Label[];
  users: string[];
  agents: IssueAgent[];
  labelsVersion: string;
}

export const IssuesListPage: FC<IssuesListProps> = ({ ctx, view, items, total, counts, filter, perPage, labels, users, agents, labelsVersion }) => {
  const { repo } = view;
  const pages = Math.max(1, Math.ceil(total / perPage));
  const filtered = !!(filter.label || filter.assignee || filter.author || filter.q);
  const keep = { ...filter, page: 1 };
  return (
    <RepoLayout ctx={ctx} view={view} title={`Issues · ${repo.owner_name}/${repo.name}`} active="issues">
      <IssueAssets ctx={ctx} view={view} labelsVersion={labelsVersion} />
      <div class="page-title-row">
        <h2 class="page-title">Issues</h2>
        <div class="issue-title-actions">
          <a class="btn btn-sm" href={labelsUrl(repo)}>
            <Icon name="tag" /> Labels <span class="counter">{labels.length}</span>
          </a>
          {ctx.user ? (
            <a class="btn btn-primary btn-sm" href={`${issuesUrl(repo)}/new`} id="new-issue-button">
              <Icon name="issueOpen" /> New issue
            </a>
          ) : null}
        </div>
      </div>
      <form method="get" action={issuesUrl(repo)} class="issue-filters" role="search">
        {filter.state !== 'open' && <input type="hidden" name="state" value={filter.state} />}
        <label class="sr-only" for="filter-q">
          Search issues
        </label>
        <input id="filter-q" class="input input-sm issue-search" type="search" name="q" value={filter.q} placeholder="Search title and description" maxlength={200} />
        <label class="sr-only" for="filter-label">
          Label
        </label>
        <select id="filter-label" name="label" class="input select select-sm">
          <option value="">All labels</option>
          {labels.map((l) => (
            <option value={l.name} selected={l.name.toLowerCase() === filter.label.toLowerCase()}>
              {l.name}
            </option>
          ))}
        </select>
        <label class="sr-only" for="filter-assignee">
          Assignee
        </label>
        <select id="filter-assignee" name="assignee" class="input select select-sm">
          <option value="">Any assignee</option>
          <option value="none" selected={filter.assignee === 'none'}>
            Assigned to nobody
          </option>
          {users.map((u) => (
            <option value={u} selected={u.toLowerCase() === filter.assignee.toLowerCase()}>
              {u}
            </option>
          ))}
          {agents.length > 0 && (
            <optgroup label="Agents">
              {agents.map((a) => (
                <option value={`agent:${a.key}`} selected={`agent:${a.key}` === filter.assignee}>
                  {a.key} (agent)
                </option>
              ))}
            </optgroup>
          )}
        </select>
        <label class="sr-only" for="filter-author">
          Author
        </label>
        <input id="filter-author" class="input input-sm" type="text" name="author" value={filter.author} placeholder="Author (username)" maxlength={100} />
        <label class="sr-only" for="filter-sort">
          Sort
        </label>
        <select id="filter-sort" name="sort" class="input select select-sm">
          {ISSUE_SORTS.map((s) => (
            <option value={s} selected={s === filter.sort}>
              {SORT_LABEL[s]}
            </option>
          ))}
        </select>
        <button type="submit" class="btn btn-sm">
          Filter
        </button>
        {filtered && (
          <a class="btn btn-sm btn-ghost" href={issuesListHref(view, { state: filter.state })}>
            <Icon name="x" /> Clear filters
          </a>
        )}
      </form>
      <div class="card pull-list-card">
        <div class="card-head pull-list-head">
          <StateTabs state={filter.state} counts={counts} href={(state) => issuesListHref(view, { ...keep, state })} openIcon="issueOpen" idPrefix="issues" />
        </div>
        {items.length === 0 ? (
          <EmptyState icon="issueOpen" title={filtered ? 'No issues match these filters' : filter.state === 'open' ? 'No open issues' : 'No issues'}>
            <p class="muted">Issues track bugs, ideas and tasks. Assign one to an agent and it opens a pull request that closes the issue when merged.</p>
          </EmptyState>
        ) : (
          <ul class="pull-list issue-list">
            {items.map((item) => (
              <li class="pull-row issue-row" id={`issue-${item.number}`}>
                <IssueStateIcon item={item} />
                <div class="pull-row-main">
                  <div class="pull-row-title">
                    <a href={issueUrl(repo, item.number)} class="pull-title-link issue-title-link">
                      {item.title}
                    </a>
                    {item.labels.map((l) => (
                      <LabelChip view={view} label={l} />
                    ))}
                  </div>
                  <div class="pull-row-meta muted">
                    #{item.number}{' '}
                    {item.state === 'closed' && item.closed_at ? (
                      <>
                        by {item.author?.username ?? 'ghost'} was closed <Time iso={item.closed_at} />
                      </>
                    ) : (
                      <>
                        opened <Time iso={item.created_at} /> by {item.author?.username ?? 'ghost'}
                      </>
                    )}
                  </div>
                </div>
                <div class="issue-row-side">
                  {item.assignees.length > 0 && (
                    <span class="issue-row-assignees">
                      {item.assignees.map((a) => (
                        <AssigneeChip a={a} compact />
                      ))}
                    </span>
                  )}
                  {item.comments > 0 && (
                    <a class="pull-row-comments muted" href={issueUrl(repo, item.number)} title={`${item.comments} comments`}>
                      <Icon name="comment" /> {item.comments}
                    </a>
                  )}
                </div>
              </li>
            ))}
          </ul>
        )}
      </div>
      {pages > 1 && <PageLinks page={filter.page} pages={pages} href={(n) => issuesListHref(view, { ...filter, page: n })} prevText="← Previous" nextText="Next →" infoClass="muted pager-info" />}
    </RepoLayout>
  );
};

// ---------- new issue ----------

export interface NewIssueValues {
  title: string;
  body: string;
  labels: string[];
  assignees: string[];
  /** The issue template the form was filled from (its file name), if any. */
  template?: { file: string; name: string } | null;
}

export const NewIssuePage: FC<{ ctx: PageContext; view: RepoView; values: NewIssueValues; error?: FormError | null; canWrite: boolean; labels: Label[]; users: string[]; agents: IssueAgent[]; labelsVersion: string }> = ({
  ctx,
  view,
  values,
  error,
  canWrite,
  labels,
  users,
  agents,
  labelsVersion,
}) => {
  const { repo } = view;
  const chosenLabels = new Set(values.labels.map((l) => l.toLowerCase()));
  const chosenAssignees = new Set(values.assignees.map((a) => a.toLowerCase()));
  return (
    <RepoLayout ctx={ctx} view={view} title={`New issue · ${repo.owner_name}/${repo.name}`} active="issues">
      <IssueAssets ctx={ctx} view={view} labelsVersion={labelsVersion} />
      <div class="page-title-row">
        <h2 class="page-title">New issue</h2>
      </div>
      <PostForm ctx={ctx} action={issuesUrl(repo)} class="new-issue" id="new-issue">
        <div class="new-issue-main card card-pad stack">
          <FormAlert error={error} />
          {values.template && (
            <p class="muted issue-template-used">
              <Icon name="file" /> From the template <strong>{values.template.name}</strong> · <a href={`${issuesUrl(repo)}/new/choose`}>Choose another</a>
              <input type="hidden" name="template" value={values.template.file} />
            </p>
          )}
          <div class="field">
            <label for="issue-title">Title</label>
            <input id="issue-title" class="input" type="text" name="title" value={values.title} maxlength={256} required autofocus aria-invalid={fieldInvalid(error, 'title') ? 'true' : undefined} />
          </div>
          <div class="field">
            <label for="issue-body">Description</label>
            <textarea id="issue-body" class="input" name="body" rows={10} placeholder="What should change, and why? (Markdown; #N, OWNER/REPO#N and @user are linked)" aria-invalid={fieldInvalid(error, 'body') ? 'true' : undefined}>
              {values.body}
            </textarea>
          </div>
          <div class="form-actions form-actions-end">
            <button type="submit" class="btn btn-primary" id="submit-new-issue">
              Submit new issue
            </button>
          </div>
        </div>
        {canWrite && (
          <aside class="pull-side new-issue-side">
            <fieldset class="side-section side-fieldset">
              <legend class="side-heading">Labels</legend>
              {labels.length === 0 ? (
                <p class="muted side-empty">
                  No labels yet. <a href={labelsUrl(repo)}>Create one</a>
                </p>
              ) : (
                <ul class="side-choices">
                  {labels.map((l) => (
                    <li>
                      <label class="checkbox-line">
                        <input type="checkbox" name="labels" value={l.name} checked={chosenLabels.has(l.name.toLowerCase())} /> <LabelChip view={view} label={l} plain />
                      </label>
                    </li>
                  ))}
                </ul>
              )}
            </fieldset>
            <fieldset class="side-section side-fieldset">
              <legend class="side-heading">Assignees</legend>
              <ul class="side-choices">
                {users.map((u) => (
                  <li>
                    <label class="checkbox-line">
                      <input type="checkbox" name="assignees" value={u} checked={chosenAssignees.has(u.toLowerCase())} /> <Avatar name={u} size="sm" /> {u}
                    </label>
                  </li>
                ))}
                {agents.map((a) => (
                  <li>
                    <label class={a.available ? 'checkbox-line' : 'checkbox-line disabled'} title={a.reason ?? a.description}>
                      <input type="checkbox" name="assignees" value={`agent:${a.key}`} checked={chosenAssignees.has(`agent:${a.key}`)} disabled={!a.available} />{' '}
                      <span class="agent-avatar" aria-hidden="true">
                        <Icon name="robot" />
                      </span>{' '}
                      {a.key} <span class="muted">agent</span>
                    </label>
                  </li>
                ))}
              </ul>
              <p class="hint">Assigning an agent starts a run on this issue; its pull request closes it when merged.</p>
            </fieldset>
          </aside>
        )}
      </PostForm>
    </RepoLayout>
  );
};

export const pullOrIssueUrl = (view: RepoView, item: Pick<IssueItem, 'kind' | 'number'>) => (item.kind === 'pull' ? pullUrl(view.repo, item.number) : issueUrl(view.repo, item.number));

/**
 * The template chooser (`/issues/new/choose`, GitHub's): each template with its description and a
 * "Get started" link, a blank issue unless the repository's config.yml switched them off, and its
 * contact links (web addresses only, opened outside).
 */
export const IssueTemplateChooserPage: FC<{ ctx: PageContext; view: RepoView; templates: IssueTemplates }> = ({ ctx, view, templates }) => {
  const { repo } = view;
  const newUrl = `${issuesUrl(repo)}/new`;
  const usable = templates.templates.filter((t) => !t.error);
  const broken = templates.templates.filter((t) => t.error);
  return (
    <RepoLayout ctx={ctx} view={view} title={`New issue · ${repo.owner_name}/${repo.name}`} active="issues">
      <div class="page-title-row">
        <h2 class="page-title">New issue</h2>
        <p class="muted">Choose what kind of issue to open.</p>
      </div>
      <ul class="card template-choices" id="issue-templates">
        {usable.map((t) => (
          <li class="template-choice">
            <div>
              <strong>{t.name}</strong>
              {t.about && <p class="muted">{t.about}</p>}
            </div>
            <a class="btn btn-primary btn-sm" href={`${newUrl}?template=${encodeURIComponent(t.file)}`}>
              Get started
            </a>
          </li>
        ))}
        {templates.contactLinks.map((l) => (
          <li class="template-choice">
            <div>
              <strong>{l.name}</strong>
              {l.about && <p class="muted">{l.about}</p>}
            </div>
            <a class="btn btn-sm" href={l.url} target="_blank" rel="noopener noreferrer nofollow">
              <Icon name="link" /> Open
            </a>
          </li>
        ))}
      </ul>
      {templates.blankIssuesEnabled && (
        <p class="muted template-blank">
          Don’t see your issue here? <a href={`${newUrl}?template=`}>Open a blank issue.</a>
        </p>
      )}
      {broken.length > 0 && (
        <div class="flash flash-warning" role="status">
          <Icon name="alert" />
          <span>
            {broken.length === 1 ? 'A template could not be read' : `${broken.length} templates could not be read`}: {broken.map((t) => t.error).join('; ')}
          </span>
        </div>
      )}
    </RepoLayout>
  );
};
