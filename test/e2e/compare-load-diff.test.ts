import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { join } from 'node:path';
import { browserUnavailableReason, launchBrowser, openPage, screenshot, SCREENSHOT_DIR } from '../helpers/browser.ts';
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
    await page.goto(`${server.url}/${owner.username}/wide/compare/v1...main`);
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
    expect(page.url()).toContain('/compare/v1...main');
    await expect(deferred.locator('tr.dl-add').first().isVisible()).resolves.toBe(true);
    await deferred.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'compare-load-diff-after.png') });
  });

  it('follows the link to the file\'s own diff without scripts', async () => {
    const page = await openPage(browser, contexts, { javaScript: false });
    await page.goto(`${server.url}/${owner.username}/wide/compare/v1...main`);
    await page.locator('.diff-file:has(.diff-path:text-is("src/big.ts")) a.load-diff').click();
    await page.waitForURL(/\/diff-file\//);
    expect(await page.locator('tr.dl-add').count()).toBe(900);
    await expect(page.locator('tr.dl-add').first().isVisible()).resolves.toBe(true);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'compare-load-diff-page.png') });
  });
});
