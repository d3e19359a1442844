import { request, type IncomingHttpHeaders } from 'node:http';
import type { TestServer } from './server.ts';

/** A browser-like client of the HTML pages over fetch: cookies, the CSRF field, forms. */
export interface FormSession {
  cookie: string;
  csrf: string;
  /** The session cookie's value ('' when signed out). */
  session: string;
  get(path: string): Promise<{ status: number; html: string; location: string | null }>;
  post(path: string, fields: Record<string, string>): Promise<{ status: number; html: string; location: string | null; headers: Headers }>;
  postMultipart(path: string, form: FormData): Promise<{ status: number; html: string; location: string | null }>;
}

function cookieValue(headers: Headers, name: string): string | null {
  const c = headers.getSetCookie().find((v) => v.startsWith(`${name}=`));
  return c ? c.split(';')[0]!.slice(name.length + 1) : null;
}

/**
 * Signs in through the real sign-in form (so the session records this user agent and address);
 * returns null with the status when the form refused. `address` goes in X-Forwarded-For (for servers
 * started with GITOKU_TRUST_PROXY, so back-off counts stay apart between tests).
 */
export async function signInWithForm(server: TestServer, username: string, password: string, opts: { userAgent?: string; address?: string } = {}): Promise<{ session: FormSession | null; status: number; html: string }> {
  const base: Record<string, string> = { 'User-Agent': opts.userAgent ?? 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0' };
  if (opts.address) base['X-Forwarded-For'] = opts.address;
  const first = await fetch(`${server.url}/-/login`, { headers: base });
  const csrfCookie = cookieValue(first.headers, 'gitoku_csrf')!;
  const csrf = /name="_csrf" value="([0-9a-f]+)"/.exec(await first.text())![1]!;
  const res = await fetch(`${server.url}/-/login`, {
    method: 'POST',
    headers: { ...base, Cookie: `gitoku_csrf=${csrfCookie}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, username, password }),
    redirect: 'manual',
  });
  const html = await res.text();
  const session = cookieValue(res.headers, 'gitoku_session');
  if (res.status !== 303 || !session) return { session: null, status: res.status, html };
  return { session: formSession(server, `gitoku_session=${session}; gitoku_csrf=${csrfCookie}`, csrf, session, base), status: res.status, html };
}

export function formSession(server: TestServer, cookie: string, csrf: string, session: string, headers: Record<string, string> = {}): FormSession {
  // A tiny cookie jar: what the server sets (the flash message, a new session) goes with the next request.
  const jar = new Map(cookie.split('; ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as [string, string]));
  const header = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const keep = (res: Response) => {
    for (const set of res.headers.getSetCookie()) {
      const [kv = '', ...attrs] = set.split(';');
      const name = kv.slice(0, kv.indexOf('='));
      const value = kv.slice(kv.indexOf('=') + 1);
      if (!value || attrs.some((a) => /max-age=0\b/i.test(a.trim()) || /expires=Thu, 01 Jan 1970/i.test(a.trim()))) jar.delete(name);
      else jar.set(name, value);
    }
  };
  const self: FormSession = {
    get cookie() {
      return header();
    },
    csrf,
    session,
    async get(path) {
      const res = await fetch(`${server.url}${path}`, { headers: { ...headers, Cookie: header() }, redirect: 'manual' });
      keep(res);
      return { status: res.status, html: await res.text(), location: res.headers.get('location') };
    },
    async post(path, fields) {
      const res = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { ...headers, Cookie: header(), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf, ...fields }),
        redirect: 'manual',
      });
      keep(res);
      return { status: res.status, html: await res.text(), location: res.headers.get('location'), headers: res.headers };
    },
    async postMultipart(path, form) {
      form.set('_csrf', csrf);
      // On a connection of its own: a server that refuses an upload early closes it, and fetch's
      // pool would otherwise hand that socket to the next request.
      const encoded = new Response(form);
      const body = Buffer.from(await encoded.arrayBuffer());
      const res = await new Promise<{ status: number; html: string; headers: IncomingHttpHeaders }>((resolve, reject) => {
        const req = request(`${server.url}${path}`, { method: 'POST', agent: false, headers: { ...headers, Cookie: header(), 'content-type': encoded.headers.get('content-type')!, 'content-length': String(body.length) } }, (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (d: Buffer) => chunks.push(d));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, html: Buffer.concat(chunks).toString('utf8'), headers: r.headers }));
          r.on('error', reject);
        });
        req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
        req.end(body);
      });
      const setCookies = res.headers['set-cookie'] ?? [];
      keep({ headers: { getSetCookie: () => setCookies } } as unknown as Response);
      const location = res.headers.location;
      return { status: res.status, html: res.html, location: typeof location === 'string' ? location : null };
    },
  };
  return self;
}

/** The flash message the next page shows (after a redirect). */
export function flashOf(html: string): string {
  return /class="flash flash-\w+"[^>]*>[\s\S]*?<span>([\s\S]*?)<\/span>/.exec(html)?.[1] ?? '';
}
