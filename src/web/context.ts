import type { HttpBindings } from '@hono/node-server';
import type { AppContext } from '../services/app.ts';
import type { Identity } from '../services/auth.ts';

/** Hono environment: Node bindings (raw streams for git) and per-request variables. */
export interface WebEnv {
  Bindings: HttpBindings;
  Variables: {
    app: AppContext;
    identity: Identity | null;
    csrfToken: string;
    /** The signed-in user's unread notifications (pages only: the top bar's dot). */
    unreadNotifications?: number;
  };
}
