import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import { createPushedRepo, runScripted, scriptPrompt as script, type PushedRepo } from '../helpers/scriptedRuns.ts';
import type { JobRunner } from '../../src/runner/runner.ts';
import { modelProxy, openRunNetwork } from '../../src/runner/network.ts';
import { bubblewrapBackend } from '../../src/runner/sandbox.ts';
import { hostAllowed, parseAllowedHosts } from '../../src/domain/network.ts';

/** Issue 12, points 6–7: what an agent's sandbox may reach, and model credentials that never enter it. */
const bubblewrap = existsSync('/usr/bin/bwrap');

function listenTcp(): Promise<{ server: NetServer; port: number; connections: number }> {
  return new Promise((resolve) => {
    const state = { server: null as unknown as NetServer, port: 0, connections: 0 };
    state.server = createNetServer((s) => {
      state.connections++;
      s.destroy();
    }).listen(0, '127.0.0.1', () => {
      state.port = (state.server.address() as { port: number }).port;
      resolve(state);
    });
  });
}

describe('network policy: parsing and matching', () => {
  it('checks allow-lists and matches hosts and suffixes', () => {
    expect(parseAllowedHosts('registry.npmjs.org, *.pythonhosted.org  github.com')).toEqual({ hosts: ['registry.npmjs.org', '*.pythonhosted.org', 'github.com'] });
    expect(parseAllowedHosts('http://evil.example/')).toMatchObject({ error: expect.stringContaining('not a host name') });
    expect(parseAllowedHosts('a..b')).toMatchObject({ error: expect.any(String) });
    expect(hostAllowed('files.pythonhosted.org', ['*.pythonhosted.org'])).toBe(true);
    expect(hostAllowed('pythonhosted.org', ['*.pythonhosted.org'])).toBe(false);
    expect(hostAllowed('evilpythonhosted.org', ['*.pythonhosted.org'])).toBe(false);
    expect(hostAllowed('Registry.NPMJS.org.', ['registry.npmjs.org'])).toBe(true);
    expect(hostAllowed('registry.npmjs.org.evil.example', ['registry.npmjs.org'])).toBe(false);
  });
});

describe('the model proxy', () => {
  let upstream: Server;
  let seen: IncomingHttpHeaders[];
  let dir: string;
  let proxy: Server;
  const token = 'gtm_run_token_for_test_0123456789';

  beforeAll(async () => {
    seen = [];
    upstream = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write('data: one\n\n');
      setTimeout(() => res.end('data: two\n\n'), 50);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    dir = await mkdtemp(join(tmpdir(), 'gitoku-proxy-'));
    proxy = modelProxy(new URL(`http://127.0.0.1:${(upstream.address() as { port: number }).port}/v1`), token, 'sk-real-secret');
    await new Promise<void>((r) => proxy.listen(join(dir, 'model.sock'), r));
  });

  afterAll(async () => {
    proxy?.close();
    upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const call = (headers: Record<string, string>) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ socketPath: join(dir, 'model.sock'), path: '/v1/responses', method: 'POST', headers: { 'Content-Type': 'application/json', ...headers } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end('{"model":"m"}');
    });

  it('refuses any other credential, and never forwards it', async () => {
    for (const headers of [{}, { Authorization: 'Bearer sk-real-secret' }, { 'x-api-key': 'guess' }] as Record<string, string>[]) expect((await call(headers)).status).toBe(401);
    expect(seen).toHaveLength(0);
  });

  it('swaps the run token for the real key in the header it came in, and streams the answer', async () => {
    expect(await call({ Authorization: `Bearer ${token}` })).toEqual({ status: 200, body: 'data: one\n\ndata: two\n\n' });
    expect(seen.at(-1)!.authorization).toBe('Bearer sk-real-secret');
    expect(await call({ 'x-api-key': token })).toMatchObject({ status: 200 });
    expect(seen.at(-1)!['x-api-key']).toBe('sk-real-secret');
    expect(seen.at(-1)!.authorization).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain(token);
  });

  it('rewrites the agent environment: proxy URL and run token in, real key out', async () => {
    const sandbox = bubblewrapBackend();
    const root = await mkdtemp(join(tmpdir(), 'gitoku-net-'));
    try {
      const net = await openRunNetwork(sandbox, root, { mode: 'model-only', hosts: [] }, 'claude', { ANTHROPIC_API_KEY: 'sk-ant-real', ANTHROPIC_BASE_URL: 'https://models.example/anthropic', OTHER: 'x' });
      expect(net.agentEnv).toEqual({ ANTHROPIC_API_KEY: net.token, ANTHROPIC_BASE_URL: 'http://127.0.0.1:41001/anthropic', OTHER: 'x' });
      await net.close();
      await expect(openRunNetwork(sandbox, root, { mode: 'none', hosts: [] }, 'codex', { CODEX_API_KEY: 'k' })).rejects.toThrow(/needs its model endpoint.*"none"/);
      const open = await openRunNetwork(sandbox, root, { mode: 'open', hosts: [] }, 'codex', { CODEX_API_KEY: 'k' });
      expect(open.agentEnv.CODEX_API_KEY).toBe('k');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!bubblewrap).each(testDialects())('agent network policies (%s)', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let runner: JobRunner;
  let repo: PushedRepo;
  let listener: Awaited<ReturnType<typeof listenTcp>>;
  const name = () => `${owner.username}/net`;
  const port = () => new URL(server.url).port;

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    repo = await createPushedRepo(server, owner, 'net', { 'README.md': '# Net\n' });
    runner = await startInProcessRunner(server);
    listener = await listenTcp();
  });

  afterAll(async () => {
    await runner?.stop();
    listener?.server.close();
    await repo?.work.remove();
    await server?.close();
  });

  it('model-only by default: the sandbox reaches nothing on the host, not even the server', async () => {
    const repoJson = await api(server, 'GET', `/repos/${name()}`, { token: owner.token });
    expect(repoJson.json.agent_network).toEqual({ mode: 'model-only', hosts: [] });
    const probe = await runScripted(server, owner, name(), script(`run bash -c 'echo x > /dev/tcp/127.0.0.1/${listener.port}' 2>out.txt; curl -sS --max-time 5 ${server.url}/healthz >>out.txt 2>&1; test -s out.txt && ! grep -q ok out.txt && echo isolated > result.txt\nsay probed`));
    expect(probe.status).toBe('succeeded');
    expect(listener.connections).toBe(0);
    const result = await api(server, 'GET', `/repos/${name()}/contents/result.txt?ref=${encodeURIComponent(probe.compare_branch)}`, { token: owner.token });
    expect(Buffer.from(result.json.content, 'base64').toString()).toBe('isolated\n');
  });

  it('allow-list: listed hosts through the egress proxy (HTTP and CONNECT), nothing else', async () => {
    const bad = await api(server, 'PATCH', `/repos/${name()}`, { token: owner.token, body: { agent_network: 'allow-list', agent_network_hosts: 'http://x/' } });
    expect(bad.status).toBe(422);
    const set = await api(server, 'PATCH', `/repos/${name()}`, { token: owner.token, body: { agent_network: 'allow-list', agent_network_hosts: ['localhost'] } });
    expect(set.status, set.text).toBe(200);
    const body = [
      `run curl -sS --max-time 10 http://localhost:${port()}/healthz > http.txt`,
      `run curl -sS --max-time 10 -p http://localhost:${port()}/healthz > connect.txt`,
      `run curl -sS --max-time 10 http://not-listed.invalid/ > denied.txt || true`,
      `run bash -c 'echo x > /dev/tcp/127.0.0.1/${listener.port}' || true`,
      'say probed',
    ].join('\n');
    const run = await runScripted(server, owner, name(), script(body));
    expect(run.status).toBe('succeeded');
    const file = async (path: string) => Buffer.from((await api(server, 'GET', `/repos/${name()}/contents/${path}?ref=${encodeURIComponent(run.compare_branch)}`, { token: owner.token })).json.content, 'base64').toString();
    expect(await file('http.txt')).toMatch(/ok/);
    expect(await file('connect.txt')).toMatch(/ok/);
    expect(await file('denied.txt')).toMatch(/not on this repository's network allow-list/);
    expect(listener.connections).toBe(0);
  });

  it('open: the host network, as the administrator chose', async () => {
    await api(server, 'PATCH', `/repos/${name()}`, { token: owner.token, body: { agent_network: 'open' } });
    const run = await runScripted(server, owner, name(), script(`run bash -c 'echo x > /dev/tcp/127.0.0.1/${listener.port}'\nsay reached`));
    expect(run.status).toBe('succeeded');
    expect(listener.connections).toBe(1);
  });
});
