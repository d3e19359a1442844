/**
 * A data directory holding one public repository with a long light history (for bench/workers.ts and
 * bench/memory-growth.ts), and `gitoku serve` processes on it: the same one the user runs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cleanup } from './lib.ts';
import { authUrl, gitOk } from '../test/helpers/git.ts';
import { importLongHistory } from '../test/helpers/longHistory.ts';
import { startServeProcess, type ServeProcess } from '../test/helpers/gitokuProcess.ts';
import { loadConfig } from '../src/config/index.ts';
import { createAppContext } from '../src/services/app.ts';
import { createUser } from '../src/services/users.ts';
import { createAccessToken } from '../src/services/tokens.ts';

export interface ServeFixture {
  env: Record<string, string>;
  owner: string;
  repo: string;
  token: string;
  /** Commit shas of main, newest first (a sample). */
  commits: string[];
  /** Paths of files on main. */
  files: string[];
  serve(workers: number): Promise<ServeProcess>;
}

export async function serveFixture(cleanup: Cleanup, commits: number): Promise<ServeFixture> {
  const dataDir = await mkdtemp(join(tmpdir(), 'gitoku-bench-serve-'));
  cleanup.add('data dir', () => rm(dataDir, { recursive: true, force: true }));
  const env = { GITOKU_DATA_DIR: dataDir, GITOKU_DEMO: 'false', ...(process.env.GITOKU_BENCH_DATABASE_URL ? { GITOKU_DATABASE_URL: process.env.GITOKU_BENCH_DATABASE_URL } : {}) };
  const app = await createAppContext(loadConfig(env));
  const user = await createUser(app, { username: 'bench', password: 'correct-horse-battery', isAdmin: true });
  const { token } = await createAccessToken(app, { userId: user.id, name: 'bench', scopes: ['repo', 'admin'] });
  await app.close();
  const source = join(dataDir, 'source.git');
  await importLongHistory(source, commits);
  const serve = async (workers: number) => {
    const s = await startServeProcess(env, { workers });
    cleanup.add(`serve --workers ${workers}`, () => s.stop());
    return s;
  };
  const first = await serve(1);
  const created = await fetch(`${first.url}/api/v1/user/repos`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'history' }) });
  if (created.status !== 201) throw new Error(`creating the repository: ${created.status} ${await created.text()}`);
  await gitOk(source, ['push', '-q', authUrl(first.url, 'bench/history.git', 'bench', token), 'refs/heads/*:refs/heads/*', 'refs/tags/*:refs/tags/*']);
  await first.stop();
  const log = (await gitOk(source, ['rev-list', '--max-count=400', 'main'])).trim().split('\n');
  const files = (await gitOk(source, ['ls-tree', '-r', '--name-only', 'main'])).trim().split('\n');
  return { env, owner: 'bench', repo: 'history', token, commits: log, files, serve };
}
