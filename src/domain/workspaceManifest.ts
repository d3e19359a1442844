import { z } from 'zod';
import type { ManifestProblem } from './manifest.ts';

/**
 * `[workspace]` in gitoku.toml: the repository's set-up, run once after checkout; its snapshot is
 * cached per (repository, cache key) so later runs boot from it instead of running it again.
 *
 *   [workspace]
 *   setup = "npm ci"                          # required when the section exists
 *   cache_key_files = ["package-lock.json"]   # optional repository paths (at most 20)
 *   timeout = 900                             # optional seconds (default 900, at most 3600)
 */
export interface WorkspaceSetup {
  setup: string;
  cacheKeyFiles: string[];
  /** Seconds. */
  timeout: number;
}

export const MAX_SETUP_CHARS = 4096;
export const MAX_CACHE_KEY_FILES = 20;
export const DEFAULT_SETUP_TIMEOUT = 900;
export const MAX_SETUP_TIMEOUT = 3600;

/** A repository path: relative, no `..` or empty segments, no NUL, no backslash tricks. */
export function isRepositoryPath(p: string): boolean {
  if (!p || p.length > 1024 || p.includes('\0') || p.startsWith('/') || p.includes('\\')) return false;
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

const workspaceSchema = z.strictObject({
  setup: z.string({ message: 'setup is required (the set-up command, e.g. "npm ci")' }).trim().min(1, 'setup must not be empty').max(MAX_SETUP_CHARS, `setup is too long (at most ${MAX_SETUP_CHARS} characters)`),
  cache_key_files: z
    .array(z.string().refine(isRepositoryPath, 'cache_key_files entries must be repository paths (relative, no "..")'))
    .max(MAX_CACHE_KEY_FILES, `at most ${MAX_CACHE_KEY_FILES} cache_key_files`)
    .optional(),
  timeout: z.number().int('timeout must be a whole number of seconds').positive('timeout must be positive').max(MAX_SETUP_TIMEOUT, `timeout is at most ${MAX_SETUP_TIMEOUT} seconds`).optional(),
});

/** The 1-based line of `key =` inside `[workspace]` (or of the header when the key is not there). */
function lineInWorkspace(source: string, key: string | undefined): number | null {
  const lines = source.split('\n');
  const header = lines.findIndex((l) => /^\s*\[\s*workspace\s*\]/.test(l));
  if (header < 0) {
    const inline = lines.findIndex((l) => /^\s*workspace\s*[.=]/.test(l));
    return inline < 0 ? null : inline + 1;
  }
  if (!key) return header + 1;
  for (let i = header + 1; i < lines.length && !/^\s*\[/.test(lines[i]!); i++) {
    if (new RegExp(`^\\s*"?${key.replace(/[^\w-]/g, '')}"?\\s*=`).test(lines[i]!)) return i + 1;
  }
  return header + 1;
}

/** Validates the `[workspace]` table (undefined: no section). Problems name the file, the line and the key. */
export function validateWorkspaceSection(raw: unknown, source: string, file: string): { workspace: WorkspaceSetup | null; problems: ManifestProblem[] } {
  if (raw === undefined) return { workspace: null, problems: [] };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { workspace: null, problems: [{ file, line: lineInWorkspace(source, undefined), key: 'workspace', message: 'workspace must be a table ([workspace])' }] };
  const parsed = workspaceSchema.safeParse(raw);
  if (!parsed.success) {
    return {
      workspace: null,
      problems: parsed.error.issues.map((issue) => {
        const sub = issue.code === 'unrecognized_keys' ? issue.keys[0]! : issue.path.map(String)[0];
        return { file, line: lineInWorkspace(source, sub), key: ['workspace', ...(sub ? [sub] : [])].join('.'), message: issue.code === 'unrecognized_keys' ? `unknown key "${issue.keys.join('", "')}" (known: setup, cache_key_files, timeout)` : issue.message };
      }),
    };
  }
  const w = parsed.data;
  return { workspace: { setup: w.setup, cacheKeyFiles: [...new Set(w.cache_key_files ?? [])].sort(), timeout: w.timeout ?? DEFAULT_SETUP_TIMEOUT }, problems: [] };
}
