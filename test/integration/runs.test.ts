import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, gitCli, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { runCli } from '../helpers/cli.ts';
import { startInProcessRunner, startRunnerProcess } from '../helpers/runner.ts';
import type { JobRunner } from '../../src/runner/runner.ts';
import { createJobToken } from '../../src/services/jobTokens.ts';
import { enqueueJob } from '../../src/services/jobs.ts';
import { scriptPrompt as script, waitFor } from '../helpers/scriptedRuns.ts';


describe.each(testDialects())('agent runs on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let runner: JobRunner;
  let work: { path: string; remove(): Promise<void> };
  let remote: string;
  const path = (p: string) => `/repos/${owner.username}/agent${p}`;

  async function finished(number: number) {
    return waitFor(async () => {
      const r = await api(server, 'GET', path(`/runs/${number}`));
      return ['succeeded', 'failed', 'cancelled'].includes(r.json.status) ? r.json : null;
    }, 30_000);
  }

  beforeAll(async () => {
    server = await startTestServer(dialect, { GITOKU_JOB_LEASE_MS: '4000' });
    owner = await createTestUser(server);
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'agent' } });
    work = await tempDir();
    await initWorkRepo(work.path, { 'README.md': '# Agent\n', 'src/a.txt': 'a\n' });
    remote = authUrl(server.url, `${owner.username}/agent.git`, owner.username, owner.token);
    await gitOk(work.path, ['push', '-q', remote, 'main']);
    runner = await startInProcessRunner(server);
  });

  afterAll(async () => {
    await runner?.stop();
    await work?.remove();
    await server?.close();
  });

  it('turns a prompt into a draft pull request with the agent\'s commit and trace', async () => {
    const res = await api(server, 'POST', path('/runs'), {
      token: owner.token,
      body: { prompt: script('think Plan: add b.txt\nwrite src/b.txt\nhello b\nend\nappend README.md\nMore.\nend\nrun cat src/b.txt\nsay Added b.txt'), title: 'Add b' },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({ number: expect.any(Number), status: 'queued', compare_branch: expect.stringMatching(/^gitoku\/run-\d+-add-b$/), pull_request: { number: expect.any(Number), html_url: expect.any(String) } });
    const run = await finished(res.json.number);
    expect(run.status).toBe('succeeded');
    expect(run.result_summary).toBe('Added b.txt');
    expect(run.rendered_prompt).toContain('## Task: Add b');
    const log = await gitOk(work.path, ['ls-remote', remote, `refs/heads/${run.compare_branch}`]);
    expect(log.split('\t')[0]).toBe(run.commit_sha);
    await gitOk(work.path, ['fetch', '-q', remote, run.compare_branch]);
    const message = await gitOk(work.path, ['log', '-1', '--format=%an <%ae>|%cn|%B', 'FETCH_HEAD']);
    expect(message).toContain('gitoku agent <agent@gitoku.invalid>|gitoku|');
    expect(message).toContain(`Gitoku-Run: ${owner.username}/agent#${run.number}`);
    expect(await gitOk(work.path, ['show', 'FETCH_HEAD:src/b.txt'])).toBe('hello b\n');
    const pr = await api(server, 'GET', path(`/pulls/${run.pull_request.number}`));
    expect(pr.json).toMatchObject({ draft: true, state: 'open', head: { ref: run.compare_branch, sha: run.commit_sha } });
    expect(pr.json.body).toContain('Added b.txt');
    const files = await api(server, 'GET', path(`/pulls/${run.pull_request.number}/files`));
    expect(files.json.map((f: { filename: string }) => f.filename).sort()).toEqual(['README.md', 'src/b.txt']);
    const events = await api(server, 'GET', path(`/runs/${run.number}/events`));
    const kinds = events.json.events.map((e: { kind: string }) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['thinking', 'file_edit', 'command', 'message', 'status']));
    const outbox = await server.app.db.selectFrom('graph_events').select(['type', 'payload']).where('type', 'in', ['run.succeeded', 'ref.updated']).execute();
    expect(outbox.some((e) => e.type === 'run.succeeded' && JSON.parse(e.payload).number === run.number)).toBe(true);
    expect(outbox.some((e) => e.type === 'ref.updated' && JSON.parse(e.payload).cause === 'run' && JSON.parse(e.payload).after === run.commit_sha)).toBe(true);
  });

  it('streams the trace as Server-Sent Events', async () => {
    const res = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script('say one\nsleep 0.3\nsay two') } });
    const sse = await fetch(`${server.url}/api/v1${path(`/runs/${res.json.number}/events`)}`, { headers: { Accept: 'text/event-stream' } });
    expect(sse.headers.get('content-type')).toContain('text/event-stream');
    const text = await sse.text();
    expect(text).toContain('event: trace');
    expect(text.indexOf('"one"')).toBeLessThan(text.indexOf('"two"'));
    expect(text).toMatch(/event: end\ndata: \{"status":"succeeded"/);
  });

  it('forks a run to continue from its result', async () => {
    const first = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script('write f.txt\n1\nend') } });
    const done = await finished(first.json.number);
    const fork = await api(server, 'POST', path(`/runs/${done.number}/forks`), { token: owner.token, body: { prompt: script('append f.txt\n2\nend') } });
    expect(fork.status, fork.text).toBe(201);
    expect(fork.json).toMatchObject({ forked_from: { number: done.number }, source_branch: done.compare_branch, source_commit: done.commit_sha });
    const forked = await finished(fork.json.number);
    expect(forked.status).toBe('succeeded');
    await gitOk(work.path, ['fetch', '-q', remote, forked.compare_branch]);
    expect(await gitOk(work.path, ['show', 'FETCH_HEAD:f.txt'])).toBe('1\n2\n');
    expect((await gitOk(work.path, ['rev-parse', 'FETCH_HEAD~1'])).trim()).toBe(done.commit_sha);
  });

  it('runs with the CLI and exits non-zero when the agent fails, posting the failure to the PR', async () => {
    const ok = await runCli(['run', `${owner.username}/agent`, script('write cli.txt\ncli\nend\nsay from the CLI'), '--follow', '--server', server.url, '--token', owner.token], {});
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('💬 from the CLI');
    expect(ok.stdout).toMatch(/✔ run #\d+ succeeded/);
    const bad = await runCli(['run', `${owner.username}/agent`, script('write x.txt\nx\nend\nfail the tests are red'), '--follow', '--server', server.url, '--token', owner.token], {});
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('the tests are red');
    const runs = await api(server, 'GET', path('/runs?status=failed'));
    const failed = runs.json[0];
    expect(failed.error).toContain('the tests are red');
    expect(failed.commit_sha).toBeNull();
    // It left no commits: its pull request is closed and (the default clean-up) its empty branch deleted.
    expect((await api(server, 'GET', path(`/pulls/${failed.pull_request.number}`))).json.state).toBe('closed');
    await waitFor(async () => (await gitOk(work.path, ['ls-remote', remote, `refs/heads/${failed.compare_branch}`])).trim() === '');
    const comments = await api(server, 'GET', path(`/issues/${failed.pull_request.number}/comments`));
    expect(comments.json.at(-1).body).toContain('the tests are red');
  });

  it('refuses bad requests with 4xx and creates nothing', async () => {
    const count = async () => (await api(server, 'GET', path('/runs?per_page=100'))).json.length;
    const branches = async () => (await gitOk(work.path, ['ls-remote', remote])).split('\n').length;
    const [runsBefore, branchesBefore] = [await count(), await branches()];
    const cases: [unknown, number][] = [
      [{ prompt: '' }, 422],
      [{ prompt: script('say x'), driver: 'nope' }, 422],
      [{ prompt: script('say x'), driver: 'codex' }, 422],
      [{ prompt: script('say x'), model: 'gpt-unknown' }, 422],
      [{ prompt: script('say x'), base_branch: 'missing' }, 422],
      [{ prompt: script('say x'), source_branch: '--upload-pack=x' }, 422],
      [{ prompt: 'no script block here' }, 422],
      [{ prompt: script('write ../escape.txt\nx\nend') }, 422],
      [{ prompt: script('write open.txt\nno end') }, 422],
      [{ prompt: script('bogus command') }, 422],
      [{ prompt: script('say x') + 'x'.repeat(300 * 1024) }, 413],
    ];
    for (const [body, status] of cases) {
      const res = await api(server, 'POST', path('/runs'), { token: owner.token, body });
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(status);
      expect(res.json.message).toBeTruthy();
    }
    expect(await count()).toBe(runsBefore);
    expect(await branches()).toBe(branchesBefore);
  });

  it('cancels a running agent within seconds, killing its processes', async () => {
    const res = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script('run sleep 60 & sleep 60') } });
    await waitFor(async () => (await api(server, 'GET', path(`/runs/${res.json.number}`))).json.status === 'running');
    await waitFor(async () => (await api(server, 'GET', path(`/runs/${res.json.number}/events`))).json.events.some((e: { kind: string }) => e.kind === 'status' && String(e).length > 0));
    const started = Date.now();
    const cancel = await api(server, 'POST', path(`/runs/${res.json.number}/cancel`), { token: owner.token });
    expect(cancel.status).toBe(200);
    const run = await finished(res.json.number);
    expect(run.status).toBe('cancelled');
    expect(Date.now() - started).toBeLessThan(5000 + 3000);
    // Who cancelled it is kept on the run and told on its pull request, not only in the trace.
    expect(run.error).toBe(`cancelled by ${owner.username}`);
    const comments = await api(server, 'GET', path(`/issues/${run.pull_request.number}/comments`));
    expect(comments.json.map((c: { body: string }) => c.body).join('\n')).toContain(`cancelled by ${owner.username}`);
    expect((await api(server, 'POST', path(`/runs/${res.json.number}/cancel`), { token: owner.token })).status).toBe(409);
  });

  it('fails a run that exceeds its timeout with "timed out"', async () => {
    const res = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script('run sleep 30'), timeout_seconds: 2 } });
    const run = await finished(res.json.number);
    expect(run.status).toBe('failed');
    expect(run.error).toContain('timed out');
  });

  it('keeps the agent away from the server: environment, data directory, home', async () => {
    const probe = script(`run env > env.txt; (ls ${server.dataDir} > data.txt 2>&1 || echo denied > data.txt); (ls ~/.ssh /root/.ssh > ssh.txt 2>&1 || echo denied > ssh.txt); true`);
    const res = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: probe } });
    const run = await finished(res.json.number);
    expect(run.status).toBe('succeeded');
    await gitOk(work.path, ['fetch', '-q', remote, run.compare_branch]);
    const env = await gitOk(work.path, ['show', 'FETCH_HEAD:env.txt']);
    expect(env).not.toMatch(/GITOKU_DATA_DIR|GITOKU_DATABASE_URL|gtj_|gtk_|gtr_/);
    expect(env).toContain('GITOKU_RUN=');
    if (existsSync('/usr/bin/bwrap')) {
      expect(await gitOk(work.path, ['show', 'FETCH_HEAD:data.txt'])).toMatch(/denied|No such file/);
      expect(await gitOk(work.path, ['show', 'FETCH_HEAD:ssh.txt'])).toMatch(/denied|No such file/);
    }
  });

  it('limits a job token to its compare branch and to the life of its job', async () => {
    const repo = (await server.app.db.selectFrom('repositories').select(['id']).where('lower_name', '=', 'agent').executeTakeFirstOrThrow());
    const job = await enqueueJob(server.app.db, { kind: 'test-only', repositoryId: repo.id, payload: {} });
    await server.app.db.updateTable('jobs').set({ status: 'running', lease_owner: 'test' }).where('id', '=', job.id).execute();
    const token = await createJobToken(server.app.db, { jobId: job.id, repositoryId: repo.id, userId: owner.id, allowedRef: 'refs/heads/allowed', ttlMs: 60_000 });
    const url = authUrl(server.url, `${owner.username}/agent.git`, 'x-access-token', token);
    expect((await gitCli(work.path, ['push', url, 'main:refs/heads/allowed'])).code).toBe(0);
    const other = await gitCli(work.path, ['push', url, 'main:refs/heads/not-allowed']);
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain('may only push refs/heads/allowed');
    const apiCall = await api(server, 'GET', '/user', { token });
    expect(apiCall.status).toBe(401);
    await server.app.db.updateTable('jobs').set({ status: 'succeeded' }).where('id', '=', job.id).execute();
    // The repository is public, so reads need no token; a push after the job ended must be refused.
    const after = await gitCli(work.path, ['push', url, 'main:refs/heads/allowed-later']);
    expect(after.code).not.toBe(0);
    expect(after.stderr).toMatch(/401|Authentication failed|Invalid username/);
  });

  it('survives a runner killed mid-run: the job moves to another runner and the run ends once', async () => {
    await runner.stop();
    const a = await startRunnerProcess(server, 'runner-a');
    try {
      const res = await api(server, 'POST', path('/runs'), { token: owner.token, body: { prompt: script('write crash.txt\nonce\nend\nsleep 4\nsay survived') } });
      await waitFor(async () => (await api(server, 'GET', path(`/runs/${res.json.number}`))).json.status === 'running');
      a.kill();
      const b = await startRunnerProcess(server, 'runner-b');
      try {
        const run = await finished(res.json.number);
        expect(run.status, `${run.error}\n${a.output()}\n${b.output()}`).toBe('succeeded');
        await gitOk(work.path, ['fetch', '-q', remote, run.compare_branch]);
        const commits = (await gitOk(work.path, ['rev-list', `${run.source_commit}..FETCH_HEAD`])).trim().split('\n');
        expect(commits).toHaveLength(1);
        const prs = await api(server, 'GET', path(`/pulls?state=all&head=${encodeURIComponent(run.compare_branch)}`));
        expect(prs.json).toHaveLength(1);
        const job = await server.app.db.selectFrom('jobs').selectAll().innerJoin('prompt_pull_request_jobs', 'prompt_pull_request_jobs.job_id', 'jobs.id').where('prompt_pull_request_jobs.number', '=', run.number).executeTakeFirstOrThrow();
        // At least one takeover; under heavy load a slow heartbeat may cost one more attempt, never a second result.
        expect(job.attempts).toBeGreaterThanOrEqual(2);
      } finally {
        await b.stop();
      }
    } finally {
      a.kill();
      runner = await startInProcessRunner(server);
    }
  });
});
