import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import { deadEndpoint, startStubModelServer, type StubModelServer } from '../helpers/stubModelServer.ts';
import type { JobRunner } from '../../src/runner/runner.ts';
import { waitFor } from '../helpers/scriptedRuns.ts';

/**
 * The real agent drivers end to end: the real Codex and Claude Code CLIs, the built-in
 * OpenAI-compatible agent and a configured command, each against a local stub model endpoint,
 * through the runs API, a runner, the sandbox, git and the run's pull request.
 */

const CI = process.env.CI === 'true';
const CLI_CACHE = join(homedir(), '.cache', 'gitoku-test-clis', 'node_modules', '.bin');

/** The real CLI to test with: GITOKU_TEST_<NAME>_BIN, else the cache .ci/run installs into. */
function testCli(variable: string, name: string): string | null {
  const configured = process.env[variable];
  if (configured) return existsSync(configured) ? configured : null;
  const cached = join(CLI_CACHE, name);
  return existsSync(cached) ? cached : null;
}

const codexBin = testCli('GITOKU_TEST_CODEX_BIN', 'codex');
const claudeBin = testCli('GITOKU_TEST_CLAUDE_BIN', 'claude');

/** A test that needs a real CLI: skipped (saying why) on a machine without it, failing in CI. */
function withCli(bin: string | null, what: string) {
  const reason = `the ${what} is not installed (npm install --prefix ~/.cache/gitoku-test-clis @openai/codex @anthropic-ai/claude-code, or set its GITOKU_TEST_*_BIN)`;
  if (bin || CI) {
    return (name: string, fn: () => Promise<void>, timeout?: number) =>
      it(
        name,
        async () => {
          if (!bin) throw new Error(reason);
          await fn();
        },
        timeout,
      );
  }
  return (name: string, fn: () => Promise<void>, timeout?: number) => it.skip(`${name} — skipped: ${reason}`, fn, timeout);
}
const codexIt = withCli(codexBin, 'Codex CLI');
const claudeIt = withCli(claudeBin, 'Claude Code CLI');

const KEYS = {
  codex: 'sk-codex-test-SECRET-7f3a9c1e5b',
  claude: 'sk-ant-test-SECRET-2d8e4b6a0c',
  openai: 'sk-openai-test-SECRET-9b1d3f5e7a',
  command: 'cmd-token-SECRET-4c6e8a0b2d',
};
const ALL_KEYS = Object.values(KEYS);

interface Fixture {
  server: TestServer;
  owner: TestUser;
  remote: string;
  work: { path: string; remove(): Promise<void> };
  path: (p: string) => string;
}

async function setUpRepository(server: TestServer, name: string): Promise<Fixture> {
  const owner = await createTestUser(server);
  await api(server, 'POST', '/user/repos', { token: owner.token, body: { name } });
  const work = await tempDir();
  await initWorkRepo(work.path, { 'README.md': '# Drivers\n\nA repository for agents.\n', 'src/app.txt': 'app\n' });
  const remote = authUrl(server.url, `${owner.username}/${name}.git`, owner.username, owner.token);
  await gitOk(work.path, ['push', '-q', remote, 'main']);
  return { server, owner, remote, work, path: (p: string) => `/repos/${owner.username}/${name}${p}` };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function startRun(f: Fixture, body: Record<string, unknown>): Promise<Json> {
  const res = await api(f.server, 'POST', f.path('/runs'), { token: f.owner.token, body });
  expect(res.status, res.text).toBe(201);
  return res.json;
}

async function finished(f: Fixture, number: number, ms = 90_000): Promise<Json> {
  return waitFor(async () => {
    const r = await api(f.server, 'GET', f.path(`/runs/${number}`));
    return ['succeeded', 'failed', 'cancelled'].includes(r.json.status) ? r.json : null;
  }, ms);
}

async function events(f: Fixture, number: number): Promise<{ list: { kind: string; data: Json }[]; text: string }> {
  const res = await api(f.server, 'GET', f.path(`/runs/${number}/events`));
  return { list: res.json.events.map((e: { kind: string; data: unknown }) => ({ kind: e.kind, data: typeof e.data === 'string' ? JSON.parse(e.data) : e.data })), text: res.text };
}

/** No credential anywhere a person or a log could see it: the trace, the run, the pull request and its comments. */
async function expectNoSecrets(f: Fixture, run: Json): Promise<void> {
  const texts = [
    (await api(f.server, 'GET', f.path(`/runs/${run.number}/events`))).text,
    (await api(f.server, 'GET', f.path(`/runs/${run.number}`))).text,
    (await api(f.server, 'GET', f.path(`/pulls/${run.pull_request.number}`))).text,
    (await api(f.server, 'GET', f.path(`/issues/${run.pull_request.number}/comments`))).text,
  ];
  for (const text of texts) for (const key of ALL_KEYS) expect(text).not.toContain(key);
}

/** The run succeeded and its pull request carries `file` with `content` on the compare branch. */
async function expectChange(f: Fixture, run: Json, file: string, content: string | RegExp): Promise<void> {
  expect(run.status, run.error).toBe('succeeded');
  await gitOk(f.work.path, ['fetch', '-q', f.remote, run.compare_branch]);
  const text = await gitOk(f.work.path, ['show', `FETCH_HEAD:${file}`]);
  if (typeof content === 'string') expect(text).toBe(content);
  else expect(text).toMatch(content);
  const pr = await api(f.server, 'GET', f.path(`/pulls/${run.pull_request.number}`));
  expect(pr.json).toMatchObject({ draft: true, state: 'open', head: { ref: run.compare_branch, sha: run.commit_sha } });
  const files = await api(f.server, 'GET', f.path(`/pulls/${run.pull_request.number}/files`));
  expect(files.json.map((x: { filename: string }) => x.filename)).toContain(file);
}

/** The run failed, and the reason is in the trace and on the pull request. */
async function expectFailure(f: Fixture, run: Json, reason: RegExp): Promise<void> {
  expect(run.status).toBe('failed');
  expect(run.error).toMatch(reason);
  const trace = await events(f, run.number);
  expect(trace.list.filter((e) => e.kind === 'error').map((e) => e.data.message).join('\n')).toMatch(reason);
  const comments = await api(f.server, 'GET', f.path(`/issues/${run.pull_request.number}/comments`));
  expect(comments.json.at(-1).body).toMatch(reason);
  await expectNoSecrets(f, run);
}

async function writeScript(dir: string, name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

describe.each(testDialects())('agent drivers on %s', (dialect) => {
  let stub: StubModelServer;
  let f: Fixture;
  let runner: JobRunner;
  let scripts: string;

  beforeAll(async () => {
    stub = await startStubModelServer();
    scripts = await mkdtemp(join(tmpdir(), 'gitoku-agent-bin-'));
    const agent = await writeScript(
      scripts,
      'agent.sh',
      [
        'set -e',
        'prompt_file="$1"; workspace="$2"; model="$3"',
        'echo "reading the task"',
        'echo "working…" >&2',
        'echo "token=$AGENT_TOKEN"',
        'title=$(grep "^## Task: " "$prompt_file")',
        'printf "model=%s\\ncwd=%s\\n%s\\n" "$model" "$(pwd)" "$title" > "$workspace/command.txt"',
        'echo',
        'echo "Wrote command.txt"',
      ].join('\n'),
    );
    const server = await startTestServer(dialect, {
      GITOKU_CODEX_BIN: codexBin ?? '/nonexistent/codex',
      GITOKU_CODEX_API_KEY: KEYS.codex,
      GITOKU_CODEX_BASE_URL: `${stub.url}/v1`,
      GITOKU_CODEX_CONFIG: '[model_providers.gitoku]\nrequest_max_retries = 0\nstream_max_retries = 0\n',
      GITOKU_CLAUDE_BIN: claudeBin ?? '/nonexistent/claude',
      GITOKU_ANTHROPIC_API_KEY: KEYS.claude,
      GITOKU_ANTHROPIC_BASE_URL: stub.url,
      GITOKU_CLAUDE_SETTINGS: JSON.stringify({ env: { CLAUDE_CODE_MAX_RETRIES: '0' } }),
      GITOKU_OPENAI_BASE_URL: `${stub.url}/v1`,
      GITOKU_OPENAI_API_KEY: KEYS.openai,
      GITOKU_OPENAI_MODELS: 'stub-model, stub-large',
      GITOKU_COMMAND_DRIVER: JSON.stringify([agent, '{prompt_file}', '{workspace}', '{model}']),
      GITOKU_COMMAND_MODELS: 'house-model',
      GITOKU_COMMAND_ENV: JSON.stringify({ AGENT_TOKEN: KEYS.command }),
      GITOKU_DEFAULT_DRIVER: 'openai',
    });
    f = await setUpRepository(server, 'drv');
    runner = await startInProcessRunner(server, 3);
  });

  afterAll(async () => {
    await runner?.stop();
    await f?.work.remove();
    await f?.server.close();
    await stub?.close();
    if (scripts) await rm(scripts, { recursive: true, force: true });
  });

  it('lists the configured drivers as available, with their models and the server default', async () => {
    const res = await api(f.server, 'GET', '/drivers');
    const by = Object.fromEntries(res.json.map((d: Json) => [d.name, d]));
    expect(by.openai).toMatchObject({ available: true, reason: null, models: ['stub-model', 'stub-large'], defaultModel: 'stub-model', default: true });
    expect(by.command).toMatchObject({ available: true, models: ['house-model'] });
    expect(by.codex.available).toBe(Boolean(codexBin));
    expect(by.claude.available).toBe(Boolean(claudeBin));
    expect(res.text).not.toContain(KEYS.openai);
    const unknownModel = await api(f.server, 'POST', f.path('/runs'), { token: f.owner.token, body: { prompt: 'x', driver: 'openai', model: 'gpt-unknown' } });
    expect(unknownModel.status).toBe(422);
  });

  codexIt('codex: the real CLI edits the workspace through its tools and the change reaches the pull request', async () => {
    stub.scenario('codex-edit', [
      { thinking: 'Plan: add codex.txt with apply_patch', call: { name: 'exec_command', arguments: { cmd: "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: codex.txt\n+written by codex\n*** End Patch\nEOF\n" } } },
      { call: { name: 'exec_command', arguments: { cmd: 'cat codex.txt' } } },
      { text: 'Added codex.txt' },
    ]);
    const started = await startRun(f, { prompt: '[stub:codex-edit] Add codex.txt', title: 'Codex edit', driver: 'codex', model: 'gpt-5.5' });
    const run = await finished(f, started.number);
    await expectChange(f, run, 'codex.txt', 'written by codex\n');
    expect(run.result_summary).toBe('Added codex.txt');
    expect(run.session_id).toMatch(/^[0-9a-f-]{20,}$/);
    expect(run.usage).toMatchObject({ input_tokens: 360, output_tokens: 90, total_tokens: 450 });
    const trace = await events(f, run.number);
    const kinds = trace.list.map((e) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['thinking', 'file_edit', 'command', 'message', 'usage']));
    expect(trace.list.find((e) => e.kind === 'file_edit')!.data).toMatchObject({ path: 'codex.txt', action: 'write' });
    expect(trace.list.find((e) => e.kind === 'command' && e.data.command === 'cat codex.txt')!.data).toMatchObject({ exit_code: 0, output: expect.stringContaining('written by codex') });
    expect(trace.list.find((e) => e.kind === 'thinking')!.data.text).toContain('Plan: add codex.txt');
    const seen = stub.requests.filter((r) => r.scenario === 'codex-edit');
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen[0]!.body.model).toBe('gpt-5.5');
    expect(seen[0]!.headers.authorization).toBe(`Bearer ${KEYS.codex}`);
    await expectNoSecrets(f, run);
    // One agent process: checkpoints at the steps its trace shows, between step 0 and the result, taken
    // while it runs — with a live snapshot where the store is overlay (root here), else code only.
    const checkpoints = (await api(f.server, 'GET', f.path(`/runs/${run.number}/checkpoints`), { token: f.owner.token })).json as { step: number; commit_sha: string; snapshot: { mode: string } | null }[];
    expect(checkpoints.length).toBeGreaterThanOrEqual(3);
    const overlay = process.getuid?.() === 0;
    expect(checkpoints.slice(1, -1).map((c) => c.snapshot?.mode ?? null)).toEqual(checkpoints.slice(1, -1).map(() => (overlay ? 'overlay' : null)));
  }, 90_000);

  claudeIt('claude: the real CLI writes a file and runs a command; its key never reaches the trace', async () => {
    stub.scenario('claude-edit', [
      { thinking: 'I will write claude.txt', call: { name: 'Write', arguments: (req) => ({ file_path: `${req.cwd}/claude.txt`, content: 'written by claude\n' }) } },
      { call: { name: 'Bash', arguments: { command: 'cat claude.txt; echo "key=$ANTHROPIC_API_KEY"', description: 'Show the file' } } },
      { text: 'Wrote claude.txt' },
    ]);
    const started = await startRun(f, { prompt: '[stub:claude-edit] Write claude.txt', title: 'Claude edit', driver: 'claude', model: 'sonnet' });
    const run = await finished(f, started.number);
    await expectChange(f, run, 'claude.txt', 'written by claude\n');
    expect(run.result_summary).toBe('Wrote claude.txt');
    expect(run.session_id).toMatch(/^[0-9a-f-]{20,}$/);
    const usage = run.usage;
    expect(usage).toMatchObject({ input_tokens: 360, output_tokens: 90, num_turns: expect.any(Number), cost_usd: expect.any(Number) });
    const trace = await events(f, run.number);
    expect(trace.list.find((e) => e.kind === 'file_edit')!.data).toMatchObject({ path: 'claude.txt', action: 'write', bytes: 18 });
    const command = trace.list.find((e) => e.kind === 'command')!.data;
    expect(command.command).toContain('cat claude.txt');
    expect(command.output).toContain('written by claude');
    expect(command.output).toContain('key=[redacted]');
    expect(trace.list.find((e) => e.kind === 'thinking')!.data.text).toBe('I will write claude.txt');
    expect(trace.list.some((e) => e.kind === 'message' && e.data.text === 'Wrote claude.txt')).toBe(true);
    const seen = stub.requests.filter((r) => r.scenario === 'claude-edit' && r.body.stream);
    expect(seen[0]!.headers['x-api-key']).toBe(KEYS.claude);
    expect(String(seen[0]!.body.model)).toContain('sonnet');
    // Provenance records the model Claude Code resolved the alias to (its init event), keeping the alias (issue 16, point 19).
    expect(run.model).toBe('sonnet');
    expect(run.resolved_model).toBe(String(seen[0]!.body.model));
    expect(run.resolved_model).not.toBe('sonnet');
    const captures = await f.server.app.db.selectFrom('commit_ai_contexts').selectAll().where('run_id', '=', run.id).execute();
    expect(captures.length).toBeGreaterThan(0);
    for (const c of captures) {
      expect(c.exact_model_name).toBe(run.resolved_model);
      expect(JSON.parse(c.details).model_alias).toBe('sonnet');
    }
    await expectNoSecrets(f, run);
  }, 90_000);

  it('openai: the built-in agent reads, edits, writes and runs commands in the checkout (and nowhere else)', async () => {
    stub.scenario('openai-edit', {
      transientErrors: 1, // a 500 first: the client retries
      steps: [
        { text: 'Let me look around.', thinking: 'Start with the file list.', call: { name: 'list_files', arguments: {} } },
        { call: { name: 'read_file', arguments: { path: 'README.md' } } },
        { call: { name: 'replace_in_file', arguments: { path: 'README.md', old_text: '# Drivers', new_text: '# Drivers (edited)' } } },
        { call: { name: 'write_file', arguments: { path: '../outside.txt', content: 'escape' } } },
        { call: { name: 'write_file', arguments: { path: 'src/openai.txt', content: 'written by openai\n' } } },
        { call: { name: 'run_command', arguments: { command: 'cat src/openai.txt; echo "key=${GITOKU_DRIVER_API_KEY}${OPENAI_API_KEY}."' } } },
        { call: { name: 'search_text', arguments: { pattern: 'edited' } } },
        { text: 'Edited the README and added src/openai.txt.' },
      ],
    });
    const started = await startRun(f, { prompt: '[stub:openai-edit] Edit the README', title: 'OpenAI edit', driver: 'openai' });
    expect(started.model).toBe('stub-model');
    const run = await finished(f, started.number);
    await expectChange(f, run, 'src/openai.txt', 'written by openai\n');
    await expectChange(f, run, 'README.md', /^# Drivers \(edited\)\n/);
    expect(run.result_summary).toBe('Edited the README and added src/openai.txt.');
    expect(run.usage).toMatchObject({ input_tokens: 8 * 120, output_tokens: 8 * 30, total_tokens: 8 * 150, steps: 8 });
    const trace = await events(f, run.number);
    const tools = trace.list.filter((e) => e.kind === 'tool_call').map((e) => e.data);
    expect(tools.find((t) => t.tool === 'list_files').output).toContain('src/app.txt');
    expect(tools.find((t) => t.tool === 'write_file').output).toMatch(/outside the repository/);
    expect(tools.find((t) => t.tool === 'search_text').output).toContain('README.md:1:# Drivers (edited)');
    expect(trace.list.filter((e) => e.kind === 'file_edit').map((e) => e.data.path)).toEqual(['README.md', 'src/openai.txt']);
    const command = trace.list.find((e) => e.kind === 'command')!.data;
    expect(command).toMatchObject({ exit_code: 0 });
    expect(command.output).toContain('written by openai\nkey=.');
    expect(trace.list.find((e) => e.kind === 'thinking')!.data.text).toBe('Start with the file list.');
    expect(trace.list.find((e) => e.kind === 'usage')!.data).toMatchObject({ total_tokens: 1200 });
    const seen = stub.requests.filter((r) => r.scenario === 'openai-edit');
    expect(seen.length).toBe(9); // one transient 500, retried, then eight steps
    expect(seen[0]!.headers.authorization).toBe(`Bearer ${KEYS.openai}`);
    expect(seen[0]!.body.stream).toBe(true);
    expect(seen[0]!.body.tools.map((t: Json) => t.function.name)).toEqual(['list_files', 'read_file', 'write_file', 'replace_in_file', 'delete_file', 'search_text', 'run_command']);
    expect(existsSync(join(tmpdir(), 'outside.txt'))).toBe(false);
    await expectNoSecrets(f, run);
  }, 90_000);

  it('command: the configured program gets the prompt file, workspace and model; its output is the trace', async () => {
    const started = await startRun(f, { prompt: 'Write command.txt', title: 'Command edit', driver: 'command' });
    expect(started.model).toBe('house-model');
    const run = await finished(f, started.number);
    // The checkout is /workspace in the sandbox (its path on the runner where there is no sandbox).
    await expectChange(f, run, 'command.txt', /^model=house-model\ncwd=(\/workspace|\/.+\/work)\n## Task: Command edit\n$/);
    expect(run.result_summary).toBe('Wrote command.txt');
    const trace = await events(f, run.number);
    const stdout = trace.list.filter((e) => e.kind === 'log' && e.data.stream === 'stdout').map((e) => e.data.text).join('');
    expect(stdout).toContain('reading the task');
    expect(stdout).toContain('token=[redacted]');
    expect(trace.list.filter((e) => e.kind === 'log' && e.data.stream === 'stderr').map((e) => e.data.text).join('')).toContain('working…');
    expect(trace.list.some((e) => e.kind === 'message' && e.data.text === 'Wrote command.txt')).toBe(true);
    await expectNoSecrets(f, run);
  });

  it('uses the repository default agent when a run names none, and refuses unavailable defaults', async () => {
    const set = await api(f.server, 'PATCH', f.path(''), { token: f.owner.token, body: { default_driver: 'command', default_model: 'house-model' } });
    expect(set.status, set.text).toBe(200);
    expect(set.json).toMatchObject({ default_driver: 'command', default_model: 'house-model' });
    const started = await startRun(f, { prompt: 'Write command.txt', title: 'Default agent' });
    expect(started).toMatchObject({ driver: 'command', model: 'house-model' });
    const unavailable = await api(f.server, 'PATCH', f.path(''), { token: f.owner.token, body: { default_driver: 'nope' } });
    expect(unavailable.status).toBe(422);
    const reset = await api(f.server, 'PATCH', f.path(''), { token: f.owner.token, body: { default_driver: '' } });
    expect(reset.json.default_driver).toBeNull();
    await finished(f, started.number);
  });

  codexIt('codex: a 429 from the model endpoint fails the run with the reason', async () => {
    stub.scenario('codex-429', [{ status: 429, message: 'slow down' }]);
    const started = await startRun(f, { prompt: '[stub:codex-429] Anything', driver: 'codex' });
    await expectFailure(f, await finished(f, started.number), /codex failed: .*429/);
  }, 90_000);

  claudeIt('claude: a 500 from the model endpoint fails the run with the reason', async () => {
    stub.scenario('claude-500', [{ status: 500, message: 'the stub broke' }]);
    const started = await startRun(f, { prompt: '[stub:claude-500] Anything', driver: 'claude' });
    await expectFailure(f, await finished(f, started.number), /claude failed: .*500/);
  }, 90_000);

  it('openai: an error response from the endpoint fails the run with the reason', async () => {
    stub.scenario('openai-500', [{ status: 500, message: 'the stub broke' }]);
    const started = await startRun(f, { prompt: '[stub:openai-500] Anything', driver: 'openai' });
    await expectFailure(f, await finished(f, started.number), /answered HTTP 500: .*the stub broke/);
  }, 90_000);

  it('openai: an endpoint that never answers fails the run at its timeout, retries included (issue 16, point 17)', async () => {
    stub.scenario('openai-hang', [{ hang: true }]);
    const before = Date.now();
    const started = await startRun(f, { prompt: '[stub:openai-hang] Anything', driver: 'openai', timeout_seconds: 5 });
    const run = await finished(f, started.number);
    await expectFailure(f, run, /timed out after 5 s/);
    // The client retries a timed-out request: each retry used to wait the whole timeout again (3 × 5 s).
    expect(Date.now() - before).toBeLessThan(9_000);
  }, 90_000);

  codexIt("codex: provenance records the model codex resolved 'default' to, keeping the alias (issue 16, point 19)", async () => {
    stub.scenario('codex-default', [
      { call: { name: 'exec_command', arguments: { cmd: "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: resolved.txt\n+resolved\n*** End Patch\nEOF\n" } } },
      { text: 'Added resolved.txt' },
    ]);
    const started = await startRun(f, { prompt: '[stub:codex-default] Add resolved.txt', title: 'Codex default', driver: 'codex', model: 'default' });
    const run = await finished(f, started.number);
    await expectChange(f, run, 'resolved.txt', 'resolved\n');
    const asked = String(stub.requests.find((r) => r.scenario === 'codex-default')!.body.model);
    expect(asked).not.toBe('default');
    expect(run).toMatchObject({ model: 'default', resolved_model: asked });
    const captures = await f.server.app.db.selectFrom('commit_ai_contexts').selectAll().where('run_id', '=', run.id).execute();
    expect(captures.length).toBeGreaterThan(0);
    for (const c of captures) {
      expect(c.exact_model_name).toBe(asked);
      expect(JSON.parse(c.details).model_alias).toBe('default');
    }
  }, 90_000);

  codexIt('codex: a model that never answers is stopped at the run timeout', async () => {
    stub.scenario('codex-hang', [{ hang: true }]);
    const before = Date.now();
    const started = await startRun(f, { prompt: '[stub:codex-hang] Anything', driver: 'codex', timeout_seconds: 3 });
    const run = await finished(f, started.number);
    await expectFailure(f, run, /codex timed out after 3 s/);
    expect(Date.now() - before).toBeLessThan(45_000);
  }, 90_000);
});

// Failures do not depend on the database: SQLite only. One server at a time (the driver settings
// of the New-task validation are the last loaded configuration's).
describe('agent drivers when the model endpoint is down', () => {
  let down: Fixture;
  let runner: JobRunner;

  beforeAll(async () => {
    const dead = await deadEndpoint();
    const server = await startTestServer('sqlite', {
      GITOKU_CODEX_BIN: codexBin ?? '/nonexistent/codex',
      GITOKU_CODEX_API_KEY: KEYS.codex,
      GITOKU_CODEX_BASE_URL: `${dead}/v1`,
      GITOKU_CODEX_CONFIG: '[model_providers.gitoku]\nrequest_max_retries = 0\nstream_max_retries = 0\n',
      GITOKU_CLAUDE_BIN: claudeBin ?? '/nonexistent/claude',
      GITOKU_ANTHROPIC_API_KEY: KEYS.claude,
      GITOKU_ANTHROPIC_BASE_URL: dead,
      GITOKU_CLAUDE_SETTINGS: JSON.stringify({ env: { CLAUDE_CODE_MAX_RETRIES: '0' } }),
      GITOKU_OPENAI_BASE_URL: `${dead}/v1`,
      GITOKU_OPENAI_API_KEY: KEYS.openai,
      GITOKU_OPENAI_MODELS: 'stub-model',
    });
    down = await setUpRepository(server, 'down');
    runner = await startInProcessRunner(server, 3);
  });

  afterAll(async () => {
    await runner?.stop();
    await down?.work.remove();
    await down?.server.close();
  });

  codexIt('codex: a failed run saying the endpoint is unreachable', async () => {
    const started = await startRun(down, { prompt: 'Anything', driver: 'codex' });
    // Directly (codex's own reconnect loop) or through the runner's model proxy (the default model-only network).
    await expectFailure(down, await finished(down, started.number), /model endpoint (127\.0\.0\.1:\d+ )?is unreachable/);
  }, 120_000);

  claudeIt('claude: a failed run saying it could not connect', async () => {
    const started = await startRun(down, { prompt: 'Anything', driver: 'claude' });
    // Through the runner's model proxy (the default model-only network) the proxy reports the refused connection.
    await expectFailure(down, await finished(down, started.number), /claude failed: .*(Unable to connect|ConnectionRefused|model endpoint 127\.0\.0\.1:\d+ is unreachable \(connect ECONNREFUSED)/);
  }, 90_000);

  it('openai: a failed run saying it could not reach the endpoint', async () => {
    const started = await startRun(down, { prompt: 'Anything', driver: 'openai' });
    await expectFailure(down, await finished(down, started.number), /could not reach the model endpoint http:\/\/127\.0\.0\.1:\d+\/v1: .*ECONNREFUSED/);
  }, 90_000);
});

describe('agent drivers whose CLI misbehaves', () => {
  let broken: Fixture;
  let runner: JobRunner;
  let scripts: string;
  let fakeClaude: string;

  beforeAll(async () => {
    scripts = await mkdtemp(join(tmpdir(), 'gitoku-fake-cli-'));
    const fake = [
      'prompt=$(cat)',
      'echo "fake cli: keys $CODEX_API_KEY $ANTHROPIC_API_KEY" >&2',
      'case "$prompt" in',
      '  *"[fake:hang]"*) echo \'{"type":"thread.started","thread_id":"t-1"}\'; exec sleep 600 ;;',
      // Codex 0.171 wraps commands in double quotes.
      '  *"[fake:dq]"*) cat <<\'EOF\'',
      '{"type":"thread.started","thread_id":"t-2"}',
      '{"type":"item.completed","item":{"id":"i1","type":"command_execution","command":"/bin/bash -lc \\"cat NOTES.md && echo \\\\\\"done\\\\\\"\\"","aggregated_output":"done\\n","exit_code":0,"status":"completed"}}',
      '{"type":"item.completed","item":{"id":"i2","type":"agent_message","text":"Looked at the notes"}}',
      '{"type":"turn.completed","usage":{"input_tokens":1,"output_tokens":1}}',
      'EOF',
      '  ;;',
      '  *) echo "this is not JSON"; echo "neither is this"; exit 0 ;;',
      'esac',
    ].join('\n');
    const fakeCodex = await writeScript(scripts, 'fake-codex', fake);
    fakeClaude = await writeScript(scripts, 'fake-claude', fake);
    const server = await startTestServer('sqlite', { GITOKU_CODEX_BIN: fakeCodex, GITOKU_CODEX_API_KEY: KEYS.codex, GITOKU_CLAUDE_BIN: fakeClaude, GITOKU_ANTHROPIC_API_KEY: KEYS.claude });
    broken = await setUpRepository(server, 'broken');
    runner = await startInProcessRunner(server, 1); // one job at a time: the last test relies on the order
  });

  afterAll(async () => {
    await runner?.stop();
    await broken?.work.remove();
    await broken?.server.close();
    if (scripts) await rm(scripts, { recursive: true, force: true });
  });

  it('codex and claude: malformed output → a failed run naming it', async () => {
    const codex = await startRun(broken, { prompt: 'Anything', driver: 'codex' });
    const claude = await startRun(broken, { prompt: 'Anything', driver: 'claude', model: 'default' });
    await expectFailure(broken, await finished(broken, codex.number), /codex ended without completing its turn: its output is not JSON Lines \("this is not JSON"\)/);
    await expectFailure(broken, await finished(broken, claude.number), /claude ended without a result: its output is not stream-json \("this is not JSON"\)/);
    const trace = await events(broken, codex.number);
    expect(trace.text).toContain('fake cli: keys [redacted]');
  }, 90_000);

  it('codex: a command wrapped as /bin/bash -lc "…" shows in the trace as the agent wrote it (issue 16, point 20)', async () => {
    const started = await startRun(broken, { prompt: '[fake:dq] Read the notes', driver: 'codex' });
    const run = await finished(broken, started.number);
    expect(run.status, run.error).toBe('succeeded');
    const trace = await events(broken, run.number);
    expect(trace.list.find((e) => e.kind === 'command')!.data).toMatchObject({ command: 'cat NOTES.md && echo "done"', exit_code: 0 });
  }, 90_000);

  it('codex: a CLI that hangs is stopped at the run timeout', async () => {
    const before = Date.now();
    const started = await startRun(broken, { prompt: '[fake:hang] Anything', driver: 'codex', timeout_seconds: 2 });
    await expectFailure(broken, await finished(broken, started.number), /codex timed out after 2 s/);
    expect(Date.now() - before).toBeLessThan(20_000);
  }, 90_000);

  it('claude: a CLI missing on the runner → a failed run naming the setting', async () => {
    // The server saw the CLI when the run was created; by the time the (busy) runner gets to it, it is gone.
    const busy = await startRun(broken, { prompt: '[fake:hang] Keep the runner busy', driver: 'codex', timeout_seconds: 3 });
    await waitFor(async () => (await api(broken.server, 'GET', broken.path(`/runs/${busy.number}`))).json.status === 'running', 30_000);
    const started = await startRun(broken, { prompt: 'Anything', driver: 'claude' });
    await rm(fakeClaude);
    await expectFailure(broken, await finished(broken, started.number), /Claude Code CLI was not found at .*fake-claude on this runner \(check GITOKU_CLAUDE_BIN\)/);
    const drivers = await api(broken.server, 'GET', '/drivers');
    expect(drivers.json.find((d: Json) => d.name === 'claude')).toMatchObject({ available: false, reason: expect.stringContaining('was not found') });
  }, 90_000);
});
