import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { commitFiles, gitOk, initWorkRepo, tempDir, authUrl } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { createPushedRepo, type PushedRepo } from '../helpers/scriptedRuns.ts';
import { runCli } from '../helpers/cli.ts';
import { codeSearchIndexesSettled } from '../../src/services/searchCode.ts';

const APP_TS = [
  'export function findWidget(name: string) {',
  '  return widgets.get(name);',
  '}',
  '',
  '// a literal pattern: regex.*meta[chars]+ (not a regular expression)',
  "const flag = '--output=/tmp/x';",
  'const SHOUTING = "FindWidget everywhere";',
  '',
].join('\n');

describe.each(testDialects())('search on %s', (dialect) => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let admin: TestUser;
  const pushed: PushedRepo[] = [];
  let many: { path: string; remove(): Promise<void> };

  beforeAll(async () => {
    server = await startTestServer(dialect);
    alice = await createTestUser(server);
    bob = await createTestUser(server);
    carol = await createTestUser(server);
    admin = await createTestUser(server, { admin: true, scopes: ['repo', 'admin'] });
    pushed.push(await createPushedRepo(server, alice, 'widget-shop', { 'src/app.ts': APP_TS, 'README.md': '# Widget shop\n\nSells widgets.\n', 'docs/guide.md': 'How to findWidget in docs\n' }));
    await api(server, 'PATCH', `/repos/${alice.username}/widget-shop`, { token: alice.token, body: { description: 'A toolkit for selling widgets' } });
    pushed.push(await createPushedRepo(server, alice, 'vault', { 'secret.ts': 'export const topsecretvalue = "findWidget hidden";\n' }, { private: true }));
    await api(server, 'PATCH', `/repos/${alice.username}/vault`, { token: alice.token, body: { description: 'hidden widget treasure' } });
    await api(server, 'PUT', `/repos/${alice.username}/vault/collaborators/${carol.username}`, { token: alice.token, body: { permission: 'pull' } });
    pushed.push(await createPushedRepo(server, bob, 'gadgets', { 'lib/gadget.py': 'def find_widget():\n    return "widget"\n' }));

    // A pull request in the public repository and one in the private one.
    for (const [repo, work, title] of [
      ['widget-shop', pushed[0]!, 'Add widget finder'],
      ['vault', pushed[1]!, 'Secret widget plan'],
    ] as const) {
      await gitOk(work.work.path, ['checkout', '-q', '-b', 'feature']);
      await commitFiles(work.work.path, { 'feature.txt': 'feature\n' }, 'feature');
      await gitOk(work.work.path, ['push', '-q', work.remote, 'feature']);
      const pr = await api(server, 'POST', `/repos/${alice.username}/${repo}/pulls`, { token: alice.token, body: { title, body: `Body of ${title} with 100%_done`, head: 'feature', base: 'main' } });
      expect(pr.status).toBe(201);
    }
    const issue = await api(server, 'POST', `/repos/${alice.username}/widget-shop/issues`, { token: alice.token, body: { title: 'Widget search is slow', body: 'It takes 100% of the CPU' } });
    expect(issue.status).toBe(201);
    const hiddenIssue = await api(server, 'POST', `/repos/${alice.username}/vault/issues`, { token: alice.token, body: { title: 'Vault widget leak', body: 'private' } });
    expect(hiddenIssue.status).toBe(201);

    // A repository with 1,100 matching files: more than a search answers.
    await api(server, 'POST', '/user/repos', { token: alice.token, body: { name: 'many' } });
    many = await tempDir();
    await initWorkRepo(many.path, { 'README.md': 'many\n' });
    await mkdir(join(many.path, 'files'));
    for (let i = 0; i < 1100; i++) await writeFile(join(many.path, 'files', `f${String(i).padStart(4, '0')}.txt`), `line one\nthe needle is here ${i}\nline three\n`);
    await gitOk(many.path, ['add', '-A']);
    await gitOk(many.path, ['commit', '-q', '-m', 'many files']);
    await gitOk(many.path, ['push', '-q', authUrl(server.url, `${alice.username}/many.git`, alice.username, alice.token), 'main']);
  }, 120_000);

  afterAll(async () => {
    for (const p of pushed) await p.work.remove();
    await many?.remove();
    await server?.close();
  });

  const octokit = (user?: TestUser) => new Octokit({ baseUrl: `${server.url}/api/v1`, ...(user ? { auth: user.token } : {}) });

  it('finds repositories by name, description and owner with Octokit, ranked by name first', async () => {
    const res = await octokit(alice).search.repos({ q: 'widget' });
    expect(res.status).toBe(200);
    const names = res.data.items.map((r) => r.full_name);
    expect(names[0]).toBe(`${alice.username}/widget-shop`);
    expect(names).toContain(`${alice.username}/vault`);
    expect(res.data.total_count).toBe(names.length);
    expect(res.data.incomplete_results).toBe(false);
    const byOwner = await octokit(bob).search.repos({ q: `user:${alice.username}` });
    expect(byOwner.data.items.map((r) => r.name).sort()).toEqual(['many', 'widget-shop']);
    const byDescription = await octokit(alice).search.repos({ q: 'toolkit in:description' });
    expect(byDescription.data.items.map((r) => r.name)).toEqual(['widget-shop']);
  });

  it('never shows a private repository, its code or its issues to someone who cannot read it', async () => {
    for (const who of [bob, undefined]) {
      const repos = await octokit(who).search.repos({ q: 'widget' });
      expect(repos.data.items.map((r) => r.name)).not.toContain('vault');
      const code = await octokit(who).search.code({ q: 'topsecretvalue' });
      expect(code.data.total_count).toBe(0);
      const code2 = await octokit(who).search.code({ q: `findWidget repo:${alice.username}/vault` });
      expect(code2.data.items).toEqual([]);
      const issues = await octokit(who).search.issuesAndPullRequests({ q: 'widget' });
      const titles = issues.data.items.map((i) => i.title);
      expect(titles).toContain('Add widget finder');
      expect(titles).not.toContain('Secret widget plan');
      expect(titles).not.toContain('Vault widget leak');
      const raw = await api(server, 'GET', `/search/code?q=findWidget&repo=x&ref=main`, { token: who?.token });
      expect(JSON.stringify(raw.json)).not.toContain('vault');
      const scoped = await api(server, 'GET', `/search/code?q=${encodeURIComponent(`findWidget repo:${alice.username}/vault`)}&ref=main`, { token: who?.token });
      expect(scoped.json).toEqual({ total_count: 0, incomplete_results: false, items: [] });
    }
    // The collaborator, the owner and a site administrator do see it.
    for (const who of [carol, alice, admin]) {
      const code = await octokit(who).search.code({ q: 'topsecretvalue' });
      expect(code.data.items.map((i) => `${i.repository.name}:${i.path}`)).toEqual(['vault:secret.ts']);
      const issues = await octokit(who).search.issuesAndPullRequests({ q: 'widget is:pr' });
      expect(issues.data.items.map((i) => i.title).sort()).toEqual(['Add widget finder', 'Secret widget plan']);
    }
    // A token without the repo scope sees what anonymous visitors see.
    const noScope = await createTestUser(server, { scopes: [] });
    expect((await octokit(noScope).search.repos({ q: 'widget' })).data.items.map((r) => r.name)).not.toContain('vault');
  });

  it('searches code across repositories and in one, with lines, context and GitHub shapes', async () => {
    const res = await octokit(alice).search.code({ q: 'findwidget', headers: { accept: 'application/vnd.github.text-match+json' } });
    const found = res.data.items.map((i) => `${i.repository.full_name}:${i.path}`).sort();
    expect(found).toEqual([`${alice.username}/vault:secret.ts`, `${alice.username}/widget-shop:docs/guide.md`, `${alice.username}/widget-shop:src/app.ts`]);
    const app = res.data.items.find((i) => i.path === 'src/app.ts')!;
    expect(app.name).toBe('app.ts');
    expect(app.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(app.html_url).toBe(`${server.url}/${alice.username}/widget-shop/blob/main/src/app.ts`);
    expect(app.text_matches?.[0]?.matches?.[0]?.text?.toLowerCase()).toBe('findwidget');
    const lines = (app as unknown as { lines: { line_number: number; text: string; match: boolean }[] }).lines;
    expect(lines.filter((l) => l.match).map((l) => l.line_number)).toEqual([1, 7]);
    expect(lines.find((l) => l.line_number === 2)).toMatchObject({ match: false, text: '  return widgets.get(name);' });

    // Later searches of the same commits scan an in-memory index: the same answer as git grep gave.
    await codeSearchIndexesSettled();
    const again = await octokit(alice).search.code({ q: 'FINDWIDGET' });
    const strip = (items: { path: string; repository: { full_name: string } }[]) => items.map((i) => ({ path: i.path, repo: i.repository.full_name, lines: (i as unknown as { lines: unknown }).lines }));
    expect(strip(again.data.items)).toEqual(strip(res.data.items));

    const inRepo = await octokit(alice).search.code({ q: `findWidget repo:${alice.username}/widget-shop path:docs` });
    expect(inRepo.data.items.map((i) => i.path)).toEqual(['docs/guide.md']);
    const byLanguage = await octokit(alice).search.code({ q: 'widget language:python' });
    expect(byLanguage.data.items.map((i) => i.path)).toEqual(['lib/gadget.py']);

    // ref= searches another branch of one repository.
    const onFeature = await api(server, 'GET', `/search/code?q=${encodeURIComponent(`feature repo:${alice.username}/widget-shop`)}&ref=feature`, { token: alice.token });
    expect(onFeature.status).toBe(200);
    expect(onFeature.json.items.map((i: { path: string }) => i.path)).toEqual(['feature.txt']);
    expect(onFeature.json.items[0].html_url).toContain('/blob/feature/feature.txt');
    const badRef = await api(server, 'GET', `/search/code?q=${encodeURIComponent(`x repo:${alice.username}/widget-shop`)}&ref=--output=/tmp/x`, { token: alice.token });
    expect(badRef.status).toBe(422);
    const missingRef = await api(server, 'GET', `/search/code?q=${encodeURIComponent(`x repo:${alice.username}/widget-shop`)}&ref=nope`, { token: alice.token });
    expect(missingRef.status).toBe(422);
  });

  it('takes regex metacharacters and option-like queries literally', async () => {
    for (const q of ['regex.*meta[chars]+', '--output=/tmp/x', '-e', '--', "'--output=/tmp/x'"]) {
      const res = await api(server, 'GET', `/search/code?q=${encodeURIComponent(`"${q}" repo:${alice.username}/widget-shop`)}`, { token: alice.token });
      expect(res.status, q).toBe(200);
      for (const item of res.json.items as { lines: { text: string; match: boolean }[] }[]) {
        for (const line of item.lines.filter((l) => l.match)) expect(line.text.toLowerCase(), q).toContain(q.toLowerCase());
      }
      if (q === 'regex.*meta[chars]+' || q === '--output=/tmp/x') expect(res.json.total_count, q).toBe(1);
    }
    // `.*` as a regular expression would match every line; as text it matches only where it is written.
    const dotStar = await api(server, 'GET', `/search/code?q=${encodeURIComponent('.* repo:' + alice.username + '/widget-shop')}`, { token: alice.token });
    expect(dotStar.json.items.map((i: { path: string }) => i.path)).toEqual(['src/app.ts']);
    // LIKE wildcards in issue and repository searches are literal too.
    const percent = await octokit(alice).search.issuesAndPullRequests({ q: '100%_done' });
    expect(percent.data.items.map((i) => i.title).sort()).toEqual(['Add widget finder', 'Secret widget plan']);
    const underscore = await octokit(alice).search.repos({ q: 'widget_shop' });
    expect(underscore.data.total_count).toBe(0);
    // Nothing was written where an option would have written.
    const { existsSync } = await import('node:fs');
    expect(existsSync('/tmp/x') && (await import('node:fs')).statSync('/tmp/x').mtimeMs > Date.now() - 60_000).toBe(false);
  });

  it('answers 422 for an empty or malformed q, and for pages past the first 1,000 results', async () => {
    for (const path of ['/search/repositories', '/search/code', '/search/issues']) {
      for (const q of ['', '   ', 'repo:nonsense', 'language:klingon', 'x'.repeat(300)]) {
        const res = await api(server, 'GET', `${path}?q=${encodeURIComponent(q)}`, { token: alice.token });
        expect(res.status, `${path} q=${q.slice(0, 20)}`).toBe(422);
        expect(res.json.message).toBeTruthy();
      }
      const noQ = await api(server, 'GET', path, { token: alice.token });
      expect(noQ.status).toBe(422);
      const far = await api(server, 'GET', `${path}?q=widget&per_page=100&page=11`, { token: alice.token });
      expect(far.status).toBe(422);
    }
    const onlyQualifiers = await api(server, 'GET', `/search/code?q=${encodeURIComponent(`repo:${alice.username}/widget-shop`)}`, { token: alice.token });
    expect(onlyQualifiers.status).toBe(422);
  });

  it('paginates huge code results and caps them at 1,000 with incomplete_results', async () => {
    const q = encodeURIComponent(`needle repo:${alice.username}/many`);
    const first = await api(server, 'GET', `/search/code?q=${q}&per_page=100`, { token: alice.token });
    expect(first.status).toBe(200);
    expect(first.json.total_count).toBe(1000);
    expect(first.json.incomplete_results).toBe(true);
    expect(first.json.items).toHaveLength(100);
    expect(first.json.items[0].path).toBe('files/f0000.txt');
    expect(first.headers.get('link')).toContain('rel="next"');
    const last = await api(server, 'GET', `/search/code?q=${q}&per_page=100&page=10`, { token: alice.token });
    expect(last.json.items).toHaveLength(100);
    expect(last.json.items[99].path).toBe('files/f0999.txt');
    const octo = await octokit(alice).search.code({ q: `needle repo:${alice.username}/many path:files/f000*`, per_page: 5 });
    expect(octo.data.items.map((i) => i.path)).toEqual(['files/f0000.txt', 'files/f0001.txt', 'files/f0002.txt', 'files/f0003.txt', 'files/f0004.txt']);
  });

  it('searches issues and pull requests with state and kind qualifiers', async () => {
    const all = await octokit(alice).search.issuesAndPullRequests({ q: `widget repo:${alice.username}/widget-shop` });
    expect(all.data.items.map((i) => i.title).sort()).toEqual(['Add widget finder', 'Widget search is slow']);
    const pr = all.data.items.find((i) => i.title === 'Add widget finder')!;
    expect(pr.pull_request?.html_url).toBe(`${server.url}/${alice.username}/widget-shop/pull/${pr.number}`);
    expect(pr.state).toBe('open');
    expect(pr.user?.login).toBe(alice.username);
    const issuesOnly = await octokit(alice).search.issuesAndPullRequests({ q: 'widget is:issue' });
    expect(issuesOnly.data.items.map((i) => i.title).sort()).toEqual(['Vault widget leak', 'Widget search is slow']);
    expect(issuesOnly.data.items.every((i) => i.pull_request === undefined)).toBe(true);
    const closed = await octokit(alice).search.issuesAndPullRequests({ q: 'widget is:closed' });
    expect(closed.data.total_count).toBe(0);
    const inBody = await octokit(alice).search.issuesAndPullRequests({ q: 'CPU in:body' });
    expect(inBody.data.items.map((i) => i.title)).toEqual(['Widget search is slow']);
  });

  it('gitoku search and gitoku repo list from the CLI', async () => {
    const env = { ...server.env, GITOKU_URL: server.url, GITOKU_TOKEN: bob.token };
    const code = await runCli(['search', '--type', 'code', 'findWidget'], env);
    expect(code.code, code.stderr).toBe(0);
    expect(code.stdout).toContain(`${alice.username}/widget-shop:src/app.ts:1: export function findWidget(name: string) {`);
    expect(code.stdout).not.toContain('vault');
    const repos = await runCli(['search', 'widget', '--json'], env);
    expect(JSON.parse(repos.stdout).items.map((r: { name: string }) => r.name).sort()).toEqual(['widget-shop']);
    const issues = await runCli(['search', '--type', 'issues', '--repo', `${alice.username}/widget-shop`, 'widget'], env);
    expect(issues.stdout).toMatch(/widget-shop#\d+\s+PR\s+open\s+Add widget finder/);
    const literal = await runCli(['search', '--type', 'code', '--repo', `${alice.username}/widget-shop`, '--', '--output=/tmp/x'], env);
    expect(literal.code, literal.stderr).toBe(0);
    expect(literal.stdout).toContain("src/app.ts:6: const flag = '--output=/tmp/x';");
    const bad = await runCli(['search', '--type', 'code', ''], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('422');

    const mine = await runCli(['repo', 'list', '--json'], { ...env, GITOKU_TOKEN: carol.token });
    expect(JSON.parse(mine.stdout).map((r: { full_name: string }) => r.full_name)).toEqual([`${alice.username}/vault`]);
    const theirs = await runCli(['repo', 'list', alice.username], env);
    expect(theirs.code, theirs.stderr).toBe(0);
    expect(theirs.stdout).toContain(`${alice.username}/widget-shop`);
    expect(theirs.stdout).toContain('A toolkit for selling widgets');
    expect(theirs.stdout).not.toContain('vault');
  }, 180_000);
});
