import type { Behavior } from '../registry.ts';
import { hookWants, WEBHOOK_SOURCE_EVENT_TYPES, webhookEventsFor } from '../../services/webhookEvents.ts';
import { buildWebhookMessages } from '../../services/webhookPayloads.ts';
import { activeHooksFor, deliverToHooks, hookEvents } from '../../services/webhooks.ts';

/**
 * Webhooks: turns an outbox event (a push's ref change, a pull request, a review, a status, a workflow
 * or agent run) into GitHub-shaped payloads for the repository's active hooks and the server-wide ones
 * that subscribe to it, and queues one delivery job per (hook, webhook event). Payloads are built only
 * when some hook wants them; the deliveries themselves happen in the server's job worker, never here
 * and never in the request path of a push. Idempotent: a delivery is unique per (hook, event, name).
 */
export const webhookDeliveries: Behavior = {
  key: 'webhooks',
  description: "Delivers events to the repository's webhooks and the server-wide ones",
  on: WEBHOOK_SOURCE_EVENT_TYPES,
  optional: false,
  when: (event, ctx) => ctx.repo !== null && webhookEventsFor(event.type, event.payload).length > 0,
  async run(event, { app, repo }) {
    const hooks = await activeHooksFor(app, repo!.id);
    if (hooks.length === 0) return { outcome: 'no active webhooks' };
    const kinds = webhookEventsFor(event.type, event.payload).filter((k) => hooks.some((h) => hookWants(hookEvents(h), k.event)));
    if (kinds.length === 0) return { outcome: 'no webhook subscribes to this event' };
    const messages = await buildWebhookMessages(app, repo!, event.type, event.payload, kinds);
    if (messages.length === 0) return { outcome: 'the event’s subject is gone; nothing to deliver' };
    const queued = await deliverToHooks(app, hooks, repo!.id, messages, event.id);
    return { outcome: `queued ${queued} webhook deliver${queued === 1 ? 'y' : 'ies'} (${messages.map((m) => (m.action ? `${m.event}.${m.action}` : m.event)).join(', ')})` };
  },
};
