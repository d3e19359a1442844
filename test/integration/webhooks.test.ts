import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { Octokit } from '@octokit/rest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { authUrl, commitFiles, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { startWebhookReceiver, type ReceivedHook, type WebhookReceiver } from '../helpers/webhookReceiver.ts';
import { parseAllowList } from '../../src/domain/ssrf.ts';

const SECRET = 'It’s a Secret to Everybody';

function hmac(alg: 'sha256' | 'sha1', body: string, secret = SECRET): string {
  return `${alg}=${createHmac(alg, secret).update(body).digest('hex')}`;
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each(testDialects())('webhooks on %s', (dialect) => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  let owner: TestUser;
  let writer: TestUser;
  let stranger: TestUser;
  let siteAdmin: TestUser;
  let octokit: Octokit;
  let work: { path: string; remove(): Promise<void> };
  let remote: string;
  let hookId: number;
  const repo = 'hooked';

  const ofEvent = (event: string, path = '/main') => (r: ReceivedHook) => r.path === path && r.headers['x-github-event'] === event;

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    // The receiver is on loopback: the test server's administrator allows exactly that address.
    server = await startTestServer(dialect, { GITOKU_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' });
    owner = await createTestUser(server);
    writer = await createTestUser(server);
    stranger = await createTestUser(server);
    siteAdmin = await createTestUser(server, { admin: true, scopes: ['repo', 'admin'] });
    octokit = new Octokit({ baseUrl: `${server.url}/api/v1`, auth: owner.token });
    expect((await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: repo, private: true } })).status).toBe(201);
    expect((await api(server, 'PUT', `/repos/${owner.username}/${repo}/collaborators/${writer.username}`, { token: owner.token, body: { permission: 'push' } })).status).toBeLessThan(300);
    work = await tempDir();
    await initWorkRepo(work.path, { 'README.md': '# hooked\n' });
    remote = authUrl(server.url, `${owner.username}/${repo}.git`, owner.username, owner.token);
  });

  afterAll(async () => {
    await work?.remove();
    await server?.close();
    await receiver?.close();
  });

  it('creates a hook with Octokit, never returns its secret, and pings it signed', async () => {
    const created = await octokit.rest.repos.createWebhook({
      owner: owner.username,
      repo,
      config: { url: `${receiver.url}/main`, content_type: 'json', secret: SECRET },
      events: ['push', 'create', 'pull_request', 'pull_request_review', 'issue_comment'],
    });
    expect(created.status).toBe(201);
    hookId = created.data.id;
    expect(created.data.config.secret).toBe('********');
    expect(created.data.config.url).toBe(`${receiver.url}/main`);
    expect(created.data.events).toEqual(['push', 'create', 'pull_request', 'pull_request_review', 'issue_comment']);
    expect(created.data.active).toBe(true);

    const listed = await octokit.rest.repos.listWebhooks({ owner: owner.username, repo });
    const got = await octokit.rest.repos.getWebhook({ owner: owner.username, repo, hook_id: hookId });
    for (const text of [JSON.stringify(created.data), JSON.stringify(listed.data), JSON.stringify(got.data)]) expect(text).not.toContain(SECRET);
    expect(listed.data.map((h) => h.id)).toEqual([hookId]);

    const ping = await receiver.waitFor(ofEvent('ping'));
    expect(ping.headers['x-hub-signature-256']).toBe(hmac('sha256', ping.body));
    expect(ping.headers['x-hub-signature']).toBe(hmac('sha1', ping.body));
    expect(ping.json().hook_id).toBe(hookId);
    expect(JSON.stringify(ping.json())).not.toContain(SECRET);
  });

  it('delivers a real git push with GitHub headers, signature and payload', async () => {
    const before = receiver.received.length;
    const first = await gitOk(work.path, ['rev-parse', 'HEAD']);
    const second = await commitFiles(work.path, { 'src/app.ts': 'export const x = 1;\n' }, 'Add the app');
    await gitOk(work.path, ['push', '-q', remote, 'main']);
    const push = await receiver.waitFor((r) => receiver.received.indexOf(r) >= before && ofEvent('push')(r));
    // Headers: both spellings, the hook, a delivery guid, the user agent, the content type.
    expect(push.headers['x-gitoku-event']).toBe('push');
    expect(push.headers['x-github-hook-id']).toBe(String(hookId));
    expect(push.headers['x-github-delivery']).toMatch(/^[0-9a-f-]{36}$/);
    expect(push.headers['x-gitoku-delivery']).toBe(push.headers['x-github-delivery']);
    expect(push.headers['user-agent']).toMatch(/^gitoku-Hookshot\//);
    expect(push.headers['content-type']).toBe('application/json');
    // The signature, recomputed over the raw body with the secret.
    expect(push.headers['x-hub-signature-256']).toBe(hmac('sha256', push.body));
    expect(push.headers['x-hub-signature-256']).not.toBe(hmac('sha256', push.body, 'wrong secret'));
    const payload = push.json() as {
      ref: string;
      before: string;
      after: string;
      created: boolean;
      deleted: boolean;
      forced: boolean;
      commits: { id: string; message: string; added: string[]; author: { name: string } }[];
      head_commit: { id: string };
      repository: { full_name: string; private: boolean; owner: { login: string } };
      pusher: { name: string };
      sender: { login: string };
    };
    expect(payload.ref).toBe('refs/heads/main');
    expect(payload.before).toBe('0000000000000000000000000000000000000000');
    expect(payload.after).toBe(second);
    expect(payload.created).toBe(true);
    expect(payload.deleted).toBe(false);
    expect(payload.commits.map((c) => c.id)).toEqual([first.trim(), second]);
    expect(payload.commits[1]!.added).toEqual(['src/app.ts']);
    expect(payload.commits[1]!.message).toBe('Add the app');
    expect(payload.head_commit.id).toBe(second);
    expect(payload.repository.full_name).toBe(`${owner.username}/${repo}`);
    expect(payload.repository.private).toBe(true);
    expect(payload.pusher.name).toBe(owner.username);
    expect(payload.sender.login).toBe(owner.username);
    // The new branch also produced a create event; the second push lists only its own commits.
    const create = await receiver.waitFor(ofEvent('create'));
    expect(create.json()).toMatchObject({ ref: 'main', ref_type: 'branch' });
    const third = await commitFiles(work.path, { 'src/app.ts': 'export const x = 2;\n' }, 'Change x');
    await gitOk(work.path, ['push', '-q', remote, 'main']);
    const again = await receiver.waitFor((r) => ofEvent('push')(r) && (r.json() as { after: string }).after === third);
    expect(again.json()).toMatchObject({ before: second, after: third, created: false, forced: false });
    expect((again.json() as { commits: { id: string; modified: string[] }[] }).commits).toEqual([expect.objectContaining({ id: third, modified: ['src/app.ts'] })]);
  });

  it('delivers pull_request and pull_request_review events in the API’s shapes', async () => {
    await gitOk(work.path, ['checkout', '-q', '-b', 'feature']);
    await commitFiles(work.path, { 'feature.txt': 'new\n' }, 'Feature');
    await gitOk(work.path, ['push', '-q', remote, 'feature']);
    const pr = await octokit.rest.pulls.create({ owner: owner.username, repo, title: 'A feature', head: 'feature', base: 'main', body: 'Please' });
    const opened = await receiver.waitFor((r) => ofEvent('pull_request')(r) && r.json().action === 'opened');
    expect(opened.headers['x-hub-signature-256']).toBe(hmac('sha256', opened.body));
    const body = opened.json() as { action: string; number: number; pull_request: Record<string, unknown>; repository: { name: string }; sender: { login: string } };
    expect(body.number).toBe(pr.data.number);
    expect(body.sender.login).toBe(owner.username);
    const fromApi = (await octokit.rest.pulls.get({ owner: owner.username, repo, pull_number: pr.data.number })).data as unknown as Record<string, unknown>;
    expect(Object.keys(body.pull_request).sort()).toEqual(Object.keys(fromApi).sort());
    expect(body.pull_request).toMatchObject({ number: pr.data.number, title: 'A feature', state: 'open', head: { ref: 'feature' }, base: { ref: 'main' } });

    await octokit.rest.pulls.createReview({ owner: owner.username, repo, pull_number: pr.data.number, event: 'COMMENT', body: 'Looks fine' });
    const review = await receiver.waitFor(ofEvent('pull_request_review'));
    expect(review.json()).toMatchObject({ action: 'submitted', review: { body: 'Looks fine', state: 'commented', user: { login: owner.username } }, pull_request: { number: pr.data.number } });

    await octokit.rest.issues.createComment({ owner: owner.username, repo, issue_number: pr.data.number, body: 'A conversation comment' });
    const comment = await receiver.waitFor(ofEvent('issue_comment'));
    expect(comment.json()).toMatchObject({ action: 'created', issue: { number: pr.data.number, pull_request: {} }, comment: { body: 'A conversation comment' } });
    await gitOk(work.path, ['checkout', '-q', 'main']);
  });

  it('delivers issues, issue comments, releases, statuses and merges to a hook that takes everything, and test pushes', async () => {
    const hook = await octokit.rest.repos.createWebhook({ owner: owner.username, repo, config: { url: `${receiver.url}/all`, secret: SECRET }, events: ['*'] });
    expect(hook.data.events).toEqual(['*']);
    const onAll = (event: string, action?: string) => (r: ReceivedHook) => r.path === '/all' && r.headers['x-github-event'] === event && (action === undefined || r.json().action === action);

    const issue = await octokit.rest.issues.create({ owner: owner.username, repo, title: 'Broken link', body: 'On the home page' });
    const opened = await receiver.waitFor(onAll('issues', 'opened'));
    expect(opened.headers['x-hub-signature-256']).toBe(hmac('sha256', opened.body));
    expect(opened.json()).toMatchObject({ action: 'opened', issue: { number: issue.data.number, title: 'Broken link', state: 'open', user: { login: owner.username } }, sender: { login: owner.username } });
    await octokit.rest.issues.createComment({ owner: owner.username, repo, issue_number: issue.data.number, body: 'Confirmed' });
    const commented = await receiver.waitFor(onAll('issue_comment', 'created'));
    expect(commented.json()).toMatchObject({ issue: { number: issue.data.number }, comment: { body: 'Confirmed', user: { login: owner.username } } });
    await octokit.rest.issues.update({ owner: owner.username, repo, issue_number: issue.data.number, state: 'closed' });
    expect((await receiver.waitFor(onAll('issues', 'closed'))).json()).toMatchObject({ issue: { number: issue.data.number, state: 'closed' } });

    const head = (await gitOk(work.path, ['rev-parse', 'main'])).trim();
    await octokit.rest.repos.createCommitStatus({ owner: owner.username, repo, sha: head, state: 'success', context: 'ci/test', description: 'All green' });
    const status = await receiver.waitFor(onAll('status'));
    expect(status.json()).toMatchObject({ sha: head, state: 'success', context: 'ci/test', description: 'All green', name: `${owner.username}/${repo}`, branches: [{ name: 'main' }] });

    const release = await octokit.rest.repos.createRelease({ owner: owner.username, repo, tag_name: 'v1.0.0', target_commitish: 'main', name: 'First', body: 'Notes' });
    const published = await receiver.waitFor(onAll('release', 'published'));
    expect(published.headers['x-hub-signature-256']).toBe(hmac('sha256', published.body));
    expect(published.json()).toMatchObject({ action: 'published', release: { id: release.data.id, tag_name: 'v1.0.0', name: 'First', draft: false, html_url: release.data.html_url } });

    const pulls = await octokit.rest.pulls.list({ owner: owner.username, repo });
    const pr = pulls.data[0]!;
    await octokit.rest.pulls.merge({ owner: owner.username, repo, pull_number: pr.number });
    const merged = await receiver.waitFor(onAll('pull_request', 'closed'));
    expect(merged.json()).toMatchObject({ number: pr.number, pull_request: { merged: true, state: 'closed' } });
    // The work tree follows the merged main.
    await gitOk(work.path, ['fetch', '-q', remote, 'main']);
    await gitOk(work.path, ['merge', '-q', '--ff-only', 'FETCH_HEAD']);

    // POST …/tests: the default branch's latest push again, as a push event.
    const before = receiver.received.length;
    expect((await octokit.rest.repos.testPushWebhook({ owner: owner.username, repo, hook_id: hook.data.id })).status).toBe(204);
    const test = await receiver.waitFor((r) => receiver.received.indexOf(r) >= before && onAll('push')(r));
    const tip = (await api(server, 'GET', `/repos/${owner.username}/${repo}/branches/main`, { token: owner.token })).json.commit.sha;
    expect(test.json()).toMatchObject({ ref: 'refs/heads/main', after: tip });
    await octokit.rest.repos.deleteWebhook({ owner: owner.username, repo, hook_id: hook.data.id });
  });

  it('retries a failing target with backoff until it answers, and logs every delivery', async () => {
    receiver.reply('/flaky', { status: 500, body: 'boom' }, { status: 503, body: 'busy' });
    const hook = await octokit.rest.repos.createWebhook({ owner: owner.username, repo, config: { url: `${receiver.url}/flaky`, secret: SECRET }, events: ['push'] });
    const attempts = await until('three attempts', async () => {
      const got = receiver.received.filter((r) => r.path === '/flaky');
      return got.length >= 3 ? got : null;
    }, 30_000);
    // The same delivery each time (one guid), spaced by the queue's growing backoff (2 s, then 4 s).
    expect(new Set(attempts.map((a) => a.headers['x-github-delivery'])).size).toBe(1);
    const gaps = [attempts[1]!.at - attempts[0]!.at, attempts[2]!.at - attempts[1]!.at];
    expect(gaps[0]).toBeGreaterThanOrEqual(1500);
    expect(gaps[1]).toBeGreaterThan(gaps[0]!);
    for (const a of attempts) expect(a.headers['x-hub-signature-256']).toBe(hmac('sha256', a.body));

    const list = await until('the delivery to be logged as delivered', async () => {
      const { data } = await octokit.rest.repos.listWebhookDeliveries({ owner: owner.username, repo, hook_id: hook.data.id });
      return data.length === 1 && data[0]!.status === 'OK' ? data : null;
    });
    expect(list[0]).toMatchObject({ event: 'ping', status_code: 200, redelivery: false, guid: attempts[0]!.headers['x-github-delivery'] });
    expect((list[0] as unknown as { attempts: number }).attempts).toBe(3);
    const detail = await octokit.rest.repos.getWebhookDelivery({ owner: owner.username, repo, hook_id: hook.data.id, delivery_id: list[0]!.id });
    expect(detail.data.request.headers).toMatchObject({ 'X-GitHub-Event': 'ping', 'X-Hub-Signature-256': hmac('sha256', attempts[2]!.body) });
    expect(detail.data.request.payload).toMatchObject({ hook_id: hook.data.id });
    expect(detail.data.response.payload).toBe('ok');
    expect(detail.data.duration).toBeGreaterThanOrEqual(0);
    await octokit.rest.repos.deleteWebhook({ owner: owner.username, repo, hook_id: hook.data.id });
  });

  it('redelivers a delivery (same guid, marked as a redelivery) and gives up on a target that keeps failing', async () => {
    const { data: deliveries } = await octokit.rest.repos.listWebhookDeliveries({ owner: owner.username, repo, hook_id: hookId });
    const push = deliveries.find((d) => d.event === 'push')!;
    expect(push.status).toBe('OK');
    const before = receiver.received.length;
    const res = await octokit.rest.repos.redeliverWebhookDelivery({ owner: owner.username, repo, hook_id: hookId, delivery_id: push.id });
    expect(res.status).toBe(202);
    const again = await receiver.waitFor((r) => receiver.received.indexOf(r) >= before && r.headers['x-github-delivery'] === push.guid);
    expect(again.headers['x-hub-signature-256']).toBe(hmac('sha256', again.body));
    const { data: after } = await octokit.rest.repos.listWebhookDeliveries({ owner: owner.username, repo, hook_id: hookId });
    expect(after[0]).toMatchObject({ guid: push.guid, redelivery: true, event: 'push' });

    // A 4xx is the receiver's answer, not an outage: logged as failed, not retried.
    receiver.reply('/gone', { status: 410, body: 'gone' });
    const hook = await octokit.rest.repos.createWebhook({ owner: owner.username, repo, config: { url: `${receiver.url}/gone` }, events: ['push'] });
    const failed = await until('the failed delivery', async () => {
      const { data } = await octokit.rest.repos.listWebhookDeliveries({ owner: owner.username, repo, hook_id: hook.data.id });
      return data[0] && data[0].status !== 'pending' ? data[0] : null;
    });
    expect(failed).toMatchObject({ status: 'Invalid HTTP Response: 410', status_code: 410 });
    await new Promise((r) => setTimeout(r, 2500));
    expect(receiver.received.filter((r) => r.path === '/gone')).toHaveLength(1);
    // No secret: no signature headers.
    expect(receiver.received.find((r) => r.path === '/gone')!.headers['x-hub-signature-256']).toBeUndefined();
    await octokit.rest.repos.deleteWebhook({ owner: owner.username, repo, hook_id: hook.data.id });
  });

  it('sends form-encoded payloads signed over the form body', async () => {
    const hook = await octokit.rest.repos.createWebhook({ owner: owner.username, repo, config: { url: `${receiver.url}/form`, content_type: 'form', secret: SECRET }, events: ['push'] });
    const ping = await receiver.waitFor((r) => r.path === '/form');
    expect(ping.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(ping.headers['x-hub-signature-256']).toBe(hmac('sha256', ping.body));
    const payload = JSON.parse(new URLSearchParams(ping.body).get('payload')!) as { hook_id: number };
    expect(payload.hook_id).toBe(hook.data.id);
    await octokit.rest.repos.deleteWebhook({ owner: owner.username, repo, hook_id: hook.data.id });
  });

  it('updates a hook: events, active, secret kept unless given', async () => {
    const updated = await octokit.rest.repos.updateWebhook({ owner: owner.username, repo, hook_id: hookId, add_events: ['status'], remove_events: ['create'] });
    expect(updated.data.events).toEqual(['push', 'pull_request', 'pull_request_review', 'issue_comment', 'status']);
    expect(updated.data.config.secret).toBe('********');
    const bad = await api(server, 'PATCH', `/repos/${owner.username}/${repo}/hooks/${hookId}`, { token: owner.token, body: { events: ['push', 'nonsense'] } });
    expect(bad.status).toBe(422);
    expect(bad.json.message).toContain('nonsense');
    const empty = await api(server, 'PATCH', `/repos/${owner.username}/${repo}/hooks/${hookId}`, { token: owner.token, body: { events: [] } });
    expect(empty.status).toBe(422);
    // Pinging still signs with the kept secret.
    const before = receiver.received.length;
    await octokit.rest.repos.pingWebhook({ owner: owner.username, repo, hook_id: hookId });
    const ping = await receiver.waitFor((r) => receiver.received.indexOf(r) >= before && ofEvent('ping')(r));
    expect(ping.headers['x-hub-signature-256']).toBe(hmac('sha256', ping.body));
  });

  it('refuses internal targets at create and update time with a clear 422', async () => {
    const policy = server.app.config.webhooks;
    const refused = ['http://127.0.0.2/x', 'http://2130706434/', 'http://0x7f.2/', 'http://[::1]/', 'http://[::ffff:127.0.0.3]/', 'http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/', 'http://192.168.1.10/', 'http://100.64.0.1/', 'http://[fd00::1]/', 'http://[fe80::1]/', 'http://0.0.0.0/', 'http://localhost:9/'];
    for (const url of refused) {
      const res = await api(server, 'POST', `/repos/${owner.username}/${repo}/hooks`, { token: owner.token, body: { config: { url }, events: ['push'] } });
      expect(res.status, url).toBe(422);
      expect(res.json.message, url).toMatch(/loopback|private|link-local|unspecified|carrier-grade|internal/);
      expect(res.json.message, url).toContain('GITOKU_WEBHOOK_ALLOW');
    }
    for (const url of ['ftp://example.com/', 'http://user:pw@example.com/', 'not a url', 'file:///etc/passwd']) {
      const res = await api(server, 'POST', `/repos/${owner.username}/${repo}/hooks`, { token: owner.token, body: { config: { url }, events: ['push'] } });
      expect(res.status, url).toBe(422);
    }
    const patch = await api(server, 'PATCH', `/repos/${owner.username}/${repo}/hooks/${hookId}`, { token: owner.token, body: { config: { url: 'http://169.254.169.254/' } } });
    expect(patch.status).toBe(422);
    expect((await octokit.rest.repos.getWebhook({ owner: owner.username, repo, hook_id: hookId })).data.config.url).toBe(`${receiver.url}/main`);
    // A name is judged by what it resolves to.
    const name = hostname();
    const addresses = await lookup(name, { all: true }).catch(() => []);
    if (addresses.length > 0 && addresses.every((a) => a.address.startsWith('127.'))) {
      const allowed = policy.allowedRanges;
      policy.allowedRanges = [];
      const res = await api(server, 'POST', `/repos/${owner.username}/${repo}/hooks`, { token: owner.token, body: { config: { url: `http://${name}:${receiver.port}/named` }, events: ['push'] } });
      expect(res.status).toBe(422);
      expect(res.json.message).toContain(name);
      expect(res.json.message).toContain('loopback');
      policy.allowedRanges = allowed;
    }
    expect(policy.allowedRanges).toHaveLength(1);
  });

  it('re-checks the target after resolution at delivery time (no rebinding past the check)', async () => {
    const name = hostname();
    const addresses = await lookup(name, { all: true });
    expect(addresses.length, `${name} must resolve for this test`).toBeGreaterThan(0);
    const policy = server.app.config.webhooks;
    const original = { ...policy };
    try {
      // Allowed by name while the hook is created …
      Object.assign(policy, { allowedHosts: [name], allowedRanges: [] });
      const hook = await octokit.rest.repos.createWebhook({ owner: owner.username, repo, config: { url: `http://${name}:${receiver.port}/named` }, events: ['push'] });
      await receiver.waitFor((r) => r.path === '/named');
      // … then the allowance is gone (as if the name now resolved somewhere internal): refused at delivery.
      Object.assign(policy, { allowedHosts: [], allowedRanges: parseAllowList('203.0.113.0/24').ranges });
      const seen = receiver.received.filter((r) => r.path === '/named').length;
      await octokit.rest.repos.pingWebhook({ owner: owner.username, repo, hook_id: hook.data.id });
      const refused = await until('the refused delivery', async () => {
        const { data } = await octokit.rest.repos.listWebhookDeliveries({ owner: owner.username, repo, hook_id: hook.data.id });
        return data.length === 2 && data[0]!.status !== 'pending' ? data[0] : null;
      });
      expect(refused.status).toMatch(/^refused: .*loopback/);
      expect(refused.status_code).toBe(0);
      expect((refused as unknown as { attempts: number; state: string }).state).toBe('failed');
      expect(receiver.received.filter((r) => r.path === '/named')).toHaveLength(seen);
      await octokit.rest.repos.deleteWebhook({ owner: owner.username, repo, hook_id: hook.data.id });
    } finally {
      Object.assign(policy, original);
    }
  });

  it('keeps hooks to repository admins: 403 for a writer, 404 for a stranger, 403 without the repo scope', async () => {
    const path = `/repos/${owner.username}/${repo}/hooks`;
    expect((await api(server, 'GET', path, { token: writer.token })).status).toBe(403);
    expect((await api(server, 'POST', path, { token: writer.token, body: { config: { url: `${receiver.url}/w` } } })).status).toBe(403);
    expect((await api(server, 'GET', `${path}/${hookId}`, { token: writer.token })).status).toBe(403);
    expect((await api(server, 'GET', `${path}/${hookId}/deliveries`, { token: writer.token })).status).toBe(403);
    expect((await api(server, 'GET', path, { token: stranger.token })).status).toBe(404);
    expect((await api(server, 'DELETE', `${path}/${hookId}`, { token: stranger.token })).status).toBe(404);
    expect((await api(server, 'GET', path)).status).toBe(401);
    const noScope = await createTestUser(server, { scopes: [] });
    expect((await api(server, 'GET', `/repos/${noScope.username}/x/hooks`, { token: noScope.token })).status).toBe(403);
    // Another repository's hook id is not found through this one.
    await api(server, 'POST', '/user/repos', { token: stranger.token, body: { name: 'other' } });
    expect((await api(server, 'GET', `/repos/${stranger.username}/other/hooks/${hookId}`, { token: stranger.token })).status).toBe(404);
    // Server-wide hooks are for site administrators only.
    expect((await api(server, 'GET', '/admin/hooks', { token: owner.token })).status).toBe(403);
    expect((await api(server, 'POST', '/admin/hooks', { token: owner.token, body: { config: { url: `${receiver.url}/global` } } })).status).toBe(403);
  });

  it('delivers every repository’s events to a server-wide hook', async () => {
    const res = await api(server, 'POST', '/admin/hooks', { token: siteAdmin.token, body: { config: { url: `${receiver.url}/global`, secret: 'global secret' }, events: ['push'] } });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({ type: 'Global', config: { secret: '********' } });
    await commitFiles(work.path, { 'global.txt': 'g\n' }, 'For the global hook');
    await gitOk(work.path, ['push', '-q', remote, 'main']);
    const push = await receiver.waitFor((r) => r.path === '/global' && r.headers['x-github-event'] === 'push');
    expect(push.headers['x-hub-signature-256']).toBe(hmac('sha256', push.body, 'global secret'));
    expect(push.json()).toMatchObject({ repository: { full_name: `${owner.username}/${repo}` } });
    const listed = await api(server, 'GET', '/admin/hooks', { token: siteAdmin.token });
    expect(listed.json.map((h: { id: number }) => h.id)).toEqual([res.json.id]);
    expect((await api(server, 'DELETE', `/admin/hooks/${res.json.id}`, { token: siteAdmin.token })).status).toBe(204);
  });

  it('never slows a push: the push returns while the receiver hangs', async () => {
    // The replies are set first: the ping may arrive before createWebhook's answer does.
    receiver.reply('/hang', 'hang', 'hang', 'hang');
    const hook = await octokit.rest.repos.createWebhook({ owner: owner.username, repo, config: { url: `${receiver.url}/hang` }, events: ['push'] });
    await receiver.waitFor((r) => r.path === '/hang'); // the ping, now hanging
    expect(receiver.hanging()).toBe(1);
    const started = Date.now();
    await commitFiles(work.path, { 'slow.txt': 'zzz\n' }, 'While the receiver hangs');
    await gitOk(work.path, ['push', '-q', remote, 'main']);
    const pushTook = Date.now() - started;
    expect(pushTook).toBeLessThan(5000);
    // The push's own delivery reaches the hanging receiver after the push returned, and hangs too.
    const pushed = await receiver.waitFor((r) => r.path === '/hang' && r.headers['x-github-event'] === 'push');
    expect(pushed.at).toBeGreaterThan(started);
    expect(receiver.hanging()).toBe(2);
    const { data } = await octokit.rest.repos.listWebhookDeliveries({ owner: owner.username, repo, hook_id: hook.data.id });
    expect(data.every((d) => d.status === 'pending')).toBe(true);
    receiver.releaseHanging();
    await octokit.rest.repos.deleteWebhook({ owner: owner.username, repo, hook_id: hook.data.id });
  });

  it('deletes a hook with Octokit', async () => {
    await octokit.rest.repos.deleteWebhook({ owner: owner.username, repo, hook_id: hookId });
    expect((await api(server, 'GET', `/repos/${owner.username}/${repo}/hooks/${hookId}`, { token: owner.token })).status).toBe(404);
    expect((await octokit.rest.repos.listWebhooks({ owner: owner.username, repo })).data).toEqual([]);
  });
});
