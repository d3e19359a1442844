/**
 * Benchmark runner: `npm run bench` runs every benchmark; `npm run bench -- clone` only the named ones.
 * Options: --repeat=N (measured repetitions per operation; each benchmark has its own default),
 * --quiet (no progress lines).
 *
 * Each benchmark prints its own tables and a checks table (gitoku's figure, the reference measured in
 * the same run, the ratio, the target, PASS/FAIL); a summary follows at the end. Verdicts are
 * informational: the exit code is 0 unless a benchmark crashed.
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { clone } from './clone.ts';
import { queue } from './queue.ts';
import { queueDrain } from './queueDrain.ts';
import { pages } from './pages.ts';
import { events } from './events.ts';
import { provenance } from './provenance.ts';
import { cluster } from './cluster.ts';
import { snapshots } from './snapshots.ts';
import { refs } from './refs.ts';
import { search } from './search.ts';
import { cgit } from './cgit.ts';
import { forks } from './forks.ts';
import { memory } from './memory.ts';
import { releases } from './releases.ts';
import { workers } from './workers.ts';
import { rss } from './memory-growth.ts';
import { type BenchCheck, type Benchmark, type BenchOptions, Cleanup, formatMs, formatRatio, formatValue, printChecks, printTable } from './lib.ts';

/** Every benchmark, in the order they run. Add new modules here. */
const BENCHMARKS: Benchmark[] = [clone, pages, queue, queueDrain, events, provenance, cluster, snapshots, refs, memory, forks, search, cgit, releases, workers, rss];

function usage(): string {
  return `usage: npm run bench -- [--repeat=N] [--quiet] [${BENCHMARKS.map((b) => b.name).join('|')} …]\n\n${BENCHMARKS.map((b) => `  ${b.name.padEnd(10)} ${b.description}`).join('\n')}`;
}

function parseArgs(argv: string[]): { opts: BenchOptions; selected: Benchmark[] } {
  const opts: BenchOptions = { repeat: null, verbose: true };
  const names: string[] = [];
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') {
      console.log(usage());
      process.exit(0);
    } else if (arg === '--quiet' || arg === '-q') opts.verbose = false;
    else if (arg.startsWith('--repeat=')) {
      const n = Number(arg.slice('--repeat='.length));
      if (!Number.isInteger(n) || n < 1) throw new Error(`--repeat expects a positive whole number, got ${arg}`);
      opts.repeat = n;
    } else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}\n${usage()}`);
    else names.push(arg);
  }
  const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length > 0) throw new Error(`unknown benchmark(s): ${unknown.join(', ')}\n${usage()}`);
  const selected = names.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => names.includes(b.name));
  return { opts, selected };
}

interface Outcome {
  bench: Benchmark;
  ms: number;
  checks: BenchCheck[];
  notes: string[];
  error?: unknown;
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    return 2;
  }
  const { opts, selected } = parsed;
  const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`gitoku benchmarks — ${selected.map((b) => b.name).join(', ')}`);
  console.log(`node ${process.version}, ${cpus().length} cores, load average ${load()}; figures are medians of repeated runs after a warm-up`);

  const outcomes: Outcome[] = [];
  let active: Cleanup | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: cleaning up…`);
    void (active?.run() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  for (const bench of selected) {
    console.log(`\n━━ ${bench.name}: ${bench.description}`);
    const cleanup = new Cleanup();
    active = cleanup;
    const start = performance.now();
    const outcome: Outcome = { bench, ms: 0, checks: [], notes: [] };
    try {
      const report = await bench.run(opts, cleanup);
      outcome.checks = report.checks;
      outcome.notes = report.notes ?? [];
    } catch (err) {
      outcome.error = err;
      console.error(`\n${bench.name} crashed:`, err instanceof Error ? (err.stack ?? err.message) : err);
    } finally {
      await cleanup.run();
      active = null;
    }
    outcome.ms = performance.now() - start;
    if (outcome.checks.length > 0) printChecks(`${bench.name}: results (target: ratio ≤ target)`, outcome.checks);
    for (const note of outcome.notes) console.log(`  note: ${note}`);
    console.log(`  (${bench.name} took ${formatMs(outcome.ms)})`);
    outcomes.push(outcome);
  }

  const rows: string[][] = [];
  for (const o of outcomes) {
    if (o.error) rows.push([o.bench.name, 'CRASHED', '', '', '', '', 'ERROR']);
    for (const c of o.checks) rows.push([o.bench.name, c.label, formatValue(c.value, c.unit), formatValue(c.reference, c.unit), formatRatio(c.ratio), `≤ ${formatRatio(c.target)}`, c.pass ? 'PASS' : 'FAIL']);
  }
  console.log(`\nload average at the end: ${load()} (a loaded machine makes all figures noisier)`);
  printTable('summary', ['benchmark', 'check', 'gitoku', 'reference', 'ratio', 'target', 'result'], rows);
  const checks = outcomes.flatMap((o) => o.checks);
  const crashed = outcomes.filter((o) => o.error).length;
  console.log(
    `\n${checks.filter((c) => c.pass).length}/${checks.length} checks pass` +
      (crashed ? `; ${crashed} benchmark(s) crashed` : '') +
      ` (verdicts are informational; exit code reflects crashes only)`,
  );
  return crashed > 0 ? 1 : 0;
}

process.exitCode = await main();
