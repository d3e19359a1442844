import { sql } from 'kysely';
import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { ServiceError, forbidden, invalid, notFound } from './errors.ts';
import { userRole, type RepositoryAccess } from './repositories.ts';
import { findIssueAgent } from './issueAgentKeys.ts';
import { findUserByName } from './users.ts';
import { nextIssueNumber } from './issueNumbers.ts';
import { findLabel, labelsOfNumbers, resolveLabelsForIssue, type LabelInput } from './issueLabels.ts';
import type { Issue, IssueComment, Label, PullRequest, PullRequestComment, User } from '../db/schema.ts';
import { pullRequestEvent } from './pulls.ts';
import type { DbOrTx } from '../db/index.ts';
import { roleAtLeast } from '../domain/permissions.ts';
import { agentKeyOfAssignee } from '../domain/issueReferences.ts';
import { appendEvents, type OutboxEvent } from '../events/outbox.ts';
import { wakeDispatcher } from '../events/wake.ts';
import { findIssueTarget, issueEvent, recordTimeline, type IssueTarget } from './issueEvents.ts';

export { issueEvent, recordTimeline, type TimelineEntryInput } from './issueEvents.ts';

/**
 * Issues (issue 17): GitHub's model. Issues and pull requests share one number sequence per
 * repository; labels, assignees and timeline entries are keyed by number so they apply to both, and
 * the listing (`listIssues`) returns both unless filtered, as GitHub's `/issues` does.
 *
 * Who may do what (as GitHub): anyone who can read the repository opens issues and comments; the
 * author or a writer edits, closes and reopens; only writers label and assign — and only writers
 * assign agents (403).
 */

export const MAX_ISSUE_TITLE = 256;
/** Bodies and comments: GitHub's 65,536 characters; more is a 413. */
export const MAX_ISSUE_BODY = 65_536;
export const MAX_ASSIGNEES = 10;

export type IssueStateReason = 'completed' | 'not_planned' | 'reopened';

/** A user or an agent an issue is assigned to. `key` is what is stored: `user:<id>` or `agent:<key>`. */
export type Assignee = { kind: 'user'; key: string; user: Pick<User, 'id' | 'username' | 'is_admin'> } | { kind: 'agent'; key: string; agentKey: string };

/** An issue or a pull request as the issue listing shows it (GitHub's issue object). */
export interface IssueItem {
  kind: 'issue' | 'pull';
  /** issues.id, or pull_requests.id for a pull request. */
  id: number;
  repository_id: number;
  number: number;
  title: string;
  body: string;
  state: 'open' | 'closed';
  state_reason: IssueStateReason | null;
  author: Pick<User, 'id' | 'username' | 'is_admin'> | null;
  closed_by: Pick<User, 'id' | 'username' | 'is_admin'> | null;
  closed_at: string | null;
  created_at: string;
  updated_at: string;
  /** Conversation comments. */
  comments: number;
  labels: Label[];
  assignees: Assignee[];
  /** Set for a pull request. */
  pull_request: { id: number; state: 'open' | 'closed' | 'merged'; merged_at: string | null; draft: boolean } | null;
}

export interface IssueListFilters {
  /** Default 'open'. */
  state?: 'open' | 'closed' | 'all';
  /** Label names; an item must carry every one. */
  labels?: string[];
  /** A login, `agent:<key>`, 'none' (unassigned) or '*' (assigned to anyone). */
  assignee?: string;
  /** The author's login. */
  creator?: string;
  /** Text in the title or body (case-insensitive). */
  q?: string;
  /** Default 'all' (GitHub's /issues lists both); the issues page asks for 'issue'. */
  kind?: 'issue' | 'pull' | 'all';
  /** Default 'created'. */
  sort?: 'created' | 'updated' | 'comments';
  /** Default 'desc'. */
  direction?: 'asc' | 'desc';
  /** Only items updated at or after this ISO-8601 time. */
  since?: string;
  page?: number;
  per_page?: number;
}

export interface CreateIssueInput {
  title: string;
  body?: string;
  /** Label names (missing ones are created, as GitHub does) — writers only. */
  labels?: LabelInput[];
  /** Logins and `agent:<key>` — writers only. */
  assignees?: string[];
  /**
   * What the repository's issue template chosen sets (its maintainers' choice, so for any author): of its
   * labels those that exist, of its assignees the users who can read the repository — never an agent
   * (a reader's issue must not start agent work). Writers get them as preset choices in the form instead.
   */
  templateTriage?: { labels: string[]; assignees: string[] };
}

export interface UpdateIssueInput {
  title?: string;
  body?: string;
  state?: 'open' | 'closed';
  /** With state 'closed': completed (default) or not_planned; 'reopened' with state 'open'. */
  state_reason?: IssueStateReason | null;
  /** Replaces the labels (writers only). */
  labels?: LabelInput[];
  /** Replaces the assignees (writers only). */
  assignees?: string[];
}

export interface IssueCommentItem extends IssueComment {
  author: Pick<User, 'id' | 'username' | 'is_admin'> | null;
  /** The issue's number. */
  number: number;
}

// ---------------------------------------------------------------------------------------------
// Checks and events

export function checkIssueText(title: string | undefined, body: string | undefined): void {
  if (title !== undefined && (title.trim().length === 0 || title.length > MAX_ISSUE_TITLE)) throw invalid(`title is required (at most ${MAX_ISSUE_TITLE} characters)`, 'title');
  checkIssueBody(body);
}

export function checkIssueBody(body: string | undefined, required = false): void {
  if (body === undefined) return;
  if (body.length > MAX_ISSUE_BODY) throw new ServiceError(413, `body is too long (at most ${MAX_ISSUE_BODY} characters)`, 'body');
  if (required && body.trim().length === 0) throw invalid('body is required', 'body');
}

function validNumber(number: number): boolean {
  return Number.isSafeInteger(number) && number >= 1 && number <= 2_147_483_647;
}

export function canWrite(access: RepositoryAccess): boolean {
  return roleAtLeast(access.role, 'write');
}

// ---------------------------------------------------------------------------------------------
// Reading

type Row = {
  kind: string;
  id: number;
  number: number;
  title: string;
  body: string;
  state: string;
  state_reason: string | null;
  author_id: number | null;
  closed_by_id: number | null;
  closed_at: string | null;
  created_at: string;
  updated_at: string;
  comments: number;
  pull_request_id: number | null;
};

function issueRows(db: DbOrTx, repositoryId: number) {
  return db
    .selectFrom('issues')
    .where('issues.repository_id', '=', repositoryId)
    .select([
      sql<string>`'issue'`.as('kind'),
      'issues.id as id',
      'issues.number as number',
      'issues.title as title',
      'issues.body as body',
      sql<string>`issues.state`.as('state'),
      sql<string | null>`issues.state_reason`.as('state_reason'),
      'issues.author_id as author_id',
      'issues.closed_by_id as closed_by_id',
      'issues.closed_at as closed_at',
      'issues.created_at as created_at',
      'issues.updated_at as updated_at',
      sql<number>`(select count(*) from issue_comments where issue_comments.issue_id = issues.id)`.as('comments'),
      sql<number | null>`cast(null as integer)`.as('pull_request_id'),
    ]);
}

function pullRows(db: DbOrTx, repositoryId: number) {
  return db
    .selectFrom('pull_requests')
    .where('pull_requests.repository_id', '=', repositoryId)
    .select([
      sql<string>`'pull'`.as('kind'),
      'pull_requests.id as id',
      'pull_requests.number as number',
      'pull_requests.title as title',
      'pull_requests.body as body',
      sql<string>`case when pull_requests.state = 'open' then 'open' else 'closed' end`.as('state'),
      sql<string | null>`case when pull_requests.state = 'open' then null else 'completed' end`.as('state_reason'),
      'pull_requests.author_id as author_id',
      sql<number | null>`case when pull_requests.state = 'merged' then pull_requests.merged_by_id else null end`.as('closed_by_id'),
      'pull_requests.closed_at as closed_at',
      'pull_requests.created_at as created_at',
      'pull_requests.updated_at as updated_at',
      sql<number>`(select count(*) from pull_request_comments where pull_request_comments.pull_request_id = pull_requests.id and pull_request_comments.path is null)`.as('comments'),
      sql<number | null>`pull_requests.id`.as('pull_request_id'),
    ]);
}

function likePattern(q: string): string {
  return `%${q.toLowerCase().replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

/** Issues and pull requests of the repository (GitHub's `GET /issues`), filtered, sorted and paginated. */
export async function listIssues(app: AppContext, access: RepositoryAccess, filters: IssueListFilters = {}): Promise<{ issues: IssueItem[]; total: number }> {
  const repoId = access.repo.id;
  const kind = filters.kind ?? 'all';
  const source = kind === 'issue' ? issueRows(app.db, repoId) : kind === 'pull' ? pullRows(app.db, repoId) : issueRows(app.db, repoId).unionAll(pullRows(app.db, repoId));
  let q = app.db.selectFrom(source.as('t'));
  const state = filters.state ?? 'open';
  if (state !== 'all') q = q.where('t.state', '=', state);
  for (const name of filters.labels ?? []) {
    const lower = name.trim().toLowerCase();
    if (!lower) continue;
    q = q.where('t.number', 'in',
      app.db.selectFrom('issue_labels').innerJoin('labels', 'labels.id', 'issue_labels.label_id').select('issue_labels.number').where('issue_labels.repository_id', '=', repoId).where('labels.lower_name', '=', lower),
    );
  }
  if (filters.assignee) {
    const a = filters.assignee;
    const assigned = () => app.db.selectFrom('issue_assignees').select('issue_assignees.number').where('issue_assignees.repository_id', '=', repoId);
    if (a === 'none') q = q.where('t.number', 'not in', assigned());
    else if (a === '*') q = q.where('t.number', 'in', assigned());
    else {
      const key = await assigneeKeyForFilter(app, a);
      if (key === null) return { issues: [], total: 0 };
      q = q.where('t.number', 'in', assigned().where('issue_assignees.assignee', '=', key));
    }
  }
  if (filters.creator) {
    const user = await findUserByName(app.db, filters.creator);
    if (!user) return { issues: [], total: 0 };
    q = q.where('t.author_id', '=', user.id);
  }
  if (filters.q?.trim()) {
    const pattern = likePattern(filters.q.trim());
    q = q.where(sql<boolean>`(lower(t.title) like ${pattern} escape '\\' or lower(t.body) like ${pattern} escape '\\')`);
  }
  if (filters.since) q = q.where('t.updated_at', '>=', filters.since);
  const total = Number((await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const perPage = Math.min(Math.max(filters.per_page ?? 30, 1), 100);
  const page = Math.max(filters.page ?? 1, 1);
  const dir = filters.direction ?? 'desc';
  const sortColumn = filters.sort === 'updated' ? 't.updated_at' : filters.sort === 'comments' ? 't.comments' : 't.created_at';
  const rows = (await q.selectAll('t').orderBy(sortColumn, dir).orderBy('t.number', dir).limit(perPage).offset((page - 1) * perPage).execute()) as Row[];
  return { issues: await hydrate(app.db, repoId, rows), total };
}

async function assigneeKeyForFilter(app: AppContext, assignee: string): Promise<string | null> {
  if (agentKeyOfAssignee(assignee)) return assignee;
  const user = await findUserByName(app.db, assignee);
  return user ? `user:${user.id}` : null;
}

async function hydrate(db: DbOrTx, repositoryId: number, rows: Row[]): Promise<IssueItem[]> {
  if (rows.length === 0) return [];
  const numbers = rows.map((r) => r.number);
  const userIds = [...new Set(rows.flatMap((r) => [r.author_id, r.closed_by_id]).filter((id): id is number => id !== null))];
  const prIds = rows.map((r) => r.pull_request_id).filter((id): id is number => id !== null);
  const [users, labels, assignees, prs] = await Promise.all([
    userIds.length ? db.selectFrom('users').select(['id', 'username', 'is_admin']).where('id', 'in', userIds).execute() : [],
    labelsOfNumbers(db, repositoryId, numbers),
    assigneesOfNumbers(db, repositoryId, numbers),
    prIds.length ? db.selectFrom('pull_requests').select(['id', 'state', 'merged_at', 'draft']).where('id', 'in', prIds).execute() : [],
  ]);
  const userById = new Map(users.map((u) => [u.id, u]));
  const prById = new Map(prs.map((p) => [p.id, p]));
  return rows.map((r) => {
    const pr = r.pull_request_id !== null ? prById.get(r.pull_request_id) : undefined;
    return {
      kind: r.kind === 'pull' ? 'pull' : 'issue',
      id: r.id,
      repository_id: repositoryId,
      number: r.number,
      title: r.title,
      body: r.body,
      state: r.state === 'open' ? 'open' : 'closed',
      state_reason: (r.state_reason as IssueStateReason | null) ?? null,
      author: r.author_id !== null ? (userById.get(r.author_id) ?? null) : null,
      closed_by: r.closed_by_id !== null ? (userById.get(r.closed_by_id) ?? null) : null,
      closed_at: r.closed_at,
      created_at: r.created_at,
      updated_at: r.updated_at,
      comments: Number(r.comments),
      labels: labels.get(r.number) ?? [],
      assignees: assignees.get(r.number) ?? [],
      pull_request: pr ? { id: pr.id, state: pr.state, merged_at: pr.merged_at, draft: pr.draft === 1 } : null,
    };
  });
}

/** Assignees of the given numbers, in the order they were assigned. */
export async function assigneesOfNumbers(db: DbOrTx, repositoryId: number, numbers: number[]): Promise<Map<number, Assignee[]>> {
  const out = new Map<number, Assignee[]>();
  if (numbers.length === 0) return out;
  const rows = await db
    .selectFrom('issue_assignees')
    .leftJoin('users', 'users.id', 'issue_assignees.user_id')
    .select(['issue_assignees.number', 'issue_assignees.assignee', 'issue_assignees.agent_key', 'users.id as user_id', 'users.username', 'users.is_admin'])
    .where('issue_assignees.repository_id', '=', repositoryId)
    .where('issue_assignees.number', 'in', numbers)
    .orderBy('issue_assignees.created_at')
    .orderBy('issue_assignees.assignee')
    .execute();
  for (const r of rows) {
    const a: Assignee | null = r.agent_key ? { kind: 'agent', key: r.assignee, agentKey: r.agent_key } : r.user_id !== null && r.username ? { kind: 'user', key: r.assignee, user: { id: r.user_id, username: r.username, is_admin: r.is_admin ?? 0 } } : null;
    if (!a) continue;
    const list = out.get(r.number) ?? [];
    list.push(a);
    out.set(r.number, list);
  }
  return out;
}

/** The issue or pull request `number` as the issue API shows it; 404 when neither exists. */
export async function getIssueItem(app: AppContext, access: RepositoryAccess, number: number, db: DbOrTx = app.db): Promise<IssueItem> {
  if (!validNumber(number)) throw notFound('Issue not found');
  const repoId = access.repo.id;
  let rows = (await issueRows(db, repoId).where('issues.number', '=', number).execute()) as Row[];
  if (rows.length === 0) rows = (await pullRows(db, repoId).where('pull_requests.number', '=', number).execute()) as Row[];
  if (rows.length === 0) throw notFound('Issue not found');
  return (await hydrate(db, repoId, rows))[0]!;
}

/** The issue `number` (not a pull request); 404 otherwise. */
export async function getIssue(app: AppContext, access: RepositoryAccess, number: number, db: DbOrTx = app.db): Promise<Issue> {
  if (!validNumber(number)) throw notFound('Issue not found');
  const issue = await db.selectFrom('issues').selectAll().where('repository_id', '=', access.repo.id).where('number', '=', number).executeTakeFirst();
  if (!issue) throw notFound('Issue not found');
  return issue;
}

export async function findIssueById(db: DbOrTx, id: number): Promise<Issue | undefined> {
  return db.selectFrom('issues').selectAll().where('id', '=', id).executeTakeFirst();
}

// ---------------------------------------------------------------------------------------------
// Assignees

/** Resolves logins / `agent:<key>` to assignees, checking each (422) and that the actor may assign agents (403). */
export async function resolveAssignees(app: AppContext, access: RepositoryAccess, actor: User, names: string[], isPull: boolean): Promise<Assignee[]> {
  const out: Assignee[] = [];
  const seen = new Set<string>();
  for (const raw of names) {
    const name = String(raw).trim();
    if (!name) continue;
    const agentKey = agentKeyOfAssignee(name);
    if (agentKey || name.toLowerCase().startsWith('agent:')) {
      if (!canWrite(access)) throw forbidden(`${actor.username} needs write access to ${access.repo.owner_name}/${access.repo.name} to assign agents`);
      if (isPull) throw invalid('agents can be assigned to issues only', 'assignees');
      const agent = agentKey ? await findIssueAgent(app, access, agentKey) : null;
      if (!agent) throw invalid(`"${name}" is not an agent of this repository (assign agent:<driver> or agent:<agent key>)`, 'assignees');
      if (!agent.available) throw invalid(`agent ${agent.key} is not available: ${agent.reason}`, 'assignees');
      const key = `agent:${agent.key}`;
      if (!seen.has(key)) out.push({ kind: 'agent', key, agentKey: agent.key });
      seen.add(key);
      continue;
    }
    const user = await findUserByName(app.db, name);
    if (!user) throw invalid(`"${name}" is not a user`, 'assignees');
    const role = await userRole(app, access.repo, user);
    if (!roleAtLeast(role, 'read')) throw invalid(`${user.username} cannot be assigned: they cannot read this repository`, 'assignees');
    const key = `user:${user.id}`;
    if (!seen.has(key)) out.push({ kind: 'user', key, user: { id: user.id, username: user.username, is_admin: user.is_admin } });
    seen.add(key);
  }
  return out;
}

function assigneeLabel(a: Assignee): string {
  return a.kind === 'agent' ? a.key : a.user.username;
}

/** Inside a transaction: assigns, recording `assigned` entries and events for the new ones. */
async function applyAssignees(tx: DbOrTx, target: IssueTarget, actorId: number, add: Assignee[], remove: string[], at: string): Promise<OutboxEvent[]> {
  const events: OutboxEvent[] = [];
  const prefix = target.pull_request_id ? 'pull_request' : 'issue';
  const current = new Set((await tx.selectFrom('issue_assignees').select('assignee').where('repository_id', '=', target.repository_id).where('number', '=', target.number).execute()).map((r) => r.assignee));
  const adding = add.filter((a) => !current.has(a.key));
  if (current.size - remove.filter((k) => current.has(k)).length + adding.length > MAX_ASSIGNEES) throw invalid(`at most ${MAX_ASSIGNEES} assignees`, 'assignees');
  for (const key of remove) {
    if (!current.has(key)) continue;
    await tx.deleteFrom('issue_assignees').where('repository_id', '=', target.repository_id).where('number', '=', target.number).where('assignee', '=', key).execute();
    const agentKey = agentKeyOfAssignee(key);
    const login = agentKey ? key : (await tx.selectFrom('users').select('username').where('id', '=', Number(key.slice(5))).executeTakeFirst())?.username ?? 'ghost';
    await recordTimeline(tx, target.repository_id, target.number, [{ event: 'unassigned', actorId, data: { assignee: key, login } }], at);
    events.push(issueEvent(`${prefix}.unassigned`, target, actorId, { assignee: key, agent_key: agentKey }));
  }
  for (const a of adding) {
    await tx
      .insertInto('issue_assignees')
      .values({ repository_id: target.repository_id, number: target.number, assignee: a.key, user_id: a.kind === 'user' ? a.user.id : null, agent_key: a.kind === 'agent' ? a.agentKey : null, created_at: at })
      .onConflict((oc) => oc.columns(['repository_id', 'number', 'assignee']).doNothing())
      .execute();
    await recordTimeline(tx, target.repository_id, target.number, [{ event: 'assigned', actorId, data: { assignee: a.key, login: assigneeLabel(a) } }], at);
    events.push(issueEvent(`${prefix}.assigned`, target, actorId, { assignee: a.key, agent_key: a.kind === 'agent' ? a.agentKey : null }));
  }
  return events;
}

async function targetOf(app: AppContext, access: RepositoryAccess, number: number) {
  const target = await findIssueTarget(app.db, access.repo.id, number);
  if (!target) throw notFound('Issue not found');
  return { target };
}

/** `POST /issues/{n}/assignees`: adds users and agents (writers only). Assigning an agent starts it (behaviors/issueAgents.ts). */
export async function addIssueAssignees(app: AppContext, access: RepositoryAccess, actor: User, number: number, names: string[]): Promise<IssueItem> {
  const { target } = await targetOf(app, access, number);
  const add = await resolveAssignees(app, access, actor, names, target.kind === 'pull');
  if (!canWrite(access)) throw forbidden('You need write access to assign');
  await commitIssueChange(app, async (tx, at) => applyAssignees(tx, target, actor.id, add, [], at), access, number);
  return getIssueItem(app, access, number);
}

/** `DELETE /issues/{n}/assignees` (writers only); names that are not assigned are ignored. */
export async function removeIssueAssignees(app: AppContext, access: RepositoryAccess, actor: User, number: number, names: string[]): Promise<IssueItem> {
  const { target } = await targetOf(app, access, number);
  if (!canWrite(access)) throw forbidden('You need write access to unassign');
  const keys: string[] = [];
  for (const name of names) {
    if (agentKeyOfAssignee(name)) keys.push(name);
    else {
      const user = await findUserByName(app.db, name);
      if (user) keys.push(`user:${user.id}`);
    }
  }
  await commitIssueChange(app, async (tx, at) => applyAssignees(tx, target, actor.id, [], keys, at), access, number);
  return getIssueItem(app, access, number);
}

/** Users who can be assigned (everyone who can read the repository: owner and collaborators) — GitHub's `GET /assignees`. */
export async function listAssignableUsers(app: AppContext, access: RepositoryAccess): Promise<Pick<User, 'id' | 'username' | 'is_admin'>[]> {
  const rows = await app.db
    .selectFrom('users')
    .select(['users.id', 'users.username', 'users.is_admin'])
    .where((eb) => eb.or([eb('users.id', '=', access.repo.owner_id), eb('users.id', 'in', eb.selectFrom('collaborators').select('user_id').where('repository_id', '=', access.repo.id))]))
    .orderBy('users.lower_name')
    .execute();
  return rows;
}

/** Runs `work` in a transaction (it returns the outbox events to append), then wakes the dispatcher and bumps updated_at. */
export async function commitIssueChange(app: AppContext, work: (tx: DbOrTx, at: string) => Promise<OutboxEvent[]>, access: RepositoryAccess, number: number): Promise<void> {
  const at = now();
  const events = await app.db.transaction().execute(async (tx) => {
    const evs = await work(tx, at);
    if (evs.length) {
      await tx.updateTable('issues').set({ updated_at: at }).where('repository_id', '=', access.repo.id).where('number', '=', number).execute();
      await appendEvents(tx, evs, at);
    }
    return evs;
  });
  if (events.length) wakeDispatcher(app);
}

// ---------------------------------------------------------------------------------------------
// Issues

/** Opens an issue (anyone who can read the repository); labels and assignees need write access. */
export async function createIssue(app: AppContext, access: RepositoryAccess, actor: User, input: CreateIssueInput): Promise<IssueItem> {
  if (!roleAtLeast(access.role, 'read')) throw notFound('Not Found');
  checkIssueText(input.title, input.body);
  if ((input.labels?.length || input.assignees?.length) && !canWrite(access)) throw forbidden('You need write access to set labels or assignees');
  const assignees = input.assignees?.length ? await resolveAssignees(app, access, actor, input.assignees, false) : [];
  const triage = input.templateTriage ? await templateTriage(app, access, input.templateTriage) : { labels: [], assignees: [] };
  for (const a of triage.assignees) if (!assignees.some((x) => x.key === a.key)) assignees.push(a);
  if (assignees.length > MAX_ASSIGNEES) throw invalid(`at most ${MAX_ASSIGNEES} assignees`, 'assignees');
  const labels = [...(input.labels ?? []), ...triage.labels];
  const at = now();
  const issue = await app.db.transaction().execute(async (tx) => {
    const number = await nextIssueNumber(tx, access.repo.id);
    const row = await tx
      .insertInto('issues')
      .values({ repository_id: access.repo.id, number, title: input.title.trim(), body: input.body ?? '', state: 'open', state_reason: null, author_id: actor.id, closed_by_id: null, closed_at: null, created_at: at, updated_at: at })
      .returningAll()
      .executeTakeFirstOrThrow();
    const target = { repository_id: row.repository_id, number: row.number, issue_id: row.id, pull_request_id: null };
    const events: OutboxEvent[] = [issueEvent('issue.opened', target, actor.id)];
    if (labels.length) events.push(...(await resolveLabelsForIssue(tx, access, target, actor.id, labels, 'add', at)));
    events.push(...(await applyAssignees(tx, target, actor.id, assignees, [], at)));
    await appendEvents(tx, events, at);
    return row;
  });
  wakeDispatcher(app);
  return getIssueItem(app, access, issue.number);
}

/** An issue template's labels and assignees, kept to what exists: see CreateIssueInput.templateTriage. */
async function templateTriage(app: AppContext, access: RepositoryAccess, wanted: { labels: string[]; assignees: string[] }): Promise<{ labels: string[]; assignees: Assignee[] }> {
  const labels: string[] = [];
  for (const name of wanted.labels) {
    const label = await findLabel(app.db, access.repo.id, name);
    if (label) labels.push(label.name);
  }
  const assignees: Assignee[] = [];
  for (const name of wanted.assignees) {
    if (name.toLowerCase().startsWith('agent:')) continue;
    const user = await findUserByName(app.db, name);
    if (!user) continue;
    const role = await userRole(app, access.repo, user);
    if (roleAtLeast(role, 'read')) assignees.push({ kind: 'user', key: `user:${user.id}`, user: { id: user.id, username: user.username, is_admin: user.is_admin } });
  }
  return { labels, assignees };
}

function canEditIssue(access: RepositoryAccess, issue: Issue, actor: User): boolean {
  return canWrite(access) || issue.author_id === actor.id;
}

/**
 * `PATCH /issues/{n}`: title and body (author or writer), state with GitHub's state_reason (author or
 * writer), labels and assignees replaced (writers). Each change is a timeline entry and an event.
 */
export async function updateIssue(app: AppContext, access: RepositoryAccess, actor: User, number: number, input: UpdateIssueInput): Promise<IssueItem> {
  const issue = await getIssue(app, access, number);
  if (!canEditIssue(access, issue, actor)) throw forbidden('Only the author or collaborators with write access can edit this issue');
  if ((input.labels !== undefined || input.assignees !== undefined) && !canWrite(access)) throw forbidden('You need write access to set labels or assignees');
  checkIssueText(input.title, input.body);
  if (input.state_reason && input.state === undefined && issue.state === 'open' && input.state_reason !== 'reopened') input.state = 'closed';
  if (input.state === 'closed' && input.state_reason === 'reopened') throw invalid('state_reason "reopened" goes with state "open"', 'state_reason');
  if (input.state === 'open' && input.state_reason && input.state_reason !== 'reopened') throw invalid(`state_reason "${input.state_reason}" goes with state "closed"`, 'state_reason');
  const assignees = input.assignees !== undefined ? await resolveAssignees(app, access, actor, input.assignees, false) : null;
  const target = { repository_id: issue.repository_id, number: issue.number, issue_id: issue.id, pull_request_id: null };
  await commitIssueChange(
    app,
    async (tx, at) => {
      const events: OutboxEvent[] = [];
      const changes: Partial<Issue> = {};
      const edited: Record<string, { from: string }> = {};
      if (input.title !== undefined && input.title.trim() !== issue.title) {
        changes.title = input.title.trim();
        edited.title = { from: issue.title };
        await recordTimeline(tx, issue.repository_id, issue.number, [{ event: 'renamed', actorId: actor.id, data: { from: issue.title, to: changes.title } }], at);
      }
      if (input.body !== undefined && input.body !== issue.body) {
        changes.body = input.body;
        edited.body = { from: issue.body };
      }
      if (Object.keys(edited).length) events.push(issueEvent('issue.edited', target, actor.id, { changes: edited }));
      if (input.state === 'closed' && issue.state === 'open') {
        const reason = input.state_reason === 'not_planned' ? 'not_planned' : 'completed';
        Object.assign(changes, { state: 'closed', state_reason: reason, closed_at: at, closed_by_id: actor.id });
        await recordTimeline(tx, issue.repository_id, issue.number, [{ event: 'closed', actorId: actor.id, data: { state_reason: reason } }], at);
        events.push(issueEvent('issue.closed', target, actor.id, { state_reason: reason }));
      } else if (input.state === 'closed' && issue.state === 'closed' && input.state_reason && input.state_reason !== issue.state_reason) {
        changes.state_reason = input.state_reason;
      } else if (input.state === 'open' && issue.state === 'closed') {
        Object.assign(changes, { state: 'open', state_reason: 'reopened', closed_at: null, closed_by_id: null });
        await recordTimeline(tx, issue.repository_id, issue.number, [{ event: 'reopened', actorId: actor.id }], at);
        events.push(issueEvent('issue.reopened', target, actor.id));
      }
      if (Object.keys(changes).length) {
        await tx.updateTable('issues').set({ ...changes, updated_at: at }).where('id', '=', issue.id).execute();
      }
      if (input.labels !== undefined) events.push(...(await resolveLabelsForIssue(tx, access, target, actor.id, input.labels, 'set', at)));
      if (assignees) {
        const current = (await tx.selectFrom('issue_assignees').select('assignee').where('repository_id', '=', issue.repository_id).where('number', '=', issue.number).execute()).map((r) => r.assignee);
        const keep = new Set(assignees.map((a) => a.key));
        events.push(...(await applyAssignees(tx, target, actor.id, assignees, current.filter((k) => !keep.has(k)), at)));
      }
      // A change of state_reason alone still counts as an update.
      if (!events.length && Object.keys(changes).length) await tx.updateTable('issues').set({ updated_at: at }).where('id', '=', issue.id).execute();
      return events;
    },
    access,
    number,
  );
  return getIssueItem(app, access, number);
}

/**
 * Closes an issue on behalf of a commit or a merged pull request (`fixes #N`), recording what closed
 * it. Does nothing (returns false) when the issue is already closed. Inside the caller's transaction.
 */
export async function closeIssueBy(tx: DbOrTx, issue: Issue, actorId: number | null, by: { commit_id?: string; pull_request?: number; source_repository_id: number }, at: string): Promise<boolean> {
  const res = await tx
    .updateTable('issues')
    .set({ state: 'closed', state_reason: 'completed', closed_at: at, closed_by_id: actorId, updated_at: at })
    .where('id', '=', issue.id)
    .where('state', '=', 'open')
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) === 0) return false;
  await recordTimeline(tx, issue.repository_id, issue.number, [{ event: 'closed', actorId, data: { state_reason: 'completed', ...by } }], at);
  await appendEvents(tx, [issueEvent('issue.closed', { repository_id: issue.repository_id, number: issue.number, issue_id: issue.id }, actorId, { state_reason: 'completed', ...by })], at);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Comments

function commentRows(db: DbOrTx) {
  return db
    .selectFrom('issue_comments')
    .innerJoin('issues', 'issues.id', 'issue_comments.issue_id')
    .leftJoin('users', 'users.id', 'issue_comments.author_id')
    .selectAll('issue_comments')
    .select(['issues.number as number', 'users.username as author_name', 'users.is_admin as author_is_admin']);
}

type CommentRow = IssueComment & { number: number; author_name: string | null; author_is_admin: number | null };

function toCommentItem(r: CommentRow): IssueCommentItem {
  const { author_name, author_is_admin, ...rest } = r;
  return { ...rest, author: r.author_id !== null && author_name ? { id: r.author_id, username: author_name, is_admin: author_is_admin ?? 0 } : null };
}

/** Every comment of an issue, oldest first. */
export async function allIssueComments(db: DbOrTx, issueId: number): Promise<IssueCommentItem[]> {
  return ((await commentRows(db).where('issue_comments.issue_id', '=', issueId).orderBy('issue_comments.id').execute()) as CommentRow[]).map(toCommentItem);
}

/** Comments of an issue, oldest first (paginated when page/per_page are given). */
export async function listIssueComments(app: AppContext, access: RepositoryAccess, number: number, opts: { page?: number; per_page?: number; since?: string } = {}): Promise<{ comments: IssueCommentItem[]; total: number }> {
  const issue = await getIssue(app, access, number);
  let q = commentRows(app.db).where('issue_comments.issue_id', '=', issue.id);
  if (opts.since) q = q.where('issue_comments.updated_at', '>=', opts.since);
  const perPage = Math.min(Math.max(opts.per_page ?? 100, 1), 100);
  const page = Math.max(opts.page ?? 1, 1);
  const all = (await q.orderBy('issue_comments.id').execute()) as CommentRow[];
  return { comments: all.slice((page - 1) * perPage, page * perPage).map(toCommentItem), total: all.length };
}

/** Comments anyone who can read the repository may add; `issue_comment.created` carries the ids. */
export async function addIssueComment(app: AppContext, access: RepositoryAccess, actor: User, number: number, body: string): Promise<IssueCommentItem> {
  checkIssueBody(body, true);
  const issue = await getIssue(app, access, number);
  const at = now();
  const row = await app.db.transaction().execute(async (tx) => {
    const c = await tx.insertInto('issue_comments').values({ repository_id: access.repo.id, issue_id: issue.id, author_id: actor.id, body, created_at: at, updated_at: at }).returningAll().executeTakeFirstOrThrow();
    await tx.updateTable('issues').set({ updated_at: at }).where('id', '=', issue.id).execute();
    await appendEvents(tx, [issueEvent('issue_comment.created', { repository_id: issue.repository_id, number: issue.number, issue_id: issue.id }, actor.id, { comment_id: c.id })], at);
    return c;
  });
  wakeDispatcher(app);
  return { ...row, number: issue.number, author: { id: actor.id, username: actor.username, is_admin: actor.is_admin } };
}

/** An issue comment of this repository by id; null when there is none (it may be a pull request's). */
export async function findIssueComment(app: AppContext, access: RepositoryAccess, id: number): Promise<IssueCommentItem | null> {
  if (!validNumber(id)) return null;
  const row = (await commentRows(app.db).where('issue_comments.id', '=', id).where('issue_comments.repository_id', '=', access.repo.id).executeTakeFirst()) as CommentRow | undefined;
  return row ? toCommentItem(row) : null;
}

export async function getIssueComment(app: AppContext, access: RepositoryAccess, id: number): Promise<IssueCommentItem> {
  const c = await findIssueComment(app, access, id);
  if (!c) throw notFound('Comment not found');
  return c;
}

/** Edits a comment: its author or a writer. */
export async function updateIssueComment(app: AppContext, access: RepositoryAccess, actor: User, id: number, body: string): Promise<IssueCommentItem> {
  checkIssueBody(body, true);
  const c = await getIssueComment(app, access, id);
  if (c.author_id !== actor.id && !canWrite(access)) throw forbidden('Only the author or collaborators with write access can edit this comment');
  const at = now();
  await app.db.transaction().execute(async (tx) => {
    await tx.updateTable('issue_comments').set({ body, updated_at: at }).where('id', '=', c.id).execute();
    await appendEvents(tx, [issueEvent('issue_comment.edited', { repository_id: c.repository_id, number: c.number, issue_id: c.issue_id }, actor.id, { comment_id: c.id, changes: { body: { from: c.body } } })], at);
  });
  wakeDispatcher(app);
  return getIssueComment(app, access, id);
}

/** Deletes a comment: its author or a writer. */
export async function deleteIssueComment(app: AppContext, access: RepositoryAccess, actor: User, id: number): Promise<void> {
  const c = await getIssueComment(app, access, id);
  if (c.author_id !== actor.id && !canWrite(access)) throw forbidden('Only the author or collaborators with write access can delete this comment');
  const at = now();
  await app.db.transaction().execute(async (tx) => {
    await tx.deleteFrom('issue_comments').where('id', '=', c.id).execute();
    await appendEvents(tx, [issueEvent('issue_comment.deleted', { repository_id: c.repository_id, number: c.number, issue_id: c.issue_id }, actor.id, { comment_id: c.id })], at);
  });
  wakeDispatcher(app);
}


/** A pull request's conversation comment by id (`/issues/comments/{id}`: one id space with issue comments), or null. */
export async function findPullConversationComment(app: AppContext, access: RepositoryAccess, id: number): Promise<{ comment: PullRequestComment; pr: PullRequest } | null> {
  if (!validNumber(id)) return null;
  const comment = await app.db.selectFrom('pull_request_comments').selectAll().where('id', '=', id).where('path', 'is', null).executeTakeFirst();
  if (!comment) return null;
  const pr = await app.db.selectFrom('pull_requests').selectAll().where('id', '=', comment.pull_request_id).where('repository_id', '=', access.repo.id).executeTakeFirst();
  return pr ? { comment, pr } : null;
}

/** Edits a pull request's conversation comment through the issue API: its author or a writer. */
export async function updatePullConversationComment(app: AppContext, access: RepositoryAccess, actor: User, id: number, body: string): Promise<PullRequest> {
  checkIssueBody(body, true);
  const found = await findPullConversationComment(app, access, id);
  if (!found) throw notFound('Comment not found');
  if (found.comment.author_id !== actor.id && !canWrite(access)) throw forbidden('Only the author or collaborators with write access can edit this comment');
  const at = now();
  await app.db.transaction().execute(async (tx) => {
    await tx.updateTable('pull_request_comments').set({ body, updated_at: at }).where('id', '=', id).execute();
    await appendEvents(tx, [pullRequestEvent('pull_request.comment_edited', found.pr, actor.id, { comment_id: id })], at);
  });
  wakeDispatcher(app);
  return found.pr;
}

/** Deletes a pull request's conversation comment through the issue API: its author or a writer. */
export async function deletePullConversationComment(app: AppContext, access: RepositoryAccess, actor: User, id: number): Promise<void> {
  const found = await findPullConversationComment(app, access, id);
  if (!found) throw notFound('Comment not found');
  if (found.comment.author_id !== actor.id && !canWrite(access)) throw forbidden('Only the author or collaborators with write access can delete this comment');
  const at = now();
  await app.db.transaction().execute(async (tx) => {
    await tx.deleteFrom('pull_request_comments').where('id', '=', id).execute();
    await appendEvents(tx, [pullRequestEvent('pull_request.comment_deleted', found.pr, actor.id, { comment_id: id })], at);
  });
  wakeDispatcher(app);
}
