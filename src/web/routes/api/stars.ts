import type { Context } from 'hono';
import { z } from 'zod';
import type { WebEnv } from '../../context.ts';
import type { ApiRegistry } from './registry.ts';
import { paginationQuery, setPaginationLinks } from './registry.ts';
import { errorSchema, repositoryJson, repositorySchema, simpleUserJson, simpleUserSchema } from './shapes.ts';
import { requireIdentity, viewerOf } from './guards.ts';
import { repoFromPath } from './repos.ts';
import { getUserByName } from '../../../services/users.ts';
import { roleFor } from '../../../services/repositories.ts';
import { ServiceError } from '../../../services/errors.ts';
import { hasStarred, listStargazers, listStarredRepositories, starRepository, unstarRepository, type StarredRepository } from '../../../services/stars.ts';
import { iso } from '../../../services/apiShapes/common.ts';

/** GitHub's `Accept: application/vnd.github.star+json` asks for each star's time beside the user or repository. */
const wantsStarTimes = (c: Context<WebEnv>) => (c.req.header('Accept') ?? '').includes('star+json');

/** Starring is the signed-in user's own act: a job's token (an agent) never stars. */
function starringUser(c: Context<WebEnv>) {
  const identity = requireIdentity(c);
  if (identity.viewer.jobScope) throw new ServiceError(403, 'A job token cannot star repositories');
  return identity.user;
}

export function registerStarRoutes(api: ApiRegistry): void {
  const starredRepos = async (c: Context<WebEnv>, userId: number, query: z.infer<typeof paginationQuery>) => {
    const app = c.get('app');
    const viewer = viewerOf(c);
    const { items, total } = await listStarredRepositories(app, userId, viewer, { page: query.page, perPage: query.per_page });
    setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, total);
    const json = async (r: StarredRepository) => repositoryJson(app, r, viewer ? await roleFor(app, r, viewer) : null);
    return c.json(await Promise.all(items.map(async (r) => (wantsStarTimes(c) ? { starred_at: iso(r.starred_at), repo: await json(r) } : await json(r)))));
  };

  api.add(
    { method: 'get', path: '/user/starred', summary: 'Repositories the authenticated user starred, newest star first', tag: 'stars', access: 'user', query: paginationQuery, responses: { 200: { description: 'Repositories', schema: z.array(repositorySchema) } } },
    async (c, { query }) => starredRepos(c, requireIdentity(c).user.id, query),
  );

  api.add(
    { method: 'get', path: '/users/{username}/starred', summary: 'Repositories a user starred (those the caller can read)', tag: 'stars', access: 'public', query: paginationQuery, responses: { 200: { description: 'Repositories', schema: z.array(repositorySchema) }, 404: { description: 'No such user', schema: errorSchema } } },
    async (c, { query }) => starredRepos(c, (await getUserByName(c.get('app'), c.req.param('username')!)).id, query),
  );

  api.add(
    { method: 'get', path: '/user/starred/{owner}/{repo}', summary: 'Whether the authenticated user starred a repository (204 yes, 404 no)', tag: 'stars', access: 'user', responses: { 204: { description: 'Starred' }, 404: { description: 'Not starred, or no such repository', schema: errorSchema } } },
    async (c) => {
      const access = await repoFromPath(c);
      if (!(await hasStarred(c.get('app').db, access.repo.id, requireIdentity(c).user.id))) throw new ServiceError(404, 'Not Found');
      return c.body(null, 204);
    },
  );

  api.add(
    { method: 'put', path: '/user/starred/{owner}/{repo}', summary: 'Star a repository (starring twice is a no-op)', tag: 'stars', access: 'repo', responses: { 204: { description: 'Starred' }, 404: { description: 'No such repository, or no access', schema: errorSchema } } },
    async (c) => {
      const user = starringUser(c);
      const access = await repoFromPath(c);
      await starRepository(c.get('app'), access.repo.id, user.id);
      return c.body(null, 204);
    },
  );

  api.add(
    { method: 'delete', path: '/user/starred/{owner}/{repo}', summary: 'Unstar a repository (a no-op when not starred)', tag: 'stars', access: 'repo', responses: { 204: { description: 'Not starred now' }, 404: { description: 'No such repository, or no access', schema: errorSchema } } },
    async (c) => {
      const user = starringUser(c);
      const access = await repoFromPath(c);
      await unstarRepository(c.get('app'), access.repo.id, user.id);
      return c.body(null, 204);
    },
  );

  api.add(
    { method: 'get', path: '/repos/{owner}/{repo}/stargazers', summary: 'Who starred a repository, first stars first', tag: 'stars', access: 'public', query: paginationQuery, responses: { 200: { description: 'Users', schema: z.array(simpleUserSchema) }, 404: { description: 'Not found or no access', schema: errorSchema } } },
    async (c, { query }) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const users = await listStargazers(app.db, access.repo.id, { page: query.page, perPage: query.per_page });
      setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, access.repo.stars_count);
      return c.json(users.map((u) => (wantsStarTimes(c) ? { starred_at: iso(u.starred_at), user: simpleUserJson(app, u) } : simpleUserJson(app, u))));
    },
  );
}
