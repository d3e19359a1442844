import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';
import type { Dialect } from './migrationHelpers.ts';
import * as foundation from './migrations/0001_foundation.ts';
import * as pullRequests from './migrations/0002_pull_requests.ts';
import * as runsAndJobs from './migrations/0003_runs_and_jobs.ts';
import * as behaviors from './migrations/0004_behaviors.ts';
import * as provenance from './migrations/0005_provenance.ts';
import * as agentDefaults from './migrations/0006_repository_agent_defaults.ts';
import * as capturePullRequests from './migrations/0007_capture_pull_requests.ts';
import * as capturePullRequestIndex from './migrations/0008_capture_pull_request_index.ts';
import * as repositoryRefs from './migrations/0009_repository_refs.ts';
import * as agentNetwork from './migrations/0010_agent_network.ts';
import * as warmWorkspaces from './migrations/0011_warm_workspaces.ts';
import * as runPullRequestLifecycle from './migrations/0012_run_pull_request_lifecycle.ts';
import * as repositoryAgents from './migrations/0013_repository_agents.ts';
import * as repositoryCounters from './migrations/0014_repository_counters.ts';
import * as memory from './migrations/0015_memory.ts';
import * as issues from './migrations/0016_issues.ts';
import * as webhooks from './migrations/0017_webhooks.ts';
import * as releases from './migrations/0018_releases.ts';
import * as reclassifyTrailerCaptures from './migrations/0020_reclassify_trailer_captures.ts';
import * as runnerSnapshotIndex from './migrations/0021_runner_snapshot_index.ts';
import * as repositorySettings from './migrations/0022_repository_settings.ts';
import * as accounts from './migrations/0023_accounts.ts';
import * as queueIndexes from './migrations/0024_queue_indexes.ts';
import * as memoryRetrieval from './migrations/0025_memory_retrieval.ts';
import * as queueIndexScopes from './migrations/0026_queue_index_scopes.ts';
import * as repositoryStars from './migrations/0027_repository_stars.ts';
import * as notifications from './migrations/0028_notifications.ts';

type MigrationModule = { up(db: Kysely<unknown>, dialect: Dialect): Promise<void> };

/** Forward-only migrations, in order; one set for both dialects. */
const migrations: Record<string, MigrationModule> = {
  '0001_foundation': foundation,
  '0002_pull_requests': pullRequests,
  '0003_runs_and_jobs': runsAndJobs,
  '0004_behaviors': behaviors,
  '0005_provenance': provenance,
  '0006_repository_agent_defaults': agentDefaults,
  '0007_capture_pull_requests': capturePullRequests,
  '0008_capture_pull_request_index': capturePullRequestIndex,
  '0009_repository_refs': repositoryRefs,
  '0010_agent_network': agentNetwork,
  '0011_warm_workspaces': warmWorkspaces,
  '0012_run_pull_request_lifecycle': runPullRequestLifecycle,
  '0013_repository_agents': repositoryAgents,
  '0014_repository_counters': repositoryCounters,
  '0015_memory': memory,
  '0016_issues': issues,
  '0017_webhooks': webhooks,
  '0018_releases': releases,
  '0020_reclassify_trailer_captures': reclassifyTrailerCaptures,
  '0021_runner_snapshot_index': runnerSnapshotIndex,
  '0022_repository_settings': repositorySettings,
  '0023_accounts': accounts,
  '0024_queue_indexes': queueIndexes,
  '0025_memory_retrieval': memoryRetrieval,
  '0026_queue_index_scopes': queueIndexScopes,
  '0027_repository_stars': repositoryStars,
  '0028_notifications': notifications,
};

class InCodeProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return Object.fromEntries(
      Object.entries(migrations).map(([name, m]) => [name, { up: (db: Kysely<unknown>) => m.up(db, this.dialect) }]),
    );
  }
}

export async function migrateToLatest(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const migrator = new Migrator({ db, provider: new InCodeProvider(dialect), migrationTableName: 'gitoku_migrations', migrationLockTableName: 'gitoku_migrations_lock' });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    const cause = error instanceof Error ? error.message : String(error ?? '');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${cause}`);
  }
}
