/**
 * Provenance through gitoku's own squash and rebase merges: the captures of a pull request's original
 * commits are carried over to the commits that landed, with their spans mapped through the rewrite.
 *
 * - rebase: each original commit C became C'. For every file a capture of C wrote, the lines are mapped
 *   from C's version of the file to C''s (a zero-context diff of the two blobs: unchanged lines move,
 *   rewritten ones are dropped) and kept where C' itself added or changed them.
 * - squash: the squash commit S holds the whole pull request. For every file S changed, AI blame at the
 *   pull request's head gives the lines the PR's commits' captures still own there; those head lines are
 *   mapped to S's version of the file, and each original capture gets the lines that survived.
 * - merge: the original commits land unchanged, with their captures.
 */
import type { AppContext } from './app.ts';
import type { RepositoryAccess } from './repositories.ts';
import type { PullRequest } from '../db/schema.ts';
import type { MergeMethod } from '../git/mergeCommits.ts';
import { type FileSpans, intersectSpans, mergeSpans, type Span, spansContain } from '../domain/spans.ts';
import { blobHunks, commitLineSpans, type Hunk, mapLineThroughHunks, mapSpansThroughHunks } from '../git/spans.ts';
import { readCommitObject } from '../git/objects.ts';
import { entryAtPath } from '../git/tree.ts';
import { type CaptureInput, type CaptureView, loadCaptureViews, loadLineAiContextAtRevision, replaceCommitAiContexts } from './provenance.ts';
import { exportProvenanceNotes } from './provenanceNotes.ts';

const MAX_SQUASH_FILES = 500;

function carried(c: CaptureView, spans: FileSpans, method: MergeMethod, files?: string[]): CaptureInput {
  return {
    sourceFamily: c.source_family,
    model: c.exact_model_name,
    prompt: c.prompt,
    thinking: c.thinking,
    sessionId: c.session_id,
    confidence: c.capture_confidence,
    evidenceKind: c.evidence_kind,
    files: files ?? Object.keys(spans),
    spans,
    runId: c.run?.id ?? null,
    details: { ...c.details, carried_from: { commit: c.commit_sha, capture_index: c.capture_index, merge_method: method } },
  };
}

async function blobAt(gitDir: string, commit: string, path: string): Promise<string | null> {
  const entry = await entryAtPath(gitDir, commit, path);
  return entry && entry.type === 'blob' ? entry.sha : null;
}

async function rebaseCaptures(gitDir: string, rewritten: Map<string, string>, captures: Map<string, CaptureView[]>): Promise<Map<string, CaptureInput[]>> {
  const out = new Map<string, CaptureInput[]>();
  for (const [original, landed] of rewritten) {
    const list = captures.get(original);
    if (!list?.length || original === landed) continue;
    const commit = await readCommitObject(gitDir, landed);
    const own = await commitLineSpans(gitDir, landed, commit?.parents[0] ?? null);
    const hunksByPath = new Map<string, Hunk[] | null>();
    const next: CaptureInput[] = [];
    for (const c of list) {
      const spans: FileSpans = {};
      for (const [path, ranges] of Object.entries(c.modified_line_spans)) {
        if (!hunksByPath.has(path)) {
          const [from, to] = await Promise.all([blobAt(gitDir, original, path), blobAt(gitDir, landed, path)]);
          hunksByPath.set(path, from && to ? await blobHunks(gitDir, from, to) : null);
        }
        const hunks = hunksByPath.get(path);
        if (!hunks) continue;
        const mapped = intersectSpans(mapSpansThroughHunks(hunks, ranges), own.spans[path] ?? []);
        if (mapped.length) spans[path] = mapped;
      }
      const hadSpans = Object.keys(c.modified_line_spans).length > 0;
      if (Object.keys(spans).length || !hadSpans) next.push(carried(c, spans, 'rebase', hadSpans ? undefined : c.modified_files.filter((f) => own.files.includes(f))));
    }
    if (next.length) out.set(landed, next);
  }
  return out;
}

async function squashCaptures(app: AppContext, access: Pick<RepositoryAccess, 'repo' | 'gitDir'>, pr: PullRequest, originals: string[], squash: string, captures: Map<string, CaptureView[]>): Promise<CaptureInput[]> {
  const gitDir = access.gitDir;
  // Only files the captures wrote (under their path at the original commit) can hold their lines.
  const written = new Set([...captures.values()].flat().flatMap((c) => Object.keys(c.modified_line_spans)));
  const commit = await readCommitObject(gitDir, squash);
  const own = await commitLineSpans(gitDir, squash, commit?.parents[0] ?? null);
  const inPr = new Set(originals);
  // capture id → (view, path → lines in the squash commit)
  const found = new Map<number, { view: CaptureView; spans: Map<string, Span[]> }>();
  for (const [path, squashSpans] of Object.entries(own.spans).filter(([p]) => written.has(p)).slice(0, MAX_SQUASH_FILES)) {
    const blame = await loadLineAiContextAtRevision(app, access, pr.head_sha, path);
    if (!blame || !blame.ranges.some((r) => r.captures.length && inPr.has(r.commit.sha))) continue;
    const [from, to] = await Promise.all([blobAt(gitDir, pr.head_sha, path), blobAt(gitDir, squash, path)]);
    if (!from || !to) continue;
    const hunks = await blobHunks(gitDir, from, to);
    for (const r of blame.ranges) {
      if (!r.captures.length || !inPr.has(r.commit.sha)) continue;
      for (let line = r.start_line; line <= r.end_line; line++) {
        const mapped = mapLineThroughHunks(hunks, line);
        if (mapped === null || !spansContain(squashSpans, mapped)) continue;
        for (const view of r.captures) {
          const entry = found.get(view.id) ?? { view, spans: new Map<string, Span[]>() };
          entry.spans.set(path, [...(entry.spans.get(path) ?? []), [mapped, mapped]]);
          found.set(view.id, entry);
        }
      }
    }
  }
  // Oldest commit first, then capture order: the squash commit's capture indexes follow the PR's history.
  const order = new Map([...originals].reverse().map((sha, i) => [sha, i]));
  return [...found.values()]
    .sort((a, b) => (order.get(a.view.commit_sha) ?? 0) - (order.get(b.view.commit_sha) ?? 0) || a.view.capture_index - b.view.capture_index)
    .map(({ view, spans }) => carried(view, Object.fromEntries([...spans].map(([p, s]) => [p, mergeSpans(s)])), 'squash'));
}

/**
 * Carries a merged pull request's captures over to the commits that landed (called right after a
 * successful merge). Failures are logged, never thrown: the merge already happened.
 */
export async function carryProvenanceThroughMerge(app: AppContext, access: Pick<RepositoryAccess, 'repo' | 'gitDir'>, pr: PullRequest, method: MergeMethod, rewritten: Map<string, string>, landed: string): Promise<void> {
  if (method === 'merge' || rewritten.size === 0) return;
  try {
    const originals = [...rewritten.keys()];
    const captures = await loadCaptureViews(app, access.repo, originals);
    if (captures.size === 0) return;
    const writes = method === 'rebase' ? await rebaseCaptures(access.gitDir, rewritten, captures) : new Map([[landed, await squashCaptures(app, access, pr, originals, landed, captures)]]);
    const targets = [...writes].filter(([, list]) => list.length > 0);
    if (targets.length === 0) return;
    await app.db.transaction().execute(async (tx) => {
      // The landed commits were brought by this pull request, whatever pull request the originals had.
      for (const [sha, list] of targets) await replaceCommitAiContexts(tx, access.repo.id, sha, list.map((c) => ({ ...c, pullRequestId: pr.id })));
    });
    await exportProvenanceNotes(app, access.repo.id, targets.map(([sha]) => sha));
  } catch (err) {
    console.warn(`gitoku: could not carry AI provenance through the ${method} merge of pull request #${pr.number}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
