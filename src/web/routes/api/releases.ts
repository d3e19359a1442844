import { z } from 'zod';
import type { Context } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { ApiRegistry } from './registry.ts';
import { paginationQuery, setPaginationLinks } from './registry.ts';
import { errorSchema } from './shapes.ts';
import { repoFromPath } from './repos.ts';
import { requireIdentity } from './guards.ts';
import { ServiceError, notFound } from '../../../services/errors.ts';
import { createRelease, deleteRelease, getLatestRelease, getRelease, getReleaseByTag, listReleases, updateRelease } from '../../../services/releases.ts';
import { deleteReleaseAsset, getReleaseAsset, updateReleaseAsset, uploadReleaseAsset } from '../../../services/releaseAssets.ts';
import { planArchive } from '../../../services/archives.ts';
import { archiveResponse } from '../archives.ts';
import { assetDownloadResponse } from '../releaseDownloads.ts';
import { uploadBody } from '../../requestBody.ts';
import { releaseAssetJson, releaseJson } from '../../../services/apiShapes/releases.ts';
export { releaseAssetJson, releaseJson };

/** Release and archive endpoints in GitHub's shapes (repos.createRelease, uploadReleaseAsset, downloadZipballArchive…). */


const releaseSchema = z.object({ id: z.number(), tag_name: z.string(), name: z.string().nullable(), draft: z.boolean(), prerelease: z.boolean(), upload_url: z.string(), assets: z.array(z.object({ id: z.number(), name: z.string() })) });

const createBody = z.object({
  tag_name: z.string().max(255),
  target_commitish: z.string().max(255).nullish(),
  name: z.string().nullish(),
  body: z.string().nullish(),
  draft: z.boolean().optional(),
  prerelease: z.boolean().optional(),
  // Accepted for compatibility; gitoku writes no notes for you and "latest" is always the newest full release.
  generate_release_notes: z.boolean().optional(),
  make_latest: z.enum(['true', 'false', 'legacy']).optional(),
  discussion_category_name: z.string().optional(),
});
const updateBody = createBody.partial();
const uploadQuery = z.object({ name: z.string().min(1).max(1024), label: z.string().max(255).optional() });
const assetBody = z.object({ name: z.string().max(1024).optional(), label: z.string().max(255).optional(), state: z.string().optional() });

function idParam(c: Context<WebEnv>, name: string): number {
  const raw = c.req.param(name) ?? '';
  if (!/^\d{1,15}$/.test(raw)) throw notFound('Not Found');
  return Number(raw);
}

/** The upload route's path, which bypasses the JSON body limit (api/index.ts): it streams to disk with its own limit. */
export function isReleaseAssetUpload(method: string, path: string): boolean {
  return method === 'POST' && /\/repos\/[^/]+\/[^/]+\/releases\/[^/]+\/assets$/.test(path);
}

export function registerReleaseRoutes(api: ApiRegistry): void {
  const tag = 'releases';

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/releases', summary: 'Releases, newest first (drafts only for writers)', tag, access: 'public', query: paginationQuery, responses: { 200: { description: 'Releases', schema: z.array(releaseSchema) } } }, async (c, { query }) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const { items, total } = await listReleases(app, access, { page: query.page, perPage: query.per_page });
    setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, total);
    return c.json(items.map((r) => releaseJson(app, access.repo, r)));
  });

  api.add(
    {
      method: 'post',
      path: '/repos/{owner}/{repo}/releases',
      summary: 'Create a release (a missing tag is created at target_commitish when published)',
      tag,
      access: 'repo',
      body: createBody,
      responses: { 201: { description: 'Created', schema: releaseSchema }, 422: { description: 'Invalid tag, target, or a published release for the tag exists', schema: errorSchema } },
    },
    async (c, { body }) => {
      const app = c.get('app');
      const access = await repoFromPath(c, 'write');
      const identity = requireIdentity(c);
      const release = await createRelease(app, access, identity.user.id, {
        tagName: body.tag_name,
        targetCommitish: body.target_commitish ?? undefined,
        name: body.name ?? undefined,
        body: body.body ?? undefined,
        draft: body.draft,
        prerelease: body.prerelease,
      });
      return c.json(releaseJson(app, access.repo, release), 201, { Location: releaseJson(app, access.repo, release).url });
    },
  );

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/releases/latest', summary: 'The latest published full release', tag, access: 'public', responses: { 200: { description: 'The release' }, 404: { description: 'None', schema: errorSchema } } }, async (c) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    return c.json(releaseJson(app, access.repo, await getLatestRelease(app, access)));
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/releases/tags/{tag+}', summary: 'The published release of a tag', tag, access: 'public', responses: { 200: { description: 'The release' }, 404: { description: 'None', schema: errorSchema } } }, async (c) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    return c.json(releaseJson(app, access.repo, await getReleaseByTag(app, access, c.req.param('tag')!)));
  });

  api.add(
    {
      method: 'get',
      path: '/repos/{owner}/{repo}/releases/assets/{asset_id}',
      summary: 'A release asset (its bytes with Accept: application/octet-stream)',
      tag,
      access: 'public',
      responses: { 200: { description: 'The asset, or its bytes' }, 404: { description: 'Not found', schema: errorSchema } },
    },
    async (c) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const asset = await getReleaseAsset(app, access, idParam(c, 'asset_id'));
      if (/application\/octet-stream/i.test(c.req.header('accept') ?? '')) return assetDownloadResponse(c, asset);
      const release = await getRelease(app, access, asset.release_id);
      return c.json(releaseAssetJson(app, access.repo, release, asset));
    },
  );

  api.add({ method: 'patch', path: '/repos/{owner}/{repo}/releases/assets/{asset_id}', summary: 'Rename or relabel a release asset', tag, access: 'repo', body: assetBody, responses: { 200: { description: 'The asset' } } }, async (c, { body }) => {
    const app = c.get('app');
    const access = await repoFromPath(c, 'write');
    const asset = await updateReleaseAsset(app, access, idParam(c, 'asset_id'), { name: body.name, label: body.label });
    return c.json(releaseAssetJson(app, access.repo, await getRelease(app, access, asset.release_id), asset));
  });

  api.add({ method: 'delete', path: '/repos/{owner}/{repo}/releases/assets/{asset_id}', summary: 'Delete a release asset', tag, access: 'repo', responses: { 204: { description: 'Deleted' } } }, async (c) => {
    const access = await repoFromPath(c, 'write');
    await deleteReleaseAsset(c.get('app'), access, idParam(c, 'asset_id'));
    return c.body(null, 204);
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/releases/{release_id}', summary: 'A release', tag, access: 'public', responses: { 200: { description: 'The release', schema: releaseSchema }, 404: { description: 'Not found (or a draft you cannot see)', schema: errorSchema } } }, async (c) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    return c.json(releaseJson(app, access.repo, await getRelease(app, access, idParam(c, 'release_id'))));
  });

  api.add({ method: 'patch', path: '/repos/{owner}/{repo}/releases/{release_id}', summary: 'Edit or publish a release', tag, access: 'repo', body: updateBody, responses: { 200: { description: 'The release', schema: releaseSchema } } }, async (c, { body }) => {
    const app = c.get('app');
    const access = await repoFromPath(c, 'write');
    const identity = requireIdentity(c);
    const release = await updateRelease(app, access, identity.user.id, idParam(c, 'release_id'), {
      tagName: body.tag_name,
      targetCommitish: body.target_commitish ?? undefined,
      name: body.name === null ? '' : body.name,
      body: body.body === null ? '' : body.body,
      draft: body.draft,
      prerelease: body.prerelease,
    });
    return c.json(releaseJson(app, access.repo, release));
  });

  api.add({ method: 'delete', path: '/repos/{owner}/{repo}/releases/{release_id}', summary: 'Delete a release and its assets (the tag stays)', tag, access: 'repo', responses: { 204: { description: 'Deleted' } } }, async (c) => {
    const access = await repoFromPath(c, 'write');
    const identity = requireIdentity(c);
    await deleteRelease(c.get('app'), access, identity.user.id, idParam(c, 'release_id'));
    return c.body(null, 204);
  });

  api.add({ method: 'get', path: '/repos/{owner}/{repo}/releases/{release_id}/assets', summary: "A release's assets", tag, access: 'public', query: paginationQuery, responses: { 200: { description: 'Assets' } } }, async (c, { query }) => {
    const app = c.get('app');
    const access = await repoFromPath(c);
    const release = await getRelease(app, access, idParam(c, 'release_id'));
    setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, release.assets.length);
    return c.json(release.assets.slice((query.page - 1) * query.per_page, query.page * query.per_page).map((a) => releaseAssetJson(app, access.repo, release, a)));
  });

  api.add(
    {
      method: 'post',
      path: '/repos/{owner}/{repo}/releases/{release_id}/assets',
      summary: 'Upload a release asset: the raw bytes as the body, ?name= and optional ?label= (streamed to disk; 413 above GITOKU_RELEASE_ASSET_MAX_BYTES)',
      tag,
      access: 'repo',
      query: uploadQuery,
      responses: { 201: { description: 'The asset' }, 413: { description: 'Larger than the limit', schema: errorSchema }, 422: { description: 'Bad or taken name', schema: errorSchema } },
    },
    async (c, { query }) => {
      const app = c.get('app');
      const access = await repoFromPath(c, 'write');
      const identity = requireIdentity(c);
      const releaseId = idParam(c, 'release_id');
      const lengthHeader = c.req.header('content-length');
      const declared = lengthHeader && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
      try {
        const asset = await uploadReleaseAsset(app, access, identity.user.id, releaseId, {
          name: query.name,
          label: query.label,
          contentType: c.req.header('content-type'),
          declaredLength: declared,
          body: uploadBody(c) ?? emptyBody(),
        });
        const release = await getRelease(app, access, releaseId);
        return c.json(releaseAssetJson(app, access.repo, release, asset), 201);
      } catch (err) {
        // Refused before (or while) reading: the rest of the body is not wanted, so the connection closes.
        if (err instanceof ServiceError && err.status === 413) return c.json({ message: err.message }, 413, { Connection: 'close' });
        throw err;
      }
    },
  );

  for (const [kind, format] of [
    ['zipball', 'zip'],
    ['tarball', 'tar.gz'],
  ] as const) {
    const handler = async (c: Context<WebEnv>) => {
      const access = await repoFromPath(c);
      return archiveResponse(c, access, await planArchive(access, c.req.param('ref') || access.repo.default_branch, format));
    };
    api.add({ method: 'get', path: `/repos/{owner}/{repo}/${kind}`, summary: `A ${format} archive of the default branch`, tag: 'repos', access: 'public', responses: { 200: { description: 'The archive' } } }, handler);
    api.add(
      { method: 'get', path: `/repos/{owner}/{repo}/${kind}/{ref+}`, summary: `A ${format} archive of a ref (branch, tag or commit)`, tag: 'repos', access: 'public', responses: { 200: { description: 'The archive' }, 404: { description: 'No such ref', schema: errorSchema } } },
      handler,
    );
  }
}

async function* emptyBody(): AsyncIterable<Uint8Array> {
  // no bytes
}
