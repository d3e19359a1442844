import { CliError } from './errors.ts';

/** A minimal client for gitoku's JSON API, used by CLI commands that talk to a running server. */
export class ApiClient {
  constructor(
    readonly serverUrl: string,
    private readonly token: string | undefined,
  ) {}

  static fromOptions(opts: { server?: string; token?: string }): ApiClient {
    const server = (opts.server ?? process.env.GITOKU_URL ?? process.env.GITOKU_BASE_URL ?? 'http://localhost:3000').replace(/\/+$/, '');
    return new ApiClient(server, opts.token ?? process.env.GITOKU_TOKEN);
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { Accept: 'application/json', ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.serverUrl}/api/v1${path}`, { method, headers: this.headers(body ? { 'Content-Type': 'application/json' } : {}), body: body ? JSON.stringify(body) : undefined });
    } catch (err) {
      throw new CliError(`cannot reach ${this.serverUrl}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    if (!res.ok) throw new CliError(`${method} ${path}: ${res.status} ${(json as { message?: string } | null)?.message ?? text.slice(0, 200)}${this.authHint(res.status)}`);
    return json as T;
  }

  /** After a 401: how to pass a token (none given) or that the one given was refused. */
  authHint(status: number): string {
    if (status !== 401) return '';
    return this.token
      ? '\n  The token was refused (expired, revoked or mistyped): pass a valid one with --token <token> or GITOKU_TOKEN.'
      : '\n  Pass a personal access token with --token <token> or set GITOKU_TOKEN (create one under Settings → Access tokens, or with `gitoku admin token create --username NAME`).';
  }

  /** Reads a Server-Sent Events stream, calling onEvent for each event until the stream ends. */
  async sse(path: string, onEvent: (event: string, data: string) => void | 'stop'): Promise<void> {
    const res = await fetch(`${this.serverUrl}/api/v1${path}`, { headers: this.headers({ Accept: 'text/event-stream' }) });
    if (!res.ok || !res.body) throw new CliError(`GET ${path}: ${res.status}${this.authHint(res.status)}`);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let split: number;
      while ((split = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, split);
        buffer = buffer.slice(split + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (onEvent(event, data.join('\n')) === 'stop') return;
      }
    }
  }
}
