import type { AppContext } from './app.ts';
import { invalid, notFound } from './errors.ts';
import { builtInBehaviors } from '../events/behaviors/index.ts';

const iso = (s: string | null) => (s ? s.replace(/\.\d{3}Z$/, 'Z') : null);

export interface BehaviorRunView {
  key: string;
  status: string;
  outcome: string;
  error: string | null;
  attempts: number;
  next_attempt_at: string | null;
  links: { kind: string; id: number; label: string }[];
  updated_at: string | null;
}

export interface EventView {
  id: number;
  type: string;
  subject: string;
  repository_id: number | null;
  payload: Record<string, unknown>;
  created_at: string | null;
  dispatched_at: string | null;
  behaviors: BehaviorRunView[];
}

/** Recent events of a repository (or, with null, the whole instance) with the behaviors each triggered and what they did. */
export async function eventsWithBehaviors(app: AppContext, repositoryId: number | null, opts: { page: number; perPage: number; type?: string }): Promise<{ items: EventView[]; total: number }> {
  let q = app.db.selectFrom('graph_events');
  if (repositoryId !== null) q = q.where('repository_id', '=', repositoryId);
  if (opts.type) q = q.where('type', '=', opts.type);
  const events = await q.selectAll().orderBy('id', 'desc').limit(opts.perPage).offset((opts.page - 1) * opts.perPage).execute();
  const total = Number((await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const runs = events.length ? await app.db.selectFrom('behavior_runs').selectAll().where('event_id', 'in', events.map((e) => e.id)).orderBy('id').execute() : [];
  return {
    total,
    items: events.map((e) => ({
      id: e.id,
      type: e.type,
      subject: e.subject,
      repository_id: e.repository_id,
      payload: JSON.parse(e.payload) as Record<string, unknown>,
      created_at: iso(e.created_at),
      dispatched_at: iso(e.dispatched_at),
      behaviors: runs
        .filter((r) => r.event_id === e.id)
        .map((r) => ({ key: r.behavior_key, status: r.status, outcome: r.outcome, error: r.error, attempts: r.attempts, next_attempt_at: iso(r.next_attempt_at), links: JSON.parse(r.links) as BehaviorRunView['links'], updated_at: iso(r.updated_at) })),
    })),
  };
}

export interface BehaviorSetting {
  key: string;
  description: string;
  on: readonly string[];
  optional: boolean;
  enabled: boolean;
}

/** The built-in behaviors and whether each is on for a repository. */
export async function listRepositoryBehaviors(app: AppContext, repositoryId: number): Promise<BehaviorSetting[]> {
  const disabled = new Set((await app.db.selectFrom('repository_behavior_settings').select('behavior_key').where('repository_id', '=', repositoryId).where('enabled', '=', 0).execute()).map((r) => r.behavior_key));
  return builtInBehaviors()
    .all()
    .map((b) => ({ key: b.key, description: b.description, on: b.on, optional: b.optional, enabled: !(b.optional && disabled.has(b.key)) }));
}

/** Switches an optional behavior on or off for a repository. */
export async function setRepositoryBehaviorEnabled(app: AppContext, repositoryId: number, key: string, enabled: boolean): Promise<string> {
  const behavior = builtInBehaviors().all().find((b) => b.key === key);
  if (!behavior) throw notFound('Behavior not found');
  if (!behavior.optional) throw invalid(`${behavior.key} cannot be switched off`, 'enabled');
  await app.db
    .insertInto('repository_behavior_settings')
    .values({ repository_id: repositoryId, behavior_key: behavior.key, enabled: enabled ? 1 : 0 })
    .onConflict((oc) => oc.columns(['repository_id', 'behavior_key']).doUpdateSet({ enabled: enabled ? 1 : 0 }))
    .execute();
  return behavior.key;
}
