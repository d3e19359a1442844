import type { Context, Hono } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { RepositoryAccess } from '../../../services/repositories.ts';
import { ServiceError, notFound } from '../../../services/errors.ts';
import { now } from '../../../services/app.ts';
import { deleteMemoryEntry, getMemoryEntry, listMemoryEntries, resolveContradiction, updateMemoryEntry, type MemoryEntry, type MemoryKind, type MemoryStatus } from '../../../services/memory.ts';
import { addMemoryEntry } from '../../../services/memoryPeople.ts';
import { resolveCommit } from '../../../git/tree.ts';
import { loadMemoryLinks } from '../../../services/uiMemory.ts';
import { wakeDispatcher } from '../../../events/wake.ts';
import { MEMORY_LIMITS } from '../../../domain/memory.ts';
import type { FormError } from '../../views/context.ts';
import { MEMORY_KINDS, MEMORY_STATUSES, MemoryEntryPage, MemoryPage, memoryEntryUrl, memoryUrl, type MemoryFormValues, type MemoryQuery } from '../../views/pages/memory.tsx';
import { askToConfirm, isConfirmed } from './confirm.tsx';
import { pageContext, readForm, render, requireUser, setFlash, type FormFields } from './render.tsx';
import { repoAccess, repoPath, repoView } from './access.ts';

const PER_PAGE = 20;
const ID = '{[0-9]{1,9}}';
const AGENT_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** `path:12`, `path:12-20` or `path:L12-L20`, optionally `@<commit>`. */
const CITATION = /^(.+?):L?(\d{1,7})(?:\s*[-–]\s*L?(\d{1,7}))?(?:\s*@\s*([0-9a-fA-F]{4,40}))?$/;

function queryOf(c: Context<WebEnv>): MemoryQuery {
  const kind = c.req.query('kind') ?? '';
  const status = c.req.query('status') ?? '';
  const agent = (c.req.query('agent') ?? '').trim();
  const page = Number(c.req.query('page') ?? '1');
  return {
    q: (c.req.query('q') ?? '').trim().slice(0, 200),
    kind: (MEMORY_KINDS as readonly string[]).includes(kind) ? (kind as MemoryKind) : '',
    status: (MEMORY_STATUSES as readonly string[]).includes(status) || status === 'contradiction' ? (status as MemoryStatus | 'contradiction') : '',
    agent: AGENT_KEY.test(agent) ? agent : '',
    pinned: c.req.query('pinned') === '1',
    page: Number.isInteger(page) && page >= 1 && page <= 100_000 ? page : 1,
  };
}

function entryId(c: Context<WebEnv>): number {
  return Number(c.req.param('id'));
}

async function entryOr404(access: RepositoryAccess, c: Context<WebEnv>): Promise<MemoryEntry> {
  const entry = await getMemoryEntry(c.get('app').db, access.repo.id, entryId(c));
  if (!entry) throw notFound('Memory entry not found');
  return entry;
}

/** Where a form asked to go back to: a page of this repository's memory, nothing else. */
function backTo(access: RepositoryAccess, form: FormFields, fallback: string): string {
  const back = form.get('back');
  const prefix = `${repoPath(access)}/memory`;
  return back.length <= 2000 && (back === prefix || back.startsWith(`${prefix}?`) || back.startsWith(`${prefix}/`)) && !/[\u0000-\u001f\\]/.test(back) ? back : fallback;
}

function valuesOf(form: FormFields): MemoryFormValues {
  const kind = form.get('kind');
  return {
    kind: (MEMORY_KINDS as readonly string[]).includes(kind) ? (kind as MemoryKind) : 'claim',
    subject: form.get('subject').trim(),
    fact: form.get('fact').replace(/\r\n/g, '\n').trim(),
    reason: form.get('reason').replace(/\r\n/g, '\n').trim(),
    citations: form.get('citations').replace(/\r\n/g, '\n').trim(),
    agent: form.get('agent').trim().replace(/^@/, ''),
    paths: form.get('paths').trim(),
    pinned: form.get('pinned') === '1',
  };
}

const invalid = (message: string, field: string) => new ServiceError(422, message, field);

/** The form's checks before the service's: required fields, the agent key, the path globs, the citations' syntax. */
type CitationInput = { path: string; start_line: number; end_line: number; commit?: string };

function checkForm(v: MemoryFormValues, kindField: string): { paths: string[]; citations: CitationInput[] } {
  if (!(MEMORY_KINDS as readonly string[]).includes(kindField)) throw invalid('kind must be claim, decision, failure or convention', 'kind');
  if (!v.subject) throw invalid('subject is required', 'subject');
  if (!v.fact) throw invalid('fact is required', 'fact');
  if (v.agent && !AGENT_KEY.test(v.agent)) throw invalid(`"${v.agent.slice(0, 64)}" is not an agent key`, 'agent');
  const paths = v.paths
    .split(/[,\n]/)
    .map((p) => p.trim())
    .filter(Boolean);
  if (paths.length > MEMORY_LIMITS.scopePaths) throw invalid(`at most ${MEMORY_LIMITS.scopePaths} paths`, 'paths');
  for (const p of paths) if (p.length > 512 || p.startsWith('/') || p.split('/').includes('..') || p.includes('\0')) throw invalid(`"${p.slice(0, 100)}" is not a path inside the repository`, 'paths');
  const lines = v.citations
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines.length > MEMORY_LIMITS.citations) throw invalid(`at most ${MEMORY_LIMITS.citations} citations`, 'citations');
  const citations = lines.map((line): CitationInput => {
    const m = CITATION.exec(line);
    if (!m) throw invalid(`"${line.slice(0, 100)}" is not a citation (write path:12-20, optionally @commit)`, 'citations');
    const start = Number(m[2]);
    const end = m[3] ? Number(m[3]) : start;
    return { path: m[1]!.trim(), start_line: start, end_line: end, ...(m[4] ? { commit: m[4].toLowerCase() } : {}) };
  });
  return { paths, citations };
}

/** Abbreviated commits of citations expanded (the service takes full ones); none given: the default branch's head. */
async function expandCommits(access: RepositoryAccess, citations: CitationInput[]): Promise<CitationInput[]> {
  const out: CitationInput[] = [];
  for (const c of citations) {
    if (c.commit === undefined || c.commit.length === 40) out.push(c);
    else {
      const sha = await resolveCommit(access.gitDir, c.commit);
      if (!sha) throw invalid(`${c.path}: unknown commit ${c.commit}`, 'citations');
      out.push({ ...c, commit: sha });
    }
  }
  return out;
}

async function renderList(c: Context<WebEnv>, access: RepositoryAccess, add?: { values: MemoryFormValues; error: FormError | null }, status: 200 | 422 = 200) {
  const app = c.get('app');
  const query = queryOf(c);
  const [view, { entries, total }] = await Promise.all([
    repoView(c, access),
    listMemoryEntries(app.db, access.repo.id, { q: query.q || undefined, kind: query.kind || undefined, status: query.status || undefined, agent: query.agent || undefined, pinned: query.pinned ? true : undefined, page: query.page, per_page: PER_PAGE }),
  ]);
  const links = await loadMemoryLinks(app.db, access.repo, entries);
  return render(c, <MemoryPage ctx={pageContext(c)} view={view} entries={entries} total={total} perPage={PER_PAGE} query={query} links={links} add={add} />, status);
}

async function renderEntry(c: Context<WebEnv>, access: RepositoryAccess, entry: MemoryEntry, edit?: { values: MemoryFormValues; error: FormError | null }, status: 200 | 422 = 200) {
  const app = c.get('app');
  const [view, links] = await Promise.all([repoView(c, access), loadMemoryLinks(app.db, access.repo, [entry], { usedBy: true })]);
  return render(c, <MemoryEntryPage ctx={pageContext(c)} view={view} entry={entry} links={links} edit={edit} />, status);
}

/** A service's 422 as the form shows it, on the field it names (`citations.0.path` is the citations box, `scope.agent` the agent). */
function formError(err: unknown): FormError | null {
  if (!(err instanceof ServiceError) || (err.status !== 422 && err.status !== 400)) return null;
  const top = err.field?.split('.')[0];
  const field = top === 'scope' ? err.field?.split('.')[1] : top === 'ref' ? 'citations' : top;
  return { message: err.message, field };
}

/**
 * The Memory tab (issue 14): a repository's claims, decisions, failures and conventions — search,
 * filters (kind, status, agent, pinned), one page per entry with the runs it was given to; writers add,
 * edit, pin, delete (after a confirmation step) and resolve contradictions (keep both, or one supersedes).
 */
export function registerMemoryRoutes(ui: Hono<WebEnv>): void {
  ui.get('/:owner/:repo/memory', async (c) => renderList(c, await repoAccess(c)));

  ui.post('/:owner/:repo/memory', async (c) => {
    const access = await repoAccess(c, 'write');
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const form = await readForm(c);
    const values = valuesOf(form);
    const app = c.get('app');
    try {
      const { paths, citations } = checkForm(values, form.get('kind'));
      const { entry, contradicts } = await addMemoryEntry(app, access, identity.user, {
        kind: values.kind,
        subject: values.subject,
        fact: values.fact,
        reason: values.reason,
        citations: await expandCommits(access, citations),
        scope: { agent: values.agent || null, paths },
        pinned: values.pinned,
      });
      setFlash(c, contradicts.length ? 'info' : 'success', contradicts.length ? `Entry #${entry.id} added. It contradicts ${contradicts.map((e) => `#${e.id}`).join(', ')}: resolve it below.` : `Entry #${entry.id} added.`);
      return c.redirect(contradicts.length ? memoryEntryUrl(access.repo, entry.id) : `${memoryUrl(access.repo)}#memory-${entry.id}`, 303);
    } catch (err) {
      const error = formError(err);
      if (!error) throw err;
      return renderList(c, access, { values, error }, 422);
    }
  });

  ui.get(`/:owner/:repo/memory/:id${ID}`, async (c) => {
    const access = await repoAccess(c);
    return renderEntry(c, access, await entryOr404(access, c));
  });

  ui.post(`/:owner/:repo/memory/:id${ID}`, async (c) => {
    const access = await repoAccess(c, 'write');
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const entry = await entryOr404(access, c);
    const form = await readForm(c);
    const values = valuesOf(form);
    try {
      const { paths } = checkForm({ ...values, citations: '' }, form.get('kind'));
      await updateMemoryEntry(c.get('app').db, access.repo.id, entry.id, { kind: values.kind, subject: values.subject, fact: values.fact, reason: values.reason, pinned: values.pinned, scope: { agent: values.agent || null, paths } }, now());
      wakeDispatcher(c.get('app'));
      setFlash(c, 'success', `Entry #${entry.id} saved.`);
      return c.redirect(memoryEntryUrl(access.repo, entry.id), 303);
    } catch (err) {
      const error = formError(err);
      if (!error) throw err;
      return renderEntry(c, access, entry, { values: { ...values, citations: '' }, error }, 422);
    }
  });

  ui.post(`/:owner/:repo/memory/:id${ID}/pin`, async (c) => {
    const access = await repoAccess(c, 'write');
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const entry = await entryOr404(access, c);
    const form = await readForm(c);
    const pinned = form.get('pinned') === '1';
    await updateMemoryEntry(c.get('app').db, access.repo.id, entry.id, { pinned }, now());
    setFlash(c, 'success', `Entry #${entry.id} ${pinned ? 'pinned' : 'unpinned'}.`);
    return c.redirect(backTo(access, form, memoryEntryUrl(access.repo, entry.id)), 303);
  });

  ui.post(`/:owner/:repo/memory/:id${ID}/delete`, async (c) => {
    const access = await repoAccess(c, 'write');
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const entry = await entryOr404(access, c);
    const form = await readForm(c);
    const back = backTo(access, form, memoryUrl(access.repo));
    // Coming back to a deleted entry's own page would be a 404: go to the list instead.
    const after = back.startsWith(memoryEntryUrl(access.repo, entry.id)) ? memoryUrl(access.repo) : back;
    if (!isConfirmed(form)) {
      return askToConfirm(c, {
        title: `Delete memory entry #${entry.id}?`,
        message: `“${entry.subject}” will no longer be given to runs. Runs that were given it keep their record of what they were told.`,
        details: [entry.fact.length > 300 ? `${entry.fact.slice(0, 300)}…` : entry.fact],
        action: `${memoryEntryUrl(access.repo, entry.id)}/delete`,
        fields: [['back', after]],
        confirmLabel: 'Delete entry',
        cancelHref: back,
      });
    }
    await deleteMemoryEntry(c.get('app').db, access.repo.id, entry.id);
    setFlash(c, 'success', `Entry #${entry.id} deleted.`);
    return c.redirect(after, 303);
  });

  ui.post(`/:owner/:repo/memory/:id${ID}/resolve`, async (c) => {
    const access = await repoAccess(c, 'write');
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const entry = await entryOr404(access, c);
    const form = await readForm(c);
    const back = backTo(access, form, memoryEntryUrl(access.repo, entry.id));
    const otherId = Number(form.get('other_id'));
    const resolution = form.get('resolution');
    if (!Number.isSafeInteger(otherId) || otherId < 1 || (resolution !== 'keep_both' && resolution !== 'supersede')) throw new ServiceError(422, 'Choose "Keep both" or "This one supersedes" for a flagged pair');
    try {
      await resolveContradiction(c.get('app').db, access.repo.id, entry.id, otherId, resolution === 'keep_both' ? { kind: 'keep_both' } : { kind: 'supersede', winner_id: entry.id }, now());
    } catch (err) {
      if (!(err instanceof ServiceError) || err.status === 404 || err.status >= 500) throw err;
      setFlash(c, 'error', err.message);
      return c.redirect(back, 303);
    }
    setFlash(c, 'success', resolution === 'keep_both' ? `Entries #${entry.id} and #${otherId} both stay.` : `Entry #${entry.id} supersedes #${otherId}.`);
    return c.redirect(back, 303);
  });
}
