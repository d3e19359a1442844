import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { WebEnv } from '../../context.ts';
import { apiIdentity } from '../../middleware/identity.ts';
import { ApiRegistry } from './registry.ts';
import { registerUserRoutes } from './users.ts';
import { registerStarRoutes } from './stars.ts';
import { registerNotificationRoutes } from './notifications.ts';
import { registerAdminApiRoutes } from './admin.ts';
import { registerAdminStatsRoutes } from './adminStats.ts';
import { registerRepoRoutes } from './repos.ts';
import { registerCodeRoutes } from './code.ts';
import { registerPullRoutes } from './pulls.ts';
import { registerRunRoutes } from './runs.ts';
import { registerRunGroupRoutes } from './runGroups.ts';
import { registerProvenanceRoutes } from './provenance.ts';
import { registerGraphRoutes } from './graph.ts';
import { registerAutomationRoutes } from './automation.ts';
import { registerAgentRoutes } from './agents.ts';
import { registerIssueRoutes } from './issues.ts';
import { registerMemoryRoutes } from './memory.ts';
import { registerSearchRoutes } from './search.ts';
import { registerWebhookRoutes } from './webhooks.ts';
import { isReleaseAssetUpload, registerReleaseRoutes } from './releases.ts';
import { repositoryRedirects } from '../repositoryRedirects.ts';
import { archivedGuard } from '../archivedGuard.ts';

/** Declares every JSON API route on a registry (the route table: tests iterate its specs). */
export function registerApiRoutes(registry: ApiRegistry): ApiRegistry {
  registerUserRoutes(registry);
  registerStarRoutes(registry);
  registerNotificationRoutes(registry);
  registerAdminApiRoutes(registry);
  registerAdminStatsRoutes(registry);
  registerRepoRoutes(registry);
  registerPullRoutes(registry);
  registerIssueRoutes(registry);
  registerRunRoutes(registry);
  registerRunGroupRoutes(registry);
  registerAutomationRoutes(registry);
  registerAgentRoutes(registry);
  registerMemoryRoutes(registry);
  registerSearchRoutes(registry);
  registerWebhookRoutes(registry);
  registerReleaseRoutes(registry);
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
  const jsonLimit = bodyLimit({
    maxSize: jsonBodyLimit,
    onError: (c) => c.json({ message: `Request body is too large (limit ${jsonBodyLimit} bytes)` }, 413, { Connection: 'close' }),
  });
  // Release asset uploads stream to disk under their own limit (GITOKU_RELEASE_ASSET_MAX_BYTES).
  api.use('*', (c, next) => (isReleaseAssetUpload(c.req.method, c.req.path) ? next() : jsonLimit(c, next)));
  api.use('*', apiIdentity);
  // Old paths of renamed or transferred repositories: a 404 under /repos/{owner}/{old} becomes a redirect.
  api.use('/repos/*', repositoryRedirects('/api/v1/repos'));
  // Archived repositories are read-only: changes under /repos/{owner}/{repo} are refused (administration excepted).
  api.use('/repos/*', archivedGuard('/api/v1/repos'));

  const registry = registerApiRoutes(new ApiRegistry(api));

  api.get('/openapi.json', (c) => c.json(registry.openApiDocument(`${c.get('app').config.baseUrl}/api/v1`)));
  api.get('/', (c) => c.json({ message: 'gitoku API', documentation_url: `${c.get('app').config.baseUrl}/api/v1/openapi.json` }));
  api.all('*', (c) => c.json({ message: 'Not Found' }, 404));
  return api;
}
