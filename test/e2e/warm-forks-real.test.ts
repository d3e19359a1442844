import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import type { Browser, BrowserContext } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, openPage, screenshot, signInAs, textOf } from '../helpers/browser.ts';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import { createPushedRepo, runScripted, scriptPrompt as script, waitForRun, type PushedRepo } from '../helpers/scriptedRuns.ts';
import type { JobRunner } from '../../src/runner/runner.ts';

const skipReason = browserUnavailableReason() ?? (existsSync('/usr/bin/bwrap') ? null : 'bubblewrap is not installed');
if (skipReason) console.warn(`skipping the real warm-fork browser test: ${skipReason}`);

/**
 * Issue 13's "done when", for real: a scripted run whose `[workspace]` set-up installs a real npm
 * dependency from the registry (`npm ci`), forked from its second step with a new prompt in the
 * browser; the fork boots warm — node_modules there, no install in its trace — and finishes.
 */
const PACKAGE = JSON.stringify({ name: 'warm-real', version: '1.0.0', private: true, dependencies: { ms: '2.1.3' } }, null, 2) + '\n';
const LOCK =
  JSON.stringify(
    {
      name: 'warm-real',
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'warm-real', version: '1.0.0', dependencies: { ms: '2.1.3' } },
        'node_modules/ms': { version: '2.1.3', resolved: 'https://registry.npmjs.org/ms/-/ms-2.1.3.tgz', integrity: 'sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==', license: 'MIT' },
      },
    },
    null,
    2,
  ) + '\n';
const SETUP = 'npm ci --no-audit --no-fund';

describe.skipIf(!!skipReason)('a real warm fork from the browser', () => {
  let server: TestServer;
  let browser: Browser;
  let owner: TestUser;
  let runner: JobRunner;
  let repo: PushedRepo;
  const contexts: BrowserContext[] = [];
  const name = () => `${owner.username}/warmreal`;
  const trace = async (n: number) => ((await api(server, 'GET', `/repos/${name()}/runs/${n}/events`, { token: owner.token })).json.events as { data: { message?: string; command?: string } }[]).map((e) => e.data.message ?? e.data.command ?? '').join('\n');

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    owner = await createTestUser(server);
    repo = await createPushedRepo(server, owner, 'warmreal', { 'package.json': PACKAGE, 'package-lock.json': LOCK, 'gitoku.toml': `[workspace]\nsetup = "${SETUP}"\ncache_key_files = ["package-lock.json"]\n`, '.gitignore': 'node_modules/\n', 'README.md': '# warm, for real\n' });
    runner = await startInProcessRunner(server, 1);
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await runner?.stop();
    await repo?.work.remove();
    await server?.close();
  });

  it('forks from the second step in the browser and boots warm with the installed dependency', async () => {
    const first = await runScripted(server, owner, name(), script('run node -e "require(\'ms\')"\nwrite one.txt\none\nend\nwrite two.txt\ntwo\nend\nsay done'));
    const firstTrace = await trace(first.number);
    expect(first.status, firstTrace).toBe('succeeded');
    expect(firstTrace).toContain(`Setting up the workspace: ${SETUP}`);

    const page = await openPage(browser, contexts, { javaScript: false });
    await signInAs(page, server.url, owner);
    await page.goto(`${server.url}/${name()}/runs/${first.number}`);
    expect(await textOf(page, '#run-workspace')).toBe('cold');
    // Step 2 is the agent's second step (writing one.txt): fork from there with a new prompt.
    expect(await textOf(page, '#step-2')).toMatch(/write one\.txt/);
    await page.click('#step-2 .run-step-fork > summary');
    await page.locator('#step-2-prompt').fill(script('run test -d node_modules/ms && node -e "console.log(require(\'ms\')(60000))"\nrun test -f one.txt && test ! -f two.txt\nwrite three.txt\nthree\nend\nsay forked warm'));
    await Promise.all([page.waitForURL(/\/runs\/\d+$/), page.click('#step-2 button[type=submit]')]);
    const forkNumber = Number(page.url().split('/').pop());
    const forked = await waitForRun(server, owner, name(), forkNumber, 60_000);
    const forkTrace = await trace(forkNumber);
    expect(forked.status, forkTrace).toBe('succeeded');
    expect(forked.workspace_start).toBe('warm');
    expect(forkTrace).toMatch(/warm, from snapshot \S+ \(step 2\)/);
    expect(forkTrace).not.toContain('Setting up the workspace');
    expect(forkTrace).not.toContain('npm ci');
    // The page of the fork, opened while it ran, refreshes itself (a meta refresh, no JavaScript here):
    // a reload can meet that navigation and be aborted, so go to the finished run's page afresh.
    await page.goto(`${server.url}/${name()}/runs/${forkNumber}`).catch(() => page.goto(`${server.url}/${name()}/runs/${forkNumber}`));
    expect(await textOf(page, '#run-workspace')).toBe('warm');
    expect(await textOf(page, '#run-forked-from')).toBe(`Forked from run #${first.number} at step 2`);
    await screenshot(page, 'warm-real-fork');
  }, 240_000);
});
