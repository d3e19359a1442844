/**
 * AI provenance benchmark: AI blame (`loadLineAiContextAtRevision` over a whole file: streamed blame,
 * one capture query, span matching) vs plain `git blame --porcelain` of the same file in the same run,
 * on a 3,000-line file touched by 300 commits, half of them with captures (target ≤ 1.2×); and the time
 * the run success point spends on provenance for a run whose commit changed 50 files (spans + captures +
 * graph, computed and written as completeRun does).
 */
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Benchmark, type BenchOptions, check, Cleanup, compare, comparisonTable, log, median, repeat, run, statsRows, STATS_HEADER, printTable, tempDir } from './lib.ts';
import { createTestUser, startTestServer } from '../test/helpers/server.ts';
import { authUrl, gitOk, initWorkRepo } from '../test/helpers/git.ts';
import { authorizeRepository } from '../src/services/repositories.ts';
import { findUserByName } from '../src/services/users.ts';
import { loadLineAiContextAtRevision, prepareRunProvenance, replaceCommitAiContexts, writeRunProvenance } from '../src/services/provenance.ts';
import { commitLineSpans } from '../src/git/spans.ts';
import { readCommitObject } from '../src/git/objects.ts';
import { now } from '../src/services/app.ts';

const LINES = 3000;
const COMMITS = 300;
const FILES = 50;

/** A 3,000-line file changed by 300 commits, each rewriting a few lines and inserting one. */
async function blameRepository(dir: string): Promise<void> {
  const lines = Array.from({ length: LINES }, (_, i) => `line ${i + 1}: ${'x'.repeat(20 + (i % 40))}`);
  await initWorkRepo(dir, { 'long.txt': lines.join('\n') + '\n' });
  let seed = 42;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let c = 0; c < COMMITS; c++) {
    for (let k = 0; k < 8; k++) {
      const i = Math.floor(rnd() * lines.length);
      lines[i] = `line ${i + 1} rev ${c}: ${'y'.repeat(10 + (c % 30))}`;
    }
    if (c % 3 === 0) lines.splice(Math.floor(rnd() * lines.length), 0, `inserted by ${c}`);
    await writeFile(join(dir, 'long.txt'), lines.join('\n') + '\n');
    await gitOk(dir, ['commit', '-q', '-am', `edit ${c}`]);
  }
}

export const provenance: Benchmark = {
  name: 'provenance',
  description: 'AI blame vs git blame --porcelain (3,000 lines, 300 commits, half with captures); capture write for a 50-file run',
  async run(opts: BenchOptions, cleanup: Cleanup) {
    const n = opts.repeat ?? 30;
    const server = await startTestServer('sqlite');
    cleanup.add('server', () => server.close());
    const user = await createTestUser(server, { username: 'bench' });
    const owner = (await findUserByName(server.app.db, 'bench'))!;
    await fetch(`${server.url}/api/v1/user/repos`, { method: 'POST', headers: { Authorization: `Bearer ${user.token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'prov' }) });
    const work = await tempDir(cleanup, 'gitoku-bench-prov-');
    log(opts, `generating ${COMMITS} commits over a ${LINES}-line file`);
    await blameRepository(work.path);
    await gitOk(work.path, ['push', '-q', authUrl(server.url, 'bench/prov.git', 'bench', user.token), 'main']);
    const access = await authorizeRepository(server.app, 'bench', 'prov', { userId: owner.id, isAdmin: false, tokenScopes: null }, 'write');
    const head = (await run('git', ['--git-dir', access.gitDir, 'rev-parse', 'main'])).stdout.trim();
    const shas = (await run('git', ['--git-dir', access.gitDir, 'rev-list', '--reverse', 'main'])).stdout.split('\n').filter(Boolean).slice(1);

    // Captures for every other commit, with the spans that commit really changed.
    log(opts, `writing captures for ${Math.ceil(shas.length / 2)} commits`);
    const captured = shas.filter((_, i) => i % 2 === 0);
    const spans = await Promise.all(captured.map(async (sha) => ({ sha, spans: await commitLineSpans(access.gitDir, sha, (await readCommitObject(access.gitDir, sha))!.parents[0] ?? null) })));
    await server.app.db.transaction().execute(async (tx) => {
      for (const { sha, spans: s } of spans) {
        await replaceCommitAiContexts(tx, access.repo.id, sha, [
          { sourceFamily: 'claude', model: 'claude-opus-4-5', prompt: `Change the lines of ${sha.slice(0, 8)}`, thinking: 'Reasoning '.repeat(50), sessionId: 'bench', confidence: 1, evidenceKind: 'agent_run', files: s.files, spans: s.spans, runId: null, details: {} },
        ]);
      }
    });
    const check1 = await loadLineAiContextAtRevision(server.app, access, head, 'long.txt');
    const aiLines = check1!.ranges.filter((r) => r.captures.length).reduce((k, r) => k + r.end_line - r.start_line + 1, 0);
    log(opts, `AI blame: ${check1!.ranges.length} ranges, ${aiLines} AI-written lines`);

    const results = await compare(
      [
        { name: 'AI blame (loadLineAiContextAtRevision)', run: () => loadLineAiContextAtRevision(server.app, access, head, 'long.txt') },
        { name: 'git blame --porcelain', run: () => run('git', ['--git-dir', access.gitDir, 'blame', '--porcelain', head, '--', 'long.txt']) },
      ],
      { repeat: n, warmup: 2 },
    );
    comparisonTable(`AI blame of a ${LINES}-line file with ${COMMITS} commits (${captured.length} with captures)`, results, ['AI blame (loadLineAiContextAtRevision)', 'git blame --porcelain'], 'git blame --porcelain');

    // Capture write for a run whose commit changed 50 files, across two agent turns.
    log(opts, `preparing a run commit that changes ${FILES} files`);
    await gitOk(work.path, ['checkout', '-q', '-b', 'run']);
    for (let f = 0; f < FILES; f++) {
      await mkdir(join(work.path, 'src', `m${f % 5}`), { recursive: true });
      await writeFile(join(work.path, 'src', `m${f % 5}`, `file${f}.ts`), Array.from({ length: 80 }, (_, i) => (i % 7 === 3 ? `// edited ${i}` : `export const v${i} = ${i * f};`)).join('\n') + '\n');
    }
    await gitOk(work.path, ['add', '-A']);
    await gitOk(work.path, ['commit', '-q', '-m', 'agent changes']);
    await gitOk(work.path, ['push', '-q', authUrl(server.url, 'bench/prov.git', 'bench', user.token), 'run']);
    const runCommit = (await run('git', ['--git-dir', access.gitDir, 'rev-parse', 'run'])).stdout.trim();
    const at = now();
    const runRow = await server.app.db
      .insertInto('prompt_pull_request_jobs')
      .values({ repository_id: access.repo.id, number: 1, prompt: 'Refactor the modules', title: 'bench', description: '', mode: 'code', agent_key: null, driver: 'script', model: 'scripted', base_branch: 'main', source_branch: 'main', source_commit: head, compare_branch: 'run', commit_sha: null, pull_request_id: null, forked_from_job_id: null, job_id: null, status: 'running', error: null, result_summary: null, usage: '{}', rendered_prompt: null, session_id: null, created_by_id: owner.id, created_at: at, started_at: at, finished_at: null, updated_at: at })
      .returningAll()
      .executeTakeFirstOrThrow();
    const events: { kind: string; data: Record<string, unknown> }[] = [];
    for (let turn = 0; turn < 2; turn++) {
      events.push({ kind: 'thinking', data: { text: `Turn ${turn}: plan the refactor`.repeat(20) } });
      for (let f = turn * 25; f < turn * 25 + 25; f++) events.push({ kind: 'file_edit', data: { path: `src/m${f % 5}/file${f}.ts`, action: 'write' } });
      events.push({ kind: 'message', data: { text: `Turn ${turn} done` } });
    }
    await server.app.db.insertInto('run_events').values(events.map((e, i) => ({ run_id: runRow.id, attempt: 1, seq: i + 1, kind: e.kind, data: JSON.stringify(e.data), created_at: at }))).execute();
    const prepare = await repeat(() => prepareRunProvenance(server.app, access.gitDir, runRow, runCommit, null), { repeat: n, warmup: 2 });
    const prepared = await prepareRunProvenance(server.app, access.gitDir, runRow, runCommit, null);
    const write = await repeat(() => server.app.db.transaction().execute((tx) => writeRunProvenance(tx, runRow, runCommit, prepared)), { repeat: n, warmup: 2 });
    const total = await repeat(async () => {
      const p = await prepareRunProvenance(server.app, access.gitDir, runRow, runCommit, null);
      await server.app.db.transaction().execute((tx) => writeRunProvenance(tx, runRow, runCommit, p));
    }, { repeat: n, warmup: 1 });
    const nodes = await server.app.db.selectFrom('graph_nodes').select((eb) => eb.fn.countAll<number>().as('n')).where('repository_id', '=', access.repo.id).executeTakeFirstOrThrow();
    printTable(
      `capture write for a run with ${FILES} changed files (${prepared.commits[0]?.captures.length ?? 0} captures; ${Number(nodes.n)} graph nodes in the repository)`,
      STATS_HEADER,
      statsRows(new Map([['spans + trace (before the transaction)', prepare], ['captures + graph (inside the transaction)', write], ['total', total]])),
    );
    const ai = results.get('AI blame (loadLineAiContextAtRevision)')!;
    const git = results.get('git blame --porcelain')!;
    return {
      checks: [
        check('AI blame / git blame --porcelain (median)', ai.median, git.median, 1.2),
        check(`capture write, ${FILES}-file run (vs 100 ms budget)`, median(total.samples), 100, 1),
      ],
      notes: [`AI blame found ${aiLines} AI-written lines of ${LINES + Math.ceil(COMMITS / 3)}`],
    };
  },
};
