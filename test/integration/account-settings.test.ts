import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { flashOf, signInWithForm, type FormSession } from '../helpers/formSession.ts';
import { GIF_1X1, pngImage } from '../helpers/images.ts';

/**
 * User settings (issue 18) through the real server on both databases: the profile (form and
 * `PATCH /user` through Octokit), email and password changes (current password required, rate
 * limited, other sessions ended), uploaded avatars (magic bytes, size limit, served as what they
 * are, `avatar_url` pointing at them) and the sessions list.
 */
describe.each(testDialects())('account settings on %s', (dialect) => {
  let server: TestServer;
  let ann: TestUser;
  let ben: TestUser;
  let addressSeq = 0;
  // Each sign-in comes from its own address so the password back-off of one test never touches another.
  const nextAddress = () => `198.51.100.${++addressSeq}`;

  async function signIn(user: TestUser, password = user.password, userAgent?: string): Promise<FormSession> {
    const { session, status, html } = await signInWithForm(server, user.username, password, { userAgent, address: nextAddress() });
    expect(session, `sign-in ${status}: ${html.slice(0, 200)}`).not.toBeNull();
    return session!;
  }

  const octokit = (token: string) => new Octokit({ baseUrl: `${server.url}/api/v1`, auth: token, request: { retries: 0 } });

  beforeAll(async () => {
    server = await startTestServer(dialect, { GITOKU_TRUST_PROXY: 'true', GITOKU_AUTH_FREE_FAILURES: '3' });
    ann = await createTestUser(server, { username: 'ann18' });
    ben = await createTestUser(server, { username: 'ben18' });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('updates the profile through the settings form and shows it on the profile page and in the API', async () => {
    const b = await signIn(ann);
    expect((await b.get('/-/settings')).location).toBe('/-/settings/profile');
    const page = await b.get('/-/settings/profile');
    expect(page.status).toBe(200);
    for (const tab of ['Profile', 'Account', 'Avatar', 'Sessions', 'Access tokens']) expect(page.html).toContain(tab);

    const saved = await b.post('/-/settings/profile', { name: 'Ann Example', bio: 'Builds <b>forges</b>\nand tests', blog: 'ann.example.org', location: 'Lisbon' });
    expect(saved.status).toBe(303);
    expect(flashOf((await b.get('/-/settings/profile')).html)).toBe('Profile updated.');

    const profile = await b.get('/ann18');
    expect(profile.html).toContain('Ann Example');
    expect(profile.html).toContain('Builds &lt;b&gt;forges&lt;/b&gt;');
    expect(profile.html).not.toContain('<b>forges</b>');
    expect(profile.html).toContain('href="https://ann.example.org"');
    expect(profile.html).toContain('Lisbon');

    const me = await api(server, 'GET', '/user', { token: ann.token });
    expect(me.json).toMatchObject({ login: 'ann18', name: 'Ann Example', bio: 'Builds <b>forges</b>\nand tests', blog: 'https://ann.example.org', location: 'Lisbon' });

    // Bad input: a script URL or an over-long bio is refused and nothing changes.
    const badUrl = await b.post('/-/settings/profile', { name: 'X', bio: '', blog: 'javascript:alert(1)', location: '' });
    expect(badUrl.status).toBe(422);
    expect(badUrl.html).toContain('Website must be an http or https URL');
    const longBio = await b.post('/-/settings/profile', { name: 'X', bio: 'b'.repeat(641), blog: '', location: '' });
    expect(longBio.status).toBe(422);
    expect(longBio.html).toContain('Bio must be at most 640 characters');
    expect((await api(server, 'GET', '/user', { token: ann.token })).json).toMatchObject({ name: 'Ann Example', blog: 'https://ann.example.org' });
  });

  it('PATCH /user takes GitHub’s fields (Octokit users.updateAuthenticated) and refuses bad ones with 422', async () => {
    const kit = octokit(ben.token);
    const { data } = await kit.users.updateAuthenticated({ name: 'Ben B', bio: 'hello', blog: 'https://ben.example', location: 'Porto' });
    expect(data).toMatchObject({ login: 'ben18', name: 'Ben B', bio: 'hello', blog: 'https://ben.example', location: 'Porto' });
    expect((await kit.users.getByUsername({ username: 'ben18' })).data).toMatchObject({ name: 'Ben B', bio: 'hello', location: 'Porto' });
    // Only the fields given change; null clears one.
    const cleared = await api(server, 'PATCH', '/user', { token: ben.token, body: { location: null } });
    expect(cleared.status).toBe(200);
    expect(cleared.json).toMatchObject({ name: 'Ben B', bio: 'hello', location: null });

    const bad = await api(server, 'PATCH', '/user', { token: ben.token, body: { blog: 'data:text/html,<script>1</script>' } });
    expect(bad.status).toBe(422);
    expect(bad.json.message).toMatch(/http or https/);
    expect((await api(server, 'PATCH', '/user', { token: ben.token, body: { name: 42 } })).status).toBe(422);
    expect((await api(server, 'PATCH', '/user', { body: { name: 'anon' } })).status).toBe(401);
    expect((await api(server, 'GET', '/user', { token: ben.token })).json.blog).toBe('https://ben.example');
  });

  it('changes the email with the current password; a wrong password, a bad or a taken address is a 422', async () => {
    const cara = await createTestUser(server, { username: 'cara18' });
    const b = await signIn(cara);
    const wrong = await b.post('/-/settings/email', { email: 'cara@example.com', current_password: 'not-my-password' });
    expect(wrong.status).toBe(422);
    expect(wrong.html).toContain('Your current password is incorrect');
    const invalid = await b.post('/-/settings/email', { email: 'not an email', current_password: cara.password });
    expect(invalid.status).toBe(422);
    expect(invalid.html).toContain('Email address is not valid');

    const ok = await b.post('/-/settings/email', { email: 'Cara@Example.com', current_password: cara.password });
    expect(ok.status).toBe(303);
    expect((await api(server, 'GET', '/user', { token: cara.token })).json.email).toBe('Cara@Example.com');

    // Another account cannot take it, whatever the case.
    const b2 = await signIn(ann);
    const taken = await b2.post('/-/settings/email', { email: 'cara@EXAMPLE.com', current_password: ann.password });
    expect(taken.status).toBe(422);
    expect(taken.html).toContain('already in use');
    expect((await api(server, 'GET', '/user', { token: ann.token })).json.email).not.toMatch(/cara/i);
  });

  it('changes the password: old one required, sign-up rules, every other session ends and this one stays', async () => {
    const dan = await createTestUser(server, { username: 'dan18' });
    const here = await signIn(dan, dan.password, 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Safari/605.1.15');
    const elsewhere = await signIn(dan, dan.password, 'Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Mobile');
    const third = await signIn(dan, dan.password, 'curl/8.5.0');

    const wrong = await here.post('/-/settings/password', { current_password: 'wrong-password', new_password: 'a-new-password', confirm_password: 'a-new-password' });
    expect(wrong.status).toBe(422);
    expect(wrong.html).toContain('Your current password is incorrect');
    const short = await here.post('/-/settings/password', { current_password: dan.password, new_password: 'short', confirm_password: 'short' });
    expect(short.status).toBe(422);
    expect(short.html).toContain('New password must be at least 8 characters');
    const mismatch = await here.post('/-/settings/password', { current_password: dan.password, new_password: 'a-new-password', confirm_password: 'another-one' });
    expect(mismatch.status).toBe(422);
    expect(mismatch.html).toContain('do not match');
    // Nothing changed: every session still works, the old password still signs in.
    expect((await elsewhere.get('/-/settings/account')).status).toBe(200);

    const changed = await here.post('/-/settings/password', { current_password: dan.password, new_password: 'a-new-password', confirm_password: 'a-new-password' });
    expect(changed.status).toBe(303);
    const after = await here.get('/-/settings/account');
    expect(after.status).toBe(200);
    expect(flashOf(after.html)).toBe('Password changed. 2 other sessions were signed out.');
    for (const gone of [elsewhere, third]) {
      const res = await gone.get('/-/settings/account');
      expect(res.status).toBe(303);
      expect(res.location).toContain('/-/login');
    }
    expect((await signInWithForm(server, 'dan18', dan.password, { address: nextAddress() })).status).toBe(401);
    expect((await signInWithForm(server, 'dan18', 'a-new-password', { address: nextAddress() })).session).not.toBeNull();
    // Tokens keep working, as on GitHub.
    expect((await api(server, 'GET', '/user', { token: dan.token })).status).toBe(200);
  });

  it('rate-limits wrong current passwords like the sign-in form (429 with Retry-After)', async () => {
    const eve = await createTestUser(server, { username: 'eve18' });
    const b = await signIn(eve);
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<FormSession['post']>> | null = null;
    for (let i = 0; i < 6 && !limited; i++) {
      const res = await b.post('/-/settings/password', { current_password: `guess-${i}-password`, new_password: 'a-new-password', confirm_password: 'a-new-password' });
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    expect(statuses.slice(0, 3)).toEqual([422, 422, 422]);
    expect(limited, `statuses ${statuses.join(',')}`).not.toBeNull();
    expect(limited!.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(limited!.html).toContain('Too many wrong passwords');
  });

  it('uploads an avatar, serves it as what it is with nosniff, and points avatar_url at it', async () => {
    const fay = await createTestUser(server, { username: 'fay18' });
    const b = await signIn(fay);
    const png = pngImage(48);
    const form = new FormData();
    form.set('avatar', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'me.png');
    const uploaded = await b.postMultipart('/-/settings/avatar', form);
    expect(uploaded.status, uploaded.html.slice(0, 300)).toBe(303);

    const me = (await api(server, 'GET', '/user', { token: fay.token })).json;
    expect(me.avatar_url).toMatch(new RegExp(`^${server.url}/-/avatars/u/${fay.id}/[0-9a-f]{16}\\.png$`));
    const served = await fetch(me.avatar_url);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/png');
    expect(served.headers.get('x-content-type-options')).toBe('nosniff');
    expect(served.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(Buffer.from(await served.arrayBuffer()).equals(png)).toBe(true);
    // The file lives under the data directory.
    expect(await readdir(join(server.dataDir, 'avatars', String(fay.id)))).toEqual([me.avatar_url.split('/').pop()]);

    // Every user shape points at what is served: as a repository owner too (through the generated URL's redirect).
    await api(server, 'POST', '/user/repos', { token: fay.token, body: { name: 'pics' } });
    const repo = (await api(server, 'GET', '/repos/fay18/pics', { token: fay.token })).json;
    const owner = await fetch(repo.owner.avatar_url);
    expect(owner.status).toBe(200);
    expect(owner.headers.get('content-type')).toBe('image/png');
    // The header shows it.
    expect((await b.get('/-/settings/avatar')).html).toContain(`src="/-/avatars/u/${fay.id}/`);

    // A GIF replaces it (a JPEG named .png or a GIF named .svg is judged by its bytes, never its name).
    const gifForm = new FormData();
    gifForm.set('avatar', new Blob([new Uint8Array(GIF_1X1)], { type: 'image/svg+xml' }), 'evil.svg');
    expect((await b.postMultipart('/-/settings/avatar', gifForm)).status).toBe(303);
    const gifUrl = (await api(server, 'GET', '/user', { token: fay.token })).json.avatar_url as string;
    expect(gifUrl).toMatch(/\.gif$/);
    expect((await fetch(gifUrl)).headers.get('content-type')).toBe('image/gif');
    expect((await fetch(me.avatar_url)).status).toBe(404); // the old one is gone

    // Reset: back to the generated SVG.
    expect((await b.post('/-/settings/avatar/reset', {})).status).toBe(303);
    const reset = (await api(server, 'GET', '/user', { token: fay.token })).json.avatar_url as string;
    expect(reset).toBe(`${server.url}/-/avatars/fay18.svg`);
    expect((await fetch(reset)).headers.get('content-type')).toBe('image/svg+xml');
    expect(existsSync(join(server.dataDir, 'avatars', String(fay.id)))).toBe(false);
  });

  it('refuses SVG, HTML, empty and oversized avatars (422/413), keeping the current one', async () => {
    const gus = await createTestUser(server, { username: 'gus18' });
    const b = await signIn(gus);
    const keep = new FormData();
    keep.set('avatar', new Blob([new Uint8Array(pngImage(16))], { type: 'image/png' }), 'a.png');
    expect((await b.postMultipart('/-/settings/avatar', keep)).status).toBe(303);
    const before = (await api(server, 'GET', '/user', { token: gus.token })).json.avatar_url;

    const cases: [string, Buffer, string, number, string][] = [
      ['svg', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'), 'image/svg+xml', 422, 'PNG, JPEG, GIF or WebP'],
      ['html named .png', Buffer.from('<html><script>alert(1)</script></html>'), 'image/png', 422, 'PNG, JPEG, GIF or WebP'],
      ['empty', Buffer.alloc(0), 'image/png', 422, 'Choose an image file'],
      ['1 MiB + 1 byte', Buffer.concat([pngImage(8), Buffer.alloc(1024 * 1024 + 1 - pngImage(8).length)]), 'image/png', 413, 'at most 1 MiB'],
      ['3 MiB', Buffer.concat([pngImage(8), Buffer.alloc(3 * 1024 * 1024)]), 'image/png', 413, 'too large'],
    ];
    for (const [label, bytes, type, status, message] of cases) {
      const f = new FormData();
      f.set('avatar', new Blob([new Uint8Array(bytes)], { type }), 'x.png');
      const res = await b.postMultipart('/-/settings/avatar', f);
      expect(res.status, label).toBe(status);
      expect(res.html, label).toContain(message);
    }
    expect((await api(server, 'GET', '/user', { token: gus.token })).json.avatar_url).toBe(before);
    expect((await fetch(before)).status).toBe(200);
    // Made-up names are 404s, never files from elsewhere.
    for (const path of [`/-/avatars/u/${gus.id}/../../secret.png`, `/-/avatars/u/${gus.id}/0000000000000000.png`, `/-/avatars/u/${gus.id}/x.svg`, '/-/avatars/u/999999/0000000000000000.png']) {
      expect((await fetch(`${server.url}${path}`)).status, path).toBe(404);
    }
  });

  it('lists sessions with browser, address and times; signs out one, then everywhere else', async () => {
    const hal = await createTestUser(server, { username: 'hal18' });
    const here = await signIn(hal, hal.password, 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36');
    const phone = await signIn(hal, hal.password, 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1');
    const laptop = await signIn(hal, hal.password, 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0');

    const list = await here.get('/-/settings/sessions');
    expect(list.status).toBe(200);
    expect(list.html).toContain('Chrome on Windows');
    expect(list.html).toContain('Safari on iOS');
    expect(list.html).toContain('Firefox on Linux');
    expect(list.html).toContain('This browser');
    expect(list.html).toMatch(/198\.51\.100\.\d+/);
    expect(list.html.match(/class="session-item"/g)).toHaveLength(3);

    const rows = await server.app.db.selectFrom('sessions').selectAll().where('user_id', '=', hal.id).execute();
    const phoneRow = rows.find((r) => r.user_agent.includes('iPhone'))!;
    expect(phoneRow.last_seen_at).toBeTruthy();
    expect(phoneRow.ip).toMatch(/^198\.51\.100\./);

    // Someone else's session id is a 404 and ends nothing.
    const other = await signIn(ann);
    expect((await other.post(`/-/settings/sessions/${phoneRow.id_hash}/revoke`, {})).status).toBe(404);
    expect((await phone.get('/-/settings/sessions')).status).toBe(200);

    expect((await here.post(`/-/settings/sessions/${phoneRow.id_hash}/revoke`, {})).status).toBe(303);
    expect((await phone.get('/-/settings/sessions')).status).toBe(303);
    expect((await laptop.get('/-/settings/sessions')).status).toBe(200);

    expect((await here.post('/-/settings/sessions/revoke-others', {})).status).toBe(303);
    expect(flashOf((await here.get('/-/settings/sessions')).html)).toBe('Signed out 1 other session.');
    expect((await laptop.get('/-/settings/sessions')).status).toBe(303);
    const remaining = await here.get('/-/settings/sessions');
    expect(remaining.status).toBe(200);
    expect(remaining.html.match(/class="session-item"/g)).toHaveLength(1);
  });
});
