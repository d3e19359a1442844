/**
 * Semantic memory benchmark (issue 14): retrieval + just-in-time validation for one run's prompt with
 * 100,000 memory entries in the repository (each citing lines of one of 200 files), on SQLite (and
 * PostgreSQL with GITOKU_TEST_DATABASE_URL); each of 50 tasks names one of the files (50 samples per round: a p95 of 20 would be the second-slowest). p50/p95, target
 * p95 ≤ 10 ms, reported separately for three rounds:
 * - cold: the first validation of those citations in this process (every blob read and checked);
 * - warm: the same commit again (--repeat=N − 1 rounds, default 2);
 * - new commit: what the next run sees after a push changing one cited file — blob ids resolved anew,
 *   verdicts of the unchanged blobs cached, the changed file read and checked.
 * Each round also prints the process CPU per retrieval (the machine is shared: wall time under load is
 * CPU time stretched) and the mean wall time of each phase (retrieveMemory's timings). And the
 * prompt-render overhead of memory: selecting + rendering vs rendering without memory, same run.
 */
import { type Benchmark, type BenchOptions, check, Cleanup, log, printTable, repeat, run, statsRows, STATS_HEADER, tempDir, type BenchCheck } from './lib.ts';
import { createTestUser, startTestServer } from '../test/helpers/server.ts';
import { authUrl, commitFiles, gitOk, initWorkRepo } from '../test/helpers/git.ts';
import { authorizeRepository, findRepositoryById } from '../src/services/repositories.ts';
import { findUserByName } from '../src/services/users.ts';
import { retrieveMemory, selectMemoryForRun } from '../src/services/memoryRetrieval.ts';
import { maintainMemoryIndex } from '../src/services/memoryIndex.ts';
import { renderAgentPrompt } from '../src/services/agentContext.ts';
import { hashLines, normalizeFact, normalizeSubject } from '../src/domain/memory.ts';
import { now } from '../src/services/app.ts';
import { sql } from 'kysely';

const ENTRIES = 100_000;
const FILES = 200;
const LINES = 60;
const TASKS = 50;

const WORDS = (
  'parser tokenizer lexer cache index router handler session token queue worker lease retry backoff snapshot overlay sandbox runner driver prompt memory citation blame diff merge rebase branch commit tree blob hook webhook release asset upload download stream buffer chunk header footer layout page view model service schema migration column table query transaction lock deadlock timeout signal process thread pool limit quota budget metric trace span event outbox dispatcher behavior registry config secret credential password hash salt nonce csrf cookie login logout signup avatar profile email notification mention comment review approval conflict resolution label milestone issue pull draft merge squash fastforward encoding unicode newline whitespace indentation quotes semicolon comma separator escape json yaml toml markdown sanitize html template render hydrate'
).split(' ');

function rng(seed: number) {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

/** File f of the bench repository (every task names one of them, so the citation overlap has work to do). */
function benchPath(f: number): string {
  return `src/m${f % 10}/file${f}.js`;
}

function fileText(f: number): string[] {
  return Array.from({ length: LINES }, (_, i) => `export const v${f}_${i} = "${WORDS[(f * 7 + i) % WORDS.length]}"; // line ${i + 1}`);
}

/**
 * A server with repository bench/mem (FILES files of LINES lines) and ENTRIES memory entries, each citing
 * lines of one file at `head`; and TASKS tasks naming one file each. Also used by ad-hoc profiling.
 */
export async function memoryStore(dialect: 'sqlite' | 'postgres', opts: BenchOptions, cleanup: Cleanup) {
  const server = await startTestServer(dialect, { GITOKU_MEMORY_BUDGET_TOKENS: '2000' }, { dispatcher: false });
  let closed = false;
  cleanup.add(`server ${dialect}`, () => (closed ? undefined : server.close()));
  const user = await createTestUser(server, { username: 'bench' });
  const owner = (await findUserByName(server.app.db, 'bench'))!;
  await fetch(`${server.url}/api/v1/user/repos`, { method: 'POST', headers: { Authorization: `Bearer ${user.token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'mem' }) });
  const work = await tempDir(cleanup, 'gitoku-bench-mem-');
  const files: Record<string, string> = {};
  for (let f = 0; f < FILES; f++) files[benchPath(f)] = fileText(f).join('\n') + '\n';
  await initWorkRepo(work.path, files);
  await gitOk(work.path, ['push', '-q', authUrl(server.url, 'bench/mem.git', 'bench', user.token), 'main']);
  const access = await authorizeRepository(server.app, 'bench', 'mem', { userId: owner.id, isAdmin: false, tokenScopes: null }, 'write');
  const head = (await run('git', ['--git-dir', access.gitDir, 'rev-parse', 'main'])).stdout.trim();

  log(opts, `${dialect}: writing ${ENTRIES.toLocaleString('en')} memory entries with citations`);
  const rnd = rng(7);
  const word = () => WORDS[Math.floor(Math.pow(rnd(), 1.6) * WORDS.length)]!;
  const at = now();
  const expires = new Date(Date.parse(at) + 28 * 86_400_000).toISOString();
  const started = Date.now();
  const BATCH = 1000;
  for (let b = 0; b < ENTRIES; b += BATCH) {
    const rows = [];
    const cites: { f: number; start: number; end: number }[] = [];
    for (let i = b; i < Math.min(ENTRIES, b + BATCH); i++) {
      const subject = `${word()} ${word()} ${word()}`;
      const fact = `${word()} ${word()} ${word()} ${word()} ${word()} ${word()} ${word()} ${word()} when ${word()} ${word()}`;
      const f = Math.floor(rnd() * FILES);
      const start = 1 + Math.floor(rnd() * (LINES - 5));
      cites.push({ f, start, end: start + Math.floor(rnd() * 4) });
      const kind = i % 10 === 0 ? 'failure' : i % 7 === 0 ? 'decision' : 'claim';
      rows.push({ repository_id: access.repo.id, node_id: 0, kind, subject, subject_key: normalizeSubject(subject), fact, fact_key: normalizeFact(fact), reason: `${word()} ${word()}`, citations: '[]', scope_agent: i % 50 === 0 ? 'docs' : null, scope_paths: '[]', source_type: 'run', source_id: null, source_label: 'bench', confidence: 0.3 + (i % 7) / 10, pinned: i % 20_000 === 0 ? 1 : 0, status: 'live', contradiction: 0, created_by_id: null, created_at: at, validated_at: null, expires_at: expires, updated_at: at });
    }
    const ids = await server.app.db.insertInto('memory_entries').values(rows).returning('id').execute();
    await server.app.db
      .insertInto('memory_citations')
      .values(
        ids.map((r, k) => {
          const c = cites[k]!;
          const text = fileText(c.f).slice(c.start - 1, c.end).join('\n');
          return { entry_id: r.id, repository_id: access.repo.id, path: benchPath(c.f), start_line: c.start, end_line: c.end, commit_sha: head, content_hash: hashLines(text), text };
        }),
      )
      .execute();
  }
  log(opts, `${dialect}: wrote them in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // What follows writes on a running server: autovacuum's VACUUM and ANALYZE (PostgreSQL: over the months
  // such a store takes to fill, not in the middle of the measurement), and the memory index pass the writes
  // schedule (the rows above were inserted directly, so it is run here).
  if (dialect === 'postgres') await sql`VACUUM (ANALYZE) memory_entries, memory_citations`.execute(server.app.db);
  const pass = await maintainMemoryIndex(server.app.db, dialect);
  log(opts, `${dialect}: memory index pass: ${pass.steps} step(s) in ${pass.ms.toFixed(0)} ms`);

  const tasks = Array.from({ length: TASKS }, (_, t) => ({
    task: `Fix the ${WORDS[(t * 13) % 60]} ${WORDS[(t * 17 + 5) % 60]} handling in ${benchPath((t * 7) % FILES)} so that ${WORDS[(t * 3) % 90]} works`,
    paths: [benchPath((t * 7) % FILES)],
  }));
  return {
    server,
    user,
    owner,
    access,
    head,
    at,
    tasks,
    work: work.path,
    close: async () => {
      closed = true;
      await server.close();
    },
  };
}

export const memory: Benchmark = {
  name: 'memory',
  description: 'memory retrieval + citation validation for one run with 100,000 entries (p95 ≤ 10 ms), SQLite and PostgreSQL; prompt render with vs without memory',
  async run(opts: BenchOptions, cleanup: Cleanup) {
    const rounds = opts.repeat ?? 3;
    const dialects: ('sqlite' | 'postgres')[] = process.env.GITOKU_TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
    const checks: BenchCheck[] = [];
    const notes: string[] = [];
    for (const dialect of dialects) {
      const { server, user, access, owner, head, at, tasks, work, close } = await memoryStore(dialect, opts, cleanup);
      // Round 0 validates cold (the first check of those citations at that commit); later rounds are warm.
      const rows: string[][] = [];
      const measure = async (label: string, commit: string, n: number) => {
        const samples: number[] = [];
        const phases: Record<string, number> = {};
        let given = 0;
        let considered = 0;
        const cpu0 = process.cpuUsage();
        for (let r = 0; r < n; r++) {
          for (const t of tasks) {
            const t0 = performance.now();
            const sel = await retrieveMemory(server.app.db, server.app.dialect, access.gitDir, { repositoryId: access.repo.id, agentKey: null, task: t.task, commit, paths: t.paths }, 2000, at);
            samples.push(performance.now() - t0);
            given += sel.entries.length;
            considered += sel.considered;
            for (const [k, v] of Object.entries(sel.timings)) phases[k] = (phases[k] ?? 0) + v;
          }
        }
        const cpu = process.cpuUsage(cpu0);
        const sorted = [...samples].sort((a, b) => a - b);
        const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
        const phaseText = Object.entries(phases).map(([k, v]) => `${k} ${(v / samples.length).toFixed(2)}`).join(', ');
        rows.push([label, pct(50).toFixed(2) + ' ms', pct(95).toFixed(2) + ' ms', sorted.at(-1)!.toFixed(2) + ' ms', (given / samples.length).toFixed(1), (considered / samples.length).toFixed(0), ((cpu.user + cpu.system) / 1000 / samples.length).toFixed(2) + ' ms', phaseText]);
        return { p50: pct(50), p95: pct(95) };
      };
      // A running server's pool holds open connections: the retrieval's two at once are opened first
      // (opening a connection is not retrieval; preparing its statements on them is, and stays measured).
      if (dialect === 'postgres') await Promise.all([sql`select 1`.execute(server.app.db), sql`select 1`.execute(server.app.db)]);
      const cold = await measure('cold (first validation at the commit)', head, 1);
      const warm = await measure('warm (same commit again)', head, Math.max(1, rounds - 1));
      // What the next run sees after a push: a new commit, changing one cited file (lines appended at its end).
      const changed = benchPath(0);
      const next = await commitFiles(work, { [changed]: fileText(0).join('\n') + '\nexport const added = 1;\n' }, 'Change one file');
      await gitOk(work, ['push', '-q', authUrl(server.url, 'bench/mem.git', 'bench', user.token), 'main']);
      const pushed = await measure('new commit (one cited file changed)', next, 1);
      printTable(`${dialect}: retrieval + validation, ${ENTRIES.toLocaleString('en')} entries, ${TASKS} tasks`, ['round', 'p50', 'p95', 'max', 'entries given (mean)', 'candidates ranked (mean)', 'process CPU (mean)', 'mean ms per phase (wall)'], rows);
      checks.push(check(`${dialect}: retrieval + validation p95, cold (vs 10 ms target)`, cold.p95, 10, 1));
      checks.push(check(`${dialect}: retrieval + validation p95, warm (vs 10 ms target)`, warm.p95, 10, 1));
      checks.push(check(`${dialect}: retrieval + validation p95, new commit (vs 10 ms target)`, pushed.p95, 10, 1));

      // Prompt render: with memory (select + render) vs without (render only), the same run.
      const runRow = await server.app.db
        .insertInto('prompt_pull_request_jobs')
        .values({ repository_id: access.repo.id, number: 1, prompt: tasks[0]!.task, title: 'bench', description: '', mode: 'code', agent_key: null, driver: 'script', model: 'scripted', base_branch: 'main', source_branch: 'main', source_commit: head, compare_branch: 'run', commit_sha: null, pull_request_id: null, forked_from_job_id: null, job_id: null, status: 'running', error: null, result_summary: null, usage: '{}', rendered_prompt: null, session_id: null, created_by_id: owner.id, created_at: at, started_at: at, finished_at: null, updated_at: at })
        .returningAll()
        .executeTakeFirstOrThrow();
      const repo = (await findRepositoryById(server.app.db, access.repo.id))!;
      const n = 30;
      const without = await repeat(async () => renderAgentPrompt(runRow, repo, null, null), { repeat: n, warmup: 3 });
      const withMemory = await repeat(async () => renderAgentPrompt(runRow, repo, null, (await selectMemoryForRun(server.app, runRow, repo, at)).section), { repeat: n, warmup: 3 });
      printTable(`${dialect}: prompt render for one run`, STATS_HEADER, statsRows(new Map([['without memory', without], ['with memory (select + validate + render)', withMemory]])));
      notes.push(`${dialect}: prompt render overhead of memory: +${(withMemory.median - without.median).toFixed(2)} ms median (${withMemory.median.toFixed(2)} ms vs ${without.median.toFixed(3)} ms)`);
      await close();
    }
    return { checks, notes };
  },
};
