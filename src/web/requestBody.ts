import type { Context } from 'hono';
import type { WebEnv } from './context.ts';

/**
 * A request's body as a byte stream for uploads that go to disk. On Node, the socket's own stream
 * (`IncomingMessage`), which pauses the client when the disk is slower than the network: Node 20's
 * `Readable.toWeb`, behind `Request.body`, counts its queue in chunks rather than bytes and so can
 * buffer a large part of an upload in memory. Elsewhere (or once the body was touched), `Request.body`.
 */
export function uploadBody(c: Context<WebEnv>): AsyncIterable<Uint8Array> | null {
  const incoming = (c.env as Partial<WebEnv['Bindings']> | undefined)?.incoming;
  if (incoming && incoming.readable && !incoming.readableDidRead) return incoming;
  return (c.req.raw.body as unknown as AsyncIterable<Uint8Array> | null) ?? null;
}
