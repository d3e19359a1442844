/**
 * Watching and notifications (GitHub's model) through the API (Octokit's activity.* calls) and the
 * pages: who hears of an issue, a pull request and a task (watchers, participants, @mentions — never the
 * one who acted, never someone ignoring the repository or who cannot read it), one thread per subject
 * brought back to unread, read / done / mark all, the Watch menu and the top bar's bell.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Octokit } from '@octokit/rest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { testDialects } from '../helpers/databases.ts';
import { gitOk } from '../helpers/git.ts';
import { createPushedRepo, runScripted, scriptPrompt, waitFor, type PushedRepo } from '../helpers/scriptedRuns.ts';
import { startInProcessRunner } from '../helpers/runner.ts';
import { signInWithForm } from '../helpers/formSession.ts';
import type { JobRunner } from '../../src/runner/runner.ts';

interface Thread {
  id: string;
  unread: boolean;
  reason: string;
  subject: { title: string; type: string; url: string };
  repository: { full_name: string };
}

describe.each(testDialects())('notifications (%s)', (dialect) => {
  let server: TestServer;
  let runner: JobRunner;
  let owner: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let dave: TestUser;
  let eve: TestUser;
  let repo: PushedRepo;
  const full = () => `${owner.username}/hub`;
  const octokit = (u: TestUser) => new Octokit({ baseUrl: `${server.url}/api/v1`, auth: u.token, request: { retries: 0 } });
  const threads = async (u: TestUser, all = false) => (await api(server, 'GET', `/notifications${all ? '?all=true' : ''}`, { token: u.token })).json as Thread[];
  const threadOf = async (u: TestUser, title: string, all = false) => (await threads(u, all)).find((t) => t.subject.title === title) ?? null;
  /** Waits until every event so far was dispatched (the notifications are written by a behavior). */
  const settled = () => waitFor(async () => !(await server.app.db.selectFrom('graph_events').select('id').where('dispatched_at', 'is', null).executeTakeFirst()), 30_000);

  beforeAll(async () => {
    server = await startTestServer(dialect);
    [owner, bob, carol, dave, eve] = await Promise.all([createTestUser(server), createTestUser(server), createTestUser(server), createTestUser(server), createTestUser(server)]);
    repo = await createPushedRepo(server, owner, 'hub', { 'README.md': '# hub\n' });
    expect((await api(server, 'PUT', `/repos/${full()}/collaborators/${bob.username}`, { token: owner.token, body: { permission: 'push' } })).status).toBe(201);
    runner = await startInProcessRunner(server);
  }, 60_000);

  afterAll(async () => {
    await runner?.stop();
    await repo?.work.remove();
    await server?.close();
  });

  it('an owner watches what they create; anyone can watch, ignore, or go back to participating (Octokit)', async () => {
    expect((await octokit(owner).activity.getRepoSubscription({ owner: owner.username, repo: 'hub' })).data).toMatchObject({ subscribed: true, ignored: false });
    await expect(octokit(carol).activity.getRepoSubscription({ owner: owner.username, repo: 'hub' })).rejects.toMatchObject({ status: 404 });
    expect((await octokit(eve).activity.setRepoSubscription({ owner: owner.username, repo: 'hub', ignored: true })).data).toMatchObject({ subscribed: false, ignored: true });
    expect((await octokit(carol).activity.setRepoSubscription({ owner: owner.username, repo: 'hub', subscribed: true })).data).toMatchObject({ subscribed: true });
    expect((await octokit(carol).activity.deleteRepoSubscription({ owner: owner.username, repo: 'hub' })).status).toBe(204);
    await expect(octokit(carol).activity.getRepoSubscription({ owner: owner.username, repo: 'hub' })).rejects.toMatchObject({ status: 404 });
  });

  it('an issue reaches the watchers and the mentioned, then everyone who took part — one thread each, back to unread, never the actor or someone ignoring', async () => {
    const opened = await api(server, 'POST', `/repos/${full()}/issues`, { token: bob.token, body: { title: 'Crash on start', body: `It crashes. cc @${dave.username} @${eve.username}` } });
    expect(opened.status).toBe(201);
    await settled();
    expect(await threadOf(owner, 'Crash on start')).toMatchObject({ unread: true, reason: 'subscribed', subject: { type: 'Issue' }, repository: { full_name: full() } });
    expect(await threadOf(dave, 'Crash on start')).toMatchObject({ reason: 'mention' });
    expect(await threadOf(bob, 'Crash on start')).toBeNull(); // the actor
    expect(await threadOf(eve, 'Crash on start')).toBeNull(); // ignoring, even when mentioned
    expect(await threadOf(carol, 'Crash on start')).toBeNull();

    // The owner reads it; carol comments: it is unread again for the owner, bob (author) and dave (mentioned before).
    const ownerThread = (await threadOf(owner, 'Crash on start'))!;
    expect((await octokit(owner).activity.markThreadAsRead({ thread_id: Number(ownerThread.id) })).status).toBe(205);
    expect(await threadOf(owner, 'Crash on start')).toBeNull();
    expect(await threadOf(owner, 'Crash on start', true)).toMatchObject({ unread: false });
    await api(server, 'POST', `/repos/${full()}/issues/${opened.json.number}/comments`, { token: carol.token, body: { body: 'Same here.' } });
    await settled();
    expect(await threadOf(owner, 'Crash on start')).toMatchObject({ unread: true, id: ownerThread.id });
    expect(await threadOf(bob, 'Crash on start')).toMatchObject({ reason: 'author' });
    expect(await threadOf(dave, 'Crash on start')).toMatchObject({ reason: 'mention' });
    expect(await threadOf(carol, 'Crash on start')).toBeNull();
    expect((await threads(owner, true)).filter((t) => t.subject.title === 'Crash on start')).toHaveLength(1);

    // Assigned: carol hears of it as the assignee.
    await api(server, 'POST', `/repos/${full()}/issues/${opened.json.number}/assignees`, { token: owner.token, body: { assignees: [carol.username] } });
    await settled();
    expect(await threadOf(carol, 'Crash on start')).toMatchObject({ reason: 'assign' });
  });

  it('pull requests: the watchers hear of one opened, its author of its merge', async () => {
    await gitOk(repo.work.path, ['checkout', '-q', '-b', 'fix']);
    await gitOk(repo.work.path, ['commit', '-q', '--allow-empty', '-m', 'Fix it']);
    await gitOk(repo.work.path, ['push', '-q', repo.remote.replace(`${owner.username}:${owner.token}`, `${bob.username}:${bob.token}`), 'fix']);
    const pr = await api(server, 'POST', `/repos/${full()}/pulls`, { token: bob.token, body: { title: 'Fix the crash', head: 'fix', base: 'main' } });
    expect(pr.status).toBe(201);
    await settled();
    expect(await threadOf(owner, 'Fix the crash')).toMatchObject({ reason: 'subscribed', subject: { type: 'PullRequest' } });
    await waitFor(async () => (await api(server, 'GET', `/repos/${full()}/pulls/${pr.json.number}`, { token: owner.token })).json.mergeable !== null);
    expect((await api(server, 'PUT', `/repos/${full()}/pulls/${pr.json.number}/merge`, { token: owner.token, body: {} })).status).toBe(200);
    await settled();
    const bobs = await threadOf(bob, 'Fix the crash');
    expect(bobs).toMatchObject({ reason: 'author', unread: true });
    const row = await server.app.db.selectFrom('notifications').select(['action', 'last_actor_id']).where('id', '=', Number(bobs!.id)).executeTakeFirstOrThrow();
    expect(row).toEqual({ action: 'merged', last_actor_id: owner.id });
  });

  it('a finished task reaches whoever started it', async () => {
    const run = await runScripted(server, bob, full(), scriptPrompt('write notes.txt\nnotes\nend\nsay done'), { title: 'Write the notes' });
    expect(run.status).toBe('succeeded');
    await settled();
    expect(await threadOf(bob, 'Write the notes')).toMatchObject({ reason: 'run', subject: { type: 'Task' } });
    // The watchers hear of its pull request, not of the task itself.
    expect(await threadOf(owner, 'Write the notes')).toMatchObject({ subject: { type: 'PullRequest' } });
  });

  it('someone who can no longer read the repository no longer sees its threads; mark all read; done', async () => {
    const secret = await createPushedRepo(server, owner, 'secret', { 'README.md': 'x\n' }, { private: true });
    try {
      await api(server, 'PUT', `/repos/${owner.username}/secret/collaborators/${carol.username}`, { token: owner.token, body: { permission: 'pull' } });
      await api(server, 'PUT', `/repos/${owner.username}/secret/subscription`, { token: carol.token, body: { subscribed: true } });
      await api(server, 'POST', `/repos/${owner.username}/secret/issues`, { token: owner.token, body: { title: 'Secret plan' } });
      await settled();
      expect(await threadOf(carol, 'Secret plan')).not.toBeNull();
      await api(server, 'DELETE', `/repos/${owner.username}/secret/collaborators/${carol.username}`, { token: owner.token });
      expect(await threadOf(carol, 'Secret plan', true)).toBeNull();
      expect(JSON.stringify(await threads(carol, true))).not.toContain('Secret plan');
      // And it notifies them no more.
      await api(server, 'POST', `/repos/${owner.username}/secret/issues`, { token: owner.token, body: { title: 'Second secret' } });
      await settled();
      expect(await server.app.db.selectFrom('notifications').select('id').where('user_id', '=', carol.id).where('title', '=', 'Second secret').executeTakeFirst()).toBeUndefined();
    } finally {
      await secret.work.remove();
    }

    expect((await threads(owner)).length).toBeGreaterThan(0);
    expect((await octokit(owner).activity.markNotificationsAsRead()).status).toBe(205);
    expect(await threads(owner)).toEqual([]);
    const any = (await threads(owner, true))[0]!;
    expect((await api(server, 'DELETE', `/notifications/threads/${any.id}`, { token: owner.token })).status).toBe(204);
    expect((await threads(owner, true)).map((t) => t.id)).not.toContain(any.id);
    // Someone else's thread does not exist for you.
    const davesThread = (await threads(dave, true))[0]!;
    expect((await api(server, 'PATCH', `/notifications/threads/${davesThread.id}`, { token: owner.token })).status).toBe(404);
    expect((await api(server, 'GET', `/notifications/threads/${davesThread.id}`, { token: owner.token })).status).toBe(404);
  });

  it('pages: the bell, the inbox, opening a thread marks it read, the Watch menu', async () => {
    const web = (await signInWithForm(server, dave.username, dave.password)).session!;
    const page = async (path: string) => {
      const res = await fetch(`${server.url}${path}`, { headers: { Cookie: web.cookie, Accept: 'text/html' }, redirect: 'manual' });
      return { status: res.status, html: await res.text(), location: res.headers.get('location') };
    };
    const unreadBefore = (await threads(dave)).length;
    expect(unreadBefore).toBeGreaterThan(0);
    expect((await page('/')).html).toContain(`aria-label="Notifications (${unreadBefore} unread)"`);
    const inbox = await page('/notifications');
    expect(inbox.status).toBe(200);
    expect(inbox.html).toContain('Crash on start');
    expect(inbox.html).toContain('you were mentioned');
    const thread = (await threadOf(dave, 'Crash on start'))!;
    const open = await page(`/notifications/${thread.id}`);
    expect([open.status, open.location]).toEqual([302, `/${full()}/issues/1`]);
    expect(await threadOf(dave, 'Crash on start')).toBeNull();
    // Someone else's thread is a 404 page.
    const owners = (await threads(owner, true))[0]!;
    expect((await page(`/notifications/${owners.id}`)).status).toBe(404);

    expect((await web.post('/notifications/mark-read', {})).location).toBe('/notifications');
    expect(await threads(dave)).toEqual([]);
    expect((await page('/notifications')).html).toContain('All caught up');
    expect((await page('/')).html).toContain('aria-label="Notifications"');

    // The Watch menu: all activity, then ignore, then back to participating.
    const repoPage = await page(`/${full()}`);
    expect(repoPage.html).toMatch(/aria-checked="true"[^>]*>.*?Participating and @mentions/s);
    const back = `/${full()}/issues`;
    expect((await web.post(`/${full()}/subscription`, { state: 'watching', next: back })).location).toBe(back);
    expect((await api(server, 'GET', `/repos/${full()}/subscription`, { token: dave.token })).json).toMatchObject({ subscribed: true });
    expect((await page(`/${full()}`)).html).toContain('Unwatch');
    await web.post(`/${full()}/subscription`, { state: 'ignoring' });
    expect((await api(server, 'GET', `/repos/${full()}/subscription`, { token: dave.token })).json).toMatchObject({ ignored: true });
    await web.post(`/${full()}/subscription`, { state: 'participating', next: 'https://elsewhere.example/' });
    expect((await api(server, 'GET', `/repos/${full()}/subscription`, { token: dave.token })).status).toBe(404);
  });
});
