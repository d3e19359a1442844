import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Octokit } from '@octokit/rest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';

const exec = promisify(execFile);

/** Lists an archive's entries with the stock tools: `unzip -l` / `tar tzf`. */
async function entriesOf(file: string, format: 'zip' | 'tar.gz'): Promise<string[]> {
  if (format === 'zip') {
    const { stdout } = await exec('unzip', ['-Z1', file]);
    return stdout.split('\n').filter(Boolean).sort();
  }
  const { stdout } = await exec('tar', ['tzf', file]);
  return stdout.split('\n').filter(Boolean).sort();
}

/** Whether a `git archive` process for this repository is running. */
async function archiveRunning(gitDir: string): Promise<boolean> {
  const { stdout } = await exec('ps', ['-ww', '-eo', 'args']);
  return stdout.split('\n').some((line) => line.includes(gitDir) && /\barchive\b/.test(line));
}

async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe.each(testDialects())('archives on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let stranger: TestUser;
  let work: { path: string; remove(): Promise<void> };
  let downloads: { path: string; remove(): Promise<void> };
  const shas: Record<string, string> = {};

  beforeAll(async () => {
    server = await startTestServer(dialect, {}, { dispatcher: false });
    owner = await createTestUser(server);
    stranger = await createTestUser(server);
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'code' } });
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'secret', private: true } });
    work = await tempDir();
    downloads = await tempDir('gitoku-archives-');
    const dir = work.path;
    await initWorkRepo(dir, { 'README.md': '# Code\n', 'src/app.ts': 'export const v = 1;\n' });
    await gitOk(dir, ['tag', 'v1.0']);
    shas.v1 = (await gitOk(dir, ['rev-parse', 'HEAD'])).trim();
    shas.main = await commitFiles(dir, { 'src/app.ts': 'export const v = 2;\n', 'docs/guide.md': 'guide\n' }, 'Version 2');
    await gitOk(dir, ['checkout', '-q', '-b', 'feature/x']);
    shas.feature = await commitFiles(dir, { 'src/feature.ts': 'export const f = true;\n' }, 'Feature');
    await gitOk(dir, ['checkout', '-q', 'main']);
    await gitOk(dir, ['push', '-q', authUrl(server.url, `${owner.username}/code.git`, owner.username, owner.token), 'main', 'feature/x', '--tags']);
    await gitOk(dir, ['push', '-q', authUrl(server.url, `${owner.username}/secret.git`, owner.username, owner.token), 'main']);
  });

  afterAll(async () => {
    await work?.remove();
    await downloads?.remove();
    await server?.close();
  });

  const page = (p: string) => `${server.url}/${owner.username}${p}`;

  async function download(url: string, name: string, headers: Record<string, string> = {}) {
    const res = await fetch(url, { headers });
    const file = join(downloads.path, name);
    if (res.status === 200) await writeFile(file, Buffer.from(await res.arrayBuffer()));
    else await res.arrayBuffer();
    return { res, file };
  }

  it('serves a zip of a branch, streamed from git archive, with a prefix, filename and ETag', async () => {
    const { res, file } = await download(page('/code/archive/main.zip'), 'main.zip');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/zip');
    expect(res.headers.get('content-disposition')).toContain('attachment; filename="code-main.zip"');
    expect(res.headers.get('etag')).toBe(`"${shas.main}-zip"`);
    expect(await entriesOf(file, 'zip')).toEqual(['code-main/', 'code-main/README.md', 'code-main/docs/', 'code-main/docs/guide.md', 'code-main/src/', 'code-main/src/app.ts']);
    const { stdout } = await exec('unzip', ['-p', file, 'code-main/src/app.ts']);
    expect(stdout).toBe('export const v = 2;\n');

    const again = await fetch(page('/code/archive/main.zip'), { headers: { 'If-None-Match': `"${shas.main}-zip"` } });
    expect(again.status).toBe(304);
  });

  it('serves tar.gz of a tag, GitHub-style full ref paths and commit ids', async () => {
    const tag = await download(page('/code/archive/v1.0.tar.gz'), 'v1.tar.gz');
    expect(tag.res.status).toBe(200);
    expect(tag.res.headers.get('content-type')).toBe('application/gzip');
    expect(tag.res.headers.get('etag')).toBe(`"${shas.v1}-tgz"`);
    expect(await entriesOf(tag.file, 'tar.gz')).toEqual(['code-v1.0/', 'code-v1.0/README.md', 'code-v1.0/src/', 'code-v1.0/src/app.ts']);
    const { stdout } = await exec('tar', ['xzOf', tag.file, 'code-v1.0/src/app.ts']);
    expect(stdout).toBe('export const v = 1;\n');

    const branch = await download(page('/code/archive/refs/heads/feature/x.zip'), 'feature.zip');
    expect(branch.res.status).toBe(200);
    expect(branch.res.headers.get('content-disposition')).toContain('filename="code-feature-x.zip"');
    expect(await entriesOf(branch.file, 'zip')).toContain('code-feature-x/src/feature.ts');

    const byTagRef = await download(page('/code/archive/refs/tags/v1.0.zip'), 'tagref.zip');
    expect(byTagRef.res.headers.get('etag')).toBe(`"${shas.v1}-zip"`);

    const bySha = await download(page(`/code/archive/${shas.feature!.slice(0, 12)}.tar.gz`), 'sha.tar.gz');
    expect(bySha.res.status).toBe(200);
    expect(await entriesOf(bySha.file, 'tar.gz')).toContain(`code-${shas.feature!.slice(0, 12)}/src/feature.ts`);
  });

  it('answers 404 for a missing ref, an unknown format and option-like refs, which never reach git', async () => {
    for (const p of ['/code/archive/nope.zip', '/code/archive/main.rar', '/code/archive/main', '/code/archive/.zip', '/code/archive/refs/heads/nope.tar.gz', '/code/archive/refs/remotes/x.zip', '/code/archive/--output=x.zip', '/code/archive/-v.zip', '/code/archive/--format=tar.zip', '/code/archive/--remote=..%2Fsecret.zip', '/code/archive/main~1.zip', '/code/archive/main%00.zip', '/nobody/archive/main.zip']) {
      const res = await fetch(page(p));
      expect(res.status, p).toBe(404);
      await res.arrayBuffer();
    }
    for (const p of ['/zipball/nope', '/zipball/--output=x', '/tarball/-p', '/tarball/refs/heads/..']) {
      const res = await api(server, 'GET', `/repos/${owner.username}/code${p}`);
      expect(res.status, p).toBe(404);
      expect(res.json?.message, p).toBeTruthy();
    }
    // Nothing was written by git to the server's working directory or the data directory.
    expect((await readdir(server.dataDir)).filter((f) => f.startsWith('x') || f.startsWith('-'))).toEqual([]);
  });

  it('serves zipball and tarball through the API (Octokit), defaulting to the default branch', async () => {
    const zip = await fetch(`${server.url}/api/v1/repos/${owner.username}/code/zipball`);
    expect(zip.status).toBe(200);
    expect(zip.headers.get('etag')).toBe(`"${shas.main}-zip"`);
    await zip.arrayBuffer();
    const octokit = new Octokit({ baseUrl: `${server.url}/api/v1`, auth: owner.token });
    const tarball = await octokit.repos.downloadTarballArchive({ owner: owner.username, repo: 'code', ref: 'v1.0' });
    expect(tarball.status).toBe(200);
    const file = join(downloads.path, 'octokit.tar.gz');
    await writeFile(file, Buffer.from(tarball.data as ArrayBuffer));
    expect(await entriesOf(file, 'tar.gz')).toContain('code-v1.0/src/app.ts');
    const tags = await octokit.repos.listTags({ owner: owner.username, repo: 'code' });
    expect(tags.data[0]!.zipball_url).toBe(`${server.url}/api/v1/repos/${owner.username}/code/zipball/refs/tags/v1.0`);
    const viaTagUrl = await fetch(tags.data[0]!.tarball_url);
    expect(viaTagUrl.status).toBe(200);
    await viaTagUrl.arrayBuffer();
  });

  it('keeps private archives 404 without access and serves them with a token (Basic for curl, Bearer)', async () => {
    const url = page('/secret/archive/main.zip');
    expect((await fetch(url)).status).toBe(404);
    const strangerBasic = `Basic ${Buffer.from(`${stranger.username}:${stranger.token}`).toString('base64')}`;
    expect((await fetch(url, { headers: { Authorization: strangerBasic } })).status).toBe(404);
    expect((await fetch(url, { headers: { Authorization: 'Basic Ym9ndXM6Ym9ndXM=' } })).status).toBe(401);
    expect((await api(server, 'GET', `/repos/${owner.username}/secret/zipball/main`)).status).toBe(404);

    const file = join(downloads.path, 'curl.zip');
    await exec('curl', ['-sSf', '-u', `${owner.username}:${owner.token}`, '-o', file, url]);
    expect(await entriesOf(file, 'zip')).toContain('secret-main/README.md');
    const bearer = await fetch(url, { headers: { Authorization: `Bearer ${owner.token}` } });
    expect(bearer.status).toBe(200);
    expect(bearer.headers.get('cache-control')).toContain('private');
    await bearer.arrayBuffer();
    const viaApi = await fetch(`${server.url}/api/v1/repos/${owner.username}/secret/tarball/main`, { headers: { Authorization: `token ${owner.token}` } });
    expect(viaApi.status).toBe(200);
    await viaApi.arrayBuffer();
  });

  it('kills git archive when the client disconnects mid-download', async () => {
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'big' } });
    const big = await tempDir();
    try {
      // Incompressible content: git cannot finish before the client stops reading, so it blocks on the pipe.
      await initWorkRepo(big.path, { 'blob.bin': randomBytes(16 * 1024 * 1024) });
      await gitOk(big.path, ['push', '-q', authUrl(server.url, `${owner.username}/big.git`, owner.username, owner.token), 'main']);
    } finally {
      await big.remove();
    }
    const gitDir = join(server.dataDir, 'repos', owner.username.toLowerCase(), 'big.git');
    const url = new URL(page('/big/archive/main.zip'));
    const received = await new Promise<number>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'GET' }, (res) => {
        expect(res.statusCode).toBe(200);
        res.once('data', (chunk: Buffer) => {
          res.pause();
          resolve(chunk.length);
          // Leave the response unread for a moment (git blocks on the full pipe), then hang up.
          setTimeout(() => req.destroy(), 300);
        });
      });
      req.on('error', (err) => (err.message.includes('socket hang up') || err.message.includes('aborted') ? undefined : reject(err)));
      req.end();
    });
    expect(received).toBeGreaterThan(0);
    expect(await archiveRunning(gitDir)).toBe(true);
    expect(await waitFor(async () => !(await archiveRunning(gitDir)))).toBe(true);
  });
});
