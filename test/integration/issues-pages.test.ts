import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { createPushedRepo, type PushedRepo } from '../helpers/scriptedRuns.ts';
import { commitFiles, gitOk } from '../helpers/git.ts';
import { createSession } from '../../src/services/sessions.ts';

/** Untrusted text that must come out escaped (titles) or sanitized (markdown) wherever a page shows it. */
const XSS_TITLE = `<script>window.__pwned=1</script><img src=x onerror=alert(1)> & "quotes"`;
const XSS_BODY = `Hello **world**\n\n<script>alert('body')</script>\n\n<img src=x onerror="alert(2)">\n\n[click](javascript:alert(3)) <a href="javascript:alert(4)">raw</a>`;

interface Browser {
  cookie: string;
  csrf: string;
}

interface Page {
  status: number;
  html: string;
  location: string | null;
  headers: Headers;
}

describe.each(testDialects())('the issue pages on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let writer: TestUser;
  let reader: TestUser;
  let stranger: TestUser;
  let repo: PushedRepo;
  let secret: PushedRepo;
  let me: Browser;
  let writerB: Browser;
  let readerB: Browser;
  let strangerB: Browser;
  let anon: Browser;
  let pullNumber = 0;
  let secretIssue = 0;
  const base = () => `/${owner.username}/web`;
  const hidden = () => `/${owner.username}/hidden`;

  /** A browser of `user` (or anonymous): its cookies and the CSRF token its forms carry. */
  async function browser(user: TestUser | null): Promise<Browser> {
    const session = user ? `gitoku_session=${await createSession(server.app, user.id)}` : '';
    const res = await fetch(`${server.url}/-/login`, { headers: session ? { Cookie: session } : {}, redirect: 'manual' });
    const csrfCookie = res.headers
      .getSetCookie()
      .find((c) => c.startsWith('gitoku_csrf='))!
      .split(';')[0]!;
    const cookie = [session, csrfCookie].filter(Boolean).join('; ');
    const html = user ? await (await fetch(`${server.url}/`, { headers: { Cookie: cookie } })).text() : await res.text();
    const csrf = /name="_csrf" value="([0-9a-f]+)"/.exec(html)![1]!;
    return { cookie, csrf };
  }

  async function get(path: string, b?: Browser): Promise<Page> {
    const res = await fetch(`${server.url}${path}`, { headers: b ? { Cookie: b.cookie } : {}, redirect: 'manual' });
    return { status: res.status, html: await res.text(), location: res.headers.get('location'), headers: res.headers };
  }

  async function post(path: string, b: Browser, fields: [string, string][] | Record<string, string>, csrf: string | null = b.csrf): Promise<Page> {
    const body = new URLSearchParams(Array.isArray(fields) ? fields : Object.entries(fields));
    if (csrf) body.append('_csrf', csrf);
    const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { Cookie: b.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body, redirect: 'manual' });
    return { status: res.status, html: await res.text(), location: res.headers.get('location'), headers: res.headers };
  }

  /** Opens an issue through the form; returns its number. */
  async function openIssue(b: Browser, fields: [string, string][] | Record<string, string>, repoPath = base()): Promise<number> {
    const res = await post(`${repoPath}/issues`, b, fields);
    expect(res.status, res.html.slice(0, 400)).toBe(303);
    const m = new RegExp(`^${repoPath}/issues/(\\d+)$`).exec(res.location ?? '');
    expect(m, res.location ?? '').not.toBeNull();
    return Number(m![1]);
  }

  const issueCount = async () => Number((await server.app.db.selectFrom('issues').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  /** The text of the element with this id up to its closing tag (tags stripped, white space folded). */
  const textById = (html: string, id: string, tag = 'section') => {
    const m = new RegExp(`id="${id}"[^>]*>([\\s\\S]*?)</${tag}>`).exec(html);
    return m ? m[1]!.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim() : '';
  };

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    writer = await createTestUser(server);
    reader = await createTestUser(server);
    stranger = await createTestUser(server);
    repo = await createPushedRepo(server, owner, 'web', { 'README.md': '# Web\n', 'src/a.txt': 'one\n' });
    secret = await createPushedRepo(server, owner, 'hidden', { 'README.md': '# Hidden\n' }, { private: true });
    for (const [user, permission] of [
      [writer, 'push'],
      [reader, 'pull'],
    ] as const) {
      const added = await api(server, 'PUT', `/repos/${owner.username}/web/collaborators/${user.username}`, { token: owner.token, body: { permission } });
      expect([201, 204]).toContain(added.status);
    }
    // A pull request takes a number from the same sequence as issues.
    await gitOk(repo.work.path, ['checkout', '-q', '-b', 'feature']);
    await commitFiles(repo.work.path, { 'src/b.txt': 'two\n' }, 'Add b');
    await gitOk(repo.work.path, ['push', '-q', repo.remote, 'feature']);
    const pr = await api(server, 'POST', `/repos/${owner.username}/web/pulls`, { token: owner.token, body: { title: 'A feature', head: 'feature', base: 'main' } });
    expect(pr.status, pr.text).toBe(201);
    pullNumber = pr.json.number;
    me = await browser(owner);
    writerB = await browser(writer);
    readerB = await browser(reader);
    strangerB = await browser(stranger);
    anon = await browser(null);
    secretIssue = await openIssue(me, { title: 'Secret plans for the launch', body: 'nobody may know' }, hidden());
  });

  afterAll(async () => {
    await repo?.work.remove();
    await secret?.work.remove();
    await server?.close();
  });

  it('lists issues with the open/closed toggle and counts, and a New issue button for signed-in users only', async () => {
    const empty = await get(`${base()}/issues`, me);
    expect(empty.status).toBe(200);
    expect(empty.html).toContain('No open issues');
    expect(empty.html).toContain('id="new-issue-button"');
    const n1 = await openIssue(me, { title: 'First bug', body: 'It breaks.' });
    const n2 = await openIssue(writerB, { title: 'Second idea', body: 'Maybe.' });
    expect(n1).toBeGreaterThan(pullNumber);
    expect(n2).toBe(n1 + 1);
    expect((await post(`${base()}/issues/${n2}/state`, writerB, { state: 'completed' })).status).toBe(303);
    const open = await get(`${base()}/issues`, me);
    expect(open.html).toContain('First bug');
    expect(open.html).not.toContain('Second idea');
    // Pull requests are not issues: the list leaves them out.
    expect(open.html).not.toContain('A feature');
    expect(textById(open.html, 'issues-open-tab', 'a')).toBe('1 Open');
    expect(textById(open.html, 'issues-closed-tab', 'a')).toBe('1 Closed');
    const closed = await get(`${base()}/issues?state=closed`, me);
    expect(closed.html).toContain('Second idea');
    expect(closed.html).not.toContain('First bug');
    // The repository's Issues tab counts open issues (from the service).
    expect(open.html).toMatch(/href="\/[^"]+\/web\/issues"[^>]*>[\s\S]*?Issues[\s\S]*?<span class="counter">1<\/span>/);
    const anonymous = await get(`${base()}/issues`, anon);
    expect(anonymous.status).toBe(200);
    expect(anonymous.html).toContain('First bug');
    expect(anonymous.html).not.toContain('id="new-issue-button"');
    // Anonymous visitors are sent to sign in for the form.
    const form = await get(`${base()}/issues/new`, anon);
    expect(form.status).toBe(303);
    expect(form.location).toContain('/-/login?next=');
  });

  it('filters by label, assignee, author and text, sorts, and paginates', async () => {
    expect((await post(`${base()}/labels`, me, { name: 'bug', color: '#d73a4a', description: 'Something is broken' })).status).toBe(303);
    expect((await post(`${base()}/labels`, me, { name: 'docs', color: '#0075ca', description: '' })).status).toBe(303);
    const a = await openIssue(me, [
      ['title', 'Crash on save'],
      ['body', 'The parser chokes on unicode'],
      ['labels', 'bug'],
      ['assignees', writer.username],
    ]);
    const b = await openIssue(writerB, [
      ['title', 'Document the CLI'],
      ['body', 'Explain every flag'],
      ['labels', 'docs'],
    ]);
    const titles = (html: string) => [...html.matchAll(/class="pull-title-link issue-title-link">\s*([^<]*?)\s*</g)].map((m) => m[1]);
    expect(titles((await get(`${base()}/issues?label=bug`, me)).html)).toEqual(['Crash on save']);
    expect(titles((await get(`${base()}/issues?label=BUG`, me)).html)).toEqual(['Crash on save']);
    expect(titles((await get(`${base()}/issues?assignee=${writer.username}`, me)).html)).toEqual(['Crash on save']);
    expect(titles((await get(`${base()}/issues?assignee=none`, me)).html)).not.toContain('Crash on save');
    expect(titles((await get(`${base()}/issues?author=${writer.username}`, me)).html)).toEqual(['Document the CLI']);
    expect(titles((await get(`${base()}/issues?q=UNICODE`, me)).html)).toEqual(['Crash on save']);
    expect(titles((await get(`${base()}/issues?q=${encodeURIComponent('100%_')}`, me)).html)).toEqual([]);
    expect((await get(`${base()}/issues?author=nobody-at-all`, me)).html).toContain('No issues match these filters');
    const newest = titles((await get(`${base()}/issues`, me)).html);
    const oldest = titles((await get(`${base()}/issues?sort=oldest`, me)).html);
    expect(newest[0]).toBe('Document the CLI');
    expect(oldest).toEqual([...newest].reverse());
    // Label chips carry their colour class; the colours come from the repository's stylesheet.
    const list = await get(`${base()}/issues?label=bug`, me);
    const chip = /class="issue-label lbl-(\d+)"[^>]*>bug</.exec(list.html);
    expect(chip).not.toBeNull();
    const sheetHref = /href="([^"]*\/labels\.css\?v=[^"]+)"/.exec(list.html)![1]!;
    const sheet = await get(sheetHref.replace(/&amp;/g, '&'), me);
    expect(sheet.status).toBe(200);
    expect(sheet.headers.get('content-type')).toContain('text/css');
    expect(sheet.html).toContain(`.lbl-${chip![1]}{background:#d73a4a;color:#ffffff;`);
    // A light colour gets dark text.
    expect(sheet.html).toMatch(/\{background:#0075ca;color:#ffffff;/);
    // Bad filter values are ignored, not errors.
    expect((await get(`${base()}/issues?state=bogus&sort=nope&page=-3`, me)).status).toBe(200);
    // Pages of 25.
    for (let i = 0; i < 26; i++) await openIssue(writerB, { title: `Bulk ${String(i).padStart(2, '0')}`, body: '' });
    const page1 = await get(`${base()}/issues?q=Bulk`, me);
    expect(titles(page1.html)).toHaveLength(25);
    expect(page1.html).toContain('Page 1 of 2');
    const page2 = await get(`${base()}/issues?q=Bulk&page=2`, me);
    expect(titles(page2.html)).toEqual(['Bulk 00']);
    expect(a).toBeLessThan(b);
  });

  it('escapes titles and sanitizes bodies and comments with HTML, script and javascript: links', async () => {
    const n = await openIssue(me, { title: XSS_TITLE, body: XSS_BODY });
    expect((await post(`${base()}/issues/${n}/comment`, readerB, { body: `<img src=x onerror=alert(5)> **bold** [x](javascript:alert(6))` })).status).toBe(303);
    for (const path of [`${base()}/issues/${n}`, `${base()}/issues?state=all`]) {
      const page = await get(path, me);
      expect(page.status).toBe(200);
      expect(page.html).not.toContain('<script>window.__pwned');
      expect(page.html).toContain('&lt;script&gt;window.__pwned=1&lt;/script&gt;');
      expect(page.html).not.toMatch(/<img[^>]*onerror/i);
      expect(page.html).not.toMatch(/href="javascript:/i);
      expect(page.html).not.toContain("alert('body')");
    }
    const page = await get(`${base()}/issues/${n}`, me);
    expect(page.html).toContain('<strong>world</strong>');
    expect(page.html).toContain('<strong>bold</strong>');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  it('refuses forms without the CSRF token', async () => {
    const before = await issueCount();
    const res = await post(`${base()}/issues`, me, { title: 'Forged', body: '' }, null);
    expect(res.status).toBe(403);
    const wrong = await post(`${base()}/issues`, me, { title: 'Forged', body: '' }, 'f'.repeat(64));
    expect(wrong.status).toBe(403);
    expect(await issueCount()).toBe(before);
    const n = await openIssue(me, { title: 'CSRF target', body: '' });
    expect((await post(`${base()}/issues/${n}/state`, me, { state: 'completed' }, null)).status).toBe(403);
    expect((await post(`${base()}/labels`, me, { name: 'forged', color: '#000000' }, null)).status).toBe(403);
    expect((await get(`${base()}/issues/${n}`, me)).html).toContain('data-issue-state="open"');
  });

  it('shows readers values but no controls, and refuses their label, assignee and agent posts with 403', async () => {
    const n = await openIssue(me, [
      ['title', 'Reader view'],
      ['body', ''],
      ['labels', 'bug'],
      ['assignees', writer.username],
    ]);
    const asOwner = await get(`${base()}/issues/${n}`, me);
    expect(asOwner.html).toContain('id="assignee-picker"');
    expect(asOwner.html).toContain('id="label-picker"');
    expect(asOwner.html).toContain('value="agent:script"');
    expect(asOwner.html).toContain('id="close-issue"');
    const asReader = await get(`${base()}/issues/${n}`, readerB);
    expect(asReader.status).toBe(200);
    expect(asReader.html).not.toContain('id="assignee-picker"');
    expect(asReader.html).not.toContain('id="label-picker"');
    expect(asReader.html).not.toContain('agent:script');
    expect(asReader.html).not.toContain('id="close-issue"');
    expect(asReader.html).not.toContain('id="edit-issue"');
    // …but the values.
    expect(textById(asReader.html, 'side-assignees-values', 'ul')).toContain(writer.username);
    expect(textById(asReader.html, 'side-labels-values', 'div')).toContain('bug');
    // A reader may comment, not label, assign, close or edit.
    expect((await post(`${base()}/issues/${n}/comment`, readerB, { body: 'Me too' })).status).toBe(303);
    expect((await post(`${base()}/issues/${n}/labels`, readerB, [['labels', 'docs']])).status).toBe(403);
    expect((await post(`${base()}/issues/${n}/assignees`, readerB, [['assignees', reader.username]])).status).toBe(403);
    expect((await post(`${base()}/issues/${n}/assignees`, readerB, [['assignees', 'agent:script']])).status).toBe(403);
    expect((await post(`${base()}/issues/${n}/state`, readerB, { state: 'completed' })).status).toBe(403);
    expect((await post(`${base()}/issues/${n}/edit`, readerB, { title: 'Hijacked', body: '' })).status).toBe(403);
    // Opening an issue with labels or an agent is for writers only.
    const before = await issueCount();
    expect((await post(`${base()}/issues`, readerB, [['title', 'Sneaky'], ['body', ''], ['assignees', 'agent:script']])).status).toBe(403);
    expect((await post(`${base()}/issues`, readerB, [['title', 'Sneaky'], ['body', ''], ['labels', 'bug']])).status).toBe(403);
    expect(await issueCount()).toBe(before);
    // Labels: readers see the list and no form; their posts are refused.
    const labels = await get(`${base()}/labels`, readerB);
    expect(labels.status).toBe(200);
    expect(labels.html).toContain('bug');
    expect(labels.html).not.toContain('id="new-label-form"');
    expect((await post(`${base()}/labels`, readerB, { name: 'mine', color: '#123456' })).status).toBe(403);
    const after = await get(`${base()}/issues/${n}`, me);
    expect(textById(after.html, 'side-labels-values', 'div')).toBe('bug');
    expect(after.html).toContain('data-issue-state="open"');
    expect(after.html).toContain('Reader view');
    // A reader's own issue: they may close and edit it (the author), still not label it.
    const own = await openIssue(readerB, { title: 'My own', body: '' });
    const ownPage = await get(`${base()}/issues/${own}`, readerB);
    expect(ownPage.html).toContain('id="close-issue"');
    expect(ownPage.html).toContain('id="edit-issue"');
    expect(ownPage.html).not.toContain('id="label-picker"');
    expect((await post(`${base()}/issues/${own}/state`, readerB, { state: 'not_planned' })).status).toBe(303);
    expect((await get(`${base()}/issues/${own}`, readerB)).html).toContain('data-issue-state="not_planned"');
  });

  it('labels, assigns, closes, reopens and edits an issue, each in the timeline', async () => {
    const n = await openIssue(me, { title: 'Timeline', body: 'Start' });
    expect((await post(`${base()}/issues/${n}/labels`, writerB, [['labels_form', '1'], ['labels', 'bug'], ['labels', 'docs']])).status).toBe(303);
    expect((await post(`${base()}/issues/${n}/labels`, writerB, [['labels_form', '1'], ['labels', 'docs']])).status).toBe(303);
    expect((await post(`${base()}/issues/${n}/assignees`, writerB, [['assignees', owner.username]])).status).toBe(303);
    expect((await post(`${base()}/issues/${n}/state`, me, { state: 'not_planned', body: 'Won’t do' })).status).toBe(303);
    expect((await post(`${base()}/issues/${n}/state`, me, { state: 'open' })).status).toBe(303);
    expect((await post(`${base()}/issues/${n}/edit`, me, { title: 'Timeline, renamed', body: 'Start again' })).status).toBe(303);
    const page = await get(`${base()}/issues/${n}`, me);
    const text = page.html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
    expect(text).toContain(`${writer.username} added bug`);
    expect(text).toContain(`${writer.username} removed bug`);
    expect(text).toContain(`${writer.username} assigned ${owner.username}`);
    expect(text).toContain(`${owner.username} closed this as not planned`);
    expect(text).toContain(`${owner.username} reopened this`);
    expect(text).toMatch(/changed the title Timeline Timeline, renamed/);
    expect(text).toContain('Won’t do');
    expect(page.html).toContain('data-issue-state="open"');
    expect(textById(page.html, 'side-labels-values', 'div')).toBe('docs');
    // A bad state and an empty title are refused with a message, not a crash.
    const bad = await post(`${base()}/issues/${n}/state`, me, { state: 'sideways' });
    expect(bad.status).toBe(303);
    const blank = await post(`${base()}/issues/${n}/edit`, me, { title: '   ', body: '' });
    expect(blank.status).toBe(422);
    expect(blank.html).toMatch(/title is required/i);
    // An empty comment keeps the form and says why.
    const empty = await post(`${base()}/issues/${n}/comment`, me, { body: '   ' });
    expect(empty.status).toBe(422);
    expect(empty.html).toMatch(/body is required/i);
  });

  it('refuses oversized bodies (413) and keeps what was typed', async () => {
    const before = await issueCount();
    const res = await post(`${base()}/issues`, me, { title: 'Too long', body: 'x'.repeat(70_000) });
    expect(res.status).toBe(413);
    expect(res.html).toMatch(/body is too long/i);
    expect(res.html).toContain('value="Too long"');
    expect(await issueCount()).toBe(before);
    const n = await openIssue(me, { title: 'Commented', body: '' });
    const comment = await post(`${base()}/issues/${n}/comment`, me, { body: 'y'.repeat(70_000) });
    expect(comment.status).toBe(413);
  });

  it('hides a private repository’s issues, labels and live status from those who cannot read it (404)', async () => {
    for (const b of [strangerB, anon]) {
      for (const path of [`${hidden()}/issues`, `${hidden()}/issues/${secretIssue}`, `${hidden()}/issues/${secretIssue}/live`, `${hidden()}/labels`, `${hidden()}/labels.css`, `${hidden()}/issues/new`]) {
        const res = await get(path, b);
        if (b === anon && path.endsWith('/new')) {
          expect(res.status).toBe(303);
          continue;
        }
        expect(res.status, path).toBe(404);
        expect(res.html).not.toContain('Secret plans');
      }
      expect((await post(`${hidden()}/issues/${secretIssue}/comment`, b, { body: 'hi' })).status).toBe(b === anon ? 303 : 404);
    }
    expect((await post(`${hidden()}/issues`, strangerB, { title: 'x', body: '' })).status).toBe(404);
    expect((await get(`${hidden()}/issues/${secretIssue}`, me)).html).toContain('Secret plans');
  });

  it('redirects a pull request’s number to the pull request, and 404s numbers that are neither', async () => {
    const res = await get(`${base()}/issues/${pullNumber}`, me);
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${base()}/pull/${pullNumber}`);
    expect((await get(`${base()}/issues/999999`, me)).status).toBe(404);
    expect((await get(`${base()}/issues/99999999999999999999`, me)).status).toBe(404);
    expect((await get(`${base()}/issues/0`, me)).status).toBe(404);
  });

  it('links #N, OWNER/REPO#N and @user in markdown — never a private repository’s title', async () => {
    const target = await openIssue(me, { title: 'Link target', body: '' });
    const body = [
      `See #${target} and #${pullNumber}, not #987654.`,
      `Also ${owner.username}/hidden#${secretIssue} and ${owner.username}/web#${target}.`,
      `Thanks @${reader.username} and @no-such-user-here.`,
      `In code: \`#${target}\` and`,
      '',
      '```',
      `#${target} @${reader.username}`,
      '```',
    ].join('\n');
    const n = await openIssue(me, { title: 'Linking', body });
    const description = (html: string) => /id="issue-description"[\s\S]*?<div class="markdown-body comment-body">([\s\S]*?)<\/div>/.exec(html)![1]!;
    // A viewer who cannot read the private repository: plain text, no title.
    for (const b of [strangerB, anon, readerB]) {
      const html = (await get(`${base()}/issues/${n}`, b)).html;
      const d = description(html);
      expect(d).toContain(`<a class="issue-ref" href="${base()}/issues/${target}" title="Link target">#${target}</a>`);
      expect(d).toContain(`<a class="issue-ref" href="${base()}/pull/${pullNumber}" title="A feature">#${pullNumber}</a>`);
      expect(d).toContain(`<a class="issue-ref" href="${base()}/issues/${target}" title="Link target">${owner.username}/web#${target}</a>`);
      expect(d).toContain('#987654');
      expect(d).not.toMatch(/href="[^"]*987654/);
      expect(d).toContain(`${owner.username}/hidden#${secretIssue}`);
      expect(d).not.toContain(`hidden/issues/${secretIssue}`);
      expect(html).not.toContain('Secret plans');
      expect(d).toContain(`<a class="user-mention" href="/${reader.username}">@${reader.username}</a>`);
      expect(d).toContain('@no-such-user-here');
      expect(d).not.toContain('href="/no-such-user-here"');
      // Not inside code.
      expect(d).toContain(`<code>#${target}</code>`);
      expect(d).toMatch(new RegExp(`<pre><code>#${target} @${reader.username}\\n</code></pre>`));
    }
    // The owner can read the private repository: linked, with its title.
    const d = description((await get(`${base()}/issues/${n}`, me)).html);
    expect(d).toContain(`<a class="issue-ref" href="${hidden()}/issues/${secretIssue}" title="Secret plans for the launch">${owner.username}/hidden#${secretIssue}</a>`);
  });

  it('links references in pull request descriptions and comments, and in commit messages', async () => {
    const target = await openIssue(me, { title: 'Referenced from code', body: '' });
    expect((await api(server, 'PATCH', `/repos/${owner.username}/web/pulls/${pullNumber}`, { token: owner.token, body: { body: `Works on #${target} with @${writer.username}; not ${owner.username}/hidden#${secretIssue}` } })).status).toBe(200);
    const comment = await post(`${base()}/pull/${pullNumber}/comment`, me, { body: `Also see #${target} <script>alert(1)</script>` });
    expect(comment.status).toBe(303);
    const pull = await get(`${base()}/pull/${pullNumber}`, strangerB);
    expect(pull.status).toBe(200);
    expect(pull.html.match(new RegExp(`<a class="issue-ref" href="${base()}/issues/${target}" title="Referenced from code">#${target}</a>`, 'g'))).toHaveLength(2);
    expect(pull.html).toContain(`<a class="user-mention" href="/${writer.username}">@${writer.username}</a>`);
    expect(pull.html).not.toContain('Secret plans');
    expect(pull.html).not.toContain('<script>alert(1)');
    await gitOk(repo.work.path, ['checkout', '-q', 'main']);
    await commitFiles(repo.work.path, { 'src/c.txt': 'three\n' }, `Touch c\n\nRefs #${target} for @${reader.username} <script>alert(7)</script> ${owner.username}/hidden#${secretIssue}`);
    await gitOk(repo.work.path, ['push', '-q', repo.remote, 'main']);
    const sha = (await gitOk(repo.work.path, ['rev-parse', 'HEAD'])).trim();
    const commit = await get(`${base()}/commit/${sha}`, strangerB);
    expect(commit.status).toBe(200);
    expect(commit.html).toContain(`<a class="issue-ref" href="${base()}/issues/${target}" title="Referenced from code">#${target}</a>`);
    expect(commit.html).toContain(`<a class="user-mention" href="/${reader.username}">@${reader.username}</a>`);
    expect(commit.html).toContain('&lt;script&gt;alert(7)&lt;/script&gt;');
    expect(commit.html).not.toContain('Secret plans');
    expect(commit.html).not.toContain(`hidden/issues/${secretIssue}`);
  });

  it('creates, edits and deletes labels (write access), refusing invalid colours with a message', async () => {
    const bad = await post(`${base()}/labels`, me, { name: 'broken', color: 'not-a-colour', description: '' });
    expect(bad.status).toBe(422);
    expect(bad.html).toMatch(/color must be six hexadecimal digits/i);
    expect(bad.html).toContain('value="broken"');
    const dup = await post(`${base()}/labels`, me, { name: 'BUG', color: '#00ff00', description: '' });
    expect([409, 422]).toContain(dup.status);
    expect((await post(`${base()}/labels`, writerB, { name: `<b>wip</b>`, color: '#fbca04', description: 'Work <i>in</i> progress' })).status).toBe(303);
    let page = await get(`${base()}/labels`, me);
    expect(page.html).toContain('&lt;b&gt;wip&lt;/b&gt;');
    expect(page.html).not.toContain('<b>wip</b>');
    const id = Number(/id="label-(\d+)"[\s\S]*?&lt;b&gt;wip/.exec(page.html)?.[1] ?? /lbl-(\d+)"[^>]*>&lt;b&gt;wip/.exec(page.html)![1]);
    const edited = await post(`${base()}/labels/${id}`, me, { name: 'wip', color: '#e4e669', description: 'Work in progress' });
    expect(edited.status).toBe(303);
    const badEdit = await post(`${base()}/labels/${id}`, me, { name: 'wip', color: '#12345', description: '' });
    expect(badEdit.status).toBe(422);
    page = await get(`${base()}/labels`, me);
    expect(page.html).toMatch(/lbl-\d+"[^>]*>wip</);
    const sheet = await get(`${base()}/labels.css`, me);
    expect(sheet.html).toContain(`.lbl-${id}{background:#e4e669;color:#1b1f24;`);
    // Deleting asks first, then removes.
    const ask = await post(`${base()}/labels/${id}/delete`, me, {});
    expect(ask.status).toBe(200);
    expect(ask.html).toContain('Delete label “wip”?');
    const done = await post(`${base()}/labels/${id}/delete`, me, { confirmed: '1' });
    expect(done.status).toBe(303);
    expect((await get(`${base()}/labels`, me)).html).not.toMatch(/lbl-\d+"[^>]*>wip</);
    expect((await post(`${base()}/labels/${id}/delete`, me, { confirmed: '1' })).status).toBe(404);
  });

  it('serves the live JSON the page polls', async () => {
    const n = await openIssue(me, { title: 'Live', body: '' });
    const res = await get(`${base()}/issues/${n}/live`, readerB);
    expect(res.status).toBe(200);
    const json = JSON.parse(res.html) as { key: string; state: string; runs: unknown[] };
    expect(json).toEqual({ key: 'open|0|', state: 'open', state_reason: null, runs: [] });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect((await get(`${base()}/issues/${pullNumber}/live`, me)).status).toBe(404);
  });
});
