import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { symlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { commitFiles, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { testDialects } from '../helpers/databases.ts';
import { createPushedRepo, type PushedRepo } from '../helpers/scriptedRuns.ts';
import { retrieveMemory } from '../../src/services/memoryRetrieval.ts';
import { blobIdsAt, checkCitations, checkCitationsBatch } from '../../src/services/memoryValidation.ts';
import { repositoryGitDir } from '../../src/services/storage.ts';
import { cacheStats } from '../../src/git/cacheStats.ts';
import { hashLines } from '../../src/domain/memory.ts';
import type { StoredCitation } from '../../src/services/memory.ts';

/**
 * Just-in-time validation keyed by immutable ids (issue 14): (commit, path) → blob id, then the verdict
 * per (blob id, lines, hash). A commit that changes none of the cited files reads no blob; changed
 * lines make a citation fail at the new commit and it still holds at the old one; moved lines are found.
 */

const LIB = ['function parse(text) {', '  return text.split(",");', '}', '', 'module.exports = { parse };'];
const file = (lines: string[]) => lines.join('\n') + '\n';
const cite = (path: string, lines: string[], start: number, end: number): StoredCitation & { text: string } => {
  const text = lines.slice(start - 1, end).join('\n');
  return { path, start_line: start, end_line: end, commit: '0'.repeat(40), content_hash: hashLines(text), text };
};
const stats = (name: string) => {
  const s = cacheStats()[name];
  if (!s) throw new Error(`no cache ${name}`);
  return { hits: s.hits, misses: s.misses };
};

describe('citation checks by blob id', () => {
  let work: { path: string; remove(): Promise<void> };
  let gitDir: string;
  const commits: Record<string, string> = {};

  beforeAll(async () => {
    work = await tempDir();
    await initWorkRepo(work.path, { 'lib/x.js': file(LIB), 'README.md': '# x\n' });
    gitDir = join(work.path, '.git');
    commits.a = (await gitOk(work.path, ['rev-parse', 'HEAD'])).trim();
    commits.b = await commitFiles(work.path, { 'README.md': '# x\n\nmore\n' }, 'README only');
    commits.c = await commitFiles(work.path, { 'lib/x.js': file(['// header', '// more', ...LIB]) }, 'lines moved down');
    commits.d = await commitFiles(work.path, { 'lib/x.js': file(['// header', '// more', 'function parse(text) {', '  return text.split(";");', '}', '', 'module.exports = { parse };']) }, 'cited line changed');
    await rm(join(work.path, 'lib/x.js'));
    await symlink('../README.md', join(work.path, 'lib/x.js'));
    await gitOk(work.path, ['add', '-A']);
    await gitOk(work.path, ['commit', '-qm', 'now a link']);
    commits.e = (await gitOk(work.path, ['rev-parse', 'HEAD'])).trim();
  });

  afterAll(async () => {
    await work?.remove();
  });

  it('holds at the commit it was made, and at a commit that changed other files without reading the blob again', async () => {
    const c = cite('lib/x.js', LIB, 1, 3);
    const atA = await checkCitations(gitDir, commits.a!, [c]);
    expect(atA.valid).toBe(true);
    expect(atA.checked[0]).toMatchObject({ valid: true, at_start_line: 1, at_end_line: 3, moved: false });

    // Same blob at b: the verdict is a cache hit, no blob is read.
    const blobs = stats('memory.blobs');
    const verdicts = stats('memory.verdicts');
    const atB = await checkCitations(gitDir, commits.b!, [c]);
    expect(atB.checked[0]).toMatchObject({ valid: true, at_start_line: 1, moved: false });
    expect(stats('memory.blobs')).toEqual(blobs);
    expect(stats('memory.verdicts').hits).toBe(verdicts.hits + 1);
    expect(stats('memory.verdicts').misses).toBe(verdicts.misses);
    const ids = await blobIdsAt(gitDir, commits.b!, ['lib/x.js']);
    expect(ids.get('lib/x.js')).toBe((await gitOk(work.path, ['rev-parse', `${commits.a}:lib/x.js`])).trim());
  });

  it('finds moved lines, fails changed ones at the new commit and still holds at the old one', async () => {
    const c = cite('lib/x.js', LIB, 1, 3);
    const moved = await checkCitations(gitDir, commits.c!, [c]);
    expect(moved.valid).toBe(true);
    expect(moved.checked[0]).toMatchObject({ valid: true, at_start_line: 3, at_end_line: 5, moved: true });

    const changed = await checkCitations(gitDir, commits.d!, [c]);
    expect(changed.valid).toBe(false);
    expect(changed.checked[0]).toMatchObject({ valid: false, at_start_line: null, at_end_line: null });
    // The verdict belongs to the blob, not to the citation: the old commit still holds, from the cache.
    const verdicts = stats('memory.verdicts');
    expect((await checkCitations(gitDir, commits.a!, [c])).valid).toBe(true);
    expect((await checkCitations(gitDir, commits.c!, [c])).checked[0]).toMatchObject({ at_start_line: 3, moved: true });
    expect(stats('memory.verdicts').hits).toBe(verdicts.hits + 2);

    // Lines that are not at their place and whose text is unknown cannot be found moved.
    const noText = { ...c, text: '' };
    expect((await checkCitations(gitDir, commits.c!, [noText])).valid).toBe(false);
    expect((await checkCitations(gitDir, commits.a!, [noText])).valid).toBe(true);
  });

  it('fails citations of a missing file, a link, a directory, an unsafe path or an unknown commit', async () => {
    const c = cite('lib/x.js', LIB, 1, 3);
    expect((await checkCitations(gitDir, commits.e!, [c])).valid).toBe(false); // a symlink now
    for (const path of ['lib/nope.js', 'lib', '../x.js', '/etc/passwd', 'lib//x.js', '']) {
      expect((await checkCitations(gitDir, commits.a!, [{ ...c, path }])).valid, path).toBe(false);
    }
    expect((await checkCitations(gitDir, 'f'.repeat(40), [c])).valid).toBe(false);
    // Lines past the end of the file.
    expect((await checkCitations(gitDir, commits.a!, [{ ...cite('lib/x.js', LIB, 1, 3), start_line: 9, end_line: 11, text: '' }])).valid).toBe(false);
  });

  it('checks many entries in one pass: each entry holds only when all its citations do; an entry without citations holds', async () => {
    const ok = cite('lib/x.js', LIB, 1, 3);
    const ok2 = cite('lib/x.js', LIB, 5, 5);
    const readme = cite('README.md', ['# x', '', 'more'], 3, 3);
    const results = await checkCitationsBatch(gitDir, commits.d!, [[ok2], [ok, ok2], [], [readme], [readme, { ...ok2, path: 'gone.js' }]]);
    expect(results.map((r) => r.valid)).toEqual([true, false, true, true, false]);
    expect(results[0]!.checked[0]).toMatchObject({ at_start_line: 7, moved: true });
    expect(results[1]!.checked.map((k) => k.valid)).toEqual([false, true]);
    expect(results[2]!.checked).toEqual([]);
  });
});

describe.each(testDialects())('memory retrieval with cached verdicts on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let repo: PushedRepo;

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    repo = await createPushedRepo(server, owner, 'val', { 'lib/x.js': file(LIB), 'README.md': '# val\n' });
  });

  afterAll(async () => {
    await repo?.work.remove();
    await server?.close();
  });

  it('gives an entry at the old commit and at moved lines, leaves it out as stale where its lines changed', async () => {
    const a = (await gitOk(repo.work.path, ['rev-parse', 'HEAD'])).trim();
    const created = await api(server, 'POST', `/repos/${owner.username}/val/memory`, {
      token: owner.token,
      body: { kind: 'failure', subject: 'comma parser', fact: 'splitting the tokenizer input on commas breaks quoted fields', citations: [{ path: 'lib/x.js', start_line: 1, end_line: 3 }] },
    });
    expect(created.status, created.text).toBe(201);
    const id = created.json.id as number;
    const push = async (lines: string[], message: string) => {
      const sha = await commitFiles(repo.work.path, { 'lib/x.js': file(lines) }, message);
      await gitOk(repo.work.path, ['push', '-q', repo.remote, 'main']);
      return sha;
    };
    const moved = await push(['// header', '// more', ...LIB], 'moved');
    const changed = await push(['// header', '// more', 'function parse(text) {', '  return text.split(";");', '}', '', 'module.exports = { parse };'], 'changed');
    const repoRow = await server.app.db.selectFrom('repositories').selectAll().where('lower_name', '=', 'val').executeTakeFirstOrThrow();
    const gitDir = repositoryGitDir(server.app, repoRow);
    const at = new Date().toISOString();
    const retrieve = (commit: string) => retrieveMemory(server.app.db, server.app.dialect, gitDir, { repositoryId: repoRow.id, agentKey: null, task: 'Fix the tokenizer in lib/x.js', commit, paths: ['lib/x.js'] }, 2000, at);

    const atA = await retrieve(a);
    expect(atA.entries.map((e) => e.entry.id)).toEqual([id]);
    expect(atA.entries[0]!.rendered.citations).toEqual([{ path: 'lib/x.js', start_line: 1, end_line: 3 }]);
    expect(atA.section).toContain('lib/x.js:1-3');

    const atMoved = await retrieve(moved);
    expect(atMoved.entries[0]!.rendered.citations).toEqual([{ path: 'lib/x.js', start_line: 3, end_line: 5, moved_from: 1 }]);
    expect(atMoved.section).toContain('lib/x.js:3-5 (moved from line 1)');

    const atChanged = await retrieve(changed);
    expect(atChanged.entries).toEqual([]);
    expect(atChanged.stale).toEqual([id]);
    expect(atChanged.section).toBeNull();

    // Again at the old commit: the verdict of that blob is unchanged (nothing was written by retrieval).
    const again = await retrieve(a);
    expect(again.entries.map((e) => e.entry.id)).toEqual([id]);
    expect(again.timings.validate).toBeGreaterThanOrEqual(0);
  });
});
