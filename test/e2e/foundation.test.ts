import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, screenshot, signInAs, openPage, textOf } from '../helpers/browser.ts';
import { createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { createRepository } from '../../src/services/repositories.ts';
import { findUserByName } from '../../src/services/users.ts';

const skipReason = browserUnavailableReason();
if (skipReason) console.warn(`skipping browser tests: ${skipReason}`);

const README = `# Hello, gitoku

A small project used by the **end-to-end** test.

## Features

- Server-rendered pages
- [x] Task lists
- [ ] Done later

| Column | Value |
|:-------|------:|
| speed  |  fast |
| build  |  none |

\`\`\`ts
export const greeting = (name: string) => \`hello \${name}\`;
\`\`\`

> Quote: keep it simple.
`;

const EVIL_README = `# Totally normal

<script>window.__pwned = 'script'; alert('readme')</script>

<img src="x" onerror="window.__pwned = 'img'; alert('img')">

[click me](javascript:alert(1)) and [also](JAVASCRIPT:alert(2)) and <a href="javascript:alert(3)">raw</a>

<div onmouseover="alert(4)" style="position:fixed">hover</div>
`;

describe.skipIf(!!skipReason)(`web UI foundation${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: TestServer;
  let browser: Browser;
  let alice: TestUser;
  let bob: TestUser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    alice = await createTestUser(server, { username: 'alice' });
    bob = await createTestUser(server, { username: 'bob' });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.close();
  });

  const newPage = (opts: { mobile?: boolean } = {}) => openPage(browser, contexts, { ...opts, height: 860 });

  const signIn = (page: Page, user: TestUser) => signInAs(page, server.url, user);

  const text = textOf;

  it('signs in, creates a repository, pushes to it and shows files and README', async () => {
    const page = await newPage();
    await page.goto(server.url);
    expect(await page.title()).toBe('gitoku');
    await screenshot(page, '01-landing');

    await signIn(page, alice);
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'gitoku_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: false, path: '/' });
    expect(cookies.find((c) => c.name === 'gitoku_csrf')).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    expect(await text(page, 'main')).toContain("You don't have any repositories yet");
    await screenshot(page, '02-dashboard-empty');

    await page.click('.section-head a:has-text("New repository")');
    await page.waitForURL(`${server.url}/-/new`);
    // A bad name comes back as a 422 with the input kept.
    await page.fill('#repo-name', 'bad name!');
    await page.fill('#repo-description', 'kept description');
    await page.$eval('form[action="/-/new"]', (f) => f.setAttribute('novalidate', ''));
    const [bad] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/-/new') && r.request().method() === 'POST'), page.click('button:has-text("Create repository")')]);
    expect(bad.status()).toBe(422);
    expect(await text(page, '.form-alert')).toContain('Repository name may only contain');
    expect(await page.inputValue('#repo-description')).toBe('kept description');
    expect(await page.getAttribute('#repo-name', 'aria-invalid')).toBe('true');
    await screenshot(page, '03-new-repo-error');

    await page.fill('#repo-name', 'hello-world');
    await page.fill('#repo-description', 'A tiny demo project');
    await Promise.all([page.waitForURL(`${server.url}/alice/hello-world`), page.click('button:has-text("Create repository")')]);
    expect(await text(page, '.flash')).toContain('Repository alice/hello-world created');
    expect(await text(page, '.quick-setup')).toContain('Quick setup');
    const cloneUrl = `${server.url}/alice/hello-world.git`;
    expect(await page.inputValue('#clone-url')).toBe(cloneUrl);
    expect(await text(page, '#setup-existing')).toBe(`git remote add origin ${cloneUrl} git branch -M main git push -u origin main`);
    expect(await text(page, '#setup-new')).toContain('git init');
    await screenshot(page, '04-repo-empty');

    const work = await tempDir();
    try {
      await initWorkRepo(work.path, {
        'README.md': README,
        'src/index.ts': 'export const answer = 42;\n',
        'docs/guide.md': '# Guide\n',
        '.gitignore': 'node_modules/\n',
        'package.json': '{ "name": "hello-world" }\n',
      });
      await gitOk(work.path, ['push', authUrl(server.url, 'alice/hello-world.git', alice.username, alice.token), 'main']);
    } finally {
      await work.remove();
    }

    await page.reload();
    const files = await page.$$eval('.file-list .file-name', (els) => els.map((e) => e.textContent?.trim()));
    expect(files).toEqual(['docs', 'src', '.gitignore', 'package.json', 'README.md']);
    expect(await page.getAttribute('.file-list a.file-name:has-text("README.md")', 'href')).toBe('/alice/hello-world/blob/main/README.md');
    expect(await text(page, '.markdown-body h1')).toBe('Hello, gitoku');
    expect(await page.$$eval('.markdown-body table td', (els) => els.length)).toBe(4);
    expect(await page.$$eval('.markdown-body pre code.language-ts', (els) => els.length)).toBe(1);
    expect(await text(page, '.commit-bar')).toContain('Initial commit');
    expect(await text(page, '.repo-side')).toContain('A tiny demo project');
    await screenshot(page, '05-repo-home');

    await page.goto(server.url);
    await page.click('.menu summary');
    await screenshot(page, '05b-dashboard-menu-open');
    await page.goto(`${server.url}/alice`);
    expect(await text(page, '.repo-list')).toContain('hello-world');
    await screenshot(page, '05c-profile');

    // The clone URL pasted into the address bar lands on the repository page.
    await page.goto(cloneUrl);
    expect(page.url()).toBe(`${server.url}/alice/hello-world`);

    const mobile = await newPage({ mobile: true });
    await signIn(mobile, alice);
    await mobile.goto(`${server.url}/alice/hello-world`);
    const overflow = await mobile.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(mobile, '06-repo-home-mobile');
    await mobile.goto(server.url);
    await screenshot(mobile, '07-dashboard-mobile');
  }, 90_000);

  it('creates a personal access token, shows it once, and revokes it', async () => {
    const page = await newPage();
    await signIn(page, alice);
    await page.goto(`${server.url}/-/settings/tokens`);
    await page.fill('#token-name', 'laptop');
    await page.fill('#token-expiry', '30');
    await Promise.all([page.waitForURL(`${server.url}/-/settings/tokens`), page.click('button:has-text("Generate token")')]);
    const token = await page.inputValue('#new-token-value');
    expect(token).toMatch(/^gtk_[A-Za-z0-9]{40}$/);
    expect(await text(page, 'main')).toContain("won't be shown again");
    await screenshot(page, '08-token-created');

    const res = await fetch(`${server.url}/api/v1/user`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { login: string }).login).toBe('alice');

    await page.goto(`${server.url}/-/settings/tokens`);
    const html = await page.content();
    expect(html).not.toContain(token);
    const item = page.locator('.token-item', { hasText: 'laptop' });
    expect(await item.count()).toBe(1);
    const itemText = ((await item.textContent()) ?? '').replace(/\s+/g, ' ');
    expect(itemText).toContain('repo');
    expect(itemText).toContain(`…${token.slice(-8)}`);
    expect(itemText).toMatch(/Last used\s*(just now|\d+ (second|minute)s? ago)/);
    expect(itemText).toMatch(/Expires\s*\w{3} \d+, \d{4}/);
    await screenshot(page, '09-tokens');

    // Revoking asks first.
    await Promise.all([page.waitForURL(/\/revoke$/), item.locator('button:has-text("Revoke")').click()]);
    await Promise.all([page.waitForURL(`${server.url}/-/settings/tokens`), page.click('#confirm-submit')]);
    expect(await text(page, '.flash')).toContain('Token revoked');
    expect(await page.locator('.token-item', { hasText: 'laptop' }).count()).toBe(0);
    const after = await fetch(`${server.url}/api/v1/user`, { headers: { Authorization: `Bearer ${token}` } });
    expect(after.status).toBe(401);
  }, 60_000);

  it('manages settings and collaborators, and deletes a repository after confirmation', async () => {
    const page = await newPage();
    await signIn(page, alice);
    await page.goto(`${server.url}/alice/hello-world/settings`);
    expect(await page.$$eval('#settings-branch option', (els) => els.map((e) => e.textContent))).toEqual(['main']);
    await page.fill('#settings-description', 'Now with settings');
    await Promise.all([page.waitForURL(`${server.url}/alice/hello-world/settings`), page.click('button:has-text("Save changes")')]);
    expect(await text(page, '.flash')).toContain('Settings saved');
    expect(await page.inputValue('#settings-description')).toBe('Now with settings');

    // Unknown users are a form error, not a 404 page.
    await page.fill('#collab-username', 'nobody-here');
    const [unknown] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/settings/collaborators')), page.click('#collaborators button:has-text("Add")')]);
    expect(unknown.status()).toBe(422);
    expect(await text(page, '#collaborators .form-alert')).toContain('User "nobody-here" not found');
    expect(await page.inputValue('#collab-username')).toBe('nobody-here');

    await page.fill('#collab-username', 'bob');
    await page.selectOption('#collab-role', 'read');
    await Promise.all([page.waitForURL(/\/settings(#collaborators)?$/), page.click('#collaborators button:has-text("Add")')]);
    expect(await text(page, '.flash')).toContain('Added bob as a collaborator (read)');
    const bobRow = page.locator('.person', { hasText: 'bob' });
    expect(await bobRow.locator('select').inputValue()).toBe('read');
    await screenshot(page, '10-settings');

    // bob (read) can see the repository but not its settings (403), until he is made admin.
    const bobPage = await newPage();
    await signIn(bobPage, bob);
    const settingsAsReader = await bobPage.goto(`${server.url}/alice/hello-world/settings`);
    expect(settingsAsReader!.status()).toBe(403);
    await screenshot(bobPage, '11-forbidden');

    await bobRow.locator('select').selectOption('admin');
    await Promise.all([page.waitForURL(/\/settings(#collaborators)?$/), bobRow.locator('button:has-text("Update")').click()]);
    expect(await text(page, '.flash')).toContain('bob now has admin access');
    expect((await bobPage.goto(`${server.url}/alice/hello-world/settings`))!.status()).toBe(200);

    await Promise.all([page.waitForURL(/\/remove$/), page.locator('.person', { hasText: 'bob' }).locator('button:has-text("Remove")').click()]);
    await Promise.all([page.waitForURL(/\/settings(#collaborators)?$/), page.click('#confirm-submit')]);
    expect(await text(page, '.flash')).toContain('Removed bob');
    expect(await page.locator('.person', { hasText: 'bob' }).count()).toBe(0);

    // Deleting needs the exact name.
    await page.fill('#delete-confirm', 'alice/hello');
    const [wrong] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/settings/delete')), page.click('button:has-text("Delete this repository")')]);
    expect(wrong.status()).toBe(422);
    expect(await text(page, '#danger .form-alert')).toContain('type alice/hello-world exactly');
    await screenshot(page, '12-settings-delete-error');
    await page.fill('#delete-confirm', 'alice/hello-world');
    await Promise.all([page.waitForURL(`${server.url}/`), page.click('button:has-text("Delete this repository")')]);
    expect(await text(page, '.flash')).toContain('Repository alice/hello-world deleted');
    expect((await page.goto(`${server.url}/alice/hello-world`))!.status()).toBe(404);
  }, 90_000);

  it('signs up a new account and signs out; signup errors keep the input', async () => {
    const page = await newPage();
    await page.goto(`${server.url}/-/signup`);
    await screenshot(page, '13-signup');
    await page.fill('#signup-username', 'alice');
    await page.fill('#signup-email', 'carol@example.com');
    await page.fill('#signup-password', 'long-enough-password');
    const [taken] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/-/signup') && r.request().method() === 'POST'), page.click('button:has-text("Create account")')]);
    expect(taken.status()).toBe(422);
    expect(await text(page, '.form-alert')).toContain('Username "alice" is already taken');
    expect(await page.inputValue('#signup-email')).toBe('carol@example.com');

    await page.fill('#signup-username', 'carol');
    await page.fill('#signup-password', 'long-enough-password');
    await Promise.all([page.waitForURL(`${server.url}/`), page.click('button:has-text("Create account")')]);
    expect(await text(page, '.flash')).toContain('Welcome to gitoku, carol!');
    expect(await findUserByName(server.app.db, 'carol')).toBeTruthy();

    await page.click('.menu summary');
    await Promise.all([page.waitForURL(`${server.url}/`), page.click('button:has-text("Sign out")')]);
    expect(await text(page, '.flash')).toContain('You have signed out');
    expect(await page.locator('.topbar a:has-text("Sign in")').count()).toBe(1);
    expect((await page.context().cookies()).find((c) => c.name === 'gitoku_session')).toBeUndefined();
  }, 60_000);

  it('shows the same error for a wrong password and an unknown user', async () => {
    const page = await newPage();
    await page.goto(`${server.url}/-/login`);
    await page.fill('#login-username', 'alice');
    await page.fill('#login-password', 'wrong-password');
    const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/-/login') && r.request().method() === 'POST'), page.click('button[type=submit]')]);
    expect(res.status()).toBe(401);
    const wrongPassword = await text(page, '.form-alert');
    expect(wrongPassword).toBe('Incorrect username or password.');
    expect(await page.inputValue('#login-username')).toBe('alice');
    await screenshot(page, '14-login-error');

    await page.fill('#login-username', 'no-such-user');
    await page.fill('#login-password', 'wrong-password');
    await Promise.all([page.waitForResponse((r) => r.url().endsWith('/-/login') && r.request().method() === 'POST'), page.click('button[type=submit]')]);
    expect(await text(page, '.form-alert')).toBe(wrongPassword);
  }, 60_000);

  it('refuses form posts without a valid CSRF token (403)', async () => {
    // No cookie, no token.
    const bare = await fetch(`${server.url}/-/login`, { method: 'POST', body: new URLSearchParams({ username: 'alice', password: alice.password }), redirect: 'manual' });
    expect(bare.status).toBe(403);
    expect(await bare.text()).toContain('Access denied');

    // A signed-in browser posting without the field, or with a token minted for another browser.
    const page = await newPage();
    await signIn(page, alice);
    const other = await fetch(`${server.url}/-/login`);
    const foreignToken = /name="_csrf" value="([0-9a-f]+)"/.exec(await other.text())![1]!;
    const missing = await page.context().request.post(`${server.url}/-/new`, { form: { name: 'csrf-victim' }, maxRedirects: 0 });
    expect(missing.status()).toBe(403);
    const foreign = await page.context().request.post(`${server.url}/-/new`, { form: { name: 'csrf-victim', _csrf: foreignToken }, maxRedirects: 0 });
    expect(foreign.status()).toBe(403);
    const json = await page.context().request.post(`${server.url}/-/new`, { data: { name: 'csrf-victim', _csrf: foreignToken }, maxRedirects: 0 });
    expect(json.status()).toBe(403);
    expect((await page.context().request.get(`${server.url}/alice/csrf-victim`)).status()).toBe(404);

    // The page's own token works.
    await page.goto(`${server.url}/-/new`);
    const own = await page.inputValue('input[name=_csrf]');
    const ok = await page.context().request.post(`${server.url}/-/new`, { form: { name: 'csrf-ok', _csrf: own }, maxRedirects: 0 });
    expect(ok.status()).toBe(303);
    expect(ok.headers().location).toBe('/alice/csrf-ok');

    await page.setContent('<p>placeholder</p>');
    await page.goto(`${server.url}/`);
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/-/logout')),
      page.$eval('form[action="/-/logout"] input[name=_csrf]', (input) => {
        const field = input as unknown as { value: string; form: { submit(): void } };
        field.value = 'forged';
        field.form.submit();
      }),
    ]);
    expect(refused.status()).toBe(403);
    await page.waitForLoadState();
    await screenshot(page, '15-csrf-403');
  }, 60_000);

  it('hides private repositories (404) from other users and anonymous visitors', async () => {
    const owner = (await findUserByName(server.app.db, 'alice'))!;
    await createRepository(server.app, owner, { name: 'secret-plans', description: 'top secret', isPrivate: true, autoInit: true });

    const alicePage = await newPage();
    await signIn(alicePage, alice);
    expect((await alicePage.goto(`${server.url}/alice/secret-plans`))!.status()).toBe(200);
    expect(await text(alicePage, '.repo-title')).toContain('Private');

    const bobPage = await newPage();
    await signIn(bobPage, bob);
    for (const path of ['/alice/secret-plans', '/alice/secret-plans/settings', '/alice/secret-plans.git']) {
      const res = await bobPage.goto(`${server.url}${path}`);
      expect(res!.status(), path).toBe(404);
      expect(await bobPage.content()).not.toContain('top secret');
    }
    await screenshot(bobPage, '16-not-found');
    await bobPage.goto(`${server.url}/alice`);
    expect(await bobPage.content()).not.toContain('secret-plans');

    const anon = await newPage();
    const res = await anon.goto(`${server.url}/alice/secret-plans`);
    expect(res!.status()).toBe(404);
    const settings = await anon.goto(`${server.url}/alice/secret-plans/settings`);
    expect(settings!.status()).toBe(404);
    await anon.goto(server.url);
    expect(await anon.content()).not.toContain('secret-plans');
  }, 60_000);

  it('renders hostile descriptions and READMEs inert', async () => {
    const owner = (await findUserByName(server.app.db, 'alice'))!;
    const hostile = `<script>window.__pwned='desc'</script><img src=x onerror="window.__pwned='desc-img'">`;
    await createRepository(server.app, owner, { name: 'xss', description: hostile });
    const work = await tempDir();
    try {
      await initWorkRepo(work.path, { 'README.md': EVIL_README });
      await gitOk(work.path, ['push', authUrl(server.url, 'alice/xss.git', alice.username, alice.token), 'main']);
    } finally {
      await work.remove();
    }

    const html = await (await fetch(`${server.url}/alice/xss`)).text();
    const readme = /<article class="markdown-body">([\s\S]*?)<\/article>/.exec(html)![1]!;
    expect(readme).toContain('<h1>Totally normal</h1>');
    expect(readme).not.toMatch(/<script/i);
    expect(readme).not.toMatch(/\bon[a-z]+\s*=/i);
    expect(readme).not.toMatch(/javascript:/i);
    expect(readme).not.toMatch(/style=/i);
    expect(readme).toContain('click me');
    // The description is text, escaped wherever it appears.
    expect(html).not.toContain('<script>window.__pwned');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;script&gt;window.__pwned=&#39;desc&#39;&lt;/script&gt;');
    expect(html.match(/<script\b/g)).toHaveLength(1); // only the site's own /-/static/gitoku.js

    const page = await newPage();
    await page.goto(`${server.url}/alice/xss`);
    await page.hover('.markdown-body');
    expect(await page.evaluate('window.__pwned ?? null')).toBeNull();
    expect(await page.$$eval('.markdown-body a', (els) => els.map((a) => a.getAttribute('href')).filter((h) => h && /^\s*javascript/i.test(h)))).toEqual([]);
    await screenshot(page, '17-xss-inert');

    // Landing page lists it without running anything either.
    await page.goto(server.url);
    expect(await page.evaluate('window.__pwned ?? null')).toBeNull();
    await screenshot(page, '18-landing-with-repos');
  }, 60_000);

  it('tells visitors when sign-up is disabled', async () => {
    const closed = await startTestServer('sqlite', { GITOKU_SIGNUP_ENABLED: 'false' });
    try {
      const page = await newPage();
      await page.goto(`${closed.url}/-/signup`);
      expect(await text(page, 'main')).toContain('Sign-up is disabled');
      expect(await page.locator('#signup-username').count()).toBe(0);
      await page.goto(`${closed.url}/-/login`);
      expect(await text(page, 'main')).toContain('Accounts are created by the administrator');
      expect(await page.locator('.topbar a:has-text("Sign up")').count()).toBe(0);
      // A crafted post is refused too (with a valid CSRF token).
      const token = await page.inputValue('input[name=_csrf]');
      const res = await page.context().request.post(`${closed.url}/-/signup`, { form: { _csrf: token, username: 'mallory', password: 'long-enough-password' }, maxRedirects: 0 });
      expect(res.status()).toBe(403);
      expect(await findUserByName(closed.app.db, 'mallory')).toBeUndefined();
    } finally {
      await closed.close();
    }
  }, 60_000);
});
