import { z } from 'zod';
import type { ApiRegistry } from './registry.ts';
import { paginationQuery, setPaginationLinks } from './registry.ts';
import { errorSchema, repositoryJson, repositorySchema, userJson, userSchema } from './shapes.ts';
import { requireIdentity, viewerOf } from './guards.ts';
import { getUserByName } from '../../../services/users.ts';
import { createRepository, listRepositoriesForUser, listRepositoriesOfOwner, roleFor } from '../../../services/repositories.ts';
import { ServiceError } from '../../../services/errors.ts';
import { updateProfile } from '../../../services/accountSettings.ts';
import { adminCreateUser } from '../../../services/siteAdmin.ts';
import { hasScope } from '../../../domain/permissions.ts';

const createRepoBody = z.object({
  name: z.string({ message: 'expected a string' }),
  description: z.string().max(2000).nullish(),
  private: z.boolean().optional(),
  auto_init: z.boolean().optional(),
  default_branch: z.string().optional(),
});

const updateUserBody = z.object({
  name: z.string().max(10_000).nullish(),
  bio: z.string().max(10_000).nullish(),
  blog: z.string().max(10_000).nullish(),
  location: z.string().max(10_000).nullish(),
});

const createUserBody = z.object({
  login: z.string(),
  email: z.string().optional(),
  password: z.string(),
  name: z.string().max(255).optional(),
  admin: z.boolean().optional(),
});

/** The service's input from a create-repository body (GitHub's field names). */
function createRepositoryInput(body: z.infer<typeof createRepoBody>) {
  return { name: body.name, description: body.description ?? '', isPrivate: body.private ?? false, autoInit: body.auto_init ?? false, defaultBranch: body.default_branch };
}

export function registerUserRoutes(api: ApiRegistry): void {
  api.add({ method: 'get', path: '/user', summary: 'The authenticated user', tag: 'users', access: 'user', responses: { 200: { description: 'The user', schema: userSchema }, 401: { description: 'Not signed in', schema: errorSchema } } }, (c) => {
    const { user } = requireIdentity(c);
    return c.json(userJson(c.get('app'), user, true));
  });

  api.add(
    {
      method: 'patch',
      path: '/user',
      summary: 'Update the authenticated user (GitHub: name, bio, blog, location; other fields are ignored)',
      tag: 'users',
      // A write: needs the repo scope (gitoku has no `user` scope; sessions carry every scope).
      access: 'repo',
      body: updateUserBody,
      responses: { 200: { description: 'The user', schema: userSchema }, 401: { description: 'Not signed in', schema: errorSchema }, 422: { description: 'Invalid field', schema: errorSchema } },
    },
    async (c, { body }) => {
      const app = c.get('app');
      const { user } = requireIdentity(c);
      const updated = await updateProfile(app, user.id, { name: body.name, bio: body.bio, blog: body.blog, location: body.location });
      return c.json(userJson(app, updated, true));
    },
  );

  api.add(
    { method: 'get', path: '/users/{username}', summary: 'A user', tag: 'users', access: 'public', responses: { 200: { description: 'The user', schema: userSchema }, 404: { description: 'No such user', schema: errorSchema } } },
    async (c) => {
      const app = c.get('app');
      const user = await getUserByName(app, c.req.param('username')!);
      const self = c.get('identity')?.user.id === user.id;
      return c.json(userJson(app, user, self));
    },
  );

  api.add(
    { method: 'get', path: '/user/repos', summary: 'Repositories the authenticated user owns or collaborates on', tag: 'repos', access: 'user', query: paginationQuery, responses: { 200: { description: 'Repositories', schema: z.array(repositorySchema) } } },
    async (c, { query }) => {
      const app = c.get('app');
      const identity = requireIdentity(c);
      // A token without the `repo` scope sees the public ones only, as an anonymous caller would.
      const publicOnly = !hasScope(identity.viewer, 'repo');
      const { items, total } = await listRepositoriesForUser(app, identity.user, { page: query.page, perPage: query.per_page, publicOnly });
      setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, total);
      const out = [];
      for (const repo of items) out.push(repositoryJson(app, repo, await roleFor(app, repo, identity.viewer)));
      return c.json(out);
    },
  );

  api.add(
    {
      method: 'post',
      path: '/user/repos',
      summary: 'Create a repository for the authenticated user',
      tag: 'repos',
      access: 'repo',
      body: createRepoBody,
      responses: { 201: { description: 'Created', schema: repositorySchema }, 422: { description: 'Invalid name or already exists', schema: errorSchema } },
    },
    async (c, { body }) => {
      const app = c.get('app');
      const identity = requireIdentity(c);
      const repo = await createRepository(app, identity.user, createRepositoryInput(body));
      return c.json(repositoryJson(app, repo, 'admin'), 201);
    },
  );

  api.add(
    { method: 'get', path: '/users/{username}/repos', summary: "A user's repositories visible to the caller", tag: 'repos', access: 'public', query: paginationQuery, responses: { 200: { description: 'Repositories', schema: z.array(repositorySchema) } } },
    async (c, { query }) => {
      const app = c.get('app');
      const owner = await getUserByName(app, c.req.param('username')!);
      const viewer = viewerOf(c);
      const { items, total } = await listRepositoriesOfOwner(app, owner, viewer, { page: query.page, perPage: query.per_page });
      setPaginationLinks(c, app.config.baseUrl, query.page, query.per_page, total);
      const out = [];
      for (const repo of items) out.push(repositoryJson(app, repo, viewer ? await roleFor(app, repo, viewer) : null));
      return c.json(out);
    },
  );

  api.add(
    {
      method: 'post',
      path: '/admin/users/{username}/repos',
      summary: 'Create a repository for a user (site administrators; as Gitea)',
      tag: 'admin',
      access: 'admin',
      body: createRepoBody,
      responses: { 201: { description: 'Created', schema: repositorySchema }, 404: { description: 'No such user', schema: errorSchema }, 422: { description: 'Invalid name or already exists', schema: errorSchema } },
    },
    async (c, { body }) => {
      const app = c.get('app');
      const owner = await getUserByName(app, c.req.param('username')!);
      const repo = await createRepository(app, owner, createRepositoryInput(body));
      return c.json(repositoryJson(app, repo, 'admin'), 201);
    },
  );

  api.add(
    { method: 'post', path: '/admin/users', summary: 'Create a user (site administrators)', tag: 'admin', access: 'admin', body: createUserBody, responses: { 201: { description: 'Created', schema: userSchema } } },
    async (c, { body }) => {
      const app = c.get('app');
      const user = await adminCreateUser(app, { username: body.login, email: body.email, password: body.password, fullName: body.name, isAdmin: body.admin }).catch((err: unknown) => {
        // The service calls the field `username`; this request body calls it `login`.
        throw err instanceof ServiceError && err.field === 'username' ? new ServiceError(err.status, err.message, 'login') : err;
      });
      return c.json(userJson(app, user, true), 201);
    },
  );
}
