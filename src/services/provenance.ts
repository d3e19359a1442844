/**
 * Per-line AI provenance (issue 7): the captures attached to commits (`commit_ai_contexts`), how a run's
 * success writes them, and how a line of a file finds the capture that wrote it.
 *
 * What the UI calls:
 * - loadLineAiContextAtRevision — the AI gutter of a blame view, the "AI-written lines" toggle of a file view;
 * - loadFileAiHistory — a file's AI changes (history filter "AI changes only");
 * - loadCommitAiContexts — the commit page's captures panel (spans per file);
 * - loadPullRequestAiContexts / loadPullRequestAiLines — the PR page and its files view.
 * Every function takes a repository the caller already authorized (authorizeRepository).
 */
import { sql } from 'kysely';
import type { AppContext } from './app.ts';
import { now } from './app.ts';
import type { RepositoryAccess, RepositoryWithOwner } from './repositories.ts';
import type { DbOrTx } from '../db/index.ts';
import type { CommitAiContext, PullRequest, Run } from '../db/schema.ts';
import { type FileSpans, type Span, spansContain } from '../domain/spans.ts';
import { assignFilesToTurns, cleanText, MAX_THINKING_CHARS, splitAgentTurns, type TraceEventLite } from '../domain/aiProvenance.ts';
import { blameLineOrigins, type LineOrigin, type OriginCommit } from '../git/blameOrigins.ts';
import { commitLineSpans, unquoteGitPath } from '../git/spans.ts';
import { git, runGit } from '../git/exec.ts';
import { readCommitObject } from '../git/objects.ts';
import { resolveCommit } from '../git/tree.ts';
import { listCommits } from '../git/log.ts';
import { LruCache } from '../git/lru.ts';
import { removeCaptureGraph, writeCaptureGraph, writeRunGraph } from './provenanceGraph.ts';

/** A capture to store: what one agent turn (or one outside source) wrote in one commit. */
export interface CaptureInput {
  sourceFamily: string;
  model: string;
  prompt: string;
  thinking: string;
  sessionId: string | null;
  confidence: number;
  evidenceKind: string;
  files: string[];
  spans: FileSpans;
  runId: number | null;
  /** The pull request that brought the commit, when known (see linkCapturesToPullRequest). */
  pullRequestId?: number | null;
  details: Record<string, unknown>;
}

const MAX_DETAILS_BYTES = 64 * 1024;

function detailsJson(details: Record<string, unknown>): string {
  const text = JSON.stringify(details).replace(/\\u0000/g, '');
  return text.length <= MAX_DETAILS_BYTES ? text : JSON.stringify({ truncated: true });
}

/**
 * Replaces a commit's captures — all of them, or only those of the given evidence kinds — with
 * `captures`, and their graph (evidence nodes, file ranges, edges), in the caller's transaction.
 * New captures take the capture indexes after the ones kept, and the pull request the commit's captures
 * already had, if any. Returns the inserted rows.
 */
export async function replaceCommitAiContexts(db: DbOrTx, repositoryId: number, commitSha: string, captures: CaptureInput[], opts: { kinds?: readonly string[] } = {}): Promise<CommitAiContext[]> {
  const existing = await db.selectFrom('commit_ai_contexts').select(['id', 'capture_index', 'evidence_kind', 'pull_request_id']).where('repository_id', '=', repositoryId).where('commit_sha', '=', commitSha).execute();
  // The first pull request that brought the commit stays its pull request.
  const pullRequestId = existing.find((r) => r.pull_request_id !== null)?.pull_request_id ?? null;
  const doomed = opts.kinds ? existing.filter((r) => opts.kinds!.includes(r.evidence_kind)) : existing;
  if (doomed.length) {
    await db.deleteFrom('commit_ai_contexts').where('id', 'in', doomed.map((r) => r.id)).execute();
    await removeCaptureGraph(db, repositoryId, commitSha, doomed.map((r) => r.capture_index));
  }
  if (captures.length === 0) return [];
  const kept = existing.filter((r) => !doomed.includes(r));
  let next = kept.reduce((max, r) => Math.max(max, r.capture_index + 1), 0);
  const at = now();
  const rows: CommitAiContext[] = [];
  for (let i = 0; i < captures.length; i += 50) {
    const values = captures.slice(i, i + 50).map((c) => ({
      repository_id: repositoryId,
      commit_sha: commitSha,
      capture_index: next++,
      source_family: cleanText(c.sourceFamily, 64) || 'unknown',
      exact_model_name: cleanText(c.model, 255),
      prompt: cleanText(c.prompt, 1024 * 1024),
      thinking: cleanText(c.thinking, MAX_THINKING_CHARS),
      session_id: cleanText(c.sessionId, 255) || null,
      capture_confidence: Math.max(0, Math.min(1, Number.isFinite(c.confidence) ? c.confidence : 0)),
      evidence_kind: cleanText(c.evidenceKind, 32),
      modified_files: JSON.stringify(c.files),
      modified_line_spans_json: JSON.stringify(c.spans),
      run_id: c.runId,
      pull_request_id: pullRequestId ?? c.pullRequestId ?? null,
      details: detailsJson(c.details),
      created_at: at,
    }));
    rows.push(...(await db.insertInto('commit_ai_contexts').values(values).returningAll().execute()));
  }
  await writeCaptureGraph(db, repositoryId, rows);
  return rows;
}

// ------------------------------------------------------------------------------------------------
// Reading captures

export interface CaptureView {
  id: number;
  commit_sha: string;
  capture_index: number;
  source_family: string;
  exact_model_name: string;
  prompt: string;
  thinking: string;
  session_id: string | null;
  capture_confidence: number;
  evidence_kind: string;
  modified_files: string[];
  modified_line_spans: FileSpans;
  details: Record<string, unknown>;
  run: { id: number; number: number; url: string; html_url: string } | null;
  pull_request: { number: number; url: string; html_url: string } | null;
  created_at: string;
}

type RepoRef = Pick<RepositoryWithOwner, 'id' | 'name' | 'owner_name'>;

function parseJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** The captures of some commits, with their run and pull request (the capture's own, else its run's), in one query per 500 commits. */
export async function loadCaptureViews(app: AppContext, repo: RepoRef, shas: readonly string[]): Promise<Map<string, CaptureView[]>> {
  const out = new Map<string, CaptureView[]>();
  const unique = [...new Set(shas)];
  const api = `${app.config.baseUrl}/api/v1/repos/${repo.owner_name}/${repo.name}`;
  const html = `${app.config.baseUrl}/${repo.owner_name}/${repo.name}`;
  for (let i = 0; i < unique.length; i += 500) {
    const rows = await app.db
      .selectFrom('commit_ai_contexts as c')
      .leftJoin('prompt_pull_request_jobs as r', 'r.id', 'c.run_id')
      .leftJoin('pull_requests as p', (join) => join.on(sql<boolean>`p.id = coalesce(c.pull_request_id, r.pull_request_id)`))
      .selectAll('c')
      .select(['r.number as run_number', 'p.number as pr_number'])
      .where('c.repository_id', '=', repo.id)
      .where('c.commit_sha', 'in', unique.slice(i, i + 500))
      .orderBy('c.commit_sha')
      .orderBy('c.capture_index')
      .execute();
    for (const r of rows) {
      const view: CaptureView = {
        id: r.id,
        commit_sha: r.commit_sha,
        capture_index: r.capture_index,
        source_family: r.source_family,
        exact_model_name: r.exact_model_name,
        prompt: r.prompt,
        thinking: r.thinking,
        session_id: r.session_id,
        capture_confidence: Number(r.capture_confidence),
        evidence_kind: r.evidence_kind,
        modified_files: parseJson<string[]>(r.modified_files, []),
        modified_line_spans: parseJson<FileSpans>(r.modified_line_spans_json, {}),
        details: parseJson<Record<string, unknown>>(r.details, {}),
        run: r.run_id !== null && r.run_number !== null ? { id: r.run_id, number: r.run_number, url: `${api}/runs/${r.run_number}`, html_url: `${html}/runs/${r.run_number}` } : null,
        pull_request: r.pr_number !== null ? { number: r.pr_number, url: `${api}/pulls/${r.pr_number}`, html_url: `${html}/pull/${r.pr_number}` } : null,
        created_at: r.created_at,
      };
      const list = out.get(r.commit_sha);
      if (list) list.push(view);
      else out.set(r.commit_sha, [view]);
    }
  }
  return out;
}

/** A commit's captures (the commit page panel). */
export async function loadCommitAiContexts(app: AppContext, repo: RepoRef, sha: string): Promise<CaptureView[]> {
  return (await loadCaptureViews(app, repo, [sha])).get(sha) ?? [];
}

// ------------------------------------------------------------------------------------------------
// Line lookup

export interface AiBlameCommit {
  sha: string;
  summary: string;
  author_name: string;
  author_email: string;
  authored_at: string;
  /** The file's path in that commit. */
  path: string;
}

export interface AiBlameRange {
  start_line: number;
  end_line: number;
  commit: AiBlameCommit;
  /** Captures whose spans contain these lines (in the commit's version of the file); empty: no AI wrote them. */
  captures: CaptureView[];
}

export interface AiBlame {
  sha: string;
  path: string;
  ranges: AiBlameRange[];
}

/** Captures that wrote a line: those of its commit whose spans for the line's path there contain its original number. */
function capturesForLine(captures: CaptureView[] | undefined, origin: LineOrigin): CaptureView[] {
  if (!captures) return [];
  const out: CaptureView[] = [];
  for (const c of captures) {
    const spans = c.modified_line_spans[origin.path];
    if (spans && spansContain(spans, origin.originalLine)) out.push(c);
  }
  return out;
}

function blameCommit(info: OriginCommit | undefined, sha: string, path: string): AiBlameCommit {
  return {
    sha,
    summary: info?.summary ?? '',
    author_name: info?.authorName ?? '',
    author_email: info?.authorEmail ?? '',
    authored_at: new Date((info?.authorTime ?? 0) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    path,
  };
}

/**
 * AI blame of a file at a revision: `git blame --porcelain` (streamed) gives each line's commit, its
 * original line number and path there; the captures of those commits come in one query; a capture is
 * kept for a line only when its spans for that path contain the original number (a line a later commit
 * rewrote belongs to that commit, and loses the attribution). Ranges of consecutive lines with the same
 * commit and captures cover the file (or just `lines`). Null when the path is not a file at `rev`.
 */
export async function loadLineAiContextAtRevision(app: AppContext, access: Pick<RepositoryAccess, 'repo' | 'gitDir'>, rev: string, path: string, lines?: Span[]): Promise<AiBlame | null> {
  const sha = await resolveCommit(access.gitDir, rev);
  if (!sha) return null;
  const origins = await blameLineOrigins(access.gitDir, sha, path, lines);
  if (!origins) return null;
  const captures = await loadCaptureViews(app, access.repo, [...origins.commits.keys()]);
  const ranges: AiBlameRange[] = [];
  let lastKey = '';
  for (const origin of origins.lines) {
    const hits = capturesForLine(captures.get(origin.sha), origin);
    const key = `${origin.sha}|${origin.path}|${hits.map((h) => h.id).join(',')}`;
    const last = ranges[ranges.length - 1];
    if (last && key === lastKey && last.end_line === origin.line - 1) {
      last.end_line = origin.line;
      continue;
    }
    ranges.push({ start_line: origin.line, end_line: origin.line, commit: blameCommit(origins.commits.get(origin.sha), origin.sha, origin.path), captures: hits });
    lastKey = key;
  }
  return { sha, path, ranges };
}

export interface AiHistoryEntry {
  commit: AiBlameCommit;
  /** The file's path in that commit (renames followed). */
  path: string;
  /** Captures of the commit that wrote this file. */
  captures: CaptureView[];
}

/**
 * The file's AI history: every commit that touched it (renames followed, newest first) and has captures
 * for it — at most `limit` entries, scanning at most `scan` commits. Null when the revision is unknown.
 */
export async function loadFileAiHistory(app: AppContext, access: Pick<RepositoryAccess, 'repo' | 'gitDir'>, rev: string, path: string, opts: { limit?: number; scan?: number } = {}): Promise<{ sha: string; path: string; entries: AiHistoryEntry[] } | null> {
  const sha = await resolveCommit(access.gitDir, rev);
  if (!sha) return null;
  const r = await runGit(['log', '--format=%x01%H%x00%an%x00%ae%x00%at%x00%s', '--name-only', '--follow', '-M', `--max-count=${opts.scan ?? 5000}`, '--end-of-options', sha, '--', path], { gitDir: access.gitDir });
  if (r.code !== 0) return { sha, path, entries: [] };
  const commits: { commit: AiBlameCommit; path: string }[] = [];
  for (const record of r.stdout.toString('utf8').split('\x01').slice(1)) {
    const [head = '', ...rest] = record.split('\n');
    const [csha, an, ae, at, subject] = head.split('\x00');
    const name = rest.map((l) => l.trim()).find(Boolean);
    if (!csha || !name) continue;
    const pathThere = unquoteGitPath(name);
    commits.push({ commit: blameCommit({ sha: csha, authorName: an ?? '', authorEmail: ae ?? '', authorTime: Number(at), summary: subject ?? '' }, csha, pathThere), path: pathThere });
  }
  const captures = await loadCaptureViews(app, access.repo, commits.map((c) => c.commit.sha));
  const entries: AiHistoryEntry[] = [];
  for (const c of commits) {
    const mine = (captures.get(c.commit.sha) ?? []).filter((v) => v.modified_line_spans[c.path] !== undefined || v.modified_files.includes(c.path));
    if (mine.length) entries.push({ ...c, captures: mine });
    if (entries.length >= (opts.limit ?? 100)) break;
  }
  return { sha, path, entries };
}

// ------------------------------------------------------------------------------------------------
// Pull requests

const prCommitsCache = new LruCache<string, { sha: string; message: string }[]>(1_000, 16 * 1024 * 1024);

/** The commits a pull request brings (head, excluding the merge base), newest first, at most 250; cached (the range is of object ids). */
export async function pullRequestCommits(access: Pick<RepositoryAccess, 'gitDir'>, pr: Pick<PullRequest, 'head_sha' | 'base_sha' | 'merge_base_sha'>): Promise<{ sha: string; message: string }[]> {
  const exclude = pr.merge_base_sha ?? pr.base_sha;
  const key = `${access.gitDir}\0${pr.head_sha}\0${exclude}`;
  const hit = prCommitsCache.get(key);
  if (hit) return hit;
  const commits = (await listCommits(access.gitDir, pr.head_sha, { exclude, limit: 250 })).map((c) => ({ sha: c.sha, message: c.message }));
  prCommitsCache.set(key, commits, commits.reduce((n, c) => n + c.message.length + 100, 0));
  return commits;
}

/** The captures of a pull request's commits (commits without captures are listed with none). */
export async function loadPullRequestAiContexts(app: AppContext, access: Pick<RepositoryAccess, 'repo' | 'gitDir'>, pr: PullRequest): Promise<{ head_sha: string; commits: { sha: string; summary: string; captures: CaptureView[] }[] }> {
  const commits = await pullRequestCommits(access, pr);
  const captures = await loadCaptureViews(app, access.repo, commits.map((c) => c.sha));
  return { head_sha: pr.head_sha, commits: commits.map((c) => ({ sha: c.sha, summary: c.message.split('\n', 1)[0] ?? '', captures: captures.get(c.sha) ?? [] })) };
}

/**
 * The paths a pull request's diff shows for files its captures wrote: capture paths (as they were in
 * their commit) carried forward through the renames of later commits of the pull request.
 */
export async function pullRequestCapturedPaths(access: Pick<RepositoryAccess, 'gitDir'>, pr: Pick<PullRequest, 'head_sha' | 'base_sha' | 'merge_base_sha'>, capturedPaths: Iterable<string>, diffPaths: ReadonlySet<string>): Promise<Set<string>> {
  const covered = new Set(capturedPaths);
  if ([...covered].every((p) => diffPaths.has(p))) return covered;
  const r = await runGit(['log', '--reverse', '--format=%x01', '--name-status', '-M', '--diff-filter=R', '--max-count=250', '--end-of-options', pr.head_sha, `^${pr.merge_base_sha ?? pr.base_sha}`], { gitDir: access.gitDir });
  if (r.code !== 0) return covered;
  for (const line of r.stdout.toString('utf8').split('\n')) {
    const [status, from, to] = line.split('\t');
    if (!status?.startsWith('R') || from === undefined || to === undefined) continue;
    if (covered.has(unquoteGitPath(from))) covered.add(unquoteGitPath(to));
  }
  return covered;
}

/**
 * The AI-written lines a pull request adds to a file: AI blame at the head, keeping ranges whose commit
 * belongs to the pull request and has captures for them (line numbers are the head's — the RIGHT side of
 * the files view). With `line`, only that line; `commits` saves listing the PR's commits once per file.
 * Null when the file is not at the head.
 */
export async function loadPullRequestAiLines(
  app: AppContext,
  access: Pick<RepositoryAccess, 'repo' | 'gitDir'>,
  pr: PullRequest,
  path: string,
  opts: { line?: number; commits?: ReadonlySet<string> } = {},
): Promise<{ head_sha: string; path: string; ranges: AiBlameRange[] } | null> {
  const { line } = opts;
  const commits = opts.commits ?? new Set((await pullRequestCommits(access, pr)).map((c) => c.sha));
  const blame = await loadLineAiContextAtRevision(app, access, pr.head_sha, path, line !== undefined ? [[line, line]] : undefined);
  if (!blame) return null;
  return { head_sha: blame.sha, path, ranges: blame.ranges.filter((r) => r.captures.length > 0 && commits.has(r.commit.sha)) };
}

/**
 * The commits of a pull request whose captures may need linking to it (linkCapturesToPullRequest): its
 * commits, listed only when the repository has captures without a pull request (usually it has none).
 * `db` is the caller's transaction when it has one (SQLite has a single connection).
 */
export async function commitsToLink(db: DbOrTx, access: Pick<RepositoryAccess, 'repo' | 'gitDir'>, pr: Pick<PullRequest, 'head_sha' | 'base_sha' | 'merge_base_sha'>): Promise<string[]> {
  const unlinked = await db.selectFrom('commit_ai_contexts').select('id').where('repository_id', '=', access.repo.id).where('pull_request_id', 'is', null).limit(1).executeTakeFirst();
  return unlinked ? (await pullRequestCommits(access, pr)).map((c) => c.sha) : [];
}

/**
 * Attaches the captures of `shas` that have no pull request yet to `pr` (the first pull request that
 * brings a commit keeps it), with their `about` edge in the graph. In the caller's transaction.
 */
export async function linkCapturesToPullRequest(db: DbOrTx, repositoryId: number, pr: Pick<PullRequest, 'id'>, shas: readonly string[]): Promise<number> {
  let linked = 0;
  for (let i = 0; i < shas.length; i += 500) {
    const rows = await db
      .updateTable('commit_ai_contexts')
      .set({ pull_request_id: pr.id })
      .where('repository_id', '=', repositoryId)
      .where('commit_sha', 'in', shas.slice(i, i + 500))
      .where('pull_request_id', 'is', null)
      .returningAll()
      .execute();
    await writeCaptureGraph(db, repositoryId, rows);
    linked += rows.length;
  }
  return linked;
}

// ------------------------------------------------------------------------------------------------
// Capture at the run success point

export interface RunProvenance {
  commits: { sha: string; captures: CaptureInput[] }[];
}

const MAX_RUN_COMMITS = 500;

/**
 * Everything the run success point writes about provenance, computed before its transaction (git work
 * and reads): the commits the run produced (source_commit..commit_sha), each with its post-image spans,
 * split into one capture per agent turn that wrote files (the trace's thinking/message/file_edit
 * events), with the run's driver, model, prompt and session.
 */
export async function prepareRunProvenance(app: AppContext, gitDir: string, run: Run, commitSha: string, sessionId: string | null, resolvedModel: string | null = null): Promise<RunProvenance> {
  if (commitSha === run.source_commit) return { commits: [] };
  const list = (await git(['rev-list', '--reverse', `--max-count=${MAX_RUN_COMMITS}`, '--end-of-options', commitSha, `^${run.source_commit}`], { gitDir })).split('\n').filter(Boolean);
  const lastAttempt = await app.db.selectFrom('run_events').select((eb) => eb.fn.max<number>('attempt').as('a')).where('run_id', '=', run.id).executeTakeFirst();
  const events = await app.db
    .selectFrom('run_events')
    .select(['kind', 'data'])
    .where('run_id', '=', run.id)
    .where('attempt', '=', Number(lastAttempt?.a ?? 0))
    .where('kind', 'in', ['thinking', 'message', 'file_edit'])
    .orderBy('seq')
    .execute();
  const turns = splitAgentTurns(events.map((e): TraceEventLite => ({ kind: e.kind, data: parseJson<Record<string, unknown>>(e.data, {}) })));
  const commits: RunProvenance['commits'] = [];
  for (const sha of list) {
    const commit = await readCommitObject(gitDir, sha);
    const { files, spans } = await commitLineSpans(gitDir, sha, commit?.parents[0] ?? null);
    if (files.length === 0) continue;
    // The model that answered when the agent reported it (`sonnet` → claude-sonnet-…); the alias the run asked for stays in details.
    const base = { sourceFamily: run.driver, model: resolvedModel || run.model, prompt: run.prompt, sessionId: sessionId ?? run.session_id, confidence: 1, evidenceKind: 'agent_run', runId: run.id, pullRequestId: run.pull_request_id };
    const captures: CaptureInput[] = [];
    if (turns.length === 0) {
      captures.push({ ...base, thinking: '', files, spans, details: { turn: null, model_alias: run.model } });
    } else {
      for (const [index, owned] of assignFilesToTurns(turns, files)) {
        const turn = turns[index]!;
        const mine: FileSpans = {};
        for (const f of owned) if (spans[f]) mine[f] = spans[f];
        captures.push({
          ...base,
          thinking: turn.thinking.join('\n\n'),
          files: owned,
          spans: mine,
          details: { model_alias: run.model, turn: index + 1, turns: turns.length, messages: turn.messages.map((m) => cleanText(m, 4000)).slice(0, 20), edits: turn.edits.slice(0, 200) },
        });
      }
    }
    commits.push({ sha, captures });
  }
  return { commits };
}

/** Writes the run's graph and its commits' captures inside the run success point's transaction. */
export async function writeRunProvenance(tx: DbOrTx, run: Run, commitSha: string, provenance: RunProvenance | null): Promise<void> {
  await writeRunGraph(tx, run.repository_id, { ...run, status: 'succeeded', commit_sha: commitSha });
  for (const c of provenance?.commits ?? []) await replaceCommitAiContexts(tx, run.repository_id, c.sha, c.captures);
}
