import type { Context, Hono } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { RepositoryAccess } from '../../../services/repositories.ts';
import type { Label } from '../../../db/schema.ts';
import { ServiceError, notFound } from '../../../services/errors.ts';
import { addIssueComment, createIssue, getIssueItem, listAssignableUsers, listIssues, updateIssue, type IssueItem, type IssueListFilters } from '../../../services/issues.ts';
import { agentOfLabel, createLabel, deleteLabel, listLabels, openIssueCountsByLabel, setIssueLabels, updateLabel } from '../../../services/issueLabels.ts';
import { listIssueAgents, type IssueAgent } from '../../../services/issueAgentKeys.ts';
import { loadIssueTemplates } from '../../../services/issueTemplates.ts';
import { roleAtLeast } from '../../../domain/permissions.ts';
import type { FormError } from '../../views/context.ts';
import { sentence } from '../../views/format.ts';
import { resolveReferenceLinks } from '../../models/references.ts';
import { isActiveRun, issueEventCount, liveKey, loadLinkedPulls } from '../../models/issuePage.ts';
import { issueRuns, issueTimeline, type TimelineItem } from '../../../services/issueTimeline.ts';
import { parseRunCommand } from '../../../domain/issueReferences.ts';
import { ISSUE_SORTS, IssuesListPage, IssueTemplateChooserPage, NewIssuePage, type IssueSort, type IssuesFilter, type NewIssueValues } from '../../views/pages/issues.tsx';
import { IssuePage, type IssuePageData } from '../../views/pages/issuesDetail.tsx';
import { LabelsPage, SUGGESTED_COLOURS, labelStylesheet, labelStylesVersion, type LabelFormValues } from '../../views/pages/labels.tsx';
import { issueUrl, issuesUrl, labelsUrl, pullUrl } from '../../views/urls.ts';
import { type FormFields, pageContext, pageNumber, readForm, render, requireUser, setFlash } from './render.tsx';
import { askToConfirm, isConfirmed } from './confirm.tsx';
import { repoAccess, repoView } from './access.ts';

const PER_PAGE = 25;
const STATES = ['open', 'closed', 'all'] as const;
/** After an agent is assigned (or labelled, or `/run`), the page waits this long for its run to appear. */
const PENDING_RUN_MS = 5 * 60_000;

function issueNumber(c: Context<WebEnv>): number {
  const raw = c.req.param('number') ?? '';
  const n = /^[1-9][0-9]{0,9}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n > 2_147_483_647) throw notFound();
  return n;
}

/** A refusal the user can act on (a bad field, a conflict, too long) — not a missing page, a sign-in or a permission. */
function isUserError(err: unknown): err is ServiceError {
  return err instanceof ServiceError && (err.status === 422 || err.status === 409 || err.status === 413 || err.status === 400);
}

/** The status a re-rendered form answers with. */
const formStatus = (err: ServiceError): 409 | 413 | 422 => (err.status === 409 || err.status === 413 ? err.status : 422);

const canWriteRepo = (c: Context<WebEnv>, access: RepositoryAccess) => !!c.get('identity') && roleAtLeast(access.role, 'write');

/** Every label of the repository (a page of the service at a time). */
async function labelsOf(c: Context<WebEnv>, access: RepositoryAccess): Promise<Label[]> {
  const first = await listLabels(c.get('app'), access, { per_page: 100 });
  const all = [...first.labels];
  for (let page = 2; all.length < first.total && page <= 20; page++) all.push(...(await listLabels(c.get('app'), access, { per_page: 100, page })).labels);
  return all;
}

/** The agents an issue can be assigned to; only writers get them (others see no such control). */
async function agentsFor(c: Context<WebEnv>, access: RepositoryAccess): Promise<IssueAgent[]> {
  return canWriteRepo(c, access) ? listIssueAgents(c.get('app'), access) : [];
}

// ---------- list ----------

function listFilter(c: Context<WebEnv>): IssuesFilter {
  const stateParam = c.req.query('state') ?? 'open';
  const sortParam = c.req.query('sort') ?? 'newest';
  const text = (name: string, max: number) => (c.req.query(name) ?? '').replace(/\0/g, '').trim().slice(0, max);
  return {
    state: (STATES as readonly string[]).includes(stateParam) ? (stateParam as IssuesFilter['state']) : 'open',
    label: text('label', 50),
    assignee: text('assignee', 80),
    author: text('author', 100),
    q: text('q', 200),
    sort: (ISSUE_SORTS as readonly string[]).includes(sortParam) ? (sortParam as IssueSort) : 'newest',
    page: pageNumber(c.req.query('page')),
  };
}

function serviceFilters(f: IssuesFilter): IssueListFilters {
  const sort: Pick<IssueListFilters, 'sort' | 'direction'> =
    f.sort === 'oldest' ? { sort: 'created', direction: 'asc' } : f.sort === 'updated' ? { sort: 'updated', direction: 'desc' } : f.sort === 'comments' ? { sort: 'comments', direction: 'desc' } : { sort: 'created', direction: 'desc' };
  return { kind: 'issue', labels: f.label ? [f.label] : undefined, assignee: f.assignee || undefined, creator: f.author || undefined, q: f.q || undefined, ...sort };
}

// ---------- the issue page ----------

/** A timeline entry that should start an agent run (assigning an agent, an agent label, `/run`). */
function isAgentTrigger(item: TimelineItem, labels: Label[]): boolean {
  if (item.type === 'assigned') return item.assignee.startsWith('agent:');
  if (item.type === 'labeled') {
    const label = labels.find((l) => l.name.toLowerCase() === item.label.name.toLowerCase());
    return !!label && agentOfLabel(label) !== null;
  }
  if (item.type === 'commented') return parseRunCommand(item.comment.body) !== null;
  return false;
}

async function issuePageData(c: Context<WebEnv>, access: RepositoryAccess, issue: IssueItem): Promise<IssuePageData> {
  const app = c.get('app');
  const identity = c.get('identity');
  const viewer = identity?.viewer ?? null;
  const canWrite = canWriteRepo(c, access);
  const [timeline, runs, repoLabels, assignable, agents] = await Promise.all([
    issueTimeline(app, access, viewer, issue.number),
    issueRuns(app, issue.id),
    labelsOf(c, access),
    canWrite ? listAssignableUsers(app, access).then((users) => users.map((u) => u.username)) : Promise.resolve([] as string[]),
    agentsFor(c, access),
  ]);
  const texts = [issue.body, ...timeline.flatMap((t) => (t.type === 'commented' ? [t.comment.body] : []))];
  const [linkedPulls, links, events] = await Promise.all([loadLinkedPulls(app, access, runs, timeline), resolveReferenceLinks(app, viewer, access, texts), issueEventCount(app, access.repo.id, issue.number)]);
  // Between an agent's assignment and its run's creation (a behavior starts it), the page waits for it.
  const lastRunAt = runs.length ? runs[runs.length - 1]!.created_at : '';
  const triggerIndex = timeline.findLastIndex((t) => isAgentTrigger(t, repoLabels));
  const lastTrigger = triggerIndex >= 0 ? timeline[triggerIndex]! : null;
  // …unless the agent said it could not start (recorded after the trigger).
  const refused = triggerIndex >= 0 && timeline.slice(triggerIndex + 1).some((t) => t.type === 'run_not_started');
  const pending = issue.state === 'open' && !!lastTrigger && !refused && lastTrigger.created_at > lastRunAt && Date.now() - Date.parse(lastTrigger.created_at) < PENDING_RUN_MS;
  return {
    issue,
    timeline,
    runs,
    linkedPulls,
    repoLabels,
    labelsVersion: labelStylesVersion(repoLabels),
    canWrite,
    canEdit: canWrite || (!!identity && issue.author?.id === identity.user.id),
    assignable,
    agents,
    links,
    live: runs.some(isActiveRun) || pending,
    liveKey: liveKey(issue.state, runs, events),
  };
}

/** The issue numbered `n`; a pull request's number redirects to the pull request (they share numbers). */
async function loadIssue(c: Context<WebEnv>, access: RepositoryAccess, n: number): Promise<IssueItem | Response> {
  const item = await getIssueItem(c.get('app'), access, n);
  if (item.kind === 'pull') return c.redirect(pullUrl(access.repo, n), 302);
  return item;
}

async function renderIssue(c: Context<WebEnv>, access: RepositoryAccess, n: number, opts: { editError?: FormError; commentError?: FormError; commentBody?: string; status?: 409 | 413 | 422 } = {}): Promise<Response> {
  const issue = await loadIssue(c, access, n);
  if (issue instanceof Response) return issue;
  const [data, view] = await Promise.all([issuePageData(c, access, issue), repoView(c, access)]);
  return render(c, <IssuePage ctx={pageContext(c)} view={view} data={data} editError={opts.editError} commentError={opts.commentError} commentBody={opts.commentBody} />, opts.status ?? 200);
}

// ---------- new issue ----------

async function renderNewIssue(c: Context<WebEnv>, access: RepositoryAccess, values: NewIssueValues, error: FormError | null, status: 200 | 409 | 413 | 422 = 200): Promise<Response> {
  const app = c.get('app');
  const canWrite = canWriteRepo(c, access);
  const [view, labels, users, agents] = await Promise.all([repoView(c, access), labelsOf(c, access), canWrite ? listAssignableUsers(app, access).then((u) => u.map((x) => x.username)) : Promise.resolve([] as string[]), agentsFor(c, access)]);
  return render(c, <NewIssuePage ctx={pageContext(c)} view={view} values={values} error={error} canWrite={canWrite} labels={labels} users={users} agents={agents} labelsVersion={labelStylesVersion(labels)} />, status);
}

// ---------- labels ----------

function labelValues(form: FormFields): LabelFormValues {
  return { name: form.get('name').trim(), color: form.get('color').trim().replace(/^#/, ''), description: form.get('description').trim() };
}

async function renderLabels(c: Context<WebEnv>, access: RepositoryAccess, opts: { newValues?: LabelFormValues; error?: FormError; editing?: { id: number; values: LabelFormValues; error: FormError }; status?: 409 | 413 | 422 } = {}): Promise<Response> {
  const app = c.get('app');
  const [view, labels, openCounts] = await Promise.all([repoView(c, access), labelsOf(c, access), openIssueCountsByLabel(app, access.repo.id)]);
  const newValues = opts.newValues ?? { name: '', color: SUGGESTED_COLOURS[labels.length % SUGGESTED_COLOURS.length]!, description: '' };
  return render(
    c,
    <LabelsPage ctx={pageContext(c)} view={view} labels={labels} openCounts={openCounts} canWrite={canWriteRepo(c, access)} stylesVersion={labelStylesVersion(labels)} newValues={newValues} error={opts.error} editing={opts.editing} />,
    opts.status ?? 200,
  );
}

async function labelById(c: Context<WebEnv>, access: RepositoryAccess): Promise<Label> {
  const raw = c.req.param('id') ?? '';
  const id = /^[1-9][0-9]{0,9}$/.test(raw) ? Number(raw) : NaN;
  const label = (await labelsOf(c, access)).find((l) => l.id === id);
  if (!label) throw notFound();
  return label;
}

export function registerIssueRoutes(ui: Hono<WebEnv>): void {
  ui.get('/:owner/:repo/issues', async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c);
    const filter = listFilter(c);
    const base = serviceFilters(filter);
    const [list, open, closed, labels, users, agents, view] = await Promise.all([
      listIssues(app, access, { ...base, state: filter.state, page: filter.page, per_page: PER_PAGE }),
      listIssues(app, access, { ...base, state: 'open', per_page: 1 }),
      listIssues(app, access, { ...base, state: 'closed', per_page: 1 }),
      labelsOf(c, access),
      listAssignableUsers(app, access).then((u) => u.map((x) => x.username)),
      listIssueAgents(app, access).catch(() => [] as IssueAgent[]),
      repoView(c, access),
    ]);
    return render(
      c,
      <IssuesListPage ctx={pageContext(c)} view={view} items={list.issues} total={list.total} counts={{ open: open.total, closed: closed.total }} filter={filter} perPage={PER_PAGE} labels={labels} users={users} agents={agents} labelsVersion={labelStylesVersion(labels)} />,
    );
  });

  ui.get('/:owner/:repo/issues/new', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const access = await repoAccess(c);
    const title = c.req.query('title');
    const body = c.req.query('body');
    const chosen = c.req.query('template');
    const templates = await loadIssueTemplates(access);
    const usable = templates.templates.filter((t) => !t.error);
    const choose = () => c.redirect(`${issuesUrl(access.repo)}/new/choose`, 302);
    const values: NewIssueValues = { title: (title ?? '').slice(0, 256), body: (body ?? templates.legacyBody ?? '').slice(0, 65_536), labels: [], assignees: [] };
    // As on GitHub: templates to choose from lead to the chooser, unless the link fills the form itself.
    if (chosen === undefined && usable.length > 0 && title === undefined && body === undefined) return choose();
    if (chosen) {
      const template = usable.find((t) => t.file === chosen);
      if (!template) return choose();
      const writer = canWriteRepo(c, access);
      return renderNewIssue(c, access, { title: title ?? template.title, body: body ?? template.body, labels: writer ? template.labels : [], assignees: writer ? template.assignees : [], template: { file: template.file, name: template.name } }, null);
    }
    if (!templates.blankIssuesEnabled && usable.length > 0 && title === undefined && body === undefined) return choose();
    return renderNewIssue(c, access, values, null);
  });

  ui.get('/:owner/:repo/issues/new/choose', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const access = await repoAccess(c);
    const templates = await loadIssueTemplates(access);
    if (templates.templates.length === 0 && templates.contactLinks.length === 0) return c.redirect(`${issuesUrl(access.repo)}/new?template=`, 302);
    return render(c, <IssueTemplateChooserPage ctx={pageContext(c)} view={await repoView(c, access)} templates={templates} />);
  });

  ui.post('/:owner/:repo/issues', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const access = await repoAccess(c);
    const form = await readForm(c);
    const values: NewIssueValues = { title: form.get('title'), body: form.get('body'), labels: form.getAll('labels').filter(Boolean), assignees: form.getAll('assignees').filter(Boolean) };
    // A reader's issue from a template gets the template's labels and assignees (a writer's form carries them as choices).
    const template = form.get('template') ? (await loadIssueTemplates(access)).templates.find((t) => t.file === form.get('template') && !t.error) : undefined;
    if (template) values.template = { file: template.file, name: template.name };
    const templateTriage = template && !canWriteRepo(c, access) ? { labels: template.labels, assignees: template.assignees } : undefined;
    try {
      // Labels and assignees from a reader are refused by the service (403), as the API does.
      const issue = await createIssue(c.get('app'), access, identity.user, { title: values.title, body: values.body, labels: values.labels.length ? values.labels : undefined, assignees: values.assignees.length ? values.assignees : undefined, templateTriage });
      setFlash(c, 'success', `Issue #${issue.number} opened.`);
      return c.redirect(issueUrl(access.repo, issue.number), 303);
    } catch (err) {
      if (isUserError(err)) return renderNewIssue(c, access, values, { message: err.message, field: err.field }, formStatus(err));
      throw err;
    }
  });

  ui.get('/:owner/:repo/issues/:number{[0-9]+}', async (c) => renderIssue(c, await repoAccess(c), issueNumber(c)));

  /** What the issue page's script polls while a run is active or about to start. */
  ui.get('/:owner/:repo/issues/:number{[0-9]+}/live', async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c);
    const n = issueNumber(c);
    const issue = await getIssueItem(app, access, n);
    if (issue.kind !== 'issue') throw notFound();
    const [runs, events] = await Promise.all([issueRuns(app, issue.id), issueEventCount(app, access.repo.id, n)]);
    c.header('Cache-Control', 'no-store');
    return c.json({ key: liveKey(issue.state, runs, events), state: issue.state, state_reason: issue.state_reason, runs: runs.map((r) => ({ number: r.number, status: r.status, pull_request: r.pull_request?.number ?? null })) });
  });

  /** POST handlers: sign-in and read access (the services check the rest: 403 for what a reader may not do). */
  const action = (suffix: string, handler: (c: Context<WebEnv>, access: RepositoryAccess, n: number, form: FormFields) => Promise<Response>) =>
    ui.post(`/:owner/:repo/issues/:number{[0-9]+}/${suffix}`, async (c) => {
      const identity = requireUser(c);
      if (identity instanceof Response) return identity;
      const access = await repoAccess(c);
      const n = issueNumber(c);
      const form = await readForm(c);
      try {
        return await handler(c, access, n, form);
      } catch (err) {
        if (!isUserError(err)) throw err;
        setFlash(c, 'error', sentence(err.message));
        return c.redirect(issueUrl(access.repo, n), 303);
      }
    });

  action('comment', async (c, access, n, form) => {
    const body = form.get('body');
    try {
      const comment = await addIssueComment(c.get('app'), access, c.get('identity')!.user, n, body);
      return c.redirect(`${issueUrl(access.repo, n)}#issuecomment-${comment.id}`, 303);
    } catch (err) {
      // The text is kept: the page comes back with the form filled in and the reason above it.
      if (isUserError(err)) return renderIssue(c, access, n, { commentError: { message: err.message, field: err.field }, commentBody: body, status: formStatus(err) });
      throw err;
    }
  });

  action('state', async (c, access, n, form) => {
    const app = c.get('app');
    const user = c.get('identity')!.user;
    const wanted = form.get('state');
    if (wanted !== 'open' && wanted !== 'completed' && wanted !== 'not_planned') throw new ServiceError(422, 'Choose whether to close or reopen the issue.');
    const body = form.get('body');
    if (body.trim()) await addIssueComment(app, access, user, n, body);
    await updateIssue(app, access, user, n, wanted === 'open' ? { state: 'open' } : { state: 'closed', state_reason: wanted });
    setFlash(c, 'success', wanted === 'open' ? 'Issue reopened.' : wanted === 'not_planned' ? 'Issue closed as not planned.' : 'Issue closed as completed.');
    return c.redirect(issueUrl(access.repo, n), 303);
  });

  action('edit', async (c, access, n, form) => {
    try {
      await updateIssue(c.get('app'), access, c.get('identity')!.user, n, { title: form.get('title'), body: form.get('body') });
    } catch (err) {
      if (isUserError(err)) return renderIssue(c, access, n, { editError: { message: err.message, field: err.field }, status: formStatus(err) });
      throw err;
    }
    setFlash(c, 'success', 'Issue updated.');
    return c.redirect(issueUrl(access.repo, n), 303);
  });

  action('labels', async (c, access, n, form) => {
    await setIssueLabels(c.get('app'), access, c.get('identity')!.user, n, form.getAll('labels').filter(Boolean));
    setFlash(c, 'success', 'Labels updated.');
    return c.redirect(issueUrl(access.repo, n), 303);
  });

  action('assignees', async (c, access, n, form) => {
    const wanted = form.getAll('assignees').filter(Boolean);
    await updateIssue(c.get('app'), access, c.get('identity')!.user, n, { assignees: wanted });
    const agents = wanted.filter((a) => a.startsWith('agent:'));
    setFlash(c, 'success', agents.length ? `Assignees updated; ${agents.map((a) => a.slice(6)).join(', ')} will start on this issue.` : 'Assignees updated.');
    return c.redirect(issueUrl(access.repo, n), 303);
  });

  // ---------- labels ----------

  ui.get('/:owner/:repo/labels', async (c) => renderLabels(c, await repoAccess(c)));

  /** The label colours as a stylesheet (the pages' CSP allows no inline styles). */
  ui.get('/:owner/:repo/labels.css', async (c) => {
    const access = await repoAccess(c);
    const labels = await labelsOf(c, access);
    const versioned = c.req.query('v') === labelStylesVersion(labels);
    return c.body(labelStylesheet(labels), 200, {
      'Content-Type': 'text/css; charset=utf-8',
      // A versioned URL changes with the labels; private repositories' sheets stay out of shared caches.
      'Cache-Control': versioned ? 'private, max-age=86400' : 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    });
  });

  ui.post('/:owner/:repo/labels', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const access = await repoAccess(c, 'write');
    const values = labelValues(await readForm(c));
    try {
      const label = await createLabel(c.get('app'), access, { name: values.name, color: values.color, description: values.description });
      setFlash(c, 'success', `Label “${label.name}” created.`);
      return c.redirect(labelsUrl(access.repo), 303);
    } catch (err) {
      if (isUserError(err)) return renderLabels(c, access, { newValues: values, error: { message: err.message, field: err.field }, status: formStatus(err) });
      throw err;
    }
  });

  ui.post('/:owner/:repo/labels/:id{[0-9]+}', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const access = await repoAccess(c, 'write');
    const label = await labelById(c, access);
    const values = labelValues(await readForm(c));
    try {
      await updateLabel(c.get('app'), access, label.name, { name: values.name, color: values.color, description: values.description });
      setFlash(c, 'success', `Label “${values.name}” saved.`);
      return c.redirect(labelsUrl(access.repo), 303);
    } catch (err) {
      if (isUserError(err)) return renderLabels(c, access, { editing: { id: label.id, values, error: { message: err.message, field: err.field } }, status: formStatus(err) });
      throw err;
    }
  });

  ui.post('/:owner/:repo/labels/:id{[0-9]+}/delete', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const access = await repoAccess(c, 'write');
    const label = await labelById(c, access);
    const form = await readForm(c);
    if (!isConfirmed(form)) {
      return askToConfirm(c, {
        title: `Delete label “${label.name}”?`,
        message: 'The label is removed from every issue and pull request that carries it. This cannot be undone.',
        action: `${labelsUrl(access.repo)}/${label.id}/delete`,
        fields: [],
        confirmLabel: 'Delete label',
        cancelHref: labelsUrl(access.repo),
      });
    }
    await deleteLabel(c.get('app'), access, label.name);
    setFlash(c, 'success', `Label “${label.name}” deleted.`);
    return c.redirect(labelsUrl(access.repo), 303);
  });
}
