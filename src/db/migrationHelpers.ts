import type { ColumnDefinitionBuilder } from "kysely";

export type Dialect = 'sqlite' | 'postgres';

/** Auto-incrementing integer primary key type: SQLite's rowid alias or PostgreSQL's serial. */
export function idColumn(dialect: Dialect): 'integer' | 'serial' {
  return dialect === 'sqlite' ? 'integer' : 'serial';
}

/** Timestamps are stored as ISO-8601 UTC text in both dialects so comparisons and ordering agree. */
export const timestamp = 'varchar(32)';

/** Primary-key constraints for an id column (SQLite needs AUTOINCREMENT so ids are never reused). */
export function idConstraints(dialect: Dialect) {
  return (c: ColumnDefinitionBuilder) => (dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey());
}
