import { join } from 'node:path';
import type { AppContext } from './app.ts';
import type { Repository } from '../db/schema.ts';

/** Absolute path of a repository's bare git directory (storage_path is relative to the data dir). */
export function repositoryGitDir(app: AppContext, repo: Pick<Repository, 'storage_path'>): string {
  return join(app.config.dataDir, repo.storage_path);
}
