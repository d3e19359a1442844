import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { signInWithForm } from '../helpers/formSession.ts';

/**
 * A pull request's files tab defers large files behind "Load diff" as a comparison does, except files
 * with a conversation (always in place, with their threads). "Load diff" answers one file's changes with
 * the tab's hooks (threads, "+" buttons for a signed-in viewer), for the head the page showed; without
 * scripts it leads to the file's diff page, and a page from before a push back to the files tab.
 */
describe.each(testDialects())('pull request files: deferred file diffs on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let stranger: TestUser;
  let work: { path: string; remove(): Promise<void> };
  let base: string;
  let head: string;
  const big = (name: string) => Array.from({ length: 900 }, (_, i) => `export const ${name}${i} = ${i};`).join('\n') + '\n';

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${server.url}${path}`, { headers, redirect: 'manual' });
    return { status: res.status, text: await res.text(), location: res.headers.get('location') };
  };
  const files = () => `/${owner.username}/wide/pull/1/files`;
  const loadDiff = (at: string, path: string) => `/${owner.username}/wide/pull/1/files/diff/${at}?path=${encodeURIComponent(path)}`;

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    stranger = await createTestUser(server);
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'wide' } });
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'hidden', private: true } });
    work = await tempDir();
    await initWorkRepo(work.path, { 'README.md': '# Wide\n', 'small.txt': 'export const small = 1;\n' });
    base = (await gitOk(work.path, ['rev-parse', 'HEAD'])).trim();
    await gitOk(work.path, ['checkout', '-q', '-b', 'wide']);
    // Two files over the size at which a file waits for "Load diff" (800 changed lines); one will be commented on.
    await commitFiles(work.path, { 'big.txt': big('line'), 'talked.txt': big('talk'), 'small.txt': 'export const small = 2;\n' }, 'Two big files and a small change');
    head = (await gitOk(work.path, ['rev-parse', 'HEAD'])).trim();
    for (const repo of ['wide', 'hidden']) await gitOk(work.path, ['push', '-q', authUrl(server.url, `${owner.username}/${repo}.git`, owner.username, owner.token), 'main', 'wide']);
    for (const repo of ['wide', 'hidden']) {
      const pr = await api(server, 'POST', `/repos/${owner.username}/${repo}/pulls`, { token: owner.token, body: { title: 'Wide', head: 'wide', base: 'main' } });
      expect(pr.status, pr.text).toBe(201);
    }
    const comment = await api(server, 'POST', `/repos/${owner.username}/wide/pulls/1/comments`, { token: owner.token, body: { body: 'Why talk450?', path: 'talked.txt', line: 451, side: 'RIGHT', commit_id: head } });
    expect(comment.status, comment.text).toBe(201);
  });

  afterAll(async () => {
    await work?.remove();
    await server?.close();
  });

  it('renders small files and commented ones in place, and defers the other big one behind "Load diff"', async () => {
    const page = await get(files());
    expect(page.status).toBe(200);
    expect(page.text).toContain('export const small = 2;');
    expect(page.text).not.toContain('export const line450 = 450;');
    expect(page.text).toContain(`<a class="load-diff" href="${loadDiff(head, 'big.txt').replace(/&/g, '&amp;')}">Load diff</a>`);
    // The commented file is in place, thread included, however big.
    expect(page.text).toContain('export const talk450 = 450;');
    expect(page.text).toContain('Why talk450?');
    expect(page.text).not.toContain(loadDiff(head, 'talked.txt'));
  });

  it('answers "Load diff" with the changes alone, with the "+" buttons for a signed-in viewer', async () => {
    const anonymous = await get(loadDiff(head, 'big.txt'), { 'X-Gitoku-Fragment': 'diff-file' });
    expect(anonymous.status).toBe(200);
    expect(anonymous.text).toMatch(/^<div class="code-scroll">/);
    expect(anonymous.text).toContain('export const line450 = 450;');
    expect((anonymous.text.match(/<tr class="dl dl-add"/g) ?? []).length).toBe(900);
    expect(anonymous.text).not.toContain('add-comment');
    const signedIn = await signInWithForm(server, owner.username, owner.password);
    const mine = await get(loadDiff(head, 'big.txt'), { 'X-Gitoku-Fragment': 'diff-file', Cookie: signedIn.session!.cookie });
    expect(mine.status).toBe(200);
    expect(mine.text).toContain('class="add-comment"');
    expect(mine.text).toContain('data-path="big.txt"');
    // A file with threads carries them when asked for alone too.
    const talked = await get(loadDiff(head, 'talked.txt'), { 'X-Gitoku-Fragment': 'diff-file' });
    expect(talked.text).toContain('Why talk450?');
  });

  it('leads a viewer without scripts to the file diff page, and a page from before a push back to the files tab', async () => {
    const plain = await get(loadDiff(head, 'big.txt'));
    expect(plain.status).toBe(302);
    expect(plain.location).toBe(`/${owner.username}/wide/diff-file/${base}/${head}?path=big.txt`);
    const stale = '0'.repeat(40);
    expect((await get(loadDiff(stale, 'big.txt'), { 'X-Gitoku-Fragment': 'diff-file' })).status).toBe(409);
    const back = await get(loadDiff(stale, 'big.txt'));
    expect(back.status).toBe(302);
    expect(back.location).toBe(files());
  });

  it('answers 404 for a file outside the pull request, a bad path, an unknown pull request or a repository the viewer cannot read', async () => {
    const fragment = { 'X-Gitoku-Fragment': 'diff-file' };
    expect((await get(loadDiff(head, 'README.md'), fragment)).status).toBe(404);
    expect((await get(loadDiff(head, '../big.txt'), fragment)).status).toBe(404);
    expect((await get(`/${owner.username}/wide/pull/1/files/diff/${head}`, fragment)).status).toBe(404);
    expect((await get(`/${owner.username}/wide/pull/9/files/diff/${head}?path=big.txt`, fragment)).status).toBe(404);
    expect((await get(`/${owner.username}/hidden/pull/1/files/diff/${head}?path=big.txt`, fragment)).status).toBe(404);
    const strangerSession = await signInWithForm(server, stranger.username, stranger.password);
    expect((await get(`/${owner.username}/hidden/pull/1/files/diff/${head}?path=big.txt`, { ...fragment, Cookie: strangerSession.session!.cookie })).status).toBe(404);
    const ownerSession = await signInWithForm(server, owner.username, owner.password);
    expect((await get(`/${owner.username}/hidden/pull/1/files/diff/${head}?path=big.txt`, { ...fragment, Cookie: ownerSession.session!.cookie })).status).toBe(200);
  });
});
