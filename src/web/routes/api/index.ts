import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { WebEnv } from '../../context.ts';
import { apiIdentity } from '../../middleware/identity.ts';
import { ApiRegistry } from './registry.ts';
import { registerUserRoutes } from './users.ts';
import { registerRepoRoutes } from './repos.ts';
import { registerCodeRoutes } from './code.ts';
import { registerPullRoutes } from './pulls.ts';
import { registerRunRoutes } from './runs.ts';
import { registerRunGroupRoutes } from './runGroups.ts';
import { registerProvenanceRoutes } from './provenance.ts';
import { registerGraphRoutes } from './graph.ts';
import { registerAutomationRoutes } from './automation.ts';
import { registerAgentRoutes } from './agents.ts';

/** Declares every JSON API route on a registry (the route table: tests iterate its specs). */
export function registerApiRoutes(registry: ApiRegistry): ApiRegistry {
  registerUserRoutes(registry);
  registerRepoRoutes(registry);
  registerPullRoutes(registry);
  registerRunRoutes(registry);
  registerRunGroupRoutes(registry);
  registerAutomationRoutes(registry);
  registerAgentRoutes(registry);
  registerProvenanceRoutes(registry); // before code routes: commits/{ref+}/ai-contexts
  registerGraphRoutes(registry);
  registerCodeRoutes(registry);
  return registry;
}

/** The JSON API mounted at /api/v1. */
export function apiRoutes(jsonBodyLimit: number): Hono<WebEnv> {
  const api = new Hono<WebEnv>();
  api.use('*', async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-store');
  });
  api.use(
    '*',
    bodyLimit({
      maxSize: jsonBodyLimit,
      onError: (c) => c.json({ message: `Request body is too large (limit ${jsonBodyLimit} bytes)` }, 413, { Connection: 'close' }),
    }),
  );
  api.use('*', apiIdentity);

  const registry = registerApiRoutes(new ApiRegistry(api));

  api.get('/openapi.json', (c) => c.json(registry.openApiDocument(`${c.get('app').config.baseUrl}/api/v1`)));
  api.get('/', (c) => c.json({ message: 'gitoku API', documentation_url: `${c.get('app').config.baseUrl}/api/v1/openapi.json` }));
  api.all('*', (c) => c.json({ message: 'Not Found' }, 404));
  return api;
}
