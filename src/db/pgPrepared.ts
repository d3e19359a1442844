import { createHash } from 'node:crypto';
import type { PostgresPool, PostgresPoolClient } from 'kysely';
import { sql, type RawBuilder } from 'kysely';
import type { Dialect } from './migrationHelpers.ts';

/**
 * Named prepared statements for PostgreSQL's hot statements. Kysely sends every statement unnamed, so
 * PostgreSQL parses and analyzes its text on each execution; a statement whose text starts with
 * PREPARED_MARK is sent by name instead (the name is a digest of the text), parsed once per connection
 * and executed from then on. Only statements whose text takes a bounded number of forms may carry the
 * mark: each form stays prepared on every connection of the pool for the connection's life.
 * SQLite needs none of this (db/sqliteStatements.ts keeps every statement prepared).
 */
export const PREPARED_MARK = '/* prepared */ ';

/** The statement, marked to be prepared by name on PostgreSQL (the mark is a comment: SQLite ignores it, and keeps every statement prepared anyway). */
export function prepared<T>(statement: RawBuilder<T>): RawBuilder<T> {
  return sql<T>`${sql.raw(PREPARED_MARK)}${statement}`;
}

/**
 * `column` is one of `values`: on PostgreSQL one array parameter, so the statement's text is the same
 * for any number of values (it can be prepared by name); on SQLite a list (SQLite has no arrays).
 */
export function oneOf(dialect: Dialect, column: string, values: readonly unknown[]): RawBuilder<unknown> {
  return dialect === 'postgres' ? sql`${sql.ref(column)} = any(${[...values]})` : sql`${sql.ref(column)} in (${sql.join([...values])})`;
}

/** `column` is none of `values` (see oneOf); true for an empty list. */
export function noneOf(dialect: Dialect, column: string, values: readonly unknown[]): RawBuilder<unknown> {
  return dialect === 'postgres' ? sql`${sql.ref(column)} <> all(${[...values]})` : sql`${sql.ref(column)} not in (${sql.join([...values])})`;
}

function statementName(text: string): string {
  return `g_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
}

/** The pool as Kysely's PostgresDialect sees it: marked statements go out named, everything else unchanged. */
export function preparingPool(pool: PostgresPool): PostgresPool {
  return {
    end: () => pool.end(),
    async connect(): Promise<PostgresPoolClient> {
      const client = await pool.connect();
      const query = ((text: unknown, parameters?: ReadonlyArray<unknown>) => {
        if (typeof text === 'string' && text.startsWith(PREPARED_MARK)) {
          return (client as unknown as { query(config: object): unknown }).query({ name: statementName(text), text, values: parameters });
        }
        return (client.query as (a: unknown, b?: unknown) => unknown).call(client, text, parameters);
      }) as PostgresPoolClient['query'];
      return { query, release: (destroy?: boolean) => client.release(destroy) };
    },
  };
}
