import { EventEmitter } from 'node:events';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Config } from '../config/index.ts';
import { type DatabaseHandle, type Db, openDatabase } from '../db/index.ts';
import type { Dialect } from '../db/migrationHelpers.ts';

/** Everything a service needs: configuration, the database and where repositories live. */
export interface AppContext {
  config: Config;
  db: Db;
  dialect: Dialect;
  reposDir: string;
  hooksDir: string;
  /** Instance secret (HMAC key for CSRF tokens); shared by all instances through the database. */
  secret: string;
  /** In-process signals: 'events' when graph_events rows were committed. */
  signals: EventEmitter;
  close(): Promise<void>;
}

/** post-receive hook: hands git's "<old> <new> <ref>" lines to the server through a file named per push. */
const POST_RECEIVE_HOOK = `#!/bin/sh
# Installed by gitoku: records accepted ref updates for the server's ref-change ingress.
[ -n "$GITOKU_PUSH_RESULT_FILE" ] || exit 0
cat > "$GITOKU_PUSH_RESULT_FILE"
`;

export async function createAppContext(config: Config): Promise<AppContext> {
  const reposDir = join(config.dataDir, 'repos');
  const hooksDir = join(config.dataDir, 'hooks');
  await mkdir(reposDir, { recursive: true });
  await mkdir(hooksDir, { recursive: true });
  const hook = join(hooksDir, 'post-receive');
  await writeFile(hook, POST_RECEIVE_HOOK);
  await chmod(hook, 0o755);

  const handle: DatabaseHandle = await openDatabase({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  const secret = await loadOrCreateSecret(handle.db);
  const signals = new EventEmitter();
  signals.setMaxListeners(100);
  return {
    config,
    db: handle.db,
    dialect: handle.dialect,
    reposDir,
    hooksDir,
    secret,
    signals,
    close: () => handle.close(),
  };
}

async function loadOrCreateSecret(db: Db): Promise<string> {
  await db
    .insertInto('instance_settings')
    .values({ key: 'secret', value: randomBytes(32).toString('hex') })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const row = await db.selectFrom('instance_settings').select('value').where('key', '=', 'secret').executeTakeFirstOrThrow();
  return row.value;
}

export function now(): string {
  return new Date().toISOString();
}
