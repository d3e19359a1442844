import { Hono } from 'hono';
import type { WebEnv } from './context.ts';
import type { AppContext } from '../services/app.ts';
import { ServiceError } from '../services/errors.ts';
import { apiRoutes } from './routes/api/index.ts';
import { gitRoutes } from './routes/git.ts';
import { runnerRoutes } from './routes/runner.ts';
import { uiRoutes } from './routes/ui/index.tsx';

/** The whole HTTP surface: JSON API, git smart HTTP and the web UI, in that order of precedence. */
export function createWebApp(app: AppContext): Hono<WebEnv> {
  const web = new Hono<WebEnv>();
  web.use('*', async (c, next) => {
    c.set('app', app);
    c.set('identity', null);
    await next();
  });
  web.get('/healthz', (c) => c.json({ status: 'ok' }));
  web.route('/api/v1/runner', runnerRoutes());
  web.route('/api/v1', apiRoutes(app.config.jsonBodyLimit));
  web.route('/', gitRoutes());
  web.route('/', uiRoutes());

  web.onError((err, c) => {
    if (err instanceof ServiceError) {
      return c.json({ message: err.message }, err.status);
    }
    console.error(`${c.req.method} ${c.req.path}:`, err);
    if (c.req.path.startsWith('/api/')) return c.json({ message: 'Internal Server Error' }, 500);
    return c.text('Internal Server Error', 500);
  });
  return web;
}
