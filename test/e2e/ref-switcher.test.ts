import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, openPage } from '../helpers/browser.ts';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';

const skipReason = browserUnavailableReason();
const SHOTS = '/tmp/shots/perf';

describe.skipIf(!!skipReason)('ref switcher and deferred last commits in a browser', () => {
  let server: TestServer;
  let owner: TestUser;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let work: { path: string; remove(): Promise<void> };

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    owner = await createTestUser(server);
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'many' } });
    work = await tempDir();
    await initWorkRepo(work.path, { 'README.md': '# Many refs\n', 'src/app.ts': 'export {};\n' });
    for (let i = 0; i < 40; i++) await gitOk(work.path, ['branch', `feature/topic-${String(i).padStart(2, '0')}`]);
    await gitOk(work.path, ['branch', 'release/<b>evil</b>']).catch(() => gitOk(work.path, ['branch', 'release/evil-name']));
    for (let i = 0; i < 60; i++) await gitOk(work.path, ['tag', `v2.${i}.0`]);
    const remote = authUrl(server.url, `${owner.username}/many.git`, owner.username, owner.token);
    await gitOk(work.path, ['push', '-q', remote, '--all']);
    await gitOk(work.path, ['push', '-q', remote, '--tags']);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await work?.remove();
    await server?.close();
  });

  it('lists recent branches inline and asks the server for matches as the user types', async () => {
    const page = await openPage(browser, contexts);
    await page.goto(`${server.url}/${owner.username}/many/tree/main/src`);
    await page.click('details.ref-switcher > summary');
    const inline = await page.locator('details.ref-switcher .dropdown-item').count();
    expect(inline).toBeLessThanOrEqual(21);
    await page.screenshot({ path: `${SHOTS}/ref-switcher-open.png` });
    await page.fill('details.ref-switcher .dropdown-filter input', 'v2.5');
    await page.waitForSelector('details.ref-switcher .dropdown-item[data-filter-text="v2.50.0"]');
    const names = await page.locator('details.ref-switcher .dropdown-item').allTextContents();
    expect(names.map((n) => n.trim())).toEqual(expect.arrayContaining(['v2.5.0', 'v2.50.0', 'v2.59.0']));
    await page.screenshot({ path: `${SHOTS}/ref-switcher-tags.png` });
    // A match links to the same view at that ref.
    const href = await page.locator('details.ref-switcher .dropdown-item[data-filter-text="v2.50.0"]').getAttribute('href');
    expect(href).toBe(`/${owner.username}/many/tree/v2.50.0/src`);
    await page.fill('details.ref-switcher .dropdown-filter input', 'topic-3');
    await page.waitForSelector('details.ref-switcher .dropdown-item[data-filter-text="feature/topic-39"]');
    expect(await page.locator('details.ref-switcher .dropdown-item').count()).toBe(10);
    await page.fill('details.ref-switcher .dropdown-filter input', 'no-such-ref');
    await page.waitForSelector('details.ref-switcher [data-ref-results] >> text=Nothing found');
    await page.screenshot({ path: `${SHOTS}/ref-switcher-none.png` });
    // Clearing the filter brings the inline list back.
    await page.fill('details.ref-switcher .dropdown-filter input', '');
    await page.waitForSelector('details.ref-switcher .dropdown-item[data-filter-text="main"]');
    await Promise.all([page.waitForURL(/\/tree\/feature\/topic-/), page.locator('details.ref-switcher .dropdown-item[data-filter-text^="feature/topic-"]').first().click()]);
    expect(page.url()).toMatch(/\/tree\/feature\/topic-\d\d\/src$/);
  });

  it('links to the full branch and tag lists without script', async () => {
    const page = await openPage(browser, contexts, { javaScript: false });
    await page.goto(`${server.url}/${owner.username}/many/tree/main`);
    await page.click('details.ref-switcher > summary');
    await page.screenshot({ path: `${SHOTS}/ref-switcher-nojs.png` });
    await Promise.all([page.waitForURL(/\/tags$/), page.click('details.ref-switcher .ref-more a[href$="/tags"]')]);
    expect(await page.locator('text=v2.59.0').count()).toBeGreaterThan(0);
  });

  it('fills deferred "last commit" cells from the fragment', async () => {
    const page = await openPage(browser, contexts);
    const sha = (await gitOk(work.path, ['rev-parse', 'HEAD'])).trim();
    // The tree page with a pending list, as rendered when the walk outlasts its budget.
    await page.goto(`${server.url}/${owner.username}/many/tree/main`);
    await page.evaluate((url) => {
      const list = document.querySelector('ul.file-list')!;
      list.querySelectorAll('li.file-row').forEach((li) => {
        const name = li.querySelector('.file-name')?.textContent?.trim();
        if (!name || name === '..') return;
        li.setAttribute('data-entry', name);
        li.querySelector('.file-commit')!.replaceWith(Object.assign(document.createElement('span'), { className: 'file-commit' }));
        li.querySelector('.file-age')!.textContent = '';
      });
      list.setAttribute('data-last-commits', url);
    }, `/${owner.username}/many/-/last-commits/${sha}`);
    // Re-run the page script on the modified list (what a deferred page does on load).
    await page.addScriptTag({ url: '/-/static/gitoku.js' });
    await page.waitForFunction(() => document.querySelectorAll('ul.file-list li[data-entry]').length === 0);
    expect(await page.locator('ul.file-list a.file-commit').count()).toBe(2);
    await page.screenshot({ path: `${SHOTS}/deferred-last-commits.png` });
  });
});
