import { describe, expect, it } from 'vitest';
import SqliteDatabase from 'better-sqlite3';
import { type Generated, Kysely, SqliteDialect, sql } from 'kysely';
import { withStatementCache } from '../../src/db/sqliteStatements.ts';

interface Db {
  items: { id: Generated<number>; name: string };
}

function open() {
  const sqlite = new SqliteDatabase(':memory:');
  sqlite.exec('create table items (id integer primary key, name text not null)');
  return sqlite;
}

describe('SQLite statement cache', () => {
  it('prepares a query once and reuses it, with each call its own parameters', () => {
    const sqlite = open();
    const db = withStatementCache(sqlite);
    const insert = db.prepare('insert into items (name) values (?)');
    expect(db.prepare('insert into items (name) values (?)')).toBe(insert);
    insert.run(['a']);
    db.prepare('insert into items (name) values (?)').run(['b']);
    const select = db.prepare('select name from items where id = ?');
    expect(select.all([1])).toEqual([{ name: 'a' }]);
    expect(db.prepare('select name from items where id = ?').all([2])).toEqual([{ name: 'b' }]);
    db.close();
    expect(sqlite.open).toBe(false);
  });

  it('gives a fresh statement while the kept one is still being iterated', () => {
    const sqlite = open();
    sqlite.exec("insert into items (name) values ('a'), ('b'), ('c')");
    const db = withStatementCache(sqlite);
    const text = 'select name from items order by id';
    const outer = db.prepare(text).iterate([]);
    const names: string[] = [];
    for (const row of outer as Iterable<{ name: string }>) {
      // The kept statement is busy here: reusing it would throw "This statement is busy executing a query".
      names.push(`${row.name}:${(db.prepare(text).all([]) as { name: string }[]).length}`);
    }
    expect(names).toEqual(['a:3', 'b:3', 'c:3']);
    sqlite.close();
  });

  it('keeps at most `max` statements, dropping the least recently used', () => {
    const sqlite = open();
    const db = withStatementCache(sqlite, 2);
    const a = db.prepare('select 1');
    const b = db.prepare('select 2');
    expect(db.prepare('select 1')).toBe(a);
    db.prepare('select 3'); // over the bound: "select 2" (least recently used) goes
    expect(db.prepare('select 1')).toBe(a);
    expect(db.prepare('select 2')).not.toBe(b);
    sqlite.close();
  });

  it('serves Kysely queries, transactions and schema changes as before', async () => {
    const sqlite = open();
    const db = new Kysely<Db>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
    for (const name of ['x', 'y']) await db.insertInto('items').values({ name }).execute();
    await db.transaction().execute(async (tx) => {
      await tx.insertInto('items').values({ name: 'z' }).execute();
    });
    const count = () => db.selectFrom('items').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number((await count()).n)).toBe(3);
    // A kept statement is re-prepared by SQLite after the schema changes under it.
    await sql`alter table items add column extra text`.execute(db);
    await db.insertInto('items').values({ name: 'w' }).execute();
    expect(Number((await count()).n)).toBe(4);
    expect(await db.selectFrom('items').selectAll().where('name', '=', 'w').execute()).toEqual([{ id: 4, name: 'w', extra: null }]);
    await db.destroy();
  });
});
