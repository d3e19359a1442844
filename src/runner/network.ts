import { createServer as createHttpServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { mkdir, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { hostAllowed, type NetworkPolicy } from '../domain/network.ts';
import { AgentFailure } from './drivers/types.ts';
import type { ExecOptions, SandboxBackend, SandboxNetwork } from './sandbox.ts';

/**
 * A run's network (issue 12, points 6–7). Under `none`, `model-only` and `allow-list` the agent's
 * sandbox has a network namespace of its own with nothing but loopback; what it may reach, it reaches
 * through Unix sockets of the runner bound into it, forwarded to fixed loopback ports inside:
 * - the model proxy (MODEL_PORT): the agent's model endpoint, where the agent presents a per-run token
 *   that only this proxy accepts; the proxy swaps in the real credential, which never enters the
 *   sandbox;
 * - the egress proxy (EGRESS_PORT, as HTTPS_PROXY/HTTP_PROXY): CONNECT and plain HTTP to the hosts of
 *   the allow-list, resolved and connected by the runner.
 */

export const MODEL_PORT = 41001;
export const EGRESS_PORT = 41002;

/** Where a sandboxed agent's model lives and which of its environment variables carry the credential. */
interface ModelRoute {
  /** The environment variable that holds the endpoint for the agent (rewritten to the proxy). */
  urlVariable: string;
  /** The endpoint when none is configured. */
  defaultUrl: string;
  /** Credential variables, in the order they are tried. */
  credentialVariables: string[];
}

const MODEL_ROUTES: Record<string, ModelRoute> = {
  codex: { urlVariable: 'GITOKU_DRIVER_BASE_URL', defaultUrl: 'https://api.openai.com/v1', credentialVariables: ['CODEX_API_KEY'] },
  claude: { urlVariable: 'ANTHROPIC_BASE_URL', defaultUrl: 'https://api.anthropic.com', credentialVariables: ['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN'] },
};

export interface RunNetwork {
  /** The environment the agent gets: model endpoint and credential rewritten, proxy variables added. */
  agentEnv: Record<string, string>;
  /** The sandbox with this network applied to every agent process (the runner's own git is unaffected). */
  sandbox: SandboxBackend;
  /** The per-run token the agent holds instead of the real credential (to be redacted too). */
  token: string | null;
  describe: string;
  close(): Promise<void>;
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host'];

/** Opens the run's proxies and returns what the agent and its sandbox get. `open` changes nothing. */
export async function openRunNetwork(sandbox: SandboxBackend, root: string, policy: NetworkPolicy, driver: string, env: Record<string, string>): Promise<RunNetwork> {
  if (policy.mode === 'open' || !sandbox.isolated) {
    return { agentEnv: env, sandbox, token: null, describe: policy.mode === 'open' ? 'the host network (open)' : 'the host network (this sandbox cannot isolate it)', close: async () => {} };
  }
  const route = MODEL_ROUTES[driver];
  if (policy.mode === 'none' && route) throw new AgentFailure(`the ${driver} agent needs its model endpoint, and this repository's agent network is "none" (use "model-only")`);
  const socketDir = join(root, 'net');
  await mkdir(socketDir, { recursive: true });
  const servers: Server[] = [];
  const forwards: SandboxNetwork['forwards'] = [];
  const agentEnv = { ...env };
  let token: string | null = null;
  const parts: string[] = [];

  if (route && policy.mode !== 'none') {
    const credentialVariable = route.credentialVariables.find((name) => env[name]);
    const upstream = new URL(env[route.urlVariable] || route.defaultUrl);
    token = `gtm_${randomBytes(24).toString('hex')}`;
    const socket = join(socketDir, 'model.sock');
    servers.push(await listen(modelProxy(upstream, token, credentialVariable ? env[credentialVariable]! : null), socket));
    forwards.push({ port: MODEL_PORT, socket });
    agentEnv[route.urlVariable] = `http://127.0.0.1:${MODEL_PORT}${upstream.pathname.replace(/\/+$/, '')}`;
    if (credentialVariable) agentEnv[credentialVariable] = token;
    parts.push(`its model endpoint (${upstream.host}, through the runner's proxy)`);
  }
  if (policy.mode === 'allow-list' && policy.hosts.length) {
    const socket = join(socketDir, 'egress.sock');
    servers.push(await listen(egressProxy(policy.hosts), socket));
    forwards.push({ port: EGRESS_PORT, socket });
    const proxy = `http://127.0.0.1:${EGRESS_PORT}`;
    // Only the model proxy's address bypasses it (a name such as localhost is resolved by the runner).
    Object.assign(agentEnv, { HTTPS_PROXY: proxy, HTTP_PROXY: proxy, https_proxy: proxy, http_proxy: proxy, NO_PROXY: '127.0.0.1', no_proxy: '127.0.0.1' });
    parts.push(`the hosts ${policy.hosts.join(', ')}`);
  }
  const network: SandboxNetwork = { forwards, socketDir };
  return {
    agentEnv,
    sandbox: withNetwork(sandbox, network),
    token,
    describe: parts.length ? `only ${parts.join(' and ')}` : 'nothing (no network)',
    close: async () => {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
      await rm(socketDir, { recursive: true, force: true });
    },
  };
}

/** The sandbox, with the run's network applied to the agent's processes. */
function withNetwork(sandbox: SandboxBackend, network: SandboxNetwork): SandboxBackend {
  return { ...sandbox, exec: (ws, argv, opts: ExecOptions) => sandbox.exec(ws, argv, opts.trusted ? opts : { ...opts, network }) };
}

function listen(server: Server, socket: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => resolve(server));
  });
}

/** Presented credential: `Authorization: Bearer T` or `x-api-key: T`. */
function presentedToken(headers: IncomingHttpHeaders): string | null {
  const bearer = /^Bearer\s+(\S+)$/i.exec(String(headers.authorization ?? ''))?.[1];
  return bearer ?? (typeof headers['x-api-key'] === 'string' ? headers['x-api-key'] : null);
}

/**
 * The model proxy: only requests carrying the run's token pass; the token is swapped for the real
 * credential in the header it came in, and the request is streamed to the upstream endpoint and back.
 */
export function modelProxy(upstream: URL, token: string, credential: string | null): Server {
  return createHttpServer((req, res) => {
    if (presentedToken(req.headers) !== token) {
      res.writeHead(401, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: { message: 'gitoku model proxy: unknown token' } }));
      return;
    }
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HOP_BY_HOP.includes(name)) headers[name] = value;
    delete headers.authorization;
    delete headers['x-api-key'];
    if (credential) {
      if (req.headers['x-api-key'] !== undefined) headers['x-api-key'] = credential;
      else headers.authorization = `Bearer ${credential}`;
    }
    const target = new URL(req.url ?? '/', upstream.origin);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const out = send(target, { method: req.method, headers }, (answer) => {
      const back: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !HOP_BY_HOP.includes(name)) back[name] = value;
      res.writeHead(answer.statusCode ?? 502, back);
      answer.pipe(res);
    });
    out.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `gitoku model proxy: the model endpoint ${upstream.host} is unreachable (${err.message})` } }));
    });
    req.pipe(out);
  });
}

/** The egress proxy: CONNECT (HTTPS) and absolute-URI HTTP requests to allowed hosts only. */
export function egressProxy(allowed: string[]): Server {
  const refuse = (socket: Socket, host: string) => socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\ngitoku: ${host} is not on this repository's network allow-list\n`);
  const server = createHttpServer((req, res) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('gitoku egress proxy: absolute URLs only\n');
      return;
    }
    if (target.protocol !== 'http:' || !hostAllowed(target.hostname, allowed)) {
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end(`gitoku: ${target.hostname} is not on this repository's network allow-list\n`);
      return;
    }
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HOP_BY_HOP.includes(name)) headers[name] = value;
    const out = httpRequest(target, { method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on('error', (err) => res.headersSent ? res.destroy() : res.writeHead(502).end(`gitoku egress proxy: ${err.message}\n`));
    req.pipe(out);
  });
  server.on('connect', (req, client: Socket, head: Buffer) => {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(req.url ?? '');
    const host = m?.[1] ?? '';
    if (!m || !hostAllowed(host, allowed)) return refuse(client, host || String(req.url));
    const upstream = connect(Number(m[2]), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client).pipe(upstream);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', () => (client.writable ? client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n') : close()));
    client.on('error', close);
  });
  return server;
}
