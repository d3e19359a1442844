import type { AppContext } from '../../services/app.ts';
import type { RepositoryAccess, RepositoryWithOwner } from '../../services/repositories.ts';
import { repositoryGitDir } from '../../services/storage.ts';
import type { PullRequest } from '../../db/schema.ts';

/** Behaviors act as the system: full access to the event's repository. */
export function systemAccess(app: AppContext, repo: RepositoryWithOwner): RepositoryAccess {
  return { repo, role: 'admin', gitDir: repositoryGitDir(app, repo) };
}

export async function pullRequestById(app: AppContext, id: unknown): Promise<PullRequest | undefined> {
  if (typeof id !== 'number') return undefined;
  return app.db.selectFrom('pull_requests').selectAll().where('id', '=', id).executeTakeFirst();
}

export function branchOfRef(ref: unknown): string | null {
  return typeof ref === 'string' && ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : null;
}
