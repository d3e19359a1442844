import { sql, type Kysely } from 'kysely';
import { type Dialect, idColumn, idConstraints, timestamp } from '../migrationHelpers.ts';

/**
 * Releases on tags (GitHub's shape) and their uploaded assets. A tag carries at most one published
 * release (a partial unique index: drafts may share a tag until one is published); an asset's name is
 * unique within its release. Asset bytes live on disk under the data directory (storage_path, relative).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('releases')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('tag_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('target_commitish', 'varchar(255)', (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('body', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('draft', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('prerelease', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('author_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('updated_at', timestamp, (c) => c.notNull())
    .addColumn('published_at', timestamp)
    .execute();
  await db.schema.createIndex('releases_repository').on('releases').columns(['repository_id', 'created_at']).execute();
  await db.schema
    .createIndex('releases_published_tag')
    .on('releases')
    .columns(['repository_id', 'tag_name'])
    .unique()
    .where(sql.ref('draft'), '=', 0)
    .execute();

  await db.schema
    .createTable('release_assets')
    .addColumn('id', idColumn(dialect), idConstraints(dialect))
    .addColumn('release_id', 'integer', (c) => c.notNull().references('releases.id').onDelete('cascade'))
    .addColumn('repository_id', 'integer', (c) => c.notNull().references('repositories.id').onDelete('cascade'))
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('label', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('content_type', 'varchar(255)', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('download_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('storage_path', 'varchar(512)', (c) => c.notNull())
    .addColumn('uploader_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    // 'starter' while the bytes stream in, 'uploaded' once they are all on disk (GitHub's states).
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('created_at', timestamp, (c) => c.notNull())
    .addColumn('updated_at', timestamp, (c) => c.notNull())
    .addUniqueConstraint('release_assets_name', ['release_id', 'name'])
    .execute();
}
