import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, openPage, signInAs, textOf } from '../helpers/browser.ts';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitOk, initWorkRepo, lsRemote, tempDir } from '../helpers/git.ts';

const exec = promisify(execFile);
const SHOTS = process.env.GITOKU_SHOTS_DIR ?? '/tmp/shots/releases';

const skipReason = browserUnavailableReason();
if (skipReason) console.warn(`skipping browser tests: ${skipReason}`);

const NOTES = `## What's new

- A **faster** parser
- Fixed [#12](https://example.com/12)

<script>window.__pwned = 'notes'</script>
<img src=x onerror="window.__pwned = 'img'">
`;

async function shot(page: Page, name: string): Promise<void> {
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

describe.skipIf(!!skipReason)(`releases in the browser${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: TestServer;
  let browser: Browser;
  let alice: TestUser;
  let bob: TestUser;
  let work: { path: string; remove(): Promise<void> };
  let files: { path: string; remove(): Promise<void> };
  const contexts: BrowserContext[] = [];
  const repo = () => `${server.url}/alice/tool`;
  const pwned = (page: Page) => page.evaluate('window.__pwned ?? null');

  beforeAll(async () => {
    server = await startTestServer('sqlite', { GITOKU_RELEASE_ASSET_MAX_BYTES: String(512 * 1024) }, { dispatcher: false });
    alice = await createTestUser(server, { username: 'alice' });
    bob = await createTestUser(server, { username: 'bob' });
    browser = await launchBrowser();
    expect((await api(server, 'POST', '/user/repos', { token: alice.token, body: { name: 'tool', description: 'A command-line tool' } })).status).toBe(201);
    work = await tempDir();
    files = await tempDir('gitoku-release-files-');
    await initWorkRepo(work.path, { 'README.md': '# tool\n\nDoes things.\n', 'src/main.ts': 'console.log("tool");\n' });
    await gitOk(work.path, ['tag', 'v0.1.0']);
    await commitFiles(work.path, { 'src/main.ts': 'console.log("tool 1.0");\n' }, 'Version 1.0');
    await gitOk(work.path, ['push', '-q', authUrl(server.url, 'alice/tool.git', alice.username, alice.token), 'main', '--tags']);
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await work?.remove();
    await files?.remove();
    await server?.close();
  });

  it('creates a release with notes and an asset, lists it, and downloads the asset and a zip', async () => {
    const page = await openPage(browser, contexts, { height: 900 });
    await signInAs(page, server.url, alice);
    await page.goto(repo());
    expect(await page.getAttribute('#download-zip', 'href')).toBe('/alice/tool/archive/main.zip');
    await shot(page, '01-code-page-download-buttons');

    await page.click('#releases-link');
    await page.waitForURL(`${repo()}/releases`);
    expect(await textOf(page, '.empty-state')).toContain("There aren't any releases here");
    await shot(page, '02-releases-empty');

    await page.click('#new-release');
    await page.waitForURL(`${repo()}/releases/new`);
    await page.fill('#release-tag', 'v1.0.0');
    await page.selectOption('#release-target', 'main');
    await page.fill('#release-name', 'Tool 1.0 <b>bold</b>');
    await page.fill('#release-body', NOTES);
    await page.setInputFiles('#release-assets', [
      { name: 'tool-linux-x64.tar.gz', mimeType: 'application/gzip', buffer: Buffer.alloc(150_000, 7) },
      { name: 'checksums.txt', mimeType: 'text/plain', buffer: Buffer.from('abc123  tool-linux-x64.tar.gz\n') },
    ]);
    await shot(page, '03-new-release-form');
    await Promise.all([page.waitForURL(`${repo()}/releases/tag/v1.0.0`), page.click('#release-submit')]);
    expect(await textOf(page, '.flash')).toContain('Published Tool 1.0 <b>bold</b> with 2 files');
    expect(await textOf(page, '.release-title')).toBe('Tool 1.0 <b>bold</b>');
    expect(await page.$eval('.release-notes h2', (e) => e.textContent)).toBe("What's new");
    expect(await page.$eval('.release-notes strong', (e) => e.textContent)).toBe('faster');
    expect(await page.$$('.release-notes script')).toHaveLength(0);
    expect(await textOf(page, '.asset-list')).toContain('tool-linux-x64.tar.gz');
    expect(await textOf(page, '.asset-list')).toMatch(/146\.\d KB|147 KB|150 KB|146 KB/);
    expect(await textOf(page, '.release-head')).toContain('Latest');
    expect(await pwned(page)).toBeNull();
    await shot(page, '04-release-page');
    // The tag was created at main through the ingress.
    const main = (await gitOk(work.path, ['rev-parse', 'main'])).trim();
    expect(await lsRemote(work.path, authUrl(server.url, 'alice/tool.git', alice.username, alice.token))).toContain(`${main}\trefs/tags/v1.0.0`);

    // Download the asset.
    const [assetDownload] = await Promise.all([page.waitForEvent('download'), page.click('.asset-link:has-text("tool-linux-x64.tar.gz")')]);
    expect(assetDownload.suggestedFilename()).toBe('tool-linux-x64.tar.gz');
    const assetPath = join(files.path, 'asset.bin');
    await assetDownload.saveAs(assetPath);
    expect((await readFile(assetPath)).equals(Buffer.alloc(150_000, 7))).toBe(true);

    // Download the source as zip.
    const [zipDownload] = await Promise.all([page.waitForEvent('download'), page.click('.asset-link:has-text("Source code (zip)")')]);
    expect(zipDownload.suggestedFilename()).toBe('tool-v1.0.0.zip');
    const zipPath = join(files.path, 'source.zip');
    await zipDownload.saveAs(zipPath);
    const { stdout } = await exec('unzip', ['-Z1', zipPath]);
    expect(stdout.split('\n').filter(Boolean).sort()).toEqual(['tool-v1.0.0/', 'tool-v1.0.0/README.md', 'tool-v1.0.0/src/', 'tool-v1.0.0/src/main.ts']);

    // The list counts the download.
    await page.goto(`${repo()}/releases`);
    expect(await textOf(page, '.asset-row:has-text("tool-linux-x64.tar.gz")')).toContain('1 download');
    await shot(page, '05-releases-list');
  });

  it('saves a draft that readers do not see, reports an oversized file, and deletes with confirmation', async () => {
    const page = await openPage(browser, contexts, { height: 900 });
    await signInAs(page, server.url, alice);
    await page.goto(`${repo()}/releases/new?tag=v0.1.0`);
    expect(await page.inputValue('#release-tag')).toBe('v0.1.0');
    await page.fill('#release-name', 'Early preview');
    await page.check('#release-prerelease');
    await page.check('#release-draft');
    await page.setInputFiles('#release-assets', [{ name: 'too-big.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(600 * 1024, 1) }]);
    await Promise.all([page.waitForURL(/\/releases\/\d+\/edit$/), page.click('#release-submit')]);
    expect(await textOf(page, '.flash')).toContain('too-big.bin: Release assets are limited to 524288 bytes');
    await shot(page, '06-edit-after-oversized-file');

    await page.goto(`${repo()}/releases`);
    expect(await textOf(page, '.release-list')).toContain('Early preview');
    expect(await textOf(page, '.release-card:has-text("Early preview") .release-head')).toContain('Draft');
    await shot(page, '07-releases-with-draft');

    const readerPage = await openPage(browser, contexts, { height: 900 });
    await signInAs(readerPage, server.url, bob);
    await readerPage.goto(`${repo()}/releases`);
    expect(await textOf(readerPage, '.release-list')).not.toContain('Early preview');
    expect(await readerPage.$('#new-release')).toBeNull();

    // Tags: dates, archives, release links.
    await page.goto(`${repo()}/tags`);
    expect(await page.getAttribute('.tag-row:has-text("v1.0.0") a[href$=".tar.gz"]', 'href')).toBe('/alice/tool/archive/v1.0.0.tar.gz');
    expect(await textOf(page, '.tag-row:has-text("v1.0.0") .tag-release')).toBe('Tool 1.0 <b>bold</b>');
    await shot(page, '08-tags');

    // Delete the draft through its confirmation page.
    await page.goto(`${repo()}/releases`);
    await page.click('.release-card:has-text("Early preview") a:has-text("Edit")');
    await page.waitForURL(/\/releases\/\d+\/edit$/);
    await shot(page, '09-edit-release');
    await page.click('#release-delete');
    await page.waitForSelector('#confirm');
    expect(await textOf(page, '#confirm-title')).toContain('Delete the release Early preview?');
    await shot(page, '10-confirm-delete');
    await Promise.all([page.waitForURL(`${repo()}/releases`), page.click('#confirm-submit')]);
    expect(await textOf(page, '.flash')).toContain('Deleted the release Early preview');
    expect(await textOf(page, '.release-list')).not.toContain('Early preview');
  });

  it('reads well on a phone', async () => {
    const page = await openPage(browser, contexts, { mobile: true });
    await page.goto(`${repo()}/releases/tag/v1.0.0`);
    expect(await textOf(page, '.release-title')).toBe('Tool 1.0 <b>bold</b>');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(page, '11-release-mobile');
  });
});
