/**
 * Issue 19, goal 7: GET /api/v1/admin/stats — the process's memory and its bounded caches, for site
 * administrators (a token with the admin scope) only; everyone else is refused like on every admin route.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDialects } from '../helpers/databases.ts';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { createPushedRepo } from '../helpers/scriptedRuns.ts';

describe.each(testDialects())('admin stats API (%s)', (dialect) => {
  let server: TestServer;
  let admin: TestUser;
  let removeWork: (() => Promise<void>) | null = null;

  beforeAll(async () => {
    server = await startTestServer(dialect);
    admin = await createTestUser(server, { username: 'root', admin: true, scopes: ['repo', 'admin'] });
    const pushed = await createPushedRepo(server, admin, 'stats', { 'README.md': '# stats\n', 'src/a.txt': 'a\n' });
    removeWork = () => pushed.work.remove();
  });

  afterAll(async () => {
    await removeWork?.();
    await server?.close();
  });

  it('reports RSS, heap and every registered cache, with hits counted as pages are served', async () => {
    for (let i = 0; i < 3; i++) expect((await fetch(`${server.url}/root/stats/blob/main/src/a.txt`, { headers: { Authorization: `Bearer ${admin.token}` } })).status).toBe(200);
    const res = await api(server, 'GET', '/admin/stats', { token: admin.token });
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const stats = res.json;
    expect(stats.pid).toBe(process.pid);
    expect(stats.worker).toBeNull();
    expect(stats.memory.rss_bytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(stats.memory.heap_used_bytes).toBeGreaterThan(0);
    expect(stats.memory.heap_used_bytes).toBeLessThanOrEqual(stats.memory.heap_total_bytes);
    const caches = stats.caches as Record<string, { entries: number; maxEntries: number; hits: number; misses: number }>;
    expect(Object.keys(caches).length).toBeGreaterThan(0);
    // The ref map of the repository was loaded once and then hit by the next pages.
    expect(caches['git.refMaps']!.entries).toBeGreaterThanOrEqual(1);
    expect(caches['git.refMaps']!.hits).toBeGreaterThanOrEqual(1);
    for (const [name, c] of Object.entries(caches)) {
      expect(c.entries, name).toBeLessThanOrEqual(c.maxEntries);
      expect(c.hits, name).toBeGreaterThanOrEqual(0);
      expect(c.misses, name).toBeGreaterThanOrEqual(0);
    }
  });

  it('is refused to anonymous callers (401), to users who are not site administrators and to an admin token without the admin scope (403 or 404), like every admin route', async () => {
    const user = await createTestUser(server, { username: 'plain', scopes: ['repo', 'admin'] });
    const adminRepoOnly = await createTestUser(server, { username: 'root2', admin: true, scopes: ['repo'] });
    for (const token of [undefined, user.token, adminRepoOnly.token, 'gto_not-a-real-token']) {
      const res = await api(server, 'GET', '/admin/stats', { token });
      expect([401, 403, 404], `${token}: ${res.status} ${res.text}`).toContain(res.status);
      if (token === undefined) expect(res.status).toBe(401);
      expect(res.text).not.toContain('rss');
    }
  });
});
