import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { WebEnv } from '../../context.ts';
import { sessionIdentity } from '../../middleware/identity.ts';
import { unreadCount } from '../../../services/notifications.ts';
import { csrfProtection } from '../../middleware/csrf.ts';
import { ServiceError } from '../../../services/errors.ts';
import { ErrorPage } from '../../views/pages/error.tsx';
import { sentence } from '../../views/format.ts';
import { pageContext, render } from './render.tsx';
import { serveStatic } from './static.ts';
import { serveAvatar, serveUploadedAvatar } from './avatars.ts';
import { registerAuthRoutes } from './auth.tsx';
import { registerTokenRoutes } from './tokens.tsx';
import { AVATAR_FORM_LIMIT, AVATAR_FORM_PATH, registerSettingsRoutes } from './settings.tsx';
import { registerRepoRoutes } from './repos.tsx';
import { registerAdminRoutes } from './admin.tsx';
import { registerWebhookPages } from './webhooks.tsx';
import { registerRunPages } from './runs.tsx';
import { registerCodeRoutes } from './code.tsx';
import { registerPullRoutes } from './pulls.tsx';
import { registerIssueRoutes } from './issues.tsx';
import { registerAutomationRoutes } from './automation.tsx';
import { registerGraphRoutes } from './graph.tsx';
import { registerAgentPages } from './agents.tsx';
import { isStreamedReleaseForm, registerReleasePages } from './releases.tsx';
import { registerArchiveRoutes } from '../archives.ts';
import { registerSearchPages } from './search.tsx';
import { registerMemoryRoutes } from './memory.tsx';
import { repositoryRedirects } from '../repositoryRedirects.ts';
import { archivedGuard } from '../archivedGuard.ts';
import { registerRepoSettingsRoutes } from './repoSettings.tsx';
import { registerStarPages } from './stars.tsx';
import { registerNotificationPages } from './notifications.tsx';

/** Forms are small; anything bigger is refused before it is read. */
const FORM_BODY_LIMIT = 256 * 1024;

/**
 * The policy for every HTML page: scripts and styles only from /-/static (so even a sanitizer bug in
 * rendered markdown cannot run script), images from anywhere over http(s), forms only to us.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' https: http: data:",
  "font-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** These routes are mounted at "/" after the API and git routes; API paths never reach the UI's middleware. */
const isApiPath = (c: Context<WebEnv>) => c.req.path === '/api' || c.req.path.startsWith('/api/');

function uiOnly(middleware: MiddlewareHandler<WebEnv>): MiddlewareHandler<WebEnv> {
  return (c, next) => (isApiPath(c) ? next() : middleware(c, next));
}

function renderError(c: Context<WebEnv>, status: 400 | 401 | 403 | 404 | 405 | 409 | 413 | 422 | 500, message?: string) {
  return render(c, <ErrorPage ctx={pageContext(c)} status={status} message={message} />, status);
}

export function uiRoutes(): Hono<WebEnv> {
  const ui = new Hono<WebEnv>();

  // Static assets first: they need no identity, CSRF cookie or flash.
  ui.get('/-/static/:file', serveStatic);
  ui.get('/-/avatars/:file', serveAvatar);
  ui.get('/-/avatars/u/:id{[0-9]{1,12}}/:file', serveUploadedAvatar);

  ui.use(
    '*',
    uiOnly(async (c, next) => {
      await next();
      // On the response's own headers: c.header() after the handler rebuilds the Response around its
      // body as a stream (per call), which turns a string page into a copied, re-read stream. A response
      // with immutable headers (Response.redirect) takes the rebuild.
      const headers = c.res.headers;
      const set = (name: string, value: string) => {
        try {
          headers.set(name, value);
        } catch {
          c.header(name, value);
        }
      };
      set('X-Content-Type-Options', 'nosniff');
      set('X-Frame-Options', 'DENY');
      set('Referrer-Policy', 'same-origin');
      if (headers.get('content-type')?.startsWith('text/html')) {
        set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
        // Pages are personal (user menu, CSRF token, one-time token display): never cache them.
        if (!headers.has('cache-control')) set('Cache-Control', 'no-store');
      }
    }),
  );
  const formLimit = bodyLimit({
    maxSize: FORM_BODY_LIMIT,
    onError: (c) => renderError(c as Context<WebEnv>, 413, 'That form submission is too large.'),
  });
  // The release forms stream their files to disk, with limits of their own (ui/releases.tsx), and
  // check their CSRF field themselves: the CSRF middleware would read the whole body first.
  const streamed = (c: Context<WebEnv>) => isStreamedReleaseForm(c.req.method, c.req.path);
  // The avatar upload is a small file: a limit of its own (the service answers 413 past the exact size).
  const avatarLimit = bodyLimit({ maxSize: AVATAR_FORM_LIMIT, onError: (c) => renderError(c as Context<WebEnv>, 413, 'That picture is too large (at most 1 MiB).') });
  const isAvatarForm = (c: Context<WebEnv>) => c.req.method === 'POST' && c.req.path === AVATAR_FORM_PATH;
  // GET and HEAD carry no body: asking for one would build the full Request object for nothing.
  const bodiless = (c: Context<WebEnv>) => c.req.method === 'GET' || c.req.method === 'HEAD';
  ui.use('*', uiOnly((c, next) => (bodiless(c) || streamed(c) ? next() : isAvatarForm(c) ? avatarLimit(c, next) : formLimit(c, next))));
  ui.use('*', uiOnly(sessionIdentity));
  // A signed-in user's page shows whether notifications wait (the top bar's bell): only for pages
  // (what a browser navigates to), not for scripts' fragments, polls and assets.
  ui.use('*', uiOnly(async (c, next) => {
    const identity = c.get('identity');
    if (identity && c.req.method === 'GET' && (c.req.header('Accept') ?? '').includes('text/html') && !c.req.path.startsWith('/-/static/')) {
      c.set('unreadNotifications', await unreadCount(c.get('app'), identity.viewer));
    }
    return next();
  }));
  const csrf = csrfProtection({ onFailure: (c) => renderError(c, 403, 'The form was stale or did not come from this site. Go back, reload the page and try again.') });
  ui.use('*', uiOnly((c, next) => (streamed(c) ? next() : csrf(c, next))));
  // Old URLs of renamed or transferred repositories: a 404 under /{owner}/{old} becomes a redirect.
  ui.use('*', uiOnly(repositoryRedirects('')));
  // Archived repositories are read-only: changes under /{owner}/{repo} are refused (settings excepted).
  ui.use('*', uiOnly(archivedGuard('')));

  registerAuthRoutes(ui);
  registerTokenRoutes(ui);
  registerSettingsRoutes(ui);
  // Before the repository routes: /-/admin/… and /:owner/:repo/runs/… must not fall into their patterns.
  registerAdminRoutes(ui);
  registerWebhookPages(ui);
  registerRunPages(ui);
  registerAutomationRoutes(ui);
  registerGraphRoutes(ui);
  registerAgentPages(ui);
  registerSearchPages(ui); // /search, /explore before /:owner; /:owner/:repo/search
  registerMemoryRoutes(ui);
  registerArchiveRoutes(ui);
  registerReleasePages(ui); // /:owner/:repo/releases/…, /tags
  registerRepoSettingsRoutes(ui); // /:owner/:repo/settings/{rename,transfer,archive,branches}
  registerStarPages(ui); // /:owner/:repo/{star,unstar,stargazers}
  registerNotificationPages(ui); // /notifications before /:owner; /:owner/:repo/subscription
  registerRepoRoutes(ui);
  registerCodeRoutes(ui);
  registerPullRoutes(ui);
  registerIssueRoutes(ui);

  // Nothing else matched: an HTML 404 for pages, the API's JSON shape for /api paths.
  ui.all('*', (c) => (isApiPath(c) ? c.json({ message: 'Not Found' }, 404) : renderError(c, 404)));

  ui.onError((err, c) => {
    if (err instanceof ServiceError) {
      if (err.status === 401) {
        const url = new URL(c.req.url);
        return c.req.method === 'GET' ? c.redirect(`/-/login?next=${encodeURIComponent(url.pathname + url.search)}`, 303) : renderError(c, 401, 'Sign in to continue.');
      }
      // 404s say nothing more: a private repository must be indistinguishable from a missing one.
      return renderError(c, err.status, err.status === 404 ? undefined : sentence(err.message));
    }
    console.error(`${c.req.method} ${c.req.path}:`, err);
    return renderError(c, 500);
  });
  return ui;
}
