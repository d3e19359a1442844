/**
 * Provenance that travels: gitoku's captures exported as git notes under refs/notes/gitoku-ai (one
 * gitoku-ai/1 JSON document per commit), so `git fetch origin 'refs/notes/*:refs/notes/*'` brings them
 * along and another gitoku imports them on push (provenanceIngest.ts).
 *
 * Exported: captures gitoku made itself — agent runs, and captures carried over a squash or rebase
 * merge. Ingested captures are not re-exported: their trailers travel in the commit and their notes in
 * their own refs. The notes ref is internal bookkeeping, moved with plumbing (src/git/notes.ts), and
 * does not go through the ref-change ingress (it is not code and must not trigger behaviors).
 */
import type { AppContext } from './app.ts';
import { repositoryGitDir } from './storage.ts';
import { GITOKU_NOTE_SCHEMA, serializeGitokuNote, type GitokuNote } from '../domain/aiProvenance.ts';
import { readNotes, writeNotes } from '../git/notes.ts';
import { resolveRef } from '../git/refs.ts';
import { type CaptureView, loadCaptureViews } from './provenance.ts';

export const GITOKU_NOTES_REF = 'refs/notes/gitoku-ai';
const NOTES_AUTHOR = { name: 'gitoku', email: 'gitoku@gitoku.invalid' };

/** Whether a capture is gitoku's own (exported) rather than ingested from a source that travels by itself. */
export function isExportedCapture(c: Pick<CaptureView, 'evidence_kind' | 'details'>): boolean {
  return c.evidence_kind === 'agent_run' || (c.details.carried_from !== undefined && c.details.carried_from !== null);
}

/** The gitoku-ai/1 note of a commit from its exportable captures, or null when it has none. */
export function buildGitokuNote(repoSlug: string, sha: string, captures: CaptureView[]): GitokuNote | null {
  const mine = captures.filter(isExportedCapture);
  if (mine.length === 0) return null;
  return {
    schema: GITOKU_NOTE_SCHEMA,
    commit: sha,
    repository: repoSlug,
    captures: mine.map((c) => ({
      capture_index: c.capture_index,
      source_family: c.source_family,
      exact_model_name: c.exact_model_name,
      prompt: c.prompt,
      thinking: c.thinking,
      session_id: c.session_id,
      capture_confidence: c.capture_confidence,
      evidence_kind: c.evidence_kind,
      modified_files: c.modified_files,
      modified_line_spans: c.modified_line_spans,
      run: c.run ? { number: c.run.number, repository: repoSlug, url: c.run.html_url } : null,
      details: c.details,
    })),
  };
}

/**
 * Rewrites the gitoku-ai notes of these commits from the database (one notes commit), removing the notes
 * of commits that no longer have exportable captures. Failures are logged, never thrown: the notes are a
 * copy, and the next export of a commit rewrites its note.
 */
export async function exportProvenanceNotes(app: AppContext, repositoryId: number, shas: readonly string[]): Promise<void> {
  if (shas.length === 0) return;
  try {
    const repo = await app.db.selectFrom('repositories').innerJoin('users', 'users.id', 'repositories.owner_id').select(['repositories.id', 'repositories.name', 'repositories.storage_path', 'users.username as owner_name']).where('repositories.id', '=', repositoryId).executeTakeFirst();
    if (!repo) return;
    const gitDir = repositoryGitDir(app, repo);
    const slug = `${repo.owner_name}/${repo.name}`;
    const captures = await loadCaptureViews(app, repo, shas);
    const existing = (await resolveRef(gitDir, GITOKU_NOTES_REF)) ? await readNotes(gitDir, GITOKU_NOTES_REF, shas) : new Map<string, string>();
    const notes = new Map<string, string | null>();
    for (const sha of new Set(shas)) {
      const note = buildGitokuNote(slug, sha, captures.get(sha) ?? []);
      const text = note ? serializeGitokuNote(note) : null;
      if (text === null ? existing.has(sha) : existing.get(sha) !== text) notes.set(sha, text);
    }
    await writeNotes(gitDir, GITOKU_NOTES_REF, notes, NOTES_AUTHOR, 'gitoku: AI provenance notes');
  } catch (err) {
    console.warn(`gitoku: could not export AI provenance notes of repository ${repositoryId}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
