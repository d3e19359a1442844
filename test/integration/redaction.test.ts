import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import type { JobRunner } from '../../src/runner/runner.ts';
import { waitFor } from '../helpers/scriptedRuns.ts';

/**
 * Issue 16, point 18: an agent prints its credential in ordinary ways — `printenv KEY | base64`, after
 * other bytes, `| xxd -p`, URL-encoded, as JSON — and none of them may reach the trace, the run or the
 * database. A real run of a configured command agent holding a fake secret in its environment.
 */

// Long enough that `base64` (76 columns) and `xxd -p` (60) wrap it; characters every encoding treats differently.
const SECRET = "sk-proj-Zx9/Qw+Er=Ty&Ui?Op Lk\"Jh~Gf!Ds*Aa(Pp)Oo'Ii-Uu_Yy.Tt:Rr@Ee#Ww$Qq%Mm,Nn;Bb";

/** What the agent prints, as the program prints it: each form must be gone from everything reported. */
function printedForms(secret: string): Record<string, string> {
  const b = (s: string) => Buffer.from(s).toString('base64');
  const strictUri = encodeURIComponent(secret).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return {
    raw: secret,
    base64_newline: b(`${secret}\n`),
    base64: b(secret),
    base64_offset1: b(`x${secret}`),
    base64_offset2: b(`xy${secret}\n`),
    base64url: b(secret).replace(/\+/g, '-').replace(/\//g, '_'),
    hex_newline: Buffer.from(`${secret}\n`).toString('hex'),
    hex_upper: Buffer.from(secret).toString('hex').toUpperCase(),
    od: Buffer.from(secret).toString('hex'),
    uri: strictUri,
    uri_js: encodeURIComponent(secret),
    json: JSON.stringify(secret).slice(1, -1),
  };
}

const AGENT = [
  'echo "RAW $AGENT_SECRET"',
  'echo "B64NL"; printenv AGENT_SECRET | base64',
  'echo "B64"; printf %s "$AGENT_SECRET" | base64 -w0; echo',
  'echo "B64-1"; printf "x%s" "$AGENT_SECRET" | base64',
  'echo "B64-2"; printf "xy%s\\n" "$AGENT_SECRET" | base64 -w0; echo',
  "echo \"B64URL\"; printf %s \"$AGENT_SECRET\" | base64 -w0 | tr '+/' '-_'; echo",
  'echo "HEX"; printenv AGENT_SECRET | xxd -p',
  'echo "HEXUP"; printf %s "$AGENT_SECRET" | xxd -p -c 256 | tr a-f A-F',
  "echo \"OD\"; printf %s \"$AGENT_SECRET\" | od -An -tx1 | tr -d ' \\n'; echo",
  'echo "URI"; jq -rn --arg s "$AGENT_SECRET" \'$s|@uri\'',
  'echo "JSON"; jq -cn --arg s "$AGENT_SECRET" \'{key: $s}\'',
  'echo "SUMMARY"; printenv AGENT_SECRET | base64 -w0',
].join('\n');

/** Every 12-character piece of `form`: none may appear in the (whitespace-free) reported text. */
function leaks(text: string, forms: Record<string, string>): string[] {
  const flat = text.replace(/\\n|\\r|\s/g, '');
  const found: string[] = [];
  for (const [name, form] of Object.entries(forms)) {
    const f = form.replace(/\s/g, '');
    for (let i = 0; i + 12 <= f.length; i++) {
      if (flat.includes(f.slice(i, i + 12))) {
        found.push(`${name}: ${f.slice(i, i + 12)}`);
        break;
      }
    }
  }
  return found;
}

describe.each(testDialects())('secrets in every encoding an agent prints on %s', { timeout: 90_000 }, (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let runner: JobRunner;
  let work: { path: string; remove(): Promise<void> };
  let scripts: string;
  const path = (p: string) => `/repos/${owner.username}/sealed${p}`;

  beforeAll(async () => {
    scripts = await mkdtemp(join(tmpdir(), 'gitoku-redact-'));
    const agent = join(scripts, 'agent.sh');
    await writeFile(agent, `#!/bin/sh\n${AGENT}\n`);
    await chmod(agent, 0o755);
    server = await startTestServer(dialect, {
      GITOKU_COMMAND_DRIVER: JSON.stringify([agent, '{prompt_file}']),
      GITOKU_COMMAND_MODELS: 'house-model',
      GITOKU_COMMAND_ENV: JSON.stringify({ AGENT_SECRET: SECRET }),
    });
    owner = await createTestUser(server);
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'sealed' } });
    work = await tempDir();
    await initWorkRepo(work.path, { 'README.md': '# Sealed\n' });
    await gitOk(work.path, ['push', '-q', authUrl(server.url, `${owner.username}/sealed.git`, owner.username, owner.token), 'main']);
    runner = await startInProcessRunner(server, 1);
  });

  afterAll(async () => {
    await runner?.stop();
    await work?.remove();
    await server?.close();
    if (scripts) await rm(scripts, { recursive: true, force: true });
  });

  it('redacts the raw, base64 (every alignment, with and without the newline, wrapped), hex, URL and JSON forms', async () => {
    const started = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: 'Print the key', driver: 'command' } });
    expect(started.status, started.text).toBe(201);
    const run = await waitFor(async () => {
      const r = await api(server, 'GET', path(`/runs/${started.json.number}`));
      return ['succeeded', 'failed', 'cancelled'].includes(r.json.status) ? r.json : null;
    });
    expect(run.status, run.error).toBe('succeeded');
    const trace = await api(server, 'GET', path(`/runs/${run.number}/events`));
    const stdout = trace.json.events
      .filter((e: { kind: string }) => e.kind === 'log')
      .map((e: { data: unknown }) => (typeof e.data === 'string' ? JSON.parse(e.data) : e.data) as { text: string })
      .map((d: { text: string }) => d.text)
      .join('');
    // The agent did print every form (its markers are there), each replaced.
    expect(stdout).toContain('RAW [redacted]\n');
    for (const marker of ['B64NL', 'B64-1', 'B64-2', 'B64URL', 'HEX', 'HEXUP', 'OD', 'URI', 'JSON']) expect(stdout).toContain(`${marker}\n`);
    expect(stdout.match(/\[redacted\]/g)!.length).toBeGreaterThanOrEqual(12);
    const forms = printedForms(SECRET);
    expect(leaks(stdout, forms)).toEqual([]);
    expect(leaks(trace.text, forms)).toEqual([]);
    expect(leaks(JSON.stringify(run), forms)).toEqual([]);
    const pr = await api(server, 'GET', path(`/pulls/${run.pull_request.number}`));
    expect(leaks(pr.text, forms)).toEqual([]);
    // What the database holds, too.
    const rows = await server.app.db.selectFrom('run_events').select('data').where('run_id', '=', run.id).execute();
    expect(leaks(rows.map((r) => r.data).join('\n'), forms)).toEqual([]);
    const stored = await server.app.db.selectFrom('prompt_pull_request_jobs').selectAll().where('id', '=', run.id).executeTakeFirstOrThrow();
    expect(leaks(JSON.stringify(stored), forms)).toEqual([]);
  });
});
