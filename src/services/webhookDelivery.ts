import { createHmac } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { AppContext } from './app.ts';
import { now } from './app.ts';
import type { Job, Webhook, WebhookDelivery } from '../db/schema.ts';
import { checkAddress, checkWebhookUrl, parseIpAddress, type TargetPolicy } from '../domain/ssrf.ts';
import { registerServerJobKind, type ServerJobOutcome } from './jobKinds.ts';

export const WEBHOOK_JOB_KIND = 'webhook_delivery';
/** Attempts per delivery; between them the queue's backoff (2 s, 4 s, 8 s … at most 5 minutes). */
export const WEBHOOK_MAX_ATTEMPTS = 8;
/** A target gets this long to answer (connection, headers and body). */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** Stored response bodies are cut here. */
export const RESPONSE_BODY_LIMIT = 64 * 1024;
export const USER_AGENT = 'gitoku-Hookshot/0.1';

/** A target refused by the address policy (never retried). */
class BlockedTargetError extends Error {}

/** Resolves a name and checks every address it has; all must be allowed. */
function lookupChecked(policy: TargetPolicy, host: string, callback: (err: Error | null, addresses: LookupAddress[]) => void): void {
  dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => {
    if (err) return callback(err, []);
    for (const a of addresses) {
      const parsed = parseIpAddress(a.address);
      if (!parsed) return callback(new BlockedTargetError(`${host} resolved to an unreadable address (${a.address})`), []);
      const verdict = checkAddress(host, parsed, a.address, policy);
      if (!verdict.ok) return callback(new BlockedTargetError(verdict.message), []);
    }
    if (addresses.length === 0) return callback(new Error(`${host} has no addresses`), []);
    callback(null, addresses);
  });
}

/**
 * Checks a hook's URL when it is created or changed: its form, an IP literal's class, and the
 * addresses its name resolves to now. A name that does not resolve now is accepted (it is checked
 * again, after resolution, at every delivery). Returns the problem, or null.
 */
export async function checkHookTarget(app: AppContext, url: string): Promise<string | null> {
  const verdict = checkWebhookUrl(url, app.config.webhooks);
  if (!verdict.ok) return verdict.message;
  if (verdict.address) return null;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), 3000);
    lookupChecked(app.config.webhooks, verdict.host, (err) => {
      clearTimeout(timer);
      resolve(err instanceof BlockedTargetError ? err.message : null);
    });
  });
}

export interface AttemptResult {
  statusCode: number | null;
  headers: Record<string, string>;
  body: string;
  durationMs: number;
  error: string | null;
  /** Worth another attempt later (network trouble, timeout, 408/429/5xx). */
  retryable: boolean;
}

export function signatures(secret: string, body: string): Record<string, string> {
  if (!secret) return {};
  return {
    'X-Hub-Signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
    'X-Hub-Signature': `sha1=${createHmac('sha1', secret).update(body).digest('hex')}`,
  };
}

/**
 * POSTs one delivery. The connection goes to an address checked against the policy: an IP literal
 * as checked, a name through a lookup that checks every address it returns and hands exactly those
 * to the socket (no second resolution that DNS rebinding could answer differently). No redirects are
 * followed; the whole exchange has WEBHOOK_TIMEOUT_MS.
 */
export function sendWebhook(policy: TargetPolicy, target: { url: string; insecureSsl: boolean }, headers: Record<string, string>, body: string, signal: AbortSignal, timeoutMs = WEBHOOK_TIMEOUT_MS): Promise<AttemptResult> {
  const started = Date.now();
  const done = (r: Omit<AttemptResult, 'durationMs'>): AttemptResult => ({ ...r, durationMs: Date.now() - started });
  const verdict = checkWebhookUrl(target.url, policy);
  if (!verdict.ok) return Promise.resolve(done({ statusCode: null, headers: {}, body: '', error: verdict.message, retryable: false }));
  const { url, host } = verdict;
  const isHttps = url.protocol === 'https:';
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: Omit<AttemptResult, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(done(r));
    };
    const options: https.RequestOptions = {
      method: 'POST',
      hostname: host,
      port: verdict.port,
      path: `${url.pathname}${url.search}`,
      headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
      agent: false,
      lookup: ((hostname: string, opts: { all?: boolean; family?: number }, callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void) => {
        lookupChecked(policy, hostname, (err, addresses) => {
          if (err) return callback(err, '', 4);
          const wanted = opts.family === 4 || opts.family === 6 ? addresses.filter((a) => a.family === opts.family) : addresses;
          if (wanted.length === 0) return callback(new Error(`${hostname} has no IPv${opts.family} address`), '', 4);
          if (opts.all) callback(null, wanted);
          else callback(null, wanted[0]!.address, wanted[0]!.family);
        });
      }) as unknown as https.RequestOptions['lookup'],
      ...(isHttps ? { rejectUnauthorized: !target.insecureSsl, servername: verdict.address ? undefined : host } : {}),
    };
    const req = (isHttps ? https : http).request(options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      const responseHeaders: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) responseHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
      const status = res.statusCode ?? 0;
      const complete = () => {
        const text = Buffer.concat(chunks).toString('utf8') + (truncated ? '\n… (truncated)' : '');
        const ok = status >= 200 && status < 300;
        const retryable = !ok && (status >= 500 || status === 408 || status === 429);
        finish({ statusCode: status, headers: responseHeaders, body: text.replace(/\0/g, ''), error: ok ? null : `Invalid HTTP Response: ${status}`, retryable });
      };
      res.on('data', (chunk: Buffer) => {
        if (truncated) return;
        size += chunk.length;
        if (size > RESPONSE_BODY_LIMIT) {
          chunks.push(chunk.subarray(0, chunk.length - (size - RESPONSE_BODY_LIMIT)));
          truncated = true;
          complete();
          res.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', complete);
      res.on('error', (err) => finish({ statusCode: status, headers: responseHeaders, body: '', error: err.message, retryable: true }));
    });
    const timer = setTimeout(() => {
      finish({ statusCode: null, headers: {}, body: '', error: `timed out after ${Math.round(timeoutMs / 1000)} s`, retryable: true });
      req.destroy();
    }, timeoutMs);
    const onAbort = () => {
      finish({ statusCode: null, headers: {}, body: '', error: 'aborted (server stopping)', retryable: true });
      req.destroy();
    };
    signal.addEventListener('abort', onAbort);
    req.on('error', (err) => {
      const blocked = err instanceof BlockedTargetError;
      finish({ statusCode: null, headers: {}, body: '', error: blocked ? `refused: ${err.message}` : err.message, retryable: !blocked });
    });
    req.end(body);
  });
}

/** The request a delivery sends: headers (signed with the hook's current secret) and body. */
export function deliveryRequest(hook: Webhook, delivery: WebhookDelivery): { headers: Record<string, string>; body: string } {
  const form = hook.content_type === 'form';
  const body = form ? `payload=${encodeURIComponent(delivery.request_body)}` : delivery.request_body;
  const target = hook.repository_id === null ? 'integration' : 'repository';
  const headers: Record<string, string> = {
    Accept: '*/*',
    'Content-Type': form ? 'application/x-www-form-urlencoded' : 'application/json',
    'User-Agent': USER_AGENT,
    'X-GitHub-Event': delivery.event,
    'X-GitHub-Delivery': delivery.guid,
    'X-GitHub-Hook-ID': String(hook.id),
    'X-GitHub-Hook-Installation-Target-Type': target,
    'X-GitHub-Hook-Installation-Target-ID': String(hook.repository_id ?? 0),
    'X-Gitoku-Event': delivery.event,
    'X-Gitoku-Delivery': delivery.guid,
    'X-Gitoku-Hook-ID': String(hook.id),
    ...signatures(hook.secret, body),
  };
  return { headers, body };
}

/** One attempt of a delivery job: send, record the attempt on the delivery, say whether to retry. */
async function executeDelivery(app: AppContext, job: Job, signal: AbortSignal): Promise<ServerJobOutcome> {
  const id = Number((JSON.parse(job.payload) as { delivery_id?: unknown }).delivery_id);
  const delivery = await app.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
  if (!delivery) return { status: 'failed', error: 'the delivery no longer exists' };
  const hook = await app.db.selectFrom('webhooks').selectAll().where('id', '=', delivery.hook_id).executeTakeFirst();
  if (!hook) return { status: 'failed', error: 'the hook no longer exists' };
  const { headers, body } = deliveryRequest(hook, delivery);
  const result = await sendWebhook(app.config.webhooks, { url: hook.url, insecureSsl: hook.insecure_ssl === 1 }, headers, body, signal);
  if (signal.aborted) return { status: 'retry', error: 'aborted' };
  const ok = result.error === null;
  const final = ok || !result.retryable || job.attempts >= job.max_attempts;
  const at = now();
  await app.db
    .updateTable('webhook_deliveries')
    .set({
      url: hook.url,
      request_headers: JSON.stringify(headers),
      response_status: result.statusCode,
      response_headers: result.statusCode === null ? null : JSON.stringify(result.headers),
      response_body: result.statusCode === null ? null : result.body,
      error: result.error,
      duration_ms: result.durationMs,
      status: ok ? 'delivered' : final ? 'failed' : 'retrying',
      attempts: job.attempts,
      delivered_at: at,
      updated_at: at,
    })
    .where('id', '=', delivery.id)
    .execute();
  if (ok) return { status: 'succeeded', result: { status: result.statusCode } };
  return { status: result.retryable ? 'retry' : 'failed', error: result.error ?? 'failed' };
}

/**
 * A delivery job that ended without its attempt recording an outcome — no attempts left after errors,
 * an expired lease with none left, or cancelled — ends its delivery as failed with the job's reason,
 * so the delivery log never shows it pending forever. A delivery already delivered or failed is kept.
 */
async function closeDelivery(app: AppContext, job: Job): Promise<void> {
  const id = Number((JSON.parse(job.payload) as { delivery_id?: unknown }).delivery_id);
  if (!Number.isSafeInteger(id)) return;
  const current = await app.db.selectFrom('jobs').select(['status', 'last_error', 'attempts']).where('id', '=', job.id).executeTakeFirst();
  const status = current?.status ?? job.status;
  if (status !== 'failed' && status !== 'cancelled') return;
  const reason = current?.last_error ?? job.last_error ?? 'no reason recorded';
  const at = now();
  await app.db
    .updateTable('webhook_deliveries')
    .set({ status: 'failed', error: `delivery job ${status}: ${reason}`.slice(0, 2000), attempts: current?.attempts ?? job.attempts, updated_at: at })
    .where('id', '=', id)
    .where('status', 'in', ['pending', 'retrying'])
    .execute();
}

registerServerJobKind(WEBHOOK_JOB_KIND, { execute: executeDelivery, closed: closeDelivery });
