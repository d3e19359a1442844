import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, openPage, screenshot, signInAs, textOf } from '../helpers/browser.ts';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { scriptPrompt } from '../helpers/scriptedRuns.ts';

const skipReason = browserUnavailableReason();
if (skipReason) console.warn(`skipping browser tests: ${skipReason}`);

/** A 60-line file; commits below rewrite single lines, so blame has many one-line groups. */
const LONG = Array.from({ length: 60 }, (_, i) => `const line${i + 1} = ${i + 1};`).join('\n') + '\n';
const LONG_BRANCH = 'feature/a-very-long-branch-name-that-goes-on-and-on-beyond-any-reasonable-width-for-a-panel';

/** What a new user hit on the pages (issue 16, points 4–12), each checked in a real browser. */
describe.skipIf(!!skipReason)(`pages a new user hit${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: TestServer;
  let browser: Browser;
  let alice: TestUser;
  let work: { path: string; remove(): Promise<void> };
  let remote = '';
  const contexts: BrowserContext[] = [];
  const repo = () => `${server.url}/alice/site`;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    alice = await createTestUser(server, { username: 'alice' });
    expect((await api(server, 'POST', '/user/repos', { token: alice.token, body: { name: 'site' } })).status).toBe(201);
    work = await tempDir();
    remote = authUrl(server.url, 'alice/site.git', alice.username, alice.token);
    await initWorkRepo(work.path, { 'README.md': '# site\n', 'src/long.ts': LONG, 'src/a/b.txt': 'b\n', 'docs/guide.md': '# Guide\n' });
    // A directory last changed years ago: its age ("11 years ago") is wider than the others' ("now").
    await gitOk(work.path, ['mv', 'src/a', 'old']);
    await gitOk(work.path, ['commit', '-q', '-m', 'Move a long time ago'], { GIT_AUTHOR_DATE: '2014-03-01T10:00:00Z', GIT_COMMITTER_DATE: '2014-03-01T10:00:00Z' });
    let text = LONG;
    for (const n of [5, 9, 20, 33, 47]) {
      text = text.replace(`const line${n} = ${n};`, `const line${n} = ${n * 10}; // changed`);
      await commitFiles(work.path, { 'src/long.ts': text }, `Change line ${n}`);
    }
    await commitFiles(work.path, { 'docs/guide.md': '# Guide\n\nA much longer commit subject follows.\n' }, 'Explain the guide in a great deal more detail than anyone needs');
    // An agent's commit (a co-author trailer) appends lines at the end: their AI mark is near the bottom of the blame.
    await commitFiles(work.path, { 'src/long.ts': `${text}const ai1 = 1;\nconst ai2 = 2;\n` }, 'Append lines\n\nCo-authored-by: Claude <noreply@anthropic.com>');
    await gitOk(work.path, ['tag', 'v1.0']);
    await gitOk(work.path, ['push', '-q', remote, 'main', 'v1.0']);
    await gitOk(work.path, ['push', '-q', remote, `main:refs/heads/${LONG_BRANCH}`]);
    // topic: two commits; one-change: a single commit.
    await gitOk(work.path, ['checkout', '-q', '-b', 'topic']);
    await commitFiles(work.path, { 'topic.txt': 'one\n' }, 'First topic change');
    await commitFiles(work.path, { 'topic.txt': 'one\ntwo\n' }, 'Second topic change');
    await gitOk(work.path, ['push', '-q', remote, 'topic']);
    await gitOk(work.path, ['checkout', '-q', '-b', 'one-change', 'main']);
    await commitFiles(work.path, { 'single.txt': 'single\n' }, 'Add the single file');
    await gitOk(work.path, ['push', '-q', remote, 'one-change']);
    await gitOk(work.path, ['checkout', '-q', 'main']);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await work?.remove();
    await server?.close();
  });

  const newPage = (opts: { javaScript?: boolean; mobile?: boolean } = {}) => openPage(browser, contexts, opts);
  const signIn = (page: Page) => signInAs(page, server.url, alice);
  const rowHeights = (page: Page) => page.$$eval('tr[id^="L"]', (rows) => rows.map((r) => Math.round(r.getBoundingClientRect().height)));

  it('4. blame: each line exactly as tall as in the file view, the AI mark a narrow chip, its popover clear of the footer', async () => {
    const page = await newPage();
    await page.goto(`${repo()}/blob/main/src/long.ts`);
    const fileRows = await rowHeights(page);
    expect(fileRows.length).toBe(62);
    const line = fileRows[30]!;
    await page.goto(`${repo()}/blame/main/src/long.ts`);
    const blameRows = await rowHeights(page);
    expect(blameRows.length).toBe(62);
    // First and last rows carry the table's 8 px top/bottom padding, in both views.
    expect(blameRows.slice(1, -1)).toEqual(fileRows.slice(1, -1));
    expect(new Set(blameRows.slice(1, -1))).toEqual(new Set([line]));
    const tableHeight = await page.$eval('.blame-table', (t) => t.getBoundingClientRect().height);
    expect(tableHeight).toBeLessThanOrEqual(62 * line + 16 + 1);
    // One-line groups (the changed lines) are one row: the commit cell is one text line.
    expect(await page.$$eval('.blame-group', (gs) => gs.length)).toBe(12);
    const gutter = await page.$eval('.ai-gutter', (td) => td.getBoundingClientRect().width);
    expect(gutter).toBeLessThanOrEqual(40);
    expect(await page.$$eval('.ai-gutter.ai-on', (tds) => tds.map((td) => td.closest('tr')!.id))).toEqual(['L61', 'L62']);
    expect(await textOf(page, '#L61 .ai-badge')).toContain('claude');
    await screenshot(page, 'issue16-04-blame');

    await page.click('#L61 .ai-pop-summary');
    const panel = await page.locator('#L61 .ai-pop-panel').boundingBox();
    const footer = await page.locator('.site-footer').boundingBox();
    expect(panel && footer).toBeTruthy();
    expect(panel!.y + panel!.height).toBeLessThanOrEqual(footer!.y);
    await screenshot(page, 'issue16-10-blame-popover');
  });

  it('5. tree listing: one grid, so the commit-message column starts at the same x on every row', async () => {
    const page = await newPage();
    await page.goto(`${repo()}/tree/main`);
    const starts = await page.$$eval('.file-list .file-commit', (els) => els.map((e) => Math.round(e.getBoundingClientRect().left)));
    expect(starts.length).toBe(4);
    expect(new Set(starts).size).toBe(1);
    const ages = await page.$$eval('.file-list .file-age', (els) => els.map((e) => e.textContent ?? ''));
    expect(new Set(ages.map((a) => a.length)).size).toBeGreaterThan(1);
    await screenshot(page, 'issue16-05-tree');
  });

  it('6. graph pages: the same frame as every page; the node panel shows people-facing fields and links, no ids', async () => {
    const page = await newPage();
    await page.goto(repo());
    const frame = async () => ({
      head: await page.$eval('.repo-head .container', (e) => Math.round(e.getBoundingClientRect().left)),
      tabs: await page.$eval('.tabs', (e) => Math.round(e.getBoundingClientRect().left)),
      main: await page.$eval('main', (e) => Math.round(e.getBoundingClientRect().left)),
    });
    const code = await frame();
    await page.goto(`${repo()}/graph?path=src/long.ts`);
    await page.waitForSelector('#graph-svg .gk-node[data-kind="evidence"]');
    expect(await frame()).toEqual(code);
    await page.locator('#graph-svg .gk-node[data-kind="evidence"] .gk-node-dot').first().click();
    await page.waitForSelector('#graph-panel .gk-fields');
    const fields = await page.$$eval('#graph-panel .gk-fields dt', (dts) => dts.map((dt) => dt.textContent ?? ''));
    expect(fields).toEqual(expect.arrayContaining(['Agent', 'Evidence', 'Commit']));
    expect(fields.filter((f) => /^(Key|Node)$|_id$|^id$/.test(f))).toEqual([]);
    expect(await page.getAttribute('#graph-panel .gk-fields dd a', 'href')).toMatch(/^\/alice\/site\/commit\/[0-9a-f]{40}/);
    await screenshot(page, 'issue16-06-graph');
  });

  it('9. a missing file or ref inside a repository: a 404 with the repository header, tabs and a link to the branch root', async () => {
    const page = await newPage();
    const missingFile = await page.goto(`${repo()}/blob/main/src/nope.ts`);
    expect(missingFile?.status()).toBe(404);
    expect(await page.locator('.repo-head .tabs').count()).toBe(1);
    expect(await textOf(page, '#repo-404')).toContain('src/nope.ts does not exist at main');
    expect(await page.getAttribute('#repo-404-root', 'href')).toBe('/alice/site/tree/main');
    await screenshot(page, 'issue16-09-missing-file');
    const onBranch = await page.goto(`${repo()}/tree/topic/no/such/dir`);
    expect(onBranch?.status()).toBe(404);
    expect(await page.getAttribute('#repo-404-root', 'href')).toBe('/alice/site/tree/topic');
    const missingRef = await page.goto(`${repo()}/tree/no-such-branch/src`);
    expect(missingRef?.status()).toBe(404);
    expect(await textOf(page, '#repo-404')).toContain('No such branch, tag or commit');
    expect(await page.getAttribute('#repo-404-root', 'href')).toBe('/alice/site/tree/main');
    // A private repository stays invisible: the generic 404, no header.
    const carol = await createTestUser(server, { username: 'carol404' });
    expect((await api(server, 'POST', '/user/repos', { token: carol.token, body: { name: 'hidden', private: true, auto_init: true } })).status).toBe(201);
    const hidden = await page.goto(`${server.url}/carol404/hidden/blob/main/README.md`);
    expect(hidden?.status()).toBe(404);
    expect(await page.locator('.repo-head').count()).toBe(0);
    expect(await page.locator('#repo-404').count()).toBe(0);
  });

  it('10. overflow: long branch names stay inside the ref switcher; the fork form reads as one sentence', async () => {
    const page = await newPage();
    await page.goto(`${repo()}/tree/main`);
    await page.click('.ref-switcher summary');
    const panel = (await page.locator('.ref-switcher .dropdown-panel').boundingBox())!;
    const names = await page.$$eval('.ref-switcher .dropdown-item .mono', (els) => els.map((e) => e.getBoundingClientRect().right));
    expect(names.length).toBeGreaterThan(2);
    for (const right of names) expect(right).toBeLessThanOrEqual(panel.x + panel.width);
    expect(await page.getAttribute(`.ref-switcher .dropdown-item[data-filter-text="${LONG_BRANCH}"]`, 'title')).toBe(LONG_BRANCH);
    await screenshot(page, 'issue16-10-ref-switcher');

    // A task (queued: no runner here) and its fork form.
    const created = await api(server, 'POST', '/repos/alice/site/runs', { token: alice.token, body: { prompt: scriptPrompt('say Tidy'), title: 'Tidy' } });
    expect(created.status, created.text).toBe(201);
    // At every width the sentence wraps as text: ", and opens its own draft pull request" stays on the line of
    // the commit before it (a flex row moved the whole phrase onto a line of its own).
    const signed = await newPage();
    await signIn(signed);
    for (const width of [360, 420, 480, 560, 640, 720, 800, 900, 1000, 1100, 1280]) {
      await signed.setViewportSize({ width, height: 900 });
      await signed.goto(`${repo()}/runs/${created.json.number}/fork`);
      const tops = await signed.$eval('.run-fork-from', (p) => {
        const sha = Math.round(p.querySelector('code.sha')!.getBoundingClientRect().top);
        const walker = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
          const i = n.textContent!.indexOf(', and opens');
          if (i >= 0) {
            const r = document.createRange();
            r.setStart(n, i);
            r.setEnd(n, i + 1);
            return [sha, Math.round(r.getBoundingClientRect().top)];
          }
        }
        return [sha, -1];
      });
      expect(tops[0], `width ${width}`).toBeGreaterThan(0);
      expect(Math.abs(tops[1]! - tops[0]!), `width ${width}`).toBeLessThanOrEqual(4);
    }
    await screenshot(signed, 'issue16-10-fork-form');
  }, 60_000);

  it('11. tags page highlights Code (as on GitHub, not Branches); PR commits oldest first; a new pull request is filled in with its commits and diff below', async () => {
    const page = await newPage();
    await page.goto(`${repo()}/tags`);
    expect(await textOf(page, '.tabs .tab.active')).toBe('Code');
    await signIn(page);
    // Choosing a branch opens the compare view: the title from the single commit, its commits and diff below.
    await page.goto(`${repo()}/pulls/new`);
    await Promise.all([page.waitForURL(`${repo()}/compare/main...one-change`), page.selectOption('#pr-head', 'one-change')]);
    expect(await page.inputValue('#pr-title')).toBe('Add the single file');
    expect(await page.$$eval('.commit-title-link', (els) => els.map((e) => e.textContent))).toEqual(['Add the single file']);
    expect(await textOf(page, '.diff-file .diff-path')).toBe('single.txt');
    await screenshot(page, 'issue16-11-new-pull');
    // Several commits: the branch name as the title; without JavaScript the Compare button does it.
    const plain = await newPage({ javaScript: false });
    await signIn(plain);
    await plain.goto(`${repo()}/pulls/new`);
    await plain.selectOption('#pr-head', 'topic');
    await Promise.all([plain.waitForURL(`${repo()}/compare/main...topic`), plain.click('#new-pull-compare')]);
    expect(await plain.inputValue('#pr-title')).toBe('Topic');
    await Promise.all([plain.waitForURL(/\/pull\/\d+$/), plain.click('button:has-text("Create pull request")')]);
    await plain.goto(`${plain.url()}/commits`);
    expect(await plain.$$eval('.commit-title-link', (els) => els.map((e) => e.textContent))).toEqual(['First topic change', 'Second topic change']);
  });

  it('8. merge, token revoke and task cancel ask for confirmation first, without JavaScript', async () => {
    const pr = await api(server, 'POST', '/repos/alice/site/pulls', { token: alice.token, body: { title: 'Single', head: 'one-change', base: 'main' } });
    expect(pr.status, pr.text).toBe(201);
    const page = await newPage({ javaScript: false });
    await signIn(page);
    await page.goto(`${repo()}/pull/${pr.json.number}`);
    await page.click('.merge-form button[type=submit]');
    await page.waitForSelector('#confirm');
    expect(await textOf(page, '#confirm')).toContain(`Merge pull request #${pr.json.number}?`);
    await screenshot(page, 'issue16-08-confirm-merge');
    // Not merged yet; Cancel goes back.
    expect((await api(server, 'GET', `/repos/alice/site/pulls/${pr.json.number}`)).json).toMatchObject({ state: 'open', merged: false });
    expect(await page.getAttribute('#confirm-cancel', 'href')).toBe(`/alice/site/pull/${pr.json.number}`);
    await Promise.all([page.waitForURL(`${repo()}/pull/${pr.json.number}`), page.click('#confirm-submit')]);
    expect((await api(server, 'GET', `/repos/alice/site/pulls/${pr.json.number}`)).json).toMatchObject({ merged: true });

    // A token: the first click only asks.
    const dave = await createTestUser(server, { username: 'dave16' });
    const davePage = await newPage({ javaScript: false });
    await signInAs(davePage, server.url, dave);
    await davePage.goto(`${server.url}/-/settings/tokens`);
    await davePage.locator('.token-item button:has-text("Revoke")').first().click();
    await davePage.waitForSelector('#confirm');
    expect((await api(server, 'GET', '/user', { token: dave.token })).status).toBe(200);
    await Promise.all([davePage.waitForURL(`${server.url}/-/settings/tokens`), davePage.click('#confirm-submit')]);
    expect((await api(server, 'GET', '/user', { token: dave.token })).status).toBe(401);

    // A task: cancelling asks first.
    const run = await api(server, 'POST', '/repos/alice/site/runs', { token: alice.token, body: { prompt: scriptPrompt('say Wait'), title: 'Waiting' } });
    await page.goto(`${repo()}/runs/${run.json.number}`);
    await page.click('#run-cancel');
    await page.waitForSelector('#confirm');
    expect((await api(server, 'GET', `/repos/alice/site/runs/${run.json.number}`)).json.status).toBe('queued');
    await Promise.all([page.waitForURL(`${repo()}/runs/${run.json.number}`), page.click('#confirm-submit')]);
    expect((await api(server, 'GET', `/repos/alice/site/runs/${run.json.number}`)).json.status).toBe('cancelled');
  }, 60_000);
});
