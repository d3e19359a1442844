import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.ts';
import { type AppContext, createAppContext } from '../../src/services/app.ts';
import { startHttpServer } from '../../src/web/server.ts';
import { createUser } from '../../src/services/users.ts';
import { createAccessToken } from '../../src/services/tokens.ts';
import type { TokenScope } from '../../src/domain/permissions.ts';
import { createTestDatabase, type TestDialect } from './databases.ts';
import { Dispatcher } from '../../src/events/dispatcher.ts';
import { builtInBehaviors } from '../../src/events/behaviors/index.ts';
import { ServerJobWorker } from '../../src/services/serverJobs.ts';

export interface TestServer {
  url: string;
  app: AppContext;
  dataDir: string;
  /** Environment that points the CLI at this server's database and data directory. */
  env: Record<string, string>;
  dialect: TestDialect;
  dispatcher: Dispatcher | null;
  close(): Promise<void>;
}

/** Starts the real HTTP server on a random port with a temporary data directory (and database). */
export interface TestServerOptions {
  /** Run the event dispatcher with the built-in behaviors (as `gitoku serve` does). Default true. */
  dispatcher?: boolean;
}

export async function startTestServer(dialect: TestDialect, extraEnv: Record<string, string> = {}, opts: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'gitoku-test-'));
  const database = await createTestDatabase(dialect);
  const env: Record<string, string> = { GITOKU_DATA_DIR: dataDir, GITOKU_DEMO: 'false', ...extraEnv };
  if (database.url) env.GITOKU_DATABASE_URL = database.url;
  const app = await createAppContext(loadConfig(env));
  const server = await startHttpServer(app, '127.0.0.1', 0);
  app.config.baseUrl = server.url;
  env.GITOKU_BASE_URL = server.url;
  const dispatcher = opts.dispatcher === false ? null : new Dispatcher(app, builtInBehaviors(), { retryBaseMs: 100 });
  dispatcher?.start();
  // The server's own jobs (webhook deliveries), as `gitoku serve` runs them.
  const serverJobs = opts.dispatcher === false ? null : new ServerJobWorker(app);
  serverJobs?.start();
  return {
    url: server.url,
    app,
    dataDir,
    env,
    dialect,
    dispatcher,
    close: async () => {
      await serverJobs?.stop();
      await dispatcher?.stop();
      await server.close();
      await app.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TestUser {
  username: string;
  password: string;
  token: string;
  id: number;
}

let counter = 0;

/** Creates a user with a personal access token directly through the services. */
export async function createTestUser(server: TestServer, opts: { username?: string; admin?: boolean; scopes?: TokenScope[] } = {}): Promise<TestUser> {
  const username = opts.username ?? `user${++counter}x${process.pid}`;
  const password = 'correct-horse-battery';
  const user = await createUser(server.app, { username, password, isAdmin: opts.admin });
  const { token } = await createAccessToken(server.app, { userId: user.id, name: 'test', scopes: opts.scopes ?? ['repo'] });
  return { username, password, token, id: user.id };
}

/** fetch against the test server's JSON API with an optional token. */
export async function api(server: TestServer, method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    headers['Content-Type'] ??= 'application/json';
  }
  const res = await fetch(`${server.url}/api/v1${path}`, { method, headers, body });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.status, headers: res.headers, json: json as any, text };
}
