import { join } from 'node:path';
import { instanceName } from '../services/instanceNames.ts';
import type { AppContext } from '../services/app.ts';
import { createEmbeddedRunner, deleteRunner, EMBEDDED_RUNNER_PRUNE_MS, pruneStaleEmbeddedRunners } from '../services/runners.ts';
import { RunnerClient } from './client.ts';
import { JobRunner } from './runner.ts';
import { detectSandbox, sandboxWarning } from './sandbox.ts';
import { openSnapshotStore } from './snapshots.ts';
import { limitsFromEnvironment } from './limits.ts';

export interface EmbeddedRunner {
  runner: JobRunner;
  /** The runner record this process holds now (it changes when the runner registers again). */
  runnerId(): number;
  /** Stops the runner and deletes its record. */
  stop(): Promise<void>;
}

/** A name per process: `embedded@host/pid-xxxx` (two servers on one database, or on one host, never share one). */
export function embeddedRunnerName(): string {
  return instanceName('embedded');
}

/**
 * The runner inside `gitoku serve`: its own runner record and token, and the same HTTP protocol as a
 * remote runner (pointed at this process's listening port) — one runner code path. When its token is
 * rejected (its record was deleted or re-keyed) it registers again through the services; and it prunes
 * the records of embedded runners whose process is gone.
 */
export async function startEmbeddedRunner(app: AppContext, serverUrl: string, concurrency = 2, log: (line: string) => void = (l) => console.log(`[runner] ${l}`)): Promise<EmbeddedRunner> {
  // The embedded runner's snapshots outlive a restart of the server, in its data directory.
  const store = await openSnapshotStore({ GITOKU_SNAPSHOT_DIR: join(app.config.dataDir, 'snapshots'), ...process.env }, { persistent: true });
  const sandbox = await detectSandbox(app.config.sandbox, limitsFromEnvironment(), store);
  const warning = sandboxWarning(sandbox);
  if (warning) console.error(`[runner] ${warning}`);
  const name = embeddedRunnerName();
  let { runner: record, token } = await createEmbeddedRunner(app, name);
  const reregister = async () => {
    ({ runner: record, token } = await createEmbeddedRunner(app, name, { replaces: record.id }));
    return token;
  };
  const runner = new JobRunner({ client: new RunnerClient(serverUrl, token), sandbox, concurrency, log, reregister });
  runner.start();
  const prune = setInterval(() => {
    pruneStaleEmbeddedRunners(app).catch((err: unknown) => log(`pruning stale runner records failed: ${(err as Error)?.message ?? String(err)}`));
  }, EMBEDDED_RUNNER_PRUNE_MS / 4);
  prune.unref();
  return {
    runner,
    runnerId: () => record.id,
    stop: async () => {
      clearInterval(prune);
      await runner.stop();
      // A clean stop leaves no offline record behind (a crashed process's record is pruned later).
      await deleteRunner(app, record.id).catch((err: unknown) => log(`removing the runner record failed: ${(err as Error)?.message ?? String(err)}`));
    },
  };
}
