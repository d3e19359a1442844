import type { AppContext } from '../app.ts';
import type { RepositoryWithOwner } from '../repositories.ts';
import type { AssetRecord, ReleaseRecord } from '../releases.ts';
import { iso } from './common.ts';
import { simpleUserJson } from './users.ts';

export const encodeRef = (ref: string) => ref.split('/').map(encodeURIComponent).join('/');

export function bases(app: AppContext, repo: RepositoryWithOwner) {
  const full = `${encodeURIComponent(repo.owner_name)}/${encodeURIComponent(repo.name)}`;
  return { api: `${app.config.baseUrl}/api/v1/repos/${full}`, html: `${app.config.baseUrl}/${full}` };
}

export function releaseAssetJson(app: AppContext, repo: RepositoryWithOwner, release: Pick<ReleaseRecord, 'tag_name'>, a: AssetRecord) {
  const b = bases(app, repo);
  return {
    url: `${b.api}/releases/assets/${a.id}`,
    browser_download_url: `${b.html}/releases/download/${encodeRef(release.tag_name)}/${encodeURIComponent(a.name)}`,
    id: a.id,
    node_id: Buffer.from(`ReleaseAsset:${a.id}`).toString('base64'),
    name: a.name,
    label: a.label,
    state: a.state,
    content_type: a.content_type,
    size: a.size,
    download_count: a.download_count,
    created_at: iso(a.created_at),
    updated_at: iso(a.updated_at),
    uploader: a.uploader ? simpleUserJson(app, a.uploader) : null,
  };
}

export function releaseJson(app: AppContext, repo: RepositoryWithOwner, r: ReleaseRecord) {
  const b = bases(app, repo);
  const tag = encodeRef(r.tag_name);
  return {
    url: `${b.api}/releases/${r.id}`,
    html_url: `${b.html}/releases/tag/${tag}`,
    assets_url: `${b.api}/releases/${r.id}/assets`,
    upload_url: `${b.api}/releases/${r.id}/assets{?name,label}`,
    tarball_url: r.draft ? null : `${b.api}/tarball/${tag}`,
    zipball_url: r.draft ? null : `${b.api}/zipball/${tag}`,
    id: r.id,
    node_id: Buffer.from(`Release:${r.id}`).toString('base64'),
    tag_name: r.tag_name,
    target_commitish: r.target_commitish,
    name: r.name || null,
    body: r.body || null,
    draft: r.draft === 1,
    prerelease: r.prerelease === 1,
    created_at: iso(r.created_at),
    published_at: iso(r.published_at),
    author: r.author ? simpleUserJson(app, r.author) : null,
    assets: r.assets.map((a) => releaseAssetJson(app, repo, r, a)),
  };
}
