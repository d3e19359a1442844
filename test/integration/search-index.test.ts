import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { commitFiles, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { createPushedRepo, waitFor, type PushedRepo } from '../helpers/scriptedRuns.ts';
import { codeSearchStats } from '../../src/services/searchCode.ts';
import { buildSearchIndex, dropSearchIndexesFromMemory, SEARCH_INDEX_JOB_KIND, searchIndexDirectory, searchIndexStats, treeOf } from '../../src/services/searchIndex.ts';
import { loadTreeText, searchTreeText, type TreeText } from '../../src/git/grepIndex.ts';
import { grepTree, type GrepOptions } from '../../src/git/grep.ts';
import { readTreeTextFile, trimIndexDirectory, writeTreeTextFile } from '../../src/git/grepIndexFile.ts';

describe.each(testDialects())('code search indexes on %s', (dialect) => {
  let server: TestServer;
  let alice: TestUser;
  let shop: PushedRepo;
  const temps: { remove(): Promise<void> }[] = [];
  // Distinct content per dialect: indexes are per tree, and both dialects run in this process.
  const word = (w: string) => `${w}${dialect}`;

  beforeAll(async () => {
    server = await startTestServer(dialect);
    alice = await createTestUser(server);
    shop = await createPushedRepo(server, alice, 'shop', { 'src/app.ts': `export const ${word('alphaword')} = 1;\n`, 'README.md': '# shop\n' });
  }, 60_000);

  afterAll(async () => {
    await shop?.work.remove();
    for (const t of temps) await t.remove();
    await server?.close();
  });

  const search = async (q: string) => {
    const res = await api(server, 'GET', `/search/code?q=${encodeURIComponent(`${q} repo:${alice.username}/shop`)}`, { token: alice.token });
    expect(res.status).toBe(200);
    return res.json as { total_count: number; items: { path: string; lines: { line_number: number; text: string; match: boolean }[] }[] };
  };
  const repoId = async () => (await server.app.db.selectFrom('repositories').select('id').where('name', '=', 'shop').executeTakeFirstOrThrow()).id;
  /** The post-push job that indexed `commit` (its result names the commit). */
  const indexJobFor = (commit: string) =>
    waitFor(async () => {
      const jobs = await server.app.db.selectFrom('jobs').selectAll().where('kind', '=', SEARCH_INDEX_JOB_KIND).where('repository_id', '=', await repoId()).where('status', '=', 'succeeded').execute();
      return jobs.find((j) => j.result !== null && (JSON.parse(j.result) as { commit?: string }).commit === commit);
    }, 30_000);
  const head = async () => (await gitOk(shop.work.path, ['rev-parse', 'HEAD'])).trim();

  it('builds the index after a push to the default branch, as a job; the next search (any process) is answered from it', async () => {
    const commit = await head();
    const job = await indexJobFor(commit);
    const result = JSON.parse(job.result!) as { indexed: boolean; files: number; tree: string };
    expect(result).toMatchObject({ indexed: true, files: 2 });
    // On disk, named by the tree, where every server process finds it.
    const gitDir = join(server.dataDir, 'repos', alice.username, 'shop.git');
    const tree = await treeOf(gitDir, commit);
    expect(result.tree).toBe(tree);
    expect(existsSync(join(searchIndexDirectory(server.app), `${tree}.idx`))).toBe(true);
    // As a freshly started process: nothing in memory; the first search loads the file, no git grep.
    dropSearchIndexesFromMemory();
    const before = { ...codeSearchStats };
    const loads = searchIndexStats.diskLoads;
    const builds = searchIndexStats.builds;
    const found = await search(word('alphaword'));
    expect(found.items.map((i) => i.path)).toEqual(['src/app.ts']);
    expect(found.items[0]!.lines).toEqual([{ line_number: 1, text: `export const ${word('alphaword')} = 1;`, match: true }]);
    expect(codeSearchStats.grep).toBe(before.grep);
    expect(codeSearchStats.index).toBe(before.index + 1);
    expect(searchIndexStats.diskLoads).toBe(loads + 1);
    expect(searchIndexStats.builds).toBe(builds);
    // A push to another branch schedules nothing.
    await gitOk(shop.work.path, ['checkout', '-q', '-b', 'side']);
    await commitFiles(shop.work.path, { 'side.txt': 'side\n' }, 'side');
    await gitOk(shop.work.path, ['push', '-q', shop.remote, 'side']);
    await gitOk(shop.work.path, ['checkout', '-q', 'main']);
    await new Promise((r) => setTimeout(r, 1500));
    const jobs = await server.app.db.selectFrom('jobs').select(['id', 'result']).where('kind', '=', SEARCH_INDEX_JOB_KIND).where('repository_id', '=', await repoId()).execute();
    expect(jobs).toHaveLength(1);
  });

  it('makes pushed content searchable at once: the previous commit’s index never answers for the new one', async () => {
    const first = await head();
    await indexJobFor(first);
    expect((await search(word('alphaword'))).total_count).toBe(1);
    // Replace the word and push; search right away, before the post-push job could have run.
    await commitFiles(shop.work.path, { 'src/app.ts': `export const ${word('betaword')} = 2;\n`, 'docs/new.md': `${word('betaword')} in the docs\n` }, 'rename');
    await gitOk(shop.work.path, ['push', '-q', shop.remote, 'main']);
    const fresh = await search(word('betaword'));
    expect(fresh.items.map((i) => i.path).sort()).toEqual(['docs/new.md', 'src/app.ts']);
    expect((await search(word('alphaword'))).total_count).toBe(0);
    // Then the job indexes the new commit, and the index gives the same answers.
    const second = await head();
    await indexJobFor(second);
    dropSearchIndexesFromMemory();
    const grepBefore = codeSearchStats.grep;
    const again = await search(`"${word('betaword')} in"`);
    expect(again.items.map((i) => i.path)).toEqual(['docs/new.md']);
    expect((await search(word('alphaword'))).total_count).toBe(0);
    expect(codeSearchStats.grep).toBe(grepBefore);
  });

  it('gives exactly git grep’s answers from an index (case, binary files, context, line caps, paths)', async () => {
    const work = await tempDir();
    temps.push(work);
    const many = Array.from({ length: 12 }, (_, i) => (i % 2 ? `Needle ${i}` : `hay ${i}`)).join('\n');
    await initWorkRepo(work.path, {
      'a.txt': 'needle at the start\nsecond\nthird needle NEEDLE\nfourth\nfifth\nsixth\nseventh needle',
      'b/long.txt': many + '\n',
      'b/crlf.txt': 'one\r\ntwo needle\r\nthree\r\n',
      'c/unicode.md': 'Ünïcödé nëedle\nplain needle here\n',
      'c/empty.txt': '',
      'd/deep/x.ts': 'const x = "--needle--";\nregex.*needle[0-9]+\n',
      'e/cjk.md': '漢字 needle 漢字\n二行目 NEEDLE\n',
    });
    await writeFile(join(work.path, 'bin.dat'), Buffer.concat([Buffer.from('needle'), Buffer.from([0, 1, 2]), Buffer.from('needle')]));
    await gitOk(work.path, ['add', '-A']);
    await gitOk(work.path, ['commit', '-q', '-m', 'more']);
    const gitDir = join(work.path, '.git');
    const commit = (await gitOk(work.path, ['rev-parse', 'HEAD'])).trim();
    const index = (await loadTreeText(gitDir, commit, { maxBytes: 1 << 24, maxFiles: 1000 }))!;
    expect(index).not.toBeNull();
    // The disk form reads back to the same index.
    const dir = join(work.path, 'indexes');
    const tree = (await gitOk(work.path, ['rev-parse', 'HEAD^{tree}'])).trim();
    expect(await writeTreeTextFile(dir, tree, index, 1 << 30)).toBeGreaterThan(0);
    const loaded = (await readTreeTextFile(dir, tree))!;
    expect(loaded.text.equals(index.text)).toBe(true);
    expect(loaded.lower.equals(index.lower)).toBe(true);
    expect(loaded.files).toEqual(index.files);
    expect(index.encoding).toBe('utf16le'); // the CJK file: two bytes a character
    const cases: GrepOptions[] = [
      { pattern: 'needle' },
      { pattern: 'NEEDLE' },
      { pattern: 'needle', maxPerFile: 2, context: 1 },
      { pattern: 'needle', context: 0, maxFiles: 2 },
      { pattern: 'needle', paths: ['b'] },
      { pattern: 'needle', extensions: ['md'] },
      { pattern: 'needle', paths: ['d/**/*.ts'] },
      { pattern: 'regex.*needle[0-9]+' },
      { pattern: '--needle--' },
      { pattern: 'ëedle' },
      { pattern: '漢字 needle' },
      { pattern: '字' },
      { pattern: 'needle 漢字' },
      { pattern: 'seventh needle' },
      { pattern: 'absent words' },
    ];
    const compare = async (at: string, indexes: TreeText[]) => {
      for (const opts of cases) {
        const o = { ignoreCase: true, context: 2, maxPerFile: 5, maxFiles: 100, ...opts };
        const byGit = await grepTree(gitDir, at, o);
        for (const idx of indexes) {
          const fromIndex = searchTreeText(idx, o);
          expect(fromIndex.files, `${idx.encoding} ${JSON.stringify(opts)}`).toEqual(byGit.files);
          expect(fromIndex.truncated, JSON.stringify(opts)).toBe(byGit.truncated);
        }
      }
    };
    await compare(commit, [index, loaded]);
    // Without the CJK file every character fits a byte: the one-byte form gives the same answers.
    await gitOk(work.path, ['rm', '-q', 'e/cjk.md']);
    await gitOk(work.path, ['commit', '-q', '-m', 'no cjk']);
    const latin = (await gitOk(work.path, ['rev-parse', 'HEAD'])).trim();
    const latinIndex = (await loadTreeText(gitDir, latin, { maxBytes: 1 << 24, maxFiles: 1000 }))!;
    expect(latinIndex.encoding).toBe('latin1');
    await compare(latin, [latinIndex]);
  });

  it('keeps index files safe on disk: no symlinks followed, bounded size, one build per tree at a time', async () => {
    const work = await tempDir();
    temps.push(work);
    await initWorkRepo(work.path, { 'x.txt': `${word('gamma')}\n` });
    const gitDir = join(work.path, '.git');
    const commit = (await gitOk(work.path, ['rev-parse', 'HEAD'])).trim();
    const tree = (await gitOk(work.path, ['rev-parse', 'HEAD^{tree}'])).trim();
    const index = (await loadTreeText(gitDir, commit, { maxBytes: 1 << 24, maxFiles: 1000 }))!;
    // A directory that is a symlink is not written through.
    const elsewhere = join(work.path, 'elsewhere');
    await mkdir(elsewhere);
    await symlink(elsewhere, join(work.path, 'linked'));
    expect(await writeTreeTextFile(join(work.path, 'linked'), tree, index, 1 << 30)).toBeNull();
    expect(await readdir(elsewhere)).toEqual([]);
    // An index file planted as a symlink is not read.
    const dir = join(work.path, 'idx');
    await mkdir(dir);
    await writeTreeTextFile(join(work.path, 'real'), tree, index, 1 << 30);
    await symlink(join(work.path, 'real', `${tree}.idx`), join(dir, `${tree}.idx`));
    expect(await readTreeTextFile(dir, tree)).toBeNull();
    expect(await readTreeTextFile(join(work.path, 'real'), tree)).not.toBeNull();
    // A truncated or foreign file is no index.
    await writeFile(join(dir, `${'0'.repeat(40)}.idx`), 'GTKIDX03garbage');
    expect(await readTreeTextFile(dir, '0'.repeat(40))).toBeNull();
    // Bounded: the least recently used files go first.
    const bounded = join(work.path, 'bounded');
    const size = (await writeTreeTextFile(bounded, tree, index, 1 << 30))!;
    const names = ['1', '2', '3'].map((d) => d.repeat(40));
    for (const [i, n] of names.entries()) {
      await writeFile(join(bounded, `${n}.idx`), Buffer.alloc(size));
      await utimes(join(bounded, `${n}.idx`), new Date(Date.now() - (10 - i) * 60_000), new Date(Date.now() - (10 - i) * 60_000));
    }
    const removed = await trimIndexDirectory(bounded, size * 2, `${tree}.idx`);
    expect(removed).toEqual([`${names[0]}.idx`, `${names[1]}.idx`]);
    expect((await readdir(bounded)).sort()).toEqual([`${names[2]}.idx`, `${tree}.idx`].sort());
    // Single flight: concurrent builds of one tree build once.
    const builds = searchIndexStats.builds;
    const [a, b, c] = await Promise.all([buildSearchIndex(server.app, gitDir, commit), buildSearchIndex(server.app, gitDir, commit), buildSearchIndex(server.app, gitDir, commit)]);
    expect(a).not.toBeNull();
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(searchIndexStats.builds).toBe(builds + 1);
  });
});
