import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * A scripted model endpoint for the driver tests (plain node:http): it speaks the three wire
 * protocols the agents use — OpenAI Responses (`POST /v1/responses`, the Codex CLI), Anthropic
 * Messages (`POST /v1/messages`, Claude Code) and OpenAI Chat Completions
 * (`POST /v1/chat/completions`, the built-in openai driver) — all streamed as Server-Sent Events.
 *
 * A prompt selects a scenario with a `[stub:NAME]` marker; the step a request is at is the number of
 * tool results already in its conversation, so concurrent runs and client retries stay consistent.
 */

export type StubProtocol = 'responses' | 'messages' | 'chat';

export interface StubRequest {
  protocol: StubProtocol;
  scenario: string | null;
  step: number;
  headers: IncomingMessage['headers'];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  /** The agent's working directory when the request says it (Claude Code's system prompt). */
  cwd: string | null;
}

export type StubStep =
  | { text: string; thinking?: string }
  | { call: { name: string; arguments: Record<string, unknown> | ((req: StubRequest) => Record<string, unknown>) }; text?: string; thinking?: string }
  | { status: number; message?: string }
  | { hang: true };

export interface StubScenario {
  steps: StubStep[];
  /** Answer the first N requests of the scenario with HTTP 500 (a transient error the client retries). */
  transientErrors?: number;
}

export interface StubModelServer {
  /** http://127.0.0.1:PORT (append /v1 for the OpenAI-style clients). */
  url: string;
  requests: StubRequest[];
  scenario(name: string, scenario: StubScenario | StubStep[]): void;
  close(): Promise<void>;
}

const USAGE = { input: 120, output: 30 };

function countToolResults(protocol: StubProtocol, body: { input?: unknown; messages?: unknown }): number {
  if (protocol === 'responses') {
    return Array.isArray(body.input) ? body.input.filter((i: { type?: string }) => i?.type === 'function_call_output' || i?.type === 'custom_tool_call_output').length : 0;
  }
  const messages = Array.isArray(body.messages) ? body.messages : [];
  if (protocol === 'chat') return messages.filter((m: { role?: string }) => m?.role === 'tool').length;
  return messages.flatMap((m: { content?: unknown }) => (Array.isArray(m?.content) ? m.content : [])).filter((c: { type?: string }) => c?.type === 'tool_result').length;
}

function sse(res: ServerResponse) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  return {
    event: (type: string, data: Record<string, unknown>) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`),
    data: (data: unknown) => res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`),
  };
}

/** Splits a string in two (to prove that clients reassemble streamed pieces). */
function halves(s: string): string[] {
  const mid = Math.ceil(s.length / 2);
  return s.length < 2 ? [s] : [s.slice(0, mid), s.slice(mid)];
}

function respondResponses(res: ServerResponse, step: StubStep, req: StubRequest, n: number): void {
  const out = sse(res);
  const id = `resp_${n}`;
  out.event('response.created', { response: { id, status: 'in_progress' } });
  let index = 0;
  const item = (it: Record<string, unknown>) => {
    out.event('response.output_item.added', { output_index: index, item: it });
    out.event('response.output_item.done', { output_index: index, item: it });
    index++;
  };
  if ('thinking' in step && step.thinking) item({ type: 'reasoning', id: `rs_${n}`, summary: [{ type: 'summary_text', text: step.thinking }] });
  if ('text' in step && step.text) {
    const msgId = `msg_${n}`;
    out.event('response.output_item.added', { output_index: index, item: { type: 'message', id: msgId, role: 'assistant', content: [] } });
    for (const piece of halves(step.text)) out.event('response.output_text.delta', { item_id: msgId, output_index: index, content_index: 0, delta: piece });
    out.event('response.output_item.done', { output_index: index, item: { type: 'message', id: msgId, role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: step.text, annotations: [] }] } });
    index++;
  }
  if ('call' in step) {
    const args = typeof step.call.arguments === 'function' ? step.call.arguments(req) : step.call.arguments;
    item({ type: 'function_call', id: `fc_${n}`, call_id: `call_${n}`, name: step.call.name, arguments: JSON.stringify(args), status: 'completed' });
  }
  out.event('response.completed', {
    response: { id, status: 'completed', usage: { input_tokens: USAGE.input, input_tokens_details: { cached_tokens: 0 }, output_tokens: USAGE.output, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: USAGE.input + USAGE.output } },
  });
  res.end();
}

function respondMessages(res: ServerResponse, step: StubStep, req: StubRequest, n: number): void {
  const model = String(req.body.model ?? 'claude-stub');
  if (!req.body.stream) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: `msg_${n}`, type: 'message', role: 'assistant', model, content: [{ type: 'text', text: 'ok' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } }));
    return;
  }
  const out = sse(res);
  out.event('message_start', { message: { id: `msg_${n}`, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: USAGE.input, output_tokens: 1 } } });
  let index = 0;
  if ('thinking' in step && step.thinking) {
    out.event('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } });
    out.event('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: step.thinking } });
    out.event('content_block_delta', { index, delta: { type: 'signature_delta', signature: 'stub-signature' } });
    out.event('content_block_stop', { index });
    index++;
  }
  if ('text' in step && step.text) {
    out.event('content_block_start', { index, content_block: { type: 'text', text: '' } });
    for (const piece of halves(step.text)) out.event('content_block_delta', { index, delta: { type: 'text_delta', text: piece } });
    out.event('content_block_stop', { index });
    index++;
  }
  let stop = 'end_turn';
  if ('call' in step) {
    const args = typeof step.call.arguments === 'function' ? step.call.arguments(req) : step.call.arguments;
    out.event('content_block_start', { index, content_block: { type: 'tool_use', id: `toolu_${n}`, name: step.call.name, input: {} } });
    for (const piece of halves(JSON.stringify(args))) out.event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } });
    out.event('content_block_stop', { index });
    stop = 'tool_use';
  }
  out.event('message_delta', { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: USAGE.output } });
  out.event('message_stop', {});
  res.end();
}

function respondChat(res: ServerResponse, step: StubStep, req: StubRequest, n: number): void {
  const out = sse(res);
  const base = { id: `chatcmpl_${n}`, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: String(req.body.model) };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => out.data({ ...base, choices: [{ index: 0, delta, finish_reason: finish }] });
  chunk({ role: 'assistant', content: '' });
  if ('thinking' in step && step.thinking) chunk({ reasoning_content: step.thinking });
  if ('text' in step && step.text) for (const piece of halves(step.text)) chunk({ content: piece });
  let finish = 'stop';
  if ('call' in step) {
    const args = JSON.stringify(typeof step.call.arguments === 'function' ? step.call.arguments(req) : step.call.arguments);
    const [first, second] = halves(args);
    chunk({ tool_calls: [{ index: 0, id: `call_${n}`, type: 'function', function: { name: step.call.name, arguments: first } }] });
    if (second) chunk({ tool_calls: [{ index: 0, function: { arguments: second } }] });
    finish = 'tool_calls';
  }
  chunk({}, finish);
  if (req.body.stream_options?.include_usage) out.data({ ...base, choices: [], usage: { prompt_tokens: USAGE.input, completion_tokens: USAGE.output, total_tokens: USAGE.input + USAGE.output } });
  out.data('[DONE]');
  res.end();
}

function fail(res: ServerResponse, protocol: StubProtocol, status: number, message: string): void {
  const body = protocol === 'messages' ? { type: 'error', error: { type: status === 429 ? 'rate_limit_error' : 'api_error', message } } : { error: { message, type: status === 429 ? 'rate_limit_exceeded' : 'server_error', code: null } };
  res.writeHead(status, { 'content-type': 'application/json', 'retry-after-ms': '10', 'retry-after': '0' });
  res.end(JSON.stringify(body));
}

export async function startStubModelServer(): Promise<StubModelServer> {
  const scenarios = new Map<string, StubScenario>();
  const seen = new Map<string, number>();
  const requests: StubRequest[] = [];
  const sockets = new Set<Socket>();
  let counter = 0;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const path = (req.url ?? '').split('?')[0];
      const protocol: StubProtocol | null = req.method !== 'POST' ? null : path === '/v1/responses' ? 'responses' : path === '/v1/messages' ? 'messages' : path === '/v1/chat/completions' ? 'chat' : null;
      if (!protocol) {
        res.writeHead(req.method === 'HEAD' ? 200 : 404, { 'content-type': 'application/json' });
        res.end(req.method === 'HEAD' ? undefined : JSON.stringify({ error: { message: `no such endpoint: ${req.method} ${path}` } }));
        return;
      }
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return fail(res, protocol, 400, 'request body is not JSON');
      }
      // The task's marker is the last one: earlier sections (the repository's memory of earlier runs) may quote others.
      const scenarioName = [...raw.matchAll(/\[stub:([\w-]+)\]/g)].at(-1)?.[1] ?? null;
      const cwd = /Primary working directory: ([^\s\\"]+)/.exec(raw)?.[1] ?? null;
      const step = countToolResults(protocol, body);
      const request: StubRequest = { protocol, scenario: scenarioName, step, headers: req.headers, body, cwd };
      requests.push(request);
      const n = ++counter;
      const scenario = scenarioName ? scenarios.get(scenarioName) : undefined;
      if (!scenario) return fail(res, protocol, 400, `unknown stub scenario ${scenarioName ?? '(no [stub:NAME] marker)'}`);
      const count = (seen.get(scenarioName!) ?? 0) + 1;
      seen.set(scenarioName!, count);
      if (scenario.transientErrors && count <= scenario.transientErrors) return fail(res, protocol, 500, 'transient stub error');
      const current = scenario.steps[Math.min(step, scenario.steps.length - 1)]!;
      if ('hang' in current) return; // never answers
      if ('status' in current) return fail(res, protocol, current.status, current.message ?? `stub error ${current.status}`);
      if (protocol === 'responses') respondResponses(res, current, request, n);
      else if (protocol === 'messages') respondMessages(res, current, request, n);
      else respondChat(res, current, request, n);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('stub model server did not bind');
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    scenario(name, scenario) {
      scenarios.set(name, Array.isArray(scenario) ? { steps: scenario } : scenario);
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A local port nothing listens on (the model endpoint is down). */
export async function deadEndpoint(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}
