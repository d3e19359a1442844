import { z } from 'zod';
import type { Context } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { ApiRegistry } from './registry.ts';
import { paginationQuery, setPaginationLinks } from './registry.ts';
import { errorSchema } from './shapes.ts';
import { repoFromPath } from './repos.ts';
import { requireIdentity } from './guards.ts';
import type { AppContext } from '../../../services/app.ts';
import { now } from '../../../services/app.ts';
import type { RepositoryAccess } from '../../../services/repositories.ts';
import { notFound } from '../../../services/errors.ts';
import { getRun } from '../../../services/runs.ts';
import { wakeDispatcher } from '../../../events/wake.ts';
import {
  deleteMemoryEntry,
  getMemoryEntry,
  listMemoryEntries,
  memoryContradictions,
  memoryGivenToRun,
  resolveContradiction,
  updateMemoryEntry,
  type MemoryEntry,
} from '../../../services/memory.ts';
import { addMemoryEntry } from '../../../services/memoryPeople.ts';
import { MEMORY_KINDS, MEMORY_LIMITS } from '../../../domain/memory.ts';

const iso = (s: string | null) => (s ? s.replace(/\.\d{3}Z$/, 'Z') : null);

/** An entry as the API shows it (GitHub has no such resource: gitoku's own, beside the repository's). */
export function memoryJson(app: AppContext, access: RepositoryAccess, e: MemoryEntry) {
  const base = `${app.config.baseUrl}/${access.repo.owner_name}/${access.repo.name}`;
  return {
    id: e.id,
    kind: e.kind,
    subject: e.subject,
    fact: e.fact,
    reason: e.reason,
    citations: e.citations.map((c) => ({ ...c, html_url: `${base}/blob/${c.commit}/${c.path.split('/').map(encodeURIComponent).join('/')}#L${c.start_line}-L${c.end_line}` })),
    scope: e.scope,
    source: e.source,
    confidence: e.confidence,
    pinned: e.pinned,
    status: e.status,
    contradiction: e.contradiction,
    created_by_id: e.created_by_id,
    created_at: iso(e.created_at),
    validated_at: iso(e.validated_at),
    expires_at: iso(e.expires_at),
    updated_at: iso(e.updated_at),
    url: `${app.config.baseUrl}/api/v1/repos/${access.repo.owner_name}/${access.repo.name}/memory/${e.id}`,
    html_url: `${base}/memory/${e.id}`,
  };
}

const citationBody = z.object({
  path: z.string().min(1).max(1024),
  start_line: z.number().int().min(1),
  end_line: z.number().int().min(1),
  commit: z.string().max(64).optional(),
});
const scopeBody = z.object({ agent: z.string().max(64).nullable().optional(), paths: z.array(z.string().max(1024)).max(MEMORY_LIMITS.scopePaths).optional() });
const createBody = z.object({
  kind: z.enum(MEMORY_KINDS),
  subject: z.string().max(MEMORY_LIMITS.subject),
  fact: z.string().max(MEMORY_LIMITS.fact),
  reason: z.string().max(MEMORY_LIMITS.reason).optional(),
  citations: z.array(citationBody).max(MEMORY_LIMITS.citations).optional(),
  ref: z.string().max(255).optional(),
  scope: scopeBody.optional(),
  pinned: z.boolean().optional(),
  confidence: z.number().min(0).max(1).optional(),
});
const patchBody = z.object({
  kind: z.enum(MEMORY_KINDS).optional(),
  subject: z.string().max(MEMORY_LIMITS.subject).optional(),
  fact: z.string().max(MEMORY_LIMITS.fact).optional(),
  reason: z.string().max(MEMORY_LIMITS.reason).optional(),
  scope: scopeBody.optional(),
  pinned: z.boolean().optional(),
  confidence: z.number().min(0).max(1).optional(),
});
const resolveBody = z.object({
  other_id: z.number().int().min(1),
  resolution: z.enum(['keep_both', 'supersede']),
  winner_id: z.number().int().min(1).optional(),
});
const listQuery = paginationQuery.extend({
  q: z.string().max(200).optional(),
  kind: z.enum(MEMORY_KINDS).optional(),
  agent: z.string().max(64).optional(),
  status: z.enum(['live', 'expired', 'stale', 'superseded', 'contradiction', 'all']).optional(),
  pinned: z.enum(['true', 'false']).optional(),
});

function entryId(c: Context<WebEnv>): number {
  const n = Number(c.req.param('id'));
  return Number.isSafeInteger(n) && n > 0 && n <= 2_147_483_647 ? n : -1;
}

export function registerMemoryRoutes(api: ApiRegistry): void {
  api.add(
    { method: 'get', path: '/repos/{owner}/{repo}/memory', summary: "The repository's memory (claims, decisions, failures, conventions): search with q, filter by kind, agent, status, pinned", tag: 'memory', access: 'public', query: listQuery, responses: { 200: { description: 'Entries' }, 404: { description: 'Not found or no access', schema: errorSchema } } },
    async (c, { query }) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const { entries, total } = await listMemoryEntries(app.db, access.repo.id, { q: query.q, kind: query.kind, agent: query.agent, status: query.status, pinned: query.pinned === undefined ? undefined : query.pinned === 'true', page: query.page, per_page: query.per_page });
      setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, total);
      c.header('X-Total-Count', String(total));
      return c.json(entries.map((e) => memoryJson(app, access, e)));
    },
  );

  api.add(
    { method: 'post', path: '/repos/{owner}/{repo}/memory', summary: 'Add a memory entry (source: you); citations are resolved at ref (default branch) and hashed by the server', tag: 'memory', access: 'repo', body: createBody, responses: { 201: { description: 'The entry (with the entries it contradicts)' }, 422: { description: 'Invalid entry or citation', schema: errorSchema } } },
    async (c, { body }) => {
      const app = c.get('app');
      const identity = requireIdentity(c);
      const access = await repoFromPath(c, 'write');
      const { entry, contradicts } = await addMemoryEntry(app, access, identity.user, body);
      return c.json({ ...memoryJson(app, access, entry), contradicts: contradicts.map((e) => memoryJson(app, access, e)) }, 201);
    },
  );

  api.add(
    { method: 'get', path: '/repos/{owner}/{repo}/memory/{id}', summary: 'A memory entry, with the entries it contradicts', tag: 'memory', access: 'public', responses: { 200: { description: 'The entry' }, 404: { description: 'Not found', schema: errorSchema } } },
    async (c) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const entry = await getMemoryEntry(app.db, access.repo.id, entryId(c));
      if (!entry) throw notFound('Memory entry not found');
      const contradictions = await memoryContradictions(app.db, access.repo.id, entry.id);
      return c.json({ ...memoryJson(app, access, entry), contradictions: contradictions.map((x) => ({ entry: memoryJson(app, access, x.entry), resolved: x.resolved })) });
    },
  );

  api.add(
    { method: 'patch', path: '/repos/{owner}/{repo}/memory/{id}', summary: 'Edit a memory entry (subject, fact, reason, kind, scope, pinned, confidence)', tag: 'memory', access: 'repo', body: patchBody, responses: { 200: { description: 'The entry' }, 404: { description: 'Not found', schema: errorSchema }, 422: { description: 'Invalid', schema: errorSchema } } },
    async (c, { body }) => {
      const app = c.get('app');
      requireIdentity(c);
      const access = await repoFromPath(c, 'write');
      const entry = await updateMemoryEntry(app.db, access.repo.id, entryId(c), body, now());
      wakeDispatcher(app);
      return c.json(memoryJson(app, access, entry));
    },
  );

  api.add(
    { method: 'delete', path: '/repos/{owner}/{repo}/memory/{id}', summary: 'Delete a memory entry', tag: 'memory', access: 'repo', responses: { 204: { description: 'Deleted' }, 404: { description: 'Not found', schema: errorSchema } } },
    async (c) => {
      const app = c.get('app');
      requireIdentity(c);
      const access = await repoFromPath(c, 'write');
      await deleteMemoryEntry(app.db, access.repo.id, entryId(c));
      return c.body(null, 204);
    },
  );

  api.add(
    { method: 'post', path: '/repos/{owner}/{repo}/memory/{id}/resolve', summary: 'Resolve a contradiction with other_id: keep_both, or supersede (winner_id wins; the other becomes superseded)', tag: 'memory', access: 'repo', body: resolveBody, responses: { 200: { description: 'The entry' }, 404: { description: 'Not found', schema: errorSchema }, 422: { description: 'They do not contradict, or a bad winner', schema: errorSchema } } },
    async (c, { body }) => {
      const app = c.get('app');
      requireIdentity(c);
      const access = await repoFromPath(c, 'write');
      const id = entryId(c);
      const resolution = body.resolution === 'keep_both' ? ({ kind: 'keep_both' } as const) : ({ kind: 'supersede', winner_id: body.winner_id ?? id } as const);
      await resolveContradiction(app.db, access.repo.id, id, body.other_id, resolution, now());
      const entry = await getMemoryEntry(app.db, access.repo.id, id);
      if (!entry) throw notFound('Memory entry not found');
      return c.json(memoryJson(app, access, entry));
    },
  );

  api.add(
    { method: 'get', path: '/repos/{owner}/{repo}/runs/{number}/memory', summary: 'What the run was given from memory: the entries (in prompt order, with whether their citations held) and the section as rendered', tag: 'memory', access: 'public', responses: { 200: { description: 'The memory the run knew' }, 404: { description: 'No such run', schema: errorSchema } } },
    async (c) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const n = Number(c.req.param('number'));
      const run = await getRun(app, access.repo.id, Number.isSafeInteger(n) ? n : -1);
      const given = await memoryGivenToRun(app.db, run.id);
      return c.json({ run: run.number, section: given.section, entries: given.entries.map((g) => ({ ...memoryJson(app, access, g.entry), citations_valid: g.citations_valid })) });
    },
  );
}
