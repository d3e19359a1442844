import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, screenshot, signInAs, openPage, textOf } from '../helpers/browser.ts';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitOk, initWorkRepo, lsRemote, tempDir } from '../helpers/git.ts';
import { request } from 'node:http';

/** A GET with the path sent exactly as given (fetch would normalise "..", "%2e%2e" and friends away). */
function rawGet(base: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

const skipReason = browserUnavailableReason();
if (skipReason) console.warn(`skipping browser tests: ${skipReason}`);

const MAIN_TS = `import { greet } from './greet.ts';

export function main(name: string): string {
  const message = greet(name);
  return message.toUpperCase();
}
`;

const MAIN_TS_V2 = MAIN_TS.replace("return message.toUpperCase();", "return message.trim().toUpperCase();");

const GREET_TS = `/** Says hello. */
export const greet = (name: string) => \`Hello, \${name}!\`;
`;

/** A 1×1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkaPhfDwAEhgHAqTVyOQAAAABJRU5ErkJggg==', 'base64');
const EVIL_FILE = '<img src=x onerror=alert(1)>.txt';
const EVIL_TITLE = `<script>window.__pwned='title'</script>Add <b>login</b> page`;
const EVIL_BODY = `Adds a login page.\n\n<script>window.__pwned='body'</script>\n\n<img src=x onerror="window.__pwned='body-img'">\n\n[docs](javascript:window.__pwned='link')`;
const EVIL_CODE = `// </span><script>window.__pwned = 1</script>
const s = "</span><img src=x onerror=alert(1)>";
/* <script>window.__pwned = 2</script>
   still a comment </span></span> */
const t = \`\${"<iframe src=javascript:alert(3)>"}\`;
`;
const EVIL_COMMENT = `<img src=x onerror="window.__pwned='comment'">Please **trim** first <a href="javascript:alert(1)">x</a>`;

describe.skipIf(!!skipReason)(`browsing and pull requests${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: TestServer;
  let browser: Browser;
  let alice: TestUser;
  let bob: TestUser;
  let work: { path: string; remove(): Promise<void> };
  let remote: string;
  const contexts: BrowserContext[] = [];
  const repo = () => `${server.url}/${alice.username}/webapp`;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    alice = await createTestUser(server, { username: 'alice' });
    bob = await createTestUser(server, { username: 'bob' });
    browser = await launchBrowser();
    expect((await api(server, 'POST', '/user/repos', { token: alice.token, body: { name: 'webapp', description: 'A web app' } })).status).toBe(201);
    work = await tempDir();
    remote = authUrl(server.url, 'alice/webapp.git', alice.username, alice.token);
    await initWorkRepo(work.path, {
      'README.md': '# webapp\n\nA **small** web app.\n',
      'src/app/main.ts': MAIN_TS,
      'src/app/greet.ts': GREET_TS,
      'docs/guide.md': '# Guide\n\nRead me.\n',
      'assets/logo.png': PNG,
      'data.bin': Buffer.from([0, 1, 2, 3, 0, 255, 0, 42]),
      'big.txt': 'x'.repeat(1024 * 1024 + 10),
      [EVIL_FILE]: 'just text <script>window.__pwned="file"</script>\n',
    });
    await commitFiles(work.path, { 'src/app/main.ts': MAIN_TS_V2 }, 'Trim the message');
    await commitFiles(work.path, { 'docs/guide.md': '# Guide\n\nRead me twice.\n' }, 'Improve the guide');
    await gitOk(work.path, ['tag', 'v1.0']);
    await gitOk(work.path, ['push', '-q', remote, 'main', 'v1.0']);
    // A commit whose patch is beyond the page's diff guard.
    await gitOk(work.path, ['checkout', '-q', '-b', 'huge']);
    await commitFiles(work.path, { 'huge-a.txt': Array.from({ length: 60_000 }, (_, i) => `line ${i} of a very large generated file`).join('\n'), 'huge-b.txt': 'small\n' }, 'Add generated files');
    await gitOk(work.path, ['push', '-q', remote, 'huge']);
    await gitOk(work.path, ['checkout', '-q', 'main']);
    await gitOk(work.path, ['checkout', '-q', '-b', 'feature/login']);
    await commitFiles(work.path, { 'src/app/login.ts': 'export const login = () => true;\n', 'src/app/main.ts': MAIN_TS_V2.replace('greet(name);', 'greet(name); // greet first') }, 'Add a login page');
    await gitOk(work.path, ['push', '-q', remote, 'feature/login']);
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await work?.remove();
    await server?.close();
  });

  const newPage = (opts: { mobile?: boolean } = {}) => openPage(browser, contexts, { ...opts, height: 860 });

  const signIn = (page: Page, user: TestUser) => signInAs(page, server.url, user);

  const text = textOf;
  const pwned = (page: Page) => page.evaluate('window.__pwned ?? null');

  it('browses the tree, files, branches, history, commits, blame and compare', async () => {
    const page = await newPage();
    await signIn(page, alice);
    await page.goto(repo());
    const hrefs = await page.$$eval('.file-list a.file-name', (els) => els.map((e) => e.getAttribute('href')));
    expect(hrefs).toContain('/alice/webapp/tree/main/src');
    expect(hrefs).toContain('/alice/webapp/blob/main/README.md');
    expect(await text(page, '.file-row:has(a.file-name:text-is("docs")) .file-commit')).toBe('Improve the guide');
    expect(await text(page, '.file-row:has(a.file-name:text-is("src")) .file-commit')).toBe('Trim the message');
    expect(await text(page, '.markdown-body')).toContain('A small web app.');
    expect(await text(page, '.tabs')).toMatch(/Code.*Issues.*Pull requests.*Tasks.*Settings/);
    await screenshot(page, 'browse-01-repo-home');

    // The tree, a nested file with line numbers and a #L2 anchor.
    await page.click('.file-list a.file-name:text-is("src")');
    await page.waitForURL(`${repo()}/tree/main/src`);
    await page.click('.file-list a.file-name:text-is("app")');
    await page.waitForURL(`${repo()}/tree/main/src/app`);
    expect(await text(page, '.breadcrumbs')).toBe('webapp/src/app/');
    await screenshot(page, 'browse-02-tree');
    await page.click('.file-list a.file-name:text-is("main.ts")');
    await page.waitForURL(`${repo()}/blob/main/src/app/main.ts`);
    expect(await page.$$eval('.code-table .ln a', (els) => els.map((e) => e.textContent))).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(await page.$$eval('.code-table .hljs-keyword', (els) => els.length)).toBeGreaterThan(2);
    expect(await text(page, '.code-table')).toContain('return message.trim().toUpperCase();');
    expect(await text(page, '.blob-commit .commit-subject')).toBe('Trim the message');
    await page.click('.code-table a[href="#L2"]');
    expect(page.url()).toBe(`${repo()}/blob/main/src/app/main.ts#L2`);
    expect(await page.$eval('tr:target', (e) => e.id)).toBe('L2');
    await page.goto(`${repo()}/blob/main/src/app/main.ts#L3-L5`);
    await page.waitForSelector('tr.hl');
    expect(await page.$$eval('tr.hl', (els) => els.map((e) => e.id))).toEqual(['L3', 'L4', 'L5']);
    await screenshot(page, 'browse-03-blob-range');

    // Switch to the branch with a slash in its name; the same file is shown there.
    await page.click('.ref-switcher summary');
    await screenshot(page, 'browse-04-branch-switcher');
    await Promise.all([page.waitForURL(`${repo()}/blob/feature/login/src/app/main.ts`), page.click('.ref-switcher a.dropdown-item:has-text("feature/login")')]);
    expect(await text(page, '.code-table')).toContain('// greet first');
    expect(await text(page, '.ref-switcher summary')).toContain('feature/login');
    await page.goto(`${repo()}/tree/v1.0/docs`);
    expect(await text(page, '.ref-switcher summary')).toContain('v1.0');

    // Markdown is rendered, with a switch to the source.
    await page.goto(`${repo()}/blob/main/docs/guide.md`);
    expect(await text(page, '.blob-card .markdown-body h1')).toBe('Guide');
    await screenshot(page, 'browse-04b-markdown');
    await page.click('.segmented a:has-text("Code")');
    expect(await text(page, '.code-table')).toContain('# Guide');

    // Guards: binary, large and image files.
    await page.goto(`${repo()}/blob/main/data.bin`);
    expect(await text(page, '.blob-notice')).toContain('Binary file not shown');
    await page.goto(`${repo()}/blob/main/big.txt`);
    expect(await text(page, '.blob-notice')).toContain('This file is too large to display');
    expect(await page.getAttribute('.blob-notice a', 'href')).toBe('/alice/webapp/raw/main/big.txt');
    await page.goto(`${repo()}/blob/main/assets/logo.png`);
    expect(await page.getAttribute('.blob-image img', 'src')).toBe('/alice/webapp/raw/main/assets/logo.png');
    expect(await page.$eval('.blob-image img', (img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(1);
    await screenshot(page, 'browse-05-image');

    // Raw downloads: bytes, no sniffing, sandboxed.
    const rawBin = await page.context().request.get(`${repo()}/raw/main/data.bin`);
    expect(rawBin.headers()['content-type']).toBe('application/octet-stream');
    expect(rawBin.headers()['content-disposition']).toContain('attachment');
    expect([...(await rawBin.body())]).toEqual([0, 1, 2, 3, 0, 255, 0, 42]);
    const rawText = await page.context().request.get(`${repo()}/raw/feature/login/src/app/main.ts`);
    expect(rawText.headers()['content-type']).toBe('text/plain; charset=utf-8');
    expect(rawText.headers()['x-content-type-options']).toBe('nosniff');
    expect(rawText.headers()['content-security-policy']).toContain('sandbox');
    expect(await rawText.text()).toContain('// greet first');

    // History with a path filter.
    await page.goto(`${repo()}/commits/main`);
    expect(await page.$$eval('.commit-title-link', (els) => els.map((e) => e.textContent))).toEqual(['Improve the guide', 'Trim the message', 'Initial commit']);
    await page.fill('#path-filter', 'src/app/main.ts');
    await Promise.all([page.waitForURL(/\/commits\/main\?path=src%2Fapp%2Fmain\.ts$/), page.click('.path-filter button')]);
    expect(await page.$$eval('.commit-title-link', (els) => els.map((e) => e.textContent))).toEqual(['Trim the message', 'Initial commit']);
    await screenshot(page, 'browse-06-commits-filtered');

    // A commit page with its diff.
    await page.click('.commit-title-link:text-is("Trim the message")');
    await page.waitForURL(/\/commit\/[0-9a-f]{40}$/);
    expect(await text(page, '.commit-header-title')).toBe('Trim the message');
    expect(await text(page, '.diff-file .diff-path')).toBe('src/app/main.ts');
    expect(await text(page, '.dl-add .dc')).toContain('return message.trim().toUpperCase();');
    expect(await text(page, '.dl-del .dc')).toContain('return message.toUpperCase();');
    expect(await page.$eval('.diff-file', (d) => (d as unknown as { open: boolean }).open)).toBe(true);
    await screenshot(page, 'browse-07-commit');

    // A diff beyond the size guard says so; files past the cut are listed without their changes.
    await page.goto(`${repo()}/commit/huge`);
    expect(await text(page, '.diff-notice')).toContain('This diff is too large to show in full');
    expect(await text(page, '.diff-file:has(.diff-path:text-is("huge-b.txt")) .diff-empty')).toContain('too large to display');

    // Blame groups lines by the commit that last changed them.
    await page.goto(`${repo()}/blame/main/src/app/main.ts`);
    const blame = await page.$$eval('.blame-group', (groups) => groups.map((g) => [g.querySelector('.blame-title')?.textContent, g.querySelectorAll('tr').length]));
    expect(blame).toEqual([
      ['Initial commit', 4],
      ['Trim the message', 1],
      ['Initial commit', 1],
    ]);
    await screenshot(page, 'browse-08-blame');

    // Compare a branch with main.
    await page.goto(`${repo()}/compare/main...feature/login`);
    expect(await text(page, '.compare-state')).toContain('1 commit ahead');
    expect(await page.$$eval('.diff-file .diff-path', (els) => els.map((e) => e.textContent))).toEqual(['src/app/login.ts', 'src/app/main.ts']);
    expect(await page.inputValue('#pr-title')).toBe('Add a login page');
    await screenshot(page, 'browse-09-compare');

    await page.goto(`${repo()}/branches`);
    expect(await page.$$eval('.ref-row-name', (els) => els.map((e) => e.textContent?.trim()))).toEqual(['main', 'feature/login', 'huge']);
    await screenshot(page, 'browse-10-branches');
    await page.goto(`${repo()}/tags`);
    expect(await text(page, '.ref-list')).toContain('v1.0');
    await screenshot(page, 'browse-11-tags');

    // A file named like markup is only text.
    await page.goto(repo());
    const evil = page.locator('.file-list a.file-name', { hasText: EVIL_FILE });
    expect(await evil.count()).toBe(1);
    await evil.click();
    await page.waitForURL(/\/blob\/main\/%3Cimg/);
    expect(await text(page, '.breadcrumbs .crumb-leaf')).toBe(EVIL_FILE);
    expect(await pwned(page)).toBeNull();
    const html = await page.content();
    expect(html).not.toContain('<img src=x onerror');
    expect(html).not.toContain('<script>window.__pwned');
    await screenshot(page, 'browse-12-evil-filename');

    const mobile = await newPage({ mobile: true });
    await signIn(mobile, alice);
    await mobile.goto(`${repo()}/blob/main/src/app/main.ts`);
    expect(await mobile.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth')).toBeLessThanOrEqual(0);
    await screenshot(mobile, 'browse-13-blob-mobile');
    await mobile.goto(`${repo()}/commit/main`);
    expect(await mobile.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth')).toBeLessThanOrEqual(0);
    await screenshot(mobile, 'browse-14-commit-mobile');
  }, 120_000);

  it('opens a pull request, comments on a line, reviews and merges it with squash', async () => {
    const page = await newPage();
    await signIn(page, alice);

    // Open it as a draft from /pulls/new; bad input comes back as a 422 with the values kept.
    await page.goto(`${repo()}/pulls`);
    expect(await text(page, '.pull-list-card')).toContain('No open pull requests');
    await page.click('a:has-text("New pull request")');
    await page.waitForURL(`${repo()}/pulls/new`);
    await page.selectOption('#pr-head', 'feature/login');
    await page.fill('#pr-title', '   ');
    await page.fill('#pr-body', EVIL_BODY);
    await page.$eval('#new-pull', (f) => f.setAttribute('novalidate', ''));
    const [bad] = await Promise.all([page.waitForResponse((r) => r.url() === `${repo()}/pulls` && r.request().method() === 'POST'), page.click('button:has-text("Create draft")')]);
    expect(bad.status()).toBe(422);
    expect(await text(page, '.form-alert')).toMatch(/title is required/i);
    expect(await page.inputValue('#pr-body')).toBe(EVIL_BODY);
    await screenshot(page, 'pr-00-new-error');
    await page.fill('#pr-title', EVIL_TITLE);
    await Promise.all([page.waitForURL(`${repo()}/pull/1`), page.click('button:has-text("Create draft")')]);
    expect(await text(page, '.flash')).toContain('Draft pull request #1 opened');
    expect(await text(page, '.pull-title-text')).toBe(EVIL_TITLE);
    expect(await text(page, '.pull-meta .state-badge')).toBe('Draft');
    expect(await page.isDisabled('.merge-form button[type=submit]')).toBe(true);
    expect(await text(page, '#merge-reason')).toContain('Draft pull requests cannot be merged');
    await screenshot(page, 'pr-01-draft');

    // A crafted merge of the draft is refused with a message, not an error page.
    const csrf = await page.inputValue('#comment-form input[name=_csrf]');
    const forced = await page.context().request.post(`${repo()}/pull/1/merge`, { form: { _csrf: csrf, merge_method: 'merge', confirmed: '1' }, maxRedirects: 0 });
    expect(forced.status()).toBe(303);
    await page.reload();
    expect(await text(page, '.flash')).toContain('draft');

    await Promise.all([page.waitForURL(`${repo()}/pull/1`), page.click('button:has-text("Ready for review")')]);
    expect(await text(page, '.flash')).toContain('ready for review');
    expect(await text(page, '.pull-meta .state-badge')).toBe('Open');
    expect(await page.isDisabled('.merge-form button[type=submit]')).toBe(false);

    // Edit the title.
    await page.click('.edit-pull summary');
    await page.fill('#edit-title', `${EVIL_TITLE}!`);
    await Promise.all([page.waitForURL(`${repo()}/pull/1`), page.click('.edit-pull button:has-text("Save")')]);
    expect(await text(page, '.pull-title-text')).toBe(`${EVIL_TITLE}!`);

    // A conversation comment with hostile markup.
    await page.fill('#comment-body', EVIL_COMMENT);
    await Promise.all([page.waitForURL(/\/pull\/1#comment-\d+$/), page.click('#comment-form button:has-text("Comment")')]);
    expect(await text(page, '.timeline .comment-body >> nth=1')).toContain('Please trim first');

    // Comment on a diff line: the "+" opens an inline form (the link itself works without script).
    await page.goto(`${repo()}/pull/1/files`);
    expect(await page.$$eval('.diff-file .diff-path', (els) => els.map((e) => e.textContent))).toEqual(['src/app/login.ts', 'src/app/main.ts']);
    const plus = page.locator('a.add-comment[data-path="src/app/main.ts"][data-line="4"]');
    expect(await plus.getAttribute('href')).toBe(`/alice/webapp/pull/1/files?line_path=src%2Fapp%2Fmain.ts&line=4#new-line-comment`);
    await page.hover('tr:has(a.add-comment[data-path="src/app/main.ts"][data-line="4"])');
    await plus.click();
    const form = page.locator('tr.dl-extra[data-inline] form');
    expect(await form.locator('input[name=path]').inputValue()).toBe('src/app/main.ts');
    expect(await form.locator('input[name=line]').inputValue()).toBe('4');
    await form.locator('textarea').fill('Why a comment here? <script>window.__pwned="line"</script>');
    await screenshot(page, 'pr-02a-inline-form');
    await Promise.all([page.waitForURL(/\/pull\/1\/files#comment-\d+$/), form.locator('button:has-text("Add comment")').click()]);
    const lineThread = page.locator('tr.dl-extra .thread');
    expect(await lineThread.count()).toBe(1);
    expect(await text(page, 'tr.dl-extra .thread .comment-body')).toContain('Why a comment here?');
    expect(await page.$eval('tr.dl-extra', (tr) => tr.previousElementSibling?.querySelector('a.add-comment')?.getAttribute('data-line'))).toBe('4');
    await screenshot(page, 'pr-02-line-comment');

    // The no-script form: the page rendered with the form open at a line.
    await page.goto(`${repo()}/pull/1/files?line_path=src%2Fapp%2Fmain.ts&line=1#new-line-comment`);
    expect(await page.locator('#new-line-comment textarea').count()).toBe(1);

    // Push a change to that line: the comment is now outdated, shown above the file with its original hunk.
    await commitFiles(work.path, { 'src/app/main.ts': MAIN_TS_V2.replace('greet(name);', 'greet(name.trim()); // greet first') }, 'Trim the name too');
    await gitOk(work.path, ['push', '-q', remote, 'feature/login']);
    await page.goto(`${repo()}/pull/1/files`);
    expect(await page.locator('tr.dl-extra .thread').count()).toBe(0);
    const outdated = page.locator('.outdated-group .thread');
    expect(await outdated.count()).toBe(1);
    expect(await text(page, '.outdated-group .thread-file')).toContain('Outdated');
    expect(await text(page, '.outdated-group .hunk-snippet')).toContain('// greet first');
    await screenshot(page, 'pr-03-outdated');

    // The head commit's statuses show on the conversation.
    const head = (await api(server, 'GET', '/repos/alice/webapp/pulls/1')).json.head.sha as string;
    expect((await api(server, 'POST', `/repos/alice/webapp/statuses/${head}`, { token: alice.token, body: { state: 'success', context: 'ci/test', description: '14 tests passed', target_url: 'https://ci.example.com/1' } })).status).toBe(201);
    expect((await api(server, 'POST', `/repos/alice/webapp/statuses/${head}`, { token: alice.token, body: { state: 'pending', context: 'ci/lint', description: 'Running' } })).status).toBe(201);

    // bob (a reader) approves with a summary; he cannot merge.
    const bobPage = await newPage();
    await signIn(bobPage, bob);
    await bobPage.goto(`${repo()}/pull/1`);
    expect(await bobPage.isDisabled('.merge-form button[type=submit]')).toBe(true);
    expect(await text(bobPage, '#merge-reason')).toContain('write access');
    await bobPage.click('.review-menu summary');
    await bobPage.fill('#review-body', 'Looks good to me');
    await bobPage.check('input[name=event][value=APPROVE]');
    await screenshot(bobPage, 'pr-04-review-form');
    await Promise.all([bobPage.waitForURL(/\/pull\/1#review-\d+$/), bobPage.click('.review-panel button:has-text("Submit review")')]);
    expect(await text(bobPage, '.flash')).toContain('You approved these changes');
    expect(await text(bobPage, '.timeline-review')).toContain('bob approved these changes');
    expect(await text(bobPage, '.timeline-review')).toContain('Looks good to me');
    expect(await pwned(bobPage)).toBeNull();

    // alice sees checks, the review and the outdated thread, then squashes and deletes the branch.
    await page.goto(`${repo()}/pull/1`);
    expect(await text(page, '.checks-card')).toContain("Some checks haven't completed yet");
    expect(await page.$$eval('.check-row .check-context', (els) => els.map((e) => e.textContent))).toEqual(['ci/lint', 'ci/test']);
    expect(await text(page, '.reviewer-list')).toContain('bob');
    expect(await text(page, '.timeline-thread')).toContain('Outdated');
    expect(await pwned(page)).toBeNull();
    await screenshot(page, 'pr-05-conversation');

    const before = await lsRemote(work.path, remote);
    const mainBefore = before.find((l) => l.endsWith('\trefs/heads/main'))!.split('\t')[0];
    await page.selectOption('#merge-method', 'squash');
    await page.check('input[name=delete_branch]');
    // Merging asks first (a page of its own: it works without JavaScript).
    await Promise.all([page.waitForURL(`${repo()}/pull/1/merge`), page.click('.merge-form button[type=submit]')]);
    expect(await text(page, '#confirm')).toContain('Merge pull request #1?');
    await Promise.all([page.waitForURL(`${repo()}/pull/1`), page.click('#confirm-submit')]);
    expect(await text(page, '.flash')).toMatch(/Pull request #1 merged \(squash\) as [0-9a-f]{7}; branch feature\/login deleted/);
    expect(await text(page, '.pull-meta .state-badge')).toBe('Merged');
    expect(await text(page, '#merge-box')).toContain('successfully merged');
    await screenshot(page, 'pr-06-merged');

    const after = await lsRemote(work.path, remote);
    const mainAfter = after.find((l) => l.endsWith('\trefs/heads/main'))!.split('\t')[0]!;
    expect(mainAfter).not.toBe(mainBefore);
    expect(after.some((l) => l.endsWith('\trefs/heads/feature/login'))).toBe(false);
    await gitOk(work.path, ['fetch', '-q', remote, 'main']);
    expect((await gitOk(work.path, ['log', '-1', '--format=%s%n%P', 'FETCH_HEAD'])).split('\n').slice(0, 2)).toEqual([`${EVIL_TITLE}! (#1)`, mainBefore]);

    await page.goto(`${repo()}/pulls?state=closed`);
    expect(await page.locator('.pull-row .state-icon-merged').count()).toBe(1);
    await screenshot(page, 'pr-07-list-closed');
    await page.goto(`${repo()}/pull/1/commits`);
    // Oldest first, as GitHub lists a pull request's commits (issue 16).
    expect(await page.$$eval('.commit-title-link', (els) => els.map((e) => e.textContent))).toEqual(['Add a login page', 'Trim the name too']);
    await screenshot(page, 'pr-08-commits');

    // Nothing user-supplied ran anywhere, and the raw markup never reached the HTML.
    for (const path of ['/pull/1', '/pull/1/files', '/pulls?state=all']) {
      const html = await (await page.context().request.get(`${repo()}${path}`)).text();
      expect(html, path).not.toMatch(/<script>window\.__pwned/);
      expect(html, path).not.toMatch(/<img src=x onerror/);
      expect(html, path).not.toMatch(/href="javascript:/i);
      expect(html.match(/<script\b/g), path).toHaveLength(1);
    }

    const mobile = await newPage({ mobile: true });
    await signIn(mobile, alice);
    await mobile.goto(`${repo()}/pull/1`);
    expect(await mobile.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth')).toBeLessThanOrEqual(0);
    await screenshot(mobile, 'pr-09-conversation-mobile');
    await mobile.goto(`${repo()}/pull/1/files`);
    expect(await mobile.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth')).toBeLessThanOrEqual(0);
    await screenshot(mobile, 'pr-10-files-mobile');
  }, 120_000);

  it('opens a pull request from the compare page and closes and reopens it', async () => {
    await gitOk(work.path, ['checkout', '-q', '-b', 'docs-update', 'main']);
    await gitOk(work.path, ['fetch', '-q', remote, 'main']);
    await gitOk(work.path, ['reset', '-q', '--hard', 'FETCH_HEAD']);
    await commitFiles(work.path, { 'docs/guide.md': '# Guide\n\nRead me three times.\n' }, 'Docs: read three times');
    await gitOk(work.path, ['push', '-q', remote, 'docs-update']);
    const page = await newPage();
    await signIn(page, alice);
    await page.goto(`${repo()}/compare/main...docs-update`);
    await Promise.all([page.waitForURL(`${repo()}/pull/2`), page.click('#new-pull button:has-text("Create pull request")')]);
    expect(await text(page, '.pull-title-text')).toBe('Docs: read three times');
    await Promise.all([page.waitForURL(`${repo()}/pull/2`), page.click('button:has-text("Close pull request")')]);
    expect(await text(page, '.pull-meta .state-badge')).toBe('Closed');
    await Promise.all([page.waitForURL(`${repo()}/pull/2`), page.click('#merge-box button:has-text("Reopen pull request")')]);
    expect(await text(page, '.pull-meta .state-badge')).toBe('Open');
    await page.goto(`${repo()}/compare/main...docs-update`);
    expect(await text(page, '.flash-info')).toContain('#2');
    await page.goto(`${repo()}/pulls`);
    expect(await text(page, '.pull-row')).toContain('Docs: read three times');
    await screenshot(page, 'pr-11-list-open');
  }, 60_000);
});

describe(`page access and hostile input`, () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    alice = await createTestUser(server, { username: 'alice' });
    bob = await createTestUser(server, { username: 'bob' });
    for (const [name, isPrivate] of [
      ['open', false],
      ['hidden', true],
    ] as const) {
      expect((await api(server, 'POST', '/user/repos', { token: alice.token, body: { name, private: isPrivate } })).status).toBe(201);
    }
    const work = await tempDir();
    try {
      await initWorkRepo(work.path, { 'README.md': '# secret plans\n', 'src/a.txt': 'one\ntwo\n', 'src/evil.ts': EVIL_CODE });
      for (const name of ['open', 'hidden']) await gitOk(work.path, ['push', '-q', authUrl(server.url, `alice/${name}.git`, alice.username, alice.token), 'main']);
      await gitOk(work.path, ['checkout', '-q', '-b', 'topic']);
      await commitFiles(work.path, { 'src/a.txt': 'one\ntwo\nthree\n', 'src/evil.ts': `${EVIL_CODE}// </td></tr></table><script>window.__pwned = 4</script>\n` }, 'Three <script>window.__pwned = 5</script>');
      for (const name of ['open', 'hidden']) await gitOk(work.path, ['push', '-q', authUrl(server.url, `alice/${name}.git`, alice.username, alice.token), 'topic']);
    } finally {
      await work.remove();
    }
    for (const name of ['open', 'hidden']) {
      expect((await api(server, 'POST', `/repos/alice/${name}/pulls`, { token: alice.token, body: { title: 'Topic', head: 'topic', base: 'main' } })).status).toBe(201);
    }
  });

  afterAll(async () => {
    await server?.close();
  });

  /** Signs in through the form (cookie jar by hand) and returns the Cookie header and a CSRF token. */
  async function session(user: TestUser): Promise<{ cookie: string; csrf: string }> {
    const first = await fetch(`${server.url}/-/login`);
    const jar = new Map<string, string>();
    const keep = (res: Response) => {
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const eq = pair!.indexOf('=');
        jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
      }
    };
    keep(first);
    const csrf = /name="_csrf" value="([0-9a-f]+)"/.exec(await first.text())![1]!;
    const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const login = await fetch(`${server.url}/-/login`, { method: 'POST', headers: { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf, username: user.username, password: user.password }), redirect: 'manual' });
    expect(login.status).toBe(303);
    keep(login);
    return { cookie: cookie(), csrf };
  }

  const PAGES = ['', '/tree/main', '/tree/main/src', '/blob/main/README.md', '/raw/main/README.md', '/blame/main/src/a.txt', '/commits/main', '/commits/main?path=src', '/commit/main', '/compare/main...topic', '/branches', '/tags', '/pulls', '/pull/1', '/pull/1/files', '/pull/1/commits'];

  it('hides every page of a private repository (404) from anonymous visitors and other users', async () => {
    const alicesSession = await session(alice);
    const bobsSession = await session(bob);
    for (const path of PAGES) {
      const own = await fetch(`${server.url}/alice/hidden${path}`, { headers: { cookie: alicesSession.cookie } });
      expect(own.status, `alice ${path}`).toBe(200);
      const anon = await fetch(`${server.url}/alice/hidden${path}`);
      expect(anon.status, `anonymous ${path}`).toBe(404);
      expect(await anon.text()).not.toContain('secret plans');
      const other = await fetch(`${server.url}/alice/hidden${path}`, { headers: { cookie: bobsSession.cookie } });
      expect(other.status, `bob ${path}`).toBe(404);
      const open = await fetch(`${server.url}/alice/open${path}`);
      expect(open.status, `public ${path}`).toBe(200);
    }
    // Posting to a private repository's pull request is a 404 too, and changes nothing.
    for (const action of ['comment', 'review', 'merge', 'state', 'edit', 'draft', 'comments']) {
      const res = await fetch(`${server.url}/alice/hidden/pull/1/${action}`, { method: 'POST', headers: { cookie: bobsSession.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: bobsSession.csrf, body: 'hi', event: 'COMMENT', merge_method: 'merge', state: 'closed', title: 'x', draft: '1' }), redirect: 'manual' });
      expect(res.status, action).toBe(404);
    }
    expect((await api(server, 'GET', '/repos/alice/hidden/pulls/1', { token: alice.token })).json).toMatchObject({ state: 'open', title: 'Topic', merged: false });
    // A reader cannot merge or open pull requests on a public repository.
    const merge = await fetch(`${server.url}/alice/open/pull/1/merge`, { method: 'POST', headers: { cookie: bobsSession.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: bobsSession.csrf, merge_method: 'merge' }), redirect: 'manual' });
    expect(merge.status).toBe(303);
    const create = await fetch(`${server.url}/alice/open/pulls`, { method: 'POST', headers: { cookie: bobsSession.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: bobsSession.csrf, base: 'main', head: 'topic', title: 'x' }), redirect: 'manual' });
    expect(create.status).toBe(403);
    expect((await api(server, 'GET', '/repos/alice/open/pulls/1')).json.merged).toBe(false);
  });

  it('renders hostile file contents and commit messages inert in code, blame, history and diffs', async () => {
    for (const path of ['/blob/main/src/evil.ts', '/blob/topic/src/evil.ts', '/blame/topic/src/evil.ts', '/commit/topic', '/compare/main...topic', '/pull/1/files', '/pull/1/commits', '/commits/topic', '/tree/topic/src', '/raw/topic/src/evil.ts']) {
      const res = await fetch(`${server.url}/alice/open${path}`);
      expect(res.status, path).toBe(200);
      const html = await res.text();
      if (path.startsWith('/raw/')) {
        // Served as plain text, never sniffed, sandboxed.
        expect(res.headers.get('content-type'), path).toBe('text/plain; charset=utf-8');
        expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
        expect(res.headers.get('content-security-policy'), path).toContain('sandbox');
        continue;
      }
      expect(html, path).not.toMatch(/<script>window/);
      expect(html, path).not.toMatch(/<img src=x/);
      expect(html, path).not.toMatch(/<iframe/);
      expect(html, path).not.toMatch(/<\/table><script/);
      expect(html.match(/<script\b/g), path).toHaveLength(1);
    }
    // The highlighted source still reads as the original text.
    const html = await (await fetch(`${server.url}/alice/open/blob/main/src/evil.ts`)).text();
    expect(html).toContain('&lt;/span&gt;&lt;script&gt;window.__pwned = 1&lt;/script&gt;');
    expect(html).toContain('class="hljs-comment"');
  });

  it('answers hostile paths, refs and parameters with 404, never 5xx', async () => {
    const { cookie, csrf } = await session(alice);
    const hostile = [
      '/tree/main/..',
      '/tree/main/src%2F..%2F..%2Fx',
      '/tree/--output=x',
      '/tree/--output=x/src',
      '/tree/main/%00',
      '/tree/%00',
      '/tree/main%00x',
      '/tree/nonexistent',
      '/tree/0000000000000000000000000000000000000000',
      '/tree/main/src%0Aa.txt',
      '/blob/main/..',
      '/blob/main/src%2F%2E%2E%2FREADME.md',
      '/blob/main//README.md',
      '/blob/--output=x/README.md',
      '/blob/main/--output=x',
      '/blob/main/README.md%00',
      '/blob/nonexistent/README.md',
      '/blob/main/nope.txt',
      '/blob/main/README.md/deeper',
      '/raw/main/..',
      '/raw/main/src%2F..%2FREADME.md',
      '/raw/--output=x/README.md',
      '/raw/main/%00',
      '/raw/main/src',
      '/raw/nonexistent/README.md',
      '/blame/main/..',
      '/blame/--output=x/src/a.txt',
      '/blame/main/%00',
      '/blame/main/nope',
      '/blame/nonexistent/src/a.txt',
      '/commits/--output=x',
      '/commits/nonexistent',
      '/commits/main%00',
      '/commits/main?path=..',
      '/commits/main?path=%00',
      '/commits/main?path=src/../..',
      '/commit/--output=x',
      '/commit/%00',
      '/commit/nonexistent',
      '/commit/0000000',
      '/commit/main..topic',
      '/commit/HEAD~1',
      '/compare/main...--output=x',
      '/compare/--output=x...main',
      '/compare/main...nonexistent',
      '/compare/main%00...topic',
      '/compare/..',
      '/pull/999',
      '/pull/0',
      '/pull/-1',
      '/pull/abc',
      '/pull/1e3',
      '/pull/9999999999',
      '/pull/99999999999999999999',
      '/pull/%00/files',
      '/pull/2/commits',
    ];
    for (const path of hostile) {
      for (const headers of [{}, { cookie }] as Record<string, string>[]) {
        expect(await rawGet(server.url, `/alice/open${path}`, headers), path).toBe(404);
      }
    }
    // Literal dot segments are resolved by URL parsing before routing: they can never leave the repository's pages.
    for (const path of ['/alice/open/raw/main/../../../../etc/passwd', '/alice/open/blob/main/../../../../../../etc/passwd', '/alice/open/raw/main/src/../../../hidden/raw/main/README.md']) {
      expect(await rawGet(server.url, path), path).toBe(404);
    }
    // Odd parameters on list pages are ignored, not errors.
    for (const path of ['/pulls?state=%00&page=-5&base=--x&author=%00', '/pulls?page=99999999999', '/commits/main?page=abc', '/commits/main?page=99999', '/pull/1/files?line_path=%00&line=-1', '/pull/1/files?line_path=..&line=1e9']) {
      const res = await fetch(`${server.url}/alice/open${path}`, { headers: { cookie } });
      expect(res.status, path).toBe(200);
    }
    // Bad form input: a message, never a 5xx.
    const post = (path: string, fields: Record<string, string>) =>
      fetch(`${server.url}/alice/open${path}`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf, ...fields }), redirect: 'manual' });
    for (const [path, fields, status] of [
      ['/pulls', { base: '--output=x', head: '%00', title: 'x' }, 422],
      ['/pulls', { base: 'main', head: 'main', title: 'x' }, 422],
      ['/pulls', { base: 'main', head: 'topic', title: '' }, 422],
      ['/pulls', { base: 'main', head: 'topic', title: 'x'.repeat(300) }, 422],
      ['/pull/1/comments', { path: '../x', line: '1', body: 'x' }, 422],
      ['/pull/1/comments', { path: 'src/a.txt', line: '99999', body: 'x' }, 422],
      ['/pull/1/comments', { path: 'src/a.txt', line: '-1', body: 'x', commit_id: 'nope' }, 303],
      ['/pull/1/comments', { path: 'src/a.txt', line: '2', body: 'x', commit_id: 'nope' }, 422],
      ['/pull/1/comments', { path: '--output=x', line: '1', body: 'x' }, 422],
      ['/pull/1/comments', { in_reply_to: '424242', body: 'x', back: 'conversation' }, 303],
      ['/pull/1/comment', { body: '' }, 303],
      ['/pull/1/review', { event: 'BOGUS' }, 303],
      ['/pull/1/review', { event: 'APPROVE' }, 303],
      ['/pull/1/merge', { merge_method: 'octopus' }, 303],
      ['/pull/1/merge', { merge_method: 'merge', sha: '0'.repeat(40), confirmed: '1' }, 303],
      ['/pull/1/state', { state: 'bogus' }, 303],
      ['/pull/1/edit', { title: '' }, 303],
      ['/pull/999/comment', { body: 'x' }, 404],
      ['/pull/abc/merge', { merge_method: 'merge' }, 404],
    ] as [string, Record<string, string>, number][]) {
      const res = await post(path, fields);
      expect(res.status, `${path} ${JSON.stringify(fields)}`).toBe(status);
    }
    const pr = (await api(server, 'GET', '/repos/alice/open/pulls/1')).json;
    expect(pr).toMatchObject({ state: 'open', merged: false, title: 'Topic' });
  });
});
