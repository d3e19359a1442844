/**
 * Archives and release assets (issue 18): a source archive downloaded over HTTP against `git archive`
 * writing the same archive locally (the reference, same run); a release asset uploaded through the API
 * with `curl -T` against `cp` of the same file, and the server's memory growth while it streams (it
 * must not hold the upload: target ≤ 25% of the file's size).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Benchmark, type BenchCheck, check, compare, formatMs, log, printTable, run, tempDir } from './lib.ts';
import { api, createTestUser, startTestServer } from '../test/helpers/server.ts';
import { authUrl, gitOk, initWorkRepo } from '../test/helpers/git.ts';

const FILES = 3000;
const UPLOAD_MB = 128;

export const releases: Benchmark = {
  name: 'releases',
  description: `zip archive of a ${FILES}-file repository over HTTP vs git archive; a ${UPLOAD_MB} MB asset upload vs cp, and the server's memory while it streams`,
  async run(opts, cleanup) {
    const repeat = opts.repeat ?? 5;
    const work = await tempDir(cleanup, 'gitoku-bench-releases-');
    const files: Record<string, string> = {};
    for (let i = 0; i < FILES; i++) files[`src/dir${i % 50}/file${i}.ts`] = `export const value${i} = ${i};\n${'// filler line of text\n'.repeat(80)}`;
    await mkdir(join(work.path, 'repo'));
    await initWorkRepo(join(work.path, 'repo'), files);
    const server = await startTestServer('sqlite', { GITOKU_RELEASE_ASSET_MAX_BYTES: String(4 * 1024 * 1024 * 1024) }, { dispatcher: false });
    cleanup.add('server', () => server.close());
    const owner = await createTestUser(server);
    await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'many' } });
    await gitOk(join(work.path, 'repo'), ['push', '-q', authUrl(server.url, `${owner.username}/many.git`, owner.username, owner.token), 'main']);
    const gitDir = join(server.dataDir, 'repos', owner.username.toLowerCase(), 'many.git');
    const sink = join(work.path, 'out.zip');

    log(opts, `releases: zip archive of ${FILES} files, ${repeat} rounds`);
    const archive = await compare(
      [
        { name: 'gitoku', run: () => run('curl', ['-sSf', '-o', sink, `${server.url}/${owner.username}/many/archive/main.zip`]) },
        { name: 'git archive', run: () => run('git', ['--git-dir', gitDir, 'archive', '--format=zip', '--prefix=many-main/', '-o', sink, 'main']) },
      ],
      { repeat },
    );
    const a = archive.get('gitoku')!;
    const ref = archive.get('git archive')!;

    log(opts, `releases: ${UPLOAD_MB} MB upload`);
    const big = join(work.path, 'asset.bin');
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(big);
      const chunk = Buffer.alloc(1024 * 1024, 7);
      let i = 0;
      const next = () => {
        while (i < UPLOAD_MB) {
          i++;
          if (!out.write(chunk)) return void out.once('drain', next);
        }
        out.end(resolve);
      };
      out.on('error', reject);
      next();
    });
    const rounds = Math.max(2, Math.min(repeat, 3));
    const uploadMs: number[] = [];
    const cpMs: number[] = [];
    let peakGrowth = 0;
    for (let r = 0; r < rounds; r++) {
      const release = await api(server, 'POST', `/repos/${owner.username}/many/releases`, { token: owner.token, body: { tag_name: `bench-${r}` } });
      global.gc?.();
      const baseline = process.memoryUsage().rss;
      let peak = baseline;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
      const t0 = performance.now();
      await run('curl', ['-sSf', '-o', '/dev/null', '-H', `Authorization: Bearer ${owner.token}`, '-H', 'Content-Type: application/octet-stream', '-X', 'POST', '-T', big, `${server.url}/api/v1/repos/${owner.username}/many/releases/${release.json.id}/assets?name=asset.bin`]);
      uploadMs.push(performance.now() - t0);
      clearInterval(sampler);
      peakGrowth = Math.max(peakGrowth, peak - baseline);
      const t1 = performance.now();
      await run('cp', [big, join(work.path, `copy-${r}.bin`)]);
      cpMs.push(performance.now() - t1);
      await writeFile(join(work.path, `copy-${r}.bin`), '');
    }
    const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
    const upload = med(uploadMs);
    const cp = med(cpMs);
    const growthMb = peakGrowth / (1024 * 1024);

    printTable('archives and release assets', ['operation', 'gitoku', 'reference', 'reference is'], [
      [`zip of ${FILES} files`, formatMs(a.median), formatMs(ref.median), 'git archive -o file'],
      [`${UPLOAD_MB} MB asset upload`, formatMs(upload), formatMs(cp), 'cp'],
      ['server memory growth during the upload', `${growthMb.toFixed(1)} MB`, `${UPLOAD_MB} MB`, 'the file size'],
    ]);
    const checks: BenchCheck[] = [
      check(`zip archive over HTTP / git archive (${FILES} files)`, a.median, ref.median, 1.5),
      check(`${UPLOAD_MB} MB asset upload / cp`, upload, cp, 10),
      check('server memory growth during the upload / file size', growthMb, UPLOAD_MB, 0.25, 'MB'),
    ];
    return { checks, notes: ['the upload is streamed: memory growth stays far below the file size'] };
  },
};
