import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitOk, initWorkRepo, lsRemote, tempDir } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';

const exec = promisify(execFile);
const LIMIT = 256 * 1024;
/** Octokit logs every 4xx; these tests expect many. */
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** Every file under a directory (none when it does not exist). */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else out.push(join(d, e.name));
    }
  };
  await walk(dir);
  return out;
}

describe.each(testDialects())('releases on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let reader: TestUser;
  let octokit: Octokit;
  let work: { path: string; remove(): Promise<void> };
  const shas: Record<string, string> = {};
  const repo = { owner: '', repo: 'app' };

  beforeAll(async () => {
    server = await startTestServer(dialect, { GITOKU_RELEASE_ASSET_MAX_BYTES: String(LIMIT) }, { dispatcher: false });
    owner = await createTestUser(server);
    reader = await createTestUser(server);
    repo.owner = owner.username;
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'app' } });
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'hidden', private: true, auto_init: true } });
    work = await tempDir();
    await initWorkRepo(work.path, { 'README.md': '# App\n' });
    shas.first = (await gitOk(work.path, ['rev-parse', 'HEAD'])).trim();
    await gitOk(work.path, ['tag', 'v0.9']);
    shas.main = await commitFiles(work.path, { 'app.ts': 'export {};\n' }, 'Second');
    await gitOk(work.path, ['checkout', '-q', '-b', 'stable', shas.first!]);
    await gitOk(work.path, ['checkout', '-q', 'main']);
    await gitOk(work.path, ['push', '-q', authUrl(server.url, `${owner.username}/app.git`, owner.username, owner.token), 'main', 'stable', '--tags']);
    octokit = new Octokit({ baseUrl: `${server.url}/api/v1`, auth: owner.token, log: quiet });
  });

  afterAll(async () => {
    await work?.remove();
    await server?.close();
  });

  const remote = () => authUrl(server.url, `${owner.username}/app.git`, owner.username, owner.token);

  it('creates a release on a new tag through the ref-change ingress, with its events', async () => {
    const created = await octokit.repos.createRelease({ ...repo, tag_name: 'v1.0.0', target_commitish: 'main', name: 'First release', body: '## Notes\n\n- one\n' });
    expect(created.status).toBe(201);
    expect(created.data).toMatchObject({ tag_name: 'v1.0.0', target_commitish: 'main', name: 'First release', draft: false, prerelease: false, author: { login: owner.username } });
    expect(created.data.upload_url).toBe(`${server.url}/api/v1/repos/${owner.username}/app/releases/${created.data.id}/assets{?name,label}`);
    expect(created.data.html_url).toBe(`${server.url}/${owner.username}/app/releases/tag/v1.0.0`);
    expect(created.data.published_at).toBeTruthy();
    // The tag exists in git, at the target…
    expect(await lsRemote(work.path, remote())).toContain(`${shas.main}\trefs/tags/v1.0.0`);
    // …and the ingress recorded it and emitted its event, with the release's events, in the outbox.
    const events = await server.app.db.selectFrom('graph_events').select(['type', 'subject', 'payload']).orderBy('id').execute();
    const tagEvent = events.find((e) => e.type === 'ref.updated' && e.subject === 'refs/tags/v1.0.0');
    expect(tagEvent).toBeTruthy();
    expect(JSON.parse(tagEvent!.payload)).toMatchObject({ before: '0'.repeat(40), after: shas.main, created: true, cause: 'api', actor_id: owner.id, release_id: created.data.id });
    const releaseEvents = events.filter((e) => e.subject === `release/${created.data.id}`).map((e) => e.type);
    expect(releaseEvents).toEqual(['release.created', 'release.published']);
    const recorded = await server.app.db.selectFrom('repository_refs').select('sha').where('ref', '=', 'refs/tags/v1.0.0').executeTakeFirst();
    expect(recorded?.sha).toBe(shas.main);
  });

  it('releases an existing tag without moving it; gets by tag, latest skips prereleases; lists and edits', async () => {
    const old = await octokit.repos.createRelease({ ...repo, tag_name: 'v0.9', name: 'Old' });
    expect(old.status).toBe(201);
    expect(await lsRemote(work.path, remote())).toContain(`${shas.first}\trefs/tags/v0.9`);
    const pre = await octokit.repos.createRelease({ ...repo, tag_name: 'v2.0.0-rc.1', target_commitish: 'stable', prerelease: true });
    expect(pre.data.prerelease).toBe(true);
    expect(await lsRemote(work.path, remote())).toContain(`${shas.first}\trefs/tags/v2.0.0-rc.1`);

    const byTag = await octokit.repos.getReleaseByTag({ ...repo, tag: 'v0.9' });
    expect(byTag.data.id).toBe(old.data.id);
    const latest = await octokit.repos.getLatestRelease(repo);
    expect(latest.data.tag_name).toBe('v0.9'); // the newest published full release: the prerelease is skipped
    const list = await octokit.repos.listReleases(repo);
    expect(list.data.map((r) => r.tag_name)).toEqual(['v2.0.0-rc.1', 'v0.9', 'v1.0.0']);
    const paged = await octokit.repos.listReleases({ ...repo, per_page: 1, page: 2 });
    expect(paged.data.map((r) => r.tag_name)).toEqual(['v0.9']);

    const edited = await octokit.repos.updateRelease({ ...repo, release_id: old.data.id, name: 'Old, renamed', body: 'Fixed *notes*' });
    expect(edited.data).toMatchObject({ name: 'Old, renamed', body: 'Fixed *notes*', tag_name: 'v0.9' });
    const one = await octokit.repos.getRelease({ ...repo, release_id: old.data.id });
    expect(one.data.name).toBe('Old, renamed');
  });

  it('uploads assets with Octokit (streamed), lists and downloads them, counting downloads', async () => {
    const release = (await octokit.repos.getReleaseByTag({ ...repo, tag: 'v1.0.0' })).data;
    const bytes = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
    const uploaded = await octokit.repos.uploadReleaseAsset({ ...repo, release_id: release.id, url: release.upload_url, name: 'app-linux.tar.gz', label: 'Linux build', data: bytes as unknown as string, headers: { 'content-type': 'application/gzip', 'content-length': bytes.length } });
    expect(uploaded.status).toBe(201);
    expect(uploaded.data).toMatchObject({ name: 'app-linux.tar.gz', label: 'Linux build', size: bytes.length, content_type: 'application/gzip', state: 'uploaded', download_count: 0, uploader: { login: owner.username } });
    const assets = await octokit.repos.listReleaseAssets({ ...repo, release_id: release.id });
    expect(assets.data.map((a) => a.name)).toEqual(['app-linux.tar.gz']);
    expect(assets.data[0]!.browser_download_url).toBe(`${server.url}/${owner.username}/app/releases/download/v1.0.0/app-linux.tar.gz`);

    const res = await fetch(uploaded.data.browser_download_url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toContain('attachment; filename="app-linux.tar.gz"');
    expect(res.headers.get('content-type')).toBe('application/gzip');
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    const viaApi = await fetch(uploaded.data.url, { headers: { Accept: 'application/octet-stream' } });
    expect(Buffer.from(await viaApi.arrayBuffer()).equals(bytes)).toBe(true);
    const asset = await octokit.repos.getReleaseAsset({ ...repo, asset_id: uploaded.data.id });
    expect(asset.data.download_count).toBe(2);
    const again = await octokit.repos.getReleaseByTag({ ...repo, tag: 'v1.0.0' });
    expect(again.data.assets.map((a) => a.name)).toEqual(['app-linux.tar.gz']);
    const head = await fetch(uploaded.data.browser_download_url, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe(String(bytes.length));
    expect((await octokit.repos.getReleaseAsset({ ...repo, asset_id: uploaded.data.id })).data.download_count).toBe(2);

    // curl -T streams a file (with Expect: 100-continue) as the README shows.
    const file = join(work.path, 'cli.bin');
    await writeFile(file, Buffer.alloc(200_000, 3));
    const { stdout } = await exec('curl', ['-sSf', '-H', `Authorization: Bearer ${owner.token}`, '-H', 'Content-Type: application/octet-stream', '-X', 'POST', '-T', file, `${server.url}/api/v1/repos/${owner.username}/app/releases/${release.id}/assets?name=cli.bin`]);
    expect(JSON.parse(stdout)).toMatchObject({ name: 'cli.bin', size: 200_000 });

    // Same name again: refused; a hostile name is reduced to a file name.
    const dup = await api(server, 'POST', `/repos/${owner.username}/app/releases/${release.id}/assets?name=app-linux.tar.gz`, { token: owner.token, body: 'x', headers: { 'Content-Type': 'application/octet-stream' } });
    expect(dup.status).toBe(422);
    const hostile = await api(server, 'POST', `/repos/${owner.username}/app/releases/${release.id}/assets?name=${encodeURIComponent('../../etc/pass wd;<b>.txt')}`, { token: owner.token, body: 'x', headers: { 'Content-Type': 'text/plain' } });
    expect(hostile.status).toBe(201);
    expect(hostile.json.name).toBe('pass.wd.b.txt');
  });

  it('serves an uploaded HTML file as an attachment of type application/octet-stream', async () => {
    const release = (await octokit.repos.getReleaseByTag({ ...repo, tag: 'v1.0.0' })).data;
    const html = '<script>alert(document.cookie)</script>';
    const up = await octokit.repos.uploadReleaseAsset({ ...repo, release_id: release.id, url: release.upload_url, name: 'page.html', data: html, headers: { 'content-type': 'text/html' } });
    expect(up.data.content_type).toBe('text/html');
    for (const url of [up.data.browser_download_url]) {
      const res = await fetch(url);
      expect(res.headers.get('content-type')).toBe('application/octet-stream');
      expect(res.headers.get('content-disposition')).toMatch(/^attachment;/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toContain('sandbox');
      expect(await res.text()).toBe(html);
    }
  });

  it('refuses an asset over the limit with 413 and leaves no partial file or row', async () => {
    const release = (await octokit.repos.getReleaseByTag({ ...repo, tag: 'v0.9' })).data;
    const dir = join(server.dataDir, 'releases');
    const before = await filesUnder(dir);
    // Declared too large: refused before a byte is read.
    const declared = await fetch(`${server.url}/api/v1/repos/${owner.username}/app/releases/${release.id}/assets?name=big.bin`, { method: 'POST', headers: { Authorization: `Bearer ${owner.token}`, 'Content-Type': 'application/octet-stream' }, body: Buffer.alloc(LIMIT + 1) });
    expect(declared.status).toBe(413);
    expect((await declared.json()).message).toContain(String(LIMIT));
    // Chunked (no length): refused once the count passes the limit, the partial file removed.
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= LIMIT * 3) return controller.close();
        sent += 64 * 1024;
        controller.enqueue(new Uint8Array(64 * 1024));
      },
    });
    const chunked = await fetch(`${server.url}/api/v1/repos/${owner.username}/app/releases/${release.id}/assets?name=big2.bin`, { method: 'POST', headers: { Authorization: `Bearer ${owner.token}`, 'Content-Type': 'application/octet-stream' }, body, duplex: 'half' } as RequestInit).catch((err: Error) => err);
    if (chunked instanceof Response) expect(chunked.status).toBe(413);
    expect(await filesUnder(dir)).toEqual(before);
    const rows = await server.app.db.selectFrom('release_assets').select('name').where('release_id', '=', release.id).execute();
    expect(rows).toEqual([]);
    // Octokit sees the 413 as an error.
    await expect(octokit.repos.uploadReleaseAsset({ ...repo, release_id: release.id, url: release.upload_url, name: 'big3.bin', data: Buffer.alloc(LIMIT + 10) as unknown as string })).rejects.toMatchObject({ status: 413 });
    // Exactly at the limit is fine.
    const ok = await api(server, 'POST', `/repos/${owner.username}/app/releases/${release.id}/assets?name=edge.bin`, { token: owner.token, body: 'a'.repeat(LIMIT), headers: { 'Content-Type': 'application/octet-stream' } });
    expect(ok.status).toBe(201);
    expect(ok.json.size).toBe(LIMIT);
  });

  it('keeps drafts to writers, creates no tag until published, then publishes with an event', async () => {
    const draft = await octokit.repos.createRelease({ ...repo, tag_name: 'v3.0.0', name: 'Secret plans', draft: true });
    expect(draft.data.draft).toBe(true);
    expect(draft.data.published_at).toBeNull();
    expect((await lsRemote(work.path, remote())).some((l) => l.endsWith('refs/tags/v3.0.0'))).toBe(false);

    const readerKit = new Octokit({ baseUrl: `${server.url}/api/v1`, auth: reader.token, log: quiet });
    const seen = await readerKit.repos.listReleases(repo);
    expect(seen.data.map((r) => r.tag_name)).not.toContain('v3.0.0');
    await expect(readerKit.repos.getRelease({ ...repo, release_id: draft.data.id })).rejects.toMatchObject({ status: 404 });
    expect((await api(server, 'GET', `/repos/${owner.username}/app/releases/${draft.data.id}`)).status).toBe(404);
    expect((await api(server, 'GET', `/repos/${owner.username}/app/releases/${draft.data.id}/assets`)).status).toBe(404);
    await expect(readerKit.repos.getReleaseByTag({ ...repo, tag: 'v3.0.0' })).rejects.toMatchObject({ status: 404 });
    const page = await fetch(`${server.url}/${owner.username}/app/releases`);
    expect(await page.text()).not.toContain('Secret plans');
    // A reader can neither create, edit nor upload.
    await expect(readerKit.repos.createRelease({ ...repo, tag_name: 'x1' })).rejects.toMatchObject({ status: 403 });
    await expect(readerKit.repos.updateRelease({ ...repo, release_id: draft.data.id, name: 'x' })).rejects.toMatchObject({ status: 403 });
    const upload = await api(server, 'POST', `/repos/${owner.username}/app/releases/${draft.data.id}/assets?name=a.txt`, { token: reader.token, body: 'x' });
    expect(upload.status).toBe(403);

    const mine = await octokit.repos.listReleases(repo);
    expect(mine.data.map((r) => r.tag_name)).toContain('v3.0.0');

    const published = await octokit.repos.updateRelease({ ...repo, release_id: draft.data.id, draft: false });
    expect(published.data.draft).toBe(false);
    expect(published.data.published_at).toBeTruthy();
    expect(await lsRemote(work.path, remote())).toContain(`${shas.main}\trefs/tags/v3.0.0`);
    const types = (await server.app.db.selectFrom('graph_events').select('type').where('subject', '=', `release/${draft.data.id}`).orderBy('id').execute()).map((e) => e.type);
    expect(types).toEqual(['release.created', 'release.updated', 'release.published']);
    expect((await readerKit.repos.getReleaseByTag({ ...repo, tag: 'v3.0.0' })).data.name).toBe('Secret plans');
  });

  it('refuses bad input with clear 422s and never a 5xx', async () => {
    for (const tag of ['--upload-pack=x', '-v', 'a..b', 'has space', 'x.lock', 'v1^', '', 'a\u0000b']) {
      const res = await api(server, 'POST', `/repos/${owner.username}/app/releases`, { token: owner.token, body: { tag_name: tag } });
      expect(res.status, JSON.stringify(tag)).toBe(422);
      expect(res.json.message, tag).toBeTruthy();
    }
    for (const target of ['nope', '--all', 'main..stable', 'deadbeef']) {
      const res = await api(server, 'POST', `/repos/${owner.username}/app/releases`, { token: owner.token, body: { tag_name: 'v9.9.9', target_commitish: target } });
      expect(res.status, target).toBe(422);
      expect(res.json.message).toContain('target_commitish');
    }
    expect((await lsRemote(work.path, remote())).some((l) => l.endsWith('refs/tags/v9.9.9'))).toBe(false);
    const dup = await api(server, 'POST', `/repos/${owner.username}/app/releases`, { token: owner.token, body: { tag_name: 'v1.0.0' } });
    expect(dup.status).toBe(422);
    expect(dup.json.message).toContain('already exists');
    for (const p of ['/releases/abc', '/releases/999999', '/releases/assets/999999', '/releases/tags/nope', '/releases/0/assets']) {
      expect((await api(server, 'GET', `/repos/${owner.username}/app${p}`, { token: owner.token })).status, p).toBe(404);
    }
    const noName = await api(server, 'POST', `/repos/${owner.username}/app/releases/1/assets`, { token: owner.token, body: 'x' });
    expect(noName.status).toBe(422);
    const dots = await api(server, 'POST', `/repos/${owner.username}/app/releases/1/assets?name=...`, { token: owner.token, body: 'x' });
    expect(dots.status).toBe(422);
  });

  it('hides a private repository’s releases and assets (404) from those who cannot read it', async () => {
    const kit = new Octokit({ baseUrl: `${server.url}/api/v1`, auth: owner.token, log: quiet });
    const rel = await kit.repos.createRelease({ owner: owner.username, repo: 'hidden', tag_name: 'v1' });
    const up = await kit.repos.uploadReleaseAsset({ owner: owner.username, repo: 'hidden', release_id: rel.data.id, url: rel.data.upload_url, name: 'x.txt', data: 'secret' });
    expect((await api(server, 'GET', `/repos/${owner.username}/hidden/releases`)).status).toBe(404);
    expect((await api(server, 'GET', `/repos/${owner.username}/hidden/releases/${rel.data.id}`, { token: reader.token })).status).toBe(404);
    expect((await fetch(up.data.browser_download_url)).status).toBe(404);
    expect((await fetch(`${server.url}/${owner.username}/hidden/releases`)).status).toBe(404);
  });

  /** Signs in through the form: the Cookie header and the CSRF token of this browser. */
  async function browserSession(user: TestUser): Promise<{ cookie: string; csrf: string }> {
    const jar = new Map<string, string>();
    const keep = (res: Response) => {
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const eq = pair!.indexOf('=');
        jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
      }
    };
    const first = await fetch(`${server.url}/-/login`);
    keep(first);
    const csrf = /name="_csrf" value="([0-9a-f]+)"/.exec(await first.text())![1]!;
    const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const login = await fetch(`${server.url}/-/login`, { method: 'POST', headers: { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf, username: user.username, password: user.password }), redirect: 'manual' });
    expect(login.status).toBe(303);
    keep(login);
    return { cookie: cookie(), csrf };
  }

  it('the streamed release form checks its CSRF field before storing anything, and limits each file', async () => {
    const { cookie, csrf } = await browserSession(owner);
    const post = (form: FormData) => fetch(`${server.url}/${owner.username}/app/releases`, { method: 'POST', headers: { cookie }, body: form, redirect: 'manual' });
    const form = (token: string | null, file?: { name: string; bytes: number }) => {
      const f = new FormData();
      if (token !== null) f.set('_csrf', token);
      f.set('tag_name', 'ui-1');
      f.set('target_commitish', 'main');
      f.set('name', 'From the form');
      if (file) f.set('asset', new Blob([Buffer.alloc(file.bytes, 1)]), file.name);
      return f;
    };
    const count = async () => Number((await server.app.db.selectFrom('releases').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const before = await count();
    for (const token of [null, 'forged', `${csrf}0`]) {
      const res = await post(form(token, { name: 'a.bin', bytes: 1000 }));
      expect(res.status, String(token)).toBe(403);
      await res.arrayBuffer();
    }
    expect(await count()).toBe(before);
    expect((await lsRemote(work.path, remote())).some((l) => l.endsWith('refs/tags/ui-1'))).toBe(false);
    // Cross-site: the session cookie alone is not enough.
    const bare = await fetch(`${server.url}/${owner.username}/app/releases`, { method: 'POST', headers: { cookie: cookie.split('; ').filter((c) => c.startsWith('gitoku_session=')).join('; ') }, body: form(csrf), redirect: 'manual' });
    expect(bare.status).toBe(403);
    await bare.arrayBuffer();

    // A bad tag re-renders the form with the error, nothing stored.
    const badTag = form(csrf);
    badTag.set('tag_name', '--evil');
    const bad = await post(badTag);
    expect(bad.status).toBe(422);
    expect(await bad.text()).toContain('is not a valid tag name');

    // Valid, with one file over the limit: the release is saved, the file refused and removed.
    const dir = join(server.dataDir, 'releases');
    const filesBefore = await filesUnder(dir);
    const res = await post(form(csrf, { name: 'huge.bin', bytes: LIMIT + 1 }));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/\/releases\/\d+\/edit$/);
    const created = await octokit.repos.getReleaseByTag({ ...repo, tag: 'ui-1' });
    expect(created.data.assets).toEqual([]);
    expect(await filesUnder(dir)).toEqual(filesBefore);
    const ok = await fetch(`${server.url}${res.headers.get('location')}`, { method: 'POST', headers: { cookie }, body: form(csrf, { name: 'small.bin', bytes: 5000 }), redirect: 'manual' });
    expect(ok.status).toBe(303);
    const updated = await octokit.repos.getReleaseByTag({ ...repo, tag: 'ui-1' });
    expect(updated.data.assets.map((a) => [a.name, a.size])).toEqual([['small.bin', 5000]]);
  });

  it('deletes a release with its asset files; the tag stays', async () => {
    const release = (await octokit.repos.getReleaseByTag({ ...repo, tag: 'v1.0.0' })).data;
    const dir = join(server.dataDir, 'releases');
    const repoId = (await octokit.repos.get(repo)).data.id;
    const files = await filesUnder(join(dir, String(repoId), String(release.id)));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect((await stat(f)).isFile()).toBe(true);
    const res = await octokit.repos.deleteRelease({ ...repo, release_id: release.id });
    expect(res.status).toBe(204);
    await expect(octokit.repos.getRelease({ ...repo, release_id: release.id })).rejects.toMatchObject({ status: 404 });
    for (const f of files) await expect(stat(f)).rejects.toThrow();
    expect(await lsRemote(work.path, remote())).toContain(`${shas.main}\trefs/tags/v1.0.0`);
    const deleted = await server.app.db.selectFrom('graph_events').select('type').where('subject', '=', `release/${release.id}`).where('type', '=', 'release.deleted').executeTakeFirst();
    expect(deleted).toBeTruthy();
  });
});
