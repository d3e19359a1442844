import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, openPage, screenshot, signInAs, textOf } from '../helpers/browser.ts';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitCli, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { scriptPrompt as script } from '../helpers/scriptedRuns.ts';
import { createRegistrationToken } from '../../src/services/runners.ts';

const skipReason = browserUnavailableReason();
if (skipReason) console.warn(`skipping browser tests: ${skipReason}`);

/**
 * The run page's step timeline with "Fork from here" (without JavaScript) and the best-of-N group page
 * with "Keep this one". No agent runs: a registered runner reports checkpoints through the runner protocol.
 */
describe.skipIf(!!skipReason)(`warm workspace pages${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: TestServer;
  let browser: Browser;
  let alice: TestUser;
  let runnerToken: string;
  let runnerId: number;
  let work: { path: string; remove(): Promise<void> };
  const contexts: BrowserContext[] = [];
  const repoUrl = () => `${server.url}/${alice.username}/warmui`;

  async function runnerCall(method: string, p: string, body: unknown = {}) {
    const res = await fetch(`${server.url}/api/v1/runner${p}`, { method, headers: { Authorization: `Bearer ${runnerToken}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null, text };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async function claim(): Promise<{ id: number; attempt: number; payload: any }> {
    const res = await runnerCall('POST', '/claim?wait=0');
    expect(res.status, res.text).toBe(200);
    return res.json.job;
  }

  async function push(token: string, base: string, files: Record<string, string>, ref: string): Promise<string> {
    await gitOk(work.path, ['checkout', '-q', '--detach', base]);
    const sha = await commitFiles(work.path, files, `change ${Object.keys(files).join(' ')}`);
    const res = await gitCli(work.path, ['push', authUrl(server.url, `${alice.username}/warmui.git`, 'x', token), `${sha}:${ref}`]);
    expect(res.code, res.stderr).toBe(0);
    return sha;
  }

  beforeAll(async () => {
    server = await startTestServer('sqlite', { GITOKU_JOB_LEASE_MS: '60000' });
    alice = await createTestUser(server);
    expect((await api(server, 'POST', '/user/repos', { token: alice.token, body: { name: 'warmui' } })).status).toBe(201);
    work = await tempDir();
    await initWorkRepo(work.path, { 'gitoku.toml': '[workspace]\nsetup = "npm ci"\ncache_key_files = ["package-lock.json"]\n', 'package-lock.json': '{}\n', 'README.md': '# warm\n' });
    await gitOk(work.path, ['push', '-q', authUrl(server.url, `${alice.username}/warmui.git`, alice.username, alice.token), 'main']);
    const registration = await createRegistrationToken(server.app, null);
    const reg = await fetch(`${server.url}/api/v1/runner/register`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token: registration, name: 'warm-runner' }) });
    const json = (await reg.json()) as { id: number; token: string };
    runnerToken = json.token;
    runnerId = json.id;
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await work?.remove();
    await server?.close();
  });

  let parentNumber: number;

  it('shows the steps as a timeline and forks from a step without JavaScript', async () => {
    const started = await api(server, 'POST', `/repos/${alice.username}/warmui/runs`, { token: alice.token, body: { prompt: script('write a.txt\na\nend\nsay done'), title: 'Add a' } });
    expect(started.status).toBe(201);
    parentNumber = started.json.number;
    const job = await claim();
    const prefix = job.payload.checkpoint_ref_prefix as string;
    const s0 = await push(job.payload.token, job.payload.source_commit, { 'deps.txt': 'installed\n' }, `${prefix}0`);
    await runnerCall('POST', `/jobs/${job.id}/events`, { attempt: job.attempt, events: [{ kind: 'command', data: { command: 'npm ci', exit_code: 0 } }] });
    expect((await runnerCall('POST', `/jobs/${job.id}/checkpoints`, { attempt: job.attempt, step: 0, trace_event_id: null, commit_sha: s0, final: false, snapshot: { id: 'setup-snap', mode: 'overlay', bytes: 4096 }, setup_cache_key: job.payload.setup.cache_key })).status).toBe(201);
    const s1 = await push(job.payload.token, s0, { 'a.txt': 'a\n' }, `${prefix}1`);
    await runnerCall('POST', `/jobs/${job.id}/events`, { attempt: job.attempt, events: [{ kind: 'file_edit', data: { action: 'write', path: 'a.txt' } }] });
    expect((await runnerCall('POST', `/jobs/${job.id}/checkpoints`, { attempt: job.attempt, step: 1, trace_event_id: null, commit_sha: s1, final: false, snapshot: { id: 'step1-snap', mode: 'overlay', bytes: 8192 } })).status).toBe(201);
    await runnerCall('POST', `/jobs/${job.id}/events`, { attempt: job.attempt, events: [{ kind: 'message', data: { text: 'done' } }] });
    expect((await runnerCall('POST', `/jobs/${job.id}/checkpoints`, { attempt: job.attempt, step: 2, trace_event_id: null, commit_sha: s1, final: true, snapshot: null })).status).toBe(201);
    const at = new Date().toISOString();
    expect((await runnerCall('PUT', '/snapshots', { snapshots: ['setup-snap', 'step1-snap'].map((id) => ({ id, mode: 'overlay', bytes: 10, parent: null, created_at: at, last_used_at: at })) })).status).toBe(204);
    await gitOk(work.path, ['push', '-q', '-f', authUrl(server.url, `${alice.username}/warmui.git`, 'x', job.payload.token), `${s1}:refs/heads/${job.payload.compare_branch}`]);
    expect((await runnerCall('POST', `/jobs/${job.id}/complete`, { result: { commit_sha: s1, changed: true, summary: 'done', files: ['a.txt'], session_id: 'sess-ui', workspace: 'cold' } })).status).toBe(200);

    const page = await openPage(browser, contexts, { javaScript: false });
    await signInAs(page, server.url, alice);
    await page.goto(`${repoUrl()}/runs/${parentNumber}`);
    expect(await textOf(page, '#run-workspace')).toBe('cold');
    const steps = page.locator('#run-timeline > li');
    expect(await steps.count()).toBe(3);
    expect(await textOf(page, '#step-0')).toMatch(/Workspace prepared.*checked out and set up.*warm/);
    expect(await textOf(page, '#step-1')).toMatch(/Step 1.*write a\.txt.*warm/);
    expect(await textOf(page, '#step-2')).toMatch(/Step 2 · result.*said “done”.*cold/);
    await screenshot(page, 'warm-run-timeline');

    // "Fork from here" on step 1: the form opens (a <details>), prefilled with the run's prompt.
    await page.click('#step-1 .run-step-fork > summary');
    const prompt = page.locator('#step-1-prompt');
    expect(await prompt.inputValue()).toContain('write a.txt');
    await prompt.fill(script('write b.txt\nb\nend\nsay forked'));
    await screenshot(page, 'warm-run-fork-form');
    await Promise.all([page.waitForURL(/\/runs\/\d+$/), page.click('#step-1 button[type=submit]')]);
    const forkNumber = Number(page.url().split('/').pop());
    expect(forkNumber).toBeGreaterThan(parentNumber);
    expect(await textOf(page, '#run-forked-from')).toBe(`Forked from run #${parentNumber} at step 1`);
    await screenshot(page, 'warm-run-forked');
    const fork = await api(server, 'GET', `/repos/${alice.username}/warmui/runs/${forkNumber}`, { token: alice.token });
    expect(fork.json).toMatchObject({ forked_from_step: 1, source_commit: s1, prompt: script('write b.txt\nb\nend\nsay forked') });
    const forkJob = await claim();
    expect(forkJob.payload).toMatchObject({ number: forkNumber, from_snapshot: { id: 'step1-snap', runner_id: runnerId }, resume_session: { driver: 'script', session_id: 'sess-ui' }, forked_from_step: 1 });
    await runnerCall('POST', `/jobs/${forkJob.id}/fail`, { error: 'not running agents in this test' });

  });

  it('starts N attempts from the New-task form, compares them and keeps one', async () => {
    const page = await openPage(browser, contexts, { javaScript: false });
    await signInAs(page, server.url, alice);
    await page.goto(`${repoUrl()}/runs/new`);
    await page.fill('#run-title', 'Pick the best');
    await page.fill('#run-prompt', script('write c.txt\nc\nend\nsay c'));
    await page.fill('#run-attempts', '9');
    // The browser itself refuses more than 8 (the server does too: 422 through the API).
    expect(await page.locator('#run-attempts:invalid').count()).toBe(1);
    await page.fill('#run-attempts', '2');
    await Promise.all([page.waitForURL(/\/runs\/groups\/\d+$/), page.click('#run-submit')]);
    const groupUrl = page.url();
    expect(await page.locator('#run-group > article').count()).toBe(2);

    for (let i = 0; i < 2; i++) {
      const job = await claim();
      const sha = await push(job.payload.token, job.payload.source_commit, i === 0 ? { 'c.txt': 'c\nmore\nlines\n' } : { 'c.txt': 'c\n' }, `refs/heads/${job.payload.compare_branch}`);
      expect((await runnerCall('POST', `/jobs/${job.id}/complete`, { result: { commit_sha: sha, changed: true, summary: 'c', files: ['c.txt'], usage: { total_tokens: 1200 } } })).status).toBe(200);
      expect((await api(server, 'POST', `/repos/${alice.username}/warmui/statuses/${sha}`, { token: alice.token, body: { state: 'success', context: 'ci' } })).status).toBe(201);
    }
    await page.goto(groupUrl);
    const best = page.locator('#run-group > article[data-rank="1"]');
    expect(await best.locator('.run-attempt-reason').textContent()).toMatch(/smaller diff/);
    expect(await textOf(page, '#group-ranking')).toMatch(/ranks first/);
    await screenshot(page, 'warm-group-compare');
    const bestRun = Number(await best.getAttribute('data-run'));
    await Promise.all([page.waitForURL(groupUrl), best.locator('button:has-text("Keep this one")').click()]);
    expect(await textOf(page, '#group-kept')).toContain(`Kept #${bestRun}`);
    expect(await page.locator('button:has-text("Keep this one")').count()).toBe(0);
    await screenshot(page, 'warm-group-kept');
    const runs = await api(server, 'GET', `/repos/${alice.username}/warmui/runs?per_page=10`, { token: alice.token });
    const inGroup = runs.json.filter((r: { group_id: number | null }) => r.group_id !== null);
    expect(inGroup).toHaveLength(2);
    for (const r of inGroup) expect(r.pull_request).toMatchObject(r.number === bestRun ? { state: 'open', draft: false } : { state: 'closed' });

    const mobile = await openPage(browser, contexts, { mobile: true });
    await signInAs(mobile, server.url, alice);
    await mobile.goto(groupUrl);
    await screenshot(mobile, 'warm-group-mobile');
  });
});
