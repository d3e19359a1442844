/**
 * clone: full clone and whole-repository push of a ≥5,000-commit repository through gitoku's smart
 * HTTP endpoint (real server, token auth), against stock `git http-backend` behind a minimal CGI
 * wrapper (bench/httpBackend.ts) and a local file:// transport, all measured in the same run.
 * Target: gitoku ≤ 1.1× http-backend for both clone and push.
 */
import { spawn } from 'node:child_process';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startTestServer, createTestUser } from '../test/helpers/server.ts';
import { authUrl, gitClientEnv } from '../test/helpers/git.ts';
import { createRepository } from '../src/services/repositories.ts';
import { findUserById } from '../src/services/users.ts';
import { handleRepositoryRefChanges } from '../src/services/refChanges.ts';
import { repositoryGitDir } from '../src/services/storage.ts';
import { initBareRepository } from '../src/git/repository.ts';
import { ZERO_SHA } from '../src/domain/refs.ts';
import { benchRepository, DEFAULT_REPO } from './fixtures.ts';
import { startHttpBackend } from './httpBackend.ts';
import {
  type Benchmark,
  type BenchOptions,
  type Cleanup,
  type Stats,
  type Subject,
  check,
  compare,
  comparisonTable,
  formatBytes,
  formatMs,
  formatRatio,
  log,
  printTable,
  run,
  STATS_HEADER,
  statsRows,
  tempDir,
} from './lib.ts';

const TARGET = 1.1;
/** Measured repetitions per operation unless --repeat says otherwise. */
const DEFAULT_REPEAT = 9;
const GITOKU = 'gitoku (HTTP, token)';
const BACKEND = 'git http-backend (CGI)';
const FILE = 'file:// (local)';

interface Ref {
  sha: string;
  name: string;
}

async function refsOf(gitDir: string): Promise<Ref[]> {
  const out = (await run('git', ['--git-dir', gitDir, 'for-each-ref', '--format=%(objectname) %(refname)'], { env: gitClientEnv() })).stdout;
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => ({ sha: l.slice(0, 40), name: l.slice(41) }));
}

/** Copies a bare repository's objects and refs into an (empty, already configured) bare repository. */
async function fillRepository(source: string, target: string): Promise<void> {
  await cp(join(source, 'objects', 'pack'), join(target, 'objects', 'pack'), { recursive: true });
  await cp(join(source, 'packed-refs'), join(target, 'packed-refs'));
}

function sameRefs(a: Ref[], b: Ref[]): boolean {
  const key = (refs: Ref[]) =>
    refs
      .map((r) => `${r.sha} ${r.name}`)
      .sort()
      .join('\n');
  return key(a) === key(b);
}

function pkt(s: string): string {
  return (Buffer.byteLength(s) + 4).toString(16).padStart(4, '0') + s;
}

/** A protocol-v2 `fetch` request wanting every ref tip (what a full clone sends), as a Buffer. */
function fetchAllRequest(refs: Ref[]): Buffer {
  const wants = [...new Set(refs.map((r) => r.sha))].map((sha) => pkt(`want ${sha}\n`)).join('');
  return Buffer.from(`${pkt('command=fetch\n')}${pkt('agent=gitoku-bench\n')}0001${pkt('thin-pack\n')}${pkt('ofs-delta\n')}${pkt('no-progress\n')}${wants}${pkt('done\n')}0000`);
}

/** A receive-pack request creating every ref (commands, flush, then a pack of everything), as git push sends it. */
async function pushAllRequest(gitDir: string, refs: Ref[]): Promise<Buffer> {
  const zero = '0'.repeat(40);
  const caps = '\0report-status side-band-64k quiet object-format=sha1 agent=gitoku-bench';
  const commands = refs.map((r, i) => pkt(`${zero} ${r.sha} ${r.name}${i === 0 ? caps : ''}\n`)).join('') + '0000';
  const pack = await new Promise<Buffer>((resolve, reject) => {
    const child = spawn('git', ['--git-dir', gitDir, 'pack-objects', '--all', '--stdout', '--delta-base-offset', '-q'], { env: gitClientEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`git pack-objects exited ${code}`))));
  });
  return Buffer.concat([Buffer.from(commands), pack]);
}

/** Sends one raw HTTP request and drains the response; returns the body size. */
async function request(url: string, init: { method?: string; headers: Record<string, string>; body?: Buffer }): Promise<number> {
  const res = await fetch(url, { method: init.method ?? 'GET', headers: init.headers, body: init.body ? new Uint8Array(init.body) : undefined });
  if (res.status !== 200) throw new Error(`${init.method ?? 'GET'} ${url.replace(/\/\/[^@/]*@/, '//')} → ${res.status}: ${(await res.text()).slice(0, 200)}`);
  let bytes = 0;
  for await (const chunk of res.body! as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
  return bytes;
}

export const clone: Benchmark = {
  name: 'clone',
  description: 'clone and push of a 5,000-commit repository: gitoku vs git http-backend (and file://)',
  async run(opts: BenchOptions, cleanup: Cleanup) {
    const t0 = performance.now();
    const repeat = opts.repeat ?? DEFAULT_REPEAT;
    const repo = await benchRepository(DEFAULT_REPO);
    console.log(
      `  repository: ${repo.commitCount} commits, ${repo.refCount} refs, pack ${formatBytes(repo.packBytes)}` +
        (repo.built ? ` (built in ${formatMs(repo.buildMs)})` : ' (cached)') +
        `\n              ${repo.path}`,
    );
    const sourceRefs = await refsOf(repo.path);
    const env = gitClientEnv();

    // gitoku: the real server, a user with a token, a source repository holding the fixture.
    log(opts, 'starting gitoku (sqlite) and the http-backend CGI wrapper');
    const server = await startTestServer('sqlite');
    cleanup.add('gitoku server', () => server.close());
    const user = await createTestUser(server, { username: 'bench', scopes: ['repo'] });
    const owner = (await findUserById(server.app.db, user.id))!;
    // Private repositories: git only sends the token after a 401 challenge, so a public repository
    // would be cloned anonymously and the token path (challenge, token lookup) would go unmeasured.
    const source = await createRepository(server.app, owner, { name: 'source', isPrivate: true });
    const gitokuSourceDir = repositoryGitDir(server.app, source);
    await fillRepository(repo.path, gitokuSourceDir);
    await handleRepositoryRefChanges(
      server.app,
      source,
      sourceRefs.map((r) => ({ ref: r.name, before: ZERO_SHA, after: r.sha })),
      { kind: 'api', actorId: owner.id },
    );
    const gitokuUrl = (name: string) => authUrl(server.url, `bench/${name}.git`, user.username, user.token);

    // Reference: the same bytes (and the same repository config) under GIT_PROJECT_ROOT.
    const refRoot = (await tempDir(cleanup, 'gitoku-bench-ref-')).path;
    const refSourceDir = join(refRoot, 'bench', 'source.git');
    await initBareRepository(refSourceDir, 'main');
    await fillRepository(repo.path, refSourceDir);
    const backend = await startHttpBackend(refRoot);
    cleanup.add('http-backend server', () => backend.close());

    const work = (await tempDir(cleanup, 'gitoku-bench-work-')).path;
    let seq = 0;

    // (1) Full clone (protocol v2, the git default) into a fresh directory each time.
    const cloneSubject = (name: string, url: string): Subject => {
      let dest = '';
      return {
        name,
        before: async () => {
          dest = join(work, `clone-${++seq}.git`);
        },
        run: () => run('git', ['clone', '--bare', '--quiet', url, dest], { env }),
        after: async () => {
          if (!sameRefs(await refsOf(dest), sourceRefs)) throw new Error(`${name}: the clone's refs differ from the source`);
          await rm(dest, { recursive: true, force: true });
        },
      };
    };
    log(opts, `clone × ${repeat} (+1 warm-up) per transport`);
    const clones = await compare(
      [cloneSubject(GITOKU, gitokuUrl('source')), cloneSubject(BACKEND, `${backend.url}/bench/source.git`), cloneSubject(FILE, `file://${refSourceDir}`)],
      { repeat, onSample: (n, ms, r) => log(opts, `clone #${r} ${n}: ${formatMs(ms)}`) },
    );
    comparisonTable('clone --bare (full repository, protocol v2); ratios against http-backend', clones, [GITOKU, BACKEND, FILE], BACKEND);

    // (2) Push of every ref into an empty repository, created fresh (untimed) before each push.
    const pushSubject = (name: string, prepare: (n: number) => Promise<{ url: string; gitDir: string }>): Subject => {
      let target = { url: '', gitDir: '' };
      return {
        name,
        before: async () => {
          target = await prepare(++seq);
        },
        run: () => run('git', ['--git-dir', repo.path, 'push', '--quiet', '--mirror', target.url], { env }),
        after: async () => {
          if (!sameRefs(await refsOf(target.gitDir), sourceRefs)) throw new Error(`${name}: the pushed repository's refs differ from the source`);
          await rm(target.gitDir, { recursive: true, force: true });
        },
      };
    };
    const localTarget = (root: string) => async (n: number) => {
      const gitDir = join(root, 'bench', `push-${n}.git`);
      await initBareRepository(gitDir, 'main');
      return { url: gitDir, gitDir };
    };
    log(opts, `push --mirror × ${repeat} (+1 warm-up) per transport`);
    const pushes = await compare(
      [
        pushSubject(GITOKU, async (n) => {
          const created = await createRepository(server.app, owner, { name: `push-${n}`, isPrivate: true });
          return { url: gitokuUrl(`push-${n}`), gitDir: repositoryGitDir(server.app, created) };
        }),
        pushSubject(BACKEND, async (n) => {
          const t = await localTarget(refRoot)(n);
          return { ...t, url: `${backend.url}/bench/push-${n}.git` };
        }),
        pushSubject(FILE, async (n) => {
          const t = await localTarget(refRoot)(n);
          return { ...t, url: `file://${t.gitDir}` };
        }),
      ],
      { repeat, onSample: (n, ms, r) => log(opts, `push #${r} ${n}: ${formatMs(ms)}`) },
    );
    comparisonTable('push --mirror (all branches and tags into an empty repository); ratios against http-backend', pushes, [GITOKU, BACKEND, FILE], BACKEND);

    // Diagnostics: where a difference comes from. Each pair is measured interleaved (alternating which goes first).
    //  - git ls-remote: a whole small client operation (includes gitoku's 401 challenge round trip);
    //  - GET info/refs: one small request (auth + database + spawn);
    //  - POST fetch: the server side of a clone alone (pack generation and streaming, no client index-pack);
    //  - POST receive-pack: the server side of the push alone (the body git push would send, replayed into an
    //    empty repository: index-pack, ref updates, and for gitoku the hook and the ref-change ingress).
    log(opts, 'diagnostics');
    const smallRepeat = Math.max(10, repeat * 2);
    const basic = `Basic ${Buffer.from(`${user.username}:${user.token}`).toString('base64')}`;
    const gitokuBase = (name: string) => `${server.url}/bench/${name}.git`;
    const backendBase = (name: string) => `${backend.url}/bench/${name}.git`;
    const v2 = { 'Git-Protocol': 'version=2' };
    const fetchBody = fetchAllRequest(sourceRefs);
    const uploadHeaders = { ...v2, 'Content-Type': 'application/x-git-upload-pack-request', Accept: 'application/x-git-upload-pack-result' };
    const pushBody = await pushAllRequest(repo.path, sourceRefs);
    const receiveHeaders = { 'Content-Type': 'application/x-git-receive-pack-request', Accept: 'application/x-git-receive-pack-result' };
    const bodyBytes = new Map<string, number>();
    const pairs: { what: string; repeat: number; gitoku: Subject; backend: Subject }[] = [
      {
        what: 'git ls-remote',
        repeat: smallRepeat,
        gitoku: { name: '', run: () => run('git', ['ls-remote', gitokuUrl('source')], { env }) },
        backend: { name: '', run: () => run('git', ['ls-remote', backendBase('source')], { env }) },
      },
      {
        what: 'GET info/refs (v2)',
        repeat: smallRepeat,
        gitoku: { name: '', run: () => request(`${gitokuBase('source')}/info/refs?service=git-upload-pack`, { headers: { ...v2, Authorization: basic } }) },
        backend: { name: '', run: () => request(`${backendBase('source')}/info/refs?service=git-upload-pack`, { headers: v2 }) },
      },
      {
        what: 'POST upload-pack fetch (all)',
        repeat,
        gitoku: {
          name: '',
          run: async () => bodyBytes.set('fetch gitoku', await request(`${gitokuBase('source')}/git-upload-pack`, { method: 'POST', headers: { ...uploadHeaders, Authorization: basic }, body: fetchBody })),
        },
        backend: { name: '', run: async () => bodyBytes.set('fetch backend', await request(`${backendBase('source')}/git-upload-pack`, { method: 'POST', headers: uploadHeaders, body: fetchBody })) },
      },
      (() => {
        let gName = '';
        let gDir = '';
        let bName = '';
        return {
          what: 'POST receive-pack (replayed push)',
          repeat,
          gitoku: {
            name: '',
            before: async () => {
              gName = `replay-${++seq}`;
              gDir = repositoryGitDir(server.app, await createRepository(server.app, owner, { name: gName, isPrivate: true }));
            },
            run: () => request(`${gitokuBase(gName)}/git-receive-pack`, { method: 'POST', headers: { ...receiveHeaders, Authorization: basic }, body: pushBody }),
            after: async () => {
              if (!sameRefs(await refsOf(gDir), sourceRefs)) throw new Error('replayed push into gitoku did not create every ref');
              await rm(gDir, { recursive: true, force: true });
            },
          },
          backend: {
            name: '',
            before: async () => {
              bName = `replay-${++seq}`;
              await initBareRepository(join(refRoot, 'bench', `${bName}.git`), 'main');
            },
            run: () => request(`${backendBase(bName)}/git-receive-pack`, { method: 'POST', headers: receiveHeaders, body: pushBody }),
            after: async () => {
              const dir = join(refRoot, 'bench', `${bName}.git`);
              if (!sameRefs(await refsOf(dir), sourceRefs)) throw new Error('replayed push into http-backend did not create every ref');
              await rm(dir, { recursive: true, force: true });
            },
          },
        };
      })(),
    ];
    const diagRows: string[][] = [];
    for (const p of pairs) {
      const g = `gitoku: ${p.what}`;
      const b = `http-backend: ${p.what}`;
      const r = await compare([{ ...p.gitoku, name: g }, { ...p.backend, name: b }], { repeat: p.repeat, warmup: 1 });
      const [gs, bs] = [r.get(g)!, r.get(b)!];
      diagRows.push([...statsRows(r, [g])[0]!, '', formatMs(gs.cpuMedian), '']);
      diagRows.push([...statsRows(r, [b])[0]!, formatRatio(gs.median / bs.median), formatMs(bs.cpuMedian), formatRatio(gs.cpuMedian / bs.cpuMedian)]);
    }
    // The ref-change ingress alone, in-process, for as many refs as the push creates.
    const ingress = await compare(
      [
        {
          name: `gitoku: ref-change ingress (${sourceRefs.length} refs, in-process)`,
          run: () => handleRepositoryRefChanges(server.app, source, sourceRefs.map((r) => ({ ref: r.name, before: r.sha, after: r.sha })), { kind: 'push', actorId: owner.id }),
        },
      ],
      { repeat: smallRepeat, warmup: 2 },
    );
    diagRows.push(...statsRows(ingress).map((row) => [...row, '', '', '']));
    printTable('diagnostics (ratios = gitoku / http-backend, of medians)', [...STATS_HEADER, 'ratio', 'cpu median', 'ratio cpu'], diagRows);
    console.log(`  fetch response: gitoku ${formatBytes(bodyBytes.get('fetch gitoku') ?? 0)}, http-backend ${formatBytes(bodyBytes.get('fetch backend') ?? 0)}; replayed push body ${formatBytes(pushBody.length)}`);

    const median = (m: Map<string, Stats>, k: string) => m.get(k)!.median;
    log(opts, `clone benchmark body took ${formatMs(performance.now() - t0)}`);
    return {
      checks: [
        check('clone: gitoku / http-backend', median(clones, GITOKU), median(clones, BACKEND), TARGET),
        check('push:  gitoku / http-backend', median(pushes, GITOKU), median(pushes, BACKEND), TARGET),
      ],
      notes: [
        `file:// reference: clone ${formatMs(median(clones, FILE))} (gitoku ${formatRatio(median(clones, GITOKU) / median(clones, FILE))}), ` +
          `push ${formatMs(median(pushes, FILE))} (gitoku ${formatRatio(median(pushes, GITOKU) / median(pushes, FILE))})`,
      ],
    };
  },
};

