/**
 * Provenance from outside gitoku, ingested when refs move (called by the ref-change ingress,
 * handleRepositoryRefChanges, after its transaction): for commits new to the repository, the AI tools
 * their trailers name; for those commits and for notes that changed, the notes of known tools —
 * the Git AI Standard's authorship logs (refs/notes/ai), Agent Trace records (refs/notes/agent-trace),
 * whogitit attributions (refs/notes/whogitit) and gitoku's own export (refs/notes/gitoku-ai).
 *
 * Pushes of refs/notes/* arrive through the same receive-pack and ingress as branches. Malformed
 * trailers, notes and records are skipped with a logged warning; nothing here ever fails the push.
 * Commits that already carry captures of a gitoku run keep them (a run's own record wins).
 */
import type { AppContext } from './app.ts';
import type { Repository } from '../db/schema.ts';
import type { RefChange } from './refChanges.ts';
import { repositoryGitDir } from './storage.ts';
import { ZERO_SHA } from '../domain/refs.ts';
import {
  capturesFromTrailers,
  type CaptureDraft,
  isPlausibleRepoPath,
  parseAgentTraceNote,
  parseGitAiAuthorshipLog,
  parseGitokuNote,
  parseWhogititNote,
  type ParseResult,
} from '../domain/aiProvenance.ts';
import { type FileSpans, normalizeFileSpans } from '../domain/spans.ts';
import { git } from '../git/exec.ts';
import { listRefs, readCommits } from '../git/refs.ts';
import { changedNotes, readNotes } from '../git/notes.ts';
import { commitLineSpans, type CommitSpans } from '../git/spans.ts';
import { catFilePool } from '../git/catFile.ts';
import { resolveCommit } from '../git/tree.ts';
import { type CaptureInput, pullRequestCommits, replaceCommitAiContexts } from './provenance.ts';
import { GITOKU_NOTES_REF } from './provenanceNotes.ts';

interface NoteSource {
  kind: string;
  parse(text: string, commitSha: string): ParseResult;
}

/** The notes refs gitoku reads, and the evidence kind of what they hold. */
export const NOTE_SOURCES: Record<string, NoteSource> = {
  'refs/notes/ai': { kind: 'git_notes', parse: (text) => parseGitAiAuthorshipLog(text) },
  'refs/notes/agent-trace': { kind: 'agent_trace', parse: parseAgentTraceNote },
  'refs/notes/whogitit': { kind: 'whogitit', parse: (text) => parseWhogititNote(text) },
  [GITOKU_NOTES_REF]: { kind: 'gitoku_notes', parse: parseGitokuNote },
};

const INGESTED_KINDS = ['commit_trailer', ...Object.values(NOTE_SOURCES).map((s) => s.kind)];
const MAX_COMMITS = 20_000;
const MAX_NOTE_BYTES = 4 * 1024 * 1024;

export interface IngestSummary {
  commits: number;
  captures: number;
  warnings: string[];
}

/** Ingests outside provenance for ref changes; never throws (a failure is logged and yields null). */
export async function ingestProvenanceForRefChanges(app: AppContext, repo: Pick<Repository, 'id' | 'storage_path'>, changes: readonly RefChange[]): Promise<IngestSummary | null> {
  try {
    const summary = await ingest(app, repo, changes);
    for (const w of summary.warnings.slice(0, 50)) console.warn(`gitoku: provenance of repository ${repo.id}: ${w}`);
    return summary;
  } catch (err) {
    console.warn(`gitoku: provenance ingestion failed for repository ${repo.id}: ${err instanceof Error ? err.message : String(err)}`);
    return null;
  }
}

/**
 * Revision arguments selecting the commits new to the repository: reachable from the changed refs' new
 * values and from no other branch or tag, nor from their old values. Null when no branch or tag moved forward.
 */
async function newCommitRevisions(gitDir: string, changes: readonly RefChange[]): Promise<string[] | null> {
  const heads = changes.filter((c) => (c.ref.startsWith('refs/heads/') || c.ref.startsWith('refs/tags/')) && c.after !== ZERO_SHA);
  if (heads.length === 0) return null;
  const befores: string[] = [];
  for (const c of changes) {
    if (c.before !== ZERO_SHA && (await catFilePool.info(gitDir, c.before))) befores.push(c.before);
  }
  const args = [...new Set(heads.map((c) => c.after)), '--not', ...befores];
  // Every other branch and tag (not --all: it includes HEAD, which may be one of the refs that moved).
  // Each --exclude applies to the next --branches/--tags only.
  for (const [scope, prefix] of [['--branches', 'refs/heads/'], ['--tags', 'refs/tags/']] as const) {
    for (const c of changes) if (c.ref.startsWith(prefix)) args.push(`--exclude=${c.ref.slice(prefix.length)}`);
    args.push(scope);
  }
  return args;
}

/** Trailer keys capturesFromTrailers reads; git pre-filters commit messages with them (--grep). */
const TRAILER_GREP = '^(co-authored-by|co-developed-by|assisted-by|generated-by|ai-assisted-by|made-with)[[:space:]]*:';

/** New commits whose messages mention an AI trailer key: sha, first parent, message (one `git log` walk). */
async function trailerCandidates(gitDir: string, revisions: string[]): Promise<{ sha: string; parent: string | null; message: string }[]> {
  const out = await git(['log', `--max-count=${MAX_COMMITS}`, '-i', '-E', `--grep=${TRAILER_GREP}`, '--format=%H%x00%P%x00%B%x00%x1e', ...revisions], { gitDir });
  return out
    .split('\u0000\u001e')
    .map((r) => r.replace(/^\n/, ''))
    .filter((r) => r.length > 40)
    .map((r) => {
      const [sha, parents, message] = r.split('\u0000');
      return { sha: sha!, parent: parents ? parents.split(' ')[0]! : null, message: message ?? '' };
    });
}

function toInput(d: CaptureDraft, whole: CommitSpans | null): CaptureInput {
  const spans: FileSpans = d.spans ?? whole?.spans ?? {};
  const files = d.spans ? Object.keys(d.spans) : (whole?.files ?? []);
  return { sourceFamily: d.sourceFamily, model: d.model, prompt: d.prompt, thinking: d.thinking, sessionId: d.sessionId, confidence: d.confidence, evidenceKind: d.evidenceKind, files, spans: normalizeFileSpans(spans, isPlausibleRepoPath), runId: null, details: d.details };
}

async function ingest(app: AppContext, repo: Pick<Repository, 'id' | 'storage_path'>, changes: readonly RefChange[]): Promise<IngestSummary> {
  const summary: IngestSummary = { commits: 0, captures: 0, warnings: [] };
  const notesChanges = changes.filter((c) => NOTE_SOURCES[c.ref] !== undefined);
  const hasCode = changes.some((c) => (c.ref.startsWith('refs/heads/') || c.ref.startsWith('refs/tags/')) && c.after !== ZERO_SHA);
  if (!hasCode && notesChanges.length === 0) return summary;
  const gitDir = repositoryGitDir(app, repo);

  // What to refresh: commit → evidence kinds whose captures are recomputed from the current sources.
  // Trailers are read for new commits whose messages mention a trailer key (git filters them); the full
  // list of new commits is only needed when the repository has notes of a known tool to look up.
  const refresh = new Map<string, Set<string>>();
  const present = new Set((await listRefs(gitDir, 'refs/notes/')).map((r) => r.name).filter((ref) => NOTE_SOURCES[ref] !== undefined));
  const revisions = await newCommitRevisions(gitDir, changes);
  const withTrailers = revisions ? await trailerCandidates(gitDir, revisions) : [];
  const fresh = revisions && present.size ? (await git(['rev-list', `--max-count=${MAX_COMMITS}`, ...revisions], { gitDir })).split('\n').filter(Boolean) : withTrailers.map((c) => c.sha);
  if (fresh.length >= MAX_COMMITS) summary.warnings.push(`only the newest ${MAX_COMMITS} new commits were read for AI provenance`);
  for (const sha of fresh) refresh.set(sha, new Set(INGESTED_KINDS));
  const notesTouched = new Set<string>();
  for (const change of notesChanges) {
    let notes: { changed: string[]; removed: string[] };
    try {
      notes = await changedNotes(gitDir, change.before, change.after);
    } catch (err) {
      summary.warnings.push(`${change.ref} moved to something that is not a notes commit (${err instanceof Error ? err.message : String(err)}); skipped`);
      continue;
    }
    const { changed, removed } = notes;
    for (const sha of [...changed, ...removed].slice(0, MAX_COMMITS)) {
      if (!refresh.has(sha) && (await catFilePool.info(gitDir, sha))?.type !== 'commit') continue; // notes of commits not pushed (yet)
      const kinds = refresh.get(sha) ?? new Set<string>();
      kinds.add(NOTE_SOURCES[change.ref]!.kind);
      refresh.set(sha, kinds);
      notesTouched.add(sha);
    }
  }
  if (refresh.size === 0) return summary;

  // Gather the sources: commit messages of new commits, and the notes of every known notes ref.
  const drafts = new Map<string, CaptureDraft[]>();
  const push = (sha: string, result: ParseResult, what: string) => {
    summary.warnings.push(...result.warnings.map((w) => `${what} of ${sha}: ${w}`));
    if (result.captures.length) drafts.set(sha, [...(drafts.get(sha) ?? []), ...result.captures]);
  };
  const parents = new Map<string, string | null>();
  for (const c of withTrailers) {
    parents.set(c.sha, c.parent);
    push(c.sha, capturesFromTrailers(c.message), 'trailers');
  }
  for (const [ref, source] of Object.entries(NOTE_SOURCES)) {
    if (!present.has(ref)) continue;
    const wanted = [...refresh].filter(([, kinds]) => kinds.has(source.kind)).map(([sha]) => sha);
    for (let i = 0; i < wanted.length; i += 2000) {
      for (const [sha, text] of await readNotes(gitDir, ref, wanted.slice(i, i + 2000))) {
        if (text.length > MAX_NOTE_BYTES) {
          summary.warnings.push(`${ref} note of ${sha} is larger than ${MAX_NOTE_BYTES} bytes; skipped`);
          continue;
        }
        try {
          push(sha, source.parse(text, sha), ref);
        } catch (err) {
          summary.warnings.push(`${ref} note of ${sha} skipped: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    }
  }

  // Commits that may change: those with captures found, and those whose notes changed (a removed note
  // clears what it had brought). A gitoku run's own captures win: such commits are left alone.
  const candidates = [...refresh.keys()].filter((sha) => drafts.has(sha) || notesTouched.has(sha));
  const owned = new Set<string>();
  const existing = new Set<string>();
  for (let i = 0; i < candidates.length; i += 500) {
    const rows = await app.db.selectFrom('commit_ai_contexts').select(['commit_sha', 'evidence_kind']).distinct().where('repository_id', '=', repo.id).where('commit_sha', 'in', candidates.slice(i, i + 500)).execute();
    for (const r of rows) {
      existing.add(r.commit_sha);
      if (r.evidence_kind === 'agent_run') owned.add(r.commit_sha);
    }
  }
  const writes: { sha: string; kinds: string[]; captures: CaptureInput[] }[] = [];
  for (const sha of candidates) {
    const kinds = refresh.get(sha)!;
    if (owned.has(sha)) continue;
    const found = drafts.get(sha) ?? [];
    if (found.length === 0 && !existing.has(sha)) continue;
    let whole: CommitSpans | null = null;
    if (found.some((d) => d.spans === null)) {
      const parent = parents.has(sha) ? parents.get(sha)! : ((await readCommits(gitDir, [sha]))[0]?.parents[0] ?? null);
      whole = await commitLineSpans(gitDir, sha, parent);
    }
    writes.push({ sha, kinds: [...kinds], captures: found.filter((d) => kinds.has(d.evidenceKind)).map((d) => toInput(d, whole)) });
  }
  if (writes.length === 0) return summary;
  const pullRequests = await openPullRequestsOf(app, gitDir, repo.id, writes.map((w) => w.sha));
  await app.db.transaction().execute(async (tx) => {
    for (const w of writes) {
      const rows = await replaceCommitAiContexts(tx, repo.id, w.sha, w.captures.map((c) => ({ ...c, pullRequestId: pullRequests.get(w.sha) ?? null })), { kinds: w.kinds });
      summary.captures += rows.length;
    }
  });
  summary.commits = writes.length;
  return summary;
}

/** Open pull requests scanned for the commits whose provenance was ingested, newest first. */
const MAX_OPEN_PULLS = 100;

/**
 * Which open pull request brings each of `shas` (the oldest one when several do), from its branches as
 * they are now (the pull request row may not have caught up with this push yet): captures ingested
 * after their pull request was opened link to it here; those ingested before are linked when it opens.
 */
async function openPullRequestsOf(app: AppContext, gitDir: string, repositoryId: number, shas: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const prs = await app.db.selectFrom('pull_requests').select(['id', 'compare_branch', 'base_branch']).where('repository_id', '=', repositoryId).where('state', '=', 'open').orderBy('id', 'desc').limit(MAX_OPEN_PULLS).execute();
  const wanted = new Set(shas);
  for (const pr of prs.reverse()) {
    const [head, base] = await Promise.all([resolveCommit(gitDir, `refs/heads/${pr.compare_branch}`), resolveCommit(gitDir, `refs/heads/${pr.base_branch}`)]);
    if (!head || !base) continue;
    for (const c of await pullRequestCommits({ gitDir }, { head_sha: head, base_sha: base, merge_base_sha: null })) if (wanted.has(c.sha) && !out.has(c.sha)) out.set(c.sha, pr.id);
  }
  return out;
}
