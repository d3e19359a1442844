/**
 * Browsing benchmark: warm p50/p95 latency of the tree, blob and pull-request files pages on a
 * repository with 5,000 commits and 2,000 files, and blame of a long file through gitoku vs
 * `git blame --porcelain` in the same run.
 */
import { performance } from 'node:perf_hooks';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Benchmark, type BenchOptions, check, Cleanup, formatMs, percentile, printTable, run, tempDir } from './lib.ts';
import { benchRepository } from './fixtures.ts';
import { createTestUser, startTestServer, api } from '../test/helpers/server.ts';
import { authUrl, gitOk, initWorkRepo } from '../test/helpers/git.ts';

const PAGES_REPO = { commits: 5000, files: 2000, branches: 4, tagEvery: 500, seed: 7 };

async function timeRequests(url: string, n: number): Promise<number[]> {
  const first = await fetch(url);
  if (first.status !== 200) throw new Error(`${url} → ${first.status}`);
  await first.arrayBuffer();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(url);
    await res.arrayBuffer();
    samples.push(performance.now() - t0);
  }
  return samples;
}

/** A 3,000-line file changed by 300 commits, each rewriting a few lines. */
async function blameRepository(dir: string): Promise<void> {
  const lines = Array.from({ length: 3000 }, (_, i) => `line ${i + 1}: ${'x'.repeat(20 + (i % 40))}`);
  await initWorkRepo(dir, { 'long.txt': lines.join('\n') + '\n' });
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let c = 0; c < 300; c++) {
    for (let k = 0; k < 8; k++) {
      const i = Math.floor(rnd() * lines.length);
      lines[i] = `line ${i + 1} rev ${c}: ${'y'.repeat(10 + (c % 30))}`;
    }
    await writeFile(join(dir, 'long.txt'), lines.join('\n') + '\n');
    await gitOk(dir, ['commit', '-q', '-am', `edit ${c}`]);
  }
}

export const pages: Benchmark = {
  name: 'pages',
  description: 'warm tree/blob/PR-files page latency (5,000 commits, 2,000 files) and blame vs git blame --porcelain',
  async run(opts: BenchOptions, cleanup: Cleanup) {
    const n = opts.repeat ?? 50;
    const repo = await benchRepository(PAGES_REPO);
    const server = await startTestServer('sqlite');
    cleanup.add('server', () => server.close());
    const user = await createTestUser(server, { username: 'bench' });
    await api(server, 'POST', '/user/repos', { token: user.token, body: { name: 'big' } });
    await run('git', ['--git-dir', repo.path, 'push', '-q', '--mirror', authUrl(server.url, 'bench/big.git', 'bench', user.token)]);
    const branches = (await run('git', ['--git-dir', repo.path, 'for-each-ref', '--format=%(refname:strip=2)', 'refs/heads/'])).stdout.split('\n').filter((b) => b && b !== 'main');
    const pr = await api(server, 'POST', '/repos/bench/big/pulls', { token: user.token, body: { title: 'bench', head: branches[0], base: 'main' } });
    const tree = await api(server, 'GET', '/repos/bench/big/git/trees/main?recursive=1');
    const dir = 'src';
    const file = (tree.json.tree as { path: string; type: string }[]).find((e) => e.type === 'blob' && e.path.startsWith('src/') && e.path.endsWith('.ts'))!.path;
    const base = `${server.url}/bench/big`;
    const subjects: [string, string][] = [
      ['tree page', `${base}/tree/main/${dir}`],
      ['blob page', `${base}/blob/main/${file}`],
      ['PR files page', `${base}/pull/${pr.json.number}/files`],
      ['contents API (dir)', `${server.url}/api/v1/repos/bench/big/contents/${dir}`],
      ['contents API (file)', `${server.url}/api/v1/repos/bench/big/contents/${file}`],
      ['PR files API', `${server.url}/api/v1/repos/bench/big/pulls/${pr.json.number}/files`],
    ];
    const results = new Map<string, number[]>();
    for (const [name, url] of subjects) results.set(name, await timeRequests(url, n));
    printTable(`warm latency (${n} requests each, ${repo.commitCount} commits)`, ['page', 'p50', 'p95'], [...results].map(([name, s]) => [name, formatMs(percentile(s, 50)), formatMs(percentile(s, 95))]));

    const blameDir = await tempDir(cleanup, 'gitoku-bench-blame-');
    await blameRepository(blameDir.path);
    await api(server, 'POST', '/user/repos', { token: user.token, body: { name: 'blame' } });
    await gitOk(blameDir.path, ['push', '-q', authUrl(server.url, 'bench/blame.git', 'bench', user.token), 'main']);
    const gitDir = join(server.dataDir, 'repos', 'bench', 'blame.git');
    const head = (await run('git', ['--git-dir', gitDir, 'rev-parse', 'main'])).stdout.trim();
    const viaGitoku: number[] = [];
    const viaAiBlame: number[] = [];
    const page: number[] = [];
    const direct: number[] = [];
    for (let i = 0; i < Math.max(5, Math.floor(n / 5)); i++) {
      let t0 = performance.now();
      await run('git', ['--git-dir', gitDir, 'blame', '--porcelain', head, '--', 'long.txt']);
      direct.push(performance.now() - t0);
      t0 = performance.now();
      const res = await fetch(`${server.url}/api/v1/repos/bench/blame/blame/main/long.txt`);
      await res.arrayBuffer();
      viaGitoku.push(performance.now() - t0);
      t0 = performance.now();
      await (await fetch(`${server.url}/api/v1/repos/bench/blame/ai-blame/main/long.txt`)).arrayBuffer();
      viaAiBlame.push(performance.now() - t0);
      t0 = performance.now();
      await (await fetch(`${server.url}/bench/blame/blame/main/long.txt`)).arrayBuffer();
      page.push(performance.now() - t0);
    }
    printTable('blame of a 3,000-line file with 300 commits', ['subject', 'p50', 'p95'], [
      ['gitoku (blame API)', formatMs(percentile(viaGitoku, 50)), formatMs(percentile(viaGitoku, 95))],
      ['gitoku (AI blame API: the page\'s data as JSON)', formatMs(percentile(viaAiBlame, 50)), formatMs(percentile(viaAiBlame, 95))],
      ['gitoku (blame page: AI gutter, highlighting)', formatMs(percentile(page, 50)), formatMs(percentile(page, 95))],
      ['git blame --porcelain', formatMs(percentile(direct, 50)), formatMs(percentile(direct, 95))],
    ]);
    const p50 = (name: string) => percentile(results.get(name)!, 50);
    return {
      checks: [
        check('tree page p50 (vs 10 ms target)', p50('tree page'), 10, 1),
        check('blob page p50 (vs 10 ms target)', p50('blob page'), 10, 1),
        check('PR files page p50 (vs 10 ms target)', p50('PR files page'), 10, 1),
        check('blame: gitoku / git blame --porcelain', percentile(viaGitoku, 50), percentile(direct, 50), 1.2),
        // Issue 19, goal 4: one git blame per page, and the rendered table cached per (commit, path,
        // captures): the page costs at most 10% more than the API's JSON.
        check('blame page / blame API', percentile(page, 50), percentile(viaGitoku, 50), 1.1),
        check('blame page / AI blame API', percentile(page, 50), percentile(viaAiBlame, 50), 1.1),
      ],
    };
  },
};
