import { describe, expect, it } from 'vitest';
import { checkAddress, checkWebhookUrl, classifyAddress, parseAllowList, parseCidr, parseIpAddress, parseIPv6, type TargetPolicy } from '../../src/domain/ssrf.ts';

const strict: TargetPolicy = { allowPrivate: false, allowedHosts: [], allowedRanges: [] };

function cls(text: string) {
  const parsed = parseIpAddress(text);
  if (!parsed) throw new Error(`not an address: ${text}`);
  return classifyAddress(parsed);
}

describe('address classification', () => {
  it.each([
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.255', 'shared'],
    ['100.128.0.1', 'public'],
    ['169.254.169.254', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
  ])('IPv4 %s is %s', (address, expected) => {
    expect(cls(address)).toBe(expected);
  });

  it.each([
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['fc00::1', 'private'],
    ['fd12:3456:789a::1', 'private'],
    ['fec0::1', 'private'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['2606:4700:4700::1111', 'public'],
    ['2a00:1450:4001:80b::200e', 'public'],
    // IPv4-mapped, in both notations the parser may see
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['::ffff:8.8.8.8', 'public'],
    ['0:0:0:0:0:ffff:c0a8:0101', 'private'],
    // IPv4-compatible, NAT64 and 6to4 forms judged by the address inside
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['64:ff9b::808:808', 'public'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:c0a8:101::1', 'private'],
    ['2002:808:808::1', 'public'],
  ])('IPv6 %s is %s', (address, expected) => {
    expect(cls(address)).toBe(expected);
  });

  it('parses IPv6 strictly', () => {
    expect(parseIPv6('1:2:3:4:5:6:7:8')).toHaveLength(16);
    expect(parseIPv6('[::1]')).toHaveLength(16);
    for (const bad of ['1:2:3:4:5:6:7:8:9', '1::2::3', ':::', '12345::', 'g::1', '::1%eth0', '::ffff:999.0.0.1', '1.2.3.4']) expect(parseIPv6(bad), bad).toBeNull();
  });

  it('reads only canonical dotted quads as IPv4 (the URL parser normalizes the rest first)', () => {
    expect(parseIpAddress('127.0.0.1')?.family).toBe(4);
    for (const odd of ['0177.0.0.1', '0x7f.0.0.1', '2130706433', '127.1', '256.0.0.1']) expect(parseIpAddress(odd), odd).toBeNull();
  });
});

describe('webhook URLs', () => {
  it.each([
    ['http://127.0.0.1/', 'loopback'],
    ['http://2130706433/', 'loopback'], // decimal
    ['http://0x7f.1/', 'loopback'], // hex, short form
    ['http://0177.0.0.1/', 'loopback'], // octal
    ['http://017700000001/', 'loopback'], // octal, one number
    ['http://127.1/', 'loopback'],
    ['http://[::1]:8080/hook', 'loopback'],
    ['http://[::ffff:127.0.0.1]/', 'loopback'],
    ['http://[::ffff:169.254.169.254]/latest/meta-data', 'link-local'],
    ['http://169.254.169.254/latest/meta-data', 'link-local'],
    ['http://10.0.0.5/', 'private network'],
    ['https://192.168.0.1/', 'private network'],
    ['http://100.64.1.1/', 'carrier-grade NAT'],
    ['http://0.0.0.0:3000/', 'unspecified'],
    ['http://[::]/', 'unspecified'],
    ['http://[fd00::1]/', 'private network'],
    ['http://[fe80::1]/', 'link-local'],
    ['http://224.0.0.1/', 'multicast'],
  ])('refuses %s (%s)', (url, words) => {
    const verdict = checkWebhookUrl(url, strict);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) {
      expect(verdict.message).toContain(words);
      expect(verdict.message).toContain('GITOKU_WEBHOOK_ALLOW_PRIVATE');
    }
  });

  it('refuses localhost names without resolving them', () => {
    for (const url of ['http://localhost/', 'http://LOCALHOST.:8080/', 'http://api.localhost/']) {
      const verdict = checkWebhookUrl(url, strict);
      expect(verdict.ok, url).toBe(false);
    }
  });

  it('refuses other schemes, credentials and nonsense', () => {
    const cases: [string, string][] = [
      ['ftp://example.com/', 'http or https'],
      ['file:///etc/passwd', 'http or https'],
      ['gopher://example.com/', 'http or https'],
      ['javascript:alert(1)', 'http or https'],
      ['http://user:pass@example.com/', 'user name or password'],
      ['http://user@example.com/', 'user name or password'],
      ['not a url', 'absolute'],
      ['/relative/path', 'absolute'],
      [`http://example.com/${'a'.repeat(2100)}`, 'too long'],
    ];
    for (const [url, words] of cases) {
      const verdict = checkWebhookUrl(url, strict);
      expect(verdict.ok, url).toBe(false);
      if (!verdict.ok) expect(verdict.message, url).toContain(words);
    }
  });

  it('accepts public targets and names (names are checked after resolution)', () => {
    for (const url of ['https://example.com/hook', 'http://8.8.8.8:8080/x?y=1', 'https://[2606:4700:4700::1111]/']) {
      const verdict = checkWebhookUrl(url, strict);
      expect(verdict.ok, url).toBe(true);
    }
    const named = checkWebhookUrl('https://Hooks.Example.com:8443/a', strict);
    expect(named.ok && named.host).toBe('hooks.example.com');
    expect(named.ok && named.port).toBe(8443);
    expect(named.ok && named.address).toBeNull();
  });
});

describe("the administrator's allowance", () => {
  it('GITOKU_WEBHOOK_ALLOW_PRIVATE opens internal ranges but not unspecified or multicast', () => {
    const open: TargetPolicy = { allowPrivate: true, allowedHosts: [], allowedRanges: [] };
    for (const url of ['http://127.0.0.1/', 'http://10.0.0.1/', 'http://[fd00::1]/', 'http://localhost/', 'http://169.254.1.1/']) expect(checkWebhookUrl(url, open).ok, url).toBe(true);
    for (const url of ['http://0.0.0.0/', 'http://224.0.0.1/', 'http://[ff02::1]/']) expect(checkWebhookUrl(url, open).ok, url).toBe(false);
  });

  it('an allow-list of hosts and CIDRs opens exactly those', () => {
    const list = parseAllowList('127.0.0.1, 10.20.0.0/16 hooks.internal ,[fd00::]/8');
    expect(list.hosts).toEqual(['hooks.internal']);
    expect(list.ranges).toHaveLength(3);
    const policy: TargetPolicy = { allowPrivate: false, allowedHosts: list.hosts, allowedRanges: list.ranges };
    expect(checkWebhookUrl('http://127.0.0.1:4000/', policy).ok).toBe(true);
    expect(checkWebhookUrl('http://[::ffff:127.0.0.1]/', policy).ok).toBe(true); // mapped form of an allowed address
    expect(checkWebhookUrl('http://127.0.0.2/', policy).ok).toBe(false);
    expect(checkWebhookUrl('http://10.20.5.5/', policy).ok).toBe(true);
    expect(checkWebhookUrl('http://10.21.0.1/', policy).ok).toBe(false);
    expect(checkWebhookUrl('http://[fd12::1]/', policy).ok).toBe(true);
    // A named host is allowed whatever it resolves to; other names still are checked.
    expect(checkAddress('hooks.internal', parseIpAddress('10.9.9.9')!, '10.9.9.9', policy).ok).toBe(true);
    expect(checkAddress('evil.example', parseIpAddress('10.9.9.9')!, '10.9.9.9', policy).ok).toBe(false);
  });

  it('rejects malformed allow-list entries', () => {
    expect(() => parseAllowList('10.0.0.0/33')).toThrow(/neither/);
    expect(() => parseAllowList('http://x/')).toThrow(/neither/);
    expect(parseCidr('10.0.0.0/8')?.bits).toBe(8);
    expect(parseCidr('::1')?.bits).toBe(128);
    expect(parseCidr('1.2.3.4/x')).toBeNull();
  });
});
