import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedHook {
  path: string;
  headers: IncomingMessage['headers'];
  /** The raw body, exactly as sent (what the signature covers). */
  body: string;
  at: number;
  json(): Record<string, unknown>;
}

/** How the receiver answers a request on a path: a status (and body), or never (hang until released). */
export type Reply = { status: number; body?: string } | 'hang';

/**
 * A real HTTP server that records every webhook request. Replies per path come from a queue (then
 * the default, 200); 'hang' keeps the request open until `releaseHanging()` or close.
 */
export interface WebhookReceiver {
  url: string;
  port: number;
  received: ReceivedHook[];
  /** Queues replies for the next requests on `path`. */
  reply(path: string, ...replies: Reply[]): void;
  /** Waits until a request matching `pred` arrives (or fails after `timeoutMs`). */
  waitFor(pred: (r: ReceivedHook) => boolean, timeoutMs?: number): Promise<ReceivedHook>;
  hanging(): number;
  releaseHanging(): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedHook[] = [];
  const queues = new Map<string, Reply[]>();
  const hangingResponses = new Set<ServerResponse>();
  const waiters: (() => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = (req.url ?? '/').split('?')[0]!;
      received.push({ path, headers: req.headers, body, at: Date.now(), json: () => JSON.parse(body) as Record<string, unknown> });
      for (const w of waiters.splice(0)) w();
      const reply = queues.get(path)?.shift() ?? { status: 200, body: 'ok' };
      if (reply === 'hang') {
        hangingResponses.add(res);
        res.on('close', () => hangingResponses.delete(res));
        return;
      }
      res.writeHead(reply.status, { 'Content-Type': 'text/plain', 'X-Receiver': 'test' });
      res.end(reply.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    reply(path, ...replies) {
      queues.set(path, [...(queues.get(path) ?? []), ...replies]);
    },
    async waitFor(pred, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = received.find(pred);
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching webhook request within ${timeoutMs} ms (got: ${received.map((r) => `${r.path} ${String(r.headers['x-github-event'])}`).join(', ') || 'none'})`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(left, 200));
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
    hanging: () => hangingResponses.size,
    releaseHanging() {
      for (const res of hangingResponses) {
        res.writeHead(200);
        res.end('late');
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hangingResponses) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
