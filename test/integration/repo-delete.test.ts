import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Octokit } from '@octokit/rest';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { commitFiles, gitCli, gitOk } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { createPushedRepo, type PushedRepo } from '../helpers/scriptedRuns.ts';
import { runCli } from '../helpers/cli.ts';

const BIN = resolve(import.meta.dirname, '../../bin/gitoku.js');

/** Runs the CLI with `input` on stdin (the confirmation prompt reads it). */
function runCliWithInput(args: string[], env: Record<string, string>, input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe.each(testDialects())('repository deletion on %s', (dialect) => {
  let server: TestServer;
  let alice: TestUser;
  let reader: TestUser;
  let stranger: TestUser;
  const works: PushedRepo[] = [];

  beforeAll(async () => {
    server = await startTestServer(dialect);
    alice = await createTestUser(server);
    reader = await createTestUser(server);
    stranger = await createTestUser(server);
  });

  afterAll(async () => {
    for (const w of works) await w.work.remove();
    await server?.close();
  });

  async function repositoryWithData(name: string, opts: { private?: boolean } = {}) {
    const pushed = await createPushedRepo(server, alice, name, { 'README.md': `# ${name}\n`, 'src/a.ts': 'export const a = 1;\n' }, opts);
    works.push(pushed);
    await gitOk(pushed.work.path, ['checkout', '-q', '-b', 'topic']);
    await commitFiles(pushed.work.path, { 'src/b.ts': 'export const b = 2;\n' }, 'topic');
    await gitOk(pushed.work.path, ['push', '-q', pushed.remote, 'topic']);
    expect((await api(server, 'POST', `/repos/${alice.username}/${name}/pulls`, { token: alice.token, body: { title: 'A change', head: 'topic', base: 'main' } })).status).toBe(201);
    expect((await api(server, 'POST', `/repos/${alice.username}/${name}/issues`, { token: alice.token, body: { title: 'A bug' } })).status).toBe(201);
    expect((await api(server, 'PUT', `/repos/${alice.username}/${name}/collaborators/${reader.username}`, { token: alice.token, body: { permission: 'pull' } })).status).toBe(201);
    const row = await server.app.db.selectFrom('repositories').selectAll().where('lower_name', '=', name.toLowerCase()).executeTakeFirstOrThrow();
    return { pushed, row, gitDir: join(server.dataDir, row.storage_path) };
  }

  async function rowsOf(repositoryId: number): Promise<Record<string, number>> {
    const count = async (table: 'pull_requests' | 'issues' | 'graph_events' | 'collaborators' | 'repository_refs') =>
      Number((await server.app.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('repository_id', '=', repositoryId).executeTakeFirstOrThrow()).n);
    return {
      repositories: Number((await server.app.db.selectFrom('repositories').select((eb) => eb.fn.countAll<number>().as('n')).where('id', '=', repositoryId).executeTakeFirstOrThrow()).n),
      pull_requests: await count('pull_requests'),
      issues: await count('issues'),
      graph_events: await count('graph_events'),
      collaborators: await count('collaborators'),
      repository_refs: await count('repository_refs'),
    };
  }

  it('refuses those who are not admins of the repository: 404 when they cannot read it, 403 when they can, 401 anonymous', async () => {
    const { gitDir, row } = await repositoryWithData('keep-me', { private: true });
    expect((await api(server, 'DELETE', `/repos/${alice.username}/keep-me`, { token: stranger.token })).status).toBe(404);
    expect((await api(server, 'DELETE', `/repos/${alice.username}/keep-me`, { token: reader.token })).status).toBe(403);
    expect((await api(server, 'DELETE', `/repos/${alice.username}/keep-me`)).status).toBe(401);
    const cli = await runCli(['repo', 'delete', `${alice.username}/keep-me`, '--yes'], { GITOKU_URL: server.url, GITOKU_TOKEN: stranger.token });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('404');
    expect(existsSync(gitDir)).toBe(true);
    expect((await rowsOf(row.id)).repositories).toBe(1);
  }, 60_000);

  it('DELETE /repos/{owner}/{repo} removes every row and the bare directory (Octokit), and the name can be used again', async () => {
    const { gitDir, row } = await repositoryWithData('doomed');
    const before = await rowsOf(row.id);
    expect(before).toMatchObject({ repositories: 1, pull_requests: 1, issues: 1, collaborators: 1 });
    expect(before.graph_events).toBeGreaterThan(0);
    expect(existsSync(gitDir)).toBe(true);

    const octokit = new Octokit({ baseUrl: `${server.url}/api/v1`, auth: alice.token });
    const res = await octokit.repos.delete({ owner: alice.username, repo: 'doomed' });
    expect(res.status).toBe(204);
    expect(await rowsOf(row.id)).toEqual({ repositories: 0, pull_requests: 0, issues: 0, graph_events: 0, collaborators: 0, repository_refs: 0 });
    expect(existsSync(gitDir)).toBe(false);
    expect((await api(server, 'GET', `/repos/${alice.username}/doomed`, { token: alice.token })).status).toBe(404);
    const clone = await gitCli(server.dataDir, ['ls-remote', `${server.url}/${alice.username}/doomed.git`]);
    expect(clone.code).not.toBe(0);
    expect((await api(server, 'DELETE', `/repos/${alice.username}/doomed`, { token: alice.token })).status).toBe(404);

    // A new repository of the same name starts empty (no object of the old one is served).
    expect((await api(server, 'POST', '/user/repos', { token: alice.token, body: { name: 'doomed' } })).status).toBe(201);
    const fresh = await api(server, 'GET', `/repos/${alice.username}/doomed/contents/README.md`, { token: alice.token });
    expect(fresh.status).toBe(404);
    const search = await api(server, 'GET', `/search/code?q=${encodeURIComponent(`export repo:${alice.username}/doomed`)}`, { token: alice.token });
    expect(search.json.total_count).toBe(0);
  }, 60_000);

  it('gitoku repo delete asks for the name unless --yes', async () => {
    const env = { GITOKU_URL: server.url, GITOKU_TOKEN: alice.token };
    const { gitDir, row } = await repositoryWithData('cli-doomed');
    const wrong = await runCliWithInput(['repo', 'delete', `${alice.username}/cli-doomed`], env, 'cli-doomed\n');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`Type ${alice.username}/cli-doomed to confirm`);
    expect(wrong.stderr).toContain('nothing was deleted');
    const empty = await runCliWithInput(['repo', 'delete', `${alice.username}/cli-doomed`], env, '');
    expect(empty.code).toBe(1);
    expect(existsSync(gitDir)).toBe(true);

    const right = await runCliWithInput(['repo', 'delete', `${alice.username}/cli-doomed`], env, `${alice.username}/cli-doomed\n`);
    expect(right.code, right.stderr).toBe(0);
    expect(right.stdout).toContain(`Deleted repository ${alice.username}/cli-doomed`);
    expect(existsSync(gitDir)).toBe(false);
    expect((await rowsOf(row.id)).repositories).toBe(0);

    const { gitDir: dir2 } = await repositoryWithData('cli-doomed-2');
    const yes = await runCli(['repo', 'delete', `${alice.username}/cli-doomed-2`, '--yes'], env);
    expect(yes.code, yes.stderr).toBe(0);
    expect(existsSync(dir2)).toBe(false);
    const list = await runCli(['repo', 'list', '--json'], env);
    const names = JSON.parse(list.stdout).map((r: { full_name: string }) => r.full_name);
    expect(names).not.toContain(`${alice.username}/cli-doomed`);
    expect(names).not.toContain(`${alice.username}/cli-doomed-2`);
    expect(names).toContain(`${alice.username}/keep-me`);
  }, 180_000);
});
