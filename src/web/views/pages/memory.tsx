import type { FC } from 'hono/jsx';
import type { FormError, PageContext } from '../context.ts';
import type { MemoryCitation, MemoryEntry, MemoryKind, MemoryStatus } from '../../../services/memory.ts';
import type { MemoryLinks } from '../../../services/uiMemory.ts';
import { Layout } from '../layout.tsx';
import { EmptyState, FormAlert, PageAssets, PageLinks, PostForm, Time } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { blobUrl, repoUrl, type RepoRef } from '../urls.ts';
import { RepoHeader, type RepoView } from './repo.tsx';

export const MEMORY_KINDS: readonly MemoryKind[] = ['claim', 'decision', 'failure', 'convention'];
export const MEMORY_STATUSES: readonly MemoryStatus[] = ['live', 'stale', 'expired', 'superseded'];

const KIND_LABEL: Record<MemoryKind, string> = { claim: 'Claim', decision: 'Decision', failure: 'Failure', convention: 'Convention' };
const STATUS_HINT: Record<MemoryStatus, string> = {
  live: 'Given to runs when relevant',
  stale: 'Its citations no longer hold at a run’s source commit: left out of prompts until edited',
  expired: 'Not used or re-validated for 28 days: left out of prompts, kept for the record',
  superseded: 'Another entry replaced it',
};

export interface MemoryQuery {
  q: string;
  kind: MemoryKind | '';
  /** An entry status, or `contradiction` (flagged entries). */
  status: MemoryStatus | 'contradiction' | '';
  agent: string;
  pinned: boolean;
  page: number;
}

/** The values of the add and edit forms, as typed (redisplayed after an error). */
export interface MemoryFormValues {
  kind: MemoryKind;
  subject: string;
  fact: string;
  reason: string;
  /** One citation a line: `path:12-20` or `path:12`, optionally `@commit`. */
  citations: string;
  agent: string;
  /** Path globs, one a line or comma-separated. */
  paths: string;
  pinned: boolean;
}

export const emptyMemoryForm = (agent = ''): MemoryFormValues => ({ kind: 'claim', subject: '', fact: '', reason: '', citations: '', agent, paths: '', pinned: false });

export const memoryUrl = (repo: RepoRef, q: Partial<MemoryQuery> = {}): string => {
  const p = new URLSearchParams();
  if (q.q) p.set('q', q.q);
  if (q.kind) p.set('kind', q.kind);
  if (q.status) p.set('status', q.status);
  if (q.agent) p.set('agent', q.agent);
  if (q.pinned) p.set('pinned', '1');
  if (q.page && q.page > 1) p.set('page', String(q.page));
  const qs = p.toString();
  return `${repoUrl(repo)}/memory${qs ? `?${qs}` : ''}`;
};
export const memoryEntryUrl = (repo: RepoRef, id: number) => `${repoUrl(repo)}/memory/${id}`;

/** `src/a.ts:L4–L9 @ abc1234`, linked to the lines at the cited commit. */
export const CitationLink: FC<{ repo: RepoRef; c: MemoryCitation; valid?: boolean }> = ({ repo, c, valid }) => {
  const lines = c.start_line === c.end_line ? `L${c.start_line}` : `L${c.start_line}-L${c.end_line}`;
  const label = c.start_line === c.end_line ? `L${c.start_line}` : `L${c.start_line}–L${c.end_line}`;
  return (
    <a class={valid === false ? 'mem-cite mem-cite-invalid' : 'mem-cite'} href={`${blobUrl(repo, c.commit, c.path)}#${lines}`} title={`${c.path} lines ${c.start_line}–${c.end_line} at ${c.commit}`}>
      <span class="mono">
        {c.path}:{label}
      </span>{' '}
      <span class="muted mono">@ {c.commit.slice(0, 7)}</span>
    </a>
  );
};

export const MemoryKindLabel: FC<{ kind: MemoryKind }> = ({ kind }) => <span class={`mem-kind mem-kind-${kind}`}>{KIND_LABEL[kind] ?? kind}</span>;

export const MemoryStatusLabel: FC<{ status: MemoryStatus }> = ({ status }) => (
  <span class={`label mem-status mem-status-${status}`} title={STATUS_HINT[status]}>
    {status}
  </span>
);

/** Where an entry came from: a run, a review, a pull request or a person, linked when it still exists. */
const SourceLink: FC<{ entry: MemoryEntry; links: MemoryLinks }> = ({ entry, links }) => {
  const s = links.sources.get(entry.id);
  if (!s) return <span>{entry.source.label ?? entry.source.type}</span>;
  return s.href ? (
    <a href={s.href} class="mem-source-link">
      {s.label}
    </a>
  ) : (
    <span>{s.label}</span>
  );
};

const canChange = (view: RepoView, ctx: PageContext) => !!ctx.user && (view.role === 'write' || view.role === 'admin');

/** One entry: what it says, why, what it cites, where it came from; the writer's buttons. */
const MemoryEntryCard: FC<{ ctx: PageContext; view: RepoView; entry: MemoryEntry; links: MemoryLinks; back: string; full?: boolean }> = ({ ctx, view, entry, links, back, full }) => {
  const repo = view.repo;
  const write = canChange(view, ctx);
  const partners = links.partners.get(entry.id) ?? [];
  const author = entry.created_by_id !== null ? links.users.get(entry.created_by_id) : undefined;
  const base = memoryEntryUrl(repo, entry.id);
  return (
    <article class={`mem-entry mem-entry-${entry.status}${entry.contradiction ? ' mem-entry-flagged' : ''}`} id={`memory-${entry.id}`} data-id={entry.id} data-kind={entry.kind} data-status={entry.status}>
      <header class="mem-entry-head">
        <MemoryKindLabel kind={entry.kind} />
        {full ? (
          <h1 class="mem-subject mem-subject-page">{entry.subject}</h1>
        ) : (
          <a class="mem-subject" href={base}>
            {entry.subject}
          </a>
        )}
        <MemoryStatusLabel status={entry.status} />
        {entry.pinned && (
          <span class="label mem-pinned" title="Pinned: always considered for runs in scope, never expires">
            Pinned
          </span>
        )}
        {entry.contradiction && (
          <span class="label mem-flag" title="Another live entry on the same subject says something different">
            <Icon name="alert" size={12} /> Contradiction
          </span>
        )}
        <span class="mem-id muted">#{entry.id}</span>
      </header>
      <p class="mem-fact">{entry.fact}</p>
      {entry.reason && (
        <p class="mem-reason">
          <span class="mem-reason-label">Why:</span> {entry.reason}
        </p>
      )}
      {entry.citations.length > 0 && (
        <ul class="mem-cites" aria-label="Citations">
          {entry.citations.map((c) => (
            <li>
              <CitationLink repo={repo} c={c} />
            </li>
          ))}
        </ul>
      )}
      <div class="mem-meta muted">
        <span>
          From <SourceLink entry={entry} links={links} />
          {author && entry.source.type !== 'person' ? (
            <>
              {' '}
              · by <a href={`/${encodeURIComponent(author)}`}>{author}</a>
            </>
          ) : null}
        </span>
        <span>
          Scope:{' '}
          {entry.scope.agent ? (
            <a class="mem-scope-agent" href={memoryUrl(repo, { agent: entry.scope.agent })}>
              @{entry.scope.agent}
            </a>
          ) : (
            'every agent'
          )}
          {entry.scope.paths.length > 0 && <span class="mono"> · {entry.scope.paths.join(', ')}</span>}
        </span>
        <span title="Confidence">confidence {Math.round(entry.confidence * 100)}%</span>
        <Time iso={entry.created_at} prefix="created " />
        {entry.validated_at && <Time iso={entry.validated_at} prefix="validated " />}
        {!entry.pinned && entry.status !== 'superseded' && <Time iso={entry.expires_at} prefix={Date.parse(entry.expires_at) < Date.now() ? 'expired ' : 'expires '} />}
      </div>

      {partners.length > 0 && (
        <div class="mem-contradiction" id={`memory-${entry.id}-contradiction`}>
          {partners.map((other) => (
            <div class="mem-pair" data-other={other.id}>
              <p class="mem-pair-text">
                <Icon name="alert" /> Contradicts{' '}
                <a href={`${memoryEntryUrl(repo, other.id)}`} class="mem-pair-link">
                  #{other.id}
                </a>
                : <q class="mem-pair-fact">{other.fact}</q>
              </p>
              {write && (
                <div class="mem-pair-actions">
                  <PostForm ctx={ctx} action={`${base}/resolve`} class="inline-form">
                    <input type="hidden" name="other_id" value={String(other.id)} />
                    <input type="hidden" name="resolution" value="keep_both" />
                    <input type="hidden" name="back" value={back} />
                    <button type="submit" class="btn btn-sm mem-keep-both" title="Both hold (for example in different situations): clear the flag">
                      Keep both
                    </button>
                  </PostForm>
                  <PostForm ctx={ctx} action={`${base}/resolve`} class="inline-form">
                    <input type="hidden" name="other_id" value={String(other.id)} />
                    <input type="hidden" name="resolution" value="supersede" />
                    <input type="hidden" name="back" value={back} />
                    <button type="submit" class="btn btn-sm btn-primary mem-supersede" title={`Entry #${entry.id} replaces #${other.id}, which stops being given to runs`}>
                      This one supersedes #{other.id}
                    </button>
                  </PostForm>
                </div>
              )}
            </div>
          ))}
        </div>
      )}

      {write && (
        <div class="mem-actions">
          {!full && (
            <a class="btn btn-sm mem-edit" href={`${base}#edit`}>
              <Icon name="pencil" /> Edit
            </a>
          )}
          <PostForm ctx={ctx} action={`${base}/pin`} class="inline-form">
            <input type="hidden" name="pinned" value={entry.pinned ? '0' : '1'} />
            <input type="hidden" name="back" value={back} />
            <button type="submit" class="btn btn-sm mem-pin">
              {entry.pinned ? 'Unpin' : 'Pin'}
            </button>
          </PostForm>
          <PostForm ctx={ctx} action={`${base}/delete`} class="inline-form">
            <input type="hidden" name="back" value={back} />
            <button type="submit" class="btn btn-sm btn-danger-outline mem-delete">
              <Icon name="trash" /> Delete
            </button>
          </PostForm>
        </div>
      )}
    </article>
  );
};

/** The add and edit form (the same fields; the edit form cannot change citations, which are evidence). */
const MemoryForm: FC<{ ctx: PageContext; action: string; values: MemoryFormValues; error: FormError | null; submit: string; idPrefix: string; citations: boolean }> = ({ ctx, action, values, error, submit, idPrefix, citations }) => {
  const invalid = (field: string) => (error?.field === field ? 'true' : undefined);
  return (
    <PostForm ctx={ctx} action={action} class="stack mem-form" id={`${idPrefix}-form`}>
      <FormAlert error={error} />
      <div class="mem-form-row">
        <div class="field mem-field-kind">
          <label for={`${idPrefix}-kind`}>Kind</label>
          <select id={`${idPrefix}-kind`} name="kind" class="input select" aria-invalid={invalid('kind')}>
            {MEMORY_KINDS.map((k) => (
              <option value={k} selected={k === values.kind}>
                {KIND_LABEL[k]}
              </option>
            ))}
          </select>
        </div>
        <div class="field mem-field-subject">
          <label for={`${idPrefix}-subject`}>Subject</label>
          <input id={`${idPrefix}-subject`} name="subject" class="input" type="text" maxlength={200} required value={values.subject} placeholder="e.g. date parsing in lib/x.js" aria-invalid={invalid('subject')} />
        </div>
      </div>
      <div class="field">
        <label for={`${idPrefix}-fact`}>Fact</label>
        <textarea id={`${idPrefix}-fact`} name="fact" class="input" rows={3} required maxlength={4000} aria-invalid={invalid('fact')}>
          {values.fact}
        </textarea>
      </div>
      <div class="field">
        <label for={`${idPrefix}-reason`}>
          Reason <span class="hint">(why it holds, or why the approach failed)</span>
        </label>
        <textarea id={`${idPrefix}-reason`} name="reason" class="input" rows={2} maxlength={4000} aria-invalid={invalid('reason')}>
          {values.reason}
        </textarea>
      </div>
      {citations && (
        <div class="field">
          <label for={`${idPrefix}-citations`}>
            Citations <span class="hint">one a line: <code>path:12-20</code> or <code>path:12</code>, optionally <code>@commit</code> (default: the head of the default branch)</span>
          </label>
          <textarea id={`${idPrefix}-citations`} name="citations" class="input mono" rows={2} maxlength={4000} placeholder="lib/x.js:10-14" aria-invalid={invalid('citations')}>
            {values.citations}
          </textarea>
        </div>
      )}
      <div class="mem-form-row mem-form-row-even">
        <div class="field">
          <label for={`${idPrefix}-agent`}>
            Agent <span class="hint">(blank: every agent)</span>
          </label>
          <input id={`${idPrefix}-agent`} name="agent" class="input" type="text" maxlength={64} value={values.agent} placeholder="reviewer" aria-invalid={invalid('agent')} />
        </div>
        <div class="field">
          <label for={`${idPrefix}-paths`}>
            Paths <span class="hint">(globs, comma-separated; blank: the whole repository)</span>
          </label>
          <input id={`${idPrefix}-paths`} name="paths" class="input mono" type="text" maxlength={2000} value={values.paths} placeholder="lib/**, src/*.ts" aria-invalid={invalid('paths')} />
        </div>
      </div>
      <label class="checkbox-line">
        <input type="checkbox" name="pinned" value="1" checked={values.pinned} /> Pinned <span class="hint">(always considered for runs in scope; never expires)</span>
      </label>
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" id={`${idPrefix}-submit`}>
          {submit}
        </button>
      </div>
    </PostForm>
  );
};

export interface MemoryPageProps {
  ctx: PageContext;
  view: RepoView;
  entries: MemoryEntry[];
  total: number;
  perPage: number;
  query: MemoryQuery;
  links: MemoryLinks;
  /** The add form after an error (open, with the values typed). */
  add?: { values: MemoryFormValues; error: FormError | null };
}

/** The Memory tab: search and filters, the entries, the add form. */
export const MemoryPage: FC<MemoryPageProps> = ({ ctx, view, entries, total, perPage, query, links, add }) => {
  const repo = view.repo;
  const write = canChange(view, ctx);
  const pages = Math.max(1, Math.ceil(total / perPage));
  const filtered = !!(query.q || query.kind || query.status || query.agent || query.pinned);
  const here = memoryUrl(repo, query);
  return (
    <Layout ctx={ctx} title={`Memory${query.agent ? ` of @${query.agent}` : ''} · ${repo.owner_name}/${repo.name}`} band={<RepoHeader ctx={ctx} view={view} active="memory" />} head={<PageAssets ctx={ctx} styles={['memory.css']} />}>
      <div class="page-title-row mem-title-row">
        <div>
          <h2 class="page-title">{query.agent ? <>Memory of @{query.agent}</> : 'Memory'}</h2>
          <p class="muted mem-sub">Claims, decisions, failures and conventions given to this repository's runs when relevant, each citing the code it is about. Citations are checked at every run's source commit; entries whose code moved on go stale.</p>
        </div>
      </div>

      <form method="get" action={memoryUrl(repo)} class="mem-filters" role="search">
        <label class="sr-only" for="memory-q">
          Search memory
        </label>
        <input id="memory-q" class="input input-sm mem-q" type="search" name="q" value={query.q} maxlength={200} placeholder="Search subjects, facts and reasons" />
        <label class="sr-only" for="memory-kind">
          Kind
        </label>
        <select id="memory-kind" name="kind" class="input select select-sm">
          <option value="">Every kind</option>
          {MEMORY_KINDS.map((k) => (
            <option value={k} selected={k === query.kind}>
              {KIND_LABEL[k]}
            </option>
          ))}
        </select>
        <label class="sr-only" for="memory-status">
          Status
        </label>
        <select id="memory-status" name="status" class="input select select-sm">
          <option value="">Every status</option>
          {MEMORY_STATUSES.map((s) => (
            <option value={s} selected={s === query.status}>
              {s}
            </option>
          ))}
          <option value="contradiction" selected={query.status === 'contradiction'}>
            flagged (contradiction)
          </option>
        </select>
        <label class="sr-only" for="memory-agent">
          Agent
        </label>
        <input id="memory-agent" class="input input-sm mem-agent" type="text" name="agent" value={query.agent} maxlength={64} placeholder="Agent key" />
        <label class="checkbox-line mem-pinned-filter">
          <input type="checkbox" name="pinned" value="1" checked={query.pinned} /> Pinned
        </label>
        <button type="submit" class="btn btn-sm" id="memory-search">
          Search
        </button>
        {filtered && (
          <a class="btn btn-sm btn-ghost" href={memoryUrl(repo)} id="memory-clear">
            <Icon name="x" /> Clear
          </a>
        )}
        <span class="muted mem-count" id="memory-count">
          {total} {total === 1 ? 'entry' : 'entries'}
        </span>
      </form>

      {write && (
        <details class="card mem-new" id="memory-new" open={add ? true : undefined}>
          <summary class="card-head">
            <Icon name="plus" />
            <h2 class="h3">Add an entry</h2>
          </summary>
          <div class="card-pad">
            <MemoryForm ctx={ctx} action={`${repoUrl(repo)}/memory`} values={add?.values ?? emptyMemoryForm(query.agent)} error={add?.error ?? null} submit="Add entry" idPrefix="memory-new" citations />
          </div>
        </details>
      )}
      {entries.length === 0 ? (
        <div class="card">
          {total > 0 ? (
            <EmptyState icon="book" title="No entries on this page">
              <p class="muted">
                <a href={memoryUrl(repo, { ...query, page: 1 })}>Back to the first page</a>
              </p>
            </EmptyState>
          ) : (
            <EmptyState icon="book" title={filtered ? 'No memory matches' : 'No memory yet'}>
              <p class="muted">{filtered ? 'Try other words or clear the filters.' : 'Runs record what they learn and what failed; change requests become decisions and closed drafts become failures. You can add entries yourself.'}</p>
            </EmptyState>
          )}
        </div>
      ) : (
        <div class="mem-list" id="memory-list">
          {entries.map((e) => (
            <MemoryEntryCard ctx={ctx} view={view} entry={e} links={links} back={here} />
          ))}
        </div>
      )}
      {pages > 1 && <PageLinks page={query.page} pages={pages} href={(p) => memoryUrl(repo, { ...query, page: p })} prevText="← Previous" nextText="Next →" />}

      {!ctx.user && (
        <p class="hint mem-signin">
          <a href={`/-/login?next=${encodeURIComponent(ctx.path)}`}>Sign in</a> to add or edit memory.
        </p>
      )}
    </Layout>
  );
};

export interface MemoryEntryPageProps {
  ctx: PageContext;
  view: RepoView;
  entry: MemoryEntry;
  links: MemoryLinks;
  edit?: { values: MemoryFormValues; error: FormError | null };
}

export function formValuesOf(entry: MemoryEntry): MemoryFormValues {
  return {
    kind: entry.kind,
    subject: entry.subject,
    fact: entry.fact,
    reason: entry.reason,
    citations: entry.citations.map((c) => `${c.path}:${c.start_line}${c.end_line !== c.start_line ? `-${c.end_line}` : ''}@${c.commit}`).join('\n'),
    agent: entry.scope.agent ?? '',
    paths: entry.scope.paths.join(', '),
    pinned: entry.pinned,
  };
}

/** One entry with its edit form and the runs it was given to. */
export const MemoryEntryPage: FC<MemoryEntryPageProps> = ({ ctx, view, entry, links, edit }) => {
  const repo = view.repo;
  const write = canChange(view, ctx);
  const usedBy = links.usedBy.get(entry.id) ?? [];
  return (
    <Layout ctx={ctx} title={`${entry.subject} · Memory · ${repo.owner_name}/${repo.name}`} band={<RepoHeader ctx={ctx} view={view} active="memory" />} head={<PageAssets ctx={ctx} styles={['memory.css']} />}>
      <nav class="mem-crumbs" aria-label="Breadcrumb">
        <a href={memoryUrl(repo)}>Memory</a>
        <span aria-hidden="true">/</span>
        <span>#{entry.id}</span>
      </nav>
      <MemoryEntryCard ctx={ctx} view={view} entry={entry} links={links} back={memoryEntryUrl(repo, entry.id)} full />
      <section class="card mem-used" id="memory-used">
        <div class="card-head">
          <Icon name="sparkle" />
          <h2 class="h3">Given to runs</h2>
        </div>
        {usedBy.length === 0 ? (
          <p class="card-pad muted">No run has been given this entry yet.</p>
        ) : (
          <ul class="mem-used-list">
            {usedBy.map((r) => (
              <li>
                <a href={`${repoUrl(repo)}/runs/${r.number}`}>
                  #{r.number} {r.title}
                </a>{' '}
                <span class="muted">{r.status}</span>
              </li>
            ))}
          </ul>
        )}
      </section>
      {write && (
        <section class="card mem-edit-card" id="edit">
          <div class="card-head">
            <Icon name="pencil" />
            <h2 class="h3">Edit</h2>
          </div>
          <div class="card-pad">
            <MemoryForm ctx={ctx} action={memoryEntryUrl(repo, entry.id)} values={edit?.values ?? formValuesOf(entry)} error={edit?.error ?? null} submit="Save changes" idPrefix="memory-edit" citations={false} />
          </div>
        </section>
      )}
    </Layout>
  );
};
