import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';

/**
 * A large comparison renders its changes up to a budget of lines; a file over the budget (or past it)
 * shows its header and a "Load diff" link, which gitoku.js fetches in place (the changes alone) and
 * which, followed without scripts, is a page of that file's diff.
 */
describe.each(testDialects())('compare: deferred file diffs on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let work: { path: string; remove(): Promise<void> };
  let base: string;
  let head: string;

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${server.url}${path}`, { headers, redirect: 'manual' });
    return { status: res.status, text: await res.text() };
  };

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'wide' } });
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'hidden', private: true } });
    work = await tempDir();
    await initWorkRepo(work.path, { 'README.md': '# Wide\n', 'small.txt': 'export const small = 1;\n' });
    base = (await gitOk(work.path, ['rev-parse', 'HEAD'])).trim();
    // 900 added lines: over the size at which one file waits for "Load diff" (COLLAPSE_LINES, 800).
    const big = Array.from({ length: 900 }, (_, i) => `export const line${i} = ${i};`).join('\n') + '\n';
    await commitFiles(work.path, { 'big.txt': big, 'small.txt': 'export const small = 2;\n' }, 'A big file and a small change');
    head = (await gitOk(work.path, ['rev-parse', 'HEAD'])).trim();
    await gitOk(work.path, ['tag', 'v1', base]);
    await gitOk(work.path, ['push', '-q', authUrl(server.url, `${owner.username}/wide.git`, owner.username, owner.token), 'main', 'v1']);
    await gitOk(work.path, ['push', '-q', authUrl(server.url, `${owner.username}/hidden.git`, owner.username, owner.token), 'main', 'v1']);
  });

  afterAll(async () => {
    await work?.remove();
    await server?.close();
  });

  it('renders the small file and defers the big one behind "Load diff"', async () => {
    const page = await get(`/${owner.username}/wide/compare/v1...main`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('export const small = 2;');
    expect(page.text).not.toContain('export const line450 = 450;');
    const href = `/${owner.username}/wide/diff-file/${base}/${head}?path=big.txt`;
    expect(page.text).toContain(`<a class="load-diff" href="${href.replace(/&/g, '&amp;')}">Load diff</a>`);
    expect(page.text).toContain('900 changed lines');
  });

  it('answers "Load diff" with the changes alone, and without scripts with a page of the file', async () => {
    const href = `/${owner.username}/wide/diff-file/${base}/${head}?path=big.txt`;
    const fragment = await get(href, { 'X-Gitoku-Fragment': 'diff-file' });
    expect(fragment.status).toBe(200);
    expect(fragment.text).toMatch(/^<div class="code-scroll">/);
    expect(fragment.text.includes('export const line450 = 450;')).toBe(true);
    expect(fragment.text).not.toContain('<html');
    expect((fragment.text.match(/<tr class="dl dl-add"/g) ?? []).length).toBe(900);
    const full = await get(href);
    expect(full.status).toBe(200);
    expect(full.text).toContain('<html');
    expect(full.text.includes('export const line899 = 899;')).toBe(true);
    expect(full.text).toContain('Changes to <span class="mono">big.txt</span>');
  });

  it('answers 404 for a file outside the diff, a bad path, an unknown commit or a repository the viewer cannot read', async () => {
    const at = `/${owner.username}/wide/diff-file/${base}/${head}`;
    expect((await get(`${at}?path=README.md`)).status).toBe(404);
    expect((await get(`${at}?path=..%2Fbig.txt`)).status).toBe(404);
    expect((await get(`${at}`)).status).toBe(404);
    expect((await get(`/${owner.username}/wide/diff-file/${'0'.repeat(40)}/${head}?path=big.txt`)).status).toBe(404);
    expect((await get(`/${owner.username}/wide/diff-file/${base}/main?path=big.txt`)).status).toBe(404);
    expect((await get(`/${owner.username}/hidden/diff-file/${base}/${head}?path=big.txt`)).status).toBe(404);
  });
});
