import type { Context } from 'hono';
import type { WebEnv } from '../../context.ts';
import { authorizeRepository, openItemCounts, type RepositoryAccess } from '../../../services/repositories.ts';
import { notFound } from '../../../services/errors.ts';
import { isValidRepositoryName, isValidUsername } from '../../../domain/names.ts';
import type { RepoRole } from '../../../domain/permissions.ts';
import type { RepoView } from '../../views/pages/repo.tsx';
import { safeNext } from './render.tsx';

/** Loads /:owner/:repo with the viewer's access through the single access check; no access reads as 404. */
export async function repoAccess(c: Context<WebEnv>, needed: RepoRole = 'read'): Promise<RepositoryAccess> {
  const owner = c.req.param('owner') ?? '';
  const name = c.req.param('repo') ?? '';
  if (!isValidUsername(owner) || !isValidRepositoryName(name)) throw notFound();
  return authorizeRepository(c.get('app'), owner, name, c.get('identity')?.viewer ?? null, needed);
}

/** What the repository header needs: the repository, the viewer's role, the clone URL, the open pull request and issue counts, and whether the viewer starred and watches it. */
export async function repoView(c: Context<WebEnv>, access: RepositoryAccess): Promise<RepoView> {
  const { repo } = access;
  const open = await openItemCounts(c.get('app').db, repo.id, c.get('identity')?.user.id ?? null);
  return { repo, role: access.role, cloneUrl: `${c.get('app').config.baseUrl}/${repo.owner_name}/${repo.name}.git`, openPulls: open.pulls, openIssues: open.issues, archivedRole: access.archivedRole, starred: open.starred, watch: open.watch };
}

export const repoPath = (access: RepositoryAccess) => `/${access.repo.owner_name}/${access.repo.name}`;

/** After a form in the repository header: back to `next` when it is one of this repository's pages, else its home. */
export function backToRepositoryPage(c: Context<WebEnv>, access: RepositoryAccess, next: string): Response {
  const home = repoPath(access);
  const target = safeNext(next);
  return c.redirect(target === home || target.startsWith(`${home}/`) || target.startsWith(`${home}?`) ? target : home, 303);
}
