import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, createTestUser, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { createEmbeddedRunner } from '../../src/services/runners.ts';
import { MAX_JSON_DEPTH } from '../../src/domain/json.ts';
import { connect } from 'node:net';

/*
 * Deeply nested JSON under the size limit: refused with 400 before it is parsed (never a 5xx), and
 * only after authentication where the route needs it. The body limit is raised to 4 MiB here so that
 * 500k levels of `{"a":` (3 MB) fit under it as well as 500k levels of `[` (1 MB).
 */
const LIMIT = 4 * 1024 * 1024;

const arrays = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
const objects = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
const BODIES = [
  ['100k arrays', arrays(100_000)],
  ['500k arrays', arrays(500_000)],
  ['100k objects', objects(100_000)],
  ['500k objects', objects(500_000)],
] as const;

describe.each(testDialects())('deeply nested JSON (%s)', (dialect) => {
  let server: TestServer;
  let user: TestUser;
  let runnerToken: string;

  beforeAll(async () => {
    server = await startTestServer(dialect, { GITOKU_JSON_BODY_LIMIT: String(LIMIT) }, { dispatcher: false });
    user = await createTestUser(server);
    runnerToken = (await createEmbeddedRunner(server.app, `depth-${dialect}`)).token;
  });

  afterAll(async () => {
    await server?.close();
  });

  /**
   * One request on its own connection, written whole and read until the server closes. The server
   * answers a 401 without reading a body it does not want; Node's own HTTP clients (fetch, http.request)
   * then report a reset instead of the answer, so this speaks HTTP/1.1 over a plain socket.
   */
  function post(path: string, body: string, headers: Record<string, string> = {}, method = 'POST'): Promise<{ status: number; message?: string; text: string }> {
    const { hostname, port } = new URL(server.url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname);
      const chunks: Buffer[] = [];
      const done = () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
        if (!status) return reject(new Error(`no HTTP answer to ${method} ${path}`));
        const text = raw.slice(raw.indexOf('\r\n\r\n') + 4);
        let message: string | undefined;
        try {
          message = (JSON.parse(text) as { message?: string }).message;
        } catch {
          message = undefined;
        }
        resolve({ status, message, text });
      };
      socket.on('data', (d: Buffer) => chunks.push(d));
      socket.on('close', done);
      socket.on('error', () => {}); // a reset after the answer: 'close' follows and judges what arrived
      const lines = [`${method} ${path} HTTP/1.1`, `Host: ${hostname}:${port}`, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'];
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      socket.write(body); // not end(): a half-closed client may lose its answer; the server closes (Connection: close)
    });
  }

  it('API: 401 without credentials (the body is never parsed), 400 "nested too deeply" with them', async () => {
    for (const [name, body] of BODIES) {
      expect(body.length, name).toBeLessThan(LIMIT);
      const anonymous = await post('/api/v1/user/repos', body);
      expect(anonymous.status, name).toBe(401);
      const badToken = await post('/api/v1/user/repos', body, { Authorization: 'Bearer not-a-token' });
      expect(badToken.status, name).toBe(401);
      const signedIn = await post('/api/v1/user/repos', body, { Authorization: `Bearer ${user.token}` });
      expect(signedIn.status, name).toBe(400);
      expect(signedIn.message, name).toMatch(/nested too deeply/);
    }
    // Every route with a body goes through the same parser.
    const patch = await post(`/api/v1/repos/${user.username}/anything`, arrays(200_000), { Authorization: `Bearer ${user.token}` }, 'PATCH');
    expect(patch.status).toBe(400);
  });

  it('API: nesting up to the limit, and brackets inside strings, are still parsed normally', async () => {
    const atLimit = '{"name":"ok","x":' + '['.repeat(MAX_JSON_DEPTH - 1) + ']'.repeat(MAX_JSON_DEPTH - 1) + '}';
    const res = await post('/api/v1/user/repos', atLimit, { Authorization: `Bearer ${user.token}` });
    expect(res.status, res.text).toBe(201); // unknown keys are ignored
    const bracketsInText = await post('/api/v1/user/repos', JSON.stringify({ name: 'brackets', description: '['.repeat(50_000) + '{'.repeat(50_000) }), { Authorization: `Bearer ${user.token}` });
    expect(bracketsInText.status).not.toBe(400);
    expect(bracketsInText.status).toBeLessThan(500);
    const tooDeep = '{"name":"no","x":' + '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH) + '}';
    expect((await post('/api/v1/user/repos', tooDeep, { Authorization: `Bearer ${user.token}` })).status).toBe(400);
  });

  it('runner protocol: 400 on the anonymous register route; 401 unauthenticated and 400 authenticated elsewhere', async () => {
    for (const [name, body] of BODIES) {
      const register = await post('/api/v1/runner/register', body);
      expect(register.status, name).toBe(400);
      expect(register.message, name).toMatch(/nested too deeply/);
      // (/claim and /jobs/complete read the body while they authenticate: still 401 before anything else.)
      for (const path of ['/api/v1/runner/jobs/1/events', '/api/v1/runner/jobs/1/complete', '/api/v1/runner/jobs/1/heartbeat', '/api/v1/runner/claim?wait=0', '/api/v1/runner/jobs/complete']) {
        expect((await post(path, body)).status, `${name} ${path}`).toBe(401);
        const authed = await post(path, body, { Authorization: `Bearer ${runnerToken}` });
        expect(authed.status, `${name} ${path}`).toBe(400);
        expect(authed.message).toMatch(/nested too deeply/);
      }
    }
  });

  it('/healthz stays fast while two clients keep sending such bodies', async () => {
    const body = arrays(500_000);
    const deadline = Date.now() + 8_000;
    const statuses = new Set<number>();
    let sent = 0;
    const client = async (token: string | undefined) => {
      // Bounded: at most 15 bodies per client, and never past the deadline.
      for (let i = 0; i < 15 && Date.now() < deadline; i++) {
        const res = await post('/api/v1/user/repos', body, token ? { Authorization: `Bearer ${token}` } : {});
        statuses.add(res.status);
        sent++;
      }
    };
    const latencies: number[] = [];
    let stop = false;
    const probe = (async () => {
      while (!stop) {
        const started = performance.now();
        const res = await fetch(`${server.url}/healthz`);
        await res.text();
        latencies.push(performance.now() - started);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await Promise.all([client(user.token), client(user.token)]);
    stop = true;
    await probe;
    latencies.sort((a, b) => a - b);
    const p50 = latencies[Math.floor(latencies.length / 2)]!;
    const p95 = latencies[Math.floor(latencies.length * 0.95)]!;
    console.log(`/healthz under two clients sending 500k-level bodies (${dialect}): ${sent} bodies, ${latencies.length} probes, p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`);
    expect([...statuses]).toEqual([400]);
    expect(sent).toBeGreaterThanOrEqual(10);
    // Generous for a loaded 2-core machine; parsing these bodies unbounded put p50 near 1 s here.
    expect(p50).toBeLessThan(150);
    expect(p95).toBeLessThan(600);
  });
});
