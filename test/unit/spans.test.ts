import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { blobHunks, commitLineSpans, mapLineThroughHunks, mapSpansThroughHunks, parseZeroContextDiff, spansFromHunks, unquoteGitPath } from '../../src/git/spans.ts';
import { intersectSpans, mergeSpans, normalizeFileSpans, parseLineRanges, spansContain } from '../../src/domain/spans.ts';
import { blameLineOrigins } from '../../src/git/blameOrigins.ts';
import { gitOk, tempDir } from '../helpers/git.ts';
import { isSafeRepoPath } from '../../src/git/tree.ts';

// Real `git diff --unified=0 -M --src-prefix=a/ --dst-prefix=b/` output (git 2.39): a file that became
// binary, a CRLF file, a deletion, a rename with edits, a name with a space (git appends a TAB to its
// ---/+++ lines), and a new non-ASCII (quoted) name whose added line looks like a +++ header.
const DIFF = [
  'diff --git a/b.dat b/b.dat',
  'index ba077a4..e158ec5 100644',
  'Binary files a/b.dat and b/b.dat differ',
  'diff --git a/crlf.txt b/crlf.txt',
  'index 0aa0f34..ce5d508 100644',
  '--- a/crlf.txt',
  '+++ b/crlf.txt',
  '@@ -2 +2,2 @@ x',
  '-y\r',
  '+Y\r',
  '+z\r',
  'diff --git a/del.txt b/del.txt',
  'deleted file mode 100644',
  'index 1191247..0000000',
  '--- a/del.txt',
  '+++ /dev/null',
  '@@ -1,2 +0,0 @@',
  '-1',
  '-2',
  'diff --git a/f.txt b/g.txt',
  'similarity index 50%',
  'rename from f.txt',
  'rename to g.txt',
  'index de98044..a7bc997 100644',
  '--- a/f.txt',
  '+++ b/g.txt',
  '@@ -2 +2 @@ a',
  '-b',
  '+B',
  '@@ -3,0 +4 @@ c',
  '+d',
  'diff --git a/sp ace.txt b/sp ace.txt',
  'index bca70f3..8a08eba 100644',
  '--- a/sp ace.txt\t',
  '+++ b/sp ace.txt\t',
  '@@ -1,0 +2 @@ q',
  '+r',
  'diff --git "a/\\303\\274.txt" "b/\\303\\274.txt"',
  'new file mode 100644',
  'index 0000000..452b667',
  '--- /dev/null',
  '+++ "b/\\303\\274.txt"',
  '@@ -0,0 +1,2 @@',
  '++++ b/evil',
  '+diff --git a/x b/x',
  '',
].join('\n');

describe('zero-context diff parser', () => {
  it('reads files, renames, binary files, deletions, CRLF and quoted names', () => {
    const files = parseZeroContextDiff(DIFF);
    expect(files.map((f) => [f.oldPath, f.path, f.binary])).toEqual([
      ['b.dat', 'b.dat', true],
      ['crlf.txt', 'crlf.txt', false],
      ['del.txt', null, false],
      ['f.txt', 'g.txt', false],
      ['sp ace.txt', 'sp ace.txt', false],
      [null, 'ü.txt', false],
    ]);
    expect(files[1]!.hunks).toEqual([{ oldStart: 2, oldCount: 1, newStart: 2, newCount: 2 }]);
    expect(spansFromHunks(files[3]!.hunks)).toEqual([[2, 2], [4, 4]]);
    // The added lines "+++ b/evil" and "diff --git …" are content, not headers.
    expect(files).toHaveLength(6);
    expect(spansFromHunks(files[5]!.hunks)).toEqual([[1, 2]]);
  });

  it('unquotes C-style paths', () => {
    expect(unquoteGitPath('"a\\tb\\"c\\\\d"')).toBe('a\tb"c\\d');
    expect(unquoteGitPath('"\\303\\274ber"')).toBe('über');
    expect(unquoteGitPath('plain name')).toBe('plain name');
  });

  it('maps lines through hunks: moved lines move, rewritten ones vanish', () => {
    // old 1..10 → insert 2 lines after 3, rewrite 6..7 into one line, delete 9
    const hunks = [
      { oldStart: 3, oldCount: 0, newStart: 4, newCount: 2 },
      { oldStart: 6, oldCount: 2, newStart: 8, newCount: 1 },
      { oldStart: 9, oldCount: 1, newStart: 10, newCount: 0 },
    ];
    expect([1, 3, 4, 5, 6, 7, 8, 9, 10].map((l) => mapLineThroughHunks(hunks, l))).toEqual([1, 3, 6, 7, null, null, 9, null, 10]);
    expect(mapSpansThroughHunks(hunks, [[1, 10]])).toEqual([[1, 3], [6, 7], [9, 10]]);
  });
});

describe('span helpers', () => {
  it('merge, contain, intersect and parse ranges', () => {
    expect(mergeSpans([[5, 6], [1, 2], [3, 3], [4, 4], [10, 12], [11, 11]])).toEqual([[1, 6], [10, 12]]);
    const s = mergeSpans([[1, 4], [9, 10], [12, 12]]);
    expect([0, 1, 4, 5, 9, 11, 12, 13].map((l) => spansContain(s, l))).toEqual([false, true, true, false, true, false, true, false]);
    expect(intersectSpans([[1, 10]], [[3, 4], [8, 20]])).toEqual([[3, 4], [8, 10]]);
    expect(parseLineRanges('1-4,9-10,12,14')).toEqual([[1, 4], [9, 10], [12, 12], [14, 14]]);
    expect(parseLineRanges('4-1')).toBeNull();
    expect(parseLineRanges('1, 2')).toEqual([[1, 2]]);
    expect(parseLineRanges('x')).toBeNull();
    expect(normalizeFileSpans({ 'a.ts': [[3, 4], [1, 1], ['x', 2]], '../etc/passwd': [[1, 1]], 'b.ts': 'nope' }, isSafeRepoPath)).toEqual({ 'a.ts': [[1, 1], [3, 4]] });
  });
});

describe('spans from real commits', () => {
  let dir: { path: string; remove(): Promise<void> };
  const sh = (args: string[]) => gitOk(dir.path, args);
  const write = (name: string, content: string | Buffer) => writeFile(join(dir.path, name), content);
  const commit = async (message: string) => {
    await sh(['add', '-A']);
    await sh(['commit', '-q', '-m', message]);
    return (await sh(['rev-parse', 'HEAD'])).trim();
  };

  beforeAll(async () => {
    dir = await tempDir();
    await sh(['init', '-q', '--initial-branch=main']);
  });
  afterAll(async () => dir?.remove());

  it('follows renames, skips binary and deleted files, handles CRLF', async () => {
    await write('a.txt', 'one\ntwo\nthree\nfour\nfive\nsix\n');
    await write('crlf.txt', 'x\r\ny\r\n');
    await write('bin.dat', 'text\n');
    await write('gone.txt', 'bye\n');
    const root = await commit('root');
    expect((await commitLineSpans(dir.path + '/.git', root, null)).spans).toEqual({ 'a.txt': [[1, 6]], 'bin.dat': [[1, 1]], 'crlf.txt': [[1, 2]], 'gone.txt': [[1, 1]] });
    await sh(['mv', 'a.txt', 'b.txt']);
    await write('b.txt', 'one\ntwo\nTHREE\nfour\nfive\nsix\nseven\n');
    await write('crlf.txt', 'x\r\nY\r\nz\r\n');
    await write('bin.dat', Buffer.from([0, 1, 2, 3]));
    await sh(['rm', '-q', 'gone.txt']);
    const second = await commit('second');
    const result = await commitLineSpans(dir.path + '/.git', second, root);
    expect(result.spans).toEqual({ 'b.txt': [[3, 3], [7, 7]], 'crlf.txt': [[2, 3]] });
    expect(result.files.sort()).toEqual(['b.txt', 'bin.dat', 'crlf.txt', 'gone.txt']);
    // Blame follows the rename: line 1 comes from a.txt in the root commit.
    const blame = (await blameLineOrigins(dir.path + '/.git', second, 'b.txt'))!;
    expect(blame.lines.map((l) => [l.line, l.sha === root ? 'root' : 'second', l.originalLine, l.path])).toEqual([
      [1, 'root', 1, 'a.txt'],
      [2, 'root', 2, 'a.txt'],
      [3, 'second', 3, 'b.txt'],
      [4, 'root', 4, 'a.txt'],
      [5, 'root', 5, 'a.txt'],
      [6, 'root', 6, 'a.txt'],
      [7, 'second', 7, 'b.txt'],
    ]);
    const ranged = (await blameLineOrigins(dir.path + '/.git', second, 'b.txt', [[3, 4]]))!;
    expect(ranged.lines.map((l) => l.line)).toEqual([3, 4]);
    // Hunks between two blobs map line numbers.
    const [from, to] = [(await sh(['rev-parse', `${root}:a.txt`])).trim(), (await sh(['rev-parse', `${second}:b.txt`])).trim()];
    expect(mapSpansThroughHunks(await blobHunks(dir.path + '/.git', from, to), [[1, 6]])).toEqual([[1, 2], [4, 6]]);
  });
});
