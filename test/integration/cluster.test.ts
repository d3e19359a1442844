/**
 * Issue 12 (points 11, 12): the scale-out story under faults. Two real `gitoku serve` processes on one
 * PostgreSQL database and one data directory (one repository store), three remote `gitoku runner`
 * processes; pushes, pull requests and GITOKU_CLUSTER_RUNS (default 100) scripted runs through both
 * servers' APIs; meanwhile one runner is SIGKILLed mid-run and one server SIGKILLed mid-dispatch (while
 * its dispatcher holds leased events) and restarted. At the end every run ended exactly once, each run
 * branch holds one agent commit on its source, each run has one pull request, every event was
 * dispatched once per behavior, every ref move has its ref.updated event, and `git fsck --full` is clean.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.ts';
import { authUrl, commitFiles, gitCli, gitOk, initWorkRepo, tempDir } from '../helpers/git.ts';
import { scriptPrompt, waitFor } from '../helpers/scriptedRuns.ts';
import { crashReports, startRunnerAgainst, startServeProcess, type GitokuProcess, type ServeProcess } from '../helpers/gitokuProcess.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createAppContext, type AppContext } from '../../src/services/app.ts';
import { createUser } from '../../src/services/users.ts';
import { createAccessToken } from '../../src/services/tokens.ts';
import { createRegistrationToken } from '../../src/services/runners.ts';
import { repositoryGitDir } from '../../src/services/storage.ts';
import { findRepositoryById } from '../../src/services/repositories.ts';
import type { RunStatus } from '../../src/db/schema.ts';

const DATABASE_URL = process.env.GITOKU_TEST_DATABASE_URL;
const RUNS = Number(process.env.GITOKU_CLUSTER_RUNS ?? 100);
const REPOS = 4;
const LEASE_MS = 5000;
/** Job slots per runner process: the scripted runs mostly sleep, so two overlap well on two cores. */
const SLOTS = 2;
const OWNER = 'alice';
const TERMINAL: RunStatus[] = ['succeeded', 'failed', 'cancelled'];

interface Pushed {
  repo: string;
  ref: string;
  sha: string;
  via: string;
}

const elapsed = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

describe.skipIf(!DATABASE_URL)('cluster (PostgreSQL only; skipped without GITOKU_TEST_DATABASE_URL): two gitoku serve processes, three runners, faults', () => {
  let database: TestDatabase;
  let dataDir: string;
  let env: Record<string, string>;
  let app: AppContext;
  let token: string;
  const servers: { A: ServeProcess | null; B: ServeProcess | null } = { A: null, B: null };
  const runners: GitokuProcess[] = [];
  const killed: GitokuProcess[] = [];
  const works: { remove(): Promise<void> }[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    dataDir = await mkdtemp(join(tmpdir(), 'gitoku-cluster-'));
    env = { GITOKU_DATA_DIR: dataDir, GITOKU_DATABASE_URL: database.url!, GITOKU_DEMO: 'false', GITOKU_JOB_LEASE_MS: String(LEASE_MS) };
    // The test's own view of the cluster: the same database and repository store (it migrates first).
    app = await createAppContext(loadConfig(env));
    const user = await createUser(app, { username: OWNER, password: 'correct-horse-battery', isAdmin: true });
    ({ token } = await createAccessToken(app, { userId: user.id, name: 'cluster', scopes: ['repo', 'admin'] }));
  });

  afterAll(async () => {
    for (const r of [...runners, ...killed]) await r.stop();
    for (const s of [servers.A, servers.B]) await s?.stop();
    for (const w of works) await w.remove();
    await app?.close();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it(`${RUNS} scripted runs and pushes through two servers survive a killed runner and a server killed mid-dispatch`, async () => {
    const t0 = performance.now();
    const timings: string[] = [];
    const mark = (what: string) => { timings.push(`${what}: ${elapsed(t0)}`); if (process.env.GITOKU_CLUSTER_VERBOSE) console.log(`[cluster] ${what}: ${elapsed(t0)}`); };

    servers.A = await startServeProcess(env);
    servers.B = await startServeProcess(env);
    const portA = servers.A.port;
    const registration = await createRegistrationToken(app, null);
    runners.push(await startRunnerAgainst(servers.A.url, registration, 'r1-on-A', { concurrency: SLOTS }));
    runners.push(await startRunnerAgainst(servers.B.url, registration, 'r2-on-B', { concurrency: SLOTS }));
    runners.push(await startRunnerAgainst(servers.B.url, registration, 'r3-on-B', { concurrency: SLOTS }));
    const victimRunner = runners[2]!;
    const victimRunnerId = Number(/Registered runner #(\d+)/.exec(victimRunner.output())![1]);
    mark('cluster up');

    /** Server A is down between its kill and its restart: requests (like a load balancer's) go to B meanwhile. */
    let aDown = false;
    const urlOf = (which: 'A' | 'B') => (which === 'A' && aDown ? servers.B!.url : servers[which]!.url);
    const call = async (which: 'A' | 'B', method: string, path: string, body?: unknown) => {
      const res = await fetch(`${urlOf(which)}/api/v1${path}`, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      let json: any = null; // eslint-disable-line @typescript-eslint/no-explicit-any
      try {
        json = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, json, text };
    };
    const pushed: Pushed[] = [];
    const push = async (which: 'A' | 'B', repo: string, dir: string, branch: string, sha: string) => {
      await gitOk(dir, ['push', '-q', authUrl(urlOf(which), `${OWNER}/${repo}.git`, OWNER, token), `${sha}:refs/heads/${branch}`]);
      pushed.push({ repo, ref: `refs/heads/${branch}`, sha, via: which });
    };
    const via = (i: number): 'A' | 'B' => (i % 2 === 0 ? 'A' : 'B');

    // Repositories, each created and first pushed through alternating servers.
    const repos = Array.from({ length: REPOS }, (_, i) => `c${i}`);
    const workOf = new Map<string, string>();
    for (const [i, name] of repos.entries()) {
      const created = await call(via(i), 'POST', '/user/repos', { name });
      expect(created.status, created.text).toBe(201);
      const work = await tempDir();
      works.push(work);
      await initWorkRepo(work.path, { 'README.md': `# ${name}\n`, 'src/app.txt': 'line 1\nline 2\nline 3\n' });
      workOf.set(name, work.path);
      await push(via(i + 1), name, work.path, 'main', (await gitOk(work.path, ['rev-parse', 'HEAD'])).trim());
    }
    mark('repositories pushed');

    // The runs: spread over the repositories and both servers' APIs.
    const started: { repo: string; number: number; i: number }[] = [];
    const startRun = async (i: number) => {
      const repo = repos[i % REPOS]!;
      const prompt = scriptPrompt(`write runs/run-${i}.txt\nrun ${i}\nend\nsleep 1\nsay done ${i}`);
      const res = await call(via(i >> 2), 'POST', `/repos/${OWNER}/${repo}/runs`, { prompt, title: `cluster run ${i}` });
      expect(res.status, res.text).toBe(201);
      started.push({ repo, number: res.json.number, i });
    };
    const queue = Array.from({ length: RUNS }, (_, i) => i);
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        for (let i = queue.shift(); i !== undefined; i = queue.shift()) await startRun(i);
      }),
    );
    mark(`${RUNS} runs started`);

    // Pushes and pull requests through both servers while the runs are being worked on.
    const feature = async (i: number, repo: string) => {
      const dir = workOf.get(repo)!;
      await gitOk(dir, ['checkout', '-q', '-B', `feature-${i}`, 'main']);
      const sha = await commitFiles(dir, { [`feature/${i}.txt`]: `feature ${i}\n` }, `Feature ${i}`);
      await gitOk(dir, ['checkout', '-q', 'main']);
      await push(via(i), repo, dir, `feature-${i}`, sha);
      const pr = await call(via(i + 1), 'POST', `/repos/${OWNER}/${repo}/pulls`, { title: `Feature ${i}`, head: `feature-${i}`, base: 'main' });
      expect(pr.status, pr.text).toBe(201);
      return pr.json.number as number;
    };
    const featurePrs = await Promise.all(repos.map((repo, i) => feature(i, repo)));
    mark('feature branches pushed, pull requests opened');

    // Fault 1: SIGKILL a runner in the middle of a run: its agent has written its file and is sleeping.
    const victimJob = await waitFor(async () => {
      const held = await app.db
        .selectFrom('jobs')
        .innerJoin('prompt_pull_request_jobs', 'prompt_pull_request_jobs.job_id', 'jobs.id')
        .select(['jobs.id', 'jobs.attempts', 'prompt_pull_request_jobs.id as run_id'])
        .where('jobs.status', '=', 'running')
        .where('jobs.lease_owner', '=', `runner-${victimRunnerId}`)
        .execute();
      for (const job of held) {
        const kinds = (await app.db.selectFrom('run_events').select('kind').where('run_id', '=', job.run_id).where('attempt', '=', job.attempts).execute()).map((e) => e.kind);
        if (kinds.includes('file_edit') && !kinds.includes('message')) return job;
      }
      return null;
    }, 60_000);
    victimRunner.kill();
    runners.splice(2, 1);
    killed.push(victimRunner);
    expect(await app.db.selectFrom('jobs').select(['status', 'lease_owner']).where('id', '=', victimJob.id).executeTakeFirstOrThrow()).toEqual({ status: 'running', lease_owner: `runner-${victimRunnerId}` });
    mark(`runner r3 SIGKILLed mid-run (job ${victimJob.id})`);

    // Fault 2: SIGKILL server A while its dispatcher holds leased events (a lease owner names its process:
    // dispatcher@host/pid-…). To catch A mid-dispatch rather than race it, the test holds the open pull
    // requests' rows: a dispatch that refreshes one (pull-request-sync, after every main move) waits for them
    // with its events leased. B is paused (SIGSTOP) meanwhile so that A's dispatcher takes the main moves.
    // An attempt can miss when B was stopped holding a lock A's push waits for: up to 5.
    const aDispatcher = `dispatcher@${hostname()}/${servers.A.child.pid}-`;
    const leasedByA = async () =>
      (await app.db.selectFrom('graph_events').select(['id', 'lease_owner']).where('dispatched_at', 'is', null).where('lease_owner', 'like', `${aDispatcher}%`).execute());
    let strandedOwner: string | null = null;
    let strandedIds: number[] = [];
    for (let attempt = 0; attempt < 5 && !strandedOwner; attempt++) {
      let moves: Promise<number>[] = [];
      await app.db.transaction().execute(async (tx) => {
        await tx.selectFrom('pull_requests').select('id').where('state', '=', 'open').where('base_branch', '=', 'main').forUpdate().execute();
        process.kill(-servers.B!.child.pid!, 'SIGSTOP');
        try {
          // Work for the dispatchers: main moves in every repository (through A), so every open pull
          // request of the runs is refreshed (pull-request-sync, conflicts).
          moves = repos.map(async (repo, i) => {
            const dir = workOf.get(repo)!;
            const sha = await commitFiles(dir, { [`src/main-${attempt}.txt`]: `main ${attempt}\n` }, `Main ${attempt} of ${repo}`);
            await push('A', repo, dir, 'main', sha);
            return i;
          });
          const deadline = Date.now() + 5000;
          while (Date.now() < deadline && !strandedOwner) {
            const held = await leasedByA();
            if (held.length > 0) {
              servers.A!.kill();
              aDown = true;
              strandedOwner = held[0]!.lease_owner!;
              strandedIds = held.filter((e) => e.lease_owner === strandedOwner).map((e) => e.id);
            } else await new Promise((r) => setTimeout(r, 5));
          }
        } finally {
          process.kill(-servers.B!.child.pid!, 'SIGCONT');
        }
      });
      // After B runs again: a push through A may wait for a lock B held when it was stopped.
      await Promise.allSettled(moves);
      mark(`fault 2 attempt ${attempt + 1}: ${strandedOwner ? 'A caught mid-dispatch' : 'missed'}`);
    }
    expect(strandedOwner, 'server A was never caught dispatching').not.toBeNull();
    await servers.A.exited;
    mark(`server A SIGKILLed mid-dispatch holding ${strandedIds.length} event lease(s)`);
    // The leases are still A's dead dispatcher's (nobody could have taken them yet).
    const stillHeld = await app.db.selectFrom('graph_events').select('id').where('id', 'in', strandedIds).where('lease_owner', '=', strandedOwner!).where('dispatched_at', 'is', null).execute();
    expect(stillHeld.length).toBeGreaterThan(0);

    // Restart A on the same port (its runner r1 finds it again); a merge through each server meanwhile.
    await new Promise((r) => setTimeout(r, 1000));
    let merges = 0;
    for (const [i, repo] of repos.entries()) {
      const merged = await call(via(i), 'PUT', `/repos/${OWNER}/${repo}/pulls/${featurePrs[i]}/merge`, { merge_method: 'merge' });
      if (merged.status === 200) {
        merges++;
        pushed.push({ repo, ref: 'refs/heads/main', sha: merged.json.sha, via: `merge via ${via(i)}` });
      }
      else expect([405, 409], merged.text).toContain(merged.status); // not mergeable yet (mergeability pending) is honest
    }
    servers.A = await startServeProcess(env, { port: portA });
    aDown = false;
    mark('server A restarted');

    // More pushes through both servers after the restart.
    for (const [i, repo] of repos.entries()) {
      const dir = workOf.get(repo)!;
      await gitOk(dir, ['fetch', '-q', authUrl(urlOf(via(i)), `${OWNER}/${repo}.git`, OWNER, token), 'main']);
      await gitOk(dir, ['reset', '-q', '--hard', 'FETCH_HEAD']);
      await push(via(i + 1), repo, dir, 'main', await commitFiles(dir, { 'src/after.txt': `after restart ${i}\n` }, 'After the restart'));
    }

    // Every run ends.
    const ids = await app.db.selectFrom('prompt_pull_request_jobs').select('id').where('title', 'like', 'cluster run %').execute();
    expect(ids.length).toBe(RUNS);
    await waitFor(async () => {
      const open = await app.db.selectFrom('prompt_pull_request_jobs').select('id').where('title', 'like', 'cluster run %').where('status', 'not in', TERMINAL).execute();
      return open.length === 0;
    }, 240_000).catch(async (err) => {
      const open = await app.db.selectFrom('prompt_pull_request_jobs').select(['number', 'repository_id', 'status']).where('status', 'not in', TERMINAL).execute();
      throw new Error(`${(err as Error).message}: runs not finished: ${JSON.stringify(open)}\n--- A:\n${servers.A!.output().slice(-3000)}\n--- runners:\n${runners.map((r) => r.output().slice(-2000)).join('\n---\n')}`);
    });
    mark('all runs ended');
    // Every event dispatched (the dead dispatcher's leases expire after a minute and are taken over).
    await waitFor(async () => (await app.db.selectFrom('graph_events').select('id').where('dispatched_at', 'is', null).execute()).length === 0, 90_000);
    mark('all events dispatched');

    const runs = await app.db.selectFrom('prompt_pull_request_jobs').selectAll().where('title', 'like', 'cluster run %').execute();
    const problems: string[] = [];

    // 1. Every run ended exactly once: one terminal event, matching its status; a failure says why.
    const terminalEvents = await app.db
      .selectFrom('graph_events')
      .select(['subject', 'repository_id', 'type'])
      .where('type', 'in', ['run.succeeded', 'run.failed', 'run.cancelled'])
      .execute();
    for (const run of runs) {
      const ends = terminalEvents.filter((e) => e.repository_id === run.repository_id && e.subject === `run/${run.number}`);
      if (ends.length !== 1 || ends[0]!.type !== `run.${run.status}`) problems.push(`run ${run.repository_id}#${run.number} (${run.status}) ended ${ends.length} times: ${ends.map((e) => e.type).join(', ')}`);
      if (run.status !== 'succeeded' && !run.error?.trim()) problems.push(`run ${run.repository_id}#${run.number} ${run.status} without an error`);
      const job = await app.db.selectFrom('jobs').selectAll().where('id', '=', run.job_id!).executeTakeFirstOrThrow();
      if (!TERMINAL.includes(job.status)) problems.push(`job ${job.id} of run #${run.number} is ${job.status}`);
    }
    const failed = runs.filter((r) => r.status !== 'succeeded');

    // 2. One agent commit per run on top of its source; exactly one pull request per run.
    const prs = await app.db.selectFrom('pull_requests').selectAll().execute();
    for (const run of runs) {
      const repo = (await findRepositoryById(app.db, run.repository_id))!;
      const gitDir = repositoryGitDir(app, repo);
      const tip = (await gitCli(gitDir, ['rev-parse', '--verify', '--end-of-options', `refs/heads/${run.compare_branch}`])).stdout.trim();
      const count = Number((await gitOk(gitDir, ['rev-list', '--count', `${run.source_commit}..${tip}`])).trim());
      if (run.status === 'succeeded') {
        if (tip !== run.commit_sha) problems.push(`run #${run.number}: branch at ${tip}, run says ${run.commit_sha}`);
        if (count !== 1) problems.push(`run #${run.number}: ${count} commits on its branch`);
        else if ((await gitOk(gitDir, ['rev-parse', `${tip}^`])).trim() !== run.source_commit) problems.push(`run #${run.number}: the agent commit is not on its source`);
      } else if (count > 1) problems.push(`failed run #${run.number}: ${count} commits on its branch`);
      const mine = prs.filter((p) => p.repository_id === run.repository_id && p.compare_branch === run.compare_branch);
      if (mine.length !== 1 || mine[0]!.id !== run.pull_request_id) problems.push(`run #${run.number}: ${mine.length} pull requests`);
      else if (run.status === 'succeeded' && mine[0]!.head_sha !== run.commit_sha) problems.push(`run #${run.number}: pull request head ${mine[0]!.head_sha} ≠ ${run.commit_sha}`);
    }

    // 3. Behaviors: at most one outcome per (event, behavior), none left retrying, no event undispatched.
    const duplicates = await sql<{ event_id: number; behavior_key: string; n: number }>`
      select event_id, behavior_key, count(*) as n from behavior_runs group by event_id, behavior_key having count(*) > 1`.execute(app.db);
    for (const d of duplicates.rows) problems.push(`event ${d.event_id}: ${d.n} outcomes of ${d.behavior_key}`);
    const retrying = await app.db.selectFrom('behavior_runs').select(['event_id', 'behavior_key', 'status', 'error']).where('status', 'not in', ['succeeded', 'skipped']).execute();
    for (const r of retrying) problems.push(`behavior ${r.behavior_key} on event ${r.event_id}: ${r.status} ${r.error ?? ''}`);
    const strandedDone = await app.db.selectFrom('graph_events').select('id').where('id', 'in', strandedIds).where('dispatched_at', 'is not', null).execute();
    if (strandedDone.length !== strandedIds.length) problems.push(`events leased by the killed dispatcher not dispatched: ${strandedIds.length - strandedDone.length}`);

    // 4. No event lost: every push has its ref.updated, and each ref's last event is where the ref is on disk.
    const refEvents = (await app.db.selectFrom('graph_events').select(['id', 'repository_id', 'payload']).where('type', '=', 'ref.updated').orderBy('id').execute()).map((e) => ({
      id: e.id,
      repositoryId: e.repository_id,
      ...(JSON.parse(e.payload) as { ref: string; after: string; deleted: boolean; cause: string }),
    }));
    const repoRows = await app.db.selectFrom('repositories').selectAll().execute();
    const idOf = (name: string) => repoRows.find((r) => r.name === name)!.id;
    for (const p of pushed) {
      if (!refEvents.some((e) => e.repositoryId === idOf(p.repo) && e.ref === p.ref && e.after === p.sha)) problems.push(`push of ${p.repo} ${p.ref} ${p.sha.slice(0, 10)} via ${p.via}: no ref.updated event`);
    }
    for (const run of runs.filter((r) => r.status === 'succeeded')) {
      if (!refEvents.some((e) => e.repositoryId === run.repository_id && e.ref === `refs/heads/${run.compare_branch}` && e.after === run.commit_sha)) problems.push(`run #${run.number}: its push has no ref.updated event`);
    }
    for (const repo of repos) {
      const row = repoRows.find((r) => r.name === repo)!;
      const gitDir = repositoryGitDir(app, (await findRepositoryById(app.db, row.id))!);
      const onDisk = new Map(
        (await gitOk(gitDir, ['for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads/', 'refs/tags/']))
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split(' ') as [string, string]),
      );
      const last = new Map<string, { after: string; deleted: boolean }>();
      // Branches and tags (hidden refs/gitoku/ step refs are the runs' checkpoints, not compared here).
      for (const e of refEvents.filter((x) => x.repositoryId === row.id && /^refs\/(heads|tags)\//.test(x.ref))) last.set(e.ref, e);
      for (const [ref, sha] of onDisk) if (last.get(ref)?.after !== sha) problems.push(`${repo} ${ref} at ${sha.slice(0, 10)} on disk, last event says ${last.get(ref)?.after?.slice(0, 10) ?? 'nothing'}`);
      for (const [ref, e] of last) if (!e.deleted && !onDisk.has(ref)) problems.push(`${repo} ${ref}: event says ${e.after.slice(0, 10)}, not on disk`);
      // 5. The repository is intact.
      const fsck = await gitCli(gitDir, ['fsck', '--full', '--no-dangling']);
      if (fsck.code !== 0 || /error|missing|broken|corrupt/i.test(fsck.stdout + fsck.stderr)) problems.push(`git fsck ${repo}: ${fsck.code} ${fsck.stdout}${fsck.stderr}`);
    }
    const reconciled = refEvents.filter((e) => e.cause === 'reconcile');
    mark('checked');

    console.log(
      [
        `cluster: ${RUNS} runs (${runs.length - failed.length} succeeded, ${failed.length} failed: ${failed.map((r) => `#${r.number} ${r.error?.split('\n')[0]}`).join('; ') || 'none'})`,
        `killed runner held job ${victimJob.id}; killed dispatcher held ${strandedIds.length} event(s); ${reconciled.length} ref change(s) recorded by the reconciler; ${merges}/${REPOS} feature pull requests merged`,
        ...timings,
      ].join('\n  '),
    );
    expect(problems, problems.join('\n')).toEqual([]);
    // The killed runner's job was taken over by another runner (a second attempt) and its run ended.
    const victim = await app.db.selectFrom('jobs').selectAll().where('id', '=', victimJob.id).executeTakeFirstOrThrow();
    expect(victim.attempts).toBeGreaterThanOrEqual(2);
    for (const r of runners) expect(crashReports(r.output())).toEqual([]);
    expect(crashReports(servers.B!.output())).toEqual([]);
  }, 420_000);
});
