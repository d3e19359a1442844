/**
 * Warm forks (issue 13): the time from a fork request to the agent's first step, for a fork that boots
 * warm from a checkpoint's snapshot, against a cold run of the same task — checkout plus the
 * repository's `[workspace]` set-up, a real `npm ci` of a mid-size project (gitoku's own dependencies,
 * from the registry) — measured in the same run through the real server, runner and sandbox.
 * Target: warm ≥ 50× faster. Needs bubblewrap and the npm registry.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Benchmark, type BenchCheck, check, Cleanup, log, median, printTable } from './lib.ts';
import { api, createTestUser, startTestServer } from '../test/helpers/server.ts';
import { startInProcessRunner } from '../test/helpers/runner.ts';
import { createPushedRepo, scriptPrompt, waitForRun } from '../test/helpers/scriptedRuns.ts';

const SETUP = 'npm ci --ignore-scripts --no-audit --no-fund';
const FIRST_STEP = 'first-agent-step';

interface TraceRow {
  kind: string;
  created_at: string;
  data: { command?: string; message?: string };
}

export const forks: Benchmark = {
  name: 'forks',
  description: 'fork request → first agent step: warm from a snapshot vs cold checkout + real npm ci',
  async run(opts, cleanup: Cleanup) {
    if (!existsSync('/usr/bin/bwrap')) return { checks: [], notes: ['skipped: bubblewrap is not installed'] };
    const repeat = opts.repeat ?? 3;
    const server = await startTestServer('sqlite');
    cleanup.add('server', () => server.close());
    const owner = await createTestUser(server);
    const root = join(import.meta.dirname, '..');
    // gitoku's own manifest and lock file, verbatim: a real mid-size project (~200 packages, ~200 MB).
    const files = {
      'package.json': await readFile(join(root, 'package.json'), 'utf8'),
      'package-lock.json': await readFile(join(root, 'package-lock.json'), 'utf8'),
      'gitoku.toml': `[workspace]\nsetup = "${SETUP}"\ncache_key_files = ["package-lock.json"]\ntimeout = 900\n`,
      '.gitignore': 'node_modules/\n',
    };
    const repo = await createPushedRepo(server, owner, 'forkbench', files);
    cleanup.add('work tree', () => repo.work.remove());
    const runner = await startInProcessRunner(server, 1);
    cleanup.add('runner', () => runner.stop());
    const name = `${owner.username}/forkbench`;

    const trace = async (n: number) => (await api(server, 'GET', `/repos/${name}/runs/${n}/events`, { token: owner.token })).json.events as TraceRow[];
    const finished = (n: number, timeoutMs: number) => waitForRun(server, owner, name, n, timeoutMs);
    /** Milliseconds from `requested` to the server's record of the agent's first step (the stored time, to the millisecond). */
    const toFirstStep = async (n: number, requested: number) => {
      const run = await server.app.db.selectFrom('prompt_pull_request_jobs').select('id').where('number', '=', n).executeTakeFirstOrThrow();
      const rows = await server.app.db.selectFrom('run_events').select(['kind', 'data', 'created_at']).where('run_id', '=', run.id).orderBy('id').execute();
      const step = rows.find((e) => e.kind === 'command' && (JSON.parse(e.data) as { command?: string }).command?.includes(FIRST_STEP));
      if (!step) throw new Error(`run #${n} has no first step in its trace`);
      return Date.parse(step.created_at) - requested;
    };
    const script = scriptPrompt(`run echo ${FIRST_STEP} && test -d node_modules/vitest\nwrite step.txt\nstep\nend\nsay done`);

    log(opts, `forks: cold run (checkout + ${SETUP})`);
    const coldAt = Date.now();
    const cold = await api(server, 'POST', `/repos/${name}/runs`, { token: owner.token, body: { prompt: script } });
    if (cold.status !== 201) throw new Error(`starting the cold run: ${cold.status} ${cold.text}`);
    const coldRun = await finished(cold.json.number, 15 * 60_000);
    if (coldRun.status !== 'succeeded') throw new Error(`the cold run ${coldRun.status}: ${(await trace(cold.json.number)).map((e) => e.data.message ?? e.data.command ?? '').join('\n')}`);
    const coldMs = await toFirstStep(cold.json.number, coldAt);

    const warmTimes: number[] = [];
    for (let i = 0; i < repeat; i++) {
      log(opts, `forks: warm fork ${i + 1}/${repeat} from step 1`);
      const at = Date.now();
      const fork = await api(server, 'POST', `/repos/${name}/runs/${cold.json.number}/forks`, { token: owner.token, body: { step: 1, prompt: script } });
      if (fork.status !== 201) throw new Error(`forking: ${fork.status} ${fork.text}`);
      const forked = await finished(fork.json.number, 120_000);
      const forkTrace = await trace(fork.json.number);
      if (forked.status !== 'succeeded' || forked.workspace_start !== 'warm' || forkTrace.some((e) => e.data.command === SETUP)) {
        throw new Error(`fork #${fork.json.number} did not boot warm (${forked.status}, ${forked.workspace_start}): ${forkTrace.map((e) => e.data.message ?? e.data.command ?? '').join('\n')}`);
      }
      warmTimes.push(await toFirstStep(fork.json.number, at));
    }
    const warm = median(warmTimes);
    printTable('Fork → first agent step', ['start', 'time', 'note'], [
      ['cold', `${(coldMs / 1000).toFixed(1)} s`, `checkout + ${SETUP}`],
      ['warm (p50)', `${warm.toFixed(0)} ms`, `fork from step 1, ${repeat} forks: ${warmTimes.map((t) => t.toFixed(0)).join(', ')} ms`],
    ]);
    // Target ≥ 50× faster: warm / cold ≤ 1/50.
    const checks: BenchCheck[] = [check('fork → first step: warm / cold (checkout + npm ci)', warm, coldMs, 1 / 50)];
    return { checks, notes: [`cold ${(coldMs / 1000).toFixed(1)} s, warm p50 ${warm.toFixed(0)} ms (${(coldMs / warm).toFixed(0)}× faster)`] };
  },
};
