import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Octokit } from '@octokit/rest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 1, 2, 3]);

describe.each(testDialects())('browsing API on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let work: { path: string; remove(): Promise<void> };
  const shas: Record<string, string> = {};

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'code' } });
    work = await tempDir();
    const dir = work.path;
    await initWorkRepo(dir, { 'README.md': '# Code\n\nHello.\n', 'src/app.ts': 'export const a = 1;\nexport const b = 2;\n', 'docs/guide.md': 'guide\n', 'logo.png': PNG });
    shas.first = (await gitOk(dir, ['rev-parse', 'HEAD'])).trim();
    await gitOk(dir, ['mv', 'docs/guide.md', 'docs/handbook.md']);
    shas.second = await commitFiles(dir, { 'src/app.ts': 'export const a = 1;\nexport const b = 3;\nexport const c = 4;\n' }, 'Rename guide, change app');
    await gitOk(dir, ['tag', 'v1.0']);
    await gitOk(dir, ['tag', '-a', 'v1.1', '-m', 'annotated']);
    await gitOk(dir, ['checkout', '-q', '-b', 'feature/x']);
    shas.feature = await commitFiles(dir, { 'src/feature.ts': 'export const f = true;\n' }, 'Add feature');
    await gitOk(dir, ['checkout', '-q', 'main']);
    const remote = authUrl(server.url, `${owner.username}/code.git`, owner.username, owner.token);
    await gitOk(dir, ['push', '-q', remote, 'main', 'feature/x', '--tags']);
  });

  afterAll(async () => {
    await work?.remove();
    await server?.close();
  });

  const path = (p: string) => `/repos/${owner.username}/code${p}`;

  it('lists a directory and reads a file with base64 content', async () => {
    const root = await api(server, 'GET', path('/contents'));
    expect(root.status).toBe(200);
    expect(root.json.map((e: { name: string; type: string }) => `${e.type}:${e.name}`)).toEqual(['dir:docs', 'dir:src', 'file:logo.png', 'file:README.md']);
    const file = await api(server, 'GET', path('/contents/src/app.ts?ref=feature/x'));
    expect(file.status).toBe(200);
    expect(file.json).toMatchObject({ type: 'file', name: 'app.ts', path: 'src/app.ts', encoding: 'base64', size: 60 });
    expect(Buffer.from(file.json.content, 'base64').toString()).toContain('export const c = 4;');
    const old = await api(server, 'GET', path(`/contents/docs/guide.md?ref=${shas.first}`));
    expect(Buffer.from(old.json.content, 'base64').toString()).toBe('guide\n');
  });

  it('refuses hostile paths and refs with 404 and never a 5xx', async () => {
    for (const p of ['/contents/../../etc/passwd', '/contents/src/%2e%2e/%2e%2e/x', '/contents/a%00b', '/contents/nope.txt', '/contents/README.md?ref=--output=/tmp/x', '/contents/README.md?ref=-p', '/commits/--help', '/raw/main/..%2F..%2Fetc%2Fpasswd', '/blame/main/missing.txt', '/compare/main...--output=x']) {
      const res = await api(server, 'GET', path(p));
      expect([400, 404], `${p} → ${res.status}`).toContain(res.status);
      expect(res.json?.message, p).toBeTruthy();
    }
  });

  it('serves raw files with safe headers, also for refs with slashes', async () => {
    const res = await fetch(`${server.url}/api/v1${path('/raw/feature/x/src/feature.ts')}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await res.text()).toBe('export const f = true;\n');
    const png = await fetch(`${server.url}/api/v1${path('/raw/main/logo.png')}`);
    expect(png.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await png.arrayBuffer())).toEqual(PNG);
  });

  it('lists commits with pagination and a path filter', async () => {
    const all = await api(server, 'GET', path('/commits?per_page=1'));
    expect(all.status).toBe(200);
    expect(all.json).toHaveLength(1);
    expect(all.json[0].sha).toBe(shas.second);
    expect(all.headers.get('link')).toContain('rel="next"');
    const page2 = await api(server, 'GET', path('/commits?per_page=1&page=2'));
    expect(page2.json[0].sha).toBe(shas.first);
    const byPath = await api(server, 'GET', path('/commits?sha=feature/x&path=src/feature.ts'));
    expect(byPath.json.map((c: { sha: string }) => c.sha)).toEqual([shas.feature]);
  });

  it('shows a commit with files, renames and patches', async () => {
    const res = await api(server, 'GET', path(`/commits/${shas.second}`));
    expect(res.status).toBe(200);
    const files = Object.fromEntries(res.json.files.map((f: { filename: string }) => [f.filename, f]));
    expect(files['docs/handbook.md']).toMatchObject({ status: 'renamed', previous_filename: 'docs/guide.md' });
    expect(files['src/app.ts']).toMatchObject({ status: 'modified', additions: 2, deletions: 1 });
    expect(files['src/app.ts'].patch).toContain('+export const c = 4;');
    const root = await api(server, 'GET', path(`/commits/${shas.first}`));
    const logo = root.json.files.find((f: { filename: string }) => f.filename === 'logo.png');
    expect(logo).toMatchObject({ status: 'added' });
    expect(logo.patch).toBeUndefined();
  });

  it('compares two refs', async () => {
    const res = await api(server, 'GET', path('/compare/main...feature/x'));
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'ahead', ahead_by: 1, behind_by: 0, total_commits: 1 });
    expect(res.json.files.map((f: { filename: string }) => f.filename)).toEqual(['src/feature.ts']);
    expect(res.json.merge_base_commit.sha).toBe(shas.second);
  });

  it('lists trees recursively and tags', async () => {
    const tree = await api(server, 'GET', path('/git/trees/main?recursive=1'));
    expect(tree.status).toBe(200);
    expect(tree.json.tree.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['src', 'src/app.ts', 'docs/handbook.md', 'logo.png']));
    const tags = await api(server, 'GET', path('/tags'));
    expect(tags.json.map((t: { name: string }) => t.name).sort()).toEqual(['v1.0', 'v1.1']);
    expect(tags.json.every((t: { commit: { sha: string } }) => t.commit.sha === shas.second)).toBe(true);
  });

  it('blames a file as ranges of lines per commit', async () => {
    const res = await api(server, 'GET', path('/blame/main/src/app.ts'));
    expect(res.status).toBe(200);
    expect(res.json.ranges).toEqual([
      expect.objectContaining({ start_line: 1, end_line: 1, commit: expect.objectContaining({ sha: shas.first, message: 'Initial commit' }) }),
      expect.objectContaining({ start_line: 2, end_line: 3, commit: expect.objectContaining({ sha: shas.second }) }),
    ]);
  });

  it('creates and deletes branches through the ref-change ingress', async () => {
    const created = await api(server, 'POST', path('/git/refs'), { token: owner.token, body: { ref: 'refs/heads/topic', sha: shas.first } });
    expect(created.status).toBe(201);
    const again = await api(server, 'POST', path('/git/refs'), { token: owner.token, body: { ref: 'refs/heads/topic', sha: shas.first } });
    expect(again.status).toBe(422);
    const bad = await api(server, 'POST', path('/git/refs'), { token: owner.token, body: { ref: 'refs/heads/-bad..name', sha: shas.first } });
    expect(bad.status).toBe(422);
    const anon = await api(server, 'POST', path('/git/refs'), { body: { ref: 'refs/heads/anon', sha: shas.first } });
    expect(anon.status).toBe(401);
    const deleted = await api(server, 'DELETE', path('/git/refs/heads/topic'), { token: owner.token });
    expect(deleted.status).toBe(204);
    const events = await server.app.db.selectFrom('graph_events').select(['subject', 'payload']).where('subject', '=', 'refs/heads/topic').orderBy('id').execute();
    expect(events.map((e) => JSON.parse(e.payload))).toEqual([
      expect.objectContaining({ cause: 'api', created: true, after: shas.first }),
      expect.objectContaining({ cause: 'api', deleted: true, before: shas.first }),
    ]);
    const defaultDelete = await api(server, 'DELETE', path('/git/refs/heads/main'), { token: owner.token });
    expect(defaultDelete.status).toBe(422);
  });

  it('works unchanged through @octokit/rest', async () => {
    const octokit = new Octokit({ baseUrl: `${server.url}/api/v1`, auth: owner.token });
    const repo = await octokit.repos.get({ owner: owner.username, repo: 'code' });
    expect(repo.data.full_name).toBe(`${owner.username}/code`);
    const content = await octokit.repos.getContent({ owner: owner.username, repo: 'code', path: 'README.md' });
    expect(Array.isArray(content.data)).toBe(false);
    expect(Buffer.from((content.data as { content: string }).content, 'base64').toString()).toContain('# Code');
    const commits = await octokit.repos.listCommits({ owner: owner.username, repo: 'code', per_page: 10 });
    expect(commits.data.map((c) => c.sha)).toEqual([shas.second, shas.first]);
    const commit = await octokit.repos.getCommit({ owner: owner.username, repo: 'code', ref: shas.second! });
    expect(commit.data.files?.length).toBe(2);
    const compare = await octokit.repos.compareCommitsWithBasehead({ owner: owner.username, repo: 'code', basehead: 'main...feature/x' });
    expect(compare.data.ahead_by).toBe(1);
    const created = await octokit.repos.createForAuthenticatedUser({ name: 'octo', private: true, auto_init: true });
    expect(created.status).toBe(201);
    expect(created.data.private).toBe(true);
    const branches = await octokit.repos.listBranches({ owner: owner.username, repo: 'octo' });
    expect(branches.data.map((b) => b.name)).toEqual(['main']);
  });
});
