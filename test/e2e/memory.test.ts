import { mkdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, openPage, signInAs, textOf } from '../helpers/browser.ts';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { commitFiles, gitOk } from '../helpers/git.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import { createPushedRepo, runScripted, scriptPrompt, waitFor, type PushedRepo } from '../helpers/scriptedRuns.ts';
import type { JobRunner } from '../../src/runner/runner.ts';

const skipReason = browserUnavailableReason();
if (skipReason) console.warn(`skipping browser tests: ${skipReason}`);

const SHOTS = '/tmp/shots/memory';
const XSS = '<img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script>';
const MANIFEST = '[agent.docs]\nname = "Docs"\ndriver = "script"\ninstructions_file = ".gitoku/docs.md"\n';

async function shot(page: Page, name: string): Promise<void> {
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

describe.skipIf(!!skipReason)(`the Memory tab${skipReason ? ` (skipped: ${skipReason})` : ''}`, { timeout: 120_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let runner: JobRunner;
  let alice: TestUser;
  let repo: PushedRepo;
  const contexts: BrowserContext[] = [];
  const memory = () => `${server.url}/alice/notes/memory`;

  async function addEntry(page: Page, values: { kind?: string; subject: string; fact: string; reason?: string; citations?: string; agent?: string }): Promise<void> {
    await page.goto(memory());
    await page.click('#memory-new > summary');
    if (values.kind) await page.selectOption('#memory-new-kind', values.kind);
    await page.fill('#memory-new-subject', values.subject);
    await page.fill('#memory-new-fact', values.fact);
    if (values.reason) await page.fill('#memory-new-reason', values.reason);
    if (values.citations) await page.fill('#memory-new-citations', values.citations);
    if (values.agent) await page.fill('#memory-new-agent', values.agent);
    await Promise.all([page.waitForURL(/\/memory(\/\d+)?(#memory-\d+)?$/), page.click('#memory-new-submit')]);
  }

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    alice = await createTestUser(server, { username: 'alice' });
    repo = await createPushedRepo(server, alice, 'notes', {
      'README.md': '# Notes\n',
      'lib/x.js': 'export function parseDate(s) {\n  return new Date(s);\n}\n',
      'gitoku.toml': MANIFEST,
      '.gitoku/docs.md': 'Keep the docs true.\n',
    });
    runner = await startInProcessRunner(server);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await runner?.stop();
    await repo?.work.remove();
    await server?.close();
  });

  it('adds, edits, pins, searches and deletes an entry', async () => {
    const page = await openPage(browser, contexts);
    await signInAs(page, server.url, alice);
    await page.goto(`${server.url}/alice/notes`);
    await Promise.all([page.waitForURL(memory()), page.click('nav.tabs a:has-text("Memory")')]);
    expect(await page.getAttribute('nav.tabs a.tab.active', 'href')).toBe('/alice/notes/memory');
    expect(await textOf(page, '.empty-state h3')).toBe('No memory yet');
    await shot(page, '01-empty');

    await addEntry(page, { kind: 'decision', subject: 'date parsing', fact: `Parse dates with new Date(), never with regexes ${XSS}`, reason: 'Regexes broke on ISO week dates', citations: 'lib/x.js:1-2' });
    expect(await textOf(page, '#memory-count')).toBe('1 entry');
    const id = Number(await page.getAttribute('#memory-list .mem-entry', 'data-id'));
    const card = `#memory-${id}`;
    expect(await textOf(page, `${card} .mem-kind`)).toBe('Decision');
    expect(await textOf(page, `${card} .mem-fact`)).toContain('never with regexes <img src=x');
    expect(await page.$(`${card} .mem-fact img`)).toBeNull();
    expect(await textOf(page, `${card} .mem-cite`)).toMatch(/^lib\/x\.js:L1–L2 @ [0-9a-f]{7}$/);
    expect(await page.evaluate('window.__xss')).toBeUndefined();
    await shot(page, '02-added');

    // The citation opens the file at the cited lines.
    await Promise.all([page.waitForURL(/\/blob\/[0-9a-f]{40}\/lib\/x\.js#L1-L2$/), page.click(`${card} .mem-cite`)]);
    await page.goBack();

    // Edit on the entry's page.
    await Promise.all([page.waitForURL(new RegExp(`/memory/${id}#edit$`)), page.click(`${card} .mem-edit`)]);
    await page.fill('#memory-edit-fact', 'Parse dates with new Date(); regexes are rejected');
    await page.fill('#memory-edit-agent', 'docs');
    await Promise.all([page.waitForURL(new RegExp(`/memory/${id}$`)), page.click('#memory-edit-submit')]);
    expect(await textOf(page, '.flash')).toBe(`Entry #${id} saved.`);
    expect(await textOf(page, '.mem-fact')).toBe('Parse dates with new Date(); regexes are rejected');
    expect(await textOf(page, '.mem-scope-agent')).toBe('@docs');
    await shot(page, '03-edited');

    // Pin it from the list.
    await page.goto(memory());
    await Promise.all([page.waitForURL(memory()), page.click(`${card} .mem-pin`)]);
    expect(await textOf(page, `${card} .mem-pinned`)).toBe('Pinned');
    expect(await textOf(page, `${card} .mem-pin`)).toBe('Unpin');

    // A second entry, then search: only the match is listed.
    await addEntry(page, { kind: 'convention', subject: 'indentation', fact: 'Two spaces, no tabs' });
    expect(await textOf(page, '#memory-count')).toBe('2 entries');
    await page.fill('#memory-q', 'regexes');
    await Promise.all([page.waitForURL(/\?q=regexes/), page.click('#memory-search')]);
    expect(await textOf(page, '#memory-count')).toBe('1 entry');
    expect(await page.$$eval('#memory-list .mem-entry', (els) => els.map((e) => e.getAttribute('data-id')))).toEqual([String(id)]);
    await shot(page, '04-search');

    // The agent's memory, from the Agents tab.
    await page.goto(`${server.url}/alice/notes/agents`);
    await Promise.all([page.waitForURL(/\/memory\?agent=docs$/), page.click('#agent-docs .ag-memory')]);
    expect(await textOf(page, '.page-title')).toBe('Memory of @docs');
    expect(await textOf(page, '#memory-count')).toBe('1 entry');

    // Delete, through the confirmation step.
    await page.goto(memory());
    const other = Number(await page.getAttribute('#memory-list .mem-entry:not([data-id="' + id + '"])', 'data-id'));
    await Promise.all([page.waitForSelector('#confirm'), page.click(`#memory-${other} .mem-delete`)]);
    expect(await textOf(page, '#confirm-title')).toBe(`Delete memory entry #${other}?`);
    await shot(page, '05-delete-confirm');
    await Promise.all([page.waitForURL(memory()), page.click('#confirm-submit')]);
    expect(await textOf(page, '.flash')).toBe(`Entry #${other} deleted.`);
    expect(await page.$(`#memory-${other}`)).toBeNull();
    expect(await textOf(page, '#memory-count')).toBe('1 entry');
  });

  it('flags a contradiction (and notices it on a pull request), resolved with "supersedes"', async () => {
    // An open pull request that changes the file both entries cite.
    await gitOk(repo.work.path, ['checkout', '-q', '-b', 'retry-tuning']);
    await commitFiles(repo.work.path, { 'lib/x.js': 'export function parseDate(s) {\n  return new Date(Date.parse(s));\n}\n' }, 'Tune parsing');
    await gitOk(repo.work.path, ['push', '-q', repo.remote, 'retry-tuning']);
    const pr = await api(server, 'POST', '/repos/alice/notes/pulls', { token: alice.token, body: { title: 'Tune parsing', head: 'retry-tuning', base: 'main' } });
    expect(pr.status, pr.text).toBe(201);

    const page = await openPage(browser, contexts);
    await signInAs(page, server.url, alice);
    await addEntry(page, { subject: 'Retries', fact: 'The client retries three times', citations: 'lib/x.js:2' });
    const first = Number(/#memory-(\d+)$/.exec(page.url())![1]);
    await addEntry(page, { subject: 'retries', fact: 'The client never retries', citations: 'lib/x.js:2' });
    expect(page.url()).toMatch(/\/memory\/\d+$/);
    const second = Number(page.url().split('/').pop());
    expect(await textOf(page, '.flash')).toContain(`contradicts #${first}`);
    expect(await textOf(page, `#memory-${second} .mem-flag`)).toBe('Contradiction');
    expect(await textOf(page, `#memory-${second}-contradiction`)).toContain('The client retries three times');

    await page.goto(`${memory()}?status=contradiction`);
    expect(await page.$$eval('#memory-list .mem-entry', (els) => els.map((e) => Number(e.getAttribute('data-id'))).sort((a, b) => a - b))).toEqual([first, second]);
    await shot(page, '06-contradiction-flagged');

    // The pull request that touches lib/x.js got the notice, once.
    const notice = await waitFor(async () => {
      const list = (await api(server, 'GET', `/repos/alice/notes/issues/${pr.json.number}/comments`, { token: alice.token })).json as { body: string }[];
      const notices = list.filter((c) => c.body.includes('Memory contradiction'));
      // An empty list is truthy: wait for the behavior's notice itself.
      return notices.length ? notices : null;
    });
    expect(notice).toHaveLength(1);
    await page.goto(`${server.url}/alice/notes/pull/${pr.json.number}`);
    expect(await page.textContent('body')).toContain('Memory contradiction');
    await shot(page, '07-pull-request-notice');
    await Promise.all([page.waitForURL(new RegExp(`/memory/${first}$`)), page.click(`a[href$="/memory/${first}"]`)]);

    // Resolve from the newer entry's page: it supersedes the older one.
    await page.goto(`${memory()}/${second}`);
    await Promise.all([page.waitForURL(new RegExp(`/memory/${second}$`)), page.click(`#memory-${second} .mem-supersede`)]);
    expect(await textOf(page, '.flash')).toBe(`Entry #${second} supersedes #${first}.`);
    expect(await page.$(`#memory-${second} .mem-flag`)).toBeNull();
    expect(await page.$(`#memory-${second}-contradiction`)).toBeNull();
    await page.goto(memory());
    expect(await textOf(page, `#memory-${first} .mem-status`)).toBe('superseded');
    expect(await textOf(page, `#memory-${second} .mem-status`)).toBe('live');
    await shot(page, '08-resolved');
  });

  it('shows what a run knew on its page, and reads well on a phone', async () => {
    const run = await runScripted(server, alice, 'alice/notes', scriptPrompt('say done', 'Fix the retries of the client in lib/x.js'), { title: 'Fix retries' });
    expect(run.status).toBe('succeeded');
    const page = await openPage(browser, contexts);
    await signInAs(page, server.url, alice);
    await page.goto(`${server.url}/alice/notes/runs/${run.number}`);
    expect(await textOf(page, '#run-memory-title')).toBe('What this run knew');
    expect(await page.$$('#run-memory .run-memory-item')).not.toHaveLength(0);
    await page.click('#run-memory .run-memory-section > summary');
    expect(await textOf(page, '#run-memory-section')).toContain('What this repository remembers');
    await page.locator('#run-memory').screenshot({ path: `${SHOTS}/09-run-knew.png` });

    const phone = await openPage(browser, contexts, { mobile: true });
    await signInAs(phone, server.url, alice);
    await phone.goto(memory());
    await phone.click('#memory-new > summary');
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(phone, '10-phone');
  });
});
