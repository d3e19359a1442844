import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, openPage, screenshot, signInAs, textOf } from '../helpers/browser.ts';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { commitFiles, gitOk } from '../helpers/git.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import { createPushedRepo, waitFor } from '../helpers/scriptedRuns.ts';
import type { JobRunner } from '../../src/runner/runner.ts';

const skipReason = browserUnavailableReason();
if (skipReason) console.warn(`skipping browser tests: ${skipReason}`);

const MANIFEST = `[agent.reviewer]
name = "Reviewer"
description = "Reviews every pull request into main"
driver = "script"
events = ["pull_request.opened", "pull_request.synchronize"]
branches = ["main"]
instructions_file = ".gitoku/agents/reviewer.md"
`;
const REVIEWER = '# Reviewer\n\nYou review pull requests. **Be kind.**\n\n<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">\n\n```gitoku-script\nwrite REVIEW.md\nLooks good.\nend\nsay reviewed\n```\n';
const DOCS = '---\nname: Docs\ndescription: Keeps the README true\ntools: ["edit"]\nmodel: sonnet\n---\n## Docs agent\n\nYou keep the README true.\n\n```gitoku-script\nappend README.md\nUpdated by the docs agent.\nend\nsay README updated\n```\n';

describe.skipIf(!!skipReason)(`the Agents tab${skipReason ? ` (skipped: ${skipReason})` : ''}`, { timeout: 120_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let runner: JobRunner;
  let alice: TestUser;
  let work: { path: string; remove(): Promise<void> };
  let remote: string;
  const contexts: BrowserContext[] = [];
  const path = (p: string) => `/repos/alice/agents${p}`;

  async function agentRun(key: string, base: string) {
    return waitFor(async () => {
      const row = await server.app.db.selectFrom('prompt_pull_request_jobs').selectAll().where('agent_key', '=', key).where('base_branch', '=', base).executeTakeFirst();
      return row && ['succeeded', 'failed'].includes(row.status) ? row : null;
    });
  }

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    alice = await createTestUser(server, { username: 'alice' });
    ({ work, remote } = await createPushedRepo(server, alice, 'agents', {
      'README.md': '# Agents demo\n',
      'AGENTS.md': '# House rules\n\nKeep commits small.\n',
      'gitoku.toml': MANIFEST,
      '.gitoku/agents/reviewer.md': REVIEWER,
      '.github/agents/docs.agent.md': DOCS,
    }));
    runner = await startInProcessRunner(server, 2);
    browser = await launchBrowser();

    // The "Done when" scenario: a pull request runs reviewer; @docs in a comment produces a child PR.
    await gitOk(work.path, ['checkout', '-q', '-b', 'feature/login']);
    await commitFiles(work.path, { 'src/login.txt': 'login\n' }, 'Add login');
    await gitOk(work.path, ['push', '-q', remote, 'feature/login']);
    const pr = await api(server, 'POST', path('/pulls'), { token: alice.token, body: { title: 'Add login', head: 'feature/login', base: 'main' } });
    await api(server, 'POST', path(`/issues/${pr.json.number}/comments`), { token: alice.token, body: { body: '@docs update the README' } });
    const [review, docs] = await Promise.all([agentRun('reviewer', 'feature/login'), agentRun('docs', 'feature/login')]);
    // One child PR merged, one closed: the record shows 1 of 2.
    const docsPr = (await server.app.db.selectFrom('pull_requests').select('number').where('id', '=', docs.pull_request_id!).executeTakeFirstOrThrow()).number;
    const reviewPr = (await server.app.db.selectFrom('pull_requests').select('number').where('id', '=', review.pull_request_id!).executeTakeFirstOrThrow()).number;
    await api(server, 'PATCH', path(`/pulls/${docsPr}`), { token: alice.token, body: { draft: false } });
    await waitFor(async () => (await api(server, 'GET', path(`/pulls/${docsPr}`))).json.mergeable_state === 'clean');
    const merged = await api(server, 'PUT', path(`/pulls/${docsPr}/merge`), { token: alice.token, body: {} });
    expect(merged.status, merged.text).toBe(200);
    await api(server, 'PATCH', path(`/pulls/${reviewPr}`), { token: alice.token, body: { state: 'closed' } });

    // A branch with broken definitions.
    await gitOk(work.path, ['checkout', '-q', 'main']);
    await gitOk(work.path, ['checkout', '-q', '-b', 'broken']);
    await commitFiles(work.path, { 'gitoku.toml': `${MANIFEST}\n[agent.ghost]\ninstructions_file = "nowhere.md"\n`, '.claude/agents/bad.md': '---\nname: [unclosed\n---\nbody\n' }, 'Break agents');
    await gitOk(work.path, ['push', '-q', remote, 'broken']);
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await runner?.stop();
    await work?.remove();
    await server?.close();
  });

  it('shows both agents with their source files, records, runs and rendered (sanitized) instructions', async () => {
    const page = await openPage(browser, contexts);
    await signInAs(page, server.url, alice);
    await page.goto(`${server.url}/alice/agents`);
    await page.click('nav.tabs a:has-text("Agents")');
    await page.waitForURL(`${server.url}/alice/agents/agents`);
    expect(await page.getAttribute('nav.tabs a.tab.active', 'href')).toBe('/alice/agents/agents');
    expect(await textOf(page, '#ag-count')).toBe('2 agents');
    const keys = await page.$$eval('#agent-list .ag-card', (cards) => cards.map((c) => c.getAttribute('data-key')));
    expect(keys).toEqual(['docs', 'reviewer']);
    expect(await textOf(page, '#agent-docs .ag-source')).toBe('.github/agents/docs.agent.md');
    expect(await textOf(page, '#agent-reviewer .ag-source')).toBe('gitoku.toml');
    expect(await textOf(page, '#agent-reviewer .ag-facts')).toContain('instructions in .gitoku/agents/reviewer.md');
    expect(await textOf(page, '#agent-reviewer .ag-facts')).toContain('pull_request.opened, pull_request.synchronized');
    expect(await textOf(page, '#agent-docs .ag-stat-runs')).toBe('1');
    expect(await textOf(page, '#agent-docs .ag-stat-rate')).toBe('100%');
    expect(await textOf(page, '#agent-reviewer .ag-stat-rate')).toBe('0%');
    expect(await textOf(page, '#agent-reviewer .ag-stats')).toContain('0 merged / 1 decided');
    expect(await textOf(page, '#agent-docs .ag-runs')).toContain('docs: update the README');
    expect(await textOf(page, '#agent-docs .ag-runs')).toMatch(/PR #\d+ \(merged\)/);

    await page.click('#agent-reviewer .ag-instructions-wrap > summary');
    expect(await page.isVisible('#agent-reviewer .ag-instructions strong')).toBe(true);
    expect(await textOf(page, '#agent-reviewer .ag-instructions strong')).toBe('Be kind.');
    expect(await page.$('#agent-reviewer .ag-instructions script')).toBeNull();
    expect(await page.getAttribute('#agent-reviewer .ag-instructions img', 'onerror')).toBeNull();
    await page.click('#agents-md > summary');
    expect(await textOf(page, '#agents-md .ag-instructions')).toContain('Keep commits small.');
    expect(await page.evaluate('window.__xss')).toBeUndefined();
    await screenshot(page, 'agents-tab');

    // The "Run" button opens the New-task form with the agent chosen.
    await page.click('#agent-docs a:has-text("Run")');
    await page.waitForURL(/\/runs\/new\?agent=docs$/);
    expect(await page.$eval('#run-agent', (s) => (s as HTMLSelectElement).value)).toBe('docs');
    await page.fill('#run-prompt', 'Refresh the README');
    await Promise.all([page.waitForURL(/\/runs\/\d+$/), page.click('#run-submit')]);
    const number = Number(page.url().split('/').pop());
    const run = await waitFor(async () => {
      const r = await api(server, 'GET', path(`/runs/${number}`), { token: alice.token });
      return r.json.status === 'succeeded' ? r.json : null;
    });
    expect(run.agent_key).toBe('docs');
    expect(run.rendered_prompt).toContain('You keep the README true.');
    await screenshot(page, 'agents-run-from-form');
  });

  it('shows the definitions of another branch with their problems, and works on a phone', async () => {
    const page = await openPage(browser, contexts, { mobile: true });
    await signInAs(page, server.url, alice);
    await page.goto(`${server.url}/alice/agents/agents?ref=broken`);
    const problems = await textOf(page, '#agent-problems');
    expect(problems).toMatch(/gitoku\.toml:\d+ \[agent\.ghost\.instructions_file\]: instructions file "nowhere\.md" does not exist/);
    expect(problems).toContain('.claude/agents/bad.md:2');
    expect(await textOf(page, '#ag-count')).toBe('2 agents, 2 with problems');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, 'agents-tab-problems-mobile');
  });
});
