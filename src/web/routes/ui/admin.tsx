import type { Context, Hono } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { Identity } from '../../../services/auth.ts';
import { ServiceError } from '../../../services/errors.ts';
import type { AppContext } from '../../../services/app.ts';
import { createRegistrationToken, listRunners, type RunnerView } from '../../../services/runners.ts';
import { activeJobsByRunner } from '../../../services/uiRuns.ts';
import { canAdministerSite } from '../../../domain/permissions.ts';
import { AdminRunnersPage } from '../../views/pages/adminRunners.tsx';
import { pageContext, render, requireUser } from './render.tsx';
import { registerSiteAdminPages } from './siteAdmin.tsx';

/**
 * Site administrators only: anonymous visitors are sent to sign in; to everyone else site
 * administration does not exist (404), as GitHub Enterprise's stafftools.
 */
export function requireSiteAdmin(c: Context<WebEnv>): Identity | Response {
  const identity = requireUser(c);
  if (identity instanceof Response) return identity;
  if (!canAdministerSite(identity.viewer)) throw new ServiceError(404, 'Not Found');
  return identity;
}

/** Runners with the number of jobs each holds now (from the queue, not the last heartbeat). */
async function loadRunners(app: AppContext): Promise<RunnerView[]> {
  const runners = await listRunners(app);
  const active = await activeJobsByRunner(app, runners.map((r) => r.id));
  return runners.map((r) => ({ ...r, busy_jobs: active.get(r.id) ?? 0 }));
}

/** Quotes a value for a POSIX shell when it needs it. */
function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Site administration: the runner list (online, busy, last seen) and runner registration tokens. */
export function registerAdminRoutes(ui: Hono<WebEnv>): void {
  registerSiteAdminPages(ui, requireSiteAdmin);

  ui.get('/-/admin/runners', async (c) => {
    const identity = requireSiteAdmin(c);
    if (identity instanceof Response) return identity;
    return render(c, <AdminRunnersPage ctx={pageContext(c)} runners={await loadRunners(c.get('app'))} />);
  });

  ui.post('/-/admin/runners/registration-token', async (c) => {
    const identity = requireSiteAdmin(c);
    if (identity instanceof Response) return identity;
    const app = c.get('app');
    const token = await createRegistrationToken(app, identity.user.id);
    const command = `gitoku runner --server ${shellQuote(app.config.baseUrl)} --token ${token}`;
    return render(c, <AdminRunnersPage ctx={pageContext(c)} runners={await loadRunners(app)} registration={{ token, command }} />, 201);
  });
}
