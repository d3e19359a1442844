import type { Context, MiddlewareHandler } from 'hono';
import type { WebEnv } from '../context.ts';
import { findRepository, findRepositoryById, roleFor } from '../../services/repositories.ts';
import { findRepositoryRedirect } from '../../services/repositoryRedirects.ts';
import { isValidRepositoryName, isValidUsername } from '../../domain/names.ts';
import { roleAtLeast } from '../../domain/permissions.ts';

/**
 * Old URLs of renamed and transferred repositories: when a page or API path under `/{owner}/{repo}`
 * answered 404 because no repository has that name, and a redirect names the repository it became
 * (one the viewer can read: otherwise it stays a 404), the answer becomes a redirect to the same path
 * and query under the new name. 301 for GET/HEAD (GitHub's answer), 308 for other methods so the method
 * and body are kept. Costs nothing on found pages: only 404s look.
 *
 * `prefix` is where the `{owner}/{repo}` segments start: '' for pages, '/api/v1/repos' for the API.
 */
export function repositoryRedirects(prefix: '' | '/api/v1/repos'): MiddlewareHandler<WebEnv> {
  return async (c, next) => {
    await next();
    if (c.res.status !== 404) return;
    const target = await movedLocation(c, prefix);
    if (!target) return;
    c.res = new Response(null, { status: c.req.method === 'GET' || c.req.method === 'HEAD' ? 301 : 308, headers: { Location: target } });
    c.res.headers.delete('content-length'); // the 404's headers are merged in: its length is not this body's
  };
}

async function movedLocation(c: Context<WebEnv>, prefix: string): Promise<string | null> {
  const path = c.req.path;
  if (!path.startsWith(`${prefix}/`)) return null;
  const [owner = '', rawName = '', ...rest] = path.slice(prefix.length + 1).split('/');
  const gitSuffix = /\.git$/i.test(rawName) ? rawName.slice(-4) : '';
  const name = gitSuffix ? rawName.slice(0, -4) : rawName;
  if (!isValidUsername(owner) || !isValidRepositoryName(name)) return null;
  const app = c.get('app');
  if (await findRepository(app.db, owner, name)) return null; // a real 404 inside an existing repository
  const id = await findRepositoryRedirect(app.db, owner, name);
  if (id === undefined) return null;
  const repo = await findRepositoryById(app.db, id);
  if (!repo || !roleAtLeast(await roleFor(app, repo, c.get('identity')?.viewer ?? null), 'read')) return null;
  const query = new URL(c.req.url).search;
  return `${prefix}/${repo.owner_name}/${repo.name}${gitSuffix}${rest.length ? `/${rest.join('/')}` : ''}${query}`;
}
