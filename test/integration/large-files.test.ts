import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, gitOk, tempDir } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { waitFor } from '../helpers/scriptedRuns.ts';
import { CatFilePool } from '../../src/git/catFile.ts';
import { repositoryGitDir } from '../../src/services/storage.ts';

const BIG = 200 * 1024 * 1024;
const MEDIUM = 48 * 1024 * 1024;
/** Every /healthz answer during a 200 MB download must come within this: 50 ms is the goal and what an idle
 * 2-core machine shows (about 10 ms); the bound is looser so a machine loaded by parallel tests passes. */
const HEALTHZ_BOUND_MS = Number(process.env.GITOKU_TEST_HEALTHZ_BOUND_MS ?? 250);

async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let left = size; left > 0; ) {
    const chunk = randomBytes(Math.min(left, 8 * 1024 * 1024));
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    left -= chunk.length;
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return hash.digest('hex');
}

function sha256OfFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => hash.update(c))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}

/** Downloads a URL with curl in its own process (so the test's event loop is the server's alone). */
function curlDownload(url: string, to: string): Promise<{ status: number; bytes: number; contentType: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-sS', '-o', to, '-w', '%{http_code} %{size_download} %{content_type}', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`curl failed (${code}): ${err}`));
      const [status, bytes, ...type] = out.trim().split(' ');
      resolve({ status: Number(status), bytes: Number(bytes), contentType: type.join(' ') });
    });
  });
}

/** Polls /healthz every 100 ms until `done` settles; returns each answer's latency. */
async function pollHealth(url: string, done: Promise<unknown>): Promise<number[]> {
  let finished = false;
  done.then(
    () => (finished = true),
    () => (finished = true),
  );
  const latencies: number[] = [];
  const deadline = Date.now() + 60_000;
  while (!finished && Date.now() < deadline) {
    const start = performance.now();
    const res = await fetch(`${url}/healthz`);
    await res.text();
    latencies.push(performance.now() - start);
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
  }
  return latencies;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - start };
}

/**
 * Issue 12, point 4c: a 150 MB file stalled the server (an anonymous raw request got no answer in
 * 180 s and /healthz stalled up to 27 s; contents API 40 s, blame 88 s). Large blobs now stream
 * from git, and whole-file pages and APIs refuse them quickly. One database: the database plays no
 * part here, and pushing 200 MB twice would double the runtime.
 */
describe.each(testDialects().slice(0, 1))('large files on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let work: { path: string; remove(): Promise<void> };
  let bigSha256: string;
  let mediumSha256: string;
  let repoDir: string;
  const web = (p: string) => `${server.url}/${owner.username}/heavy${p}`;
  const apiPath = (p: string) => `/repos/${owner.username}/heavy${p}`;

  beforeAll(async () => {
    server = await startTestServer(dialect, {}, { dispatcher: false });
    owner = await createTestUser(server);
    const created = await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'heavy' } });
    expect(created.status).toBe(201);
    work = await tempDir();
    const noCompression = ['-c', 'core.compression=0', '-c', 'core.looseCompression=0', '-c', 'pack.compression=0'];
    await gitOk(work.path, ['init', '-q', '--initial-branch=main']);
    [bigSha256, mediumSha256] = await Promise.all([writeRandomFile(join(work.path, 'big.bin'), BIG), writeRandomFile(join(work.path, 'medium.bin'), MEDIUM)]);
    // A text file between GitHub's 1 MB and 100 MB limits.
    // Over 100 objects, so the server keeps the pack as pushed (below receive.unpackLimit git would
    // explode it into loose objects, recompressing 200 MB: seconds of the test's time, not the server's).
    await mkdir(join(work.path, 'small'));
    await Promise.all(Array.from({ length: 110 }, (_, i) => writeFile(join(work.path, 'small', `${i}.txt`), `${i}\n`)));
    const line = 'a line of ordinary text in a generated file\n';
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(join(work.path, 'notes.txt'));
      out.end(line.repeat(Math.ceil((2 * 1024 * 1024) / line.length)), (err?: Error | null) => (err ? reject(err) : resolve()));
    });
    await gitOk(work.path, [...noCompression, 'add', '-A']);
    await gitOk(work.path, [...noCompression, 'commit', '-q', '-m', 'Large files']);
    await gitOk(work.path, [...noCompression, 'push', '-q', authUrl(server.url, `${owner.username}/heavy.git`, owner.username, owner.token), 'main']);
    const repo = await server.app.db.selectFrom('repositories').selectAll().where('name', '=', 'heavy').executeTakeFirstOrThrow();
    repoDir = repositoryGitDir(server.app, repo);
  }, 120_000);

  afterAll(async () => {
    await work?.remove();
    await server?.close();
  });

  it('streams a 200 MB raw download completely and byte-identical while /healthz stays fast', async () => {
    const to = join(work.path, 'downloaded.bin');
    const download = curlDownload(web('/raw/main/big.bin'), to);
    const latencies = await pollHealth(server.url, download);
    const result = await download;
    expect(result).toMatchObject({ status: 200, bytes: BIG, contentType: 'application/octet-stream' });
    expect(await sha256OfFile(to)).toBe(bigSha256);
    const worst = Math.max(...latencies);
    console.log(`raw download: ${latencies.length} /healthz polls, worst ${worst.toFixed(1)} ms: ${latencies.map((l) => l.toFixed(0)).join(' ')}`);
    expect(latencies.length).toBeGreaterThan(1);
    // One slow answer is the scheduler of a loaded 2-core machine (seen once: 283 ms among polls of 2–16 ms while
    // the rest of the suite ran); a server that buffers or blocks while streaming is slow on every poll, or on one
    // for far longer.
    const sorted = [...latencies].sort((a, b) => a - b);
    expect(sorted[sorted.length - 2]!).toBeLessThan(HEALTHZ_BOUND_MS);
    expect(worst).toBeLessThan(4 * HEALTHZ_BOUND_MS);
  }, 60_000);

  it('streams the API raw route too, and the contents API with the raw media type below 100 MB', async () => {
    const to = join(work.path, 'api.bin');
    const result = await curlDownload(`${server.url}/api/v1${apiPath('/raw/main/big.bin')}`, to);
    expect(result).toMatchObject({ status: 200, bytes: BIG });
    expect(await sha256OfFile(to)).toBe(bigSha256);
    const raw = await fetch(`${server.url}/api/v1${apiPath('/contents/medium.bin')}`, { headers: { Accept: 'application/vnd.github.raw+json' } });
    expect(raw.status).toBe(200);
    expect(createHash('sha256').update(Buffer.from(await raw.arrayBuffer())).digest('hex')).toBe(mediumSha256);
  }, 60_000);

  it('stops git when a download is not read: HEAD, 304, or a client that goes away', async () => {
    const streaming = async () => {
      // The streaming processes of this test's repository (its data directory is unique).
      const out = await new Promise<string>((resolve) => execFile('pgrep', ['-af', `${repoDir} cat-file blob`], (_err, stdout) => resolve(stdout)));
      return out.trim().split('\n').filter(Boolean);
    };
    const none = () => waitFor(async () => (await streaming()).length === 0, 5000);
    const head = await fetch(web('/raw/main/big.bin'), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(BIG));
    await none();
    const apiHead = await fetch(`${server.url}/api/v1${apiPath('/raw/main/big.bin')}`, { method: 'HEAD' });
    expect(apiHead.status).toBe(200);
    await none();
    const abort = new AbortController();
    const res = await fetch(web('/raw/main/big.bin'), { signal: abort.signal });
    const etag = res.headers.get('etag')!;
    await res.body!.getReader().read();
    expect(await streaming()).toHaveLength(1);
    abort.abort();
    await none();
    const notModified = await fetch(web('/raw/main/big.bin'), { headers: { 'If-None-Match': etag } });
    expect(notModified.status).toBe(304);
    await none();
  });

  it('answers the file page, the contents API and blame quickly with the too-large behaviour', async () => {
    const page = await timed(async () => {
      const res = await fetch(web('/blob/main/big.bin'));
      return { status: res.status, html: await res.text() };
    });
    expect(page.value.status).toBe(200);
    expect(page.value.html).toContain('This file is too large to display.');
    expect(page.value.html).toContain('View raw');
    expect(page.ms).toBeLessThan(2000);

    // GitHub: above 100 MB the contents API refuses with 403 too_large.
    const contents = await timed(() => api(server, 'GET', apiPath('/contents/big.bin')));
    expect(contents.value.status).toBe(403);
    expect(contents.value.json.errors).toEqual([{ resource: 'Blob', field: 'data', code: 'too_large' }]);
    expect(contents.value.json.message).toContain('too large');
    expect(contents.ms).toBeLessThan(2000);
    // 1–100 MB: described, with encoding "none" and no content.
    const medium = await api(server, 'GET', apiPath('/contents/notes.txt'));
    expect(medium.status).toBe(200);
    expect(medium.json).toMatchObject({ type: 'file', name: 'notes.txt', encoding: 'none', content: '' });
    expect(medium.json.size).toBeGreaterThan(1024 * 1024);

    const blame = await timed(() => api(server, 'GET', apiPath('/blame/main/notes.txt')));
    expect(blame.value.status).toBe(403);
    expect(blame.value.json.message).toMatch(/too large for blame/);
    expect(blame.ms).toBeLessThan(2000);
    for (const route of ['/blame/main/big.bin', '/ai-blame/main/big.bin']) {
      const bigBlame = await timed(() => api(server, 'GET', apiPath(route)));
      expect(bigBlame.value.status).toBe(403);
      expect(bigBlame.value.json.message).toMatch(/too large for blame \(200 MB; the limit is 1\.0 MB\)/);
      expect(bigBlame.ms).toBeLessThan(2000);
    }

    const blamePage = await fetch(web('/blame/main/big.bin'), { redirect: 'manual' });
    expect(blamePage.status).toBe(302);
    expect(blamePage.headers.get('location')).toContain('/blob/main/big.bin');
    expect(blamePage.headers.get('set-cookie')).toContain('too%20large%20for%20blame');
  });

  it('reads a large object through the batch process in linear time (no quadratic buffer growth)', async () => {
    const pool = new CatFilePool({ perRepository: 1, total: 2, idleMs: 60_000 });
    try {
      const sha = (await gitOk(work.path, ['rev-parse', 'HEAD:medium.bin'])).trim();
      const read = await timed(() => pool.read(repoDir, sha));
      expect(read.value!.size).toBe(MEDIUM);
      expect(createHash('sha256').update(read.value!.content).digest('hex')).toBe(mediumSha256);
      // Re-copying the buffer per 64 KB chunk made this take seconds for 48 MB; joined once it is tens of ms.
      expect(read.ms).toBeLessThan(1500);
      // The process still answers in order afterwards.
      const tree = await pool.read(repoDir, (await gitOk(work.path, ['rev-parse', 'HEAD^{tree}'])).trim());
      expect(tree!.type).toBe('tree');
    } finally {
      pool.close();
    }
  });
});
