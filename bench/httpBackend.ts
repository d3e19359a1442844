/**
 * The reference git smart-HTTP server: stock `git http-backend` behind a minimal Node CGI wrapper.
 * No authentication (every request runs as REMOTE_USER for pushes); no framework; the request body
 * is streamed into the CGI and its stdout (after the CGI header block) streamed back.
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

export interface HttpBackendServer {
  url: string;
  close(): Promise<void>;
}

/** Same strict shape gitoku accepts for the Git-Protocol header. */
const GIT_PROTOCOL = /^[0-9a-zA-Z]+=[0-9a-zA-Z]+(:[0-9a-zA-Z]+=[0-9a-zA-Z]+)*$/;

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function handle(projectRoot: string, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const service = url.searchParams.get('service') ?? url.pathname.split('/').pop() ?? '';
  const env: NodeJS.ProcessEnv = {
    // The same base environment gitoku gives its git children (src/git/exec.ts gitEnvironment).
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    LANG: 'C.UTF-8',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    // CGI
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    SERVER_SOFTWARE: 'gitoku-bench-cgi',
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.slice(1),
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    // http-backend
    GIT_PROJECT_ROOT: projectRoot,
    GIT_HTTP_EXPORT_ALL: '1',
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.receivepack',
    GIT_CONFIG_VALUE_0: 'true',
  };
  const contentType = header(req, 'content-type');
  if (contentType) env.CONTENT_TYPE = contentType;
  const contentLength = header(req, 'content-length');
  if (contentLength) env.CONTENT_LENGTH = contentLength;
  const contentEncoding = header(req, 'content-encoding');
  if (contentEncoding) env.HTTP_CONTENT_ENCODING = contentEncoding;
  const gitProtocol = header(req, 'git-protocol');
  if (gitProtocol && gitProtocol.length <= 256 && GIT_PROTOCOL.test(gitProtocol)) {
    env.GIT_PROTOCOL = gitProtocol;
    env.HTTP_GIT_PROTOCOL = gitProtocol;
  }
  if (service === 'git-receive-pack') env.REMOTE_USER = 'bench';

  const child = spawn(HTTP_BACKEND, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => {});
  child.stderr.resume();
  child.on('error', (err) => {
    if (res.headersSent) return void res.destroy(err);
    res.writeHead(500, { 'Content-Type': 'text/plain' });
    res.end(`http-backend failed: ${err.message}\n`);
  });
  req.pipe(child.stdin);
  // A client that goes away mid-request must not leave http-backend (and its git child) running.
  res.on('close', () => {
    if (!res.writableFinished && child.exitCode === null) child.kill('SIGTERM');
  });

  // Parse the CGI header block ("Name: value" lines up to an empty line), then stream the rest.
  let head = Buffer.alloc(0);
  let inBody = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (inBody) {
      if (!res.write(chunk)) {
        child.stdout.pause();
        res.once('drain', () => child.stdout.resume());
      }
      return;
    }
    head = Buffer.concat([head, chunk]);
    let end = head.indexOf('\r\n\r\n');
    let sep = 4;
    if (end < 0) {
      end = head.indexOf('\n\n');
      sep = 2;
    }
    if (end < 0) return;
    inBody = true;
    let status = 200;
    let reason: string | undefined;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') {
        status = Number.parseInt(value, 10) || 200;
        reason = value.replace(/^\d+\s*/, '') || undefined;
      } else headers[name] = value;
    }
    if (reason) res.writeHead(status, reason, headers);
    else res.writeHead(status, headers);
    const rest = head.subarray(end + sep);
    head = Buffer.alloc(0);
    if (rest.length > 0) res.write(rest);
  });
  // End on 'close' (stdout drained and the process reaped), not on stdout's end, so the CGI's CPU
  // time is accounted to this request by the time the client sees the response end.
  child.on('close', () => {
    if (res.headersSent && !inBody) return void res.end();
    if (!inBody) {
      res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end('http-backend produced no CGI headers\n');
      return;
    }
    res.end();
  });
}

/** Serves every repository under `projectRoot` at http://127.0.0.1:PORT/<path>. */
export function startHttpBackend(projectRoot: string): Promise<HttpBackendServer> {
  const server = createServer((req, res) => handle(projectRoot, req, res));
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
