/**
 * Every route of the runner protocol except /register refuses a caller without valid runner
 * credentials, before touching anything: no token, a token of another kind, a revoked runner's token.
 * The routes are enumerated from the router itself, so a route added later without authentication
 * (for example above the authenticating middleware) fails here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runnerRoutes } from '../../src/web/routes/runner.ts';
import { createRegistrationToken, deleteRunner } from '../../src/services/runners.ts';
import { RunnerClient } from '../../src/runner/client.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describe('runner protocol authentication', () => {
  let server: TestServer;
  let revoked: string;

  beforeAll(async () => {
    server = await startTestServer('sqlite', {}, { dispatcher: false });
    const registered = await RunnerClient.register(server.url, await createRegistrationToken(server.app, null), 'gone', [], 'test');
    await deleteRunner(server.app, registered.id);
    revoked = registered.token;
  });
  afterAll(async () => {
    await server?.close();
  });

  const routes = () =>
    runnerRoutes()
      .routes.filter((r) => r.method !== 'ALL' && r.path !== '/register')
      .map((r) => ({ method: r.method, path: r.path.replace(':id', '1') }));

  it('lists the protocol routes it checks', () => {
    const paths = routes().map((r) => `${r.method} ${r.path}`);
    expect(paths).toEqual(expect.arrayContaining(['POST /claim', 'POST /jobs/complete', 'POST /jobs/heartbeat', 'POST /jobs/1/events', 'PUT /snapshots']));
  });

  it('refuses every route but /register without valid runner credentials', async () => {
    const credentials: (string | null)[] = [null, 'Bearer gtk_notarunnertoken', `Bearer ${revoked}`, 'Basic abc'];
    for (const { method, path } of routes()) {
      for (const authorization of credentials) {
        const res = await fetch(`${server.url}/api/v1/runner${path}`, {
          method,
          headers: { 'Content-Type': 'application/json', ...(authorization ? { Authorization: authorization } : {}) },
          body: JSON.stringify({ complete: [{ id: 1, result: {} }], jobs: [{ id: 1, result: {} }], attempt: 1, events: [] }),
        });
        expect(res.status, `${method} ${path} with ${authorization ?? 'no credentials'}`).toBe(401);
        expect((await res.json()).message).toMatch(/runner credentials/);
      }
    }
  });
});
