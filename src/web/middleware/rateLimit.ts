import { isIP } from 'node:net';
import type { Context } from 'hono';
import type { WebEnv } from '../context.ts';

/**
 * The client address that credential back-off is keyed on (services/auth.ts). The socket's peer, or,
 * with GITOKU_TRUST_PROXY, the last X-Forwarded-For entry (the one our own reverse proxy appended;
 * earlier entries are whatever the client sent). IPv6 addresses count by their /64 network, which
 * one client usually holds whole.
 */
export function clientAddress(c: Context<WebEnv>): string {
  if (c.get('app').config.trustProxy) {
    const forwarded = c.req.header('x-forwarded-for');
    const last = forwarded?.split(',').pop()?.trim();
    if (last && isIP(last)) return addressKey(last);
  }
  return addressKey(c.env?.incoming?.socket?.remoteAddress ?? 'unknown');
}

/** `::ffff:1.2.3.4` → `1.2.3.4`; an IPv6 address → its /64 prefix (`2001:db8:0:1::/64`). */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIP(address) !== 6) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const width = (parts: string[]) => parts.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0); // a dotted IPv4 tail is two groups
  const groups = address.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - width(left) - width(right))).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/** Headers of a 429 answer: when to come back. */
export function retryAfterHeaders(retryAfterSeconds: number): Record<string, string> {
  return { 'Retry-After': String(retryAfterSeconds) };
}

/** The JSON API's 429 for a client that failed to authenticate too often. */
export function tooManyAttempts(c: Context<WebEnv>, retryAfterSeconds: number): Response {
  return c.json({ message: `Too many failed authentication attempts; try again in ${retryAfterSeconds} s` }, 429, retryAfterHeaders(retryAfterSeconds));
}
