import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { AppContext } from '../services/app.ts';
import { createWebApp } from './app.ts';

export interface RunningServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the HTTP server; resolves once it listens. With port 0 the OS picks a free port.
 * `headers` are added to every response (e.g. X-Gitoku-Worker in a cluster).
 */
export function startHttpServer(app: AppContext, host: string, port: number, opts: { headers?: Record<string, string> } = {}): Promise<RunningServer> {
  const web = createWebApp(app);
  return new Promise((resolve, reject) => {
    let server: ServerType;
    try {
      server = serve({ fetch: web.fetch, hostname: host, port }, (info: AddressInfo) => {
        const url = `http://${host === '0.0.0.0' || host === '::' ? 'localhost' : host}:${info.port}`;
        resolve({
          port: info.port,
          url,
          close: () =>
            new Promise<void>((done) => {
              server.close(() => done());
              (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
            }),
        });
      });
      server.on('error', reject);
      const headers = Object.entries(opts.headers ?? {});
      // Set before Hono writes the head: Node merges them with the head's own headers.
      if (headers.length > 0) server.prependListener('request', (_req, res) => headers.forEach(([name, value]) => res.setHeader(name, value)));
    } catch (err) {
      reject(err);
    }
  });
}
