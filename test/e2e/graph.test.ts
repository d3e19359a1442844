import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, screenshot, signInAs, openPage, textOf } from '../helpers/browser.ts';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import { createPushedRepo, runScripted, scriptPrompt, waitFor, type FinishedRun, type PushedRepo } from '../helpers/scriptedRuns.ts';
import type { JobRunner } from '../../src/runner/runner.ts';

const skipReason = browserUnavailableReason();
if (skipReason) console.warn(`skipping browser tests: ${skipReason}`);

/** Untrusted text in a run's title: shown as text, never run. */
const TITLE = 'Extend the app </script><script>window.__pwned = 1</script>';

describe.skipIf(!!skipReason)(`the knowledge-graph page${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: TestServer;
  let browser: Browser;
  let runner: JobRunner;
  let alice: TestUser;
  let repo: PushedRepo;
  let run: FinishedRun;
  let fork: FinishedRun;
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];
  const repoUrl = () => `${server.url}/alice/prov`;

  beforeAll(async () => {
    server = await startTestServer('sqlite', { GITOKU_JOB_LEASE_MS: '3000' });
    alice = await createTestUser(server, { username: 'alice' });
    repo = await createPushedRepo(server, alice, 'prov', {
      'README.md': '# Provenance\n',
      'src/app.txt': 'one\ntwo\nthree\n',
      'src/lib/util.txt': 'u1\nu2\n',
    });
    runner = await startInProcessRunner(server);
    browser = await launchBrowser();
    // Two turns over three files, then a fork that continues from the result.
    run = await runScripted(
      server,
      alice,
      'alice/prov',
      scriptPrompt(
        [
          'think Plan: extend app and util',
          'append src/app.txt',
          'four',
          'five',
          'end',
          'write src/lib/util.txt',
          'u1',
          'U2 ai',
          'u3 ai',
          'end',
          'say Turn one done',
          'think Plan: add notes',
          'write docs/notes.txt',
          'n1',
          'n2',
          'end',
          'say Turn two done',
        ].join('\n'),
      ),
      { title: TITLE },
    );
    expect(run.status).toBe('succeeded');
    const res = await api(server, 'POST', `/repos/alice/prov/runs/${run.number}/forks`, { token: alice.token, body: { prompt: scriptPrompt('think Plan: six\nappend src/app.txt\nsix\nend\nsay forked'), title: 'Add six' } });
    expect(res.status, res.text).toBe(201);
    fork = await waitFor(async () => {
      const r = await api(server, 'GET', `/repos/alice/prov/runs/${res.json.number}`);
      return ['succeeded', 'failed', 'cancelled'].includes(r.json.status) ? r.json : null;
    });
    expect(fork.status).toBe('succeeded');
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await runner?.stop();
    await repo?.work.remove();
    await server?.close();
  });

  async function newPage(javaScript = true): Promise<Page> {
    const page = await openPage(browser, contexts, { javaScript, width: 1440, height: 1000 });
    // Script errors and CSP violations (an inline style or script would be one) fail the test.
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    return page;
  }

  const text = textOf;
  const viewBox = (page: Page) => page.getAttribute('#graph-svg', 'viewBox');

  /** A point of the drawing (in the viewport) with nothing on it: where a pan starts. */
  async function emptyPoint(page: Page): Promise<{ x: number; y: number }> {
    const point = await page.evaluate(() => {
      const r = document.getElementById('graph-svg')!.getBoundingClientRect();
      for (let y = r.top + r.height * 0.4; y < Math.min(r.bottom, window.innerHeight) - 20; y += 17) {
        for (let x = r.left + 20; x < r.right - 20; x += 23) {
          const hit = document.elementFromPoint(x, y);
          if (hit && hit.classList.contains('gk-backdrop')) return { x, y };
        }
      }
      return null;
    });
    if (!point) throw new Error('no empty point in the drawing');
    return point;
  }

  it("draws a run's graph, selects nodes into the side panel and recentres on one", async () => {
    const page = await newPage();
    await signInAs(page, server.url, alice);
    await page.goto(`${repoUrl()}/runs/${run.number}`);
    await Promise.all([page.waitForURL(/\/graph\?run=/), page.click('#run-graph')]);
    expect(page.url()).toBe(`${repoUrl()}/graph?run=${run.number}`);
    await page.waitForSelector('#graph-svg.is-ready', { timeout: 5000 }).catch((err) => {
      throw new Error(`${err}\n${problems.join('\n')}`);
    });

    // Nodes of every kind the run touched, the root highlighted, directed edges with arrowheads.
    for (const kind of ['run', 'evidence', 'file_range', 'commit', 'pull_request']) expect(await page.locator(`#graph-svg .gk-node[data-kind="${kind}"]`).count(), kind).toBeGreaterThan(0);
    expect(await page.locator('#graph-svg .gk-node.is-root').getAttribute('data-kind')).toBe('run');
    expect(await page.locator('#graph-svg .gk-node[data-kind="run"]').count()).toBe(2);
    expect(await page.locator('#graph-svg .gk-edge[data-kind="forked_from"]').count()).toBe(1);
    expect(await page.locator('#graph-svg .gk-edge-line[marker-end]').count()).toBe(await page.locator('#graph-svg .gk-edge').count());
    expect(await page.locator('#graph-svg .gk-edge title').first().textContent()).toMatch(/—[a-z_]+→/);
    expect(await page.locator('#graph-legend li').count()).toBeGreaterThanOrEqual(5);
    expect(await page.isVisible('#graph-note')).toBe(false);
    // The panel starts on the root; the title is text, nothing ran.
    expect(await text(page, '#graph-panel .gk-panel-title')).toBe(`Run #${run.number} · ${TITLE}`);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await screenshot(page, 'graph-run');

    // Click a range of src/app.txt: its details and links fill the panel.
    const range = page.locator('#graph-svg .gk-node[data-kind="file_range"]', { hasText: 'app.txt:4–5' });
    const rangeId = await range.getAttribute('data-node-id');
    await range.locator('.gk-node-dot').click();
    expect(await range.getAttribute('class')).toContain('is-selected');
    await page.waitForSelector(`#graph-panel .gk-panel-body[data-node-id="${rangeId}"]`);
    expect(await text(page, '#graph-panel .gk-panel-title')).toBe(`src/app.txt:L4–L5 @ ${run.commit_sha.slice(0, 7)}`);
    expect(await text(page, '#graph-panel .gk-kind-badge')).toBe('File range');
    expect(await page.getAttribute('#graph-panel .gk-open', 'href')).toBe(`/alice/prov/blob/${run.commit_sha}/src/app.txt#L4-L5`);
    const fields = await page.$$eval('#graph-panel .gk-fields dt', (dts) => dts.map((dt) => [dt.textContent, dt.nextElementSibling?.textContent]));
    // People-facing fields only, with links: no node ids, keys or database ids (issue 16).
    expect(fields).toEqual([['File', 'src/app.txt'], ['Lines', 'L4–L5'], ['Commit', run.commit_sha.slice(0, 7)]]);
    expect(await page.getAttribute('#graph-panel .gk-fields a:text-is("L4–L5")', 'href')).toBe(`/alice/prov/blob/${run.commit_sha}/src/app.txt#L4-L5`);
    // Its edges are highlighted and labelled.
    expect(await page.locator('#graph-svg .gk-edge.is-active').count()).toBeGreaterThan(0);
    expect(await text(page, '#graph-panel .gk-panel-edges')).toContain('derived_from');

    // Keyboard: nodes are focusable and Enter selects.
    const commit = page.locator('#graph-svg .gk-node[data-kind="commit"]').first();
    await commit.focus();
    await page.keyboard.press('Enter');
    expect(await text(page, '#graph-panel .gk-kind-badge')).toBe('Commit');
    expect(await page.getAttribute('#graph-panel .gk-open', 'href')).toMatch(/^\/alice\/prov\/commit\/[0-9a-f]{40}$/);

    // Wheel zoom and drag pan change the viewBox; dragging a node moves it.
    const before = await viewBox(page);
    const spot = await emptyPoint(page);
    await page.mouse.move(spot.x, spot.y);
    await page.mouse.wheel(0, -400);
    await page.waitForFunction((vb) => document.getElementById('graph-svg')!.getAttribute('viewBox') !== vb, before);
    const zoomed = (await viewBox(page))!.split(' ').map(Number);
    expect(zoomed[2]).toBeLessThan(Number(before!.split(' ')[2]));
    const start = await emptyPoint(page);
    await page.mouse.move(start.x, start.y);
    await page.mouse.down();
    await page.mouse.move(start.x + 100, start.y - 50, { steps: 5 });
    await page.mouse.up();
    const panned = (await viewBox(page))!.split(' ').map(Number);
    expect(panned[0]).toBeLessThan(zoomed[0]!);
    expect(panned[1]).toBeGreaterThan(zoomed[1]!);
    await page.click('[data-zoom="fit"]');
    const node = page.locator('#graph-svg .gk-node[data-kind="pull_request"]').first();
    const t0 = await node.getAttribute('transform');
    const nb = (await node.locator('.gk-node-dot').boundingBox())!;
    await page.mouse.move(nb.x + nb.width / 2, nb.y + nb.height / 2);
    await page.mouse.down();
    await page.mouse.move(nb.x + 80, nb.y + 60, { steps: 5 });
    await page.mouse.up();
    expect(await node.getAttribute('transform')).not.toBe(t0);
    // A drag is not a click: the selection stays on the commit.
    expect(await text(page, '#graph-panel .gk-kind-badge')).toBe('Commit');

    // Select the range again through the panel's connection links, then recentre on it.
    await range.locator('.gk-node-dot').click({ force: true });
    await page.waitForSelector(`#graph-panel .gk-panel-body[data-node-id="${rangeId}"]`);
    await Promise.all([page.waitForURL(/\/graph\?node=\d+$/), page.click('#graph-panel .gk-centre')]);
    expect(page.url()).toBe(`${repoUrl()}/graph?node=${rangeId}`);
    await page.waitForSelector('#graph-svg.is-ready');
    expect(await page.locator('#graph-svg .gk-node.is-root').getAttribute('data-node-id')).toBe(rangeId);
    expect(await text(page, '#graph-panel .gk-panel-title')).toBe(`src/app.txt:L4–L5 @ ${run.commit_sha.slice(0, 7)}`);
    expect(await text(page, 'h1.gk-title')).toContain('src/app.txt:L4–L5');
    await screenshot(page, 'graph-node');
    expect(problems).toEqual([]);
  });

  it("a file's graph from the blob page: its ranges under the file, across both runs", async () => {
    const page = await newPage();
    await page.goto(`${repoUrl()}/blob/${fork.compare_branch}/src/app.txt`);
    await Promise.all([page.waitForURL(/\/graph\?path=/), page.click('#graph-link')]);
    await page.waitForSelector('#graph-svg.is-ready');
    expect(await page.locator('#graph-svg .gk-node.is-root').getAttribute('data-kind')).toBe('file');
    const ranges = await page.$$eval('#graph-svg .gk-node[data-kind="file_range"] .gk-node-label', (els) => els.map((e) => e.textContent));
    expect(ranges).toEqual(expect.arrayContaining(['app.txt:4–5', 'app.txt:6']));
    expect(await page.locator('#graph-svg .gk-edge[data-kind="contains"]').count()).toBe(2);
    expect(await page.locator('#graph-svg .gk-node[data-kind="run"]').count()).toBe(2);
    expect(await text(page, '#graph-panel .gk-panel-title')).toBe('src/app.txt');
    await screenshot(page, 'graph-file');

    // The overview.
    await page.goto(`${repoUrl()}/graph`);
    expect(await page.locator('#graph-stats .gk-stat').count()).toBeGreaterThanOrEqual(6);
    await page.fill('#graph-path', 'src/lib/util.txt');
    await Promise.all([page.waitForURL(/\/graph\?path=src%2Flib%2Futil\.txt$/), page.click('.gk-file-form button[type=submit]')]);
    await page.waitForSelector('#graph-svg.is-ready');
    expect(await page.locator('#graph-svg .gk-edge[data-kind="contains"]').count()).toBe(1);
    expect(await page.locator('#graph-svg .gk-node[data-kind="file_range"]', { hasText: 'util.txt:2–3' }).count()).toBe(1);
    await page.goto(`${repoUrl()}/graph`);
    await screenshot(page, 'graph-index');
    expect(problems).toEqual([]);
  });

  it('without JavaScript: every node and edge as links', async () => {
    const page = await newPage(false);
    await page.goto(`${repoUrl()}/graph?run=${run.number}`);
    expect(await page.isVisible('#graph-note')).toBe(true);
    expect(await page.locator('#graph-svg .gk-node').count()).toBe(0);
    const items = page.locator('#graph-nodes .gk-item');
    expect(await items.count()).toBeGreaterThan(8);
    expect(await page.getAttribute(`#graph-nodes .gk-item[data-kind="run"] a.gk-item-label >> text=Run #${run.number}`, 'href')).toBe(`/alice/prov/runs/${run.number}`);
    const edgeLines = await page.$$eval('#graph-edges li', (lis) => lis.map((li) => (li.textContent ?? '').replace(/\s+/g, ' ').trim()));
    expect(edgeLines).toEqual(expect.arrayContaining([`Run #${fork.number} · Add six —forked_from→ Run #${run.number} · ${TITLE}`]));
    // The panel shows the root, its links work without script.
    expect(await page.getAttribute('#graph-panel .gk-centre', 'href')).toMatch(/\/alice\/prov\/graph\?node=\d+$/);
    expect(problems).toEqual([]);
  });
});
