import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import { createHmac } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, openPage, signInAs, textOf } from '../helpers/browser.ts';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhookReceiver.ts';

const skipReason = browserUnavailableReason();
if (skipReason) console.warn(`skipping browser tests: ${skipReason}`);

const SHOTS = '/tmp/shots/webhooks';
const SECRET = 'e2e-secret-value';

async function shot(page: Page, name: string): Promise<void> {
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

/** Reloads until `selector` shows up (deliveries arrive asynchronously). */
async function reloadUntil(page: Page, selector: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await page.locator(selector).count()) > 0) return;
    if (Date.now() > deadline) throw new Error(`${selector} did not appear`);
    await page.waitForTimeout(300);
    await page.reload();
  }
}

describe.skipIf(!!skipReason)(`webhooks in the browser${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  let browser: Browser;
  let owner: TestUser;
  let admin: TestUser;
  let work: { path: string; remove(): Promise<void> };
  let remote: string;
  let hookPath = '';
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    server = await startTestServer('sqlite', { GITOKU_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' });
    owner = await createTestUser(server);
    admin = await createTestUser(server, { admin: true, scopes: ['repo', 'admin'] });
    expect((await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'site' } })).status).toBe(201);
    work = await tempDir();
    await initWorkRepo(work.path, { 'README.md': '# site\n' });
    remote = authUrl(server.url, `${owner.username}/site.git`, owner.username, owner.token);
    await gitOk(work.path, ['push', '-q', remote, 'main']);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await work?.remove();
    await server?.close();
    await receiver?.close();
  });

  it('adds a webhook from the settings, shows its deliveries and redelivers one', async () => {
    const page = await openPage(browser, contexts);
    await signInAs(page, server.url, owner);
    await page.goto(`${server.url}/${owner.username}/site/settings`);
    await Promise.all([page.waitForURL(/\/settings\/hooks$/), page.click('.settings-nav a:has-text("Webhooks")')]);
    expect(await textOf(page, '.empty-state')).toContain('No webhooks yet');
    await shot(page, '01-empty');

    // An internal address is refused with a clear message, and the form keeps what was typed.
    await page.click('a:has-text("Add webhook")');
    await page.fill('#hook-url', 'http://10.0.0.1/hook');
    await page.click('button:has-text("Add webhook")');
    expect(await textOf(page, '.form-alert')).toMatch(/private network address.*GITOKU_WEBHOOK_ALLOW_PRIVATE/);
    expect(await page.inputValue('#hook-url')).toBe('http://10.0.0.1/hook');
    await shot(page, '02-refused');

    // The receiver answers with markup: the page must show it as text.
    receiver.reply('/ui', { status: 200, body: '<img src=x onerror="alert(1)">thanks' });
    await page.fill('#hook-url', `${receiver.url}/ui`);
    await page.fill('#hook-secret', SECRET);
    await page.check('input[name=mode][value=some]');
    await page.check('input[name=events][value=pull_request]');
    await page.click('button:has-text("Add webhook")');
    await page.waitForURL(/\/settings\/hooks\/\d+/);
    hookPath = new URL(page.url()).pathname;
    expect(await textOf(page, '.flash')).toContain('Webhook added');
    expect(await page.content()).not.toContain(SECRET);
    await reloadUntil(page, '.delivery-ok');
    await page.click('.delivery-ok summary');
    expect(await textOf(page, '.delivery-ok .delivery-body')).toContain('<img src=x onerror="alert(1)">thanks');
    expect(await textOf(page, '.delivery-ok .delivery-event')).toBe('ping');
    await shot(page, '03-ping-delivered');

    // A real push arrives as a delivery with its request and response.
    await commitFiles(work.path, { 'index.html': '<h1>hi</h1>\n' }, 'Add the index');
    await gitOk(work.path, ['push', '-q', remote, 'main']);
    const push = await receiver.waitFor((r) => r.path === '/ui' && r.headers['x-github-event'] === 'push');
    expect(push.headers['x-hub-signature-256']).toBe(`sha256=${createHmac('sha256', SECRET).update(push.body).digest('hex')}`);
    await reloadUntil(page, '.delivery-ok .delivery-event:has-text("push")');
    const pushItem = page.locator('details.delivery', { has: page.locator('.delivery-event:has-text("push")') }).first();
    await pushItem.locator('summary').click();
    const body = (await pushItem.locator('.delivery-body').textContent()) ?? '';
    expect(body).toContain('X-GitHub-Event: push');
    expect(body).toContain('"ref": "refs/heads/main"');
    expect(body).toContain('Add the index');
    expect(await pushItem.locator('.delivery-code').first().textContent()).toBe('200');
    await shot(page, '04-push-delivery');

    // Redeliver: a new delivery with the same guid reaches the receiver.
    const guid = push.headers['x-github-delivery'];
    const before = receiver.received.length;
    await Promise.all([page.waitForURL(/delivery=\d+/), pushItem.locator('button:has-text("Redeliver")').click()]);
    const again = await receiver.waitFor((r) => receiver.received.indexOf(r) >= before && r.headers['x-github-delivery'] === guid);
    expect(again.headers['x-github-event']).toBe('push');
    await reloadUntil(page, 'details.delivery[open] .badge:has-text("redelivery")');
    expect(await textOf(page, 'details.delivery[open] .delivery-guid')).toBe(guid);
    await shot(page, '05-redelivered');
  });

  it('lists, edits and deletes the hook; a phone can read it', async () => {
    const page = await openPage(browser, contexts);
    await signInAs(page, server.url, owner);
    await page.goto(`${server.url}${hookPath}`);
    await page.uncheck('input[name=active]');
    await page.click('button:has-text("Update webhook")');
    expect(await textOf(page, '.flash')).toContain('Webhook updated');
    await page.goto(`${server.url}/${owner.username}/site/settings/hooks`);
    expect(await textOf(page, '.hook-item')).toContain(`${receiver.url}/ui`);
    expect(await textOf(page, '.hook-item .badge')).toBe('Inactive');
    expect(await textOf(page, '.hook-events')).toContain('push, pull_request');
    await shot(page, '06-list');

    const phone = await openPage(browser, contexts, { mobile: true });
    await signInAs(phone, server.url, owner);
    await phone.goto(`${server.url}${hookPath}`);
    await phone.click('details.delivery summary >> nth=0');
    await shot(phone, '07-phone');
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(1);

    await page.goto(`${server.url}${hookPath}`);
    await page.click('button:has-text("Delete webhook")');
    await page.waitForURL(/\/settings\/hooks$/);
    expect(await textOf(page, '.flash')).toContain('Webhook deleted');
    expect(await page.locator('.hook-item').count()).toBe(0);
  });

  it('keeps the pages to repository admins and server-wide hooks to site administrators', async () => {
    const page = await openPage(browser, contexts);
    await signInAs(page, server.url, owner);
    const res = await page.goto(`${server.url}/-/admin/hooks`);
    expect(res?.status()).toBe(403);

    const adminPage = await openPage(browser, contexts);
    await signInAs(adminPage, server.url, admin);
    await adminPage.goto(`${server.url}/-/admin/hooks`);
    expect(await textOf(adminPage, 'h2')).toContain('Server-wide webhooks');
    await adminPage.click('a:has-text("Add webhook")');
    await adminPage.fill('#hook-url', `${receiver.url}/global-ui`);
    await adminPage.check('input[name=mode][value=all]');
    await adminPage.click('button:has-text("Add webhook")');
    await adminPage.waitForURL(/\/-\/admin\/hooks\/\d+/);
    await reloadUntil(adminPage, '.delivery-ok');
    await adminPage.goto(`${server.url}/-/admin/hooks`);
    expect(await textOf(adminPage, '.hook-events')).toContain('All events');
    await shot(adminPage, '08-admin');

    const stranger = await createTestUser(server);
    const strangerPage = await openPage(browser, contexts);
    await signInAs(strangerPage, server.url, stranger);
    expect((await strangerPage.goto(`${server.url}/${owner.username}/site/settings/hooks`))?.status()).toBe(403);
  });
});
