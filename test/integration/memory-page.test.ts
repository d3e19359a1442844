import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { createPushedRepo, runScripted, scriptPrompt, type PushedRepo } from '../helpers/scriptedRuns.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import type { JobRunner } from '../../src/runner/runner.ts';
import { createSession } from '../../src/services/sessions.ts';
import { getMemoryEntry, recordMemoryEntry } from '../../src/services/memory.ts';
import { now } from '../../src/services/app.ts';

/** Untrusted text that must come out escaped wherever the page shows it. */
const XSS = '<script>alert(1)</script><img src=x onerror=alert(2)>';

const MANIFEST = '[agent.docs]\nname = "Docs"\ndriver = "script"\ninstructions_file = ".gitoku/docs.md"\n';

interface Browser {
  cookie: string;
  csrf: string;
}

describe.each(testDialects())('the Memory pages on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let reader: TestUser;
  let stranger: TestUser;
  let repo: PushedRepo;
  let secret: PushedRepo;
  let repoId = 0;
  let secretId = 0;
  let head = '';
  let me: Browser;
  let readerB: Browser;
  let strangerB: Browser;
  let runner: JobRunner | undefined;
  const base = () => `/${owner.username}/m`;
  const hidden = () => `/${owner.username}/hidden`;

  /** A browser of `user` (or anonymous): its cookies and the CSRF token its forms carry. */
  async function browser(user: TestUser | null): Promise<Browser> {
    const session = user ? `gitoku_session=${await createSession(server.app, user.id)}` : '';
    const res = await fetch(`${server.url}/-/login`, { headers: session ? { Cookie: session } : {}, redirect: 'manual' });
    const csrfCookie = res.headers
      .getSetCookie()
      .find((c) => c.startsWith('gitoku_csrf='))!
      .split(';')[0]!;
    // Every form of this browser carries the same token: the sign-in form when signed out, the sign-out form when in.
    const cookie = [session, csrfCookie].filter(Boolean).join('; ');
    const html = user ? await (await fetch(`${server.url}${base()}/memory`, { headers: { Cookie: cookie } })).text() : await res.text();
    const csrf = /name="_csrf" value="([0-9a-f]+)"/.exec(html)![1]!;
    return { cookie, csrf };
  }

  async function get(path: string, b?: Browser): Promise<{ status: number; html: string; location: string | null }> {
    const res = await fetch(`${server.url}${path}`, { headers: b ? { Cookie: b.cookie } : {}, redirect: 'manual' });
    return { status: res.status, html: await res.text(), location: res.headers.get('location') };
  }

  async function post(path: string, b: Browser, fields: Record<string, string>, csrf = b.csrf): Promise<{ status: number; html: string; location: string | null }> {
    const res = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { Cookie: b.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...(csrf ? { _csrf: csrf } : {}), ...fields }),
      redirect: 'manual',
    });
    return { status: res.status, html: await res.text(), location: res.headers.get('location') };
  }

  const count = async (repositoryId: number) => Number((await server.app.db.selectFrom('memory_entries').select((eb) => eb.fn.countAll<number>().as('n')).where('repository_id', '=', repositoryId).executeTakeFirstOrThrow()).n);
  const newest = async (repositoryId: number) => (await server.app.db.selectFrom('memory_entries').select('id').where('repository_id', '=', repositoryId).orderBy('id', 'desc').executeTakeFirstOrThrow()).id;

  const entryForm = (over: Record<string, string> = {}) => ({ kind: 'claim', subject: 'date parsing', fact: 'lib/x.js parses ISO dates only', reason: 'the API sends ISO 8601', citations: 'src/a.txt:1-2', agent: '', paths: '', ...over });

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    reader = await createTestUser(server);
    stranger = await createTestUser(server);
    repo = await createPushedRepo(server, owner, 'm', { 'README.md': '# M\n', 'src/a.txt': 'one\ntwo\nthree\n', 'gitoku.toml': MANIFEST, '.gitoku/docs.md': 'Keep the docs true.\n' });
    secret = await createPushedRepo(server, owner, 'hidden', { 'src/s.txt': 's1\ns2\n' }, { private: true });
    const added = await api(server, 'PUT', `/repos/${owner.username}/m/collaborators/${reader.username}`, { token: owner.token, body: { permission: 'pull' } });
    expect([201, 204]).toContain(added.status);
    repoId = (await server.app.db.selectFrom('repositories').select('id').where('name', '=', 'm').executeTakeFirstOrThrow()).id;
    secretId = (await server.app.db.selectFrom('repositories').select('id').where('name', '=', 'hidden').executeTakeFirstOrThrow()).id;
    head = (await api(server, 'GET', `/repos/${owner.username}/m/branches/main`, { token: owner.token })).json.commit.sha;
    me = await browser(owner);
    readerB = await browser(reader);
    strangerB = await browser(stranger);
  });

  afterAll(async () => {
    await runner?.stop();
    await repo?.work.remove();
    await secret?.work.remove();
    await server?.close();
  });

  it('shows the Memory tab with an empty state and, for writers, the add form', async () => {
    const page = await get(`${base()}/memory`, me);
    expect(page.status).toBe(200);
    expect(page.html).toMatch(/<a href="[^"]*\/memory" class="tab active" aria-current="page">/);
    expect(page.html).toContain('No memory yet');
    expect(page.html).toContain(`action="${base()}/memory"`);
    expect(page.html).toContain('/-/static/memory.css?v=');
    // The repository home links to it too.
    expect((await get(base(), me)).html).toContain(`href="${base()}/memory"`);
  });

  it('adds an entry through the form: HTML stays text, the citation links to its lines at their commit', async () => {
    const res = await post(`${base()}/memory`, me, entryForm({ subject: `dates ${XSS}`, fact: `parses ${XSS}`, reason: `because ${XSS}`, agent: 'docs', paths: 'src/**' }));
    expect(res.status, res.html.slice(0, 400)).toBe(303);
    const id = await newest(repoId);
    expect(res.location).toBe(`${base()}/memory#memory-${id}`);
    const entry = (await getMemoryEntry(server.app.db, repoId, id))!;
    expect(entry).toMatchObject({ kind: 'claim', subject: `dates ${XSS}`, fact: `parses ${XSS}`, scope: { agent: 'docs', paths: ['src/**'] }, source: { type: 'person', id: owner.id }, created_by_id: owner.id });
    expect(entry.citations).toEqual([expect.objectContaining({ path: 'src/a.txt', start_line: 1, end_line: 2, commit: head })]);

    const page = await get(`${base()}/memory`, me);
    expect(page.html).not.toContain('<script>alert(1)');
    expect(page.html).not.toContain('<img src=x');
    expect(page.html).toContain('parses &lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;');
    expect(page.html).toContain(`href="${base()}/blob/${head}/src/a.txt#L1-L2"`);
    expect(page.html).toContain(`href="/${owner.username}" class="mem-source-link"`);
    expect(page.html).toContain(`href="${base()}/memory?agent=docs"`);
    expect(page.html).toContain('1 entry');
    // Its own page escapes it as well, and offers the edit form.
    const own = await get(`${base()}/memory/${id}`, me);
    expect(own.status).toBe(200);
    expect(own.html).not.toContain('<script>alert(1)');
    expect(own.html).toContain('id="memory-edit-form"');
    expect(own.html).toContain('No run has been given this entry yet.');
  });

  it('refuses a form without its CSRF token and changes nothing', async () => {
    const before = await count(repoId);
    const res = await post(`${base()}/memory`, me, entryForm({ subject: 'no token' }), '');
    expect(res.status).toBe(403);
    const forged = await post(`${base()}/memory`, me, entryForm({ subject: 'forged token' }), 'a'.repeat(64));
    expect(forged.status).toBe(403);
    expect(await count(repoId)).toBe(before);
  });

  it.each([
    ['an empty subject', { subject: '' }, 'subject is required', 'memory-new-subject'],
    ['an empty fact', { fact: '  ' }, 'fact is required', 'memory-new-fact'],
    ['an oversized fact', { fact: 'x'.repeat(2001) }, 'fact is too long', 'memory-new-fact'],
    ['a citation that is not one', { citations: 'somewhere in a.txt' }, 'is not a citation', 'memory-new-citations'],
    ['a citation outside the repository', { citations: '../../etc/passwd:1' }, 'is not a path inside the repository', 'memory-new-citations'],
    ['a citation to a missing file', { citations: 'src/nope.txt:1' }, 'is not a text file', 'memory-new-citations'],
    ['a citation past the end of the file', { citations: 'src/a.txt:2-9' }, 'has no lines 2-9', 'memory-new-citations'],
    ['a citation to an unknown commit', { citations: 'src/a.txt:1@deadbeefdeadbeefdeadbeefdeadbeefdeadbeef' }, 'unknown commit', 'memory-new-citations'],
    ['an agent that is not a key', { agent: 'no such/agent' }, 'is not an agent key', 'memory-new-agent'],
    ['a path glob outside the repository', { paths: '../x/**' }, 'is not a path inside the repository', 'memory-new-paths'],
  ])('answers %s with a 422 naming the problem, the form kept', async (_what, over, message, field) => {
    const before = await count(repoId);
    const res = await post(`${base()}/memory`, me, entryForm({ ...over, reason: `kept ${XSS}` }));
    expect(res.status).toBe(422);
    expect(res.html.toLowerCase()).toContain(message.toLowerCase());
    expect(res.html).toMatch(new RegExp(`id="${field}"[^>]*aria-invalid="true"`));
    expect(res.html).toContain('<details class="card mem-new" id="memory-new" open');
    expect(res.html).toContain('kept &lt;script&gt;');
    expect(res.html).not.toContain('<script>alert(1)');
    expect(await count(repoId)).toBe(before);
  });

  it('accepts a citation at an abbreviated commit', async () => {
    const res = await post(`${base()}/memory`, me, entryForm({ subject: 'short sha', fact: 'cites at a short sha', citations: `src/a.txt:L3@${head.slice(0, 8)}` }));
    expect(res.status, res.html.slice(0, 300)).toBe(303);
    expect((await getMemoryEntry(server.app.db, repoId, await newest(repoId)))!.citations[0]).toMatchObject({ path: 'src/a.txt', start_line: 3, end_line: 3, commit: head });
  });

  it('edits, pins, searches and filters', async () => {
    await post(`${base()}/memory`, me, entryForm({ kind: 'convention', subject: 'tabs or spaces', fact: 'two spaces', citations: '' }));
    const id = await newest(repoId);
    const edited = await post(`${base()}/memory/${id}`, me, { kind: 'convention', subject: 'indentation', fact: 'two spaces, never tabs', reason: 'the linter says so', agent: '', paths: 'src/*.ts, lib/**', back: `${base()}/memory` });
    expect(edited.status, edited.html.slice(0, 300)).toBe(303);
    expect(edited.location).toBe(`${base()}/memory/${id}`);
    expect(await getMemoryEntry(server.app.db, repoId, id)).toMatchObject({ subject: 'indentation', fact: 'two spaces, never tabs', reason: 'the linter says so', scope: { agent: null, paths: ['lib/**', 'src/*.ts'] }, pinned: false });

    const bad = await post(`${base()}/memory/${id}`, me, { kind: 'convention', subject: '', fact: 'x' });
    expect(bad.status).toBe(422);
    expect(bad.html).toContain('Subject is required');

    const pinned = await post(`${base()}/memory/${id}/pin`, me, { pinned: '1', back: `${base()}/memory?q=indent` });
    expect(pinned.status).toBe(303);
    expect(pinned.location).toBe(`${base()}/memory?q=indent`);
    expect((await getMemoryEntry(server.app.db, repoId, id))!.pinned).toBe(true);

    const search = await get(`${base()}/memory?q=never+tabs`, me);
    expect(search.html).toContain(`id="memory-${id}"`);
    expect(search.html).not.toContain('lib/x.js parses');
    expect(search.html).toContain('1 entry');
    expect((await get(`${base()}/memory?pinned=1`, me)).html).toMatch(/Pinned<\/span>/);
    expect((await get(`${base()}/memory?kind=convention`, me)).html).toContain(`id="memory-${id}"`);
    expect((await get(`${base()}/memory?kind=failure`, me)).html).toContain('No memory matches');
    const agent = await get(`${base()}/memory?agent=docs`, me);
    expect(agent.html).toContain('Memory of @docs');
    expect(agent.html).not.toContain(`id="memory-${id}"`);
    // Bad filter values are ignored, never an error.
    expect((await get(`${base()}/memory?kind=%3Cscript%3E&status=nope&agent=%3Cb%3E&page=-3`, me)).status).toBe(200);

    const unpinned = await post(`${base()}/memory/${id}/pin`, me, { pinned: '0', back: 'https://evil.example/' });
    expect(unpinned.location).toBe(`${base()}/memory/${id}`);
    expect((await getMemoryEntry(server.app.db, repoId, id))!.pinned).toBe(false);
  });

  it('deletes only after the confirmation step', async () => {
    await post(`${base()}/memory`, me, entryForm({ subject: 'to delete', fact: 'soon gone', citations: '' }));
    const id = await newest(repoId);
    const ask = await post(`${base()}/memory/${id}/delete`, me, { back: `${base()}/memory` });
    expect(ask.status).toBe(200);
    expect(ask.html).toContain(`Delete memory entry #${id}?`);
    expect(ask.html).toContain('name="confirmed" value="1"');
    expect(await getMemoryEntry(server.app.db, repoId, id)).not.toBeNull();
    const done = await post(`${base()}/memory/${id}/delete`, me, { back: `${base()}/memory`, confirmed: '1' });
    expect(done.status).toBe(303);
    expect(done.location).toBe(`${base()}/memory`);
    expect(await getMemoryEntry(server.app.db, repoId, id)).toBeNull();
    expect((await get(`${base()}/memory/${id}`, me)).status).toBe(404);
  });

  it('flags a contradiction and resolves it: this one supersedes', async () => {
    await post(`${base()}/memory`, me, entryForm({ subject: 'Cache size', fact: 'The cache holds 100 items', citations: '' }));
    const first = await newest(repoId);
    const second = await post(`${base()}/memory`, me, entryForm({ subject: 'cache size', fact: 'The cache holds 500 items', citations: '' }));
    const id = await newest(repoId);
    expect(second.status).toBe(303);
    expect(second.location).toBe(`${base()}/memory/${id}`);
    const page = await get(`${base()}/memory/${id}`, me);
    expect(page.html).toContain('Contradiction');
    expect(page.html).toContain(`data-other="${first}"`);
    expect(page.html).toContain(`This one supersedes #${first}`);
    expect(page.html).toContain('Keep both');
    const flagged = await get(`${base()}/memory?status=contradiction`, me);
    expect(flagged.html).toContain(`id="memory-${first}"`);
    expect(flagged.html).toContain(`id="memory-${id}"`);

    const resolved = await post(`${base()}/memory/${id}/resolve`, me, { other_id: String(first), resolution: 'supersede', back: `${base()}/memory/${id}` });
    expect(resolved.status).toBe(303);
    expect(await getMemoryEntry(server.app.db, repoId, first)).toMatchObject({ status: 'superseded' });
    expect(await getMemoryEntry(server.app.db, repoId, id)).toMatchObject({ status: 'live', contradiction: false });
    expect((await get(`${base()}/memory/${id}`, me)).html).not.toContain('This one supersedes');

    // Resolving a pair that does not contradict is refused with a message, not a crash.
    await post(`${base()}/memory`, me, entryForm({ subject: 'unrelated', fact: 'nothing to do with caches', citations: '' }));
    const unrelated = await newest(repoId);
    const again = await post(`${base()}/memory/${id}/resolve`, me, { other_id: String(unrelated), resolution: 'keep_both' });
    expect(again.status).toBe(303);
    expect(await getMemoryEntry(server.app.db, repoId, unrelated)).toMatchObject({ status: 'live' });
    const bogus = await post(`${base()}/memory/${id}/resolve`, me, { other_id: 'x', resolution: 'maybe' });
    expect(bogus.status).toBe(422);
  });

  it('keeps both of a flagged pair', async () => {
    await post(`${base()}/memory`, me, entryForm({ subject: 'retries', fact: 'retry three times', citations: '' }));
    const a = await newest(repoId);
    await post(`${base()}/memory`, me, entryForm({ subject: 'retries', fact: 'never retry', citations: '' }));
    const b = await newest(repoId);
    const list = await get(`${base()}/memory`, me);
    expect(list.html).toMatch(new RegExp(`id="memory-${b}-contradiction"`));
    const res = await post(`${base()}/memory/${a}/resolve`, me, { other_id: String(b), resolution: 'keep_both', back: `${base()}/memory` });
    expect(res.status).toBe(303);
    expect(await getMemoryEntry(server.app.db, repoId, a)).toMatchObject({ status: 'live', contradiction: false });
    expect(await getMemoryEntry(server.app.db, repoId, b)).toMatchObject({ status: 'live', contradiction: false });
  });

  it('shows readers and visitors the memory read-only and refuses their changes', async () => {
    const id = await newest(repoId);
    for (const b of [readerB, await browser(null)]) {
      const page = await get(`${base()}/memory`, b);
      expect(page.status).toBe(200);
      expect(page.html).toContain(`id="memory-${id}"`);
      expect(page.html).not.toContain(`method="post" action="${base()}/memory"`);
      expect(page.html).not.toContain('/pin"');
      expect(page.html).not.toContain('/delete"');
      expect(page.html).not.toContain('Keep both');
      expect((await get(`${base()}/memory/${id}`, b)).html).not.toContain('memory-edit-form');
    }
    const before = await count(repoId);
    const refused = await post(`${base()}/memory`, readerB, entryForm({ subject: 'reader write' }));
    expect(refused.status).toBe(403);
    expect((await post(`${base()}/memory/${id}/pin`, readerB, { pinned: '1' })).status).toBe(403);
    expect((await post(`${base()}/memory/${id}/delete`, readerB, { confirmed: '1' })).status).toBe(403);
    expect((await post(`${base()}/memory/${id}`, readerB, entryForm({ subject: 'changed by a reader' }))).status).toBe(403);
    const anon = await browser(null);
    const anonymous = await post(`${base()}/memory`, anon, entryForm({ subject: 'anonymous write' }));
    expect([303, 401, 403]).toContain(anonymous.status);
    if (anonymous.status === 303) expect(anonymous.location).toContain('/-/login');
    expect(await count(repoId)).toBe(before);
    expect(await getMemoryEntry(server.app.db, repoId, id)).not.toMatchObject({ subject: 'changed by a reader' });
  });

  it('answers 404 for a private repository’s memory to everyone who cannot read it', async () => {
    const { entry } = await recordMemoryEntry(server.app.db, secretId, { kind: 'claim', subject: 'secret plan', fact: 'the launch is on friday', source: { type: 'person', id: owner.id }, created_by_id: owner.id }, now());
    expect((await get(`${hidden()}/memory`, me)).html).toContain('the launch is on friday');
    for (const b of [strangerB, await browser(null)]) {
      for (const path of [`${hidden()}/memory`, `${hidden()}/memory/${entry.id}`, `${hidden()}/memory?q=launch`]) {
        const res = await get(path, b);
        expect(res.status, path).toBe(404);
        expect(res.html).not.toContain('friday');
      }
      const write = await post(`${hidden()}/memory/${entry.id}/delete`, b, { confirmed: '1' });
      expect(write.status, write.html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(-600)).toBe(404);
    }
    expect(await getMemoryEntry(server.app.db, secretId, entry.id)).not.toBeNull();
    // An entry of the private repository is not reachable through another repository's pages either.
    const through = await get(`${base()}/memory/${entry.id}`, me);
    expect(through.status).toBe(404);
    expect((await post(`${base()}/memory/${entry.id}/delete`, me, { confirmed: '1' })).status).toBe(404);
    expect(await getMemoryEntry(server.app.db, secretId, entry.id)).not.toBeNull();
  });

  it('shows on the run page what the run knew, linked and escaped', async () => {
    const { entry } = await recordMemoryEntry(
      server.app.db,
      repoId,
      { kind: 'failure', subject: 'counting words', fact: `splitting on spaces miscounts ${XSS}`, reason: 'tabs', citations: [], source: { type: 'person', id: owner.id }, created_by_id: owner.id },
      now(),
    );
    runner = await startInProcessRunner(server);
    const run = await runScripted(server, owner, `${owner.username}/m`, scriptPrompt('say counted', 'Fix counting words in src/a.txt'), { title: 'Count words' });
    expect(run.status).toBe('succeeded');
    const page = await get(`${base()}/runs/${run.number}`, me);
    expect(page.status).toBe(200);
    expect(page.html).toContain('What this run knew');
    expect(page.html).toContain(`id="run-memory-${entry.id}"`);
    expect(page.html).toContain(`href="${base()}/memory/${entry.id}"`);
    expect(page.html).toContain('id="run-memory-section"');
    expect(page.html).not.toContain('<script>alert(1)');
    expect(page.html).toContain('miscounts &lt;script&gt;alert(1)&lt;/script&gt;');
    // And the entry's page lists the run it was given to.
    const own = await get(`${base()}/memory/${entry.id}`, me);
    expect(own.html).toContain(`href="${base()}/runs/${run.number}"`);
    expect(own.html).not.toContain('No run has been given this entry yet.');
  });

  it('pages through many entries', async () => {
    const created = await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'many' } });
    expect(created.status).toBe(201);
    const manyId = (await server.app.db.selectFrom('repositories').select('id').where('name', '=', 'many').executeTakeFirstOrThrow()).id;
    for (let i = 1; i <= 23; i++) await recordMemoryEntry(server.app.db, manyId, { kind: 'claim', subject: `topic ${i}`, fact: `fact number ${i}`, source: { type: 'person', id: owner.id } }, now());
    const first = await get(`/${owner.username}/many/memory`, me);
    expect(first.html).toContain('23 entries');
    expect(first.html).toContain('Page 1 of 2');
    expect(first.html.match(/<article class="mem-entry/g)).toHaveLength(20);
    expect(first.html).toContain(`href="/${owner.username}/many/memory?page=2"`);
    const second = await get(`/${owner.username}/many/memory?page=2`, me);
    expect(second.html.match(/<article class="mem-entry/g)).toHaveLength(3);
    expect(second.html).toContain('fact number 1<');
    expect((await get(`/${owner.username}/many/memory?page=99`, me)).html).toContain('No entries on this page');
  });

  it("links each agent to its memory from the Agents tab", async () => {
    const page = await get(`${base()}/agents`, me);
    expect(page.status).toBe(200);
    expect(page.html).toContain(`href="${base()}/memory?agent=docs"`);
  });
});
