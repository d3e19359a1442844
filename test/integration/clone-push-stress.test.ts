/**
 * Issue 12: git smart HTTP under concurrent load. A 6,000-commit repository (written by one
 * `git fast-import` stream, test/helpers/longHistory.ts) is pushed to a real test server; then 50
 * clones and 10 pushes to distinct branches run all at once. No git command may fail, every pushed
 * branch must be there with its sha (and its ref.updated event), every clone complete, and the
 * server's repository must pass `git fsck --full`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { testDialects } from '../helpers/databases.ts';
import { authUrl, gitCli, gitOk, lsRemote, tempDir } from '../helpers/git.ts';
import { importLongHistory } from '../helpers/longHistory.ts';
import { api, createTestUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';
import { refMap, refUpdatedEvents, gitWithInput } from './support.ts';
import { findRepositoryById } from '../../src/services/repositories.ts';
import { repositoryGitDir } from '../../src/services/storage.ts';

const CLONES = 50;
const PUSHES = 10;
const COMMITS = 6000;

let fixture: { path: string };
let scratch: { path: string; remove(): Promise<void> };

beforeAll(async () => {
  scratch = await tempDir('gitoku-stress-');
  fixture = { path: join(scratch.path, 'fixture.git') };
  await importLongHistory(fixture.path, COMMITS);
});

afterAll(async () => {
  await scratch?.remove();
});

describe.each(testDialects())('clone and push stress on %s', (dialect) => {
  let server: TestServer;
  let owner: TestUser;
  let remote: string;
  let expected: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createTestUser(server);
    const created = await api(server, 'POST', '/user/repos', { token: owner.token, body: { name: 'big' } });
    expect(created.status, created.text).toBe(201);
    remote = authUrl(server.url, `${owner.username}/big.git`, owner.username, owner.token);
    // The whole history arrives through the server's receive-pack, like any first push.
    await gitOk(fixture.path, ['push', '-q', remote, 'refs/heads/*:refs/heads/*', 'refs/tags/*:refs/tags/*']);
    expected = refMap(await lsRemote(fixture.path, fixture.path));
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  });

  it(`${CLONES} parallel clones and ${PUSHES} parallel pushes to distinct branches of a ${COMMITS}-commit repository`, async () => {
    const root = join(scratch.path, dialect);
    const mainSha = expected['refs/heads/main']!;
    const mainCount = Number((await gitOk(fixture.path, ['rev-list', '--count', mainSha])).trim());
    expect(mainCount).toBeGreaterThanOrEqual(COMMITS);

    // The pushed commits: one new file each, on main at different depths (so the server checks
    // connectivity against old and new history alike). Written into a local copy of the fixture.
    const local = join(root, 'local.git');
    await mkdir(root, { recursive: true });
    await gitOk(root, ['clone', '-q', '--bare', '--no-local', fixture.path, local]);
    const pushes: { branch: string; sha: string }[] = [];
    for (let i = 0; i < PUSHES; i++) {
      const base = (await gitOk(local, ['rev-parse', `main~${i * 500}`])).trim();
      const blob = (await gitWithInput(local, ['hash-object', '-w', '--stdin'], `stress push ${i}\n`)).trim();
      const listing = (await gitOk(local, ['ls-tree', base])).trimEnd();
      const tree = (await gitWithInput(local, ['mktree'], `${listing}\n100644 blob ${blob}\tstress-${i}.txt\n`)).trim();
      const sha = (await gitOk(local, ['commit-tree', tree, '-p', base, '-m', `Stress push ${i}`])).trim();
      pushes.push({ branch: `stress/${dialect}-${i}`, sha });
    }

    const t0 = performance.now();
    const errors: string[] = [];
    const clones = Array.from({ length: CLONES }, async (_, i) => {
      const dir = join(root, `clone-${i}.git`);
      const r = await gitCli(root, ['clone', '-q', '--bare', remote, dir]);
      if (r.code !== 0) errors.push(`clone ${i}: ${r.stderr.trim()}`);
      return dir;
    });
    const pushed = pushes.map(async (p) => {
      const r = await gitCli(local, ['push', '-q', remote, `${p.sha}:refs/heads/${p.branch}`]);
      if (r.code !== 0) errors.push(`push ${p.branch}: ${r.stderr.trim()}`);
    });
    const [dirs] = await Promise.all([Promise.all(clones), Promise.all(pushed)]);
    const wallMs = performance.now() - t0;
    expect(errors, errors.join('\n')).toEqual([]);

    // Every clone is complete: every ref of the fixture at its sha, the whole history present.
    for (const dir of dirs) {
      const refs = refMap(await lsRemote(dir, dir));
      for (const [ref, sha] of Object.entries(expected)) expect(refs[ref], `${dir} ${ref}`).toBe(sha);
      expect(Number((await gitOk(dir, ['rev-list', '--count', 'main'])).trim())).toBe(mainCount);
    }
    // Spot-check that the objects of clones are intact (a full fsck of all 50 would dominate the run).
    for (const dir of [dirs[0]!, dirs[CLONES - 1]!]) {
      const fsck = await gitCli(dir, ['fsck', '--full', '--no-dangling']);
      expect(fsck.code, fsck.stderr).toBe(0);
    }

    // Every pushed branch is there with the right sha, recorded once through the ingress.
    const after = refMap(await lsRemote(root, remote));
    for (const p of pushes) expect(after[`refs/heads/${p.branch}`], p.branch).toBe(p.sha);
    for (const [ref, sha] of Object.entries(expected)) expect(after[ref], ref).toBe(sha);
    const repoId = (await server.app.db.selectFrom('repositories').select('id').where('name', '=', 'big').executeTakeFirstOrThrow()).id;
    const events = await refUpdatedEvents(server, repoId);
    for (const p of pushes) expect(events.filter((e) => e.ref === `refs/heads/${p.branch}` && e.after === p.sha), p.branch).toHaveLength(1);

    const gitDir = repositoryGitDir(server.app, (await findRepositoryById(server.app.db, repoId))!);
    const fsck = await gitCli(gitDir, ['fsck', '--full', '--no-dangling']);
    expect(fsck.code, fsck.stderr).toBe(0);
    expect(fsck.stdout + fsck.stderr).not.toMatch(/error|missing|broken|corrupt/i);
    console.log(`clone/push stress on ${dialect}: ${CLONES} clones + ${PUSHES} pushes of ${mainCount} commits in ${(wallMs / 1000).toFixed(1)} s`);
  }, 120_000);
});
