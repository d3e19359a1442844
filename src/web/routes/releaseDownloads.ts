import type { Context } from 'hono';
import type { WebEnv } from '../context.ts';
import type { AssetRecord } from '../../services/releases.ts';
import { openReleaseAssetDownload, servedContentType } from '../../services/releaseAssets.ts';
import { attachmentDisposition } from '../../services/archives.ts';

/**
 * A release asset's bytes as the response: always an attachment, with its stored type only when that
 * type cannot render on this origin (else application/octet-stream), nosniff and a sandboxing CSP.
 * Each GET counts one download; HEAD counts none.
 */
export async function assetDownloadResponse(c: Context<WebEnv>, asset: AssetRecord): Promise<Response> {
  const headers: Record<string, string> = {
    'Content-Type': servedContentType(asset.content_type),
    'Content-Disposition': attachmentDisposition(asset.name),
    'Content-Length': String(asset.size),
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; sandbox",
    'Cache-Control': 'private, no-cache',
    ETag: `"asset-${asset.id}-${asset.size}-${Date.parse(asset.updated_at) || 0}"`,
  };
  if (c.req.method === 'HEAD') return c.body(null, 200, headers);
  return c.body(await openReleaseAssetDownload(c.get('app'), asset), 200, headers);
}
