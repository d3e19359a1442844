/**
 * Issue 19, goal 7: no memory growth. `gitoku serve` (one process) answers 2,000 mixed page requests
 * (tree, directories, blobs, log pages, commits, blame, contents API, at many commits); its RSS after
 * all of them must stay within 10% of its RSS after the first 200, the caches being bounded. RSS and
 * cache sizes come from GET /api/v1/admin/stats.
 */
import { type Benchmark, type BenchOptions, check, Cleanup, formatBytes, log, printTable } from './lib.ts';
import { serveFixture } from './workersFixture.ts';

const TOTAL = 2_000;
const BASELINE_AFTER = 200;
const CONCURRENCY = 8;

interface Stats {
  memory: { rss_bytes: number; heap_used_bytes: number };
  caches: Record<string, { entries: number; weight: number }>;
}

export const rss: Benchmark = {
  name: 'rss',
  description: 'server RSS after 2,000 mixed page requests vs after the first 200 (no growth: ≤ 1.10×)',
  async run(opts: BenchOptions, cleanup: Cleanup) {
    const fx = await serveFixture(cleanup, 2_000);
    const server = await fx.serve(1);
    const base = `/${fx.owner}/${fx.repo}`;
    const dirs = [...new Set(fx.files.map((f) => f.split('/').slice(0, -1).join('/')).filter(Boolean))];
    /** The i-th request of the mix: different commits and files, so caches keep filling up to their bounds. */
    const pathOf = (i: number): string => {
      const sha = fx.commits[i % fx.commits.length]!;
      const file = encodeURI(fx.files[(i * 7) % fx.files.length]!);
      const dir = encodeURI(dirs[i % dirs.length] ?? '');
      switch (i % 8) {
        case 0: return `${base}/tree/${sha}`;
        case 1: return `${base}/tree/${sha}/${dir}`;
        case 2: return `${base}/blob/${sha}/${file}`;
        case 3: return `${base}/commits/${sha}`;
        case 4: return `${base}/commit/${sha}`;
        case 5: return `${base}/blame/${sha}/${file}`;
        case 6: return `/api/v1/repos/${fx.owner}/${fx.repo}/contents/${file}?ref=${sha}`;
        default: return `${base}/blob/main/${file}`;
      }
    };
    const stats = async (): Promise<Stats> => {
      const res = await fetch(`${server.url}/api/v1/admin/stats`, { headers: { Authorization: `Bearer ${fx.token}` } });
      if (res.status !== 200) throw new Error(`/admin/stats: ${res.status} ${await res.text()}`);
      return (await res.json()) as Stats;
    };
    let next = 0;
    let failures = 0;
    const drive = async (until: number) => {
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < until) {
            const path = pathOf(next++);
            const res = await fetch(`${server.url}${path}`);
            await res.arrayBuffer();
            if (res.status !== 200) failures++;
          }
        }),
      );
    };
    const start = await stats();
    await drive(BASELINE_AFTER);
    const early = await stats();
    log(opts, `after ${BASELINE_AFTER}: RSS ${formatBytes(early.memory.rss_bytes)}`);
    await drive(TOTAL);
    const late = await stats();
    log(opts, `after ${TOTAL}: RSS ${formatBytes(late.memory.rss_bytes)}`);
    await server.stop();
    printTable('server memory', ['after', 'RSS', 'heap used'], [
      ['start', formatBytes(start.memory.rss_bytes), formatBytes(start.memory.heap_used_bytes)],
      [`${BASELINE_AFTER} requests`, formatBytes(early.memory.rss_bytes), formatBytes(early.memory.heap_used_bytes)],
      [`${TOTAL} requests`, formatBytes(late.memory.rss_bytes), formatBytes(late.memory.heap_used_bytes)],
    ]);
    printTable(`bounded caches after ${TOTAL} requests`, ['cache', 'entries', 'weight'], Object.entries(late.caches).map(([name, c]) => [name, String(c.entries), String(c.weight)]));
    return {
      checks: [check(`RSS after ${TOTAL} / after ${BASELINE_AFTER} mixed requests`, late.memory.rss_bytes / 1048576, early.memory.rss_bytes / 1048576, 1.1, 'MB')],
      notes: failures ? [`${failures} of ${TOTAL} requests did not answer 200`] : [],
    };
  },
};
