import type { RepositoryAccess } from './repositories.ts';
import { notFound } from './errors.ts';
import { isSafeRevision, isValidRefName } from '../domain/refs.ts';
import { resolveCommit } from '../git/tree.ts';
import { type ArchiveFormat, type ArchiveStream, streamArchive } from '../git/archive.ts';

/** Download archives of a repository at a ref (GitHub's /archive/<ref>.zip and /zipball/<ref>). */

export const ARCHIVE_CONTENT_TYPES: Record<ArchiveFormat, string> = { zip: 'application/zip', 'tar.gz': 'application/gzip' };

export interface ArchivePlan {
  /** The ref as asked (short name, full ref or sha). */
  ref: string;
  sha: string;
  format: ArchiveFormat;
  /** "<repo>-<ref>.zip" */
  filename: string;
  /** "<repo>-<ref>/" inside the archive. */
  prefix: string;
  /** Strong validator: the commit and the format fix the bytes. */
  etag: string;
  contentType: string;
}

/** "<ref>.zip" / "<ref>.tar.gz" → its parts; null for any other ending. */
export function parseArchiveName(spec: string): { ref: string; format: ArchiveFormat } | null {
  for (const format of ['tar.gz', 'zip'] as const) {
    const suffix = `.${format}`;
    if (spec.endsWith(suffix) && spec.length > suffix.length) return { ref: spec.slice(0, -suffix.length), format };
  }
  return null;
}

/**
 * The commit a user-typed archive ref names: "refs/heads/x" and "refs/tags/x" exactly; otherwise a
 * branch, then a tag, then a commit id, as GitHub resolves them. Anything option-like or malformed is
 * not a ref (404): it never reaches git.
 */
async function resolveArchiveRef(access: RepositoryAccess, ref: string): Promise<string | null> {
  if (!isSafeRevision(ref)) return null;
  if (ref.startsWith('refs/')) {
    if (!(ref.startsWith('refs/heads/') || ref.startsWith('refs/tags/')) || !isValidRefName(ref)) return null;
    return resolveCommit(access.gitDir, ref);
  }
  if (isValidRefName(`refs/heads/${ref}`)) {
    const branch = await resolveCommit(access.gitDir, `refs/heads/${ref}`);
    if (branch) return branch;
    const tag = await resolveCommit(access.gitDir, `refs/tags/${ref}`);
    if (tag) return tag;
  }
  if (/^[0-9a-f]{4,40}$/i.test(ref)) return resolveCommit(access.gitDir, ref.toLowerCase());
  return null;
}

/** A name part safe in a file name and a directory prefix: the ref's short name, slashes as dashes. */
function slug(ref: string): string {
  const short = ref.replace(/^refs\/(heads|tags)\//, '');
  return short.replace(/\//g, '-').replace(/[^\w.+@-]/g, '_');
}

/** Resolves an archive request (404 when the ref names no commit); the archive itself is opened by `openArchive`. */
export async function planArchive(access: RepositoryAccess, ref: string, format: ArchiveFormat): Promise<ArchivePlan> {
  const sha = await resolveArchiveRef(access, ref);
  if (!sha) throw notFound(`No commit found for the ref ${ref}`);
  const base = `${access.repo.name}-${slug(ref)}`;
  return {
    ref,
    sha,
    format,
    filename: `${base}.${format}`,
    prefix: `${base}/`,
    etag: `"${sha}-${format === 'zip' ? 'zip' : 'tgz'}"`,
    contentType: ARCHIVE_CONTENT_TYPES[format],
  };
}

/** Starts git archive for a plan: streamed, stopped when the reader cancels. */
export function openArchive(access: RepositoryAccess, plan: ArchivePlan): Promise<ArchiveStream> {
  return streamArchive(access.gitDir, plan.sha, plan.format, plan.prefix);
}

/** Content-Disposition for a download: ASCII fallback plus the UTF-8 name (RFC 6266). */
export function attachmentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}
