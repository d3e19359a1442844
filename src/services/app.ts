import { EventEmitter } from 'node:events';
import { chmod, lstat, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type pg from 'pg';
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
  /** True once close() began: long-running requests stop instead of touching a closing database. */
  isClosing(): boolean;
  close(): Promise<void>;
}

/** post-receive hook: hands git's "<old> <new> <ref>" lines to the server through a file named per push. */
const POST_RECEIVE_HOOK = `#!/bin/sh
# Installed by gitoku: records accepted ref updates for the server's ref-change ingress.
[ -n "$GITOKU_PUSH_RESULT_FILE" ] || exit 0
cat > "$GITOKU_PUSH_RESULT_FILE"
`;

/**
 * pre-receive hook. A push made with a job token may update only the run's compare branch and, when
 * GITOKU_ALLOWED_REF_PREFIX is set, refs named exactly that prefix followed by a step number (the run's
 * checkpoint refs) — a strict, literal prefix check. Then branch protection: GITOKU_PROTECTION_FILE holds
 * what the server decided for this push's protected refs (services/branchProtection.ts pushPolicy), one
 * `<kind> <ref|*> <message>` line each: `deny` refuses the update, `noforce` refuses it unless it is a
 * fast-forward (only here can that be told: the pushed objects are in the hook's quarantine).
 */
const PRE_RECEIVE_HOOK = `#!/bin/sh
# Installed by gitoku: restricts pushes made with an agent job's token to its refs, and enforces branch protection.
[ -n "$GITOKU_ALLOWED_REF" ] || [ -n "$GITOKU_PROTECTION_FILE" ] || exit 0
zero=0000000000000000000000000000000000000000
status=0
while read old new ref; do
  if [ -n "$GITOKU_ALLOWED_REF" ] && [ "$ref" != "$GITOKU_ALLOWED_REF" ]; then
    allowed=0
    if [ -n "$GITOKU_ALLOWED_REF_PREFIX" ]; then
      case "$ref" in
        "$GITOKU_ALLOWED_REF_PREFIX"*)
          step="\${ref#"$GITOKU_ALLOWED_REF_PREFIX"}"
          case "$step" in
            ''|*[!0-9]*) ;;
            *) allowed=1 ;;
          esac
          ;;
      esac
    fi
    if [ "$allowed" = 0 ]; then
      echo "gitoku: this job token may only push $GITOKU_ALLOWED_REF\${GITOKU_ALLOWED_REF_PREFIX:+ and $GITOKU_ALLOWED_REF_PREFIX<step>} (refused $ref)" >&2
      status=1
      continue
    fi
  fi
  [ -n "$GITOKU_PROTECTION_FILE" ] && [ -f "$GITOKU_PROTECTION_FILE" ] || continue
  refused=0
  while read -r kind pref msg; do
    [ "$pref" = "$ref" ] || [ "$pref" = "*" ] || continue
    if [ "$kind" = noforce ]; then
      [ "$old" = "$zero" ] || [ "$new" = "$zero" ] && continue
      git merge-base --is-ancestor "$old" "$new" 2>/dev/null && continue
    elif [ "$kind" != deny ]; then
      continue
    fi
    if [ "$refused" = 0 ]; then
      echo "error: GH006: Protected branch update failed for $ref." >&2
      refused=1
    fi
    echo "error: $msg" >&2
    status=1
  done < "$GITOKU_PROTECTION_FILE"
done
exit $status
`;

const GITOKU_HOOKS = [
  ['post-receive', POST_RECEIVE_HOOK],
  ['pre-receive', PRE_RECEIVE_HOOK],
] as const;

/** Writes gitoku's hooks (the only hooks the server's git ever runs: receive-pack's core.hooksPath). */
async function installGitokuHooks(hooksDir: string): Promise<void> {
  for (const [name, script] of GITOKU_HOOKS) {
    const hook = join(hooksDir, name);
    await writeFile(hook, script);
    await chmod(hook, 0o755);
  }
}

/**
 * Before each push: the hook directory holds exactly gitoku's hooks, as installed. Anything else there
 * (a hook added or changed by whatever reached the data directory) is removed or rewritten, loudly,
 * before receive-pack could run it.
 */
export async function ensureGitokuHooks(hooksDir: string): Promise<void> {
  const names = new Set<string>(GITOKU_HOOKS.map(([name]) => name));
  let tampered = false;
  for (const entry of await readdir(hooksDir).catch(() => [] as string[])) {
    if (names.has(entry)) continue;
    tampered = true;
    await rm(join(hooksDir, entry), { recursive: true, force: true });
  }
  for (const [name, script] of GITOKU_HOOKS) {
    const path = join(hooksDir, name);
    const info = await lstat(path).catch(() => null);
    const intact = info?.isFile() && (info.mode & 0o777) === 0o755 && (await readFile(path, 'utf8').catch(() => null)) === script;
    if (!intact) tampered = true;
  }
  if (!tampered) return;
  console.error(`SECURITY: ${hooksDir} held hooks gitoku did not install; they were removed and gitoku's own hooks rewritten`);
  for (const [name] of GITOKU_HOOKS) await rm(join(hooksDir, name), { force: true });
  await installGitokuHooks(hooksDir);
}

export async function createAppContext(config: Config): Promise<AppContext> {
  const reposDir = join(config.dataDir, 'repos');
  const hooksDir = join(config.dataDir, 'hooks');
  await mkdir(reposDir, { recursive: true });
  await mkdir(hooksDir, { recursive: true });
  await installGitokuHooks(hooksDir);

  const handle: DatabaseHandle = await openDatabase({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  const secret = await loadOrCreateSecret(handle.db);
  const signals = new EventEmitter();
  signals.setMaxListeners(0);
  const listener = handle.url ? await listenForNotifications(handle.url, signals) : null;
  let closing = false;
  return {
    config,
    db: handle.db,
    dialect: handle.dialect,
    reposDir,
    hooksDir,
    secret,
    signals,
    isClosing: () => closing,
    close: async () => {
      closing = true;
      signals.emit('jobs');
      await listener?.end().catch(() => undefined);
      await handle.close();
    },
  };
}

/**
 * PostgreSQL wakes job claimers in every instance with NOTIFY gitoku_jobs (one per committed
 * transaction); this connection turns those into the same in-process 'jobs' signal SQLite uses.
 */
async function listenForNotifications(url: string, signals: EventEmitter): Promise<pg.Client> {
  const { default: pgModule } = await import('pg');
  const client = new pgModule.Client({ connectionString: url });
  await client.connect();
  client.on('notification', (msg) => {
    if (msg.channel === 'gitoku_jobs') signals.emit('jobs');
    else if (msg.channel === 'gitoku_events') signals.emit('events');
  });
  client.on('error', (err) => console.error('PostgreSQL notification listener:', err.message));
  await client.query('LISTEN gitoku_jobs');
  await client.query('LISTEN gitoku_events');
  return client;
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
