import type { AppContext } from './app.ts';
import { invalid, notFound, ServiceError } from './errors.ts';
import type { RepositoryAccess } from './repositories.ts';
import { assertBranchDeletionAllowed } from './branchProtection.ts';
import { handleRepositoryRefChanges } from './refChanges.ts';
import { isSafeRevision, isSha, isValidBranchName, isValidRefName, ZERO_SHA } from '../domain/refs.ts';
import { entryAtPath, resolveCommit, isSafeRepoPath } from '../git/tree.ts';
import { listRefs } from '../git/refs.ts';
import { loadRefMap, refCommit } from '../git/refCache.ts';
import { runGit } from '../git/exec.ts';
import { catFilePool, streamBlob } from '../git/catFile.ts';

/** Resolves a user-supplied ref (branch, tag or sha; default: the default branch) to a commit, or 404. */
export async function resolveRefOr404(access: RepositoryAccess, ref: string | undefined): Promise<string> {
  const rev = ref && ref.length > 0 ? ref : access.repo.default_branch;
  if (!isSafeRevision(rev)) throw notFound(`No commit found for the ref ${rev}`);
  const sha = await resolveCommit(access.gitDir, rev);
  if (!sha) throw notFound(`No commit found for the ref ${rev}`);
  return sha;
}

export function checkPathOr404(path: string): string {
  const clean = path.replace(/\/+$/, '');
  if (!isSafeRepoPath(clean)) throw notFound('Not Found');
  return clean;
}

/**
 * Splits "<ref>/<path>" where the ref itself may contain slashes (feature/x/src/a.ts): the longest
 * prefix that names a branch or tag wins (a branch before a tag), else a leading sha. Answered from the
 * repository's in-memory ref map (src/git/refCache.ts), so no git process runs per request. Null when
 * nothing matches.
 */
export async function splitRefAndPath(access: RepositoryAccess, refAndPath: string): Promise<{ ref: string; sha: string; path: string } | null> {
  const segments = refAndPath.split('/');
  const map = await loadRefMap(access.gitDir, `${access.repo.pushed_at ?? ''}\0${access.repo.updated_at}`);
  for (let n = segments.length; n >= 1; n--) {
    const candidate = segments.slice(0, n).join('/');
    const sha = refCommit(map, 'branch', candidate) ?? refCommit(map, 'tag', candidate);
    if (sha) return { ref: candidate, sha, path: segments.slice(n).join('/') };
  }
  const first = segments[0]!;
  if (/^[0-9a-f]{7,40}$/.test(first)) {
    const sha = await resolveCommit(access.gitDir, first);
    if (sha) return { ref: first, sha, path: segments.slice(1).join('/') };
  }
  return null;
}

/** "<ref>/<path>" naming a file (a blob) at a resolved commit; anything else — unknown ref, unsafe path, a directory — is a 404. */
export async function fileAtRefPath(access: RepositoryAccess, refAndPath: string): Promise<{ ref: string; sha: string; path: string }> {
  const split = await splitRefAndPath(access, refAndPath);
  if (!split) throw notFound('Not Found');
  const path = checkPathOr404(split.path);
  const entry = await entryAtPath(access.gitDir, split.sha, path);
  if (!entry || entry.type !== 'blob') throw notFound('Not Found');
  return { ref: split.ref, sha: split.sha, path };
}

/**
 * Size limits for whole files. Like GitHub: a file page renders at most 1 MB (above, "view raw"); the
 * contents API inlines at most 1 MB (1–100 MB: `encoding: "none"`, empty content, or the raw media
 * type) and refuses above 100 MB (403, code `too_large`); blame is refused above 1 MB. Raw downloads
 * have no limit: they stream.
 */
export const FILE_LIMITS = {
  render: 1024 * 1024,
  contentsInline: 1024 * 1024,
  contents: 100 * 1024 * 1024,
  blame: 1024 * 1024,
} as const;

/** Files up to this size are read whole through the batch process; larger ones stream from their own git. */
const READ_WHOLE_MAX_BYTES = 1024 * 1024;
/** Bytes looked at to tell text from binary (git's own heuristic looks at the first 8000). */
const SNIFF_BYTES = 8000;

export interface RawFile {
  sha: string;
  size: number;
  mode: string;
  /** The first bytes of the file (up to 8000), for telling text from binary. */
  head: Buffer;
  /** The whole content: small files as bytes, large ones as a stream straight from git (cancel it if unused). */
  body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array>;
}

/** The size of the file at `path` in a commit without reading it; null when it is not a file there. */
export async function fileSize(access: RepositoryAccess, commitSha: string, path: string): Promise<{ sha: string; mode: string; size: number } | null> {
  const entry = await entryAtPath(access.gitDir, commitSha, path);
  if (!entry || entry.type !== 'blob') return null;
  const info = await catFilePool.info(access.gitDir, entry.sha);
  return info ? { sha: entry.sha, mode: entry.mode, size: info.size } : null;
}

/**
 * A file's bytes at a commit, for a download: read whole when small, else streamed from git (the
 * event loop never holds or copies a large blob). Null when `path` is not a file there.
 */
export async function openRawFile(access: RepositoryAccess, commitSha: string, path: string): Promise<RawFile | null> {
  const file = await fileSize(access, commitSha, path);
  if (!file) return null;
  if (file.size <= READ_WHOLE_MAX_BYTES) {
    const obj = await catFilePool.read(access.gitDir, file.sha);
    if (!obj) return null;
    return { ...file, head: obj.content.subarray(0, SNIFF_BYTES), body: new Uint8Array(obj.content.buffer as ArrayBuffer, obj.content.byteOffset, obj.content.byteLength) };
  }
  const { head, body } = await streamBlob(access.gitDir, file.sha, SNIFF_BYTES);
  return { ...file, head, body };
}

/** Releases a raw file's body when it will not be sent (e.g. a 304): stops its git process. */
export async function discardRawFile(file: RawFile): Promise<void> {
  if (file.body instanceof ReadableStream) await file.body.cancel().catch(() => undefined);
}

/** Refuses (403, with a clear message) to blame a file above FILE_LIMITS.blame: blame reads and annotates every line. */
export async function checkBlameSize(access: RepositoryAccess, commitSha: string, path: string): Promise<void> {
  const file = await fileSize(access, commitSha, path);
  if (file && file.size > FILE_LIMITS.blame) throw new ServiceError(403, tooLargeMessage('blame', file.size, FILE_LIMITS.blame));
}

/** The message for a file too large for an operation on the whole file. */
export function tooLargeMessage(what: string, size: number, limit: number): string {
  const mb = (n: number) => `${(n / (1024 * 1024)).toFixed(n < 10 * 1024 * 1024 ? 1 : 0)} MB`;
  return `This file is too large for ${what} (${mb(size)}; the limit is ${mb(limit)}). Download it raw instead.`;
}

export interface TagInfo {
  name: string;
  sha: string;
  commitSha: string;
}

/** Tags, newest name last as git sorts them; annotated tags peeled to their commit. */
export async function listTags(access: RepositoryAccess): Promise<TagInfo[]> {
  const r = await runGit(['for-each-ref', '--sort=-creatordate', '--format=%(refname:strip=2)%00%(objectname)%00%(*objectname)', 'refs/tags/'], { gitDir: access.gitDir });
  return r.stdout
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name, sha, peeled] = line.split('\0');
      return { name: name!, sha: sha!, commitSha: peeled || sha! };
    });
}

/** Creates a branch or tag ref through the ref-change ingress (create-only: an existing ref is a 422). */
export async function createRef(app: AppContext, access: RepositoryAccess, ref: string, sha: string, actorId: number): Promise<void> {
  if (!ref.startsWith('refs/heads/') && !ref.startsWith('refs/tags/')) throw invalid('ref must start with refs/heads/ or refs/tags/', 'ref');
  if (!isValidRefName(ref) || (ref.startsWith('refs/heads/') && !isValidBranchName(ref.slice(11)))) throw invalid(`"${ref}" is not a valid ref name`, 'ref');
  if (!isSha(sha)) throw invalid('sha must be a full 40-character commit sha', 'sha');
  const info = await catFilePool.info(access.gitDir, sha);
  if (!info || info.type !== 'commit') throw invalid('Object does not exist', 'sha');
  const r = await runGit(['update-ref', '--end-of-options', ref, sha, ZERO_SHA], { gitDir: access.gitDir });
  if (r.code !== 0) throw new ServiceError(422, 'Reference already exists', 'ref');
  await handleRepositoryRefChanges(app, access.repo, [{ ref, before: ZERO_SHA, after: sha }], { kind: 'api', actorId });
}

/** Deletes a ref through the ref-change ingress. */
export async function deleteRef(app: AppContext, access: RepositoryAccess, ref: string, actorId: number): Promise<void> {
  if (!isValidRefName(ref) || !(ref.startsWith('refs/heads/') || ref.startsWith('refs/tags/'))) throw notFound('Reference does not exist');
  if (ref === `refs/heads/${access.repo.default_branch}`) throw new ServiceError(422, 'Cannot delete the default branch');
  if (ref.startsWith('refs/heads/')) await assertBranchDeletionAllowed(app, access.repo.id, ref.slice('refs/heads/'.length));
  const current = (await listRefs(access.gitDir, ref)).find((r) => r.name === ref);
  if (!current) throw new ServiceError(422, 'Reference does not exist');
  const r = await runGit(['update-ref', '-d', '--end-of-options', ref, current.sha], { gitDir: access.gitDir });
  if (r.code !== 0) throw new ServiceError(409, 'Reference changed meanwhile; try again');
  await handleRepositoryRefChanges(app, access.repo, [{ ref, before: current.sha, after: ZERO_SHA }], { kind: 'api', actorId });
}
