import type { MiddlewareHandler } from 'hono';
import type { WebEnv } from '../context.ts';
import { ARCHIVED_MESSAGE, findRepository, roleFor } from '../../services/repositories.ts';
import { ServiceError } from '../../services/errors.ts';
import { isValidRepositoryName, isValidUsername } from '../../domain/names.ts';
import { roleAtLeast } from '../../domain/permissions.ts';

/**
 * Archived repositories are read-only: every request that changes something under `/{owner}/{repo}/…`
 * (any method but GET/HEAD/OPTIONS) is refused here with 403, except administration — the settings
 * (pages), starring and watching, and in the API the repository itself (unarchive, delete),
 * collaborators, webhooks, branch protection, transfer and the viewer's subscription. Writers that need write access are also refused by `authorizeRepository`
 * (it caps the role at read); this guard covers what readers may otherwise do (open issues, comment,
 * review) and whatever is added later, in one place. Repositories the caller cannot read fall through
 * to their handlers' 404.
 *
 * `prefix` is where `{owner}/{repo}` start: '' for pages, '/api/v1/repos' for the API.
 */
export function archivedGuard(prefix: '' | '/api/v1/repos'): MiddlewareHandler<WebEnv> {
  return async (c, next) => {
    const method = c.req.method;
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return next();
    const path = c.req.path;
    if (!path.startsWith(`${prefix}/`)) return next();
    const [owner = '', name = '', first = '', ...rest] = path.slice(prefix.length + 1).split('/');
    if (!isValidUsername(owner) || !isValidRepositoryName(name)) return next();
    if (isExempt(prefix, first, rest)) return next();
    const app = c.get('app');
    const repo = await findRepository(app.db, owner, name);
    if (!repo || repo.archived !== 1) return next();
    if (!roleAtLeast(await roleFor(app, repo, c.get('identity')?.viewer ?? null), 'read')) return next();
    throw new ServiceError(403, ARCHIVED_MESSAGE);
  };
}

function isExempt(prefix: string, first: string, rest: string[]): boolean {
  // Starring and watching change the viewer's own settings, not the repository (GitHub allows both on archived ones).
  if (prefix === '') return first === 'settings' || (['star', 'unstar', 'subscription'].includes(first) && rest.length === 0);
  if (first === '' || first === 'collaborators' || first === 'hooks' || first === 'transfer' || first === 'subscription') return true;
  return first === 'branches' && rest[rest.length - 1] === 'protection';
}
