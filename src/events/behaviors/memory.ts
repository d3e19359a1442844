import type { AppContext } from '../../services/app.ts';
import type { Behavior } from '../registry.ts';
import type { PullRequest } from '../../db/schema.ts';
import type { RepositoryAccess, RepositoryWithOwner } from '../../services/repositories.ts';
import { now } from '../../services/app.ts';
import { getMemoryEntry, recordMemoryEntry, type MemoryEntry, type StoredCitation } from '../../services/memory.ts';
import { resolveCitations } from '../../services/memoryValidation.ts';
import { createConversationComment } from '../../services/pullComments.ts';
import { reviewBot, REVIEW_BOT } from '../../services/reviews.ts';
import { RUN_NO_COMMITS } from '../../services/runPullRequests.ts';
import { ServiceError } from '../../services/errors.ts';
import { MEMORY_LIMITS } from '../../domain/memory.ts';
import { runGit } from '../../git/exec.ts';
import { parseTouchedRanges } from './overlap.ts';
import { pullRequestById, systemAccess } from './context.ts';

/**
 * Where semantic memory comes from besides runs and people (issue 14), and what a contradiction does:
 * - a review that requests changes with a reason → a `decision` (citing its line comments);
 * - a draft pull request closed without merging → a `failure` (the closing comment as its reason,
 *   citing the lines of the base that the pull request changed);
 * - `memory.contradiction` → a notice on each open pull request whose changes touch the cited files.
 */

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** Citations that still read at their commit; ones that do not (a file gone, lines past its end) are left out. */
async function readableCitations(access: RepositoryAccess, commit: string, wanted: { path: string; start_line: number; end_line: number; commit: string }[]): Promise<StoredCitation[]> {
  const out: StoredCitation[] = [];
  const seen = new Set<string>();
  for (const c of wanted) {
    if (out.length >= MEMORY_LIMITS.citations) break;
    const end = Math.min(c.end_line, c.start_line + MEMORY_LIMITS.citationLines - 1);
    const key = `${c.path}:${c.start_line}:${end}:${c.commit}`;
    if (seen.has(key)) continue;
    seen.add(key);
    try {
      out.push(...(await resolveCitations(access.gitDir, commit, [{ path: c.path, start_line: c.start_line, end_line: end, commit: c.commit }])));
    } catch (err) {
      if (!(err instanceof ServiceError)) throw err;
    }
  }
  return out;
}

async function alreadyRecorded(app: AppContext, repo: RepositoryWithOwner, sourceType: 'review' | 'pull_request', sourceId: number, kind: string, since?: string | null): Promise<number | null> {
  let q = app.db.selectFrom('memory_entries').select('id').where('repository_id', '=', repo.id).where('source_type', '=', sourceType).where('source_id', '=', sourceId).where('kind', '=', kind);
  if (since) q = q.where('created_at', '>=', since);
  return (await q.executeTakeFirst())?.id ?? null;
}

/** A change request with a reason becomes a decision: the reviewer's words, citing the lines they commented on. */
export const memoryFromChangeRequests: Behavior = {
  key: 'memory-change-requests',
  description: 'Record a decision in the repository memory when a review requests changes with a reason (citing its line comments)',
  on: ['review.submitted'],
  optional: true,
  when: (event, ctx) => !!ctx.repo && event.payload.state === 'CHANGES_REQUESTED',
  async run(event, { app, repo }) {
    const reviewId = Number(event.payload.review_id);
    const review = Number.isSafeInteger(reviewId) ? await app.db.selectFrom('pull_request_reviews').selectAll().where('id', '=', reviewId).executeTakeFirst() : undefined;
    const pr = review ? await pullRequestById(app, review.pull_request_id) : undefined;
    if (!review || !pr || pr.repository_id !== repo!.id) return { outcome: 'the review no longer exists' };
    const reason = review.body.trim();
    if (!reason) return { outcome: 'the change request gave no reason' };
    const existing = await alreadyRecorded(app, repo!, 'review', review.id, 'decision');
    if (existing !== null) return { outcome: `already recorded as memory entry #${existing}` };
    const author = review.author_id ? await app.db.selectFrom('users').select(['username']).where('id', '=', review.author_id).executeTakeFirst() : undefined;
    const access = systemAccess(app, repo!);
    const anchored = await app.db
      .selectFrom('pull_request_comments')
      .select(['path', 'line', 'commit_sha'])
      .where('review_id', '=', review.id)
      .where('path', 'is not', null)
      .where((eb) => eb.or([eb('side', 'is', null), eb('side', '!=', 'LEFT')]))
      .orderBy('id')
      .limit(50)
      .execute();
    const citations = await readableCitations(
      access,
      review.commit_sha,
      anchored.filter((c) => c.path && c.line && c.commit_sha).map((c) => ({ path: c.path!, start_line: c.line!, end_line: c.line!, commit: c.commit_sha! })),
    );
    const who = author?.username ?? 'a reviewer';
    const { entry, contradicts } = await recordMemoryEntry(
      app.db,
      repo!.id,
      {
        kind: 'decision',
        subject: clip(pr.title.trim() || `pull request #${pr.number}`, MEMORY_LIMITS.subject),
        fact: clip(reason, MEMORY_LIMITS.fact),
        reason: clip(`${who} requested changes on #${pr.number} “${pr.title}”`, MEMORY_LIMITS.reason),
        citations,
        source: { type: 'review', id: review.id, label: clip(`review by ${who} of #${pr.number}`, 255) },
        confidence: author?.username === REVIEW_BOT ? 0.5 : 0.8,
        created_by_id: review.author_id,
      },
      now(),
    );
    return {
      outcome: `recorded decision #${entry.id}${citations.length ? ` citing ${citations.length} ${citations.length === 1 ? 'line comment' : 'line comments'}` : ''}${contradicts.length ? `; it contradicts ${contradicts.map((e) => `#${e.id}`).join(', ')}` : ''}`,
      links: [{ kind: 'pull_request', id: pr.number, label: `#${pr.number}` }, { kind: 'review', id: review.id, label: `review ${review.id}` }],
    };
  },
};

/** Pre-image line ranges of the base that a pull request's changes touch (new files have none). */
async function touchedBaseRanges(access: RepositoryAccess, pr: PullRequest): Promise<{ base: string; ranges: { path: string; start_line: number; end_line: number }[] }> {
  const base = pr.merge_base_sha ?? pr.base_sha;
  const r = await runGit(['diff', '--unified=0', '--no-color', '--no-renames', '--no-ext-diff', '--end-of-options', base, pr.head_sha], { gitDir: access.gitDir });
  const ranges: { path: string; start_line: number; end_line: number }[] = [];
  for (const [path, list] of parseTouchedRanges(r.stdout.toString('utf8'))) {
    for (const range of list) if (!range.created) ranges.push({ path, start_line: range.start, end_line: range.end });
  }
  return { base, ranges };
}

/** The closing comment: the closer's last conversation comment, else the last one by a person. */
async function closingComment(app: AppContext, pr: PullRequest, closerId: number | null): Promise<{ body: string; author: string | null } | null> {
  const rows = await app.db
    .selectFrom('pull_request_comments')
    .leftJoin('users', 'users.id', 'pull_request_comments.author_id')
    .select(['pull_request_comments.body as body', 'pull_request_comments.author_id as author_id', 'users.username as author'])
    .where('pull_request_comments.pull_request_id', '=', pr.id)
    .where('pull_request_comments.path', 'is', null)
    .orderBy('pull_request_comments.id', 'desc')
    .limit(50)
    .execute();
  const human = rows.filter((r) => r.author !== REVIEW_BOT && r.body.trim() !== '');
  const pick = (closerId !== null ? human.find((r) => r.author_id === closerId) : undefined) ?? human[0];
  return pick ? { body: pick.body.trim(), author: pick.author } : null;
}

/** A draft pull request closed without merging becomes a failure: what was tried, why it was dropped, where. */
export const memoryFromClosedDrafts: Behavior = {
  key: 'memory-closed-drafts',
  description: 'Record a failure in the repository memory when a draft pull request is closed without merging (the closing comment as its reason, citing the lines it changed)',
  on: ['pull_request.closed'],
  optional: true,
  when: (event, ctx) => !!ctx.repo && event.payload.merged !== true,
  async run(event, { app, repo }) {
    if (event.payload.reason === RUN_NO_COMMITS) return { outcome: 'closed because its run left no commits: nothing was tried' };
    const pr = await pullRequestById(app, event.payload.pull_request_id);
    if (!pr || pr.repository_id !== repo!.id) return { outcome: 'the pull request no longer exists' };
    if (pr.draft !== 1) return { outcome: 'not a draft' };
    if (pr.state !== 'closed') return { outcome: `the pull request is ${pr.state} again` };
    const existing = await alreadyRecorded(app, repo!, 'pull_request', pr.number, 'failure', pr.closed_at);
    if (existing !== null) return { outcome: `already recorded as memory entry #${existing}` };
    const access = systemAccess(app, repo!);
    const closerId = typeof event.payload.actor_id === 'number' ? event.payload.actor_id : null;
    const [comment, closer, touched, run] = await Promise.all([
      closingComment(app, pr, closerId),
      closerId !== null ? app.db.selectFrom('users').select('username').where('id', '=', closerId).executeTakeFirst() : Promise.resolve(undefined),
      touchedBaseRanges(access, pr).catch(() => null),
      app.db.selectFrom('prompt_pull_request_jobs').select(['number', 'agent_key']).where('pull_request_id', '=', pr.id).orderBy('id', 'desc').executeTakeFirst(),
    ]);
    const citations = touched ? await readableCitations(access, touched.base, touched.ranges.map((r) => ({ ...r, commit: touched.base }))) : [];
    const by = closer?.username ?? 'someone';
    const why = comment ? comment.body : `${by} closed it without a comment.`;
    const { entry, contradicts } = await recordMemoryEntry(
      app.db,
      repo!.id,
      {
        kind: 'failure',
        subject: clip(pr.title.trim() || `pull request #${pr.number}`, MEMORY_LIMITS.subject),
        // The same attempt dropped twice is the same fact (renewed, not a contradiction): which draft and run is the source's.
        fact: clip(`A draft pull request trying “${pr.title}” was closed without merging.`, MEMORY_LIMITS.fact),
        reason: clip(why, MEMORY_LIMITS.reason),
        citations,
        source: { type: 'pull_request', id: pr.number, label: clip(`draft #${pr.number}${run ? ` of run #${run.number}${run.agent_key ? ` by @${run.agent_key}` : ''}` : ''}, closed by ${by}`, 255) },
        created_by_id: closerId,
      },
      now(),
    );
    return {
      outcome: `recorded failure #${entry.id}${citations.length ? ` citing ${citations.length} ${citations.length === 1 ? 'range' : 'ranges'}` : ''}${comment ? '' : ' (no closing comment)'}${contradicts.length ? `; it contradicts ${contradicts.map((e) => `#${e.id}`).join(', ')}` : ''}`,
      links: [{ kind: 'pull_request', id: pr.number, label: `#${pr.number}` }],
    };
  },
};

/** Markdown-inert text on one line: a fact someone wrote cannot add links, images or headings to the notice. */
function inert(text: string, max = 300): string {
  return clip(text.replace(/[\r\n\u2028\u2029\t]+/g, ' ').trim(), max).replace(/[\\`*_{}[\]()#+\-.!|<>~&]/g, (c) => `\\${c}`);
}

async function changedPaths(access: RepositoryAccess, pr: PullRequest): Promise<Set<string>> {
  const r = await runGit(['diff', '--name-only', '-z', '--no-renames', '--end-of-options', pr.merge_base_sha ?? pr.base_sha, pr.head_sha], { gitDir: access.gitDir });
  return new Set(r.stdout.toString('utf8').split('\0').filter(Boolean));
}

const MAX_OPEN_PULLS = 200;

/** A contradiction between memory entries is announced on every open pull request that changes a cited file (once per pull request and contradiction). */
export const memoryContradictionNotice: Behavior = {
  key: 'memory-contradiction-notice',
  description: 'Comment on open pull requests whose changes touch the files cited by memory entries that contradict each other (once per pull request and contradiction)',
  on: ['memory.contradiction'],
  optional: true,
  when: (event, ctx) => !!ctx.repo,
  async run(event, { app, repo }) {
    const entryId = Number(event.payload.entry_id);
    const otherIds = (Array.isArray(event.payload.other_ids) ? event.payload.other_ids : []).map(Number).filter((n) => Number.isSafeInteger(n) && n > 0);
    const paths = (Array.isArray(event.payload.paths) ? event.payload.paths : []).filter((p): p is string => typeof p === 'string');
    const entry = Number.isSafeInteger(entryId) ? await getMemoryEntry(app.db, repo!.id, entryId) : null;
    if (!entry) return { outcome: 'the entry no longer exists' };
    const others = (await Promise.all(otherIds.map((id) => getMemoryEntry(app.db, repo!.id, id)))).filter((e): e is MemoryEntry => !!e && e.status !== 'superseded');
    if (!entry.contradiction || others.length === 0) return { outcome: 'the contradiction was resolved before the notice' };
    if (paths.length === 0) return { outcome: 'the entries cite no files: no pull request to notify' };
    const access = systemAccess(app, repo!);
    const pulls = await app.db.selectFrom('pull_requests').selectAll().where('repository_id', '=', repo!.id).where('state', '=', 'open').orderBy('number').limit(MAX_OPEN_PULLS).execute();
    const marker = `<!-- gitoku:memory-contradiction:${[entry.id, ...others.map((o) => o.id)].sort((a, b) => a - b).join('-')} -->`;
    const base = `${app.config.baseUrl}/${encodeURIComponent(repo!.owner_name)}/${encodeURIComponent(repo!.name)}`;
    const line = (e: MemoryEntry) => `- [#${e.id}](${base}/memory/${e.id}) (${e.kind}, from ${inert(e.source.label ?? e.source.type, 80)}): ${inert(e.fact)}`;
    let bot: Awaited<ReturnType<typeof reviewBot>> | null = null;
    const notified: number[] = [];
    for (const pr of pulls) {
      let changed: Set<string>;
      try {
        changed = await changedPaths(access, pr);
      } catch {
        continue; // its commits are gone: nothing to compare
      }
      const touched = paths.filter((p) => changed.has(p));
      if (touched.length === 0) continue;
      const seen = await app.db.selectFrom('pull_request_comments').select('id').where('pull_request_id', '=', pr.id).where('body', 'like', `%${marker}%`).executeTakeFirst();
      if (seen) continue;
      bot ??= await reviewBot(app);
      const body = [
        `⚠️ **Memory contradiction**: this pull request changes ${touched.slice(0, 10).map((p) => `\`${p.replace(/`/g, '')}\``).join(', ')}, cited by memory entries on “${inert(entry.subject, 200)}” that disagree:`,
        '',
        line(entry),
        ...others.map(line),
        '',
        `Agents may be told either until someone decides. Resolve it on the [Memory page](${base}/memory/${entry.id}): keep both, or let one supersede the other.`,
        marker,
      ].join('\n');
      await createConversationComment(app, access, bot, pr.number, body);
      notified.push(pr.number);
    }
    return {
      outcome: notified.length ? `notified ${notified.map((n) => `#${n}`).join(', ')}` : 'no open pull request touches the cited files',
      links: notified.map((n) => ({ kind: 'pull_request' as const, id: n, label: `#${n}` })),
    };
  },
};

export const memoryBehaviors: Behavior[] = [memoryFromChangeRequests, memoryFromClosedDrafts, memoryContradictionNotice];
