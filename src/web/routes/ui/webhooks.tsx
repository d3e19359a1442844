import type { Context, Hono } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { User } from '../../../db/schema.ts';
import { ServiceError } from '../../../services/errors.ts';
import { canAdministerSite } from '../../../domain/permissions.ts';
import { createHook, deleteHook, getDelivery, getHook, hookEvents, type HookInput, type HookScope, listDeliveries, listHooks, pingHook, redeliver, updateHook } from '../../../services/webhooks.ts';
import type { RepositoryWithOwner } from '../../../services/repositories.ts';
import { WEBHOOK_EVENT_NAMES } from '../../../services/webhookEvents.ts';
import { EMPTY_HOOK, type HookFormValues, type HookPlace, type HookRow, hookFormValues, WebhookFormPage, WebhooksListPage } from '../../views/pages/webhooks.tsx';
import { repoAccess, repoView } from './access.ts';
import { pageContext, readForm, render, requireUser, setFlash, type FormFields } from './render.tsx';

interface Place extends HookPlace {
  scope: HookScope;
  repo: RepositoryWithOwner | null;
  user: User;
}

/** A repository's hook pages: its admins only (others get the repository's 404/403). */
async function repoPlace(c: Context<WebEnv>): Promise<Place | Response> {
  const identity = requireUser(c);
  if (identity instanceof Response) return identity;
  const access = await repoAccess(c, 'admin');
  return { view: await repoView(c, access), base: `/${access.repo.owner_name}/${access.repo.name}/settings/hooks`, scope: { repositoryId: access.repo.id }, repo: access.repo, user: identity.user };
}

/** The server-wide hook pages: site administrators only. */
async function adminPlace(c: Context<WebEnv>): Promise<Place | Response> {
  const identity = requireUser(c);
  if (identity instanceof Response) return identity;
  if (!canAdministerSite(identity.viewer)) throw new ServiceError(403, 'Only site administrators can see this page.');
  return { view: null, base: '/-/admin/hooks', scope: { repositoryId: null }, repo: null, user: identity.user };
}

function formValues(form: FormFields, hasSecret: boolean): HookFormValues {
  const mode = form.get('mode');
  const events = form.getAll('events').filter((e) => WEBHOOK_EVENT_NAMES.includes(e));
  return {
    url: form.get('url').trim(),
    contentType: form.get('content_type') === 'form' ? 'form' : 'json',
    hasSecret,
    insecureSsl: form.get('insecure_ssl') === '1',
    mode: mode === 'all' || mode === 'some' ? mode : 'push',
    events,
    active: form.get('active') === '1',
  };
}

function inputOf(values: HookFormValues, form: FormFields, editing: boolean): HookInput {
  const secret = form.get('secret');
  return {
    url: values.url,
    // Editing: a blank secret keeps the stored one; "remove" clears it.
    secret: editing ? (form.get('remove_secret') === '1' ? '' : secret || undefined) : secret,
    contentType: values.contentType,
    insecureSsl: values.insecureSsl,
    events: values.mode === 'all' ? ['*'] : values.mode === 'push' ? ['push'] : values.events,
    active: values.active,
  };
}

const idOf = (c: Context<WebEnv>, name: string) => {
  const n = Number(c.req.param(name));
  return Number.isSafeInteger(n) && n > 0 && n <= 2_147_483_647 ? n : -1;
};

async function renderHook(c: Context<WebEnv>, place: Place, hookId: number, extra: { values?: HookFormValues; error?: { message: string; field?: string } } = {}, status: 200 | 422 = 200) {
  const app = c.get('app');
  const hook = await getHook(app, place.scope, hookId);
  const cursor = Number(c.req.query('cursor'));
  const page = await listDeliveries(app, hook, { perPage: 30, cursor: Number.isSafeInteger(cursor) && cursor > 0 ? cursor : null });
  const open = Number(c.req.query('delivery'));
  return render(
    c,
    <WebhookFormPage ctx={pageContext(c)} place={place} hook={hook} values={extra.values ?? hookFormValues(hook, hookEvents(hook))} error={extra.error} deliveries={page.items} olderCursor={page.next} openDelivery={Number.isSafeInteger(open) ? open : null} />,
    status,
  );
}

/** Repository settings → Webhooks, and the site administration's server-wide webhooks: list, add, edit, delete, deliveries, redeliver. */
export function registerWebhookPages(ui: Hono<WebEnv>): void {
  const mount = (prefix: string, resolve: (c: Context<WebEnv>) => Promise<Place | Response>) => {
    ui.get(prefix, async (c) => {
      const place = await resolve(c);
      if (place instanceof Response) return place;
      const app = c.get('app');
      const hooks = await listHooks(app, place.scope);
      const rows: HookRow[] = [];
      for (const hook of hooks) {
        const last = await app.db.selectFrom('webhook_deliveries').selectAll().where('hook_id', '=', hook.id).orderBy('id', 'desc').limit(1).executeTakeFirst();
        rows.push({ hook, events: hookEvents(hook), last: last ?? null });
      }
      return render(c, <WebhooksListPage ctx={pageContext(c)} place={place} hooks={rows} />);
    });

    ui.get(`${prefix}/new`, async (c) => {
      const place = await resolve(c);
      if (place instanceof Response) return place;
      return render(c, <WebhookFormPage ctx={pageContext(c)} place={place} values={EMPTY_HOOK} />);
    });

    ui.post(prefix, async (c) => {
      const place = await resolve(c);
      if (place instanceof Response) return place;
      const app = c.get('app');
      const form = await readForm(c);
      const values = formValues(form, false);
      try {
        const hook = await createHook(app, place.scope, place.user, inputOf(values, form, false));
        await pingHook(app, hook, place.repo, place.user);
        setFlash(c, 'success', 'Webhook added. A ping event was sent to check it.');
        return c.redirect(`${place.base}/${hook.id}#deliveries`, 303);
      } catch (err) {
        if (err instanceof ServiceError && err.status === 422) return render(c, <WebhookFormPage ctx={pageContext(c)} place={place} values={values} error={{ message: err.message, field: err.field }} />, 422);
        throw err;
      }
    });

    ui.get(`${prefix}/:hook`, async (c) => {
      const place = await resolve(c);
      if (place instanceof Response) return place;
      return renderHook(c, place, idOf(c, 'hook'));
    });

    ui.post(`${prefix}/:hook`, async (c) => {
      const place = await resolve(c);
      if (place instanceof Response) return place;
      const app = c.get('app');
      const hook = await getHook(app, place.scope, idOf(c, 'hook'));
      const form = await readForm(c);
      const values = formValues(form, hook.secret !== '');
      try {
        await updateHook(app, hook, inputOf(values, form, true));
        setFlash(c, 'success', 'Webhook updated.');
        return c.redirect(`${place.base}/${hook.id}`, 303);
      } catch (err) {
        if (err instanceof ServiceError && err.status === 422) return renderHook(c, place, hook.id, { values, error: { message: err.message, field: err.field } }, 422);
        throw err;
      }
    });

    ui.post(`${prefix}/:hook/ping`, async (c) => {
      const place = await resolve(c);
      if (place instanceof Response) return place;
      const app = c.get('app');
      const delivery = await pingHook(app, await getHook(app, place.scope, idOf(c, 'hook')), place.repo, place.user);
      setFlash(c, 'info', 'Ping queued.');
      return c.redirect(`${place.base}/${delivery.hook_id}?delivery=${delivery.id}#delivery-${delivery.id}`, 303);
    });

    ui.post(`${prefix}/:hook/deliveries/:delivery/redeliver`, async (c) => {
      const place = await resolve(c);
      if (place instanceof Response) return place;
      const app = c.get('app');
      const hook = await getHook(app, place.scope, idOf(c, 'hook'));
      const again = await redeliver(app, hook, await getDelivery(app, hook, idOf(c, 'delivery')));
      setFlash(c, 'info', `Redelivery of ${again.guid} queued.`);
      return c.redirect(`${place.base}/${hook.id}?delivery=${again.id}#delivery-${again.id}`, 303);
    });

    ui.post(`${prefix}/:hook/delete`, async (c) => {
      const place = await resolve(c);
      if (place instanceof Response) return place;
      const app = c.get('app');
      await deleteHook(app, await getHook(app, place.scope, idOf(c, 'hook')));
      setFlash(c, 'success', 'Webhook deleted.');
      return c.redirect(place.base, 303);
    });
  };

  mount('/-/admin/hooks', adminPlace);
  mount('/:owner/:repo/settings/hooks', repoPlace);
}
