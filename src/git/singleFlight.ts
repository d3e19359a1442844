/**
 * Single-flight: concurrent calls with the same key share one in-flight promise, so N identical cold
 * requests (the same tree walk, the same blame) cost one computation. The key is forgotten as soon as
 * the promise settles: results are cached elsewhere (an LRU keyed by immutable ids), failures are not.
 */
export class SingleFlight<K, V> {
  private readonly inFlight = new Map<K, Promise<V>>();
  /** Calls that joined an existing computation instead of starting one. */
  shared = 0;
  started = 0;

  run(key: K, compute: () => Promise<V>): Promise<V> {
    const existing = this.inFlight.get(key);
    if (existing) {
      this.shared++;
      return existing;
    }
    this.started++;
    const promise = (async () => {
      try {
        return await compute();
      } finally {
        this.inFlight.delete(key);
      }
    })();
    this.inFlight.set(key, promise);
    return promise;
  }

  get size(): number {
    return this.inFlight.size;
  }
}
