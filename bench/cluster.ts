/**
 * cluster: the scale-out topology — two `gitoku serve` processes (no embedded runner) on one
 * PostgreSQL database and one data directory, and remote `gitoku runner` processes — draining a batch
 * of scripted runs started through both servers' APIs, with 1, 2 and 3 runners. The reference is the
 * 1-runner drain time measured in the same run. Needs GITOKU_TEST_DATABASE_URL (a PostgreSQL server
 * where it may create a database); skipped without it. --repeat=N sets the runs per batch (default 40).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Benchmark, type BenchOptions, check, Cleanup, formatMs, formatRatio, log, printTable } from './lib.ts';
import { createTestDatabase } from '../test/helpers/databases.ts';
import { authUrl, gitOk, initWorkRepo } from '../test/helpers/git.ts';
import { startRunnerAgainst, startServeProcess, type GitokuProcess, type ServeProcess } from '../test/helpers/gitokuProcess.ts';
import { loadConfig } from '../src/config/index.ts';
import { createAppContext, type AppContext } from '../src/services/app.ts';
import { createUser } from '../src/services/users.ts';
import { createAccessToken } from '../src/services/tokens.ts';
import { createRegistrationToken } from '../src/services/runners.ts';

const DEFAULT_RUNS = 40;
const RUNNER_COUNTS = [1, 2, 3];
const REPOS = ['alpha', 'beta'];
const OWNER = 'bench';

interface Batch {
  runners: number;
  ms: number;
  succeeded: number;
  failed: number;
}

/** Starts `runs` scripted runs through both servers (alternating) and waits until every one has ended. */
async function drain(app: AppContext, servers: ServeProcess[], token: string, batch: number, runs: number, startErrors: string[]): Promise<Omit<Batch, 'runners'>> {
  const t0 = performance.now();
  const queue = Array.from({ length: runs }, (_, i) => i);
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
        const title = `batch ${batch} run ${i}`;
        const prompt = `Write a file.\n\n\`\`\`gitoku-script\nwrite out/batch-${batch}-${i}.txt\nrun ${i} of batch ${batch}\nend\nsay done\n\`\`\`\n`;
        // A 5xx is retried (twice) and counted: the figures stay comparable, and the note reports it.
        for (let attempt = 0; ; attempt++) {
          const res = await fetch(`${servers[i % servers.length]!.url}/api/v1/repos/${OWNER}/${REPOS[i % REPOS.length]}/runs`, {
            method: 'POST',
            headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
            body: JSON.stringify({ prompt, title }),
          });
          if (res.status === 201) break;
          const text = await res.text();
          if (res.status < 500 || attempt >= 2) throw new Error(`starting a run: ${res.status} ${text}\n${servers.map((s) => s.output().slice(-3000)).join('\n---\n')}`);
          startErrors.push(`${res.status} ${text.slice(0, 200)}`);
        }
      }
    }),
  );
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    const rows = await app.db.selectFrom('prompt_pull_request_jobs').select('status').where('title', 'like', `batch ${batch} run %`).execute();
    const ended = rows.filter((r) => ['succeeded', 'failed', 'cancelled'].includes(r.status));
    if (ended.length === runs) {
      const ms = performance.now() - t0;
      const succeeded = ended.filter((r) => r.status === 'succeeded').length;
      return { ms, succeeded, failed: runs - succeeded };
    }
    if (Date.now() > deadline) throw new Error(`batch ${batch}: ${ended.length}/${runs} runs ended after 30 minutes`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const cluster: Benchmark = {
  name: 'cluster',
  description: 'two gitoku serve processes on PostgreSQL draining scripted runs with 1, 2 and 3 remote runners',
  async run(opts: BenchOptions, cleanup: Cleanup) {
    const runs = opts.repeat ?? DEFAULT_RUNS;
    if (!process.env.GITOKU_TEST_DATABASE_URL) return { checks: [], notes: ['skipped: set GITOKU_TEST_DATABASE_URL to a PostgreSQL server (the cluster topology needs PostgreSQL)'] };

    const database = await createTestDatabase('postgres');
    cleanup.add('database', () => database.drop());
    const dataDir = await mkdtemp(join(tmpdir(), 'gitoku-bench-cluster-'));
    cleanup.add('data directory', () => rm(dataDir, { recursive: true, force: true }));
    const env = { GITOKU_DATA_DIR: dataDir, GITOKU_DATABASE_URL: database.url!, GITOKU_DEMO: 'false' };
    const app = await createAppContext(loadConfig(env));
    cleanup.add('app', () => app.close());
    const user = await createUser(app, { username: OWNER, password: 'correct-horse-battery' });
    const { token } = await createAccessToken(app, { userId: user.id, name: 'bench', scopes: ['repo'] });

    log(opts, 'starting two gitoku serve processes');
    const servers: ServeProcess[] = [];
    for (let i = 0; i < 2; i++) {
      const s = await startServeProcess(env);
      cleanup.add(`server ${i}`, () => s.stop());
      servers.push(s);
    }
    for (const [i, name] of REPOS.entries()) {
      const server = servers[i % servers.length]!;
      const res = await fetch(`${server.url}/api/v1/user/repos`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ name }) });
      if (res.status !== 201) throw new Error(`creating ${name}: ${res.status} ${await res.text()}`);
      const work = await mkdtemp(join(tmpdir(), 'gitoku-bench-cluster-work-'));
      cleanup.add(`work ${name}`, () => rm(work, { recursive: true, force: true }));
      await initWorkRepo(work, { 'README.md': `# ${name}\n` });
      await gitOk(work, ['push', '-q', authUrl(server.url, `${OWNER}/${name}.git`, OWNER, token), 'main']);
    }

    const registration = await createRegistrationToken(app, null);
    const batches: Batch[] = [];
    const startErrors: string[] = [];
    // A warm-up batch (one runner, a few runs) so that the first measured batch does not pay for cold caches.
    {
      const r = await startRunnerAgainst(servers[0]!.url, registration, 'warm-up');
      await drain(app, servers, token, 0, Math.min(6, runs), startErrors);
      await r.stop();
    }
    for (const [b, count] of RUNNER_COUNTS.entries()) {
      const runners: GitokuProcess[] = [];
      for (let i = 0; i < count; i++) {
        // Runners spread over the servers, as behind a load balancer.
        const r = await startRunnerAgainst(servers[i % servers.length]!.url, registration, `runner-${count}-${i}`);
        cleanup.add(`runner ${count}-${i}`, () => r.stop());
        runners.push(r);
      }
      log(opts, `${count} runner${count === 1 ? '' : 's'}: draining ${runs} runs`);
      const result = await drain(app, servers, token, b + 1, runs, startErrors);
      batches.push({ runners: count, ...result });
      log(opts, `${count} runner${count === 1 ? '' : 's'}: ${formatMs(result.ms)} (${result.failed} failed)`);
      for (const r of runners) await r.stop();
    }

    const reference = batches[0]!;
    printTable(
      `${runs} scripted runs through two servers (PostgreSQL), by runner count`,
      ['runners', 'drain time', 'per run', 'runs/s', 'time ratio vs 1', 'speed-up', 'failed'],
      batches.map((b) => [
        String(b.runners),
        formatMs(b.ms),
        formatMs(b.ms / runs),
        ((runs * 1000) / b.ms).toFixed(2),
        b === reference ? '(reference)' : formatRatio(b.ms / reference.ms),
        `${(reference.ms / b.ms).toFixed(2)}×`,
        String(b.failed),
      ]),
    );
    const failed = batches.reduce((n, b) => n + b.failed, 0);
    return {
      checks: batches.slice(1).map((b) => check(`drain ${runs} runs: ${b.runners} runners / 1 runner`, b.ms, reference.ms, b.runners === 2 ? 0.75 : 0.6)),
      notes: [
        'Servers, runners, git and PostgreSQL all share this machine: with few cores, adding runners adds contention as well as capacity.',
        ...(failed > 0 ? [`${failed} run(s) failed: the figures are not comparable`] : []),
        ...(startErrors.length > 0 ? [`${startErrors.length} run start(s) answered 5xx and were retried: ${[...new Set(startErrors)].slice(0, 3).join(' | ')}`] : []),
      ],
    };
  },
};
