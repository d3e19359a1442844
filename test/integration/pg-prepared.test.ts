import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type DatabaseHandle } from '../../src/db/index.ts';
import { prepared } from '../../src/db/pgPrepared.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.ts';

// Statements marked `prepared` go to PostgreSQL by name: parsed once per connection, then executed.
describe.skipIf(!process.env.GITOKU_TEST_DATABASE_URL)('prepared statements on PostgreSQL', () => {
  let database: TestDatabase;
  let handle: DatabaseHandle;
  const dataDir = mkdtempSync(join(tmpdir(), 'gitoku-pg-prepared-'));

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    handle = await openDatabase({ dataDir, databaseUrl: database.url });
  });
  afterAll(async () => {
    await handle?.close();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('prepares a marked statement once per connection and runs it with any values', async () => {
    await handle.db.connection().execute(async (conn) => {
      const statement = (ids: number[]) => prepared(sql<{ n: number }>`select n from generate_series(1, 10) as g(n) where n = any(${ids}) order by n`);
      expect((await statement([2, 3]).execute(conn)).rows.map((r) => r.n)).toEqual([2, 3]);
      expect((await statement([9]).execute(conn)).rows.map((r) => r.n)).toEqual([9]);
      expect((await statement([]).execute(conn)).rows).toEqual([]);
      const named = await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(conn);
      // One statement, prepared once, although it ran three times with different values.
      expect(named.rows).toHaveLength(1);
      expect(named.rows[0]!.name).toMatch(/^g_[0-9a-f]{24}$/);
      expect(named.rows[0]!.statement).toContain('generate_series');
      // Unmarked statements stay unnamed.
      await sql`select 1`.execute(conn);
      expect((await sql<{ c: number }>`select count(*)::int as c from pg_prepared_statements`.execute(conn)).rows[0]!.c).toBe(1);
    });
  });

  it('keeps a connection usable after a marked statement fails', async () => {
    await handle.db.connection().execute(async (conn) => {
      const bad = prepared(sql`select 1 / ${0}::int as x`);
      await expect(bad.execute(conn)).rejects.toThrow(/division by zero/);
      await expect(bad.execute(conn)).rejects.toThrow(/division by zero/);
      expect((await prepared(sql<{ x: number }>`select ${2}::int as x`).execute(conn)).rows[0]!.x).toBe(2);
    });
  });
});
