import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { bloomBitsPerEntry, commitGraphLayers } from '../helpers/commitGraph.ts';
import { signInWithForm } from '../helpers/formSession.ts';
import { startServeProcess, type ServeProcess } from '../helpers/gitokuProcess.ts';
import { lastCommitWalkCount } from '../../src/git/log.ts';
import { blameRunCount } from '../../src/git/blameOrigins.ts';
import { coldWork } from '../../src/git/limiter.ts';
import { refMapLoads } from '../../src/git/refCache.ts';
import { findRepository } from '../../src/services/repositories.ts';
import { systemAccess } from '../../src/events/behaviors/context.ts';
import { loadTreeView } from '../../src/services/uiBrowse.ts';
import { MAINTENANCE_JOB_KIND } from '../../src/services/maintenance.ts';
import { up as reclassifyTrailerCaptures } from '../../src/db/migrations/0020_reclassify_trailer_captures.ts';
import { fragmentsComputed } from '../../src/web/fragmentCache.ts';
import { timeAgo } from '../../src/web/views/format.ts';

// Maintenance runs as soon as a push is recorded (instead of a few seconds later), so the test can wait for it.
process.env.GITOKU_MAINTENANCE_DELAY_MS = '0';

async function waitFor<T>(fn: () => Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each(testDialects())('page caches on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let work: { path: string; remove(): Promise<void> };
  let remote: string;
  let second: ServeProcess | null = null;

  const page = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${server.url}/${owner.username}/cache${path}`, { headers, redirect: 'manual' });
    return { status: res.status, text: await res.text(), etag: res.headers.get('etag') };
  };

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'cache' } });
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'secret', private: true } });
    work = await tempDir();
    await initWorkRepo(work.path, { 'README.md': '# Cache\n', 'src/a.ts': 'export const a = 1;\n', 'src/b.ts': 'export const b = 1;\n', 'docs/x.md': 'x\n' });
    for (let i = 0; i < 30; i++) await gitOk(work.path, ['branch', `b-${String(i).padStart(2, '0')}`]);
    for (let i = 0; i < 25; i++) await gitOk(work.path, ['tag', `v1.${i}`]);
    remote = authUrl(server.url, `${owner.username}/cache.git`, owner.username, owner.token);
    await gitOk(work.path, ['push', '-q', remote, '--all']);
    await gitOk(work.path, ['push', '-q', remote, '--tags']);
  });

  afterAll(async () => {
    await second?.stop();
    await work?.remove();
    await server?.close();
  });

  it('renders a few recent branches inline (no tags) and finds the others on demand', async () => {
    const tree = await page('/tree/main');
    expect(tree.status).toBe(200);
    const items = tree.text.match(/class="dropdown-item( selected)?"/g) ?? [];
    expect(items.length).toBeGreaterThan(0);
    expect(items.length).toBeLessThanOrEqual(21);
    expect(tree.text).not.toContain('>v1.3<');
    expect(tree.text).toContain(`data-refs-url="/${owner.username}/cache/-/refs"`);
    expect(tree.text).toContain(`href="/${owner.username}/cache/branches"`);
    expect(tree.text).toContain(`href="/${owner.username}/cache/tags"`);
    // On a tag page the current tag is the only one inline.
    const tagPage = await page('/tree/v1.3');
    expect(tagPage.text).toContain('>v1.3<');
    expect(tagPage.text).not.toContain('>v1.4<');

    const refs = async (query: string) => {
      const res = await fetch(`${server.url}/${owner.username}/cache/-/refs${query}`);
      return { status: res.status, json: await res.json() };
    };
    const b1 = await refs('?q=b-1');
    expect(b1.status).toBe(200);
    expect([...b1.json.branches].sort()).toEqual(Array.from({ length: 10 }, (_, i) => `b-1${i}`));
    expect(b1.json.tags).toEqual([]);
    const tags = await refs('?q=V1.2&kind=tag');
    expect(tags.json.branches).toEqual([]);
    expect(tags.json.tags).toEqual(expect.arrayContaining(['v1.2', 'v1.20', 'v1.24']));
    const limited = await refs('?q=b-&kind=branch&limit=5');
    expect(limited.json).toMatchObject({ truncated: true });
    expect(limited.json.branches).toHaveLength(5);
    expect((await refs('?kind=everything')).status).toBe(422);
    expect((await refs(`?q=${'x'.repeat(300)}`)).status).toBe(422);
    expect((await refs('?q=nothing-like-this')).json).toEqual({ branches: [], tags: [], truncated: false });
    // A private repository stays invisible.
    expect((await fetch(`${server.url}/${owner.username}/secret/-/refs?q=main`)).status).toBe(404);
  });

  it('shows a push at once on every page despite the caches (also a push through another instance)', async () => {
    // Maintenance after the set-up's pushes repacks refs (a real change the ref map reloads for): let it finish first.
    await waitFor(async () => !(await server.app.db.selectFrom('jobs').select('id').where('kind', '=', MAINTENANCE_JOB_KIND).where('status', 'in', ['queued', 'running']).executeTakeFirst()));
    // Warm everything.
    for (const p of ['/tree/main', '/tree/main/src', '/blob/main/src/a.ts', '/commits/main', '/branches']) expect((await page(p)).status).toBe(200);
    const loadsBefore = refMapLoads;
    for (const p of ['/tree/main', '/blob/main/src/a.ts', '/commits/main']) await page(p);
    // Warm pages resolve their ref from memory: no for-each-ref per request.
    expect(refMapLoads).toBe(loadsBefore);

    await commitFiles(work.path, { 'src/a.ts': 'export const a = 2; // pushed\n', 'src/new.ts': 'export const n = 1;\n' }, 'Second version of a');
    await gitOk(work.path, ['branch', 'fresh-branch']);
    await gitOk(work.path, ['push', '-q', remote, 'main', 'fresh-branch']);
    expect((await page('/tree/main/src')).text).toContain('new.ts');
    expect((await page('/blob/main/src/a.ts')).text).toContain('pushed');
    expect((await page('/commits/main')).text).toContain('Second version of a');
    expect((await page('/branches')).text).toContain('fresh-branch');
    const found = await (await fetch(`${server.url}/${owner.username}/cache/-/refs?q=fresh`)).json();
    expect(found.branches).toEqual(['fresh-branch']);

    // Another server instance on the same storage and database takes a push: this one sees it at once.
    second = await startServeProcess(server.env);
    const remote2 = authUrl(second.url, `${owner.username}/cache.git`, owner.username, owner.token);
    await commitFiles(work.path, { 'src/b.ts': 'export const b = 2; // via the second instance\n' }, 'Pushed through the second instance');
    await gitOk(work.path, ['push', '-q', remote2, 'main']);
    expect((await page('/blob/main/src/b.ts')).text).toContain('via the second instance');
    expect((await page('/commits/main')).text).toContain('Pushed through the second instance');
    expect((await page('/tree/main')).text).toContain('Pushed through the second instance');
    await second.stop();
    second = null;
  });

  it('answers If-None-Match with 304 for pages and the blame API, and a new ETag after a push', async () => {
    const first = await page('/tree/main/src');
    expect(first.etag).toMatch(/^W\/".+"$/);
    const again = await page('/tree/main/src', { 'If-None-Match': first.etag! });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    const blob = await page('/blob/main/src/a.ts');
    expect((await page('/blob/main/src/a.ts', { 'If-None-Match': blob.etag! })).status).toBe(304);
    const blameUrl = `${server.url}/api/v1/repos/${owner.username}/cache/blame/main/src/a.ts`;
    const blame = await fetch(blameUrl);
    const blameTag = blame.headers.get('etag');
    expect(blame.status).toBe(200);
    expect(blameTag).toMatch(/^"blame-[0-9a-f]{40}-/);
    const blame304 = await fetch(blameUrl, { headers: { 'If-None-Match': blameTag! } });
    expect(blame304.status).toBe(304);

    await commitFiles(work.path, { 'src/a.ts': 'export const a = 3;\n' }, 'Third version of a');
    await gitOk(work.path, ['push', '-q', remote, 'main']);
    const after = await page('/tree/main/src', { 'If-None-Match': first.etag! });
    expect(after.status).toBe(200);
    expect(after.etag).not.toBe(first.etag);
    expect(after.text).toContain('Third version of a');
    const blameAfter = await fetch(blameUrl, { headers: { 'If-None-Match': blameTag! } });
    expect(blameAfter.status).toBe(200);
    expect(blameAfter.headers.get('etag')).not.toBe(blameTag);
  });

  it('shares one history walk and one blame among identical concurrent cold requests', async () => {
    await commitFiles(work.path, { 'deep/one.txt': 'one\n', 'deep/two.txt': 'two\n', 'deep/three.txt': Array.from({ length: 200 }, (_, i) => `line ${i}`).join('\n') + '\n' }, 'Deep files');
    await gitOk(work.path, ['push', '-q', remote, 'main']);
    const walks = lastCommitWalkCount();
    const pages = await Promise.all(Array.from({ length: 8 }, () => page('/tree/main/deep')));
    for (const p of pages) expect(p.status).toBe(200);
    expect(lastCommitWalkCount() - walks).toBe(1);

    const blames = blameRunCount();
    const answers = await Promise.all(Array.from({ length: 8 }, () => fetch(`${server.url}/api/v1/repos/${owner.username}/cache/blame/main/deep/three.txt`).then((r) => r.json())));
    for (const a of answers) expect(a.ranges).toEqual([expect.objectContaining({ start_line: 1, end_line: 200 })]);
    // The blame page and the AI blame API use the same cached blame.
    expect((await page('/blame/main/deep/three.txt')).status).toBe(200);
    expect((await api(server, 'GET', `/repos/${owner.username}/cache/ai-blame/main/deep/three.txt`)).status).toBe(200);
    expect(blameRunCount() - blames).toBe(1);
  });

  it('renders a tree page before a slow "last commit" walk ends and serves the cells afterwards', async () => {
    await commitFiles(work.path, { 'late/a.txt': 'a\n', 'late/b.txt': 'b\n' }, 'Late files');
    await gitOk(work.path, ['push', '-q', remote, 'main']);
    const repo = (await findRepository(server.app.db, owner.username, 'cache'))!;
    const access = systemAccess(server.app, repo);
    const sha = (await gitOk(work.path, ['rev-parse', 'HEAD'])).trim();
    // Every slot of the cold-work limiter held until the walk waits its turn (its 0 ms budget timer is set
    // as it queues): the page model comes back without it — a real walk could otherwise win the race.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const holders = Array.from({ length: coldWork.limit }, () => coldWork.run(() => held));
    const loading = loadTreeView(access, sha, 'late', 0);
    await waitFor(async () => coldWork.pending > 0, 10_000);
    setTimeout(release, 20);
    const view = await loading;
    await Promise.all(holders);
    expect(view!.pending).toBe(true);
    const res = await fetch(`${server.url}/${owner.username}/cache/-/last-commits/${sha}?path=late`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.entries.map((e: { name: string; sha: string; title: string }) => [e.name, e.sha, e.title])).toEqual([
      ['a.txt', sha, 'Late files'],
      ['b.txt', sha, 'Late files'],
    ]);
    const etag = res.headers.get('etag')!;
    expect((await fetch(`${server.url}/${owner.username}/cache/-/last-commits/${sha}?path=late`, { headers: { 'If-None-Match': etag } })).status).toBe(304);
    // Bad input: a hostile path, a directory that is not there, a sha that is no commit, a private repository.
    expect((await fetch(`${server.url}/${owner.username}/cache/-/last-commits/${sha}?path=../etc`)).status).toBe(404);
    expect((await fetch(`${server.url}/${owner.username}/cache/-/last-commits/${sha}?path=nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/${owner.username}/cache/-/last-commits/${'0'.repeat(40)}`)).status).toBe(404);
    expect((await fetch(`${server.url}/${owner.username}/secret/-/last-commits/${sha}`)).status).toBe(404);
    // Once the walk is done the page has every cell inline.
    const tree = await page('/tree/main/late');
    expect(tree.text).not.toContain('data-last-commits=');
  });

  it('maintains the repository after pushes, as a server job', async () => {
    const repo = (await findRepository(server.app.db, owner.username, 'cache'))!;
    const job = await waitFor(() =>
      server.app.db.selectFrom('jobs').selectAll().where('kind', '=', MAINTENANCE_JOB_KIND).where('repository_id', '=', repo.id).where('status', '=', 'succeeded').orderBy('id', 'desc').executeTakeFirst(),
    );
    const result = JSON.parse(job.result!) as { tasks: { task: string; ok: boolean }[] };
    expect(result.tasks.map((t) => [t.task, t.ok])).toEqual(expect.arrayContaining([['commit-graph', true]]));
    const gitDir = join(server.dataDir, 'repos', owner.username, 'cache.git');
    expect(existsSync(join(gitDir, 'objects', 'info', 'commit-graphs', 'commit-graph-chain'))).toBe(true);
    // Its changed-path filters take 32 bits per path (git's default is 10), in every layer.
    for (const layer of commitGraphLayers(gitDir)) expect(bloomBitsPerEntry(layer)).toBe(32);
    // And a path-limited log reads the same history with the graph as without it.
    for (const path of ['src/a.ts', 'src', 'deep/three.txt', 'README.md']) {
      const args = ['log', '--format=%H', 'main', '--', path];
      expect(await gitOk(gitDir, args)).toBe(await gitOk(gitDir, ['-c', 'core.commitGraph=false', ...args]));
    }
  });

  describe('rendered fragments (every cached page)', () => {
    let fwork: { path: string; remove(): Promise<void> };
    let fremote: string;
    let prNumber: number;
    const fpage = async (path: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${server.url}/${owner.username}/frag${path}`, { headers, redirect: 'manual' });
      return { status: res.status, text: await res.text(), etag: res.headers.get('etag'), location: res.headers.get('location') };
    };
    const fapi = (method: string, path: string, body?: unknown) => api(server, method, `/repos/${owner.username}/frag${path}`, { token: owner.token, body });
    const head = async () => (await gitOk(fwork.path, ['rev-parse', 'HEAD'])).trim();
    /** Every page the fragment cache serves, as paths under the repository. */
    const pages = (sha: string) => ['/tree/main', '/tree/main/src', '/blob/main/src/a.ts', '/blame/main/src/a.ts', '/commits/main', '/commits/main?path=src/a.ts', `/commit/${sha}`, '/compare/v1...main', `/pull/${prNumber}/files`];

    beforeAll(async () => {
      await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'frag' } });
      fwork = await tempDir();
      await initWorkRepo(fwork.path, { 'README.md': '# Fragments\n', 'src/a.ts': 'export const a = 1;\n', 'src/b.ts': 'export const b = 1;\n', 'img.bin': Buffer.from([0, 1, 2, 0, 255, 0]) });
      await gitOk(fwork.path, ['tag', 'v1']);
      await gitOk(fwork.path, ['checkout', '-q', '-b', 'feature']);
      await commitFiles(fwork.path, { 'src/feature.ts': 'export const f = 1;\n' }, 'Feature one');
      await gitOk(fwork.path, ['checkout', '-q', 'main']);
      await commitFiles(fwork.path, { 'src/a.ts': 'export const a = 2;\n' }, 'Main two');
      fremote = authUrl(server.url, `${owner.username}/frag.git`, owner.username, owner.token);
      await gitOk(fwork.path, ['push', '-q', fremote, 'main', 'feature', 'v1']);
      const pr = await fapi('POST', '/pulls', { title: 'Feature', head: 'feature', base: 'main' });
      expect(pr.status).toBe(201);
      prNumber = pr.json.number;
    });
    afterAll(async () => {
      await fwork?.remove();
    });

    it('serves warm pages from the cache, with a 304 from the key alone', async () => {
      const sha = await head();
      for (const p of pages(sha)) expect((await fpage(p)).status, p).toBe(200);
      const computed = fragmentsComputed();
      const first = new Map<string, { text: string; etag: string | null }>();
      for (const p of pages(sha)) {
        const again = await fpage(p);
        expect(again.status, p).toBe(200);
        expect(again.etag, p).toMatch(/^W\/".+"$/);
        first.set(p, again);
      }
      // Nothing was rendered again: every body came from the cache.
      expect(fragmentsComputed()).toBe(computed);
      for (const p of pages(sha)) {
        const revalidated = await fpage(p, { 'If-None-Match': first.get(p)!.etag! });
        expect(revalidated.status, p).toBe(304);
        expect(revalidated.text).toBe('');
      }
      // The content is the page's, not a neighbour's.
      expect(first.get('/blob/main/src/a.ts')!.text).toContain('export');
      expect(first.get('/blob/main/src/a.ts')!.text).not.toContain('feature.ts');
      expect(first.get('/compare/v1...main')!.text).toContain('Main two');
      expect(first.get(`/pull/${prNumber}/files`)!.text).toContain('src/feature.ts');
      expect(first.get('/commits/main?path=src/a.ts')!.text).toContain('Main two');
      // Relative times are filled per request, never frozen in the cached body.
      const tree = first.get('/tree/main')!.text;
      const iso = /<time datetime="([^"]+)"/.exec(tree)![1]!;
      expect(tree).toContain(`>${timeAgo(iso)}</time>`);
      expect(tree).not.toContain('<!--slot:');
      // The cache is bounded and reported.
      const admin = await createTestUser(server, { admin: true, scopes: ['admin'] });
      const stats = await api(server, 'GET', '/admin/stats', { token: admin.token });
      expect(stats.status).toBe(200);
      expect(stats.json.caches['ui.pageFragments']).toMatchObject({ entries: expect.any(Number), maxWeight: expect.any(Number) });
      expect(stats.json.caches['ui.pageFragments'].entries).toBeGreaterThanOrEqual(pages(sha).length);
      // Whole pages as sent are kept by default (from their second view), within their own bound.
      expect(stats.json.caches['ui.pages']).toMatchObject({ maxWeight: 8 * 1024 * 1024 });
    });

    it('answers a page kept whole with the very page it rendered', async () => {
      const sha = await head();
      for (const p of pages(sha)) {
        // The first view renders, the second keeps the bytes, the third is answered from them.
        const [, kept, served] = [await fpage(p), await fpage(p), await fpage(p)];
        expect(served.status, p).toBe(200);
        // A new minute in between makes a new tag (relative times): then the page was rendered again.
        if (served.etag === kept.etag) expect(served.text, p).toBe(kept.text);
      }
    });

    it('shows a push at once on every cached page', async () => {
      const before = await head();
      for (const p of pages(before)) await fpage(p);
      await commitFiles(fwork.path, { 'src/a.ts': 'export const a = 3; // third\n', 'src/c.ts': 'export const c = 1;\n' }, 'Main three');
      await gitOk(fwork.path, ['checkout', '-q', 'feature']);
      await commitFiles(fwork.path, { 'src/feature2.ts': 'export const f2 = 1;\n' }, 'Feature two');
      await gitOk(fwork.path, ['checkout', '-q', 'main']);
      await gitOk(fwork.path, ['push', '-q', fremote, 'main', 'feature']);
      const after = await head();
      expect((await fpage('/tree/main')).text).toContain('Main three');
      expect((await fpage('/tree/main/src')).text).toContain('c.ts');
      expect((await fpage('/blob/main/src/a.ts')).text).toContain('third');
      expect((await fpage('/blame/main/src/a.ts')).text).toContain('Main three');
      expect((await fpage('/commits/main')).text).toContain('Main three');
      expect((await fpage('/commits/main?path=src/a.ts')).text).toContain('Main three');
      expect((await fpage(`/commit/${after}`)).text).toContain('third');
      expect((await fpage('/compare/v1...main')).text).toContain('Main three');
      expect((await fpage(`/pull/${prNumber}/files`)).text).toContain('src/feature2.ts');
      // The older commit's pages are still right (they are addressed by its id).
      expect((await fpage(`/blob/${before}/src/a.ts`)).text).not.toContain('third');
    });

    it('shows what changes without a push: statuses, comments, AI captures recorded later', async () => {
      const sha = await head();
      const dot = /class="status-dot status-success"/;
      for (const p of ['/tree/main', '/commits/main', `/commit/${sha}`]) expect((await fpage(p)).text, p).not.toMatch(dot);
      const tagBefore = (await fpage('/commits/main')).etag!;
      expect((await fapi('POST', `/statuses/${sha}`, { state: 'success', context: 'ci/test' })).status).toBe(201);
      for (const p of ['/tree/main', '/commits/main', `/commit/${sha}`]) expect((await fpage(p)).text, p).toMatch(dot);
      expect((await fpage('/commits/main', { 'If-None-Match': tagBefore })).status).toBe(200);

      const files = await fpage(`/pull/${prNumber}/files`);
      const prHead = (await fapi('GET', `/pulls/${prNumber}`)).json.head.sha as string;
      const comment = await fapi('POST', `/pulls/${prNumber}/comments`, { body: 'A cached-page comment', path: 'src/feature.ts', line: 1, side: 'RIGHT', commit_id: prHead });
      expect(comment.status).toBe(201);
      const withComment = await fpage(`/pull/${prNumber}/files`, { 'If-None-Match': files.etag! });
      expect(withComment.status).toBe(200);
      expect(withComment.text).toContain('A cached-page comment');

      // A capture recorded for a commit after its blame page was cached shows in the AI gutter.
      const blame = await fpage('/blame/main/src/a.ts');
      expect(blame.text).not.toContain('AI-written line');
      const repo = (await findRepository(server.app.db, owner.username, 'frag'))!;
      await server.app.db
        .insertInto('commit_ai_contexts')
        .values({ repository_id: repo.id, commit_sha: sha, capture_index: 0, source_family: 'claude', exact_model_name: 'claude-test', prompt: 'write a', thinking: '', session_id: null, capture_confidence: 0.9, evidence_kind: 'agent_run', modified_files: JSON.stringify(['src/a.ts']), modified_line_spans_json: JSON.stringify({ 'src/a.ts': [[1, 1]] }), run_id: null, pull_request_id: null, details: '{}', created_at: new Date().toISOString() })
        .execute();
      expect((await fpage('/blame/main/src/a.ts')).text).toContain('AI-written line');
    });

    it('keeps a viewer\'s forms their own', async () => {
      const user = await createTestUser(server);
      const tokensOf = (html: string) => new Set([...html.matchAll(/name="_csrf" value="([^"]+)"/g)].map((m) => m[1]));
      const one = (await signInWithForm(server, user.username, user.password)).session!;
      const two = (await signInWithForm(server, user.username, user.password)).session!;
      expect(one.csrf).not.toBe(two.csrf);
      for (let i = 0; i < 2; i++) {
        // Every form of each page (the comment forms inside the cached diff included) carries that browser's token only.
        const a = await one.get(`/${owner.username}/frag/pull/${prNumber}/files`);
        const b = await two.get(`/${owner.username}/frag/pull/${prNumber}/files`);
        expect(a.status).toBe(200);
        expect(a.html).toContain('A cached-page comment');
        expect(tokensOf(a.html)).toEqual(new Set([one.csrf]));
        expect(tokensOf(b.html)).toEqual(new Set([two.csrf]));
      }
    });

    it('checks access and paths before the cache (bad input)', async () => {
      const sha = await head();
      for (const p of pages(sha)) await fpage(p);
      // The owner warmed them; the repository turns private: anonymous viewers get 404 on every page.
      expect((await api(server, 'PATCH', `/repos/${owner.username}/frag`, { token: owner.token, body: { private: true } })).status).toBe(200);
      for (const p of pages(sha)) expect((await fpage(p)).status, p).toBe(404);
      const ownerSession = (await signInWithForm(server, owner.username, owner.password)).session!;
      for (const p of ['/tree/main', `/pull/${prNumber}/files`]) expect((await ownerSession.get(`/${owner.username}/frag${p}`)).status, p).toBe(200);
      expect((await api(server, 'PATCH', `/repos/${owner.username}/frag`, { token: owner.token, body: { private: false } })).status).toBe(200);
      // Unknown refs and paths, hostile paths, a file as a directory and back, a binary blame.
      for (const p of ['/tree/nope', '/tree/main/nope', '/blob/main/nope.ts', '/blame/main/nope.ts', '/commits/nope', '/commit/0000000000000000000000000000000000000000', '/compare/v1...nope', '/tree/main/../etc', '/blob/main/src/%00', '/pull/999/files']) expect((await fpage(p)).status, p).toBe(404);
      for (let i = 0; i < 2; i++) {
        const file = await fpage('/tree/main/src/a.ts');
        expect(file.status).toBe(302);
        expect(file.location).toContain('/blob/main/src/a.ts');
        const dir = await fpage('/blob/main/src');
        expect(dir.status).toBe(302);
        expect(dir.location).toContain('/tree/main/src');
        const binary = await fpage('/blame/main/img.bin');
        expect(binary.status).toBe(302);
        expect(binary.location).toContain('/blob/main/img.bin');
      }
      // Page numbers out of range fall back to the first page; a path filter outside the repository is a 404.
      expect((await fpage('/commits/main?page=-3')).text).toContain('Main three');
      expect((await fpage('/commits/main?path=../x')).status).toBe(404);
    });
  });

  it('re-classifies stored trailer captures that credited a person (migration 0020)', async () => {
    const repo = (await findRepository(server.app.db, owner.username, 'cache'))!;
    const sha = (await gitOk(work.path, ['rev-parse', 'HEAD'])).trim();
    const row = (index: number, trailer: string) => ({
      repository_id: repo.id,
      commit_sha: sha,
      capture_index: 100 + index,
      source_family: 'x',
      exact_model_name: '',
      prompt: '',
      thinking: '',
      session_id: null,
      capture_confidence: 0.3,
      evidence_kind: 'commit_trailer',
      modified_files: '[]',
      modified_line_spans_json: '{}',
      run_id: null,
      pull_request_id: null,
      details: JSON.stringify({ trailer }),
      created_at: new Date().toISOString(),
    });
    await server.app.db
      .insertInto('commit_ai_contexts')
      .values([row(0, 'Assisted-by: Jeff King <peff@peff.net>'), row(1, 'Assisted-by: Claude:claude-3-opus'), row(2, 'Co-authored-by: Claude <noreply@anthropic.com>'), row(3, 'Generated-by: Jane Doe')])
      .execute();
    await reclassifyTrailerCaptures(server.app.db as unknown as Kysely<unknown>);
    const left = await server.app.db.selectFrom('commit_ai_contexts').select(['capture_index', 'details']).where('repository_id', '=', repo.id).where('capture_index', '>=', 100).orderBy('capture_index').execute();
    expect(left.map((r) => r.capture_index)).toEqual([101, 102]);
  });
});
