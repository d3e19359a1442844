import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startTestServer, createTestUser, api, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { authUrl, gitCli, tempDir } from '../helpers/git.ts';
import { basicAuth } from './support.ts';

/*
 * Brute force: every password check and every bad credential is under a back-off (services/auth.ts).
 * The server runs with 3 free failures per (account, address), a first lock of 1 s, and trusts
 * X-Forwarded-For so that one test can speak from several addresses (TEST-NET documentation
 * addresses, only ever sent as header values: every request goes to 127.0.0.1).
 */
const FREE = 3;
const ENV = { GITOKU_AUTH_FREE_FAILURES: String(FREE), GITOKU_AUTH_BACKOFF_MS: '1000', GITOKU_TRUST_PROXY: 'true' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

let addressCounter = 0;
/** A fresh client address (as our trusted proxy would report it). */
function newAddress(): string {
  addressCounter++;
  return `203.0.${Math.floor(addressCounter / 250)}.${(addressCounter % 250) + 1}`;
}

describe.each(testDialects())('brute-force back-off (%s)', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let work: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    server = await startTestServer(dialect, ENV, { dispatcher: false });
    work = await tempDir();
    owner = await createTestUser(server);
    const res = await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'hidden', private: true, auto_init: true } });
    expect(res.status, res.text).toBe(201);
  });

  afterAll(async () => {
    await server?.close();
    await work?.remove();
  });

  /** A browser: its cookie jar, its CSRF token and its address. */
  async function browser(address: string) {
    const jar = new Map<string, string>();
    const keep = (res: Response) => {
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const eq = pair!.indexOf('=');
        jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
      }
    };
    const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const first = await fetch(`${server.url}/-/login`, { headers: { 'X-Forwarded-For': address } });
    keep(first);
    const csrf = /name="_csrf" value="([0-9a-f]+)"/.exec(await first.text())![1]!;
    return {
      async login(username: string, password: string) {
        const res = await fetch(`${server.url}/-/login`, {
          method: 'POST',
          headers: { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded', 'X-Forwarded-For': address },
          body: new URLSearchParams({ _csrf: csrf, username, password }),
          redirect: 'manual',
        });
        return { status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text() };
      },
    };
  }

  const gitInfoRefs = (headers: Record<string, string>) => fetch(`${server.url}/${owner.username}/hidden.git/info/refs?service=git-upload-pack`, { headers }).then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), text: await r.text() }));

  it('login form: 429 with Retry-After and a clear message after the free failures, for known and unknown users alike; then back-off; success resets', async () => {
    const user = await createTestUser(server);
    const b = await browser(newAddress());
    for (let i = 0; i < FREE; i++) expect((await b.login(user.username, 'wrong-password')).status).toBe(401);
    // Now even the right password is refused until the lock passes.
    const locked = await b.login(user.username, user.password);
    expect(locked.status).toBe(429);
    expect(Number(locked.retryAfter)).toBe(1);
    expect(locked.text).toContain('Too many failed sign-in attempts. Try again in 1 second.');
    expect(locked.text).toContain('name="password"'); // the sign-in form again
    // An unknown username behaves exactly the same: nothing says which accounts exist.
    for (let i = 0; i < FREE; i++) expect((await b.login('no-such-user-here', 'wrong-password')).status).toBe(401);
    expect((await b.login('no-such-user-here', 'wrong-password')).status).toBe(429);

    // Exponential: after the first lock passes, one more failure locks for 2 s.
    await sleep(1100);
    expect((await b.login(user.username, 'wrong-password')).status).toBe(401);
    const longer = await b.login(user.username, user.password);
    expect(longer.status).toBe(429);
    expect(Number(longer.retryAfter)).toBe(2);
    await sleep(2100);
    expect((await b.login(user.username, user.password)).status).toBe(303);

    // The success emptied the count: the free failures are free again.
    for (let i = 0; i < FREE - 1; i++) expect((await b.login(user.username, 'wrong-password')).status).toBe(401);
    expect((await b.login(user.username, user.password)).status).toBe(303);
  });

  it('a guesser at one address cannot lock the owner out from another', async () => {
    const user = await createTestUser(server);
    const attacker = await browser(newAddress());
    for (let i = 0; i < FREE; i++) await attacker.login(user.username, 'guess');
    expect((await attacker.login(user.username, 'guess')).status).toBe(429);
    expect((await (await browser(newAddress())).login(user.username, user.password)).status).toBe(303);
    expect((await attacker.login(user.username, user.password)).status).toBe(429);
  });

  it('per account: many addresses together hit a looser bound, which spares addresses the owner signed in from', async () => {
    const user = await createTestUser(server);
    const home = newAddress();
    expect((await (await browser(home)).login(user.username, user.password)).status).toBe(303);
    const elsewhere = await browser(newAddress());
    // 10·FREE failures spread over addresses that each stay under their own limit.
    for (let i = 0; i < 10 * FREE; i++) expect((await (await browser(newAddress())).login(user.username, `guess-${i}`)).status).toBe(401);
    const fromElsewhere = await elsewhere.login(user.username, user.password);
    expect(fromElsewhere.status).toBe(429);
    expect(Number(fromElsewhere.retryAfter)).toBeGreaterThanOrEqual(1);
    // From home the owner still gets in (and the success resets the account's count).
    expect((await (await browser(home)).login(user.username, user.password)).status).toBe(303);
    expect((await (await browser(newAddress())).login(user.username, user.password)).status).toBe(303);
  });

  it('git with a real client: a wrong password a few times, then even the right one is refused (429) until the back-off passes', async () => {
    const user = await createTestUser(server);
    const add = await api(server, 'PUT', `/repos/${owner.username}/hidden/collaborators/${user.username}`, { token: owner.token, body: { permission: 'pull' } });
    expect(add.status, add.text).toBeLessThan(300);
    const wrong = authUrl(server.url, `${owner.username}/hidden.git`, user.username, 'wrong-password');
    const right = authUrl(server.url, `${owner.username}/hidden.git`, user.username, user.password);
    for (let i = 0; i < FREE; i++) {
      const r = await gitCli(work.path, ['ls-remote', wrong]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/Authentication failed|401/);
    }
    const refused = await gitCli(work.path, ['ls-remote', right]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('429');
    // What git saw, with its Retry-After (git's own socket address: no X-Forwarded-For here).
    const seen = await gitInfoRefs({ Authorization: basicAuth(user.username, user.password) });
    expect(seen.status).toBe(429);
    expect(Number(seen.retryAfter)).toBe(1);
    expect(seen.text).toMatch(/Too many failed authentication attempts/);

    await sleep(1100);
    const ok = await gitCli(work.path, ['ls-remote', right]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('refs/heads/main');
    // The success reset the count: a wrong password is a plain 401 again, and a clone works.
    expect((await gitCli(work.path, ['ls-remote', wrong])).stderr).toMatch(/Authentication failed|401/);
    const clone = await gitCli(work.path, ['clone', '-q', right, join(work.path, `clone-${dialect}`)]);
    expect(clone.code, clone.stderr).toBe(0);
  });

  it('git Basic and API tokens: many bad tokens from one address get 429 (even a good one from there), other addresses are unaffected', async () => {
    const flooder = newAddress();
    const bound = 20 * FREE;
    for (let i = 0; i < bound; i++) {
      const headers = { 'X-Forwarded-For': flooder };
      // git Basic: a bad token is also a password check (of a different, unknown account each time, so no pair locks).
      const res = i % 3 === 0 ? await gitInfoRefs({ ...headers, Authorization: basicAuth(`someone${i}`, `gtk_${'z'.repeat(40)}`) }) : await api(server, 'GET', '/user', { headers: { ...headers, Authorization: i % 3 === 1 ? `Bearer gtk_${'q'.repeat(40)}` : basicAuth(owner.username, `gtk_${'w'.repeat(40)}`) } });
      expect(res.status, `attempt ${i}`).toBe(401);
    }
    const api429 = await api(server, 'GET', '/user', { headers: { 'X-Forwarded-For': flooder, Authorization: basicAuth(owner.username, 'nope') } });
    expect(api429.status).toBe(429);
    expect(Number(api429.headers.get('retry-after'))).toBe(1);
    expect(api429.json.message).toMatch(/Too many failed authentication attempts/);
    // Refused before any check, so a valid token from there waits too; from elsewhere it works.
    expect((await api(server, 'GET', '/user', { token: owner.token, headers: { 'X-Forwarded-For': flooder } })).status).toBe(429);
    expect((await gitInfoRefs({ 'X-Forwarded-For': flooder, Authorization: basicAuth('x', owner.token) })).status).toBe(429);
    expect((await api(server, 'GET', '/user', { token: owner.token, headers: { 'X-Forwarded-For': newAddress() } })).status).toBe(200);
    // Anonymous requests carry no credentials to limit.
    expect((await api(server, 'GET', `/users/${owner.username}`, { headers: { 'X-Forwarded-For': flooder } })).status).toBe(200);
    await sleep(1100);
    expect((await api(server, 'GET', '/user', { token: owner.token, headers: { 'X-Forwarded-For': flooder } })).status).toBe(200);
  });

  it('many valid requests side by side from one address are never limited (token checks are not held in flight)', async () => {
    const address = newAddress();
    const results = await Promise.all(Array.from({ length: 150 }, (_, i) => (i % 2 ? api(server, 'GET', '/user', { token: owner.token, headers: { 'X-Forwarded-For': address } }) : gitInfoRefs({ 'X-Forwarded-For': address, Authorization: basicAuth('x', owner.token) }))));
    expect(new Set(results.map((r) => r.status))).toEqual(new Set([200]));
  });

  it('parallel guesses cannot all start before the first one fails', async () => {
    const user = await createTestUser(server);
    const address = newAddress();
    const results = await Promise.all(Array.from({ length: 12 }, () => gitInfoRefs({ 'X-Forwarded-For': address, Authorization: basicAuth(user.username, 'parallel-guess') })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBe(FREE);
    expect(statuses.filter((s) => s === 429).length).toBe(12 - FREE);
  });

  it('an unknown user costs the same scrypt work as a wrong password (no timing oracle)', async () => {
    const samples = 12;
    const time = async (username: string) => {
      const started = performance.now();
      const r = await gitInfoRefs({ 'X-Forwarded-For': newAddress(), Authorization: basicAuth(username, 'wrong-password') });
      expect(r.status).toBe(401);
      return performance.now() - started;
    };
    await time(owner.username); // warm-up (the dummy hash is made on first use)
    await time('warm-up-unknown');
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < samples; i++) {
      known.push(await time(owner.username));
      unknown.push(await time(`nobody-${i}-${dialect}`));
    }
    const [k, u] = [median(known), median(unknown)];
    console.log(`timing (${dialect}): wrong password median ${k.toFixed(1)} ms, unknown user median ${u.toFixed(1)} ms, ratio ${(u / k).toFixed(2)}`);
    // scrypt dominates both (tens of ms); without the dummy hash an unknown user answers in ~1–2 ms.
    expect(u / k).toBeGreaterThan(0.6);
    expect(u / k).toBeLessThan(1.6);
  });
});
