import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startTestServer, createTestUser, api, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { authUrl, commitFiles, gitCli, gitOk, initWorkRepo, lsRemote, tempDir } from '../helpers/git.ts';
import { runCli } from '../helpers/cli.ts';
import { ZERO_SHA } from '../../src/domain/refs.ts';
import { basicAuth, gitWithInput, refMap, refUpdatedEvents, repositoryRow } from './support.ts';

describe.each(testDialects())('git smart HTTP (%s)', (dialect) => {
  let server: TestServer;
  let work: Awaited<ReturnType<typeof tempDir>>;
  /** The owner, created with the CLI as an operator would. */
  const owner = { username: 'alice', password: 'alice-password-1', token: '', id: 0 };
  let reader: TestUser;
  let writer: TestUser;
  let stranger: TestUser;
  /** The main public repository the tests share: id and clone URLs. */
  let projectId = 0;
  let projectUrl = '';
  let projectAnonUrl = '';

  const repoUrl = (name: string, user: { username: string; token: string } = owner) => authUrl(server.url, `${owner.username}/${name}.git`, user.username, user.token);

  async function createRepo(name: string, extra: Record<string, unknown> = {}): Promise<number> {
    const res = await api(server, 'POST', '/user/repos', { token: owner.token, body: { name, ...extra } });
    expect(res.status, res.text).toBe(201);
    return res.json.id as number;
  }

  beforeAll(async () => {
    server = await startTestServer(dialect);
    work = await tempDir();
    const created = await runCli(['admin', 'user', 'create', '--username', owner.username, '--password', owner.password, '--json'], server.env);
    expect(created.code, created.stderr).toBe(0);
    owner.id = JSON.parse(created.stdout).id;
    const token = await runCli(['admin', 'token', 'create', '--username', owner.username, '--scopes', 'repo', '--json'], server.env);
    expect(token.code, token.stderr).toBe(0);
    owner.token = JSON.parse(token.stdout).token;
    expect(owner.token).toMatch(/^gtk_/);
    [reader, writer, stranger] = await Promise.all([createTestUser(server), createTestUser(server), createTestUser(server)]);

    projectId = await createRepo('project', { description: 'shared by these tests' });
    projectUrl = repoUrl('project');
    projectAnonUrl = `${server.url}/${owner.username}/project.git`;
    for (const [user, permission] of [
      [reader, 'pull'],
      [writer, 'push'],
    ] as const) {
      const res = await api(server, 'PUT', `/repos/${owner.username}/project/collaborators/${user.username}`, { token: owner.token, body: { permission } });
      expect(res.status, res.text).toBe(201);
    }
  });

  afterAll(async () => {
    await server?.close();
    await work?.remove();
  });

  it('pushes several branches and tags, records them through the ingress, and clones every ref back', async () => {
    const before = await repositoryRow(server, projectId);
    expect(before.is_empty).toBe(1);
    expect(before.pushed_at).toBeNull();

    const src = join(work.path, 'src');
    await gitOk(work.path, ['init', '-q', '--initial-branch=main', src]);
    await commitFiles(src, { 'README.md': '# project\n' }, 'Initial commit');
    await gitOk(src, ['tag', '-a', 'v1.0', '-m', 'Release 1.0']);
    await commitFiles(src, { 'src/app.txt': 'hello\n' }, 'Add app');
    await gitOk(src, ['tag', 'light']);
    await gitOk(src, ['checkout', '-q', '-b', 'feature/login']);
    await commitFiles(src, { 'login.txt': 'login\n' }, 'Login');
    await gitOk(src, ['checkout', '-q', '-b', 'dev', 'main']);
    await commitFiles(src, { 'dev.txt': 'dev\n' }, 'Dev');
    await gitOk(src, ['checkout', '-q', 'main']);

    await gitOk(src, ['push', '-q', projectUrl, 'refs/heads/*:refs/heads/*', 'refs/tags/*:refs/tags/*']);

    const local = await lsRemote(src, '.');
    expect(local.some((l) => l.endsWith('refs/tags/v1.0^{}'))).toBe(true);
    expect(await lsRemote(work.path, projectUrl)).toEqual(local);

    const mirror = join(work.path, 'mirror.git');
    await gitOk(work.path, ['clone', '-q', '--mirror', projectUrl, mirror]);
    expect(await lsRemote(work.path, mirror)).toEqual(local);

    const clone = join(work.path, 'clone');
    await gitOk(work.path, ['clone', '-q', projectUrl, clone]);
    expect((await gitOk(clone, ['symbolic-ref', 'HEAD'])).trim()).toBe('refs/heads/main');
    expect(await readFile(join(clone, 'src/app.txt'), 'utf8')).toBe('hello\n');

    // The ref-change ingress saw every ref, as a creation, caused by this push and this user.
    const shas = refMap(local);
    const events = await refUpdatedEvents(server, projectId);
    const pushedRefs = ['refs/heads/dev', 'refs/heads/feature/login', 'refs/heads/main', 'refs/tags/light', 'refs/tags/v1.0'];
    expect(events.map((e) => e.ref).sort()).toEqual(pushedRefs);
    for (const e of events) {
      expect(e).toMatchObject({ subject: e.ref, cause: 'push', before: ZERO_SHA, after: shas[e.ref], created: true, deleted: false, actor_id: owner.id });
    }

    const after = await repositoryRow(server, projectId);
    expect(after.is_empty).toBe(0);
    expect(after.pushed_at).not.toBeNull();
    expect(Date.parse(after.pushed_at!)).toBeGreaterThan(Date.now() - 60_000);
    const viaApi = await api(server, 'GET', `/repos/${owner.username}/project`, { token: owner.token });
    expect(viaApi.json).toMatchObject({ empty: false, default_branch: 'main' });
    expect(viaApi.json.pushed_at).toEqual(expect.any(String));
  });

  it('fetches new commits into an existing clone', async () => {
    const src = join(work.path, 'src');
    const clone = join(work.path, 'clone');
    const oldSha = (await gitOk(src, ['rev-parse', 'main'])).trim();
    const newSha = await commitFiles(src, { 'CHANGELOG.md': 'v1.1\n' }, 'Changelog');
    await gitOk(src, ['push', '-q', projectUrl, 'main']);
    await gitOk(clone, ['fetch', '-q', 'origin']);
    expect((await gitOk(clone, ['rev-parse', 'origin/main'])).trim()).toBe(newSha);
    const last = (await refUpdatedEvents(server, projectId)).at(-1)!;
    expect(last).toMatchObject({ ref: 'refs/heads/main', before: oldSha, after: newSha, cause: 'push', created: false });
  });

  it('lets anyone clone a public repository anonymously', async () => {
    const dir = join(work.path, 'anon-clone');
    const r = await gitCli(work.path, ['clone', '-q', projectAnonUrl, dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(dir, 'README.md'), 'utf8')).toBe('# project\n');
  });

  it('keeps a private repository from anonymous users and strangers', async () => {
    const id = await createRepo('secret', { private: true });
    const src = join(work.path, 'secret-src');
    await gitOk(work.path, ['init', '-q', '--initial-branch=main', src]);
    await commitFiles(src, { 'key.txt': 'hidden\n' }, 'Secret');
    await gitOk(src, ['push', '-q', repoUrl('secret'), 'main']);
    expect((await repositoryRow(server, id)).is_empty).toBe(0);

    const anonUrl = `${server.url}/${owner.username}/secret.git`;
    const anon = await gitCli(work.path, ['clone', '-q', anonUrl, join(work.path, 'secret-anon')]);
    expect(anon.code).not.toBe(0);
    expect(anon.stderr).toMatch(/could not read Username|Authentication failed|401/);
    const challenge = await fetch(`${anonUrl}/info/refs?service=git-upload-pack`);
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect(await challenge.text()).not.toContain('key.txt');

    const asStranger = await gitCli(work.path, ['clone', '-q', repoUrl('secret', stranger), join(work.path, 'secret-stranger')]);
    expect(asStranger.code).not.toBe(0);
    expect(asStranger.stderr).toMatch(/not found/i);

    const asOwner = await gitCli(work.path, ['clone', '-q', repoUrl('secret'), join(work.path, 'secret-owner')]);
    expect(asOwner.code, asOwner.stderr).toBe(0);
  });

  it('refuses pushes without write access: 403 for a read collaborator, 401 for anonymous', async () => {
    const src = join(work.path, 'src');
    await gitOk(src, ['checkout', '-q', '-b', 'no-access', 'main']);
    await commitFiles(src, { 'nope.txt': 'nope\n' }, 'Should not land');
    await gitOk(src, ['checkout', '-q', 'main']);
    const eventsBefore = (await refUpdatedEvents(server, projectId)).length;

    const asReader = await gitCli(src, ['push', repoUrl('project', reader), 'no-access']);
    expect(asReader.code).not.toBe(0);
    expect(asReader.stderr).toMatch(/403/);
    const readerAdvert = await fetch(`${projectAnonUrl}/info/refs?service=git-receive-pack`, { headers: { Authorization: basicAuth(reader.username, reader.token) } });
    expect(readerAdvert.status).toBe(403);
    expect(await readerAdvert.text()).toContain(`denied to ${reader.username}`);

    const anon = await gitCli(src, ['push', projectAnonUrl, 'no-access']);
    expect(anon.code).not.toBe(0);
    expect(anon.stderr).toMatch(/could not read Username|Authentication failed|401/);
    const anonAdvert = await fetch(`${projectAnonUrl}/info/refs?service=git-receive-pack`);
    expect(anonAdvert.status).toBe(401);
    expect(anonAdvert.headers.get('www-authenticate')).toMatch(/^Basic /);

    // Even a hand-made receive-pack request (skipping the advertisement) is refused.
    const post = await fetch(`${projectAnonUrl}/git-receive-pack`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-git-receive-pack-request', Authorization: basicAuth(reader.username, reader.token) },
      body: '0000',
    });
    expect(post.status).toBe(403);

    expect(await lsRemote(work.path, projectUrl)).not.toContainEqual(expect.stringContaining('refs/heads/no-access'));
    expect((await refUpdatedEvents(server, projectId)).length).toBe(eventsBefore);
  });

  it('lets a collaborator with push permission push', async () => {
    const src = join(work.path, 'src');
    const sha = (await gitOk(src, ['rev-parse', 'no-access'])).trim();
    await gitOk(src, ['push', '-q', repoUrl('project', writer), 'no-access:refs/heads/from-writer']);
    expect(refMap(await lsRemote(work.path, projectUrl))['refs/heads/from-writer']).toBe(sha);
    const last = (await refUpdatedEvents(server, projectId)).at(-1)!;
    expect(last).toMatchObject({ ref: 'refs/heads/from-writer', after: sha, cause: 'push', actor_id: writer.id });
  });

  it('speaks protocol v2 (ls-remote and clone)', async () => {
    const trace = { GIT_TRACE_PACKET: '1' };
    const ls = await gitCli(work.path, ['-c', 'protocol.version=2', 'ls-remote', projectUrl], trace);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stderr).toMatch(/git< version 2/);
    expect(ls.stderr).toMatch(/ls-remote> command=ls-refs/);
    expect(ls.stdout).toContain('refs/heads/main');

    const dir = join(work.path, 'clone-v2');
    const clone = await gitCli(work.path, ['-c', 'protocol.version=2', 'clone', projectUrl, dir], trace);
    expect(clone.code, clone.stderr).toBe(0);
    expect(clone.stderr).toMatch(/git< version 2/);
    expect(clone.stderr).toMatch(/> command=fetch/);
    expect((await gitOk(dir, ['rev-parse', 'HEAD'])).trim()).toBe(refMap(await lsRemote(work.path, projectUrl))['refs/heads/main']);
  });

  it('speaks protocol v0 and v1', async () => {
    const trace = { GIT_TRACE_PACKET: '1' };
    const expected = await lsRemote(work.path, projectUrl);
    for (const version of ['0', '1']) {
      const ls = await gitCli(work.path, ['-c', `protocol.version=${version}`, 'ls-remote', projectUrl], trace);
      expect(ls.code, ls.stderr).toBe(0);
      expect(ls.stderr).not.toMatch(/version 2/);
      expect(ls.stderr).toContain('# service=git-upload-pack');
      if (version === '1') expect(ls.stderr).toMatch(/git< version 1/);
      expect(ls.stdout.split('\n').filter((l) => l && !l.endsWith('\tHEAD')).sort()).toEqual(expected);

      const dir = join(work.path, `clone-v${version}`);
      const clone = await gitCli(work.path, ['-c', `protocol.version=${version}`, 'clone', '-q', projectUrl, dir], trace);
      expect(clone.code, clone.stderr).toBe(0);
      expect(clone.stderr).not.toMatch(/git< version 2/);
      expect(await readFile(join(dir, 'CHANGELOG.md'), 'utf8')).toBe('v1.1\n');
    }
  });

  it("rejects a non-fast-forward push with git's own message, stays healthy, and accepts a force push", async () => {
    // Two clones: the first moves main on, the second (now behind) tries to push its own work.
    const ahead = join(work.path, 'nff-ahead');
    const behind = join(work.path, 'nff-behind');
    await gitOk(work.path, ['clone', '-q', projectUrl, ahead]);
    await gitOk(work.path, ['clone', '-q', projectUrl, behind]);
    const aheadSha = await commitFiles(ahead, { 'ahead.txt': 'first\n' }, 'Ahead');
    await gitOk(ahead, ['push', '-q', 'origin', 'main']);
    const behindSha = await commitFiles(behind, { 'behind.txt': 'second\n' }, 'Behind');

    const rejected = await gitCli(behind, ['push', 'origin', 'main']);
    expect(rejected.code).not.toBe(0);
    expect(rejected.stderr).toMatch(/\[rejected\]\s+main -> main \((fetch first|non-fast-forward)\)/);
    expect(rejected.stderr).toMatch(/Updates were rejected/);
    expect(refMap(await lsRemote(work.path, projectUrl))['refs/heads/main']).toBe(aheadSha);

    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    const forced = await gitCli(behind, ['push', '--force', 'origin', 'main']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/\+ [0-9a-f]+\.\.\.[0-9a-f]+ main -> main \(forced update\)/);
    expect(refMap(await lsRemote(work.path, projectUrl))['refs/heads/main']).toBe(behindSha);
    const last = (await refUpdatedEvents(server, projectId)).at(-1)!;
    expect(last).toMatchObject({ ref: 'refs/heads/main', before: aheadSha, after: behindSha, cause: 'push' });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('accepts gzip-compressed request bodies (as git sends for large negotiations)', async () => {
    // Many refs make git's want list exceed 1 KiB, so it gzips the upload-pack request itself.
    const id = await createRepo('many-refs');
    const src = join(work.path, 'many-src');
    await mkdir(src);
    await initWorkRepo(src, { 'a.txt': 'a\n' });
    const tree = (await gitOk(src, ['rev-parse', 'HEAD^{tree}'])).trim();
    const root = (await gitOk(src, ['rev-parse', 'HEAD'])).trim();
    const updates: string[] = [];
    for (let i = 0; i < 40; i++) {
      const sha = (await gitOk(src, ['commit-tree', tree, '-p', root, '-m', `topic ${i}`])).trim();
      updates.push(`create refs/heads/topic-${String(i).padStart(2, '0')} ${sha}`);
    }
    await gitWithInput(src, ['update-ref', '--stdin'], updates.join('\n') + '\n');
    await gitOk(src, ['push', '-q', repoUrl('many-refs'), 'refs/heads/*:refs/heads/*']);
    expect((await refUpdatedEvents(server, id)).length).toBe(41);

    const dir = join(work.path, 'many-clone');
    const clone = await gitCli(work.path, ['-c', 'protocol.version=0', 'clone', '--mirror', repoUrl('many-refs'), dir], { GIT_TRACE_CURL: '1', GIT_TRACE_CURL_NO_DATA: '1' });
    expect(clone.code, clone.stderr).toBe(0);
    expect(clone.stderr).toMatch(/Send header: Content-Encoding: gzip/);
    expect(await lsRemote(work.path, dir)).toEqual(await lsRemote(src, '.'));

    // And a hand-made gzip request: want main, done → the server answers with a pack.
    const main = refMap(await lsRemote(work.path, projectUrl))['refs/heads/main']!;
    const pkt = (s: string) => (s.length + 4).toString(16).padStart(4, '0') + s;
    const body = gzipSync(Buffer.from(pkt(`want ${main} no-progress\n`) + '0000' + pkt('done\n')));
    const res = await fetch(`${projectAnonUrl}/git-upload-pack`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-git-upload-pack-request', 'Content-Encoding': 'gzip', Authorization: basicAuth(owner.username, owner.token) },
      body,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-git-upload-pack-result');
    const out = Buffer.from(await res.arrayBuffer());
    expect(out.subarray(0, 8).toString()).toBe('0008NAK\n');
    expect(out.includes(Buffer.from('PACK'))).toBe(true);
  });

  it('makes a first pushed "master" the default branch of an empty repository whose default is main', async () => {
    const id = await createRepo('legacy');
    expect((await repositoryRow(server, id)).default_branch).toBe('main');
    const src = join(work.path, 'legacy-src');
    await mkdir(src);
    await initWorkRepo(src, { 'old.txt': 'old\n' }, 'master');
    await gitOk(src, ['push', '-q', repoUrl('legacy'), 'master']);

    const row = await repositoryRow(server, id);
    expect(row).toMatchObject({ default_branch: 'master', is_empty: 0 });
    expect(row.pushed_at).not.toBeNull();
    const viaApi = await api(server, 'GET', `/repos/${owner.username}/legacy`, { token: owner.token });
    expect(viaApi.json.default_branch).toBe('master');
    const symref = await gitOk(work.path, ['ls-remote', '--symref', repoUrl('legacy'), 'HEAD']);
    expect(symref).toContain('ref: refs/heads/master\tHEAD');
    const dir = join(work.path, 'legacy-clone');
    await gitOk(work.path, ['clone', '-q', repoUrl('legacy'), dir]);
    expect((await gitOk(dir, ['symbolic-ref', 'HEAD'])).trim()).toBe('refs/heads/master');
  });
});
