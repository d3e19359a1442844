import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { openDatabase } from '../../src/db/index.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { createTestDatabase, testDialects, type TestDatabase } from '../helpers/databases.ts';
import { runCli } from '../helpers/cli.ts';

const CORE_TABLES = ['access_tokens', 'behavior_runs', 'collaborators', 'graph_edges', 'graph_events', 'graph_nodes', 'instance_settings', 'repositories', 'sessions', 'users'];

describe.each(testDialects())('migrations (%s)', (dialect) => {
  let dataDir: string;
  let database: TestDatabase;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gitoku-migrations-'));
    database = await createTestDatabase(dialect);
  });

  afterAll(async () => {
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('run on an empty database, then again as a no-op, keeping the data', async () => {
    const first = await openDatabase({ dataDir, databaseUrl: database.url });
    expect(first.dialect).toBe(dialect);
    const tables = (await first.db.introspection.getTables()).map((t) => t.name);
    expect(tables).toEqual(expect.arrayContaining([...CORE_TABLES, 'gitoku_migrations']));
    const applied = await first.db.selectFrom('gitoku_migrations' as 'users').select('name' as 'username').execute();
    expect(applied.length).toBeGreaterThan(0);
    await first.db
      .insertInto('users')
      .values({ username: 'kept', lower_name: 'kept', email: 'k@example.com', full_name: '', password_hash: 'x', is_admin: 0, created_at: 'now', updated_at: 'now' })
      .execute();

    // Again, in the same process (the migrator sees everything applied)…
    await migrateToLatest(first.db as unknown as Kysely<unknown>, first.dialect);
    await first.close();
    // …and through a fresh connection, as a restarted server would.
    const second = await openDatabase({ dataDir, databaseUrl: database.url });
    const appliedAgain = await second.db.selectFrom('gitoku_migrations' as 'users').select('name' as 'username').execute();
    expect(appliedAgain).toEqual(applied);
    expect(await second.db.selectFrom('users').select('username').execute()).toEqual([{ username: 'kept' }]);
    await second.close();
  });

  // PostgreSQL: Kysely's migrator holds an advisory lock; SQLite: openDatabase holds the write lock.
  it('run concurrently from two connections in one process without failing', async () => {
    const other = await createTestDatabase(dialect);
    const dir = await mkdtemp(join(tmpdir(), 'gitoku-migrations-'));
    try {
      const handles = await Promise.all([openDatabase({ dataDir: dir, databaseUrl: other.url }), openDatabase({ dataDir: dir, databaseUrl: other.url })]);
      for (const h of handles) expect((await h.db.introspection.getTables()).map((t) => t.name)).toEqual(expect.arrayContaining(CORE_TABLES));
      await Promise.all(handles.map((h) => h.close()));
    } finally {
      await other.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('run concurrently from three processes starting on one fresh database', async () => {
    const other = await createTestDatabase(dialect);
    const dir = await mkdtemp(join(tmpdir(), 'gitoku-migrations-'));
    try {
      const env: Record<string, string> = { GITOKU_DATA_DIR: dir, ...(other.url ? { GITOKU_DATABASE_URL: other.url } : {}) };
      const runs = await Promise.all([1, 2, 3].map(() => runCli(['graph', 'backfill', '--json'], env)));
      for (const r of runs) expect(r.code, r.stderr).toBe(0);
      const handle = await openDatabase({ dataDir: dir, databaseUrl: other.url });
      const applied = await handle.db.selectFrom('gitoku_migrations' as 'users').select('name' as 'username').execute();
      // Each migration applied once.
      expect(new Set(applied.map((r) => JSON.stringify(r))).size).toBe(applied.length);
      expect(applied.length).toBeGreaterThanOrEqual(8);
      await handle.close();
    } finally {
      await other.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
