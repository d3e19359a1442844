import type { Context } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { Identity } from '../../../services/auth.ts';
import { ServiceError } from '../../../services/errors.ts';
import type { TokenScope } from '../../../domain/permissions.ts';

/** The signed-in identity, or a 401. With `scope`, a token lacking it is a 403. */
export function requireIdentity(c: Context<WebEnv>, scope?: TokenScope): Identity {
  const identity = c.get('identity');
  if (!identity) throw new ServiceError(401, 'Requires authentication');
  if (scope && identity.viewer.tokenScopes && !identity.viewer.tokenScopes.includes(scope)) {
    throw new ServiceError(403, `This token needs the "${scope}" scope`);
  }
  return identity;
}

export function viewerOf(c: Context<WebEnv>) {
  return c.get('identity')?.viewer ?? null;
}
