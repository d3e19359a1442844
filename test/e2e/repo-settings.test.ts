import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, openPage, signInAs, textOf } from '../helpers/browser.ts';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitCli, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';

const skipReason = browserUnavailableReason();
if (skipReason) console.warn(`skipping browser tests: ${skipReason}`);

const SHOTS = '/tmp/shots/repo-settings';

async function shot(page: Page, name: string): Promise<void> {
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

describe.skipIf(!!skipReason)(`repository settings in the browser${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: TestServer;
  let browser: Browser;
  let owner: TestUser;
  let work: { path: string; remove(): Promise<void> };
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    owner = await createTestUser(server);
    expect((await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'site', description: 'A <b>site</b>' } })).status).toBe(201);
    work = await tempDir();
    await initWorkRepo(work.path, { 'README.md': '# site\n' });
    await gitOk(work.path, ['push', '-q', authUrl(server.url, `${owner.username}/site.git`, owner.username, owner.token), 'main', 'main:release/1.0']);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await work?.remove();
    await server?.close();
  });

  it('renames the repository, and the old link leads to it', async () => {
    const page = await openPage(browser, contexts);
    await signInAs(page, server.url, owner);
    await page.goto(`${server.url}/${owner.username}/site/settings`);
    await shot(page, '01-settings');

    // Onto a bad name: the error shows in the section, the name typed is kept.
    await page.fill('#rename-name', 'bad name');
    await page.click('#rename button[type=submit]');
    expect(await textOf(page, '#rename .form-alert')).toContain('may only contain');
    expect(await page.inputValue('#rename-name')).toBe('bad name');
    await shot(page, '02-rename-refused');

    await page.fill('#rename-name', 'website');
    await Promise.all([page.waitForURL(`${server.url}/${owner.username}/website/settings`), page.click('#rename button[type=submit]')]);
    expect(await textOf(page, '.flash-success')).toContain(`Renamed to ${owner.username}/website`);
    expect(await textOf(page, '#old-names')).toContain(`${owner.username}/site`);
    await shot(page, '03-renamed');

    await page.goto(`${server.url}/${owner.username}/site/commits/main?x=1`);
    expect(page.url()).toBe(`${server.url}/${owner.username}/website/commits/main?x=1`);
    expect(await textOf(page, '.repo-title')).toContain('website');
    await shot(page, '04-old-link-followed');
  });

  it('adds, edits and shows a branch protection rule; the branches page marks protected branches', async () => {
    const page = await openPage(browser, contexts);
    await signInAs(page, server.url, owner);
    await page.goto(`${server.url}/${owner.username}/website/settings#branches`);
    expect(await textOf(page, '#branches .empty-state')).toContain('No branch protection rules');
    await page.fill('#rule-new-pattern', 'release/*');
    await page.check('#branches .rule-add input[name=require_checks]');
    await page.fill('#rule-new-contexts', 'ci, lint');
    await page.uncheck('#branches .rule-add input[name=require_reviews]');
    await Promise.all([page.waitForURL(/\/settings#branches$/), page.click('#branches .rule-add button[type=submit]')]);
    expect(await textOf(page, '.rule-row .rule-pattern')).toBe('release/*');
    expect(await textOf(page, '.rule-row .rule-summary')).toContain('Checks: ci, lint');
    expect(await textOf(page, '.rule-row .rule-covers')).toContain('release/1.0');
    await shot(page, '05-rule-added');

    // Required checks without any named: refused in place.
    await page.click('#branches .rule-add summary');
    await page.fill('#rule-new-pattern', 'main');
    await page.check('#branches .rule-add input[name=require_checks]');
    await page.fill('#rule-new-contexts', '');
    await page.click('#branches .rule-add button[type=submit]');
    expect(await textOf(page, '#branches .form-alert')).toContain('Name at least one status check');
    await shot(page, '06-rule-refused');

    // Edit the rule: allow deletions, and bind administrators (the owner) too.
    await page.goto(`${server.url}/${owner.username}/website/settings#branches`);
    await page.click('.rule-row .rule-edit summary');
    await page.check('.rule-row .rule-edit input[name=allow_deletions]');
    await page.check('.rule-row .rule-edit input[name=enforce_admins]');
    await shot(page, '06b-rule-edit');
    await Promise.all([page.waitForURL(/\/settings#branches$/), page.click('.rule-row .rule-edit button[type=submit]')]);
    expect(await textOf(page, '.rule-row .rule-summary')).toContain('Deletion allowed');
    expect(await textOf(page, '.rule-row .rule-summary')).toContain('Administrators included');

    // The rule is enforced: a push to release/1.0 without the checks is refused.
    const sha = await commitFiles(work.path, { 'x.txt': 'x\n' }, 'x');
    const push = await gitCli(work.path, ['push', authUrl(server.url, `${owner.username}/site.git`, owner.username, owner.token), `${sha}:release/1.0`]);
    expect(push.code).not.toBe(0);
    expect(push.stderr).toContain('2 of 2 required status checks are expected ("ci", "lint")');

    await page.goto(`${server.url}/${owner.username}/website/branches`);
    const rows = page.locator('.ref-row');
    expect(await rows.filter({ hasText: 'release/1.0' }).locator('.branch-protected-badge').count()).toBe(1);
    expect(await rows.filter({ hasText: 'main' }).first().locator('.branch-protected-badge').count()).toBe(0);
    await shot(page, '07-branches-protected');
  });

  it('stars the repository from a file page: the button turns to Starred, the count follows, the stargazers page lists the user', async () => {
    const page = await openPage(browser, contexts);
    await signInAs(page, server.url, owner);
    const file = `${server.url}/${owner.username}/website/blob/main/README.md`;
    await page.goto(file);
    expect(await textOf(page, '.star-group')).toMatch(/Star\s*0/);
    await page.click('.star-toggle');
    await page.waitForSelector('.star-toggle.starred');
    expect(page.url()).toBe(file);
    expect(await textOf(page, '.star-group')).toMatch(/Starred\s*1/);
    await shot(page, '07b-starred');
    await Promise.all([page.waitForURL(`${server.url}/${owner.username}/website/stargazers`), page.click('.star-count')]);
    expect(await textOf(page, '.stargazers')).toContain(owner.username);
    await shot(page, '07c-stargazers');
    await page.click('.star-toggle');
    await page.waitForSelector('.star-toggle:not(.starred)');
    expect(await textOf(page, '.empty-state')).toContain('No stargazers yet');
  });

  it('archives the repository: a banner on every page, settings still reachable; phone layout', async () => {
    const page = await openPage(browser, contexts);
    await signInAs(page, server.url, owner);
    await page.goto(`${server.url}/${owner.username}/website/settings#danger`);
    await page.click('#archive button[type=submit]');
    expect(await textOf(page, '#confirm-title')).toContain('Archive');
    await shot(page, '08-archive-confirm');
    await Promise.all([page.waitForURL(`${server.url}/${owner.username}/website`), page.click('#confirm button[type=submit]')]);
    expect(await textOf(page, '.archived-banner')).toContain('archived by the owner');
    await shot(page, '09-archived-home');
    await page.goto(`${server.url}/${owner.username}/website/pulls`);
    expect(await page.locator('.archived-banner').count()).toBe(1);
    await page.click('.tabs a:has-text("Settings")');
    expect(await textOf(page, '#archive strong')).toContain('Unarchive');

    const phone = await openPage(browser, contexts, { mobile: true });
    await signInAs(phone, server.url, owner);
    await phone.goto(`${server.url}/${owner.username}/website/settings`);
    await shot(phone, '10-settings-phone');
  });
});
