/** Small helpers shared by the integration tests (requests with raw paths, auth headers, DB look-ups). */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';
import type { TestServer } from '../helpers/server.ts';
import { gitClientEnv } from '../helpers/git.ts';

export function basicAuth(username: string, secret: string): string {
  return `Basic ${Buffer.from(`${username}:${secret}`).toString('base64')}`;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

/**
 * Sends a request with the path exactly as given: fetch() would normalise `..`, `%2e%2e` and
 * friends away before they ever reach the server, which is what the traversal tests must avoid.
 */
export function rawRequest(
  serverUrl: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string | (Buffer | string)[] } = {},
): Promise<RawResponse> {
  const { hostname, port } = new URL(serverUrl);
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request({ host: hostname, port: Number(port), path, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    // A server may answer (e.g. 413) and close before the whole body is sent: the answer is what counts.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    // Several parts are sent as separate writes, without Content-Length: chunked transfer encoding.
    if (Array.isArray(opts.body)) {
      for (const part of opts.body) req.write(part);
      req.end();
    } else {
      req.end(opts.body);
    }
  });
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface RefUpdatedEvent {
  id: number;
  subject: string;
  ref: string;
  before: string;
  after: string;
  created: boolean;
  deleted: boolean;
  cause: string;
  actor_id: number | null;
}

/** The `ref.updated` outbox rows of a repository, oldest first. */
export async function refUpdatedEvents(server: TestServer, repositoryId: number): Promise<RefUpdatedEvent[]> {
  const rows = await server.app.db
    .selectFrom('graph_events')
    .select(['id', 'subject', 'payload'])
    .where('repository_id', '=', repositoryId)
    .where('type', '=', 'ref.updated')
    .orderBy('id')
    .execute();
  return rows.map((r) => ({ id: r.id, subject: r.subject, ...(JSON.parse(r.payload) as Omit<RefUpdatedEvent, 'id' | 'subject'>) }));
}

export async function repositoryRow(server: TestServer, repositoryId: number) {
  return server.app.db.selectFrom('repositories').selectAll().where('id', '=', repositoryId).executeTakeFirstOrThrow();
}

/** "sha ref" lines → { ref: sha }. */
export function refMap(lines: string[]): Record<string, string> {
  return Object.fromEntries(lines.map((l) => l.split('\t')).map(([sha, ref]) => [ref!, sha!]));
}

/** Runs the git client with data on its standard input; throws with git's stderr on failure. */
export function gitWithInput(cwd: string, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, env: gitClientEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out).toString()) : reject(new Error(`git ${args.join(' ')} failed: ${Buffer.concat(err).toString()}`))));
    child.stdin.end(input);
  });
}
