import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { gitOk } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { createPushedRepo, waitFor, type PushedRepo } from '../helpers/scriptedRuns.ts';
import { recordMemoryEntry } from '../../src/services/memory.ts';
import { retrieveMemory } from '../../src/services/memoryRetrieval.ts';
import { maintainMemoryIndex, MEMORY_INDEX_JOB_KIND } from '../../src/services/memoryIndex.ts';
import { repositoryGitDir } from '../../src/services/storage.ts';
import { wakeClaimers } from '../../src/services/jobs.ts';

/**
 * Memory's full-text index upkeep (services/memoryIndex.ts): writes schedule one debounced server job;
 * a pass merges SQLite's FTS5 segments (ANALYZE on PostgreSQL) without changing what retrieval answers,
 * and a second pass finds nothing left to do.
 */

process.env.GITOKU_MEMORY_INDEX_DELAY_MS = '0';

describe.each(testDialects())('memory index upkeep on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let repo: PushedRepo;

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    repo = await createPushedRepo(server, owner, 'idx', { 'lib/x.js': 'module.exports = 1;\n' });
  });

  afterAll(async () => {
    await repo?.work.remove();
    await server?.close();
  });

  it('merges the index after many writes without changing what retrieval gives', async () => {
    const repoRow = await server.app.db.selectFrom('repositories').selectAll().where('lower_name', '=', 'idx').executeTakeFirstOrThrow();
    const at = new Date().toISOString();
    // Each entry in its own transaction: on SQLite one FTS5 segment each (automerge folds some of them).
    // The pass these writes schedule waits (a long delay) so that the one below finds the work to do.
    process.env.GITOKU_MEMORY_INDEX_DELAY_MS = '600000';
    try {
      for (let i = 0; i < 40; i++) {
        await recordMemoryEntry(server.app.db, repoRow.id, { kind: 'claim', subject: `tokenizer rule ${i}`, fact: `the tokenizer ${i % 2 ? 'keeps' : 'drops'} quoted separators in case ${i}`, source: { type: 'person', id: owner.id, label: owner.username } }, at);
      }
    } finally {
      process.env.GITOKU_MEMORY_INDEX_DELAY_MS = '0';
    }
    const head = (await gitOk(repo.work.path, ['rev-parse', 'HEAD'])).trim();
    const q = { repositoryId: repoRow.id, agentKey: null, task: 'Fix the tokenizer quoted separators', commit: head, paths: [] };
    const gitDir = repositoryGitDir(server.app, repoRow);
    const before = await retrieveMemory(server.app.db, server.app.dialect, gitDir, q, 4000, at);
    expect(before.entries.length).toBeGreaterThan(10);

    const pass = await maintainMemoryIndex(server.app.db, server.app.dialect);
    expect(pass.complete).toBe(true);
    if (dialect === 'sqlite') expect(pass.steps).toBeGreaterThan(1);
    const after = await retrieveMemory(server.app.db, server.app.dialect, gitDir, q, 4000, at);
    expect(after.entries.map((e) => e.entry.id)).toEqual(before.entries.map((e) => e.entry.id));
    const withoutNonce = (section: string | null) => section?.replace(/id="[0-9a-f]+"/g, 'id=""');
    expect(withoutNonce(after.section)).toEqual(withoutNonce(before.section));

    // Nothing left to merge: one step that does nothing.
    const again = await maintainMemoryIndex(server.app.db, server.app.dialect);
    expect(again).toMatchObject({ steps: 1, complete: true });
    // The scheduled pass, made due, finds nothing left either.
    await server.app.db.updateTable('jobs').set({ run_after: new Date().toISOString() }).where('kind', '=', MEMORY_INDEX_JOB_KIND).where('status', '=', 'queued').execute();
    await wakeClaimers(server.app);
    await waitFor(async () => !(await server.app.db.selectFrom('jobs').select('id').where('kind', '=', MEMORY_INDEX_JOB_KIND).where('status', 'in', ['queued', 'running']).executeTakeFirst()), 30_000);
  });

  it('schedules one pass for writes in a burst, and the server runs it', async () => {
    const jobs = () => server.app.db.selectFrom('jobs').select(['id', 'status', 'result']).where('kind', '=', MEMORY_INDEX_JOB_KIND).orderBy('id').execute();
    await waitFor(async () => (await jobs()).every((j) => j.status === 'succeeded'), 30_000);
    const known = (await jobs()).length;
    process.env.GITOKU_MEMORY_INDEX_DELAY_MS = '600000';
    try {
      for (const i of [1, 2, 3]) {
        const r = await api(server, 'POST', `/repos/${owner.username}/idx/memory`, { token: owner.token, body: { kind: 'decision', subject: `burst ${i}`, fact: `decided ${i}` } });
        expect(r.status, r.text).toBe(201);
      }
    } finally {
      process.env.GITOKU_MEMORY_INDEX_DELAY_MS = '0';
    }
    // The pass waiting for its turn covers every write after it.
    const added = (await jobs()).slice(known);
    expect(added.map((j) => j.status)).toEqual(['queued']);
    // Its turn comes: the server's job worker runs it.
    await server.app.db.updateTable('jobs').set({ run_after: new Date().toISOString() }).where('id', '=', added[0]!.id).execute();
    await wakeClaimers(server.app);
    const done = await waitFor(async () => (await jobs()).find((j) => j.id === added[0]!.id && j.status === 'succeeded'), 30_000);
    expect(JSON.parse(done.result!)).toMatchObject({ complete: true });
  });
});
