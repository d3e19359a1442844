import { randomBytes } from 'node:crypto';
import pg from 'pg';

export type TestDialect = 'sqlite' | 'postgres';

/** The databases every database-touching test runs on: SQLite always, PostgreSQL when GITOKU_TEST_DATABASE_URL is set. */
export function testDialects(): TestDialect[] {
  return process.env.GITOKU_TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
}

export interface TestDatabase {
  /** null for SQLite (the data directory holds it). */
  url: string | null;
  drop(): Promise<void>;
}

/** A fresh, empty database: for PostgreSQL a new database on the test server, dropped afterwards. */
export async function createTestDatabase(dialect: TestDialect): Promise<TestDatabase> {
  if (dialect === 'sqlite') return { url: null, drop: async () => {} };
  const adminUrl = process.env.GITOKU_TEST_DATABASE_URL;
  if (!adminUrl) throw new Error('GITOKU_TEST_DATABASE_URL is not set');
  const name = `gitoku_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
