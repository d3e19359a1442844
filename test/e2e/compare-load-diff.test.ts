import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { join } from 'node:path';
import { browserUnavailableReason, launchBrowser, openPage, screenshot, SCREENSHOT_DIR, signInAs } from '../helpers/browser.ts';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';

const skipReason = browserUnavailableReason();

describe.skipIf(!!skipReason)('a large comparison in a browser: "Load diff"', () => {
  let server: TestServer;
  let owner: TestUser;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let work: { path: string; remove(): Promise<void> };

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    owner = await createTestUser(server);
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'wide' } });
    work = await tempDir();
    await initWorkRepo(work.path, { 'README.md': '# Wide\n', 'src/small.ts': 'export const small = 1;\n' });
    const big = Array.from({ length: 900 }, (_, i) => `export const value${i} = ${i};`).join('\n') + '\n';
    await commitFiles(work.path, { 'src/big.ts': big, 'src/small.ts': 'export const small = 2;\n' }, 'A big file');
    await gitOk(work.path, ['tag', 'v1', 'HEAD~1']);
    await gitOk(work.path, ['push', '-q', authUrl(server.url, `${owner.username}/wide.git`, owner.username, owner.token), 'main', 'v1']);
    // The same change as a pull request: main at v1, the change on a branch.
    await gitOk(work.path, ['push', '-q', authUrl(server.url, `${owner.username}/wide.git`, owner.username, owner.token), 'main:grow', '+v1^{commit}:main']);
    const pr = await api(server, 'POST', `/repos/${owner.username}/wide/pulls`, { token: owner.token, body: { title: 'Grow', head: 'grow', base: 'main' } });
    expect(pr.status, pr.text).toBe(201);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await work?.remove();
    await server?.close();
  });

  it('loads a deferred file in place', async () => {
    const page = await openPage(browser, contexts);
    await page.goto(`${server.url}/${owner.username}/wide/compare/v1...grow`);
    const deferred = page.locator('.diff-file:has(.diff-path:text-is("src/big.ts"))');
    await deferred.locator('a.load-diff').waitFor();
    expect(await deferred.locator('tr.dl-add').count()).toBe(0);
    expect(await page.locator('.diff-file:has(.diff-path:text-is("src/small.ts")) tr.dl-add').count()).toBe(1);
    await screenshot(page, 'compare-load-diff-before');
    await deferred.locator('a.load-diff').click();
    await deferred.locator('tr.dl-add').nth(899).waitFor();
    expect(await deferred.locator('tr.dl-add').count()).toBe(900);
    expect(await deferred.locator('a.load-diff').count()).toBe(0);
    // Still on the comparison (fetched in place, not followed).
    expect(page.url()).toContain('/compare/v1...grow');
    await expect(deferred.locator('tr.dl-add').first().isVisible()).resolves.toBe(true);
    await deferred.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'compare-load-diff-after.png') });
  });

  it('follows the link to the file\'s own diff without scripts', async () => {
    const page = await openPage(browser, contexts, { javaScript: false });
    await page.goto(`${server.url}/${owner.username}/wide/compare/v1...grow`);
    await page.locator('.diff-file:has(.diff-path:text-is("src/big.ts")) a.load-diff').click();
    await page.waitForURL(/\/diff-file\//);
    expect(await page.locator('tr.dl-add').count()).toBe(900);
    await expect(page.locator('tr.dl-add').first().isVisible()).resolves.toBe(true);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'compare-load-diff-page.png') });
  });

  it('loads a pull request\'s deferred file in place, where a signed-in reviewer can comment on its lines', async () => {
    const page = await openPage(browser, contexts);
    await signInAs(page, server.url, owner);
    await page.goto(`${server.url}/${owner.username}/wide/pull/1/files`);
    const deferred = page.locator('.diff-file:has(.diff-path:text-is("src/big.ts"))');
    await deferred.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'pull-load-diff-before.png') });
    await deferred.locator('a.load-diff').click();
    await deferred.locator('tr.dl-add').nth(899).waitFor();
    expect(page.url()).toContain('/pull/1/files');
    // The loaded lines carry the tab's "+" buttons: one opens the inline comment form under its line.
    const line = deferred.locator('tr.dl-add').nth(449);
    await line.hover();
    await line.locator('a.add-comment').click();
    const form = deferred.locator('tr.dl-extra[data-inline] form.line-comment-form');
    await form.waitFor();
    expect(await form.locator('input[name=path]').inputValue()).toBe('src/big.ts');
    expect(await form.locator('input[name=line]').inputValue()).toBe('450');
    await form.locator('textarea').fill('Why 449?');
    await form.locator('button[type=submit]').click();
    await page.waitForURL(/\/pull\/1\/files/);
    // Commented on, the file now renders in place with its thread.
    const commented = page.locator('.diff-file:has(.diff-path:text-is("src/big.ts"))');
    await commented.locator('text=Why 449?').waitFor();
    expect(await commented.locator('a.load-diff').count()).toBe(0);
    await screenshot(page, 'pull-load-diff-commented');
  });
});
