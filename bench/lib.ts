/**
 * Shared benchmark helpers: timing (repeat N times → median/p50/p95), temporary directories with
 * guaranteed cleanup, child processes, and table printing. Every benchmark module in bench/ reuses these.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

// ---------------------------------------------------------------------------------------------
// Benchmark modules and their reports

export interface BenchOptions {
  /** Measured repetitions per operation (after warm-up), from --repeat=N; null: the benchmark's own default. */
  repeat: number | null;
  /** Print progress lines while running. */
  verbose: boolean;
}

/** One comparison against a reference measured in the same run. */
export interface BenchCheck {
  /** What is compared, e.g. "clone: gitoku / http-backend". */
  label: string;
  /** gitoku's figure (ms unless `unit` says otherwise). */
  value: number;
  /** The reference's figure in the same unit. */
  reference: number;
  /** value / reference. */
  ratio: number;
  /** Pass when ratio ≤ target. */
  target: number;
  pass: boolean;
  unit?: string;
}

export interface BenchReport {
  /** Extra tables already printed by the benchmark are not repeated here; these go to the summary. */
  checks: BenchCheck[];
  notes?: string[];
}

export interface Benchmark {
  name: string;
  description: string;
  run(opts: BenchOptions, cleanup: Cleanup): Promise<BenchReport>;
}

export function check(label: string, value: number, reference: number, target: number, unit = 'ms'): BenchCheck {
  const ratio = reference > 0 ? value / reference : Number.POSITIVE_INFINITY;
  return { label, value, reference, ratio, target, pass: ratio <= target, unit };
}

// ---------------------------------------------------------------------------------------------
// Cleanup: a LIFO stack of async disposers, always drained (also on SIGINT/SIGTERM).

export class Cleanup {
  private readonly stack: { label: string; fn: () => Promise<void> | void }[] = [];

  add(label: string, fn: () => Promise<void> | void): void {
    this.stack.push({ label, fn });
  }

  async run(): Promise<void> {
    while (this.stack.length > 0) {
      const { label, fn } = this.stack.pop()!;
      try {
        await fn();
      } catch (err) {
        console.error(`cleanup "${label}" failed:`, err instanceof Error ? err.message : err);
      }
    }
  }
}

/** A temporary directory removed by `cleanup` (or earlier through the returned `remove`). */
export async function tempDir(cleanup: Cleanup, prefix = 'gitoku-bench-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  const remove = () => rm(path, { recursive: true, force: true });
  cleanup.add(`rm ${path}`, remove);
  return { path, remove };
}

/** The persistent cache directory for expensive fixtures, keyed by their parameters. */
export async function cacheDir(kind: string, params: Record<string, unknown>): Promise<string> {
  const key = createHash('sha256').update(JSON.stringify(params)).digest('hex').slice(0, 16);
  const root = join(tmpdir(), 'gitoku-bench-cache');
  await mkdir(root, { recursive: true });
  return join(root, `${kind}-${key}`);
}

// ---------------------------------------------------------------------------------------------
// Timing

export interface Stats {
  /** Wall times in ms, in round order. */
  samples: number[];
  /**
   * CPU time in ms per sample (this process + reaped child processes: servers' git children and the
   * git client alike), in round order; empty where unavailable. Much less sensitive to machine load than wall time.
   */
  cpu: number[];
  cpuMedian: number;
  min: number;
  max: number;
  mean: number;
  median: number;
  p50: number;
  p95: number;
}

/** Nearest-rank percentile on a copy of the samples (p in 0..100). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Median (the mean of the two middle values for an even count). */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function stats(samples: readonly number[], cpu: readonly number[] = []): Stats {
  const sum = samples.reduce((a, b) => a + b, 0);
  return {
    samples: [...samples],
    cpu: [...cpu],
    cpuMedian: cpu.length > 0 ? median(cpu) : Number.NaN,
    min: Math.min(...samples),
    max: Math.max(...samples),
    mean: sum / samples.length,
    median: median(samples),
    p50: percentile(samples, 50),
    p95: percentile(samples, 95),
  };
}

/**
 * CPU time used so far in ms: this process (user + system) plus its reaped children (Linux
 * /proc/self/stat cutime + cstime, 10 ms ticks). NaN where /proc is unavailable.
 */
export function cpuTimeMs(): number {
  let children = Number.NaN;
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); cutime and cstime are fields 16 and 17.
    children = ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
  } catch {
    // not Linux
  }
  const self = process.cpuUsage();
  return (self.user + self.system) / 1000 + children;
}

/** Wall time of one call in milliseconds. */
export async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

export interface Subject {
  name: string;
  /** Untimed preparation before each repetition (e.g. create an empty target repository). */
  before?: () => Promise<void>;
  /** The measured operation. */
  run: () => Promise<unknown>;
  /** Untimed work after each repetition (e.g. delete the clone). */
  after?: () => Promise<void>;
}

/**
 * Measures several subjects `repeat` times each after `warmup` unmeasured rounds, interleaving them
 * (and rotating their order every round) so drift in machine load affects all of them alike.
 */
export async function compare(subjects: Subject[], opts: { repeat: number; warmup?: number; onSample?: (name: string, ms: number, round: number) => void }): Promise<Map<string, Stats>> {
  const samples = new Map<string, number[]>(subjects.map((s) => [s.name, []]));
  const cpu = new Map<string, number[]>(subjects.map((s) => [s.name, []]));
  const warmup = opts.warmup ?? 1;
  for (let round = 0; round < warmup + opts.repeat; round++) {
    const order = subjects.map((_, i) => subjects[(i + round) % subjects.length]!);
    for (const s of order) {
      await s.before?.();
      const cpuStart = cpuTimeMs();
      const ms = await time(s.run);
      const cpuMs = cpuTimeMs() - cpuStart;
      await s.after?.();
      if (round >= warmup) {
        samples.get(s.name)!.push(ms);
        if (Number.isFinite(cpuMs)) cpu.get(s.name)!.push(cpuMs);
        opts.onSample?.(s.name, ms, round - warmup + 1);
      }
    }
  }
  return new Map([...samples].map(([name, v]) => [name, stats(v, cpu.get(name))]));
}

/** Repeats one operation: `repeat` measured calls after `warmup` unmeasured ones. */
export async function repeat(fn: () => Promise<unknown>, opts: { repeat: number; warmup?: number }): Promise<Stats> {
  const result = await compare([{ name: 'x', run: fn }], opts);
  return result.get('x')!;
}

// ---------------------------------------------------------------------------------------------
// Child processes

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program (argument array, no shell); rejects with its stderr when it exits non-zero. */
export function run(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string | Buffer | NodeJS.ReadableStream; allowFailure?: boolean } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.stdin.on('error', () => {});
    child.on('error', reject);
    child.on('close', (code) => {
      const result = { code: code ?? 1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
      if (result.code !== 0 && !opts.allowFailure) reject(new Error(`${cmd} ${args.join(' ')} exited ${result.code}: ${result.stderr.trim().split('\n').slice(-5).join(' | ')}`));
      else resolve(result);
    });
    if (opts.input === undefined) child.stdin.end();
    else if (typeof opts.input === 'string' || Buffer.isBuffer(opts.input)) child.stdin.end(opts.input);
    else opts.input.pipe(child.stdin);
  });
}

// ---------------------------------------------------------------------------------------------
// Output

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

export function formatValue(value: number, unit = 'ms'): string {
  if (unit === 'ms') return formatMs(value);
  if (!Number.isFinite(value)) return '—';
  return `${Number.isInteger(value) ? value : value.toFixed(2)} ${unit}`.trim();
}

export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '—';
}

export function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Prints an aligned text table; numeric-looking cells are right-aligned. */
export function printTable(title: string, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = (s: string) => /^[-+]?[\d.,]+\s*(ms|s|×|%|MiB|KiB|GiB|B)?$/.test(s) || s === '—';
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric(c) && i > 0 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(widths.map((w) => '─'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

/** The standard per-benchmark table of checks (value, reference, ratio, target, verdict). */
export function printChecks(title: string, checks: BenchCheck[]): void {
  printTable(
    title,
    ['check', 'gitoku', 'reference', 'ratio', 'target', 'result'],
    checks.map((c) => [c.label, formatValue(c.value, c.unit), formatValue(c.reference, c.unit), formatRatio(c.ratio), `≤ ${formatRatio(c.target)}`, c.pass ? 'PASS' : 'FAIL']),
  );
}

/** Rows of "subject | median | p50 | p95 | min | max | n" for a set of measured subjects. */
export function statsRows(results: Map<string, Stats>, order?: string[]): string[][] {
  const names = order ?? [...results.keys()];
  return names.map((name) => {
    const s = results.get(name)!;
    return [name, formatMs(s.median), formatMs(s.p50), formatMs(s.p95), formatMs(s.min), formatMs(s.max), String(s.samples.length)];
  });
}

export const STATS_HEADER = ['subject', 'median', 'p50', 'p95', 'min', 'max', 'n'];

/**
 * Median of the per-round ratios a[i] / b[i]. `compare` records samples in round order, and within a
 * round the subjects ran back to back, so pairing cancels slow drift in machine load.
 */
export function pairedRatio(a: Stats, b: Stats): number {
  const n = Math.min(a.samples.length, b.samples.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) ratios.push(a.samples[i]! / b.samples[i]!);
  return median(ratios);
}

/** Stats rows plus ratios against `reference`: of the medians, of the minimums, and paired per round. */
export function comparisonTable(title: string, results: Map<string, Stats>, order: string[], reference: string): void {
  const ref = results.get(reference)!;
  const rows = order.map((name) => {
    const s = results.get(name)!;
    const [row] = statsRows(results, [name]);
    const cpu = formatMs(s.cpuMedian);
    if (name === reference) return [...row!, '(reference)', '', '', cpu, ''];
    return [...row!, formatRatio(s.median / ref.median), formatRatio(s.min / ref.min), formatRatio(pairedRatio(s, ref)), cpu, formatRatio(s.cpuMedian / ref.cpuMedian)];
  });
  printTable(title, [...STATS_HEADER, 'ratio median', 'ratio min', 'ratio paired', 'cpu median', 'ratio cpu'], rows);
}

export function log(opts: BenchOptions, message: string): void {
  if (opts.verbose) console.log(`  · ${message}`);
}
