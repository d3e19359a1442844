import type SqliteDatabase from 'better-sqlite3';
import type { SqliteDatabase as KyselySqliteDatabase } from 'kysely';

/** Distinct SQL texts kept prepared (queries with `in (?, ?, …)` lists make one text per list length). */
const MAX_STATEMENTS = 500;

/**
 * The connection Kysely's SQLite dialect uses, with its prepared statements kept by SQL text. Kysely
 * prepares every query anew, and for the small indexed lookups of a page (repository, counts, statuses)
 * preparing costs more than running. A statement is reused only when it is not in use: one still being
 * iterated (a streamed query) is busy, and the query gets a fresh statement instead. SQLite re-prepares a
 * kept statement itself after a schema change.
 */
export function withStatementCache(sqlite: SqliteDatabase.Database, max = MAX_STATEMENTS): KyselySqliteDatabase {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => {
      statements.clear();
      sqlite.close();
    },
    prepare(sql: string) {
      const kept = statements.get(sql);
      if (kept && !kept.busy) {
        // Most recently used last: the first key is the one to drop.
        statements.delete(sql);
        statements.set(sql, kept);
        return kept;
      }
      const statement = sqlite.prepare(sql);
      if (!kept) {
        statements.set(sql, statement);
        if (statements.size > max) statements.delete(statements.keys().next().value!);
      }
      return statement;
    },
  };
}
