import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, screenshot, signInAs, openPage, textOf } from '../helpers/browser.ts';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import type { JobRunner } from '../../src/runner/runner.ts';
import { createRepository, findRepositoryById, setCollaborator } from '../../src/services/repositories.ts';
import { findUserByName } from '../../src/services/users.ts';
import { waitFor } from '../helpers/scriptedRuns.ts';

const skipReason = browserUnavailableReason();
if (skipReason) console.warn(`skipping browser tests: ${skipReason}`);

const MANIFEST = `# Workflows of the automation demo
[workflow.test]
name = "Tests"
description = "Checks that the project is in shape."
events = ["push", "pull_request", "manual"]
branches = ["main"]

[[workflow.test.steps]]
name = "Check the README"
run = "test -f README.md && echo checked README"

[[workflow.test.steps]]
name = "Count files"
run = """
echo counting
ls | wc -l
echo a warning >&2
"""

[workflow.docs]
events = ["push"]
paths = ["docs/**"]
steps = [{ run = "echo docs" }]

[workflow.slow]
name = "Slow build"
events = ["manual"]

[[workflow.slow.steps]]
name = "Build"
run = "echo building; sleep 2; echo halfway there; sleep 2; echo built"

[workflow.failing]
name = "Lint"
events = ["manual"]

[[workflow.failing.steps]]
name = "Prepare"
run = "echo ready"

[[workflow.failing.steps]]
name = "Lint the code"
run = "echo 'src/app.txt:1: line too short' >&2; exit 3"

[[workflow.failing.steps]]
name = "Never reached"
run = "echo unreachable"

[workflow.xss]
name = "<script>window.__xss = 1</script>Evil"
description = "<b onmouseover=window.__xss=4>hover</b>"
events = ["manual"]

[[workflow.xss.steps]]
name = "<img src=x onerror=window.__xss=2>"
run = "echo '<script>window.__xss = 3</script>'"
`;

const BROKEN = `[workflow.test]
name = "Tests"
steps = []
bogus = 1
`;

describe.skipIf(!!skipReason)(`automation pages${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: TestServer;
  let browser: Browser;
  let runner: JobRunner;
  let alice: TestUser;
  let bob: TestUser;
  let root: TestUser;
  let work: { path: string; remove(): Promise<void> };
  let remote: string;
  let repoId: number;
  const contexts: BrowserContext[] = [];
  const repoUrl = () => `${server.url}/alice/auto`;

  async function pushBranch(branch: string, files: Record<string, string>): Promise<string> {
    await gitOk(work.path, ['checkout', '-q', '-B', branch, 'main']);
    const sha = await commitFiles(work.path, files, `change on ${branch}`);
    await gitOk(work.path, ['push', '-q', remote, `${branch}:${branch}`]);
    await gitOk(work.path, ['checkout', '-q', 'main']);
    return sha;
  }

  async function statusOf(sha: string, context: string) {
    const res = await api(server, 'GET', `/repos/alice/auto/commits/${sha}/status`, { token: alice.token });
    return (res.json.statuses as { context: string; state: string; description: string; target_url: string | null }[]).find((s) => s.context === context) ?? null;
  }

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    alice = await createTestUser(server, { username: 'alice' });
    bob = await createTestUser(server, { username: 'bob' });
    root = await createTestUser(server, { username: 'root', admin: true });
    const owner = (await findUserByName(server.app.db, 'alice'))!;
    const repo = await createRepository(server.app, owner, { name: 'auto', description: 'Automation demo' });
    repoId = repo.id;
    // Automatic AI review is off until a repository names a reviewing agent (issue 16): this one uses the scripted reviewer.
    await server.app.db.updateTable('repositories').set({ review_driver: 'script' }).where('id', '=', repo.id).execute();
    await setCollaborator(server.app, repo, 'bob', 'read');
    await createRepository(server.app, owner, { name: 'secret', isPrivate: true, autoInit: true });
    runner = await startInProcessRunner(server);
    work = await tempDir();
    remote = authUrl(server.url, 'alice/auto.git', alice.username, alice.token);
    await initWorkRepo(work.path, { 'README.md': '# Automation\n', 'gitoku.toml': MANIFEST, 'src/app.txt': 'one\n' });
    await gitOk(work.path, ['push', '-q', remote, 'main']);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await runner?.stop();
    await work?.remove();
    await server?.close();
  });

  const newPage = (opts: { mobile?: boolean } = {}) => openPage(browser, contexts, opts);

  const signIn = (page: Page, user: TestUser) => signInAs(page, server.url, user);

  const text = textOf;
  const noXss = async (page: Page) => expect(await page.evaluate('window.__xss')).toBeUndefined();

  /** Reloads until the selector appears (the automation page itself does not update live). */
  async function reloadUntil(page: Page, selector: string, ms = 30_000): Promise<void> {
    await waitFor(async () => {
      if (await page.$(selector)) return true;
      await page.reload();
      return false;
    }, ms);
  }

  it('shows the workflows of gitoku.toml, the push runs and a run page with its log', async () => {
    const page = await newPage();
    await signIn(page, alice);
    await page.goto(repoUrl());
    await Promise.all([page.waitForURL(`${repoUrl()}/automation`), page.click('.tabs a:has-text("Automation")')]);
    expect(await page.getAttribute('.tabs a.active', 'href')).toBe('/alice/auto/automation');
    const card = '[data-workflow="test"]';
    expect(await text(page, `${card} .au-workflow-name`)).toBe('Tests');
    expect(await page.$$eval(`${card} .au-chip`, (els) => els.map((e) => e.textContent?.trim()))).toEqual(['push', 'pull_request', 'manual']);
    expect(await text(page, `${card} .au-facts`)).toContain('main');
    expect(await text(page, `${card} .au-steps`)).toContain('Check the README');
    expect(await text(page, `${card} .au-steps`)).toContain('test -f README.md && echo checked README');
    // Only manual workflows can be run by hand.
    expect(await page.$(`${card} .au-dispatch-button`)).not.toBeNull();
    expect(await page.$('[data-workflow="docs"] .au-dispatch-button')).toBeNull();
    expect(await text(page, '[data-workflow="docs"] .au-facts')).toContain('docs/**');

    // The push ran the workflow; the page shows it in the recent runs once it finished.
    await reloadUntil(page, '#workflow-runs .au-run:has-text("Tests") [data-status="success"]');
    await noXss(page);
    await screenshot(page, 'automation-01-workflows');

    // Its result is a commit status linking to the run page.
    const main = (await gitOk(work.path, ['rev-parse', 'main'])).trim();
    const status = await waitFor(async () => {
      const s = await statusOf(main, 'gitoku/test');
      return s && s.state !== 'pending' ? s : null;
    });
    expect(status.state).toBe('success');
    expect(status.target_url).toMatch(/\/alice\/auto\/actions\/runs\/\d+$/);

    await Promise.all([page.waitForURL(/\/alice\/auto\/actions\/runs\/\d+$/), page.click('#workflow-runs .au-run:has-text("Tests") .au-run-link')]);
    expect(new URL(status.target_url!).pathname).toBe(new URL(page.url()).pathname);
    expect(await page.getAttribute('#wf-status', 'data-status')).toBe('success');
    expect(await text(page, '.run-header')).toContain('push');
    expect(await page.getAttribute('#wf-commit', 'href')).toBe(`/alice/auto/commit/${main}`);
    const steps = await page.$$eval('#wf-steps .wf-step', (els) => els.map((e) => [e.querySelector('.wf-step-name')?.textContent, e.className]));
    expect(steps).toEqual([
      ['Set up job', 'wf-step is-ok'],
      ['Check the README', 'wf-step is-ok'],
      ['Count files', 'wf-step is-ok'],
    ]);
    expect(await text(page, '#wf-steps .wf-step[data-index="0"] .wf-log')).toContain('checked README');
    expect(await text(page, '#wf-steps .wf-step[data-index="1"] .wf-stderr')).toContain('a warning');
    expect(await text(page, '#wf-steps .wf-step[data-index="1"] .wf-step-exit')).toBe('exit 0');
    await screenshot(page, 'automation-02-run-log');

    // The commit page shows the status.
    await page.goto(`${repoUrl()}/commit/${main}`);
    expect(await page.getAttribute('.commit-header .status-dot', 'title')).toContain('gitoku/test: success');
  });

  it('runs a workflow by hand and lands on its run page, which follows the log live', async () => {
    const page = await newPage();
    await signIn(page, alice);
    await page.goto(`${repoUrl()}/automation`);
    expect(await page.$$eval('[data-workflow="test"] .au-dispatch-branch option', (els) => els.map((e) => e.textContent))).toEqual(['main']);
    await Promise.all([page.waitForURL(/\/alice\/auto\/actions\/runs\/\d+$/), page.click('[data-workflow="test"] .au-dispatch-button')]);
    expect(await text(page, '.flash')).toMatch(/Workflow run #\d+ \(Tests\) queued on main/);
    expect(await text(page, '.run-header')).toContain('manual');
    expect(await text(page, '.run-header')).toContain('alice ran this');
    // The page follows the run (the script polls, then reloads once it completed).
    await page.waitForSelector('#wf-status[data-status="success"]', { timeout: 30_000 });
    expect(await text(page, '#wf-steps')).toContain('checked README');
    expect(await page.$('#wf-live[hidden]')).not.toBeNull();
    await screenshot(page, 'automation-03-manual-run');

    // A slow run: the log grows on the page without a reload, step by step.
    await page.goto(`${repoUrl()}/automation`);
    await Promise.all([page.waitForURL(/\/alice\/auto\/actions\/runs\/\d+$/), page.click('[data-workflow="slow"] .au-dispatch-button')]);
    await page.evaluate('window.__sameDocument = true');
    await page.waitForSelector('#wf-steps .wf-step[data-index="0"].is-running', { timeout: 20_000 });
    await page.waitForSelector('#wf-steps .wf-step[data-index="0"] .wf-stdout:has-text("halfway there")', { timeout: 20_000 });
    expect(await page.evaluate('window.__sameDocument')).toBe(true);
    expect(await page.getAttribute('#wf-status', 'data-status')).toBe('running');
    expect(await page.$('#wf-live:not([hidden])')).not.toBeNull();
    await screenshot(page, 'automation-03b-live-log');
    await page.waitForSelector('#wf-status[data-status="success"]', { timeout: 20_000 });
    expect(await text(page, '#wf-steps .wf-step[data-index="0"] .wf-log')).toContain('built');

    // A failing run: the failed step is marked, the later one skipped, the error shown.
    await page.goto(`${repoUrl()}/automation`);
    await Promise.all([page.waitForURL(/\/alice\/auto\/actions\/runs\/\d+$/), page.click('[data-workflow="failing"] .au-dispatch-button')]);
    await page.waitForSelector('#wf-status[data-status="failure"]', { timeout: 30_000 });
    const states = await page.$$eval('#wf-steps .wf-step', (els) => els.map((e) => e.className));
    expect(states).toEqual(['wf-step is-ok', 'wf-step is-ok', 'wf-step is-failed', 'wf-step is-skipped']);
    expect(await text(page, '#wf-steps .wf-step[data-index="1"] .wf-step-exit')).toBe('exit 3');
    expect(await text(page, '#wf-steps .wf-step[data-index="1"] .wf-stderr')).toContain('line too short');
    expect(await text(page, '#wf-steps .wf-step[data-index="1"] .wf-error')).toContain('step "Lint the code" exited with 3');
    expect(await text(page, '.run-callout-failed')).toContain('step "Lint the code" failed');
    await screenshot(page, 'automation-03c-failed-run');

    // A workflow that is not manual cannot be dispatched (a forged form): the error is flashed.
    await page.goto(`${repoUrl()}/automation`);
    await page.evaluate(() => {
      const input = document.querySelector<HTMLInputElement>('[data-workflow="test"] input[name="workflow"]')!;
      input.value = 'docs';
    });
    await Promise.all([page.waitForURL(/\/alice\/auto\/automation/), page.click('[data-workflow="test"] .au-dispatch-button')]);
    expect(await text(page, '.flash-error')).toContain('does not allow manual runs');
  });

  it('shows the problems of a broken gitoku.toml with file, line and key, and a failed status on the commit', async () => {
    const sha = await pushBranch('broken', { 'gitoku.toml': BROKEN });
    const status = await waitFor(() => statusOf(sha, 'gitoku.toml'));
    expect(status.state).toBe('failure');
    expect(status.description).toMatch(/gitoku\.toml:\d+ \[workflow\.test\./);

    const page = await newPage();
    await signIn(page, alice);
    await page.goto(`${repoUrl()}/automation`);
    await page.click('#au-ref summary');
    await Promise.all([page.waitForURL(`${repoUrl()}/automation?ref=broken`), page.click('#au-ref a:has-text("broken")')]);
    const problems = await text(page, '#manifest-problems');
    expect(problems).toContain('gitoku.toml is invalid');
    expect(problems).toContain('gitoku.toml:3');
    expect(problems).toContain('[workflow.test.steps]');
    expect(problems).toContain('gitoku.toml:4');
    expect(problems).toContain('[workflow.test.bogus]');
    expect(await page.getAttribute('#manifest-problems .au-problem-where >> nth=0', 'href')).toBe('/alice/auto/blob/broken/gitoku.toml#L3');
    expect(await page.getAttribute('#au-sha', 'href')).toBe(`/alice/auto/commit/${sha}`);
    await screenshot(page, 'automation-04-broken-manifest');

    // The commit page shows the failed gitoku.toml status.
    await page.goto(`${repoUrl()}/commit/${sha}`);
    expect(await page.getAttribute('.commit-header .status-dot', 'title')).toContain('gitoku.toml: failure');

    // A ref that does not exist.
    await page.goto(`${repoUrl()}/automation?ref=nope`);
    expect(await text(page, '#workflows')).toContain('There is no branch, tag or commit named nope');

    // A repository without gitoku.toml gets an example instead.
    await page.goto(`${server.url}/alice/secret/automation`);
    expect(await text(page, '#workflows')).toContain('No gitoku.toml on main');
    expect(await text(page, '#workflows .au-example')).toContain('[workflow.test]');
    expect(await text(page, '#runs')).toContain('No workflow runs yet');
    await screenshot(page, 'automation-04b-no-manifest');
  });

  it('lists pull_request.opened on the Events page with the behaviors that ran and what they created', async () => {
    await pushBranch('feature/x', { 'src/feature.txt': 'new feature\n' });
    const pr = await api(server, 'POST', '/repos/alice/auto/pulls', { token: alice.token, body: { title: 'Add a feature', head: 'feature/x', base: 'main' } });
    expect(pr.status).toBe(201);
    await waitFor(async () => {
      const events = await api(server, 'GET', '/repos/alice/auto/events?type=pull_request.opened', { token: alice.token });
      const e = events.json.find((x: { subject: string }) => x.subject === `pull/${pr.json.number}`);
      return e && e.dispatched_at && e.behaviors.length >= 4;
    });

    const page = await newPage();
    await signIn(page, alice);
    await page.goto(`${repoUrl()}/automation`);
    await Promise.all([page.waitForURL(`${repoUrl()}/events`), page.click('.au-subnav a:has-text("Events")')]);
    // The filter applies on change (script), or with its button.
    await Promise.all([page.waitForURL(`${repoUrl()}/events?type=pull_request.opened`), page.selectOption('#event-type', 'pull_request.opened')]);
    const item = `.ev-item[data-event-type="pull_request.opened"]`;
    expect(await page.$$eval('.ev-item', (els) => els.map((e) => e.getAttribute('data-event-type')))).toEqual(['pull_request.opened']);
    expect(await text(page, `${item} .ev-subject`)).toBe(`#${pr.json.number}`);
    expect(await page.getAttribute(`${item} .ev-subject`, 'href')).toBe(`/alice/auto/pull/${pr.json.number}`);
    expect(await text(page, `${item} .ev-state`)).toBe('dispatched');
    const behaviors = await page.$$eval(`${item} .ev-behavior`, (els) => els.map((e) => e.getAttribute('data-behavior')).sort());
    expect(behaviors).toEqual(['agent-routing', 'issue-cross-references', 'notifications', 'pull-request-conflicts', 'pull-request-review', 'pull-request-workflows', 'webhooks']);
    const review = `${item} [data-behavior="pull-request-review"]`;
    expect(await page.getAttribute(`${review} .run-status`, 'data-status')).toBe('succeeded');
    expect(await text(page, `${review} .ev-outcome`)).toMatch(/^queued a review of [0-9a-f]{12} by script$/);
    expect(await text(page, `${review} .ev-link-plain[data-kind="job"]`)).toMatch(/^review job \d+$/); // a job is a plain label
    expect(await page.getAttribute(`${review} a.ev-link[data-kind="pull_request"]`, 'href')).toBe(`/alice/auto/pull/${pr.json.number}`);
    const workflows = `${item} [data-behavior="pull-request-workflows"]`;
    expect(await text(page, `${workflows} .ev-outcome`)).toMatch(/^queued test \(#\d+\)$/);
    expect(await text(page, `${item} [data-behavior="pull-request-conflicts"] .ev-outcome`)).toBe('mergeable');
    await screenshot(page, 'automation-05-events');

    // The link goes to the workflow run the behavior queued, a pull_request run.
    await Promise.all([page.waitForURL(/\/alice\/auto\/actions\/runs\/\d+$/), page.click(`${workflows} a.ev-link`)]);
    expect(await text(page, '.run-header')).toContain('pull_request');
    expect(await page.getAttribute('.run-branches .run-pr', 'href')).toBe(`/alice/auto/pull/${pr.json.number}`);

    // All events: pushes too, with the branch they moved.
    await page.goto(`${repoUrl()}/events`);
    expect(await page.$$eval('.ev-item', (els) => els.map((e) => e.getAttribute('data-event-type')))).toContain('ref.updated');
    expect(await text(page, '.ev-item[data-event-type="ref.updated"] [data-behavior="branch-workflows"] .ev-outcome')).toBeTruthy();
    await page.goto(`${repoUrl()}/events?type=run.failed`);
    expect(await text(page, 'main')).toContain('No run.failed events');

    // Failures and retries (recorded directly: the built-in behaviors do not fail on demand), with hostile text.
    const at = new Date().toISOString();
    const event = await server.app.db
      .insertInto('graph_events')
      .values({ type: 'pull_request.synchronized', repository_id: repoId, subject: `pull/${pr.json.number}`, payload: JSON.stringify({ after: 'a'.repeat(40), note: '<script>window.__xss = 5</script>' }), created_at: at, dispatched_at: null, lease_owner: 'test-elsewhere', lease_expires_at: new Date(Date.now() + 3600_000).toISOString() })
      .returning('id')
      .executeTakeFirstOrThrow();
    await server.app.db
      .insertInto('behavior_runs')
      .values([
        { event_id: event.id, behavior_key: 'pull-request-conflicts', status: 'failed', outcome: '', error: 'merge-tree exited with 128: <img src=x onerror=window.__xss=6>', attempts: 5, next_attempt_at: null, links: '[]', created_at: at, updated_at: at },
        { event_id: event.id, behavior_key: 'pull-request-review', status: 'retry', outcome: '', error: 'database is locked', attempts: 2, next_attempt_at: new Date(Date.now() + 120_000).toISOString(), links: '[]', created_at: at, updated_at: at },
        { event_id: event.id, behavior_key: 'pull-request-workflows', status: 'succeeded', outcome: 'started a task', error: null, attempts: 1, next_attempt_at: null, links: JSON.stringify([{ kind: 'run', id: 7, label: 'run #7' }, { kind: 'pull_request', id: pr.json.number, label: `#${pr.json.number}` }]), created_at: at, updated_at: at },
      ])
      .execute();
    await page.goto(`${repoUrl()}/events?type=pull_request.synchronized`);
    const sync = `.ev-item[data-event-id="${event.id}"]`;
    expect(await text(page, `${sync} .ev-state`)).toBe('pending');
    expect(await page.getAttribute(`${sync} [data-behavior="pull-request-conflicts"] .run-status`, 'data-status')).toBe('failed');
    expect(await text(page, `${sync} [data-behavior="pull-request-conflicts"] .ev-error`)).toBe('merge-tree exited with 128: <img src=x onerror=window.__xss=6>');
    expect(await text(page, `${sync} [data-behavior="pull-request-conflicts"] .ev-attempts`)).toBe('5 attempts');
    expect(await text(page, `${sync} [data-behavior="pull-request-review"] .run-status`)).toBe('Retrying');
    expect(await text(page, `${sync} [data-behavior="pull-request-review"] .ev-behavior-meta`)).toMatch(/next in (1 minute|2 minutes)/);
    expect(await page.$$eval(`${sync} [data-behavior="pull-request-workflows"] a.ev-link`, (els) => els.map((e) => e.getAttribute('href')))).toEqual(['/alice/auto/runs/7', `/alice/auto/pull/${pr.json.number}`]);
    await page.click(`${sync} .ev-payload summary`);
    expect(await text(page, `${sync} .ev-payload pre`)).toContain('<script>window.__xss = 5</script>');
    await noXss(page);
    await screenshot(page, 'automation-05b-events-failures');
  });

  it('switches an optional behavior off and on', async () => {
    const page = await newPage();
    await signIn(page, alice);
    await page.goto(`${repoUrl()}/automation`);
    const item = '[data-behavior="pull-request-review"]';
    expect(await page.getAttribute(`${item} button.au-switch`, 'aria-checked')).toBe('true');
    // Behaviors that cannot be switched off have no switch.
    expect(await page.$('[data-behavior="task-dependencies"] button.au-switch')).toBeNull();
    expect(await text(page, '[data-behavior="task-dependencies"]')).toContain('always on');
    await Promise.all([page.waitForURL(`${repoUrl()}/automation#behaviors`), page.click(`${item} .au-switch`)]);
    expect(await text(page, '.flash')).toBe('pull-request-review is now off for this repository.');
    expect(await page.getAttribute(`${item} .au-switch`, 'aria-checked')).toBe('false');
    expect(await page.getAttribute(item, 'class')).toContain('is-off');
    const off = await api(server, 'GET', '/repos/alice/auto/behaviors', { token: alice.token });
    expect(off.json.find((b: { key: string }) => b.key === 'pull-request-review').enabled).toBe(false);
    await page.locator('#behaviors').screenshot({ path: 'test-results/screenshots/automation-06-behavior-off.png' });

    await Promise.all([page.waitForURL(`${repoUrl()}/automation#behaviors`), page.click(`${item} .au-switch`)]);
    expect(await page.getAttribute(`${item} .au-switch`, 'aria-checked')).toBe('true');
    const on = await api(server, 'GET', '/repos/alice/auto/behaviors', { token: alice.token });
    expect(on.json.find((b: { key: string }) => b.key === 'pull-request-review').enabled).toBe(true);
  });

  it('changes the automation settings and rejects an agent the server cannot run', async () => {
    const page = await newPage();
    await signIn(page, alice);
    await page.goto(`${repoUrl()}/automation`);
    expect(await page.$$eval('#setting-review-driver option', (els) => els.map((e) => (e as HTMLOptionElement).value))).toEqual(['', 'script']);
    expect(await page.isChecked('#setting-ai-reviews')).toBe(true);
    expect(await page.isChecked('#setting-conflict-resolution')).toBe(false);
    await page.uncheck('#setting-ai-reviews');
    await page.check('#setting-conflict-resolution');
    await page.fill('#setting-review-model', 'reviewer-1');
    await page.fill('#setting-review-instructions', 'Focus on <security>.\nBe brief.');
    await Promise.all([page.waitForURL(`${repoUrl()}/automation#settings`), page.click('#automation-settings-save')]);
    expect(await text(page, '.flash')).toBe('Automation settings saved.');
    expect(await page.isChecked('#setting-ai-reviews')).toBe(false);
    expect(await page.isChecked('#setting-conflict-resolution')).toBe(true);
    expect(await page.inputValue('#setting-review-model')).toBe('reviewer-1');
    expect(await page.inputValue('#setting-review-instructions')).toBe('Focus on <security>.\nBe brief.');
    const repo = (await findRepositoryById(server.app.db, repoId))!;
    expect([repo.ai_reviews_enabled, repo.conflict_resolution_enabled, repo.review_model, repo.review_instructions]).toEqual([0, 1, 'reviewer-1', 'Focus on <security>.\nBe brief.']);
    await page.locator('#settings').screenshot({ path: 'test-results/screenshots/automation-07-settings.png' });

    // A forged form choosing an agent that is not available comes back with the error and the input kept.
    await page.evaluate(() => {
      const select = document.querySelector<HTMLSelectElement>('#setting-review-driver')!;
      const option = document.createElement('option');
      option.value = 'codex';
      option.textContent = 'codex';
      select.appendChild(option);
      select.value = 'codex';
    });
    await page.fill('#setting-review-model', 'kept-model');
    const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/automation/settings')), page.click('#automation-settings-save')]);
    expect(res.status()).toBe(422);
    expect(await text(page, '#settings .form-alert')).toContain('not available on this server');
    expect(await page.inputValue('#setting-review-model')).toBe('kept-model');
    expect(await page.getAttribute('#setting-review-driver', 'aria-invalid')).toBe('true');
    expect((await findRepositoryById(server.app.db, repoId))!.review_model).toBe('reviewer-1');

    // Back to the defaults for the other tests.
    await page.goto(`${repoUrl()}/automation`);
    await page.check('#setting-ai-reviews');
    await page.uncheck('#setting-conflict-resolution');
    await Promise.all([page.waitForURL(`${repoUrl()}/automation#settings`), page.click('#automation-settings-save')]);
  });

  it('lets readers see automation but not change it; private repositories are 404', async () => {
    const page = await newPage();
    await signIn(page, bob);
    await page.goto(`${repoUrl()}/automation`);
    expect(await text(page, '[data-workflow="test"] .au-workflow-name')).toBe('Tests');
    expect(await page.$('.au-dispatch-button')).toBeNull();
    expect(await page.$('button.au-switch')).toBeNull();
    expect(await page.$('#automation-settings')).toBeNull();
    expect(await text(page, '#behaviors')).toContain('Repository administrators can switch optional behaviors off');
    const csrf = await page.getAttribute('input[name="_csrf"]', 'value');
    const forged = await page.request.post(`${repoUrl()}/automation/behaviors/pull-request-review`, { form: { _csrf: csrf ?? '', enabled: '0' }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    const dispatched = await page.request.post(`${repoUrl()}/automation/dispatch`, { form: { _csrf: csrf ?? '', workflow: 'test', ref: 'main' }, maxRedirects: 0 });
    expect(dispatched.status()).toBe(403);

    for (const path of ['/alice/secret/automation', '/alice/secret/events', '/alice/secret/actions/runs/1', '/alice/secret/actions/runs/1/log']) {
      const res = await page.goto(`${server.url}${path}`);
      expect(res?.status(), path).toBe(404);
    }
    const missing = await page.goto(`${repoUrl()}/actions/runs/999`);
    expect(missing?.status()).toBe(404);
  });

  it('shows all events to site administrators and refuses everyone else', async () => {
    const page = await newPage();
    await signIn(page, bob);
    const refused = await page.goto(`${server.url}/-/admin/events`);
    expect(refused?.status()).toBe(403);

    const admin = await newPage();
    await signIn(admin, root);
    await admin.goto(`${server.url}/-/admin/runners`);
    await Promise.all([admin.waitForURL(`${server.url}/-/admin/events`), admin.click('.side-links a:has-text("Events")')]);
    expect(await admin.getAttribute('.side-links a.active', 'href')).toBe('/-/admin/events');
    const repoLinks = await admin.$$eval('.ev-repo', (els) => els.map((e) => e.getAttribute('href')));
    expect(repoLinks).toContain('/alice/auto');
    expect(await text(admin, '.ev-item[data-event-type="pull_request.opened"] .ev-repo')).toBe('alice/auto');
    await screenshot(admin, 'automation-08-admin-events');
    await Promise.all([admin.waitForURL(`${server.url}/-/admin/events?type=workflow_run.completed`), admin.selectOption('#event-type', 'workflow_run.completed')]);
    const types = await admin.$$eval('.ev-item', (els) => els.map((e) => e.getAttribute('data-event-type')));
    expect(types.length).toBeGreaterThan(0);
    expect(new Set(types)).toEqual(new Set(['workflow_run.completed']));
    expect(await admin.getAttribute('.ev-item .ev-subject >> nth=0', 'href')).toMatch(/^\/alice\/auto\/actions\/runs\/\d+$/);
  });

  it('renders workflow names, steps and log output with markup as inert text', async () => {
    const page = await newPage();
    await signIn(page, alice);
    await page.goto(`${repoUrl()}/automation`);
    const card = '[data-workflow="xss"]';
    expect(await text(page, `${card} .au-workflow-name`)).toBe('<script>window.__xss = 1</script>Evil');
    expect(await text(page, `${card} .au-workflow-desc`)).toBe('<b onmouseover=window.__xss=4>hover</b>');
    expect(await text(page, `${card} .au-step-name`)).toBe('<img src=x onerror=window.__xss=2>');
    await page.hover(`${card} .au-workflow-desc`);
    await noXss(page);
    await screenshot(page, 'automation-09-xss');
    await Promise.all([page.waitForURL(/\/alice\/auto\/actions\/runs\/\d+$/), page.click(`${card} .au-dispatch-button`)]);
    await page.waitForSelector('#wf-status[data-status="success"]', { timeout: 30_000 });
    expect(await text(page, '#wf-title')).toBe('<script>window.__xss = 1</script>Evil');
    expect(await text(page, '#wf-steps .wf-step[data-index="0"] .wf-step-name')).toBe('<img src=x onerror=window.__xss=2>');
    expect(await text(page, '#wf-steps .wf-step[data-index="0"] .wf-stdout')).toBe('<script>window.__xss = 3</script>');
    await noXss(page);
    await screenshot(page, 'automation-09b-xss-run');
  });

  it('is readable on a phone', async () => {
    const page = await newPage({ mobile: true });
    await signIn(page, alice);
    await page.goto(`${repoUrl()}/automation`);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
    await screenshot(page, 'automation-10-mobile');
    await page.click('#workflow-runs .au-run-link >> nth=0');
    await page.waitForURL(/\/actions\/runs\/\d+$/);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot(page, 'automation-11-run-mobile');
    await page.goto(`${repoUrl()}/events`);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot(page, 'automation-12-events-mobile');
  });
});
