import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Context } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { ApiRegistry } from './registry.ts';
import { paginationQuery, setPaginationLinks } from './registry.ts';
import { errorSchema } from './shapes.ts';
import { repoFromPath } from './repos.ts';
import { requireIdentity } from './guards.ts';
import type { AppContext } from '../../../services/app.ts';
import type { RepositoryAccess, RepositoryWithOwner } from '../../../services/repositories.ts';
import { checkBlameSize, checkPathOr404, createRef, deleteRef, discardRawFile, FILE_LIMITS, fileAtRefPath, fileSize, listTags, openRawFile, resolveRefOr404, splitRefAndPath, tooLargeMessage, type RawFile } from '../../../services/code.ts';
import { notFound } from '../../../services/errors.ts';
import { entryAtPath, isBinary, listTree, readBlobAtPath } from '../../../git/tree.ts';
import { readCommitObject, type Commit } from '../../../git/objects.ts';
import { countCommits, listCommits } from '../../../git/log.ts';
import type { FileDiff } from '../../../git/diff.ts';
import { cachedDiff } from '../../../services/uiBrowse.ts';
import { blameFile, blameRanges } from '../../../git/blame.ts';
import { mergeBase } from '../../../git/merge.ts';
import { lsTree } from '../../../git/lsTree.ts';
import type { CommitSummary } from '../../../git/refs.ts';
import { catFilePool } from '../../../git/catFile.ts';

/** GitHub's answer for a file too large for an endpoint: 403 with the `too_large` code. */
function tooLarge(c: Context<WebEnv>, message: string) {
  return c.json({ message, errors: [{ resource: 'Blob', field: 'data', code: 'too_large' }] }, 403);
}

/** A file's raw bytes as the response: streamed from git when large, with the type sniffed from its first bytes. */
async function rawResponse(c: Context<WebEnv>, file: RawFile) {
  const headers = {
    'Content-Type': isBinary(file.head) ? 'application/octet-stream' : 'text/plain; charset=utf-8',
    'Content-Length': String(file.size),
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; sandbox",
    ETag: `"${file.sha}"`,
  };
  // HEAD: the body would be dropped unread, so stop its git process now.
  if (c.req.method === 'HEAD') {
    await discardRawFile(file);
    return c.body(null, 200, headers);
  }
  return c.body(file.body, 200, headers);
}

/** GitHub's raw media type for the contents API (application/vnd.github.raw, …v3.raw, …raw+json). */
function wantsRaw(c: Context<WebEnv>): boolean {
  return /application\/vnd\.github(?:\.v3)?\.raw\b/i.test(c.req.header('accept') ?? '');
}

function repoBase(app: AppContext, repo: RepositoryWithOwner) {
  return { api: `${app.config.baseUrl}/api/v1/repos/${repo.owner_name}/${repo.name}`, html: `${app.config.baseUrl}/${repo.owner_name}/${repo.name}` };
}

function entryType(mode: string, type: string): 'file' | 'dir' | 'symlink' | 'submodule' {
  if (type === 'tree') return 'dir';
  if (type === 'commit') return 'submodule';
  if (mode === '120000') return 'symlink';
  return 'file';
}

function encodePath(path: string) {
  return path.split('/').map(encodeURIComponent).join('/');
}

function contentLinks(app: AppContext, repo: RepositoryWithOwner, ref: string, path: string, sha: string, type: string) {
  const b = repoBase(app, repo);
  const url = `${b.api}/contents/${encodePath(path)}?ref=${encodeURIComponent(ref)}`;
  const html = `${b.html}/${type === 'dir' ? 'tree' : 'blob'}/${encodePath(ref)}/${encodePath(path)}`;
  const git = `${b.api}/git/${type === 'dir' ? 'trees' : 'blobs'}/${sha}`;
  return { url, html_url: html, git_url: git, download_url: type === 'file' ? `${b.api}/raw/${encodePath(ref)}/${encodePath(path)}` : null, _links: { self: url, git, html } };
}

/** GitHub's commit shape from a parsed commit (log records and commit objects both map here). */
export function commitJson(app: AppContext, repo: RepositoryWithOwner, c: CommitSummary | Commit) {
  const b = repoBase(app, repo);
  const s: CommitSummary =
    'treeSha' in c
      ? c
      : {
          sha: c.sha,
          treeSha: c.tree,
          parents: c.parents,
          authorName: c.author.name,
          authorEmail: c.author.email,
          authorDate: c.author.date,
          committerName: c.committer.name,
          committerEmail: c.committer.email,
          committerDate: c.committer.date,
          message: c.message,
        };
  return {
    sha: s.sha,
    url: `${b.api}/commits/${s.sha}`,
    html_url: `${b.html}/commit/${s.sha}`,
    commit: {
      author: { name: s.authorName, email: s.authorEmail, date: s.authorDate },
      committer: { name: s.committerName, email: s.committerEmail, date: s.committerDate },
      message: s.message,
      tree: { sha: s.treeSha, url: `${b.api}/git/trees/${s.treeSha}` },
      url: `${b.api}/git/commits/${s.sha}`,
    },
    author: null,
    committer: null,
    parents: s.parents.map((p) => ({ sha: p, url: `${b.api}/commits/${p}`, html_url: `${b.html}/commit/${p}` })),
  };
}

export function fileJson(app: AppContext, repo: RepositoryWithOwner, headSha: string, f: FileDiff) {
  const b = repoBase(app, repo);
  return {
    sha: f.status === 'removed' ? f.oldSha : f.newSha,
    filename: f.path,
    status: f.status,
    additions: f.additions,
    deletions: f.deletions,
    changes: f.additions + f.deletions,
    blob_url: `${b.html}/blob/${headSha}/${encodePath(f.path)}`,
    raw_url: `${b.api}/raw/${headSha}/${encodePath(f.path)}`,
    contents_url: `${b.api}/contents/${encodePath(f.path)}?ref=${headSha}`,
    ...(f.patch !== null ? { patch: f.patch.replace(/\n$/, '') } : {}),
    ...(f.previousPath ? { previous_filename: f.previousPath } : {}),
  };
}

async function contents(c: Context<WebEnv>, access: RepositoryAccess, rawPath: string, refQuery: string | undefined) {
  const app = c.get('app');
  const path = checkPathOr404(rawPath);
  const ref = refQuery || access.repo.default_branch;
  const sha = await resolveRefOr404(access, ref);
  const entry = await entryAtPath(access.gitDir, sha, path);
  if (!entry) throw notFound('Not Found');
  if (entry.type === 'tree') {
    const entries = (await listTree(access.gitDir, sha, path))!;
    return c.json(
      entries.map((e) => {
        const type = entryType(e.mode, e.type);
        return { type, size: e.size ?? 0, name: e.name, path: e.path, sha: e.sha, ...contentLinks(app, access.repo, ref, e.path, e.sha, type) };
      }),
    );
  }
  const type = entryType(entry.mode, entry.type);
  const name = path.split('/').pop()!;
  if (type === 'submodule') return c.json({ type, size: 0, name, path, sha: entry.sha, submodule_git_url: null, ...contentLinks(app, access.repo, ref, path, entry.sha, type) });
  // GitHub's limits: up to 1 MB inline (base64); 1–100 MB described with encoding "none" and empty
  // content, or sent whole with the raw media type; above 100 MB refused with 403 too_large.
  const file = (await fileSize(access, sha, path))!;
  if (file.size > FILE_LIMITS.contents) return tooLarge(c, `${tooLargeMessage('the contents API', file.size, FILE_LIMITS.contents)} (${contentLinks(app, access.repo, ref, path, file.sha, type).download_url})`);
  if (wantsRaw(c) && type === 'file') {
    const raw = await openRawFile(access, sha, path);
    if (!raw) throw notFound('Not Found');
    return rawResponse(c, raw);
  }
  const blob = (await readBlobAtPath(access.gitDir, sha, path, FILE_LIMITS.contentsInline))!;
  const base = { type, size: blob.size, name, path, sha: blob.sha, ...contentLinks(app, access.repo, ref, path, blob.sha, type) };
  if (type === 'symlink') return c.json({ ...base, target: blob.content.toString('utf8') });
  if (blob.truncated) return c.json({ ...base, encoding: 'none', content: '' });
  const b64 = blob.content.toString('base64').replace(/.{60}/g, '$&\n');
  return c.json({ ...base, encoding: 'base64', content: b64 });
}

const commitsQuery = paginationQuery.extend({ sha: z.string().optional(), path: z.string().optional() });
const refQuery = z.object({ ref: z.string().optional() });
const treeQuery = z.object({ recursive: z.string().optional() });
const createRefBody = z.object({ ref: z.string(), sha: z.string() });

export function registerCodeRoutes(api: ApiRegistry): void {
  api.add({ method: 'get', path: '/repos/{owner}/{repo}/contents', summary: 'Root directory listing', tag: 'contents', access: 'public', query: refQuery, responses: { 200: { description: 'Entries' } } }, async (c, { query }) =>
    contents(c, await repoFromPath(c), '', query.ref),
  );

  api.add(
    {
      method: 'get',
      path: '/repos/{owner}/{repo}/contents/{path+}',
      summary: 'A file (base64 content up to 1 MB; encoding "none" up to 100 MB, or the bytes with Accept: application/vnd.github.raw) or a directory listing at a ref',
      tag: 'contents',
      access: 'public',
      query: refQuery,
      responses: { 200: { description: 'File or directory' }, 403: { description: 'File over 100 MB (errors[].code too_large): use its download_url', schema: errorSchema }, 404: { description: 'No such path or ref', schema: errorSchema } },
    },
    async (c, { query }) => contents(c, await repoFromPath(c), c.req.param('path')!, query.ref),
  );

  api.add(
    { method: 'get', path: '/repos/{owner}/{repo}/raw/{refpath+}', summary: 'Raw file content at a ref (streamed, any size)', tag: 'contents', access: 'public', responses: { 200: { description: 'The file bytes' } } },
    async (c) => {
      const access = await repoFromPath(c);
      const split = await splitRefAndPath(access, c.req.param('refpath')!);
      if (!split) throw notFound('Not Found');
      const path = checkPathOr404(split.path);
      const file = await openRawFile(access, split.sha, path);
      if (!file) throw notFound('Not Found');
      return rawResponse(c, file);
    },
  );

  api.add(
    { method: 'get', path: '/repos/{owner}/{repo}/git/trees/{sha+}', summary: 'A tree (recursive=1 for every entry)', tag: 'git', access: 'public', query: treeQuery, responses: { 200: { description: 'The tree' } } },
    async (c, { query }) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const rev = c.req.param('sha')!;
      let treeSha: string | null = null;
      if (/^[0-9a-f]{40}$/.test(rev)) {
        const info = await catFilePool.info(access.gitDir, rev);
        if (info?.type === 'tree') treeSha = rev;
      }
      if (!treeSha) treeSha = (await readCommitObject(access.gitDir, await resolveRefOr404(access, rev)))!.tree;
      const recursive = query.recursive !== undefined && query.recursive !== '0' && query.recursive !== 'false';
      const b = repoBase(app, access.repo);
      const { entries, truncated } = await lsTree(access.gitDir, treeSha, recursive, 100_000);
      const tree = entries.map((e) => ({ path: e.path, mode: e.mode, type: e.type, sha: e.sha, ...(e.size !== null ? { size: e.size } : {}), url: `${b.api}/git/${e.type === 'tree' ? 'trees' : 'blobs'}/${e.sha}` }));
      return c.json({ sha: treeSha, url: `${b.api}/git/trees/${treeSha}`, tree, truncated });
    },
  );

  api.add(
    { method: 'get', path: '/repos/{owner}/{repo}/commits', summary: 'Commits from a ref, optionally touching a path', tag: 'commits', access: 'public', query: commitsQuery, responses: { 200: { description: 'Commits' } } },
    async (c, { query }) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      if (access.repo.is_empty === 1) return c.json({ message: 'Git Repository is empty.' }, 409);
      const head = await resolveRefOr404(access, query.sha);
      const path = query.path ? checkPathOr404(query.path) : undefined;
      const rows = await listCommits(access.gitDir, head, { path, skip: (query.page - 1) * query.per_page, limit: query.per_page + 1 });
      const total = path ? (query.page - 1) * query.per_page + rows.length : await countCommits(access.gitDir, head);
      setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, total);
      return c.json(rows.slice(0, query.per_page).map((r) => commitJson(app, access.repo, r)));
    },
  );

  api.add(
    { method: 'get', path: '/repos/{owner}/{repo}/commits/{ref+}', summary: 'A commit with its files and patches', tag: 'commits', access: 'public', responses: { 200: { description: 'The commit' } } },
    async (c) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const ref = c.req.param('ref')!;
      if (/\/(statuses|status|ai-contexts)$/.test(ref)) throw notFound('Not Found');
      const sha = await resolveRefOr404(access, ref);
      const commit = (await readCommitObject(access.gitDir, sha))!;
      const diff = await cachedDiff(access.gitDir, commit.parents[0] ?? null, sha);
      const additions = diff.files.reduce((n, f) => n + f.additions, 0);
      const deletions = diff.files.reduce((n, f) => n + f.deletions, 0);
      return c.json({ ...commitJson(app, access.repo, commit), stats: { additions, deletions, total: additions + deletions }, files: diff.files.map((f) => fileJson(app, access.repo, sha, f)) });
    },
  );

  api.add(
    { method: 'get', path: '/repos/{owner}/{repo}/compare/{basehead+}', summary: 'Compare two refs (base...head)', tag: 'commits', access: 'public', responses: { 200: { description: 'The comparison' } } },
    async (c) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const basehead = c.req.param('basehead')!;
      const sep = basehead.indexOf('...');
      if (sep < 0) throw notFound('Not Found');
      const baseSha = await resolveRefOr404(access, basehead.slice(0, sep));
      const headSha = await resolveRefOr404(access, basehead.slice(sep + 3));
      const base = await mergeBase(access.gitDir, baseSha, headSha);
      const [aheadBy, behindBy] = await Promise.all([countCommits(access.gitDir, headSha, baseSha), countCommits(access.gitDir, baseSha, headSha)]);
      const status = aheadBy === 0 && behindBy === 0 ? 'identical' : behindBy === 0 ? 'ahead' : aheadBy === 0 ? 'behind' : 'diverged';
      const commits = (await listCommits(access.gitDir, headSha, { exclude: baseSha, limit: 250 })).reverse();
      const diff = base ? await cachedDiff(access.gitDir, base, headSha) : { files: [], truncated: false };
      const b = repoBase(app, access.repo);
      const baseCommit = (await readCommitObject(access.gitDir, baseSha))!;
      const mbCommit = base ? await readCommitObject(access.gitDir, base) : null;
      return c.json({
        url: `${b.api}/compare/${basehead}`,
        html_url: `${b.html}/compare/${basehead}`,
        base_commit: commitJson(app, access.repo, baseCommit),
        merge_base_commit: mbCommit ? commitJson(app, access.repo, mbCommit) : null,
        status,
        ahead_by: aheadBy,
        behind_by: behindBy,
        total_commits: aheadBy,
        commits: commits.map((r) => commitJson(app, access.repo, r)),
        files: diff.files.map((f) => fileJson(app, access.repo, headSha, f)),
      });
    },
  );

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/tags', summary: 'Tags', tag: 'git', access: 'public', query: paginationQuery, responses: { 200: { description: 'Tags' } } }, async (c, { query }) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const tags = await listTags(access);
    setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, tags.length);
    const b = repoBase(app, access.repo);
    return c.json(
      tags.slice((query.page - 1) * query.per_page, query.page * query.per_page).map((t) => ({
        name: t.name,
        commit: { sha: t.commitSha, url: `${b.api}/commits/${t.commitSha}` },
        zipball_url: `${b.api}/zipball/refs/tags/${t.name.split('/').map(encodeURIComponent).join('/')}`,
        tarball_url: `${b.api}/tarball/refs/tags/${t.name.split('/').map(encodeURIComponent).join('/')}`,
      })),
    );
  });

  api.add(
    { method: 'get', path: '/repos/{owner}/{repo}/blame/{refpath+}', summary: 'Blame of a file at a ref, as ranges of lines per commit (gitoku)', tag: 'commits', access: 'public', responses: { 200: { description: '{ranges: [{start_line, end_line, commit}]}' }, 403: { description: 'File over 1 MB: too large for blame', schema: errorSchema } } },
    async (c) => {
      const access = await repoFromPath(c);
      const split = await fileAtRefPath(access, c.req.param('refpath')!);
      const path = split.path;
      // The answer is fully determined by the resolved commit, the path and the ref's name: revalidation costs no blame.
      const etag = `"blame-${split.sha}-${createHash('sha1').update(`${split.ref}\0${path}`).digest('base64url')}"`;
      c.header('ETag', etag);
      c.header('Cache-Control', 'private, no-cache');
      if (c.req.header('if-none-match') === etag) return c.body(null, 304);
      await checkBlameSize(access, split.sha, path);
      const blame = await blameFile(access.gitDir, split.sha, path);
      if (!blame) throw notFound('Not Found');
      const ranges = blameRanges(blame.lines).map((r) => {
        const info = blame.commits.get(r.sha)!;
        const date = new Date(info.authorTime * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
        return { start_line: r.startLine, end_line: r.endLine, commit: { sha: r.sha, message: info.summary, author: { name: info.authorName, email: info.authorEmail }, date } };
      });
      return c.json({ ref: split.ref, sha: split.sha, path, ranges });
    },
  );

  api.add(
    { method: 'post', path: '/repos/{owner}/{repo}/git/refs', summary: 'Create a branch or tag ref', tag: 'git', access: 'repo', body: createRefBody, responses: { 201: { description: 'Created' }, 422: { description: 'Invalid or existing ref', schema: errorSchema } } },
    async (c, { body }) => {
      const app = c.get('app');
      const access = await repoFromPath(c, 'write');
      const identity = requireIdentity(c);
      await createRef(app, access, body.ref, body.sha, identity.user.id);
      const b = repoBase(app, access.repo);
      return c.json({ ref: body.ref, url: `${b.api}/git/${body.ref}`, object: { sha: body.sha, type: 'commit', url: `${b.api}/git/commits/${body.sha}` } }, 201);
    },
  );

  api.add(
    { method: 'delete', path: '/repos/{owner}/{repo}/git/refs/{ref+}', summary: 'Delete a ref (heads/<branch> or tags/<tag>)', tag: 'git', access: 'repo', responses: { 204: { description: 'Deleted' } } },
    async (c) => {
      const app = c.get('app');
      const access = await repoFromPath(c, 'write');
      const identity = requireIdentity(c);
      await deleteRef(app, access, `refs/${c.req.param('ref')!}`, identity.user.id);
      return c.body(null, 204);
    },
  );

  api.add(
    { method: 'get', path: '/repos/{owner}/{repo}/git/commits/{sha}', summary: 'A git commit object', tag: 'git', access: 'public', responses: { 200: { description: 'The commit' } } },
    async (c) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const sha = await resolveRefOr404(access, c.req.param('sha')!);
      const commit = (await readCommitObject(access.gitDir, sha))!;
      return c.json(commitJson(app, access.repo, commit).commit);
    },
  );

}
