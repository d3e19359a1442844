import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, screenshot, openPage, textOf } from '../helpers/browser.ts';
import { createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import type { JobRunner } from '../../src/runner/runner.ts';
import { authorizeRepository, createRepository, setCollaborator } from '../../src/services/repositories.ts';
import { findUserByName } from '../../src/services/users.ts';
import { getRun, startRun } from '../../src/services/runs.ts';
import { waitFor } from '../helpers/scriptedRuns.ts';

const skipReason = browserUnavailableReason();
if (skipReason) console.warn(`skipping browser tests: ${skipReason}`);

const script = (body: string, intro = 'Add a greeting to the project.') => `${intro}\n\n\`\`\`gitoku-script\n${body}\n\`\`\`\n`;

describe.skipIf(!!skipReason)(`agent task pages${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: TestServer;
  let browser: Browser;
  let runner: JobRunner;
  let alice: TestUser;
  let bob: TestUser;
  let root: TestUser;
  const contexts: BrowserContext[] = [];
  const repoUrl = () => `${server.url}/alice/tasks`;

  beforeAll(async () => {
    // A short lease: runners heartbeat every third of it, so a cancel reaches the runner within a second.
    server = await startTestServer('sqlite', { GITOKU_JOB_LEASE_MS: '3000' });
    alice = await createTestUser(server, { username: 'alice' });
    bob = await createTestUser(server, { username: 'bob' });
    root = await createTestUser(server, { username: 'root', admin: true });
    const owner = (await findUserByName(server.app.db, 'alice'))!;
    const repo = await createRepository(server.app, owner, { name: 'tasks', description: 'Agent tasks demo' });
    await setCollaborator(server.app, repo, 'bob', 'read');
    await createRepository(server.app, owner, { name: 'hidden', isPrivate: true, autoInit: true });
    const work = await tempDir();
    try {
      await initWorkRepo(work.path, { 'README.md': '# Tasks\n\nA project for agents.\n', 'src/app.txt': 'one\ntwo\nthree\n' });
      await gitOk(work.path, ['push', '-q', authUrl(server.url, 'alice/tasks.git', alice.username, alice.token), 'main']);
    } finally {
      await work.remove();
    }
    runner = await startInProcessRunner(server);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await runner?.stop();
    await server?.close();
  });

  const newPage = (opts: { mobile?: boolean; javaScript?: boolean } = {}) => openPage(browser, contexts, opts);

  async function signIn(page: Page, user: TestUser): Promise<void> {
    await page.goto(`${server.url}/-/login`);
    await page.fill('#login-username', user.username);
    await page.fill('#login-password', user.password);
    await Promise.all([page.waitForURL(`${server.url}/`), page.click('button[type=submit]')]);
  }

  const text = textOf;
  const statusOf = (page: Page) => page.getAttribute('#run-status', 'data-run-status');

  async function submitTask(page: Page, title: string, prompt: string): Promise<number> {
    await page.goto(`${repoUrl()}/runs/new`);
    await page.fill('#run-title', title);
    await page.fill('#run-prompt', prompt);
    await Promise.all([page.waitForURL(/\/alice\/tasks\/runs\/\d+$/), page.click('#run-submit')]);
    return Number(/\/runs\/(\d+)$/.exec(page.url())![1]);
  }

  it('starts a scripted task from the form, follows its live trace and opens its pull request', async () => {
    const page = await newPage();
    await signIn(page, alice);
    await page.goto(repoUrl());
    await Promise.all([page.waitForURL(`${repoUrl()}/runs`), page.click('.tabs a:has-text("Tasks")')]);
    expect(await text(page, 'main')).toContain('No tasks yet');
    await screenshot(page, 'runs-01-tasks-empty');

    await Promise.all([page.waitForURL(`${repoUrl()}/runs/new`), page.click('main a:has-text("New task")')]);
    // Only available drivers are offered, the script driver labelled as scripted; branches come from the repository.
    expect(await page.$$eval('#run-driver option', (els) => els.map((e) => (e as unknown as { value: string }).value))).toEqual(['script']);
    expect(await text(page, '#run-driver')).toContain('scripted');
    expect(await page.$$eval('#run-base option', (els) => els.map((e) => e.textContent))).toEqual(['main']);
    expect(await page.getAttribute('#run-prompt', 'placeholder')).toContain('```gitoku-script');

    // A prompt the scripted driver cannot run comes back with the message and the input kept.
    await page.fill('#run-title', 'Kept title');
    await page.fill('#run-prompt', 'Please just do it.');
    const [bad] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/alice/tasks/runs') && r.request().method() === 'POST'), page.click('#run-submit')]);
    expect(bad.status()).toBe(422);
    expect(await text(page, '.form-alert')).toContain('gitoku-script');
    expect(await page.inputValue('#run-title')).toBe('Kept title');
    expect(await page.inputValue('#run-prompt')).toBe('Please just do it.');
    expect(await page.getAttribute('#run-prompt', 'aria-invalid')).toBe('true');
    await screenshot(page, 'runs-02-new-task-error');

    await page.fill('#run-title', 'Add a greeting');
    await page.fill('#run-prompt', script('think Plan: write hello.txt, then check it\nsleep 1\nwrite hello.txt\nHello from the agent!\nend\nappend src/app.txt\nfour\nend\nrun cat hello.txt\nsay Added hello.txt and a fourth line.'));
    await screenshot(page, 'runs-03-new-task');
    await Promise.all([page.waitForURL(`${repoUrl()}/runs/1`), page.click('#run-submit')]);
    await page.evaluate('window.__sameDocument = true');
    expect(await text(page, '.flash')).toContain('Task #1 started');
    expect(['queued', 'running']).toContain(await statusOf(page));
    expect(await text(page, '.run-agent')).toBe('scripted');

    // Events arrive over Server-Sent Events and are appended without a reload.
    await page.waitForSelector('#run-trace .trace-item.is-new', { timeout: 20_000 });
    expect(await page.evaluate('window.__sameDocument')).toBe(true);
    await page.waitForSelector('#run-trace .trace-item[data-kind="file_edit"]', { timeout: 20_000 });
    expect(await page.evaluate('window.__sameDocument')).toBe(true);
    await screenshot(page, 'runs-04-run-live');

    // On 'end' the page reloads itself to show the diff and the pull request.
    await page.waitForSelector('#run-status[data-run-status="succeeded"]', { timeout: 30_000 });
    await page.waitForSelector('#run-open-pr', { timeout: 10_000 });
    expect(await text(page, '#run-result')).toContain('Added hello.txt and a fourth line.');
    expect(await text(page, '#run-trace')).toContain('Plan: write hello.txt');
    expect(await page.$eval('#run-trace .trace-thinking .trace-text', (e) => getComputedStyle(e).fontStyle)).toBe('italic');
    expect(await text(page, '#run-trace .trace-command')).toContain('$ cat hello.txt');
    expect(await text(page, '#run-trace .trace-command')).toContain('exit 0');
    expect(await page.$$eval('#diff .rdiff-file .rdiff-path', (els) => els.map((e) => e.textContent?.trim()))).toEqual(['hello.txt', 'src/app.txt']);
    expect(await text(page, '#diff')).toContain('Hello from the agent!');
    expect(await page.$eval('#prompt pre', (e) => e.textContent)).toContain('write hello.txt');
    expect(await page.locator('#run-rendered-prompt').count()).toBe(1);
    await screenshot(page, 'runs-05-run-succeeded');

    const prHref = (await page.getAttribute('#run-open-pr', 'href'))!;
    expect(prHref).toMatch(/^\/alice\/tasks\/pull\/\d+$/);
    await Promise.all([page.waitForURL(`${server.url}${prHref}`), page.click('#run-open-pr')]);
    expect(await page.title()).toContain('Add a greeting');
  }, 90_000);

  it('forks a task with an edited prompt and links the two runs', async () => {
    const page = await newPage();
    await signIn(page, alice);
    await page.goto(`${repoUrl()}/runs/1`);
    await page.click('a[data-open-details="fork"]');
    expect(await page.getAttribute('#fork', 'open')).not.toBeNull();
    expect(await page.inputValue('#fork-prompt')).toContain('write hello.txt');
    await page.fill('#fork-prompt', script('append hello.txt\nAnd a second line from the fork.\nend\nsay Extended the greeting.', 'Extend the greeting.'));
    await page.fill('#fork-title', 'Extend the greeting');
    await screenshot(page, 'runs-06-fork-form');
    await Promise.all([page.waitForURL(`${repoUrl()}/runs/2`), page.click('#fork-form button[type=submit]')]);
    // A fork continues from the run's last checkpoint (its result) unless a step is chosen.
    expect(await text(page, '#run-forked-from')).toMatch(/^Forked from (run )?#1( at step \d+)?$/);
    await page.waitForSelector('#run-status[data-run-status="succeeded"]', { timeout: 30_000 });
    expect(await text(page, '#run-result')).toContain('Extended the greeting.');
    // The fork continues from #1's result: only its own change is in its diff.
    expect(await page.$$eval('#diff .rdiff-file .rdiff-path', (els) => els.map((e) => e.textContent?.trim()))).toEqual(['hello.txt']);
    await screenshot(page, 'runs-07-fork-succeeded');

    await page.click('#run-forked-from');
    await page.waitForURL(`${repoUrl()}/runs/1`);
    // The lineage box: run #1, then its fork #2 (from #1's last step).
    expect(await text(page, '#run-lineage')).toMatch(/#1[\s\S]*#2[\s\S]*from (step \d+|its result)/);

    // The compare view: both prompts and the difference between the two results.
    await page.selectOption('#compare-with', '2');
    await Promise.all([page.waitForURL(/\/runs\/compare\?a=1&b=2$/), page.click('.run-compare-form button')]);
    expect(await text(page, '[data-side="A"]')).toContain('Add a greeting');
    expect(await text(page, '[data-side="B"]')).toContain('Extend the greeting');
    expect(await text(page, '#between')).toContain('And a second line from the fork.');
    await screenshot(page, 'runs-08-compare');
  }, 90_000);

  it('cancels a long task from the run page, and retries it', async () => {
    const page = await newPage();
    await signIn(page, alice);
    const n = await submitTask(page, 'Wait for a long time', script('say Going to sleep\nsleep 60\nsay Never printed', 'Sleep.'));
    await page.waitForSelector('#run-status[data-run-status="running"]', { timeout: 20_000 });
    await page.waitForSelector('#run-trace .trace-item[data-kind="message"]', { timeout: 20_000 });
    await screenshot(page, 'runs-09-running');
    // Cancelling asks first.
    await Promise.all([page.waitForURL(`${repoUrl()}/runs/${n}/cancel`), page.click('#run-cancel')]);
    await Promise.all([page.waitForURL(`${repoUrl()}/runs/${n}`), page.click('#confirm-submit')]);
    expect(await text(page, '.flash')).toMatch(/Cancell(ing|ed) task/);
    await page.waitForSelector('#run-status[data-run-status="cancelled"]', { timeout: 30_000 });
    expect(await text(page, '.run-callout-cancelled')).toContain('cancelled');
    expect(await page.locator('#run-cancel').count()).toBe(0);
    await screenshot(page, 'runs-10-cancelled');

    // Retry: the same prompt from the same source, as a new task.
    await Promise.all([page.waitForURL(/\/runs\/\d+$/), page.click('button:has-text("Retry")')]);
    const retried = Number(/\/runs\/(\d+)$/.exec(page.url())![1]);
    expect(retried).toBeGreaterThan(n);
    expect(await text(page, '.flash')).toContain(`a retry of #${n}`);
    expect(await page.$eval('#prompt pre', (e) => e.textContent)).toContain('sleep 60');
    await Promise.all([page.waitForURL(`${repoUrl()}/runs/${retried}/cancel`), page.click('#run-cancel')]);
    await Promise.all([page.waitForURL(`${repoUrl()}/runs/${retried}`), page.click('#confirm-submit')]);
    await page.waitForSelector('#run-status[data-run-status="cancelled"]', { timeout: 30_000 });
  }, 90_000);

  it('shows why a task failed, in red, in the callout and the trace', async () => {
    const page = await newPage();
    await signIn(page, alice);
    await submitTask(page, 'Break the build', script('say Running the tests\nrun echo "1 failing" >&2 && exit 3', 'Run the tests.'));
    await page.waitForSelector('#run-status[data-run-status="failed"]', { timeout: 30_000 });
    expect(await text(page, '.run-callout-failed')).toContain('command failed with exit code 3');
    expect(await text(page, '#run-trace .trace-command')).toContain('exit 3');
    expect(await page.getAttribute('#run-trace .trace-command details', 'open')).not.toBeNull();
    expect(await text(page, '#run-trace .trace-error')).toContain('exit code 3');
    expect(await page.$eval('#run-trace .trace-error .trace-error-text', (e) => getComputedStyle(e).color)).toBe('rgb(201, 37, 45)');
    // The command's output once, in its row (issue 16: not also in an Output block before it).
    expect(await text(page, '#run-trace .trace-command .trace-pre')).toContain('1 failing');
    expect(await page.locator('#run-trace .trace-pre:has-text("1 failing"), #run-trace .trace-terminal:has-text("1 failing")').count()).toBe(1);
    await screenshot(page, 'runs-10b-failed');
  }, 60_000);

  it('follows a run without JavaScript (the page refreshes itself)', async () => {
    const owner = (await findUserByName(server.app.db, 'alice'))!;
    const access = await authorizeRepository(server.app, 'alice', 'tasks', { userId: owner.id, isAdmin: false, tokenScopes: null }, 'write');
    const run = await startRun(server.app, access, owner, { prompt: script('sleep 1\nsay Done without JavaScript.', 'No JS.'), title: 'No JavaScript' });
    const page = await newPage({ javaScript: false });
    await page.goto(`${repoUrl()}/runs/${run.number}`);
    expect(await page.locator('noscript').count()).toBeGreaterThan(0);
    await waitFor(async () => (await page.getAttribute('#run-status', 'data-run-status').catch(() => null)) === 'succeeded', 30_000);
    await page.waitForLoadState();
    expect(await text(page, '#run-result')).toContain('Done without JavaScript.');
  }, 60_000);

  it('lists the tasks with their statuses, filters and works on a phone', async () => {
    const page = await newPage();
    await signIn(page, alice);
    await page.goto(`${repoUrl()}/runs`);
    const rows = await page.$$eval('.run-row', (els) => els.map((e) => ({ n: e.getAttribute('data-run-number'), status: e.querySelector('.run-status')?.getAttribute('data-run-status') })));
    expect(rows.find((r) => r.n === '1')?.status).toBe('succeeded');
    expect(rows.find((r) => r.n === '2')?.status).toBe('succeeded');
    expect(rows.find((r) => r.n === '3')?.status).toBe('cancelled');
    const row2 = page.locator('.run-row[data-run-number="2"]');
    expect(await row2.locator('.run-forked').textContent()).toContain('fork of #1');
    expect(await row2.locator('.run-agent').textContent()).toBe('scripted');
    expect(await row2.locator('.run-pr').getAttribute('href')).toMatch(/^\/alice\/tasks\/pull\/\d+$/);
    expect(await row2.locator('.run-row-actions a:has-text("Fork")').count()).toBe(1);
    expect(await row2.locator('button:has-text("Retry")').count()).toBe(1);
    await screenshot(page, 'runs-11-tasks');

    await page.click('.run-filters a:has-text("Cancelled")');
    await page.waitForURL(`${repoUrl()}/runs?status=cancelled`);
    const cancelled = await page.$$eval('.run-row .run-status', (els) => els.map((e) => e.getAttribute('data-run-status')));
    expect(cancelled.length).toBeGreaterThan(0);
    expect(new Set(cancelled)).toEqual(new Set(['cancelled']));

    // The Fork button on the list opens a fork form of its own.
    await page.goto(`${repoUrl()}/runs`);
    await Promise.all([page.waitForURL(`${repoUrl()}/runs/1/fork`), page.locator('.run-row[data-run-number="1"] .run-row-actions a:has-text("Fork")').click()]);
    expect(await page.inputValue('#fork-prompt')).toContain('write hello.txt');
    await screenshot(page, 'runs-12-fork-page');

    const mobile = await newPage({ mobile: true });
    await signIn(mobile, alice);
    for (const [path, name] of [
      ['/runs', 'runs-13-tasks-mobile'],
      ['/runs/1', 'runs-14-run-mobile'],
      ['/runs/new', 'runs-15-new-mobile'],
    ] as const) {
      await mobile.goto(`${repoUrl()}${path}`);
      const overflow = await mobile.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      expect(overflow, path).toBeLessThanOrEqual(0);
      await screenshot(mobile, name);
    }
  }, 90_000);

  it('enforces access: readers see tasks but cannot start them; private repositories are 404', async () => {
    const page = await newPage();
    await signIn(page, bob);
    await page.goto(`${repoUrl()}/runs`);
    expect(await page.locator('.run-row').count()).toBeGreaterThan(0);
    expect(await page.locator('a:has-text("New task")').count()).toBe(0);
    expect(await page.locator('.run-row-actions').count()).toBe(0);
    expect((await page.goto(`${repoUrl()}/runs/new`))!.status()).toBe(403);
    await page.goto(`${repoUrl()}/runs/1`);
    expect(await page.locator('#fork').count()).toBe(0);
    // A crafted cancel or fork post is refused too.
    const csrf = await page.inputValue('input[name=_csrf]').catch(async () => {
      await page.goto(`${server.url}/`);
      return page.inputValue('input[name=_csrf]');
    });
    const forked = await page.context().request.post(`${repoUrl()}/runs/1/fork`, { form: { _csrf: csrf, prompt: 'x' }, maxRedirects: 0 });
    expect(forked.status()).toBe(403);
    for (const path of ['/alice/hidden/runs', '/alice/hidden/runs/new', '/alice/hidden/runs/1', '/alice/hidden/runs/1/events', '/alice/hidden/runs/compare']) {
      expect((await page.goto(`${server.url}${path}`))!.status(), path).toBe(404);
    }
    const anon = await newPage();
    await anon.goto(`${repoUrl()}/runs/new`);
    expect(anon.url()).toContain('/-/login?next=');
  }, 60_000);

  it('shows the runners to site administrators only', async () => {
    const page = await newPage();
    await signIn(page, root);
    await page.click('.menu summary');
    await Promise.all([page.waitForURL(`${server.url}/-/admin`), page.click('.menu-panel a:has-text("Site administration")')]);
    await Promise.all([page.waitForURL(`${server.url}/-/admin/runners`), page.click('.side-links a:has-text("Runners")')]);
    const item = page.locator('.runner-item').first();
    expect(await item.getAttribute('class')).toContain('runner-online');
    expect(await text(page, '#runner-list')).toContain('Online');
    expect(await text(page, '#runner-list')).toContain('embedded');
    expect(await text(page, '#runner-list')).toMatch(/Last seen (just now|\d+ seconds? ago)/);
    await screenshot(page, 'runs-16-admin-runners');

    await page.click('#create-registration-token');
    await page.waitForSelector('#registration-token');
    const token = await page.inputValue('#registration-token');
    expect(token).toMatch(/^gtreg_/);
    expect(await page.inputValue('#registration-command')).toBe(`gitoku runner --server ${server.url} --token ${token}`);
    await screenshot(page, 'runs-17-admin-registration');
    await page.goto(`${server.url}/-/admin/runners`);
    expect(await page.content()).not.toContain(token);

    const other = await newPage();
    await signIn(other, alice);
    await other.click('.menu summary');
    expect(await other.locator('.menu-panel a:has-text("Site administration")').count()).toBe(0);
    const res = await other.goto(`${server.url}/-/admin/runners`);
    expect(res!.status()).toBe(404); // site administration does not exist for others (issue 18)
    const csrf = await other.inputValue('input[name=_csrf]');
    const post = await other.context().request.post(`${server.url}/-/admin/runners/registration-token`, { form: { _csrf: csrf }, maxRedirects: 0 });
    expect(post.status()).toBe(404);
    expect(await post.text()).not.toContain('gtreg_');
    const anon = await newPage();
    await anon.goto(`${server.url}/-/admin/runners`);
    expect(anon.url()).toContain('/-/login?next=%2F-%2Fadmin%2Frunners');
  }, 60_000);

  it('renders hostile titles, prompts and trace text inert, live and server-rendered', async () => {
    const hostile = `<script>window.__pwned='script'</script><img src=x onerror="window.__pwned='img'">`;
    const page = await newPage();
    await signIn(page, alice);
    const n = await submitTask(page, `Evil ${hostile}`, script(`sleep 1\nsay ${hostile}\nthink ${hostile}\nwrite evil.html\n${hostile}\nend\nrun echo '${hostile.replace(/'/g, '')}'`, `Hostile ${hostile}`));
    await page.waitForSelector('#run-trace .trace-item[data-kind="message"]', { timeout: 20_000 });
    await page.waitForSelector('#run-status[data-run-status="succeeded"]', { timeout: 30_000 });
    await page.waitForSelector('#diff .rdiff-file');
    expect(await page.evaluate('window.__pwned ?? null')).toBeNull();
    expect(await text(page, '.run-h1-title')).toBe(`Evil ${hostile}`);
    expect(await text(page, '#run-trace .trace-message')).toContain(hostile);
    await screenshot(page, 'runs-18-xss-run');

    const html = await (await page.context().request.get(`${repoUrl()}/runs/${n}`)).text();
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain("<script>window.__pwned");
    expect(html.match(/<script\b/g)).toHaveLength(2); // gitoku.js and runs.js

    await page.goto(`${repoUrl()}/runs`);
    expect(await page.evaluate('window.__pwned ?? null')).toBeNull();
    expect(await page.locator('.run-row img').count()).toBe(0);
    const list = await (await page.context().request.get(`${repoUrl()}/runs`)).text();
    expect(list).not.toContain('<img src=x');
    expect(list).toContain('&lt;script&gt;');
    await page.goto(`${repoUrl()}/runs/compare?a=1&b=${n}`);
    expect(await page.evaluate('window.__pwned ?? null')).toBeNull();
    expect((await getRun(server.app, (await authorizeRepository(server.app, 'alice', 'tasks', null)).repo.id, n)).status).toBe('succeeded');
  }, 90_000);
});
