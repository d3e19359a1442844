/**
 * Issue 19, goal 2: `gitoku serve --workers N`. Throughput of the tree, blob and log pages at
 * concurrency 16 (wrk, keep-alive connections, which the cluster spreads over its workers) with one
 * process vs two HTTP workers, on the same data directory, in the same run. Target: 2 workers ≥ 1.7×
 * one process on 2 cores (reported as time per request: ≤ 0.59×).
 */
import { cpus } from 'node:os';
import { type Benchmark, type BenchOptions, check, Cleanup, log, printTable, run } from './lib.ts';
import { serveFixture } from './workersFixture.ts';

const CONNECTIONS = 16;

interface Wrk {
  rps: number;
  errors: number;
}

async function wrk(url: string, seconds: number): Promise<Wrk> {
  const out = (await run('wrk', ['-t', '1', '-c', String(CONNECTIONS), '-d', `${seconds}s`, '--timeout', '30s', url])).stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return { rps, errors: non2xx + (socket ? socket.slice(1).reduce((n, x) => n + Number(x), 0) : 0) };
}

export const workers: Benchmark = {
  name: 'workers',
  description: 'gitoku serve --workers 2 vs one process: tree, blob and log pages at concurrency 16 (wrk)',
  async run(opts: BenchOptions, cleanup: Cleanup) {
    if (!(await run('which', ['wrk'], { allowFailure: true })).stdout.trim()) return { checks: [], notes: ['skipped: wrk is not installed (apt-get install wrk)'] };
    const seconds = Math.max(3, opts.repeat ?? 8);
    const fx = await serveFixture(cleanup, 2_000);
    const base = `/${fx.owner}/${fx.repo}`;
    const pages = [
      { name: 'tree root', path: `${base}/tree/main` },
      { name: 'blob', path: `${base}/blob/main/${encodeURI(fx.files[Math.floor(fx.files.length / 2)]!)}` },
      { name: 'log', path: `${base}/commits/main` },
    ];
    const results = new Map<string, Map<number, Wrk>>();
    for (const count of [1, 2]) {
      const server = await fx.serve(count);
      for (const page of pages) {
        await wrk(`${server.url}${page.path}`, 2); // warm-up: caches, JIT, every worker
        const r = await wrk(`${server.url}${page.path}`, seconds);
        log(opts, `${page.name}, ${count} worker(s): ${r.rps.toFixed(1)} req/s (${r.errors} errors)`);
        if (!results.has(page.name)) results.set(page.name, new Map());
        results.get(page.name)!.set(count, r);
      }
      await server.stop();
    }
    const rows = pages.map((p) => {
      const one = results.get(p.name)!.get(1)!;
      const two = results.get(p.name)!.get(2)!;
      return [p.name, one.rps.toFixed(1), two.rps.toFixed(1), `${(two.rps / one.rps).toFixed(2)}×`, String(one.errors + two.errors)];
    });
    printTable(`req/s at concurrency ${CONNECTIONS} (${seconds} s each, ${cpus().length} cores)`, ['page', '1 process', '2 workers', 'speed-up', 'errors'], rows);
    return {
      checks: pages.map((p) => {
        const one = results.get(p.name)!.get(1)!;
        const two = results.get(p.name)!.get(2)!;
        // Time per request (lower is better): 2 workers against one process; 1/1.7 = 0.59.
        return check(`${p.name} c${CONNECTIONS}: ms/req, 2 workers / 1 process`, 1000 / two.rps, 1000 / one.rps, 0.59);
      }),
      notes: ['wrk itself takes part of one core; on a 2-core machine the ceiling is below 2×.'],
    };
  },
};
