import { registerCache } from './cacheStats.ts';

/** A small LRU map bounded by entry count and an approximate byte weight; counts its hits and misses. */
export class LruCache<K, V> {
  private readonly map = new Map<K, { value: V; weight: number }>();
  private weight = 0;
  hits = 0;
  misses = 0;

  /** `name`: reported by cacheStats() (src/git/cacheStats.ts) under that name. */
  constructor(
    private readonly maxEntries: number,
    private readonly maxWeight = Number.POSITIVE_INFINITY,
    name?: string,
  ) {
    if (name) registerCache(name, () => this.stats());
  }

  get(key: K): V | undefined {
    const hit = this.map.get(key);
    if (!hit) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, hit);
    return hit.value;
  }

  delete(key: K): void {
    const old = this.map.get(key);
    if (!old) return;
    this.weight -= old.weight;
    this.map.delete(key);
  }

  /** Drops every entry whose key matches (e.g. all entries of one repository). */
  deleteWhere(match: (key: K) => boolean): void {
    for (const [key, entry] of this.map) {
      if (!match(key)) continue;
      this.weight -= entry.weight;
      this.map.delete(key);
    }
  }

  clear(): void {
    this.map.clear();
    this.weight = 0;
  }

  set(key: K, value: V, weight = 1): void {
    const old = this.map.get(key);
    if (old) {
      this.weight -= old.weight;
      this.map.delete(key);
    }
    if (weight > this.maxWeight) return;
    this.map.set(key, { value, weight });
    this.weight += weight;
    while (this.map.size > this.maxEntries || this.weight > this.maxWeight) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.weight -= this.map.get(oldest.value)!.weight;
      this.map.delete(oldest.value);
    }
  }

  get size(): number {
    return this.map.size;
  }

  stats(): CacheStats {
    return { entries: this.map.size, maxEntries: this.maxEntries, weight: this.weight, maxWeight: Number.isFinite(this.maxWeight) ? this.maxWeight : null, hits: this.hits, misses: this.misses };
  }
}

export interface CacheStats {
  entries: number;
  maxEntries: number;
  /** The approximate weight held (bytes for byte-weighted caches, else the entry count). */
  weight: number;
  maxWeight: number | null;
  hits: number;
  misses: number;
}
