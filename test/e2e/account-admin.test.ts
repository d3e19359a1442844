import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, openPage, signInAs, textOf } from '../helpers/browser.ts';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { tempDir } from '../helpers/git.ts';
import { pngImage } from '../helpers/images.ts';
import { claimJob, enqueueJob, failJobAttempt } from '../../src/services/jobs.ts';

const skipReason = browserUnavailableReason();
if (skipReason) console.warn(`skipping browser tests: ${skipReason}`);

const SHOTS = '/tmp/shots/accounts';

async function shot(page: Page, name: string): Promise<void> {
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

/** User settings and site administration in Chromium (issue 18), desktop and phone widths. */
describe.skipIf(!!skipReason)(`account settings and site administration in the browser${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: TestServer;
  let browser: Browser;
  let root: TestUser;
  let pia: TestUser;
  let files: { path: string; remove(): Promise<void> };
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    root = await createTestUser(server, { username: 'root', admin: true });
    pia = await createTestUser(server, { username: 'pia' });
    files = await tempDir('gitoku-avatar-');
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await files?.remove();
    await server?.close();
  });

  it('changes the password: a wrong old one is refused, then the other browser is signed out', async () => {
    const page = await openPage(browser, contexts);
    const other = await openPage(browser, contexts, { mobile: true });
    await signInAs(page, server.url, pia);
    await signInAs(other, server.url, pia);

    await page.click('.menu summary');
    await Promise.all([page.waitForURL(`${server.url}/-/settings/profile`), page.click('.menu-panel a:has-text("Settings")')]);
    await page.fill('#profile-name', 'Pia <Tester>');
    await page.fill('#profile-bio', 'Writes tests.\nLikes <script>alert(1)</script> strings.');
    await page.fill('#profile-blog', 'pia.example.org');
    await page.fill('#profile-location', 'Tallinn');
    await Promise.all([page.waitForURL(`${server.url}/-/settings/profile`), page.click('button:has-text("Update profile")')]);
    expect(await textOf(page, '.flash-success')).toBe('Profile updated.');
    await shot(page, '01-profile-settings');

    await page.click('.side-links a:has-text("Account")');
    await page.fill('#password-current', 'not-the-password');
    await page.fill('#password-new', 'brand-new-password');
    await page.fill('#password-confirm', 'brand-new-password');
    await page.click('#password button[type=submit]');
    expect(await textOf(page, '#password .form-alert')).toContain('Your current password is incorrect');
    await shot(page, '02-password-wrong');

    await page.fill('#password-current', pia.password);
    await page.fill('#password-new', 'brand-new-password');
    await page.fill('#password-confirm', 'brand-new-password');
    await Promise.all([page.waitForURL(`${server.url}/-/settings/account`), page.click('#password button[type=submit]')]);
    expect(await textOf(page, '.flash-success')).toBe('Password changed. 1 other session was signed out.');
    await shot(page, '03-password-changed');

    // The other browser (a phone) is signed out; this one is not.
    await other.goto(`${server.url}/-/settings/sessions`);
    expect(other.url()).toContain('/-/login');
    await page.goto(`${server.url}/-/settings/sessions`);
    expect(await page.locator('.session-item').count()).toBe(1);
    expect(await textOf(page, '.session-item')).toContain('This browser');
    await shot(page, '04-sessions');
    await signInAs(other, server.url, { username: 'pia', password: 'brand-new-password' });
    await other.goto(`${server.url}/-/settings/sessions`);
    expect(await other.locator('.session-item').count()).toBe(2);
    await shot(other, '05-sessions-phone');

    // The profile shows what was saved, escaped.
    await page.goto(`${server.url}/pia`);
    expect(await textOf(page, '.profile-full')).toBe('Pia <Tester>');
    expect(await textOf(page, '.profile-bio')).toContain('Likes <script>alert(1)</script> strings.');
    await shot(page, '06-profile-page');
  }, 90_000);

  it('uploads an avatar and shows it in the header; a non-image is refused', async () => {
    const page = await openPage(browser, contexts);
    await signInAs(page, server.url, { username: 'pia', password: 'brand-new-password' });
    await page.goto(`${server.url}/-/settings/avatar`);
    await shot(page, '07-avatar-generated');

    const bad = join(files.path, 'page.png');
    await writeFile(bad, '<html><script>alert(1)</script></html>');
    await page.setInputFiles('#avatar-file', bad);
    await page.click('button:has-text("Upload")');
    expect(await textOf(page, '.form-alert')).toContain('PNG, JPEG, GIF or WebP');

    const good = join(files.path, 'me.png');
    await writeFile(good, pngImage(160));
    await page.setInputFiles('#avatar-file', good);
    await Promise.all([page.waitForURL(`${server.url}/-/settings/avatar`), page.click('button:has-text("Upload")')]);
    expect(await textOf(page, '.flash-success')).toBe('Avatar updated.');
    const header = page.locator('.menu-trigger img.avatar');
    expect(await header.count()).toBe(1);
    const src = (await header.getAttribute('src'))!;
    expect(src).toMatch(/^\/-\/avatars\/u\/\d+\/[0-9a-f]{16}\.png$/);
    // The image really loaded (decoded, with its size).
    expect(await header.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(160);
    const me = (await api(server, 'GET', '/user', { token: pia.token })).json;
    expect(me.avatar_url).toBe(`${server.url}${src}`);
    await shot(page, '08-avatar-uploaded');
    await page.click('.menu summary');
    await shot(page, '09-avatar-in-menu');

    const phone = await openPage(browser, contexts, { mobile: true });
    await signInAs(phone, server.url, { username: 'pia', password: 'brand-new-password' });
    await phone.goto(`${server.url}/pia`);
    expect(await phone.locator('.profile img.avatar-xl').count()).toBe(1);
    await shot(phone, '10-profile-phone');
  }, 90_000);

  it('an administrator disables a user, who is signed out at once and cannot sign in', async () => {
    const victim = await openPage(browser, contexts);
    await signInAs(victim, server.url, { username: 'pia', password: 'brand-new-password' });

    const admin = await openPage(browser, contexts);
    await signInAs(admin, server.url, root);
    await admin.click('.menu summary');
    await Promise.all([admin.waitForURL(`${server.url}/-/admin`), admin.click('.menu-panel a:has-text("Site administration")')]);
    expect(await textOf(admin, '#server-config')).toContain('SQLite');
    await shot(admin, '11-admin-overview');

    await admin.click('.side-links a:has-text("Users")');
    await admin.fill('.admin-search input[name=q]', 'pi');
    await Promise.all([admin.waitForURL(/q=pi/), admin.press('.admin-search input[name=q]', 'Enter')]);
    expect(await admin.locator('.admin-item').count()).toBe(1);
    await shot(admin, '12-admin-users-search');
    await Promise.all([admin.waitForURL(`${server.url}/-/admin/users/pia`), admin.click('.admin-item a:has-text("Manage")')]);
    await shot(admin, '13-admin-user');
    await Promise.all([admin.waitForURL(`${server.url}/-/admin/users/pia`), admin.click('#toggle-suspension')]);
    expect(await textOf(admin, '.flash-success')).toContain('Suspended pia');
    expect(await textOf(admin, '#user-status')).toContain('Suspended');
    await shot(admin, '14-admin-user-suspended');

    await victim.goto(`${server.url}/-/settings/profile`);
    expect(victim.url()).toContain('/-/login');
    await victim.fill('#login-username', 'pia');
    await victim.fill('#login-password', 'brand-new-password');
    await victim.click('button[type=submit]');
    expect(await textOf(victim, '.form-alert')).toContain('This account is suspended');
    await shot(victim, '15-suspended-sign-in');

    // Demoting the last administrator is refused with a clear message.
    await admin.goto(`${server.url}/-/admin/users/root`);
    await admin.click('#toggle-admin');
    expect(await textOf(admin, '.form-alert')).toContain('last site administrator');
    await shot(admin, '16-last-admin');

    const phone = await openPage(browser, contexts, { mobile: true });
    await signInAs(phone, server.url, root);
    for (const [path, name] of [
      ['/-/admin', '17-overview-phone'],
      ['/-/admin/users', '18-users-phone'],
      ['/-/admin/users/pia', '19-user-phone'],
      ['/-/admin/jobs', '20-jobs-phone'],
      ['/-/admin/repos', '21-repos-phone'],
    ] as const) {
      await phone.goto(`${server.url}${path}`);
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, path).toBeLessThanOrEqual(0);
      await shot(phone, name);
    }
    // A failed job (with markup in its error) to retry.
    const job = await enqueueJob(server.app.db, { kind: 'webhook_delivery_test', repositoryId: null, payload: {}, maxAttempts: 1 });
    const claimed = await claimJob(server.app, 'e2e-owner', ['webhook_delivery_test'], 60_000);
    await failJobAttempt(server.app.db, claimed!, 'e2e-owner', 'connect ECONNREFUSED 10.0.0.1:443 <img src=x onerror=alert(1)>', false);
    await admin.goto(`${server.url}/-/admin/jobs`);
    expect(await textOf(admin, `[data-job="${job.id}"]`)).toContain('<img src=x onerror=alert(1)>');
    await shot(admin, '22-jobs');
    await Promise.all([admin.waitForURL(/status=queued/), admin.click(`[data-job="${job.id}"] button:has-text("Retry")`)]);
    expect(await textOf(admin, '.flash-success')).toBe(`Job #${job.id} is queued again.`);
    await shot(admin, '22b-jobs-retried');
    await phone.goto(`${server.url}/-/admin/jobs?status=queued`);
    expect(await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
    await shot(phone, '22c-jobs-phone');
    expect((await api(server, 'POST', '/user/repos', { token: root.token, body: { name: 'infra', private: true } })).status).toBe(201);
    await admin.goto(`${server.url}/-/admin/repos`);
    expect(await textOf(admin, '[data-repo="root/infra"]')).toContain('Private');
    await shot(admin, '23-repos');
  }, 120_000);
});
