import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { git, runGit } from './exec.ts';
import { resolveRef } from './refs.ts';
import { signatureEnv, type Signature } from './repository.ts';
import { ZERO_SHA } from '../domain/refs.ts';

const RECORD_END = '\u0000\u001e\u0000';

/**
 * The note each commit has under `notesRef` (only commits that have one), read in one `git log
 * --no-walk` over the given commits. Commits must exist (resolved shas).
 */
export async function readNotes(gitDir: string, notesRef: string, shas: readonly string[], maxBytes = 64 * 1024 * 1024): Promise<Map<string, string>> {
  const notes = new Map<string, string>();
  if (shas.length === 0) return notes;
  const r = await runGit(['log', '--no-walk=unsorted', '--stdin', '--no-notes', `--notes=${notesRef}`, `--format=%H%x00%N${'%x00%x1e%x00'}`], { gitDir, input: shas.join('\n') + '\n', maxOutput: maxBytes });
  if (r.code !== 0) throw new Error(`git log --notes failed: ${r.stderr.trim()}`);
  for (const record of r.stdout.toString('utf8').split(RECORD_END)) {
    const rec = record.replace(/^\n/, '');
    const nul = rec.indexOf('\u0000');
    if (nul !== 40) continue;
    const note = rec.slice(41);
    if (note.trim() !== '') notes.set(rec.slice(0, 40), note);
  }
  return notes;
}

/** The 40-hex object a notes-tree path annotates ("ab/cdef…" fan-out or flat), or null for other entries. */
function annotatedObject(path: string): string | null {
  const hex = path.replace(/\//g, '');
  return /^[0-9a-f]{40}$/.test(hex) ? hex : null;
}

/**
 * Which annotated objects a notes ref's move changed (added or modified notes) and which lost their
 * note, comparing the two notes commits' trees (`before` may be the zero sha).
 */
export async function changedNotes(gitDir: string, before: string, after: string): Promise<{ changed: string[]; removed: string[] }> {
  const changed: string[] = [];
  const removed: string[] = [];
  if (after === ZERO_SHA) return { changed, removed };
  if (before === ZERO_SHA) {
    const out = await git(['ls-tree', '-r', '-z', '--name-only', '--end-of-options', after], { gitDir });
    for (const path of out.split('\0')) {
      const sha = path ? annotatedObject(path) : null;
      if (sha) changed.push(sha);
    }
    return { changed, removed };
  }
  const out = await git(['diff-tree', '-r', '-z', '--no-renames', '--name-status', '--end-of-options', before, after], { gitDir });
  const tokens = out.split('\0');
  for (let i = 0; i + 1 < tokens.length; i += 2) {
    const status = tokens[i]!;
    const sha = annotatedObject(tokens[i + 1]!);
    if (!sha) continue;
    if (status === 'D') removed.push(sha);
    else changed.push(sha);
  }
  return { changed, removed };
}

/**
 * Writes (string) or removes (null) notes for several commits under `notesRef` in one notes commit,
 * with plumbing in the bare repository (a temporary index, no worktree): read-tree of the current notes
 * tree, update-index (flat paths; existing fan-out paths of the same commits are removed), write-tree,
 * commit-tree, and a compare-and-swap update-ref — retried when another writer moved the ref meanwhile.
 */
export async function writeNotes(gitDir: string, notesRef: string, notes: Map<string, string | null>, who: Signature, message = 'Notes written by gitoku'): Promise<string | null> {
  if (notes.size === 0) return null;
  const dir = await mkdtemp(join(tmpdir(), 'gitoku-notes-'));
  try {
    // Blobs first (once): one hash-object over temporary files.
    const written = [...notes].filter((e): e is [string, string] => e[1] !== null);
    const blobs = new Map<string, string>();
    if (written.length) {
      const files: string[] = [];
      for (let i = 0; i < written.length; i++) {
        const file = join(dir, `note-${i}`);
        await writeFile(file, written[i]![1]);
        files.push(file);
      }
      const shas = (await git(['hash-object', '-w', '--stdin-paths'], { gitDir, input: files.join('\n') + '\n' })).split('\n').filter(Boolean);
      written.forEach(([commit], i) => blobs.set(commit, shas[i]!));
    }
    const env = { GIT_INDEX_FILE: join(dir, 'index') };
    for (let attempt = 0; attempt < 8; attempt++) {
      const old = await resolveRef(gitDir, notesRef);
      await rm(env.GIT_INDEX_FILE, { force: true });
      if (old) await git(['read-tree', '--end-of-options', old], { gitDir, env });
      const lines: string[] = [];
      for (const commit of notes.keys()) {
        for (const path of [commit, `${commit.slice(0, 2)}/${commit.slice(2)}`, `${commit.slice(0, 2)}/${commit.slice(2, 4)}/${commit.slice(4)}`]) lines.push(`0 ${ZERO_SHA}\t${path}`);
        const blob = blobs.get(commit);
        if (blob) lines.push(`100644 ${blob}\t${commit}`);
      }
      await git(['update-index', '--index-info'], { gitDir, env, input: lines.join('\n') + '\n' });
      const tree = (await git(['write-tree'], { gitDir, env })).trim();
      const args = ['commit-tree', tree];
      if (old) args.push('-p', old);
      args.push('-F', '-');
      const commit = (await git(args, { gitDir, input: `${message}\n`, env: signatureEnv(who, who) })).trim();
      const r = await runGit(['update-ref', '--end-of-options', notesRef, commit, old ?? ZERO_SHA], { gitDir });
      if (r.code === 0) return commit;
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40 * (attempt + 1)));
    }
    throw new Error(`could not update ${notesRef}: it kept moving`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
