import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Context } from 'hono';
import type { WebEnv } from '../../context.ts';

/** Static assets (CSS, JS, icons) under /-/static/, loaded once at start-up: there is no build step. */
const STATIC_DIR = fileURLToPath(new URL('../../static/', import.meta.url));

const TYPES: Record<string, string> = {
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  txt: 'text/plain; charset=utf-8',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function loadAssets(): { assets: Map<string, Asset>; version: string } {
  const assets = new Map<string, Asset>();
  const all = createHash('sha256');
  for (const name of readdirSync(STATIC_DIR).sort()) {
    const ext = name.slice(name.lastIndexOf('.') + 1);
    const type = TYPES[ext];
    if (!type || !/^[a-z0-9][a-z0-9._-]*$/.test(name)) continue;
    const body = readFileSync(STATIC_DIR + name);
    const hash = createHash('sha256').update(body).digest('hex');
    all.update(name).update(hash);
    assets.set(name, { body, type, etag: `"${hash.slice(0, 16)}"` });
  }
  return { assets, version: all.digest('hex').slice(0, 10) };
}

const loaded = loadAssets();

/** Appended as ?v= to asset URLs: a release with changed assets gets new URLs, so they can be cached for long. */
export const ASSET_VERSION = loaded.version;

export function serveStatic(c: Context<WebEnv>): Response {
  const asset = loaded.assets.get(c.req.param('file') ?? '');
  if (!asset) return c.text('Not Found', 404);
  const immutable = c.req.query('v') === ASSET_VERSION;
  const headers: Record<string, string> = {
    'Content-Type': asset.type,
    'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'public, max-age=3600',
    ETag: asset.etag,
    'X-Content-Type-Options': 'nosniff',
  };
  if (c.req.header('if-none-match') === asset.etag) return c.body(null, 304, headers);
  return c.body(new Uint8Array(asset.body), 200, headers);
}
