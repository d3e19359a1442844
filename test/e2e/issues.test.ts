import { mkdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, openPage, signInAs, textOf } from '../helpers/browser.ts';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import { waitFor } from '../helpers/scriptedRuns.ts';
import type { JobRunner } from '../../src/runner/runner.ts';
import { createRepository, setCollaborator } from '../../src/services/repositories.ts';
import { findUserByName } from '../../src/services/users.ts';

const skipReason = browserUnavailableReason();
if (skipReason) console.warn(`skipping browser tests: ${skipReason}`);

const SHOTS = '/tmp/shots/issues';

/**
 * The repository's agent "greeter" runs on the scripted driver; its instructions (the repository's
 * words, trusted) hold the script: it works for a few seconds (so the page can be watched), then
 * writes a file. An issue's own text is data to an agent, never a script it runs.
 */
const MANIFEST = '[agent.greeter]\nname = "Greeter"\ndescription = "Adds greetings"\ndriver = "script"\ninstructions_file = ".gitoku/greeter.md"\n';
const GREETER = ['Add the greeting the issue asks for.', '', '```gitoku-script', 'say Reading the issue', 'sleep 3', 'write src/hello.txt', 'Hello from the agent', 'end', 'say Done: added src/hello.txt', '```', ''].join('\n');
const ISSUE_BODY = 'The project needs a greeting file. <script>window.__pwned=1</script>Markup like <b onclick="window.__pwned=2">this</b> is sanitized.';

describe.skipIf(!!skipReason)(`issues in the browser${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: TestServer;
  let browser: Browser;
  let runner: JobRunner;
  let alice: TestUser;
  let bob: TestUser;
  const contexts: BrowserContext[] = [];
  const repoUrl = () => `${server.url}/alice/greeter`;
  let issueUrl = '';

  async function shot(page: Page, name: string): Promise<void> {
    await mkdir(SHOTS, { recursive: true });
    await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
  }

  const pwned = (page: Page) => page.evaluate('window.__pwned ?? null');

  beforeAll(async () => {
    server = await startTestServer('sqlite', { GITOKU_JOB_LEASE_MS: '3000' });
    alice = await createTestUser(server, { username: 'alice' });
    bob = await createTestUser(server, { username: 'bob' });
    const owner = (await findUserByName(server.app.db, 'alice'))!;
    const repo = await createRepository(server.app, owner, { name: 'greeter', description: 'Says hello' });
    await setCollaborator(server.app, repo, 'bob', 'read');
    const work = await tempDir();
    try {
      await initWorkRepo(work.path, { 'README.md': '# Greeter\n', 'src/app.txt': 'one\n', 'gitoku.toml': MANIFEST, '.gitoku/greeter.md': GREETER });
      await gitOk(work.path, ['push', '-q', authUrl(server.url, 'alice/greeter.git', alice.username, alice.token), 'main']);
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

  it('opens an issue, labels it, assigns the scripted agent, watches the run, merges its pull request and sees the issue closed by it', async () => {
    const page = await openPage(browser, contexts, { height: 900 });
    await signInAs(page, server.url, alice);

    // A label, from the labels page (colour input and all).
    await page.goto(`${repoUrl()}/labels`);
    await page.click('#new-label summary');
    await page.fill('#new-label-name', 'enhancement');
    await page.fill('#new-label-description', 'New feature or request');
    await page.fill('#new-label-color', '#a2eeef');
    await Promise.all([page.waitForURL(`${repoUrl()}/labels`), page.click('#new-label-form button[type=submit]')]);
    expect(await textOf(page, '.label-list')).toContain('enhancement');
    await shot(page, 'labels-desktop');

    // The Issues tab → New issue.
    await page.goto(repoUrl());
    await Promise.all([page.waitForURL(`${repoUrl()}/issues`), page.click('.tabs a:has-text("Issues")')]);
    expect(await textOf(page, '.empty-state')).toContain('No open issues');
    await Promise.all([page.waitForURL(`${repoUrl()}/issues/new`), page.click('#new-issue-button')]);
    await page.fill('#issue-title', 'Add a <greeting> file');
    await page.fill('#issue-body', ISSUE_BODY);
    await shot(page, 'new-issue-desktop');
    await Promise.all([page.waitForURL(/\/alice\/greeter\/issues\/\d+$/), page.click('#submit-new-issue')]);
    issueUrl = page.url();
    expect(await textOf(page, '#issue-title')).toBe('Add a <greeting> file');
    expect(await page.getAttribute('#issue-state', 'data-issue-state')).toBe('open');
    expect(await textOf(page, '#issue-description .markdown-body')).toContain('The project needs a greeting file. Markup like this is sanitized.');
    expect(await page.$('#issue-description .markdown-body script, #issue-description .markdown-body [onclick]')).toBeNull();
    expect(await pwned(page)).toBeNull();

    // Label it from the sidebar.
    await page.click('#label-picker summary');
    await page.check('#label-picker input[value="enhancement"]');
    await Promise.all([page.waitForURL(issueUrl), page.click('#apply-labels')]);
    expect(await textOf(page, '#side-labels-values')).toBe('enhancement');
    // The chip is coloured by the repository's label stylesheet (no inline styles under the CSP).
    const chip = await page.$eval('#side-labels-values .issue-label', (el) => getComputedStyle(el).backgroundColor);
    expect(chip).toBe('rgb(162, 238, 239)');
    expect(await textOf(page, '.timeline')).toContain('alice added enhancement');

    // Assign it to the scripted agent: a run starts and the page follows it live.
    await page.click('#assignee-picker summary');
    await page.check('#assignee-picker input[value="agent:greeter"]');
    await Promise.all([page.waitForURL(issueUrl), page.click('#apply-assignees')]);
    expect(await textOf(page, '#side-assignees-values')).toContain('greeter');
    await page.waitForSelector('#side-runs .issue-run .run-status[data-run-status="running"], #side-runs .issue-run .run-status[data-run-status="queued"]', { timeout: 30_000 });
    expect(await page.isVisible('#issue-live')).toBe(true);
    await shot(page, 'issue-run-live-desktop');
    // The poller reloads the page when the run ends: the trace link, the status and the draft pull request are there.
    await page.waitForSelector('#side-runs .issue-run .run-status[data-run-status="succeeded"]', { timeout: 60_000 });
    await page.waitForSelector('#side-pulls .side-pull-link', { timeout: 30_000 });
    const runHref = await page.getAttribute('#side-runs .issue-run-number', 'href');
    expect(runHref).toMatch(/\/alice\/greeter\/runs\/\d+$/);
    expect(await textOf(page, '.timeline')).toMatch(/alice started greeter scripted by assigning it: run #\d+ Succeeded/);
    expect(await page.isVisible('#issue-live')).toBe(false);
    await shot(page, 'issue-run-done-desktop');

    // The trace of the run is one click away.
    await Promise.all([page.waitForURL(`${server.url}${runHref}`), page.click('#side-runs .issue-run-number')]);
    expect(await textOf(page, '#run-trace')).toContain('Done: added src/hello.txt');
    await page.goBack();

    // Its draft pull request says it fixes the issue; mark it ready and merge it.
    await Promise.all([page.waitForURL(/\/alice\/greeter\/pull\/\d+$/), page.click('#side-pulls .side-pull-link')]);
    const pullNumber = Number(/\/pull\/(\d+)$/.exec(page.url())![1]);
    expect(await textOf(page, '#description-0')).toContain(`Fixes #${/\/issues\/(\d+)$/.exec(issueUrl)![1]}`);
    await Promise.all([page.waitForURL(/\/pull\/\d+$/), page.click('#merge-box button:has-text("Ready for review")')]);
    await page.waitForSelector('#merge-box .btn-merge:not([disabled])', { timeout: 30_000 });
    await page.click('#merge-box .btn-merge');
    await page.waitForSelector('#confirm');
    await Promise.all([page.waitForURL(/\/pull\/\d+$/), page.click('#confirm button[type=submit]')]);
    expect(await textOf(page, '#merge-box')).toContain('successfully merged');

    // Back on the issue: closed as completed by the pull request (a behavior closes it right after the merge).
    for (let i = 0; i < 50; i++) {
      await page.goto(issueUrl);
      if ((await page.getAttribute('#issue-state', 'data-issue-state')) === 'completed') break;
      await page.waitForTimeout(200);
    }
    expect(await page.getAttribute('#issue-state', 'data-issue-state')).toBe('completed');
    expect(await textOf(page, '.timeline')).toContain(`closed this as completed in #${pullNumber}`);
    expect(await page.getAttribute('.closed-by-pull', 'href')).toBe(`/alice/greeter/pull/${pullNumber}`);
    expect(await textOf(page, '#side-pulls')).toContain(`#${pullNumber}`);
    await shot(page, 'issue-closed-desktop');

    // The list: closed now, with its label chip; the open tab is empty.
    await page.goto(`${repoUrl()}/issues?state=closed`);
    expect(await textOf(page, '.issue-list')).toContain('Add a <greeting> file');
    expect(await textOf(page, '#issues-open-tab')).toBe('0 Open');
    expect(await textOf(page, '#issues-closed-tab')).toBe('1 Closed');
    await shot(page, 'issue-list-closed-desktop');
    expect(await pwned(page)).toBeNull();
  }, 180_000);

  it('shows a reader the values without the controls, and reads well on a phone', async () => {
    expect(issueUrl).not.toBe('');
    const reader = await openPage(browser, contexts, { mobile: true });
    await signInAs(reader, server.url, bob);
    await reader.goto(issueUrl);
    expect(await reader.$('#assignee-picker')).toBeNull();
    expect(await reader.$('#label-picker')).toBeNull();
    expect(await reader.$('#close-issue')).toBeNull();
    expect(await textOf(reader, '#side-labels-values')).toBe('enhancement');
    expect(await textOf(reader, '#side-assignees-values')).toContain('greeter');
    // No horizontal scrolling on a 390px-wide screen.
    expect(await reader.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(reader, 'issue-phone-reader');
    await reader.goto(`${repoUrl()}/issues?state=all`);
    expect(await reader.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(reader, 'issue-list-phone');

    // The owner on a phone: the pickers fit the screen.
    const phone = await openPage(browser, contexts, { mobile: true });
    await signInAs(phone, server.url, alice);
    await phone.goto(issueUrl);
    await phone.click('#label-picker summary');
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(phone, 'issue-phone-owner-picker');
    await phone.goto(`${repoUrl()}/labels`);
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(phone, 'labels-phone');
  }, 60_000);

  it('a reader opens an issue from the repository’s template: the chooser, the filled form, the template’s label and assignee', async () => {
    const owner = (await findUserByName(server.app.db, 'alice'))!;
    const repo = await createRepository(server.app, owner, { name: 'templated' });
    await setCollaborator(server.app, repo, 'bob', 'read');
    const work = await tempDir();
    try {
      await initWorkRepo(work.path, {
        'README.md': '# Templated\n',
        '.github/ISSUE_TEMPLATE/bug_report.md': '---\nname: Bug report\nabout: Tell us what broke\ntitle: "[bug] "\nlabels: bug\nassignees: alice\n---\n## Steps to reproduce\n\n1. \n',
        '.github/ISSUE_TEMPLATE/config.yml': 'contact_links:\n  - name: Questions\n    url: https://forum.example.org/\n    about: Ask the community\n',
      });
      await gitOk(work.path, ['push', '-q', authUrl(server.url, 'alice/templated.git', alice.username, alice.token), 'main']);
    } finally {
      await work.remove();
    }
    await api(server, 'POST', '/repos/alice/templated/labels', { token: alice.token, body: { name: 'bug', color: 'd73a4a' } });

    const page = await openPage(browser, contexts);
    await signInAs(page, server.url, bob);
    await page.goto(`${server.url}/alice/templated/issues/new`);
    expect(page.url()).toBe(`${server.url}/alice/templated/issues/new/choose`);
    expect(await textOf(page, '#issue-templates')).toContain('Tell us what broke');
    await shot(page, 'template-chooser');
    await Promise.all([page.waitForURL(/template=bug_report\.md/), page.click('#issue-templates a:has-text("Get started")')]);
    expect(await page.inputValue('#issue-title')).toBe('[bug] ');
    expect(await page.inputValue('#issue-body')).toContain('## Steps to reproduce');
    await page.fill('#issue-title', '[bug] the greeting is missing');
    await shot(page, 'template-form');
    await Promise.all([page.waitForURL(/\/issues\/\d+$/), page.click('#submit-new-issue')]);
    expect(await textOf(page, '#side-labels-values')).toBe('bug');
    expect(await textOf(page, '#side-assignees-values')).toContain('alice');
    await shot(page, 'template-issue');
  }, 60_000);

  it('the owner hears of the reader’s issue: the bell, the inbox, the thread opens the issue and is read', async () => {
    await waitFor(async () => !(await server.app.db.selectFrom('graph_events').select('id').where('dispatched_at', 'is', null).executeTakeFirst()), 20_000);
    const page = await openPage(browser, contexts);
    await signInAs(page, server.url, alice);
    expect(await page.locator('.topbar-bell.unread').count()).toBe(1);
    await Promise.all([page.waitForURL(`${server.url}/notifications`), page.click('.topbar-bell')]);
    const row = page.locator('.notification', { hasText: '[bug] the greeting is missing' });
    expect(await row.getAttribute('class')).toContain('unread');
    // The template assigned her: that is why she hears of it.
    expect(await row.locator('.notification-reason').textContent()).toBe('you were assigned');
    await shot(page, 'notifications-inbox');
    await Promise.all([page.waitForURL(/\/alice\/templated\/issues\/\d+$/), row.locator('.notification-title').click()]);
    await page.goto(`${server.url}/notifications?all=1`);
    expect(await page.locator('.notification', { hasText: '[bug] the greeting is missing' }).getAttribute('class')).not.toContain('unread');
  }, 60_000);
});
