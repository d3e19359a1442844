import { z } from 'zod';
import type { AppContext } from './app.ts';
import type { Run } from '../db/schema.ts';
import type { RepositoryWithOwner } from './repositories.ts';
import { repositoryGitDir } from './storage.ts';
import { ServiceError } from './errors.ts';
import { memoryScopeSchema, validateMemoryEntry, type NewMemoryEntry } from './memory.ts';
import { resolveCitations } from './memoryValidation.ts';
import { runGit } from '../git/exec.ts';
import { entryAtPath, isSafeRepoPath } from '../git/tree.ts';
import { MEMORY_KINDS, MEMORY_LIMITS } from '../domain/memory.ts';

/**
 * Memory that runs leave (issue 14): the entries an agent declared in its memory file (checked and
 * resolved against the run's result commit), and the `failure` a failed or cancelled run leaves
 * (its error, its last steps, citing the files it touched). Both are prepared here, outside the
 * transaction, and recorded by services/runs.ts at the run's terminal state, inside it.
 */

const declaredSchema = z.object({
  kind: z.enum(MEMORY_KINDS),
  subject: z.string().trim().min(1, 'subject is required').max(MEMORY_LIMITS.subject, `subject is longer than ${MEMORY_LIMITS.subject} characters`),
  fact: z.string().trim().min(1, 'fact is required').max(MEMORY_LIMITS.fact, `fact is longer than ${MEMORY_LIMITS.fact} characters`),
  reason: z.string().max(MEMORY_LIMITS.reason, `reason is longer than ${MEMORY_LIMITS.reason} characters`).optional(),
  confidence: z.number().min(0).max(1).optional(),
  citations: z
    .array(z.object({ path: z.string().min(1).max(1024), start_line: z.number().int().min(1), end_line: z.number().int().min(1) }))
    .max(MEMORY_LIMITS.citations, `more than ${MEMORY_LIMITS.citations} citations`)
    .optional(),
  /** "agent": only for runs of the same agent; or path globs. */
  scope: z.union([z.literal('agent'), z.literal('repository'), memoryScopeSchema.pick({ paths: true })]).optional(),
});

export interface PreparedMemory {
  entries: NewMemoryEntry[];
  /** Why entries were dropped (trace notes). */
  dropped: string[];
}

const describe = (err: z.ZodError) => err.issues.map((i) => `${i.path.join('.') || 'entry'}: ${i.message}`).join('; ');

/** The agent's declared entries, validated; citations resolved at the run's result commit. Never throws: a run never fails for its memory. */
export async function prepareDeclaredMemory(app: AppContext, run: Run, repo: RepositoryWithOwner, commitSha: string, raw: unknown[]): Promise<PreparedMemory> {
  if (raw.length === 0) return { entries: [], dropped: [] };
  try {
    return await checkDeclaredMemory(app, run, repo, commitSha, raw);
  } catch (err) {
    console.error(`gitoku: could not check the memory entries of run ${run.id}: ${(err as Error).message}`);
    return { entries: [], dropped: [`memory entries dropped: they could not be checked (${(err as Error).message.slice(0, 200)})`] };
  }
}

async function checkDeclaredMemory(app: AppContext, run: Run, repo: RepositoryWithOwner, commitSha: string, raw: unknown[]): Promise<PreparedMemory> {
  const gitDir = repositoryGitDir(app, repo);
  const out: PreparedMemory = { entries: [], dropped: [] };
  let n = 0;
  for (const item of raw) {
    if (typeof item === 'string') {
      out.dropped.push(`memory file: ${item.slice(0, 300)} (dropped)`);
      continue;
    }
    if (++n > MEMORY_LIMITS.entriesPerRun) {
      out.dropped.push(`memory entry ${n} dropped: at most ${MEMORY_LIMITS.entriesPerRun} entries per run`);
      continue;
    }
    const parsed = declaredSchema.safeParse(item);
    if (!parsed.success) {
      out.dropped.push(`memory entry ${n} dropped: ${describe(parsed.error).slice(0, 500)}`);
      continue;
    }
    const e = parsed.data;
    if ([e.subject, e.fact, e.reason ?? ''].some((s) => s.includes('\0'))) {
      out.dropped.push(`memory entry ${n} dropped: NUL characters`);
      continue;
    }
    let citations;
    try {
      citations = await resolveCitations(gitDir, commitSha, e.citations ?? []);
    } catch (err) {
      if (!(err instanceof ServiceError)) throw err;
      out.dropped.push(`memory entry ${n} dropped: ${err.message}`);
      continue;
    }
    const entry: NewMemoryEntry = {
      kind: e.kind,
      subject: e.subject,
      fact: e.fact,
      reason: e.reason ?? '',
      citations,
      scope: { agent: e.scope === 'agent' ? run.agent_key : null, paths: typeof e.scope === 'object' ? (e.scope.paths ?? []) : [] },
      source: { type: 'run', id: run.number, label: `agent run #${run.number}${run.agent_key ? ` (${run.agent_key})` : ''}` },
      confidence: e.confidence ?? 0.6,
      created_by_id: null,
    };
    try {
      validateMemoryEntry(entry);
    } catch (err) {
      if (!(err instanceof ServiceError)) throw err;
      out.dropped.push(`memory entry ${n} dropped: ${err.message}`);
      continue;
    }
    out.entries.push(entry);
  }
  return out;
}

/** Old-side line ranges a diff of one file touched: their union (1-based, inclusive), or null. */
function touchedOldLines(patch: string): [number, number] | null {
  let lo = Infinity;
  let hi = 0;
  for (const m of patch.matchAll(/^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@/gm)) {
    const start = Number(m[1]);
    const count = m[2] === undefined ? 1 : Number(m[2]);
    const [a, b] = count === 0 ? [Math.max(1, start), Math.max(1, start)] : [start, start + count - 1];
    lo = Math.min(lo, a);
    hi = Math.max(hi, b);
  }
  return hi === 0 ? null : [lo, hi];
}

function oneLine(text: string, max: number): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/**
 * The `failure` a run that failed or was cancelled leaves: what it attempted (its last steps) and
 * why it failed (the error), citing the files it touched as they were at its source commit — the
 * lines its last checkpoint changed, else the file's first lines. Null when the agent never acted.
 */
export async function prepareFailureMemory(app: AppContext, run: Run, repo: RepositoryWithOwner, status: 'failed' | 'cancelled', error: string): Promise<NewMemoryEntry | null> {
  const events = await app.db.selectFrom('run_events').select(['kind', 'data']).where('run_id', '=', run.id).orderBy('id', 'desc').limit(500).execute();
  const acts = events.filter((e) => ['file_edit', 'command', 'tool_call', 'message', 'error'].includes(e.kind)).reverse();
  if (acts.length === 0) return null;
  const touched: string[] = [];
  const steps: string[] = [];
  for (const e of acts) {
    const d = JSON.parse(e.data) as Record<string, unknown>;
    if (e.kind === 'file_edit' && typeof d.path === 'string') {
      if (!touched.includes(d.path) && isSafeRepoPath(d.path)) touched.push(d.path);
      steps.push(`${String(d.action ?? 'edit')} ${d.path}`);
    } else if (e.kind === 'command') steps.push(`ran \`${oneLine(String(d.command ?? ''), 120)}\` (exit ${String(d.exit_code)})`);
    else if (e.kind === 'tool_call') steps.push(`called ${oneLine(String(d.tool ?? 'a tool'), 60)}`);
    else if (e.kind === 'message') steps.push(`said "${oneLine(String(d.text ?? ''), 160)}"`);
    else if (e.kind === 'error') steps.push(`error: ${oneLine(String(d.message ?? ''), 200)}`);
  }
  const gitDir = repositoryGitDir(app, repo);
  const checkpoint = await app.db.selectFrom('run_checkpoints').select('commit_sha').where('run_id', '=', run.id).orderBy('attempt', 'desc').orderBy('step', 'desc').executeTakeFirst();
  const wanted: { path: string; start_line: number; end_line: number }[] = [];
  for (const path of touched.slice(0, MEMORY_LIMITS.citations)) {
    const entry = await entryAtPath(gitDir, run.source_commit, path);
    if (!entry || entry.type !== 'blob') continue; // a file the run created: nothing to cite at the source
    let range: [number, number] | null = null;
    if (checkpoint && checkpoint.commit_sha !== run.source_commit) {
      const r = await runGit(['diff', '-U0', '--no-ext-diff', '--no-renames', '--no-color', run.source_commit, checkpoint.commit_sha, '--', path], { gitDir, maxOutput: 4 * 1024 * 1024 }).catch(() => null);
      if (r && r.code === 0) range = touchedOldLines(r.stdout.toString('utf8'));
    }
    const lineCount = await countLines(gitDir, run.source_commit, path);
    if (lineCount === 0) continue;
    const [start, end] = range ?? [1, Math.min(lineCount, 40)];
    const s = Math.min(start, lineCount);
    wanted.push({ path, start_line: s, end_line: Math.min(end, lineCount, s + MEMORY_LIMITS.citationLines - 1) });
  }
  const citations = [];
  for (const w of wanted) {
    try {
      citations.push(...(await resolveCitations(gitDir, run.source_commit, [w])));
    } catch (err) {
      if (!(err instanceof ServiceError)) throw err;
    }
  }
  const reason = `${status === 'failed' ? 'It failed' : 'It was cancelled'}: ${oneLine(error, 600)}. Last steps: ${steps.slice(-6).join('; ')}`;
  const entry: NewMemoryEntry = {
    kind: 'failure',
    subject: oneLine(`Attempt: ${run.title}`, MEMORY_LIMITS.subject),
    fact: oneLine(`Run #${run.number} ${status === 'failed' ? 'failed' : 'was cancelled'}${touched.length ? ` after touching ${touched.slice(0, 5).join(', ')}${touched.length > 5 ? '…' : ''}` : ''}: ${error}`, 1000),
    reason: reason.slice(0, MEMORY_LIMITS.reason),
    citations,
    scope: { agent: null, paths: [] },
    source: { type: 'run', id: run.number, label: `${status} run #${run.number}` },
    confidence: status === 'failed' ? 0.8 : 0.5,
    created_by_id: null,
  };
  validateMemoryEntry(entry); // here, not inside the run's closing transaction
  return entry;
}

async function countLines(gitDir: string, commit: string, path: string): Promise<number> {
  const r = await runGit(['cat-file', '-p', `${commit}:${path}`], { gitDir, maxOutput: 4 * 1024 * 1024 }).catch(() => null);
  if (!r || r.code !== 0 || r.stdout.includes(0)) return 0;
  const text = r.stdout.toString('utf8');
  return text === '' ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}
