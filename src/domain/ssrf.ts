/**
 * Which network addresses a server-side request (a webhook delivery) may reach: pure classification
 * of IPv4 and IPv6 addresses and of webhook URLs, no I/O. The delivery code resolves names, checks
 * every resolved address here and connects to the address it checked (no second lookup to rebind).
 *
 * IP literals are read as the WHATWG URL parser reads them, so `http://2130706433/`, `http://0x7f.1/`
 * and `http://0177.0.0.1/` are 127.0.0.1; IPv6 forms that embed an IPv4 address (IPv4-mapped
 * `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged
 * by the embedded address.
 */

export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  /** 100.64.0.0/10, carrier-grade NAT. */
  | 'shared'
  | 'link-local'
  | 'unspecified'
  | 'multicast'
  /** Documentation, benchmarking, broadcast, reserved-for-future ranges: nothing a webhook should reach. */
  | 'reserved';

/** The classes an administrator's "allow private targets" switch opens (never unspecified or multicast). */
export const PRIVATE_CLASSES: readonly AddressClass[] = ['loopback', 'private', 'shared', 'link-local', 'reserved'];

const CLASS_LABEL: Record<AddressClass, string> = {
  public: 'a public address',
  loopback: 'a loopback address',
  private: 'a private network address',
  shared: 'a carrier-grade NAT (shared) address',
  'link-local': 'a link-local address',
  unspecified: 'the unspecified address',
  multicast: 'a multicast address',
  reserved: 'a reserved address',
};

export function describeAddressClass(cls: AddressClass): string {
  return CLASS_LABEL[cls];
}

/** Parses a dotted-quad IPv4 address (strict: four decimal parts 0..255, no leading zeros). */
export function parseIPv4(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    bytes.push(n);
  }
  return bytes;
}

/** Parses an IPv6 address (with an optional trailing dotted IPv4, no zone id) into 16 bytes. */
export function parseIPv6(text: string): number[] | null {
  let s = text;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  if (s.includes('%') || s.length < 2) return null;
  const lastColon = s.lastIndexOf(':');
  if (lastColon >= 0 && s.slice(lastColon + 1).includes('.')) {
    // A trailing dotted IPv4 address stands for the last two groups.
    const v4 = parseIPv4(s.slice(lastColon + 1));
    if (!v4) return null;
    s = `${s.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const group = (g: string) => (/^[0-9a-fA-F]{1,4}$/.test(g) ? parseInt(g, 16) : NaN);
  const head = halves[0] ? halves[0].split(':').map(group) : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':').map(group) : [];
  if ([...head, ...rest].some((n) => Number.isNaN(n))) return null;
  const explicit = head.length + rest.length;
  let words: number[];
  if (halves.length === 2) {
    if (explicit > 7) return null;
    words = [...head, ...new Array<number>(8 - explicit).fill(0), ...rest];
  } else {
    if (explicit !== 8) return null;
    words = head;
  }
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

function inV4(b: number[], base: [number, number, number, number], bits: number): boolean {
  for (let i = 0; i < 4; i++) {
    const take = Math.max(0, Math.min(8, bits - i * 8));
    if (take === 0) return true;
    const mask = (0xff << (8 - take)) & 0xff;
    if ((b[i]! & mask) !== (base[i]! & mask)) return false;
  }
  return true;
}

const V4_RANGES: [[number, number, number, number], number, AddressClass][] = [
  [[0, 0, 0, 0], 8, 'unspecified'],
  [[10, 0, 0, 0], 8, 'private'],
  [[100, 64, 0, 0], 10, 'shared'],
  [[127, 0, 0, 0], 8, 'loopback'],
  [[169, 254, 0, 0], 16, 'link-local'],
  [[172, 16, 0, 0], 12, 'private'],
  [[192, 0, 0, 0], 24, 'reserved'],
  [[192, 0, 2, 0], 24, 'reserved'],
  [[192, 88, 99, 0], 24, 'reserved'],
  [[192, 168, 0, 0], 16, 'private'],
  [[198, 18, 0, 0], 15, 'reserved'],
  [[198, 51, 100, 0], 24, 'reserved'],
  [[203, 0, 113, 0], 24, 'reserved'],
  [[224, 0, 0, 0], 4, 'multicast'],
  [[240, 0, 0, 0], 4, 'reserved'],
];

export function classifyIPv4(bytes: number[]): AddressClass {
  for (const [base, bits, cls] of V4_RANGES) if (inV4(bytes, base, bits)) return cls;
  return 'public';
}

function startsWith(bytes: number[], prefix: number[]): boolean {
  return prefix.every((b, i) => bytes[i] === b);
}

export function classifyIPv6(b: number[]): AddressClass {
  const zeros = (n: number) => b.slice(0, n).every((x) => x === 0);
  if (zeros(16)) return 'unspecified';
  if (zeros(15) && b[15] === 1) return 'loopback';
  // IPv4-mapped ::ffff:0:0/96 and IPv4-compatible ::/96: the embedded address decides.
  if (zeros(10) && b[10] === 0xff && b[11] === 0xff) return classifyIPv4(b.slice(12));
  if (zeros(12)) return classifyIPv4(b.slice(12));
  // IPv4/IPv6 translation (NAT64) 64:ff9b::/96 and 64:ff9b:1::/48.
  if (startsWith(b, [0x00, 0x64, 0xff, 0x9b]) && b.slice(4, 12).every((x) => x === 0)) return classifyIPv4(b.slice(12));
  if (startsWith(b, [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01])) return 'reserved';
  // 6to4 2002::/16 carries an IPv4 address in bits 16..47.
  if (b[0] === 0x20 && b[1] === 0x02) {
    const inner = classifyIPv4(b.slice(2, 6));
    return inner === 'public' ? 'public' : inner;
  }
  if ((b[0]! & 0xfe) === 0xfc) return 'private'; // fc00::/7 unique local
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'link-local'; // fe80::/10
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return 'private'; // fec0::/10 site-local (deprecated)
  if (b[0] === 0xff) return 'multicast';
  if (startsWith(b, [0x01, 0x00, 0, 0, 0, 0, 0, 0])) return 'reserved'; // 100::/64 discard
  if (startsWith(b, [0x20, 0x01, 0x0d, 0xb8])) return 'reserved'; // documentation
  if (startsWith(b, [0x20, 0x01]) && b[2]! < 0x02) return 'reserved'; // 2001::/23 IETF protocol assignments (Teredo, ORCHID …)
  if ((b[0]! & 0xe0) !== 0x20) return 'reserved'; // outside 2000::/3, the global unicast space
  return 'public';
}

export interface ParsedAddress {
  family: 4 | 6;
  bytes: number[];
}

/** An IP address in canonical text (as `dns.lookup` or the URL parser give them), or null for a name. */
export function parseIpAddress(text: string): ParsedAddress | null {
  const v4 = parseIPv4(text);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIPv6(text);
  return v6 ? { family: 6, bytes: v6 } : null;
}

export function classifyAddress(address: ParsedAddress): AddressClass {
  return address.family === 4 ? classifyIPv4(address.bytes) : classifyIPv6(address.bytes);
}

/** An administrator's allowance: named hosts (exact, case-insensitive) and address ranges. */
export interface TargetPolicy {
  /** Allow every class in PRIVATE_CLASSES (GITOKU_WEBHOOK_ALLOW_PRIVATE). */
  allowPrivate: boolean;
  /** GITOKU_WEBHOOK_ALLOWED_HOSTS: host names and CIDRs (or single addresses). */
  allowedHosts: readonly string[];
  allowedRanges: readonly Cidr[];
}

export interface Cidr {
  family: 4 | 6;
  bytes: number[];
  bits: number;
}

/** Parses `10.0.0.0/8`, `fd00::/8` or a single address (a /32 or /128); null when it is neither. */
export function parseCidr(text: string): Cidr | null {
  const [addr, bitsText, extra] = text.trim().split('/');
  if (extra !== undefined || !addr) return null;
  const parsed = parseIpAddress(addr);
  if (!parsed) return null;
  const max = parsed.family === 4 ? 32 : 128;
  if (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText)) return null;
  const bits = bitsText === undefined ? max : Number(bitsText);
  if (bits > max) return null;
  return { family: parsed.family, bytes: parsed.bytes, bits };
}

function inCidr(address: ParsedAddress, cidr: Cidr): boolean {
  // An IPv4-mapped IPv6 address matches IPv4 ranges (and the reverse) by its embedded address.
  let bytes = address.bytes;
  if (address.family !== cidr.family) {
    if (address.family === 6 && bytes.slice(0, 10).every((x) => x === 0) && bytes[10] === 0xff && bytes[11] === 0xff) bytes = bytes.slice(12);
    else return false;
  }
  for (let bit = 0; bit < cidr.bits; bit++) {
    const i = bit >> 3;
    const m = 0x80 >> (bit & 7);
    if ((bytes[i]! & m) !== (cidr.bytes[i]! & m)) return false;
  }
  return true;
}

/** Splits GITOKU_WEBHOOK_ALLOWED_HOSTS into names and ranges; throws naming a bad entry. */
export function parseAllowList(text: string): { hosts: string[]; ranges: Cidr[] } {
  const hosts: string[] = [];
  const ranges: Cidr[] = [];
  for (const raw of text.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    const cidr = parseCidr(entry.replace(/^\[(.*)\](\/\d+)?$/, '$1$2'));
    if (cidr) ranges.push(cidr);
    else if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/.test(entry) && !/^[\d.]+$/.test(entry)) hosts.push(entry.replace(/\.$/, ''));
    else throw new Error(`"${raw}" is neither a host name nor an address range (CIDR)`);
  }
  return { hosts, ranges };
}

export type AddressVerdict = { ok: true; cls: AddressClass } | { ok: false; cls: AddressClass; message: string };

/** Whether a resolved address may be connected to for `host` under the policy. */
export function checkAddress(host: string, address: ParsedAddress, addressText: string, policy: TargetPolicy): AddressVerdict {
  const cls = classifyAddress(address);
  if (cls === 'public') return { ok: true, cls };
  if (policy.allowedHosts.includes(normalizeHost(host))) return { ok: true, cls };
  if (policy.allowedRanges.some((r) => inCidr(address, r))) return { ok: true, cls };
  if (policy.allowPrivate && PRIVATE_CLASSES.includes(cls)) return { ok: true, cls };
  const where = normalizeHost(host) === addressText.toLowerCase() ? addressText : `${host} (${addressText})`;
  return { ok: false, cls, message: `${where} is ${describeAddressClass(cls)}; webhooks may not target internal networks unless the administrator allows it (GITOKU_WEBHOOK_ALLOW_PRIVATE or GITOKU_WEBHOOK_ALLOWED_HOSTS)` };
}

export function normalizeHost(host: string): string {
  return host.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
}

export type UrlVerdict =
  | { ok: true; url: URL; host: string; port: number; address: ParsedAddress | null }
  | { ok: false; message: string };

/**
 * Checks a webhook URL's form: http(s), no credentials, a host, and — for an IP literal (in any form
 * the URL parser accepts) or a `localhost` name — the address policy. Names are checked again after
 * resolution, at create time and at delivery time.
 */
export function checkWebhookUrl(text: string, policy: TargetPolicy): UrlVerdict {
  if (text.length > 2048) return { ok: false, message: 'the URL is too long (at most 2048 characters)' };
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return { ok: false, message: 'the URL must be an absolute http:// or https:// URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, message: `the URL must use http or https, not ${url.protocol.replace(/:$/, '')}` };
  if (url.username || url.password) return { ok: false, message: 'the URL must not contain a user name or password (the secret authenticates deliveries)' };
  const host = normalizeHost(url.hostname);
  if (!host) return { ok: false, message: 'the URL must name a host' };
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const address = parseIpAddress(host);
  if (address) {
    const verdict = checkAddress(host, address, host, policy);
    if (!verdict.ok) return { ok: false, message: verdict.message };
    return { ok: true, url, host, port, address };
  }
  if ((host === 'localhost' || host.endsWith('.localhost')) && !policy.allowedHosts.includes(host) && !policy.allowPrivate) {
    return { ok: false, message: `${host} is a loopback name; webhooks may not target internal networks unless the administrator allows it (GITOKU_WEBHOOK_ALLOW_PRIVATE or GITOKU_WEBHOOK_ALLOWED_HOSTS)` };
  }
  return { ok: true, url, host, port, address: null };
}
