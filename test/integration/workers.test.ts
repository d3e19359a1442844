/**
 * Issue 19, goal 2: `gitoku serve --workers 2` — the primary forks two HTTP workers sharing the port,
 * the database and the repository directory. Both serve pages (X-Gitoku-Worker tells which); a push
 * through one shows at once on pages the other serves, though each holds its own in-process caches
 * (refs, rendered pages); the one embedded runner (in the primary) completes an agent run whose
 * protocol requests land on both workers; a SIGKILLed worker is restarted and requests keep working.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, testDialects, type TestDatabase } from '../helpers/databases.ts';
import { authUrl, commitFiles, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { scriptPrompt, waitFor } from '../helpers/scriptedRuns.ts';
import { startServeProcess, type ServeProcess } from '../helpers/gitokuProcess.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createAppContext, type AppContext } from '../../src/services/app.ts';
import { createUser } from '../../src/services/users.ts';
import { createAccessToken } from '../../src/services/tokens.ts';

interface Page {
  status: number;
  worker: string | null;
  body: string;
}

describe.each(testDialects())('gitoku serve --workers 2 (%s)', (dialect) => {
  let database: TestDatabase | null = null;
  let dataDir = '';
  let app: AppContext | null = null;
  let server: ServeProcess | null = null;
  const cleanups: (() => Promise<void>)[] = [];

  afterAll(async () => {
    await server?.stop();
    for (const c of cleanups) await c();
    await app?.close();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('serves from both workers, shows a push at once on each, runs an agent run once, and restarts a killed worker', async () => {
    database = await createTestDatabase(dialect);
    dataDir = await mkdtemp(join(tmpdir(), 'gitoku-workers-'));
    const env: Record<string, string> = { GITOKU_DATA_DIR: dataDir, GITOKU_DEMO: 'false', ...(database.url ? { GITOKU_DATABASE_URL: database.url } : {}) };
    server = await startServeProcess(env, { workers: 2, embeddedRunner: true });
    expect(server.output()).toContain('with 2 HTTP workers');
    app = await createAppContext(loadConfig(env));
    const user = await createUser(app, { username: 'alice', password: 'correct-horse-battery', isAdmin: true });
    const { token } = await createAccessToken(app, { userId: user.id, name: 'workers', scopes: ['repo', 'admin'] });
    const url = server.url;
    const auth = { Authorization: `Bearer ${token}` };
    // A new connection per page (the cluster balances connections, and fetch keeps one alive).
    const get = (path: string): Promise<Page> =>
      new Promise((resolve, reject) => {
        const req = httpRequest(`${url}${path}`, { headers: auth, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, worker: (res.headers['x-gitoku-worker'] as string | undefined) ?? null, body: Buffer.concat(chunks).toString() }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${url}/api/v1${path}`, { method, headers: { ...auth, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, json: (await res.json().catch(() => null)) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
    };
    /** Requests `path` until both workers answered it; every answer must pass `check`. */
    const fromBothWorkers = async (path: string, check: (page: Page) => void): Promise<Set<string>> => {
      const seen = new Set<string>();
      for (let i = 0; i < 40 && seen.size < 2; i++) {
        const page = await get(path);
        expect(page.status, `${path}: ${page.body.slice(0, 300)}`).toBe(200);
        check(page);
        if (page.worker) seen.add(page.worker);
      }
      expect([...seen].sort(), `${path} was not answered by both workers`).toEqual(['1', '2']);
      return seen;
    };

    expect((await api('POST', '/user/repos', { name: 'shared' })).status).toBe(201);
    const work = await tempDir();
    cleanups.push(() => work.remove());
    await initWorkRepo(work.path, { 'README.md': '# shared\n', 'src/app.txt': 'version one\n' });
    const remote = authUrl(url, 'alice/shared.git', 'alice', token);
    await gitOk(work.path, ['push', '-q', remote, 'main']);
    await gitOk(work.path, ['push', '-q', remote, 'main:refs/heads/feature/nested']);

    // Both workers serve the tree, blob and log pages (and fill their caches with the first state).
    const pages = ['/alice/shared/tree/main', '/alice/shared/blob/main/src/app.txt', '/alice/shared/commits/main', '/alice/shared/blob/feature/nested/src/app.txt'];
    for (const path of pages) await fromBothWorkers(path, (p) => expect(p.body).not.toContain('version two'));
    await fromBothWorkers('/alice/shared/blob/main/src/app.txt', (p) => expect(p.body).toContain('version one'));
    const blobApi = async (ref: string) => api('GET', `/repos/alice/shared/contents/src/app.txt?ref=${encodeURIComponent(ref)}`);
    for (let i = 0; i < 6; i++) expect((await blobApi('main')).status).toBe(200);

    // A push through one worker (whichever the connection lands on) shows at once on both.
    const second = await commitFiles(work.path, { 'src/app.txt': 'version two\n', 'NEW-FILE.md': 'new\n' }, 'second commit from the workers test');
    await gitOk(work.path, ['push', '-q', remote, 'main', `${second}:refs/heads/feature/nested`]);
    await fromBothWorkers('/alice/shared/blob/main/src/app.txt', (p) => expect(p.body).toContain('version two'));
    await fromBothWorkers('/alice/shared/tree/main', (p) => expect(p.body).toContain('NEW-FILE.md'));
    await fromBothWorkers('/alice/shared/commits/main', (p) => expect(p.body).toContain('second commit from the workers test'));
    // A branch in a subdirectory of refs/heads (its loose ref changes no mtime refs/heads itself shows).
    await fromBothWorkers('/alice/shared/blob/feature/nested/src/app.txt', (p) => expect(p.body).toContain('version two'));
    for (let i = 0; i < 6; i++) {
      const contents = await blobApi('main');
      expect(Buffer.from(contents.json.content, 'base64').toString()).toBe('version two\n');
    }

    // One embedded runner for the whole cluster (in the primary), and an agent run completes through it.
    await waitFor(async () => ((await api('GET', '/admin/runners')).json as unknown[]).length > 0);
    expect((await api('GET', '/admin/runners')).json).toHaveLength(1);
    const started = await api('POST', '/repos/alice/shared/runs', { prompt: scriptPrompt('write runs/one.txt\nhello from a worker\nend\nsay done'), title: 'workers run' });
    expect(started.status, JSON.stringify(started.json)).toBe(201);
    const run = await waitFor(async () => {
      const r = await api('GET', `/repos/alice/shared/runs/${started.json.number}`);
      return ['succeeded', 'failed', 'cancelled'].includes(r.json.status) ? r.json : null;
    }, 60_000);
    expect(run.status, server.output()).toBe('succeeded');
    const branch = run.compare_branch as string;
    await fromBothWorkers(`/alice/shared/blob/${branch}/runs/one.txt`, (p) => expect(p.body).toContain('hello from a worker'));

    // SIGKILL one worker: the primary restarts it; requests keep being answered meanwhile.
    const children = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(server.child.pid)], { encoding: 'utf8' });
    const workerPids = children
      .split('\n')
      .filter((l) => l.includes('gitoku.js') && l.includes('serve'))
      .map((l) => Number(l.trim().split(/\s+/)[0]));
    expect(workerPids, `${children}\n${server.output()}`).toHaveLength(2);
    process.kill(workerPids[0]!, 'SIGKILL');
    await waitFor(async () => /worker \d \(pid \d+\) died \(SIGKILL\)/.test(server!.output()), 10_000);
    for (let i = 0; i < 20; i++) expect((await get('/alice/shared/tree/main')).status).toBe(200);
    await waitFor(async () => /worker \d \(pid \d+\) is serving again/.test(server!.output()), 30_000);
    await fromBothWorkers('/alice/shared/tree/main', (p) => expect(p.body).toContain('NEW-FILE.md'));

    // SIGTERM to the primary stops everything cleanly.
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    await waitFor(async () => workerPids.slice(1).every((pid) => !alive(pid)), 10_000);
  }, 180_000);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
