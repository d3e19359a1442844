import { cacheStats, type CacheReport } from '../git/cacheStats.ts';

/**
 * What this server process holds in memory (issue 19, goal 7): its RSS and heap, and every bounded
 * cache registered in src/git/cacheStats.ts (entries, weight, hits, misses). Per process: in a
 * cluster (`gitoku serve --workers N`) each HTTP worker answers for itself, and says which it is.
 */
export interface ProcessStats {
  pid: number;
  /** The cluster worker (1…N) that answered; null in a single-process server. */
  worker: number | null;
  uptime_seconds: number;
  memory: { rss_bytes: number; heap_total_bytes: number; heap_used_bytes: number; external_bytes: number; array_buffers_bytes: number };
  caches: Record<string, CacheReport>;
}

export function processStats(): ProcessStats {
  const m = process.memoryUsage();
  const worker = Number(process.env.GITOKU_WORKER_ID);
  return {
    pid: process.pid,
    worker: Number.isInteger(worker) && worker > 0 ? worker : null,
    uptime_seconds: Math.round(process.uptime()),
    memory: { rss_bytes: m.rss, heap_total_bytes: m.heapTotal, heap_used_bytes: m.heapUsed, external_bytes: m.external, array_buffers_bytes: m.arrayBuffers },
    caches: cacheStats(),
  };
}
