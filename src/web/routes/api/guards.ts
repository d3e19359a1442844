import type { Context } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { Identity } from '../../../services/auth.ts';
import { ServiceError } from '../../../services/errors.ts';
import { type RouteAccess, routeAccessDenial } from '../../../domain/permissions.ts';

/**
 * Refuses a caller that does not meet a route's declared access (see ROUTE_ACCESS). The API registry
 * calls this before every handler; handlers do not check scopes themselves.
 */
export function enforceRouteAccess(c: Context<WebEnv>, access: RouteAccess): void {
  const denial = routeAccessDenial(c.get('identity')?.viewer ?? null, access);
  if (denial) throw new ServiceError(denial.status, denial.message);
}

/** The signed-in identity, or a 401 (scopes are the route's declared access, checked before the handler). */
export function requireIdentity(c: Context<WebEnv>): Identity {
  const identity = c.get('identity');
  if (!identity) throw new ServiceError(401, 'Requires authentication');
  return identity;
}

export function viewerOf(c: Context<WebEnv>) {
  return c.get('identity')?.viewer ?? null;
}
