/**
 * Every bounded in-memory cache of the git layer registers here by name, so that an admin page or the
 * stats API can report their sizes and hit rates (`cacheStats()`); nothing here holds data itself.
 */
export interface CacheReport {
  entries: number;
  maxEntries: number;
  weight: number;
  maxWeight: number | null;
  hits: number;
  misses: number;
}

const sources = new Map<string, () => CacheReport>();

/** Registers a cache's stats under a name (a later registration under the same name replaces it). */
export function registerCache(name: string, stats: () => CacheReport): void {
  sources.set(name, stats);
}

/** The stats of every registered cache, by name. */
export function cacheStats(): Record<string, CacheReport> {
  const out: Record<string, CacheReport> = {};
  for (const [name, stats] of sources) out[name] = stats();
  return out;
}
