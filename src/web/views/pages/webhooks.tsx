import type { FC, PropsWithChildren } from 'hono/jsx';
import type { FormError, PageContext } from '../context.ts';
import type { Webhook, WebhookDelivery } from '../../../db/schema.ts';
import { WEBHOOK_EVENTS } from '../../../services/webhookEvents.ts';
import { Layout } from '../layout.tsx';
import { Badge, EmptyState, FormAlert, PageAssets, PostForm, Time, fieldInvalid } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { RepoHeader, type RepoView } from './repo.tsx';
import { AdminNav } from './adminRunners.tsx';

/** Where the hook pages live: a repository's settings, or the site administration (server-wide hooks). */
export interface HookPlace {
  /** null for the server-wide hooks. */
  view: RepoView | null;
  /** The pages' base path: `/{o}/{r}/settings/hooks` or `/-/admin/hooks`. */
  base: string;
}

export interface HookRow {
  hook: Webhook;
  events: string[];
  last: WebhookDelivery | null;
}

export interface HookFormValues {
  url: string;
  contentType: 'json' | 'form';
  /** Whether a secret is stored (edit form); the secret itself is never rendered. */
  hasSecret: boolean;
  insecureSsl: boolean;
  mode: 'push' | 'all' | 'some';
  events: string[];
  active: boolean;
}

export const EMPTY_HOOK: HookFormValues = { url: '', contentType: 'json', hasSecret: false, insecureSsl: false, mode: 'push', events: ['push'], active: true };

export function hookFormValues(hook: Webhook, events: string[]): HookFormValues {
  const mode = events.includes('*') ? 'all' : events.length === 1 && events[0] === 'push' ? 'push' : 'some';
  return { url: hook.url, contentType: hook.content_type === 'form' ? 'form' : 'json', hasSecret: hook.secret !== '', insecureSsl: hook.insecure_ssl === 1, mode, events, active: hook.active === 1 };
}

const SettingsFrame: FC<PropsWithChildren<{ ctx: PageContext; place: HookPlace; title: string }>> = ({ ctx, place, title, children }) => {
  const head = <PageAssets ctx={ctx} styles={['webhooks.css']} />;
  if (!place.view) {
    return (
      <Layout ctx={ctx} title={`${title} · Site administration`} head={head}>
        <div class="split">
          <aside class="split-side">
            <p class="admin-eyebrow">Site administration</p>
            <AdminNav active="hooks" />
          </aside>
          <section class="split-main hooks-main">{children}</section>
        </div>
      </Layout>
    );
  }
  const { repo } = place.view;
  const settings = `/${repo.owner_name}/${repo.name}/settings`;
  return (
    <Layout ctx={ctx} title={`${title} · ${repo.owner_name}/${repo.name}`} band={<RepoHeader ctx={ctx} view={place.view} active="settings" />} head={head}>
      <div class="repo-body settings">
        <aside class="settings-nav">
          <nav class="card side-links" aria-label="Settings sections">
            <a href={`${settings}#general`}>
              <Icon name="gear" /> General
            </a>
            <a href={`${settings}#collaborators`}>
              <Icon name="people" /> Collaborators
            </a>
            <a href={place.base} class="active" aria-current="page">
              <Icon name="link" /> Webhooks
            </a>
            <a href={`${settings}#danger`} class="danger-link">
              <Icon name="alert" /> Danger zone
            </a>
          </nav>
        </aside>
        <div class="settings-main hooks-main">{children}</div>
      </div>
    </Layout>
  );
};

function deliveryOk(d: WebhookDelivery | null): 'ok' | 'failed' | 'pending' | 'none' {
  if (!d) return 'none';
  if (d.status === 'delivered') return 'ok';
  if (d.status === 'failed') return 'failed';
  return 'pending';
}

const StatusIcon: FC<{ delivery: WebhookDelivery | null }> = ({ delivery }) => {
  const state = deliveryOk(delivery);
  const label = { ok: 'Last delivery succeeded', failed: 'Last delivery failed', pending: 'Delivery in progress', none: 'Not delivered yet' }[state];
  const icon = state === 'ok' ? 'check' : state === 'failed' ? 'x' : state === 'pending' ? 'clock' : 'dot';
  return (
    <span class={`hook-status hook-status-${state}`} title={label}>
      <Icon name={icon} />
      <span class="sr-only">{label}</span>
    </span>
  );
};

function eventsSummary(events: string[]): string {
  if (events.includes('*')) return 'All events';
  return events.join(', ');
}

export const WebhooksListPage: FC<{ ctx: PageContext; place: HookPlace; hooks: HookRow[] }> = ({ ctx, place, hooks }) => (
  <SettingsFrame ctx={ctx} place={place} title="Webhooks">
    <section class="card" aria-labelledby="hooks-title">
      <div class="card-head hooks-head">
        <div>
          <h2 class="h3" id="hooks-title">
            {place.view ? 'Webhooks' : 'Server-wide webhooks'}
          </h2>
          <p class="muted hooks-intro">
            {place.view
              ? 'Webhooks POST a JSON (or form) payload to a URL when something happens in this repository, signed with your secret (X-Hub-Signature-256).'
              : "Server-wide webhooks receive the events of every repository on this server. They are signed with the hook's secret like repository webhooks."}
          </p>
        </div>
        <a class="btn btn-primary" href={`${place.base}/new`}>
          <Icon name="plus" /> Add webhook
        </a>
      </div>
      {hooks.length ? (
        <ul class="hook-list">
          {hooks.map(({ hook, events, last }) => (
            <li class="hook-item">
              <StatusIcon delivery={last} />
              <div class="hook-item-main">
                <a class="hook-url mono" href={`${place.base}/${hook.id}`}>
                  {hook.url}
                </a>
                <span class="muted hook-events">
                  {eventsSummary(events)}
                  {last && (
                    <>
                      {' · last delivery '}
                      <Time iso={last.updated_at} />
                      {last.status !== 'delivered' && last.status !== 'pending' && ` (${last.error ?? 'failed'})`}
                    </>
                  )}
                </span>
              </div>
              {hook.active ? <Badge kind="success">Active</Badge> : <Badge>Inactive</Badge>}
              <a class="btn btn-sm" href={`${place.base}/${hook.id}`}>
                <Icon name="pencil" /> <span class="hide-sm">Edit</span>
              </a>
            </li>
          ))}
        </ul>
      ) : (
        <EmptyState icon="link" title="No webhooks yet">
          <p class="muted">Add one to tell another service about pushes, pull requests, reviews, statuses and runs.</p>
        </EmptyState>
      )}
    </section>
  </SettingsFrame>
);

export interface HookFormPageProps {
  ctx: PageContext;
  place: HookPlace;
  /** Absent for a new hook. */
  hook?: Webhook;
  values: HookFormValues;
  error?: FormError | null;
  deliveries?: WebhookDelivery[];
  /** The cursor of older deliveries, if any. */
  olderCursor?: number | null;
  /** The delivery to show open. */
  openDelivery?: number | null;
}

const HookForm: FC<{ ctx: PageContext; action: string; values: HookFormValues; error?: FormError | null; editing: boolean }> = ({ ctx, action, values, error, editing }) => (
  <PostForm ctx={ctx} action={action} class="stack hook-form">
    <FormAlert error={error} />
    <div class="field">
      <label for="hook-url">Payload URL</label>
      <input type="url" id="hook-url" class="input mono" name="url" value={values.url} placeholder="https://example.com/postreceive" required maxlength={2048} autocomplete="off" spellcheck={false} aria-invalid={fieldInvalid(error, 'url') ? 'true' : undefined} aria-describedby="hook-url-hint" />
      <p class="hint" id="hook-url-hint">
        http or https. Addresses on loopback, link-local and private networks are refused unless the administrator allows them.
      </p>
    </div>
    <div class="field">
      <label for="hook-content-type">Content type</label>
      <select id="hook-content-type" class="input select" name="content_type">
        <option value="json" selected={values.contentType === 'json'}>
          application/json
        </option>
        <option value="form" selected={values.contentType === 'form'}>
          application/x-www-form-urlencoded
        </option>
      </select>
    </div>
    <div class="field">
      <label for="hook-secret">Secret</label>
      <input type="password" id="hook-secret" class="input mono" name="secret" value="" maxlength={512} autocomplete="new-password" placeholder={editing && values.hasSecret ? '•••••••• (stored; leave blank to keep it)' : ''} aria-invalid={fieldInvalid(error, 'secret') ? 'true' : undefined} />
      {editing && values.hasSecret && (
        <label class="checkbox-line">
          <input type="checkbox" name="remove_secret" value="1" /> Remove the secret (deliveries are no longer signed)
        </label>
      )}
      <p class="hint">Each delivery is signed with it: X-Hub-Signature-256 is the HMAC-SHA256 hex digest of the body. It is never shown again.</p>
    </div>
    <fieldset class="field choice-group">
      <legend>SSL verification</legend>
      <label class="checkbox-line">
        <input type="radio" name="insecure_ssl" value="0" checked={!values.insecureSsl} /> Verify the certificate (recommended)
      </label>
      <label class="checkbox-line">
        <input type="radio" name="insecure_ssl" value="1" checked={values.insecureSsl} /> Disable verification
      </label>
    </fieldset>
    <fieldset class="field choice-group" aria-invalid={fieldInvalid(error, 'events') ? 'true' : undefined}>
      <legend>Which events should trigger this webhook?</legend>
      <label class="checkbox-line">
        <input type="radio" name="mode" value="push" checked={values.mode === 'push'} /> Just the push event
      </label>
      <label class="checkbox-line">
        <input type="radio" name="mode" value="all" checked={values.mode === 'all'} /> Send me everything
      </label>
      <label class="checkbox-line">
        <input type="radio" name="mode" value="some" checked={values.mode === 'some'} /> Let me select individual events:
      </label>
      <div class="hook-events-grid">
        {WEBHOOK_EVENTS.map((e) => (
          <label class="hook-event">
            <input type="checkbox" name="events" value={e.name} checked={values.events.includes(e.name)} />
            <span>
              <strong class="mono">{e.name}</strong>
              <span class="hint">{e.description}</span>
            </span>
          </label>
        ))}
      </div>
    </fieldset>
    <label class="checkbox-line">
      <input type="checkbox" name="active" value="1" checked={values.active} /> <strong>Active</strong> — deliver events to this URL
    </label>
    <div class="form-actions">
      <button type="submit" class="btn btn-primary">
        {editing ? 'Update webhook' : 'Add webhook'}
      </button>
    </div>
  </PostForm>
);

function prettyJson(text: string | null): string {
  if (text === null) return '';
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function headerLines(text: string | null): string {
  if (!text) return '';
  try {
    return Object.entries(JSON.parse(text) as Record<string, string>)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n');
  } catch {
    return text;
  }
}

const DeliveryItem: FC<{ ctx: PageContext; base: string; hookId: number; delivery: WebhookDelivery; open: boolean }> = ({ ctx, base, hookId, delivery: d, open }) => {
  const state = deliveryOk(d);
  return (
    <li>
      <details class={`delivery delivery-${state}`} id={`delivery-${d.id}`} open={open}>
        <summary>
          <StatusIcon delivery={d} />
          <span class="mono delivery-guid">{d.guid}</span>
          <span class="delivery-event">
            <strong>{d.event}</strong>
            {d.action && <span class="muted">.{d.action}</span>}
          </span>
          {d.redelivery_of !== null && <Badge kind="accent">redelivery</Badge>}
          <span class="delivery-meta muted">
            {d.response_status !== null && <span class="delivery-code">{d.response_status}</span>}
            {d.duration_ms !== null && <span>{d.duration_ms} ms</span>}
            <Time iso={d.created_at} />
          </span>
        </summary>
        <div class="delivery-body">
          <div class="delivery-actions">
            <span class="muted">
              {state === 'ok' ? 'Delivered' : state === 'failed' ? `Failed: ${d.error ?? 'no response'}` : d.status === 'retrying' ? `Retrying after: ${d.error ?? 'an error'}` : 'Queued'}
              {d.attempts > 1 && ` · ${d.attempts} attempts`}
            </span>
            <PostForm ctx={ctx} action={`${base}/${hookId}/deliveries/${d.id}/redeliver`} class="inline-form">
              <button type="submit" class="btn btn-sm">
                <Icon name="retry" /> Redeliver
              </button>
            </PostForm>
          </div>
          <h4 class="delivery-section">Request</h4>
          <p class="mono delivery-url">POST {d.url}</p>
          {d.request_headers !== '{}' && <pre class="delivery-pre">{headerLines(d.request_headers)}</pre>}
          <pre class="delivery-pre delivery-payload">{prettyJson(d.request_body)}</pre>
          <h4 class="delivery-section">Response {d.response_status !== null && <span class="delivery-code">{d.response_status}</span>}</h4>
          {d.response_status === null ? (
            <p class="muted">{d.error ?? 'No response yet.'}</p>
          ) : (
            <>
              <pre class="delivery-pre">{headerLines(d.response_headers)}</pre>
              <pre class="delivery-pre">{d.response_body || '(empty body)'}</pre>
            </>
          )}
        </div>
      </details>
    </li>
  );
};

export const WebhookFormPage: FC<HookFormPageProps> = ({ ctx, place, hook, values, error, deliveries = [], olderCursor = null, openDelivery = null }) => (
  <SettingsFrame ctx={ctx} place={place} title={hook ? 'Manage webhook' : 'Add webhook'}>
    <p class="hooks-crumbs">
      <a href={place.base}>Webhooks</a> / {hook ? <span class="mono">{hook.url}</span> : 'Add webhook'}
    </p>
    <section class="card" aria-labelledby="hook-form-title">
      <div class="card-head">
        <h2 class="h3" id="hook-form-title">
          {hook ? 'Manage webhook' : 'Add webhook'}
        </h2>
      </div>
      <div class="card-pad">
        <HookForm ctx={ctx} action={hook ? `${place.base}/${hook.id}` : place.base} values={values} error={error} editing={!!hook} />
      </div>
    </section>
    {hook && (
      <section class="card" id="deliveries" aria-labelledby="deliveries-title">
        <div class="card-head hooks-head">
          <h2 class="h3" id="deliveries-title">
            Recent deliveries
          </h2>
          <PostForm ctx={ctx} action={`${place.base}/${hook.id}/ping`} class="inline-form">
            <button type="submit" class="btn btn-sm">
              <Icon name="bolt" /> Send a ping
            </button>
          </PostForm>
        </div>
        {deliveries.length ? (
          <ul class="delivery-list">
            {deliveries.map((d) => (
              <DeliveryItem ctx={ctx} base={place.base} hookId={hook.id} delivery={d} open={d.id === openDelivery} />
            ))}
          </ul>
        ) : (
          <EmptyState icon="clock" title="No deliveries yet">
            <p class="muted">Deliveries appear here with their request, response and duration.</p>
          </EmptyState>
        )}
        {olderCursor !== null && (
          <div class="card-pad card-foot">
            <a href={`${place.base}/${hook.id}?cursor=${olderCursor}#deliveries`}>Older deliveries</a>
          </div>
        )}
      </section>
    )}
    {hook && (
      <section class="card danger-zone" aria-labelledby="hook-delete-title">
        <div class="card-head">
          <h2 class="h3" id="hook-delete-title">
            Delete this webhook
          </h2>
        </div>
        <div class="card-pad danger-row">
          <p class="muted">Deliveries stop at once; its delivery log is deleted with it.</p>
          <PostForm ctx={ctx} action={`${place.base}/${hook.id}/delete`} class="inline-form">
            <button type="submit" class="btn btn-danger">
              <Icon name="trash" /> Delete webhook
            </button>
          </PostForm>
        </div>
      </section>
    )}
  </SettingsFrame>
);
