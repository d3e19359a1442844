import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { conflict, forbidden, invalid, notFound } from './errors.ts';
import type { RepositoryAccess } from './repositories.ts';
import { isUniqueViolation } from './users.ts';
import type { Label, User } from '../db/schema.ts';
import type { DbOrTx } from '../db/index.ts';
import { roleAtLeast } from '../domain/permissions.ts';
import { appendEvents, type OutboxEvent } from '../events/outbox.ts';
import { wakeDispatcher } from '../events/wake.ts';
import { findIssueTarget, issueEvent, recordTimeline, type IssueTarget } from './issueEvents.ts';

/**
 * Labels of a repository (GitHub's): name unique case-insensitively, a six-hex-digit colour, a
 * description. A label can start an agent when an issue gets it: its `agent_key`, or by default the
 * `<key>` of a label named `agent:<key>` (services/issueRuns.ts, behaviors/issueAgents.ts).
 */

/** A label name as given by a client (GitHub accepts names; `{name}` objects are reduced to names by the route). */
export type LabelInput = string;

export const LABEL_COLOR = /^[0-9a-fA-F]{6}$/;
export const DEFAULT_LABEL_COLOR = 'ededed';
export const MAX_LABEL_NAME = 50;
export const MAX_LABEL_DESCRIPTION = 100;
/** Labels named `agent:<key>` start agent <key> unless their agent_key says otherwise. */
export const AGENT_LABEL_PREFIX = 'agent:';

export interface LabelFields {
  name?: string;
  color?: string;
  description?: string | null;
  /** The agent the label starts ('' or null: none beyond the `agent:<key>` default). */
  agent?: string | null;
}

function checkName(name: string): string {
  const n = name.trim();
  if (!n || n.length > MAX_LABEL_NAME) throw invalid(`label name is required (at most ${MAX_LABEL_NAME} characters)`, 'name');
  if (n.includes(',')) throw invalid('label names cannot contain commas', 'name');
  return n;
}

function checkColor(color: string): string {
  if (!LABEL_COLOR.test(color)) throw invalid(`color must be six hexadecimal digits (e.g. "d73a4a"), not "${color}"`, 'color');
  return color.toLowerCase();
}

function checkDescription(description: string): string {
  if (description.length > MAX_LABEL_DESCRIPTION) throw invalid(`description is too long (at most ${MAX_LABEL_DESCRIPTION} characters)`, 'description');
  return description;
}

function checkAgentKey(agent: string | null | undefined): string | null {
  if (!agent) return null;
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(agent)) throw invalid(`"${agent}" is not an agent key`, 'agent');
  return agent;
}

function requireWrite(access: RepositoryAccess, what: string): void {
  if (!roleAtLeast(access.role, 'write')) throw forbidden(`You need write access to ${what}`);
}

/** The agent a label starts: its agent_key, or `<key>` of a name `agent:<key>`; null for none. */
export function agentOfLabel(label: Pick<Label, 'name' | 'agent_key'>): string | null {
  if (label.agent_key) return label.agent_key;
  const n = label.name.trim();
  if (!n.toLowerCase().startsWith(AGENT_LABEL_PREFIX)) return null;
  const key = n.slice(AGENT_LABEL_PREFIX.length).trim();
  return /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(key) ? key : null;
}

export async function listLabels(app: AppContext, access: RepositoryAccess, opts: { page?: number; per_page?: number } = {}): Promise<{ labels: Label[]; total: number }> {
  const all = await app.db.selectFrom('labels').selectAll().where('repository_id', '=', access.repo.id).orderBy('lower_name').execute();
  const perPage = Math.min(Math.max(opts.per_page ?? 100, 1), 100);
  const page = Math.max(opts.page ?? 1, 1);
  return { labels: all.slice((page - 1) * perPage, page * perPage), total: all.length };
}

/** Open issues per label id, for the labels page. */
export async function openIssueCountsByLabel(app: AppContext, repositoryId: number): Promise<Map<number, number>> {
  const rows = await app.db
    .selectFrom('issue_labels')
    .innerJoin('issues', (j) => j.onRef('issues.repository_id', '=', 'issue_labels.repository_id').onRef('issues.number', '=', 'issue_labels.number'))
    .select(['issue_labels.label_id', (eb) => eb.fn.countAll<number>().as('n')])
    .where('issue_labels.repository_id', '=', repositoryId)
    .where('issues.state', '=', 'open')
    .groupBy('issue_labels.label_id')
    .execute();
  return new Map(rows.map((r) => [r.label_id, Number(r.n)]));
}

export async function findLabel(db: DbOrTx, repositoryId: number, name: string): Promise<Label | undefined> {
  if (name.includes('\0')) return undefined;
  return db.selectFrom('labels').selectAll().where('repository_id', '=', repositoryId).where('lower_name', '=', name.trim().toLowerCase()).executeTakeFirst();
}

export async function getLabel(app: AppContext, access: RepositoryAccess, name: string): Promise<Label> {
  const label = await findLabel(app.db, access.repo.id, name);
  if (!label) throw notFound('Label not found');
  return label;
}

/** Creates a label (writers only); 422 for a bad name or colour, or a name that exists (any case). */
export async function createLabel(app: AppContext, access: RepositoryAccess, fields: LabelFields & { name: string }): Promise<Label> {
  requireWrite(access, 'create labels');
  const name = checkName(fields.name);
  const color = checkColor(fields.color ?? DEFAULT_LABEL_COLOR);
  const description = checkDescription(fields.description ?? '');
  const agentKey = checkAgentKey(fields.agent);
  const at = now();
  try {
    return await app.db
      .insertInto('labels')
      .values({ repository_id: access.repo.id, name, lower_name: name.toLowerCase(), color, description, agent_key: agentKey, created_at: at, updated_at: at })
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (err) {
    if (isUniqueViolation(err)) throw invalid(`a label named "${name}" already exists`, 'name');
    throw err;
  }
}

/** Edits a label (writers only): `new_name` in GitHub's API. */
export async function updateLabel(app: AppContext, access: RepositoryAccess, currentName: string, fields: LabelFields): Promise<Label> {
  requireWrite(access, 'edit labels');
  const label = await getLabel(app, access, currentName);
  const changes: Partial<Label> = {};
  if (fields.name !== undefined) {
    changes.name = checkName(fields.name);
    changes.lower_name = changes.name.toLowerCase();
  }
  if (fields.color !== undefined) changes.color = checkColor(fields.color);
  if (fields.description !== undefined) changes.description = checkDescription(fields.description ?? '');
  if (fields.agent !== undefined) changes.agent_key = checkAgentKey(fields.agent);
  if (Object.keys(changes).length === 0) return label;
  try {
    await app.db.updateTable('labels').set({ ...changes, updated_at: now() }).where('id', '=', label.id).execute();
  } catch (err) {
    if (isUniqueViolation(err)) throw invalid(`a label named "${changes.name}" already exists`, 'name');
    throw err;
  }
  return (await app.db.selectFrom('labels').selectAll().where('id', '=', label.id).executeTakeFirst())!;
}

/** Deletes a label (writers only); issues lose it. */
export async function deleteLabel(app: AppContext, access: RepositoryAccess, name: string): Promise<void> {
  requireWrite(access, 'delete labels');
  const label = await getLabel(app, access, name);
  await app.db.transaction().execute(async (tx) => {
    await tx.deleteFrom('issue_labels').where('label_id', '=', label.id).execute();
    await tx.deleteFrom('labels').where('id', '=', label.id).execute();
  });
}

/** Labels of the given issue / pull request numbers, by name. */
export async function labelsOfNumbers(db: DbOrTx, repositoryId: number, numbers: number[]): Promise<Map<number, Label[]>> {
  const out = new Map<number, Label[]>();
  if (numbers.length === 0) return out;
  const rows = await db
    .selectFrom('issue_labels')
    .innerJoin('labels', 'labels.id', 'issue_labels.label_id')
    .selectAll('labels')
    .select('issue_labels.number as issue_number')
    .where('issue_labels.repository_id', '=', repositoryId)
    .where('issue_labels.number', 'in', numbers)
    .orderBy('labels.lower_name')
    .execute();
  for (const { issue_number, ...label } of rows) {
    const list = out.get(issue_number) ?? [];
    list.push(label);
    out.set(issue_number, list);
  }
  return out;
}

type Target = IssueTarget;

/**
 * Inside a transaction: adds, replaces or removes labels of an issue (or pull request) by name,
 * creating missing ones on add/set (GitHub does), recording labeled/unlabeled entries; returns the events.
 */
export async function resolveLabelsForIssue(tx: DbOrTx, access: RepositoryAccess, target: Target, actorId: number, names: LabelInput[], mode: 'add' | 'set' | 'remove', at: string): Promise<OutboxEvent[]> {
  const prefix = target.pull_request_id ? 'pull_request' : 'issue';
  const wanted: Label[] = [];
  for (const raw of names) {
    const name = checkName(String(raw));
    let label = await findLabel(tx, access.repo.id, name);
    if (!label) {
      if (mode === 'remove') throw notFound(`Label "${name}" not found`);
      label = await tx
        .insertInto('labels')
        .values({ repository_id: access.repo.id, name, lower_name: name.toLowerCase(), color: DEFAULT_LABEL_COLOR, description: '', agent_key: null, created_at: at, updated_at: at })
        .returningAll()
        .executeTakeFirstOrThrow();
    }
    if (!wanted.some((l) => l.id === label!.id)) wanted.push(label);
  }
  if (wanted.length > 100) throw invalid('at most 100 labels', 'labels');
  const current = await tx
    .selectFrom('issue_labels')
    .innerJoin('labels', 'labels.id', 'issue_labels.label_id')
    .selectAll('labels')
    .where('issue_labels.repository_id', '=', target.repository_id)
    .where('issue_labels.number', '=', target.number)
    .execute();
  const has = new Set(current.map((l) => l.id));
  const add = mode === 'remove' ? [] : wanted.filter((l) => !has.has(l.id));
  const remove = mode === 'remove' ? wanted.filter((l) => has.has(l.id)) : mode === 'set' ? current.filter((l) => !wanted.some((w) => w.id === l.id)) : [];
  if (mode === 'remove' && remove.length === 0 && wanted.length) throw notFound(`Label "${wanted[0]!.name}" is not on #${target.number}`);
  const events: OutboxEvent[] = [];
  for (const l of remove) {
    await tx.deleteFrom('issue_labels').where('repository_id', '=', target.repository_id).where('number', '=', target.number).where('label_id', '=', l.id).execute();
    await recordTimeline(tx, target.repository_id, target.number, [{ event: 'unlabeled', actorId, data: { label: { name: l.name, color: l.color } } }], at);
    events.push(issueEvent(`${prefix}.unlabeled`, target, actorId, { label_id: l.id, label: l.name }));
  }
  for (const l of add) {
    await tx.insertInto('issue_labels').values({ repository_id: target.repository_id, number: target.number, label_id: l.id, created_at: at }).onConflict((oc) => oc.columns(['repository_id', 'number', 'label_id']).doNothing()).execute();
    await recordTimeline(tx, target.repository_id, target.number, [{ event: 'labeled', actorId, data: { label: { name: l.name, color: l.color } } }], at);
    events.push(issueEvent(`${prefix}.labeled`, target, actorId, { label_id: l.id, label: l.name, agent_key: agentOfLabel(l) }));
  }
  return events;
}

async function changeLabels(app: AppContext, access: RepositoryAccess, actor: User, number: number, names: LabelInput[], mode: 'add' | 'set' | 'remove'): Promise<Label[]> {
  requireWrite(access, 'label issues');
  const target = await findIssueTarget(app.db, access.repo.id, number);
  if (!target) throw notFound('Issue not found');
  try {
    const at = now();
    const events = await app.db.transaction().execute(async (tx) => {
      const evs = await resolveLabelsForIssue(tx, access, target, actor.id, names, mode, at);
      if (evs.length) {
        await tx.updateTable('issues').set({ updated_at: at }).where('repository_id', '=', access.repo.id).where('number', '=', number).execute();
        await appendEvents(tx, evs, at);
      }
      return evs;
    });
    if (events.length) wakeDispatcher(app);
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict('The labels changed meanwhile; try again');
    throw err;
  }
  return (await labelsOfNumbers(app.db, access.repo.id, [number])).get(number) ?? [];
}

/** `POST /issues/{n}/labels`: adds (missing labels are created). Returns the labels it has now. */
export function addIssueLabels(app: AppContext, access: RepositoryAccess, actor: User, number: number, names: LabelInput[]): Promise<Label[]> {
  return changeLabels(app, access, actor, number, names, 'add');
}

/** `PUT /issues/{n}/labels`: replaces them all. */
export function setIssueLabels(app: AppContext, access: RepositoryAccess, actor: User, number: number, names: LabelInput[]): Promise<Label[]> {
  return changeLabels(app, access, actor, number, names, 'set');
}

/** `DELETE /issues/{n}/labels/{name}`: 404 when the issue does not have it. */
export function removeIssueLabel(app: AppContext, access: RepositoryAccess, actor: User, number: number, name: string): Promise<Label[]> {
  return changeLabels(app, access, actor, number, [name], 'remove');
}
