import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, openPage, signInAs, textOf } from '../helpers/browser.ts';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { commitFiles, gitOk } from '../helpers/git.ts';
import { createPushedRepo, type PushedRepo } from '../helpers/scriptedRuns.ts';

const skipReason = browserUnavailableReason();
if (skipReason) console.warn(`skipping browser tests: ${skipReason}`);

const SHOTS = '/tmp/shots/search';

async function shot(page: Page, name: string): Promise<void> {
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

const APP = [
  "import { widgets } from './store';",
  '',
  '/** Finds a widget by name. */',
  'export function findWidget(name: string) {',
  '  return widgets.get(name);',
  '}',
  '',
  "const html = '<script>alert(1)</script> findWidget';",
  '',
].join('\n');

describe.skipIf(!!skipReason)(`search, explore and the dashboard in a browser${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: TestServer;
  let browser: Browser;
  let alice: TestUser;
  let bob: TestUser;
  const contexts: BrowserContext[] = [];
  const works: PushedRepo[] = [];

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    alice = await createTestUser(server, { username: 'alice' });
    bob = await createTestUser(server, { username: 'bob' });
    const shop = await createPushedRepo(server, alice, 'widget-shop', { 'src/app.ts': APP, 'README.md': '# Widget shop\n' });
    works.push(shop);
    await api(server, 'PATCH', '/repos/alice/widget-shop', { token: alice.token, body: { description: 'Sells <b>widgets</b> of every kind' } });
    works.push(await createPushedRepo(server, alice, 'vault', { 'secret.ts': 'const findWidget = "secret";\n' }, { private: true }));
    const gadgets = await createPushedRepo(server, bob, 'gadgets', { 'gadget.py': 'def find_widget():\n    pass\n' });
    works.push(gadgets);
    await gitOk(gadgets.work.path, ['checkout', '-q', '-b', 'faster']);
    await commitFiles(gadgets.work.path, { 'gadget.py': 'def find_widget():\n    return 1\n' }, 'Faster widgets');
    await gitOk(gadgets.work.path, ['push', '-q', gadgets.remote, 'faster']);
    expect((await api(server, 'POST', '/repos/bob/gadgets/pulls', { token: bob.token, body: { title: 'Make widgets faster', head: 'faster', base: 'main' } })).status).toBe(201);
    expect((await api(server, 'POST', '/repos/alice/widget-shop/issues', { token: alice.token, body: { title: 'Widget <img src=x onerror=alert(1)> broken' } })).status).toBe(201);
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    for (const w of works) await w.work.remove();
    await server?.close();
  });

  it('the header box searches everything; code results link to the line', async () => {
    const page = await openPage(browser, contexts);
    await signInAs(page, server.url, bob);
    await shot(page, '01-dashboard-activity');
    expect(await textOf(page, '.activity')).toContain('bob opened pull request #1 Make widgets faster in bob/gadgets');
    expect(await textOf(page, '.activity')).toContain('bob created branch main in bob/gadgets');
    expect(await textOf(page, '.activity')).not.toContain('alice');

    await page.fill('#header-search-q', 'findWidget');
    await Promise.all([page.waitForURL(/\/search\?q=findWidget/), page.press('#header-search-q', 'Enter')]);
    // No type asked for: the first tab with results (code) is shown.
    expect(await textOf(page, '.search-tab.active')).toContain('Code');
    const files = await page.$$eval('.search-file-path', (els) => els.map((e) => e.textContent));
    expect(files).toEqual(['src/app.ts']);
    expect(await page.content()).not.toContain('vault');
    // User text is escaped and highlighted, never markup.
    expect(await page.$$eval('.search-line.is-match mark', (els) => els.map((e) => e.textContent))).toContain('findWidget');
    expect(await textOf(page, '.search-file')).toContain("const html = '<script>alert(1)</script> findWidget';");
    expect(await page.$('.search-file script')).toBeNull();
    await shot(page, '02-search-code');

    await Promise.all([page.waitForURL(/\/alice\/widget-shop\/blob\/main\/src\/app\.ts#L4$/), page.click('.search-line.is-match .search-num a >> nth=0')]);
    expect(await page.$('#L4')).not.toBeNull();
    await shot(page, '03-blob-from-result');

    await page.goto(`${server.url}/search?q=widget&type=issues`);
    const titles = await page.$$eval('.pull-title-link', (els) => els.map((e) => e.textContent));
    expect(titles.sort()).toEqual(['Make widgets faster', 'Widget <img src=x onerror=alert(1)> broken']);
    expect(await page.$('.pull-list img')).toBeNull();
    await shot(page, '04-search-issues');

    await page.goto(`${server.url}/search?q=widget&type=repositories`);
    expect(await page.$$eval('.repo-list .repo-name', (els) => els.map((e) => e.textContent))).toEqual(['widget-shop']);
    expect(await textOf(page, '.repo-list')).toContain('Sells <b>widgets</b> of every kind');
  });

  it('inside a repository the box searches that repository, with a ref', async () => {
    const page = await openPage(browser, contexts);
    await signInAs(page, server.url, bob);
    await page.goto(`${server.url}/bob/gadgets`);
    expect(await page.getAttribute('#header-search-q', 'placeholder')).toBe('Search this repository');
    await page.fill('#header-search-q', 'return');
    await Promise.all([page.waitForURL(/\/bob\/gadgets\/search\?q=return/), page.press('#header-search-q', 'Enter')]);
    expect(await textOf(page, '.search-main')).toContain('No code matched');
    await page.goto(`${server.url}/bob/gadgets/search?q=return&type=code&ref=faster`);
    expect(await page.$$eval('.search-file-path', (els) => els.map((e) => e.textContent))).toEqual(['gadget.py']);
    expect(await page.getAttribute('.search-file-path', 'href')).toBe('/bob/gadgets/blob/faster/gadget.py#L2');
    await shot(page, '05-repo-search-ref');
    // A malformed query is explained, not a server error.
    const res = await page.goto(`${server.url}/bob/gadgets/search?q=${encodeURIComponent('language:klingon x')}`);
    expect(res?.status()).toBe(422);
    expect(await textOf(page, '.search-error')).toContain('unknown language');
  });

  it('Explore lists what the viewer can read, sortable, and reads well on a phone', async () => {
    const page = await openPage(browser, contexts);
    await signInAs(page, server.url, bob);
    await Promise.all([page.waitForURL(`${server.url}/explore`), page.click('.topnav a[href="/explore"]')]);
    const names = await page.$$eval('.repo-list .repo-link', (els) => els.map((e) => (e.textContent ?? '').replace(/\s+/g, '')));
    expect(names.sort()).toEqual(['alice/widget-shop', 'bob/gadgets']);
    await shot(page, '06-explore');
    await page.click('.explore-sort >> text=Name');
    expect(await page.$$eval('.repo-list .repo-name', (els) => els.map((e) => e.textContent))).toEqual(['gadgets', 'widget-shop']);

    const alicePage = await openPage(browser, contexts);
    await signInAs(alicePage, server.url, alice);
    await alicePage.goto(`${server.url}/explore`);
    expect(await textOf(alicePage, '.repo-list')).toContain('vault');

    const phone = await openPage(browser, contexts, { mobile: true });
    await signInAs(phone, server.url, bob);
    await phone.goto(`${server.url}/search?q=findWidget`);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(phone, '07-phone-search');
    await phone.goto(`${server.url}/explore`);
    await shot(phone, '08-phone-explore');
    await phone.goto(`${server.url}/`);
    await shot(phone, '09-phone-dashboard');
    const anon = await openPage(browser, contexts, { mobile: true });
    await anon.goto(`${server.url}/explore`);
    expect(await textOf(anon, '.repo-list')).not.toContain('vault');
    await shot(anon, '10-phone-explore-anonymous');
  });
});
