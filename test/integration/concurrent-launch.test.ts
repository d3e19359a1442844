import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { createPushedRepo, scriptPrompt as script, type PushedRepo } from '../helpers/scriptedRuns.ts';

/**
 * Runs started at once on one repository: each launch inserts rows referencing the repository and
 * then records its new branch under the repository's lock. With FOR UPDATE as that lock, PostgreSQL
 * deadlocked on the key-share locks of the inserts (seen as 500s in the cluster benchmark).
 */
describe.each(testDialects())('concurrent run launches (%s)', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let repo: PushedRepo;

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    repo = await createPushedRepo(server, owner, 'busy', { 'README.md': '# Busy\n' });
  });

  afterAll(async () => {
    await repo?.work.remove();
    await server?.close();
  });

  it('24 runs started in parallel on one repository all start (no deadlock, no 500)', async () => {
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) => api(server, 'POST', `/repos/${owner.username}/busy/runs`, { token: owner.token, body: { prompt: script(`write f${i}.txt\n${i}\nend`), title: `Parallel ${i}` } })),
    );
    expect(results.filter((r) => r.status !== 201).map((r) => `${r.status} ${r.text}`)).toEqual([]);
    expect(new Set(results.map((r) => r.json.number)).size).toBe(24);
  });
});
