/**
 * gitoku's pages against cgit (the C front-end kernel.org runs), on the same bare repositories, driven by
 * the same load generator (`wrk`) at concurrency 1 and 16: cgit as CGI behind lighttpd, once with
 * `cache-size=0` and once with its page cache. Two fixtures: the 5,000-commit default and a big one
 * (50,000 commits, 4,000 files; built once and cached). Also: cold tree root, cold AI blame against
 * `git blame --porcelain` and cold file history against `git log -- path`, both on an unmaintained copy
 * (gitoku's own copy is maintained by its post-push job: commit-graph with changed-path Bloom filters).
 *
 * Needs `cgit`, `lighttpd` and `wrk` (Debian: apt-get install cgit lighttpd wrk); skipped without them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Benchmark, type BenchCheck, type BenchOptions, check, Cleanup, formatBytes, formatMs, log, median, printTable, run, tempDir } from './lib.ts';
import { benchRepository, type BenchRepo, type RepoParams } from './fixtures.ts';
import { api, createTestUser, startTestServer, type TestServer } from '../test/helpers/server.ts';
import { authUrl } from '../test/helpers/git.ts';
import { freePort, startServeProcess } from '../test/helpers/gitokuProcess.ts';

const SMALL: RepoParams = { commits: 5000, files: 300, branches: 12, tagEvery: 250, seed: 1 };
const BIG: RepoParams = { commits: 50_000, files: 4000, branches: 20, tagEvery: 1000, seed: 19 };
const CGIT = '/usr/lib/cgit/cgit.cgi';
/** Seconds each wrk run lasts (per page, concurrency and server). */
const WRK_SECONDS = 2;

interface Wrk {
  rps: number;
  latencyMs: number;
  errors: number;
}

/** `wrk` against one URL: requests per second, mean latency, non-2xx/3xx and socket errors. */
async function wrk(url: string, connections: number, seconds = WRK_SECONDS): Promise<Wrk> {
  const out = (await run('wrk', ['-t', String(Math.min(2, connections)), '-c', String(connections), '-d', `${seconds}s`, '--timeout', '30s', '--latency', url])).stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const lat = /Latency\s+([\d.]+)(us|ms|s)/.exec(out);
  const latencyMs = lat ? Number(lat[1]) * (lat[2] === 'us' ? 0.001 : lat[2] === 's' ? 1000 : 1) : Number.NaN;
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (socket ? socket.slice(1).reduce((n, x) => n + Number(x), 0) : 0);
  return { rps, latencyMs, errors };
}

async function fetchOk(url: string): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(120_000) });
  const body = await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${url} → ${res.status}`);
  return { ms: performance.now() - t0, bytes: body.byteLength };
}

/** lighttpd serving cgit.cgi for one cgitrc. */
async function startCgit(cleanup: Cleanup, dir: string, name: string, repos: { url: string; path: string }[], cache: boolean): Promise<string> {
  const port = await freePort();
  const cgitrc = join(dir, `${name}.cgitrc`);
  const lines = ['virtual-root=/', 'enable-blame=1', 'enable-commit-graph=0', 'enable-log-filecount=0', 'enable-log-linecount=0', 'max-stats=', 'snapshots='];
  if (cache) await mkdir(join(dir, `${name}-cache`), { recursive: true });
  if (cache) lines.push(`cache-root=${join(dir, `${name}-cache`)}`, 'cache-size=100000', 'cache-dynamic-ttl=60', 'cache-repo-ttl=60', 'cache-root-ttl=60', 'cache-static-ttl=-1');
  else lines.push('cache-size=0');
  for (const r of repos) lines.push(`repo.url=${r.url}`, `repo.path=${r.path}`);
  await writeFile(cgitrc, lines.join('\n') + '\n');
  const conf = join(dir, `${name}.lighttpd.conf`);
  await writeFile(
    conf,
    [
      `server.document-root = "/usr/lib/cgit"`,
      `server.port = ${port}`,
      `server.bind = "127.0.0.1"`,
      `server.modules = ("mod_cgi", "mod_rewrite", "mod_setenv")`,
      `server.errorlog = "${join(dir, `${name}.error.log`)}"`,
      `server.max-connections = 256`,
      `cgi.assign = ( "cgit.cgi" => "" )`,
      `url.rewrite-once = ( "^/(.*)$" => "/cgit.cgi/$1" )`,
      `setenv.add-environment = ( "CGIT_CONFIG" => "${cgitrc}" )`,
      `mimetype.assign = ( ".html" => "text/html" )`,
    ].join('\n') + '\n',
  );
  // No pipes: CGI children inherit lighttpd's stderr, and an undrained pipe would block them.
  const child: ChildProcess = spawn('lighttpd', ['-D', '-f', conf], { stdio: 'ignore' });
  cleanup.add(`lighttpd ${name}`, () => {
    child.kill('SIGTERM');
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(`${base}/${repos[0]!.url}/`);
      await res.arrayBuffer();
      if (res.status === 200) return base;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`lighttpd/cgit did not start on port ${port}`);
}

interface Subject {
  page: string;
  gitoku: string;
  /** null: cgit has no such page (blame is compared with git itself instead). */
  cgit: string | null;
}

async function gitOut(gitDir: string, args: string[]): Promise<string> {
  return (await run('git', ['--git-dir', gitDir, ...args])).stdout;
}

/** Imports a fixture into gitoku (a mirror push through smart HTTP and the ref-change ingress) and waits for its maintenance job. */
async function importRepo(server: TestServer, token: string, repo: BenchRepo, name: string): Promise<string> {
  await api(server, 'POST', '/user/repos', { token, body: { name } });
  await run('git', ['--git-dir', repo.path, 'push', '-q', '--mirror', authUrl(server.url, `bench/${name}.git`, 'bench', token)]);
  const gitDir = join(server.dataDir, 'repos', 'bench', `${name}.git`);
  const start = Date.now();
  while (!existsSync(join(gitDir, 'objects', 'info', 'commit-graphs', 'commit-graph-chain'))) {
    if (Date.now() - start > 240_000) throw new Error(`maintenance of ${name} did not write a commit-graph`);
    await new Promise((r) => setTimeout(r, 250));
  }
  // The job has written the chain file; let it finish (a pending job for the repository means it is not done).
  for (;;) {
    const busy = await server.app.db.selectFrom('jobs').select('id').where('kind', '=', 'repository.maintenance').where('status', 'in', ['queued', 'running']).executeTakeFirst();
    if (!busy) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  return gitDir;
}

/**
 * A branch off main that changes `count` files (one line appended to each), pushed to gitoku through smart
 * HTTP like any push: built in a scratch repository that borrows the fixture's objects (alternates).
 */
async function pushWideBranch(server: TestServer, token: string, name: string, fixture: BenchRepo, work: string, count: number): Promise<string> {
  const branch = `wide-${count}`;
  const dir = join(work, `${name}-${branch}.git`);
  await run('git', ['init', '-q', '--bare', dir]);
  await writeFile(join(dir, 'objects', 'info', 'alternates'), `${join(fixture.path, 'objects')}\n`);
  const head = (await gitOut(fixture.path, ['rev-parse', 'refs/heads/main'])).trim();
  const files = (await gitOut(fixture.path, ['ls-tree', '-r', '--name-only', head])).split('\n').filter((f) => f.endsWith('.ts')).slice(0, count);
  const scratch = join(work, `${name}-${branch}-files`);
  const lines: string[] = [];
  for (const [i, f] of files.entries()) {
    const out = join(scratch, String(i));
    await mkdir(scratch, { recursive: true });
    await writeFile(out, `${await gitOut(fixture.path, ['cat-file', 'blob', `${head}:${f}`])}// wide change ${i}\n`);
    lines.push(out);
  }
  const shas = (await run('git', ['--git-dir', dir, 'hash-object', '-w', '--stdin-paths'], { input: lines.join('\n') + '\n' })).stdout.trim().split('\n');
  const env = { ...process.env, GIT_INDEX_FILE: join(dir, 'wide-index') };
  await run('git', ['--git-dir', dir, 'read-tree', head], { env });
  await run('git', ['--git-dir', dir, 'update-index', '--index-info'], { env, input: files.map((f, i) => `100644 ${shas[i]}\t${f}`).join('\n') + '\n' });
  const tree = (await run('git', ['--git-dir', dir, 'write-tree'], { env })).stdout.trim();
  const commit = (await run('git', ['--git-dir', dir, '-c', 'user.name=Bench', '-c', 'user.email=bench@example.com', 'commit-tree', tree, '-p', head, '-m', `Change ${count} files`])).stdout.trim();
  await run('git', ['--git-dir', dir, 'push', '-q', authUrl(server.url, `bench/${name}.git`, 'bench', token), `${commit}:refs/heads/${branch}`]);
  return branch;
}

async function subjectsFor(server: TestServer, token: string, name: string, gitDir: string, wideBranch: string): Promise<Subject[]> {
  const head = (await gitOut(gitDir, ['rev-parse', 'refs/heads/main'])).trim();
  const files = (await gitOut(gitDir, ['ls-tree', '-r', '--name-only', head])).split('\n').filter((f) => f.startsWith('src/') && f.endsWith('.ts'));
  const dir = files[0]!.split('/').slice(0, -1).join('/');
  const sizes = await Promise.all(files.slice(0, 400).map(async (f) => ({ f, n: Number((await gitOut(gitDir, ['cat-file', '-s', `${head}:${f}`])).trim()) })));
  const blob = sizes.sort((a, b) => b.n - a.n)[0]!.f;
  // A deep file (the most path segments) for its history page.
  const deep = files.reduce((a, b) => (b.split('/').length > a.split('/').length ? b : a));
  // Two tags about a year apart (the newest, and the newest at least 365 days older; else the oldest).
  const tags = (await gitOut(gitDir, ['for-each-ref', '--sort=creatordate', '--format=%(refname:strip=2)%00%(creatordate:unix)', 'refs/tags/'])).split('\n').filter(Boolean).map((l) => ({ name: l.split('\0')[0]!, time: Number(l.split('\0')[1]) }));
  const headTag = tags[tags.length - 1]!;
  const baseTag = [...tags].reverse().find((t) => t.time <= headTag.time - 365 * 86400) ?? tags[0]!;
  const branch = wideBranch;
  const pr = await api(server, 'POST', `/repos/bench/${name}/pulls`, { token, body: { title: 'bench', head: branch, base: 'main' } });
  const prNumber = pr.json.number as number;
  const mergeBase = (await gitOut(gitDir, ['merge-base', head, `refs/heads/${branch}`])).trim();
  const branchHead = (await gitOut(gitDir, ['rev-parse', `refs/heads/${branch}`])).trim();
  const g = `${server.url}/bench/${name}`;
  const c = `/${name}`;
  const subjects: Subject[] = [
    { page: 'tree root', gitoku: `${g}/tree/main`, cgit: `${c}/tree/` },
    { page: 'directory', gitoku: `${g}/tree/main/${dir}`, cgit: `${c}/tree/${dir}` },
    { page: 'blob', gitoku: `${g}/blob/main/${blob}`, cgit: `${c}/tree/${blob}` },
    { page: 'log', gitoku: `${g}/commits/main`, cgit: `${c}/log/` },
    { page: 'file history (deep file)', gitoku: `${g}/commits/main?path=${encodeURIComponent(deep)}`, cgit: `${c}/log/${deep}` },
    { page: 'commit', gitoku: `${g}/commit/${head}`, cgit: `${c}/commit/?id=${head}` },
    { page: 'blame', gitoku: `${g}/blame/main/${blob}`, cgit: `${c}/blame/${blob}` },
    { page: `compare (tags ${Math.round((headTag.time - baseTag.time) / 86400)} days apart)`, gitoku: `${g}/compare/${baseTag.name}...${headTag.name}`, cgit: `${c}/diff/?id=${headTag.name}&id2=${baseTag.name}` },
    { page: `PR files (${wideBranch.slice(5)} files)`, gitoku: `${g}/pull/${prNumber}/files`, cgit: `${c}/diff/?id=${branchHead}&id2=${mergeBase}` },
  ];
  return subjects;
}

interface PageRow {
  repo: string;
  page: string;
  conc: number;
  /** The first gitoku request of the page (cold caches). */
  coldMs: number;
  gitoku: Wrk;
  cgit: Wrk | null;
  cgitCache: Wrk | null;
}

export const cgit: Benchmark = {
  name: 'cgit',
  description: 'pages vs cgit (no cache / with cache) with wrk at concurrency 1 and 16 on 5,000- and 50,000-commit repositories; cold blame and history vs git',
  async run(opts: BenchOptions, cleanup: Cleanup) {
    for (const bin of ['wrk', 'lighttpd']) if (!(await run('which', [bin], { allowFailure: true })).stdout.trim()) return { checks: [], notes: [`skipped: ${bin} is not installed (apt-get install cgit lighttpd wrk)`] };
    if (!existsSync(CGIT)) return { checks: [], notes: ['skipped: cgit is not installed (apt-get install cgit)'] };
    process.env.GITOKU_MAINTENANCE_DELAY_MS = '0';
    const work = await tempDir(cleanup, 'gitoku-bench-cgit-');
    const t0 = performance.now();
    // GITOKU_BENCH_SMALL_ONLY=1: only the 5,000-commit repository (a quick run; the big fixture takes minutes to build once).
    const smallOnly = process.env.GITOKU_BENCH_SMALL_ONLY === '1';
    const small = await benchRepository(SMALL);
    const big = smallOnly ? null : await benchRepository(BIG);
    log(opts, `fixtures ready in ${formatMs(performance.now() - t0)} (small ${small.commitCount} commits${big ? `, big ${big.commitCount} commits${big.built ? ', built now' : ', cached'}` : ''})`);
    const server = await startTestServer('sqlite');
    cleanup.add('server', () => server.close());
    const user = await createTestUser(server, { username: 'bench' });
    let t = performance.now();
    const smallDir = await importRepo(server, user.token, small, 'small');
    log(opts, `imported + maintained small in ${formatMs(performance.now() - t)}`);
    t = performance.now();
    const bigDir = big ? await importRepo(server, user.token, big, 'big') : null;
    if (big) log(opts, `imported + maintained big in ${formatMs(performance.now() - t)}`);
    const fixtures: { name: string; repo: BenchRepo; gitDir: string }[] = [{ name: 'small', repo: small, gitDir: smallDir }];
    if (big && bigDir) fixtures.push({ name: 'big', repo: big, gitDir: bigDir });
    const repos = fixtures.map((f) => ({ url: f.name, path: f.gitDir }));
    const cgitPlain = await startCgit(cleanup, work.path, 'plain', repos, false);
    const cgitCached = await startCgit(cleanup, work.path, 'cached', repos, true);
    const checks: BenchCheck[] = [];
    const notes: string[] = [];

    // ---- cold: the tree root of a commit no one has asked for yet (the first request after the import)
    const cold: string[][] = [];
    for (const { name } of fixtures) {
      const g = await fetchOk(`${server.url}/bench/${name}/tree/main`);
      const warm = await fetchOk(`${server.url}/bench/${name}/tree/main`);
      const cg = await fetchOk(`${cgitPlain}/${name}/tree/`);
      cold.push([`${name}: tree root`, formatMs(g.ms), formatMs(warm.ms), formatMs(cg.ms), formatBytes(warm.bytes), formatBytes(cg.bytes)]);
    }
    printTable('tree root: first request (cold) and page size', ['page', 'gitoku cold', 'gitoku warm', 'cgit (no cache)', 'gitoku bytes', 'cgit bytes'], cold);

    // ---- cold AI blame and file history against git on an unmaintained copy of the same repository
    for (const { name, repo, gitDir } of fixtures) {
      const head = (await gitOut(repo.path, ['rev-parse', 'refs/heads/main'])).trim();
      const files = (await gitOut(gitDir, ['ls-tree', '-r', '--name-only', head])).split('\n').filter((f) => f.startsWith('src/') && f.endsWith('.ts'));
      const picks = files.filter((_, i) => i % Math.max(1, Math.floor(files.length / 12)) === 0).slice(0, 12);
      const blameRatios: number[] = [];
      const historyRatios: number[] = [];
      const rows: string[][] = [];
      for (const f of picks) {
        let s = performance.now();
        await run('git', ['--git-dir', repo.path, 'blame', '--porcelain', head, '--', f]);
        const gitBlame = performance.now() - s;
        const ai = await fetchOk(`${server.url}/api/v1/repos/bench/${name}/ai-blame/main/${f}`);
        s = performance.now();
        await run('git', ['--git-dir', repo.path, 'log', '--format=%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B', '-n', '31', head, '--', f]);
        const gitLog = performance.now() - s;
        const hist = await fetchOk(`${server.url}/bench/${name}/commits/main?path=${encodeURIComponent(f)}`);
        blameRatios.push(ai.ms / gitBlame);
        historyRatios.push(hist.ms / gitLog);
        rows.push([f, formatMs(ai.ms), formatMs(gitBlame), formatMs(hist.ms), formatMs(gitLog)]);
      }
      printTable(`${name}: cold AI blame API and file history page vs git on an unmaintained copy`, ['file', 'ai-blame API', 'git blame --porcelain', 'history page', 'git log -n 31 -- path'], rows);
      checks.push(check(`${name}: cold ai-blame / git blame (unmaintained), median ratio`, median(blameRatios), 1, 0.8, '×'));
      checks.push(check(`${name}: cold file history / git log -- path (unmaintained), median ratio`, median(historyRatios), 1, 0.5, '×'));
    }

    // ---- throughput at concurrency 1 and 16, against gitoku as a user runs it: `gitoku serve` with its
    // default of one HTTP worker per core, on the same data directory (the set-up above used an
    // in-process server; both share the database and the repositories, as several servers do).
    const rows: PageRow[] = [];
    const workers = cpus().length;
    const served = await startServeProcess({ GITOKU_DATA_DIR: server.dataDir }, { workers });
    cleanup.add('gitoku serve', () => served.stop());
    notes.push(`throughput: gitoku serve --workers ${workers} (one per core, the default) on the same data directory`);
    for (const { name, repo, gitDir } of fixtures) {
      const wide = await pushWideBranch(server, user.token, name, repo, work.path, 200);
      const subjects = (await subjectsFor(server, user.token, name, gitDir, wide)).map((s) => ({ ...s, gitoku: s.gitoku.replace(server.url, served.url) }));
      for (const s of subjects) {
        // Warm both (gitoku's caches in every worker, cgit's cache) before measuring.
        let t1 = performance.now();
        await fetchOk(s.gitoku);
        const coldMs = performance.now() - t1;
        await Promise.all(Array.from({ length: 2 * workers }, () => fetchOk(s.gitoku)));
        // And warm for real: a second of load, so the first pages measured do not pay for each worker's
        // JIT compilation and first-use module loads (a served page is warm in that sense too).
        await wrk(s.gitoku, 16, 1);
        log(opts, `${name} ${s.page}: first gitoku request ${formatMs(coldMs)}`);
        // A cgit page that fails or hangs is reported as n/a rather than stopping the benchmark.
        let cgitOk = !!s.cgit;
        if (s.cgit) {
          t1 = performance.now();
          cgitOk = await fetchOk(`${cgitPlain}${s.cgit}`).then(() => fetchOk(`${cgitCached}${s.cgit}`)).then(() => true, (err: unknown) => (notes.push(`cgit ${name} ${s.page}: ${(err as Error).message}`), false));
          log(opts, `${name} ${s.page}: first cgit requests ${formatMs(performance.now() - t1)}`);
        }
        for (const conc of [1, 16]) {
          const gitoku = await wrk(s.gitoku, conc);
          const plain = cgitOk ? await wrk(`${cgitPlain}${s.cgit}`, conc) : null;
          const cached = cgitOk ? await wrk(`${cgitCached}${s.cgit}`, conc) : null;
          rows.push({ repo: name, page: s.page, conc, coldMs, gitoku, cgit: plain, cgitCache: cached });
          log(opts, `${name} ${s.page} c=${conc}: gitoku ${gitoku.rps.toFixed(1)} req/s, cgit ${plain?.rps.toFixed(1) ?? '—'}, cgit+cache ${cached?.rps.toFixed(1) ?? '—'}`);
        }
      }
    }
    printTable(
      `throughput with wrk (${WRK_SECONDS} s per cell; req/s, mean latency)`,
      ['repo', 'page', 'conc', 'gitoku cold', 'gitoku', 'cgit', 'cgit + cache', 'gitoku / cgit+cache', 'errors'],
      rows.map((r) => [
        r.repo,
        r.page,
        String(r.conc),
        r.conc === 1 ? formatMs(r.coldMs) : '',
        `${r.gitoku.rps.toFixed(1)} (${formatMs(r.gitoku.latencyMs)})`,
        r.cgit ? `${r.cgit.rps.toFixed(1)} (${formatMs(r.cgit.latencyMs)})` : 'n/a',
        r.cgitCache ? `${r.cgitCache.rps.toFixed(1)} (${formatMs(r.cgitCache.latencyMs)})` : 'n/a',
        r.cgitCache ? `${(r.gitoku.rps / r.cgitCache.rps).toFixed(2)}×` : '—',
        String(r.gitoku.errors + (r.cgit?.errors ?? 0) + (r.cgitCache?.errors ?? 0)),
      ]),
    );
    for (const r of rows) {
      // Throughput: the check's ratio is cgit+cache's req/s over gitoku's (≤ 1 means gitoku is at least as fast).
      if (r.cgitCache) checks.push(check(`${r.repo} ${r.page} c=${r.conc}: cgit+cache / gitoku (req/s)`, r.cgitCache.rps, r.gitoku.rps, 1, 'req/s'));
    }
    // Goal 5 (scale): on the big repository these pages answer warm in ≤ 100 ms (wrk's mean at concurrency 1).
    for (const r of rows) {
      if (r.repo !== 'big' || r.conc !== 1 || !/^(tree root|log|file history|compare|PR files)/.test(r.page)) continue;
      checks.push(check(`big ${r.page}: warm latency (c=1) vs 100 ms`, r.gitoku.latencyMs, 100, 1, 'ms'));
      notes.push(`big ${r.page}: cold first request ${formatMs(r.coldMs)} (no timeout)`);
    }
    const blameRows = rows.filter((r) => r.page === 'blame');
    if (blameRows.length) notes.push(`blame pages are warm (cached per commit and path): ${blameRows.map((r) => `${r.repo} c=${r.conc} ${r.gitoku.rps.toFixed(0)} req/s`).join(', ')}`);
    return { checks, notes };
  },
};
