import { posix } from 'node:path';
import { readConfinedFile, WorkspacePathError, writeConfinedFile } from './workspaceFs.ts';
import { MEMORY_LIMITS } from '../domain/memory.ts';
import type { Workspace } from './sandbox.ts';

/**
 * The agent's memory file (issue 14): a JSON-lines file in the agent's home — writable inside the
 * sandbox, outside the checkout (so it is never committed) — named to the agent by GITOKU_MEMORY_FILE.
 * The runner empties it before the agent starts and reads it back after, through the confined file
 * operations (the file and its directory are the agent's: hostile); the server validates each entry.
 */
export const MEMORY_FILE = '.gitoku/memory.jsonl';
const MAX_LINE = 16 * 1024;

/** GITOKU_MEMORY_FILE as the agent's processes see the path. */
export function memoryFileEnvironment(ws: Workspace): Record<string, string> {
  return { GITOKU_MEMORY_FILE: posix.join(ws.view.home, MEMORY_FILE) };
}

/** An empty memory file (a snapshot the workspace booted from may hold an earlier run's). */
export async function resetMemoryFile(ws: Workspace): Promise<void> {
  await writeConfinedFile(ws.home, MEMORY_FILE, '');
}

/** Appends one entry (the scripted agent's `remember`). */
export async function appendMemoryEntry(home: string, entry: Record<string, unknown>): Promise<void> {
  await writeConfinedFile(home, MEMORY_FILE, `${JSON.stringify(entry)}\n`, { append: true });
}

/**
 * The entries the agent appended: parsed JSON objects, and for each line that is not one a note
 * (a string) saying why it was dropped. Capped in size and count; a missing, oversized or linked
 * file yields a note, never an error.
 */
export async function readMemoryFile(ws: Workspace): Promise<unknown[]> {
  let content: Buffer | null;
  try {
    content = await readConfinedFile(ws.home, MEMORY_FILE, { maxBytes: MEMORY_LIMITS.fileBytes });
  } catch (err) {
    if (err instanceof WorkspacePathError) return [`the memory file was ignored: ${err.message.replace(ws.home, '~')}`];
    throw err;
  }
  if (!content) return [];
  const out: unknown[] = [];
  const lines = content.toString('utf8').split('\n');
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    if (out.length >= MEMORY_LIMITS.entriesPerRun + 1) {
      out.push(`lines from ${i + 1} on were ignored: at most ${MEMORY_LIMITS.entriesPerRun} entries`);
      break;
    }
    if (line.length > MAX_LINE) {
      out.push(`line ${i + 1}: longer than ${MAX_LINE} characters`);
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      out.push(`line ${i + 1}: not valid JSON`);
      continue;
    }
    const entry = value !== null && typeof value === 'object' && !Array.isArray(value) ? shallowEntry(value as Record<string, unknown>) : 'not a JSON object';
    out.push(typeof entry === 'string' ? `line ${i + 1}: ${entry}` : entry);
  }
  return out;
}

const isPrimitive = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);

/**
 * Only the fields an entry has, each of its expected shape (strings, numbers, a list of citations, a
 * scope): the server gets a flat, bounded value (no deep nesting, no unknown fields), and validates it.
 */
function shallowEntry(v: Record<string, unknown>): Record<string, unknown> | string {
  const out: Record<string, unknown> = {};
  for (const key of ['kind', 'subject', 'fact', 'reason', 'confidence'] as const) {
    if (v[key] === undefined) continue;
    if (!isPrimitive(v[key])) return `"${key}" must be a string or number`;
    out[key] = v[key];
  }
  if (v.citations !== undefined) {
    if (!Array.isArray(v.citations) || v.citations.length > MEMORY_LIMITS.citations) return `"citations" must be a list of at most ${MEMORY_LIMITS.citations} {path, start_line, end_line}`;
    const citations = [];
    for (const c of v.citations as unknown[]) {
      if (c === null || typeof c !== 'object' || Array.isArray(c)) return '"citations" must hold objects';
      const { path, start_line, end_line } = c as Record<string, unknown>;
      if (![path, start_line, end_line].every(isPrimitive)) return 'a citation is {path, start_line, end_line}';
      citations.push({ path, start_line, end_line });
    }
    out.citations = citations;
  }
  if (v.scope !== undefined) {
    if (typeof v.scope === 'string') out.scope = v.scope;
    else if (v.scope !== null && typeof v.scope === 'object' && Array.isArray((v.scope as { paths?: unknown }).paths) && ((v.scope as { paths: unknown[] }).paths).every((p) => typeof p === 'string')) out.scope = { paths: (v.scope as { paths: string[] }).paths.slice(0, MEMORY_LIMITS.scopePaths + 1) };
    else return '"scope" must be "agent", "repository" or {"paths": [globs]}';
  }
  return out;
}

/** The entries with every string passed through `redact` (an agent may have written a secret into its memory). */
export function redactMemory(entries: unknown[], redact: (text: string) => string): unknown[] {
  const walk = (v: unknown): unknown => (typeof v === 'string' ? redact(v) : Array.isArray(v) ? v.map(walk) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)])) : v);
  return entries.map(walk);
}
