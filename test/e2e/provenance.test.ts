import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, screenshot, openPage, textOf } from '../helpers/browser.ts';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import type { JobRunner } from '../../src/runner/runner.ts';
import { waitFor } from '../helpers/scriptedRuns.ts';

const skipReason = browserUnavailableReason();
if (skipReason) console.warn(`skipping browser tests: ${skipReason}`);

/** Untrusted prompt text: it must show as text, never run. */
const PROMPT_MARK = 'Extend the <b>app</b> file <script>window.__pwned = 1</script>';

describe.skipIf(!!skipReason)(`AI provenance pages${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: TestServer;
  let browser: Browser;
  let runner: JobRunner;
  let alice: TestUser;
  let work: { path: string; remove(): Promise<void> };
  const contexts: BrowserContext[] = [];
  const repoUrl = () => `${server.url}/alice/prov`;
  let run: { number: number; commit_sha: string; compare_branch: string; model: string; pull_request: { number: number } };
  let humanSha = '';

  beforeAll(async () => {
    server = await startTestServer('sqlite', { GITOKU_JOB_LEASE_MS: '3000' });
    alice = await createTestUser(server, { username: 'alice' });
    const created = await api(server, 'POST', '/user/repos', { token: alice.token, body: { name: 'prov' } });
    expect(created.status, created.text).toBe(201);
    work = await tempDir();
    const remote = authUrl(server.url, 'alice/prov.git', alice.username, alice.token);
    await initWorkRepo(work.path, { 'README.md': '# Provenance\n', 'src/app.txt': 'one\ntwo\nthree\n' });
    await gitOk(work.path, ['push', '-q', remote, 'main']);
    runner = await startInProcessRunner(server);
    browser = await launchBrowser();

    // A scripted agent appends three lines in one turn…
    const body = ['think Plan: append <three> lines & keep it short', 'append src/app.txt', 'ai four', 'ai five', 'ai six', 'end', 'say Done'].join('\n');
    const res = await api(server, 'POST', '/repos/alice/prov/runs', { token: alice.token, body: { prompt: `${PROMPT_MARK}\n\n\`\`\`gitoku-script\n${body}\n\`\`\`\n`, title: 'Extend app' } });
    expect(res.status, res.text).toBe(201);
    run = await waitFor(async () => {
      const r = await api(server, 'GET', `/repos/alice/prov/runs/${res.json.number}`);
      return ['succeeded', 'failed', 'cancelled'].includes(r.json.status) ? r.json : null;
    });
    expect(run).toMatchObject({ status: 'succeeded' });
    // …then a human rewrites the middle one on the same branch.
    await gitOk(work.path, ['fetch', '-q', remote, run.compare_branch]);
    await gitOk(work.path, ['checkout', '-q', '-B', 'work', 'FETCH_HEAD']);
    humanSha = await commitFiles(work.path, { 'src/app.txt': 'one\ntwo\nthree\nai four\nhuman five\nai six\n' }, 'Human edit');
    await gitOk(work.path, ['push', '-q', remote, `work:refs/heads/${run.compare_branch}`]);
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await runner?.stop();
    await work?.remove();
    await server?.close();
  });

  const newPage = (javaScript = true) => openPage(browser, contexts, { javaScript });

  const text = textOf;

  it('blame: an AI gutter on the agent\'s lines (not the human-edited one) with a popover of the capture', async () => {
    const page = await newPage();
    const res = await page.goto(`${repoUrl()}/blame/${run.compare_branch}/src/app.txt`);
    expect(res?.status()).toBe(200);
    const aiRows = await page.$$eval('tr[id^="L"]', (rows) => rows.filter((r) => r.querySelector('.ai-gutter.ai-on')).map((r) => r.id));
    expect(aiRows).toEqual(['L4', 'L6']);
    // One badge per range, each with the model.
    expect(await page.locator('.ai-gutter .ai-pop').count()).toBe(2);
    expect(await text(page, '#L4 .ai-badge')).toContain(`script · ${run.model}`);
    expect(await page.locator('#L5 .ai-badge').count()).toBe(0);
    expect(await page.locator('#L1 .ai-badge').count()).toBe(0);

    await page.click('#L4 .ai-pop-summary');
    const panel = page.locator('#L4 .ai-pop-panel');
    expect(await panel.isVisible()).toBe(true);
    expect(await panel.locator('.ai-prompt').textContent()).toContain(PROMPT_MARK);
    expect(await panel.locator('.ai-thinking').textContent()).toBe('Plan: append <three> lines & keep it short');
    expect((await panel.locator('.ai-facts').innerText()).replace(/\s+/g, ' ')).toMatch(/Evidence gitoku agent run Confidence 100% Commit [0-9a-f]{7} Links Run #\d+ · PR #\d+/);
    expect(await panel.locator('.ai-run-link').getAttribute('href')).toBe(`/alice/prov/runs/${run.number}`);
    expect(await panel.locator('.ai-pr-link').getAttribute('href')).toBe(`/alice/prov/pull/${run.pull_request.number}`);
    // The prompt's markup is text: nothing ran, no <b> element was made.
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await panel.locator('b').count()).toBe(0);
    await screenshot(page, 'provenance-blame');

    // Without JavaScript the popover still opens (a <details>).
    const plain = await newPage(false);
    await plain.goto(`${repoUrl()}/blame/${run.compare_branch}/src/app.txt`);
    await plain.click('#L6 .ai-pop-summary');
    expect(await plain.locator('#L6 .ai-pop-panel').isVisible()).toBe(true);
  });

  it('commit page: a panel listing the commit\'s captures with their spans', async () => {
    const page = await newPage();
    await page.goto(`${repoUrl()}/commit/${run.commit_sha}`);
    const panel = page.locator('#ai-captures');
    expect(await panel.count()).toBe(1);
    expect(await page.locator('#ai-captures .ai-capture-item').count()).toBe(1);
    const t = await text(page, '#ai-captures');
    expect(t).toContain(`script · ${run.model}`);
    expect(t).toContain('gitoku agent run · confidence 100%');
    expect(t).toContain('src/app.txt L4–6');
    expect(await panel.locator('.ai-run-link').getAttribute('href')).toBe(`/alice/prov/runs/${run.number}`);
    await page.click('#ai-captures .ai-prompt-details > summary');
    expect(await panel.locator('.ai-prompt').textContent()).toContain(PROMPT_MARK);
    await screenshot(page, 'provenance-commit');
    // The panel leads to the commit's neighbourhood in the knowledge graph: its evidence and the run behind it.
    await page.click('#ai-graph-link');
    await page.waitForSelector('#graph-svg');
    const listed = await page.$$eval('#graph-nodes a', (links) => links.map((a) => a.textContent ?? ''));
    expect(listed.join('\n')).toContain(`Run #${run.number}`);
    await page.goBack();

    // The human commit has none.
    await page.goto(`${repoUrl()}/commit/${humanSha}`);
    expect(await page.locator('#ai-captures').count()).toBe(0);
  });

  it('file view: "Highlight AI-written lines" marks the AI-written rows', async () => {
    const page = await newPage();
    await page.goto(`${repoUrl()}/blob/${run.compare_branch}/src/app.txt`);
    expect(await text(page, '#ai-toggle')).toBe('Highlight AI-written lines');
    expect(await page.locator('tr.ai-line').count()).toBe(0);
    await Promise.all([page.waitForURL(/\?ai=1$/), page.click('#ai-toggle')]);
    const marked = await page.$$eval('tr.ai-line', (rows) => rows.map((r) => r.id));
    expect(marked).toEqual(['L4', 'L6']);
    expect(await text(page, '#ai-legend')).toContain('2 of 6 lines written by AI');
    expect(await text(page, '#ai-toggle')).toBe('Hide AI-written lines');
    await screenshot(page, 'provenance-file');
  });

  it('pull request files: AI-written added lines are marked, with the badge and popover', async () => {
    const page = await newPage();
    await page.goto(`${repoUrl()}/pull/${run.pull_request.number}/files`);
    const marked = await page.$$eval('.diff-table tr.dl-ai', (rows) => rows.map((r) => r.querySelectorAll('td.dn')[1]?.getAttribute('data-n')));
    expect(marked).toEqual(['4', '6']);
    const added = await page.$$eval('.diff-table tr.dl-add', (rows) => rows.map((r) => r.querySelectorAll('td.dn')[1]?.getAttribute('data-n')));
    expect(added).toEqual(['4', '5', '6']);
    expect(await page.locator('.diff-table .diff-ai-mark .ai-pop').count()).toBe(2);
    await page.locator('.diff-table .diff-ai-mark .ai-pop-summary').first().click();
    const panel = page.locator('.diff-table .ai-pop[open] .ai-pop-panel');
    expect(await panel.isVisible()).toBe(true);
    expect(await panel.locator('.ai-prompt').textContent()).toContain(PROMPT_MARK);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await screenshot(page, 'provenance-pull-files');
  });

  it('file history: "AI changes only" lists just the commits with AI provenance for the file', async () => {
    const page = await newPage();
    await page.goto(`${repoUrl()}/commits/${run.compare_branch}?path=src/app.txt`);
    const all = await page.$$eval('a[href*="/commit/"]', (as) => [...new Set(as.map((a) => /\/commit\/([0-9a-f]{40})/.exec(a.getAttribute('href') ?? '')?.[1]).filter(Boolean))]);
    expect(all).toEqual(expect.arrayContaining([run.commit_sha, humanSha]));
    await Promise.all([page.waitForURL(/ai=1/), page.click('#ai-history-only')]);
    const ai = await page.$$eval('a[href*="/commit/"]', (as) => [...new Set(as.map((a) => /\/commit\/([0-9a-f]{40})/.exec(a.getAttribute('href') ?? '')?.[1]).filter(Boolean))]);
    expect(ai).toEqual([run.commit_sha]);
    await screenshot(page, 'provenance-history');
  });

  it('a private repository\'s provenance pages are 404 to others', async () => {
    const created = await api(server, 'POST', '/user/repos', { token: alice.token, body: { name: 'secret', private: true } });
    expect(created.status, created.text).toBe(201);
    await gitOk(work.path, ['push', '-q', authUrl(server.url, 'alice/secret.git', alice.username, alice.token), 'work:refs/heads/main']);
    // The content is there (its owner sees it)…
    expect((await api(server, 'GET', '/repos/alice/secret/ai-blame/main/src/app.txt', { token: alice.token })).status).toBe(200);
    // …but not to anyone else.
    const page = await newPage();
    for (const path of ['blame/main/src/app.txt', 'blob/main/src/app.txt?ai=1', 'commits/main?path=src/app.txt&ai=1']) {
      expect((await page.goto(`${server.url}/alice/secret/${path}`))?.status()).toBe(404);
    }
  });
});
