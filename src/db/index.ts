import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type Transaction } from 'kysely';
import type { Database } from './schema.ts';
import type { Dialect } from './migrationHelpers.ts';
import { migrateToLatest } from './migrate.ts';
import { withStatementCache } from './sqliteStatements.ts';
import { preparingPool } from './pgPrepared.ts';

export type Db = Kysely<Database>;
export type DbOrTx = Kysely<Database> | Transaction<Database>;

export interface DatabaseHandle {
  db: Db;
  dialect: Dialect;
  /** Connection string for PostgreSQL (LISTEN/NOTIFY needs its own client); null on SQLite. */
  url: string | null;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  dataDir: string;
  databaseUrl: string | null;
  migrate?: boolean;
}

/** Opens SQLite in the data directory, or PostgreSQL when a URL is given, and runs pending migrations. */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<DatabaseHandle> {
  let handle: DatabaseHandle;
  let sqliteConnection: SqliteDatabase.Database | null = null;
  if (opts.databaseUrl) {
    // Keep int8 (count(*), bigserial) as JS numbers: ids and counts stay far below 2^53.
    // Loaded only for PostgreSQL (~150 ms of imports a SQLite server never needs).
    const { default: pg } = await import('pg');
    pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 10 });
    // An idle connection that PostgreSQL terminates (restart, pg_terminate_backend, a closing pool's
    // connections being cut) emits 'error' on the pool; without a listener that crashes the process.
    pool.on('error', (err) => console.error(`PostgreSQL connection lost: ${err.message}`));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: preparingPool(pool) }) });
    handle = { db, dialect: 'postgres', url: opts.databaseUrl, close: () => db.destroy() };
  } else {
    mkdirSync(opts.dataDir, { recursive: true });
    const sqlite = new SqliteDatabase(join(opts.dataDir, 'gitoku.db'));
    sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('synchronous = NORMAL');
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
    handle = { db, dialect: 'sqlite', url: null, close: () => db.destroy() };
    sqliteConnection = sqlite;
  }
  if (opts.migrate !== false) {
    try {
      const migrate = () => migrateToLatest(handle.db as unknown as Kysely<unknown>, handle.dialect);
      // PostgreSQL: Kysely's migrator holds an advisory lock. SQLite: Kysely takes none, so hold the write lock.
      await (sqliteConnection ? withSqliteWriteLock(sqliteConnection, migrate) : migrate());
    } catch (err) {
      await handle.close();
      throw err;
    }
  }
  return handle;
}

const SQLITE_BUSY_TIMEOUT_MS = 5000;
const MIGRATION_LOCK_WAIT_MS = 120_000;

/**
 * Runs `fn` holding SQLite's write lock (BEGIN IMMEDIATE on the connection `fn` uses), so processes
 * — or handles in one process — migrating a fresh data directory at once take turns; the later ones
 * then find the migrations applied. better-sqlite3 is synchronous: waiting in its busy handler would
 * stall this thread, and with it a holder in the same process, so the lock is polled without one.
 */
export async function withSqliteWriteLock<T>(sqlite: SqliteDatabase.Database, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + MIGRATION_LOCK_WAIT_MS;
  sqlite.pragma('busy_timeout = 0');
  try {
    for (;;) {
      try {
        sqlite.exec('BEGIN IMMEDIATE');
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  } finally {
    sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  }
  try {
    const result = await fn();
    sqlite.exec('COMMIT');
    return result;
  } catch (err) {
    if (sqlite.inTransaction) sqlite.exec('ROLLBACK');
    throw err;
  }
}
