import type { ApiRegistry } from './registry.ts';
import { viewerOf } from './guards.ts';
import { errorSchema } from './shapes.ts';
import { canAdministerSite } from '../../../domain/permissions.ts';
import { processStats } from '../../../services/processStats.ts';

/**
 * `GET /admin/stats` (issue 19): the answering process's memory and its bounded caches. Site
 * administrators only (with the admin scope on a token): the registry refuses other tokens as on
 * every admin route, and a non-administrator with the admin scope gets 404 — nothing about the server.
 */
export function registerAdminStatsRoutes(api: ApiRegistry): void {
  api.add(
    {
      method: 'get',
      path: '/admin/stats',
      summary: "This server process's memory (RSS, heap) and bounded caches (entries, weight, hits, misses)",
      tag: 'admin',
      access: 'admin',
      responses: { 200: { description: 'Process statistics' }, 404: { description: 'Not a site administrator', schema: errorSchema } },
    },
    async (c) => {
      if (!canAdministerSite(viewerOf(c))) return c.json({ message: 'Not Found' }, 404);
      c.header('Cache-Control', 'no-store');
      return c.json(processStats());
    },
  );
}
