import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { EventEmitter } from 'node:events';
import { CliError } from './errors.ts';

/**
 * `gitoku serve --workers N` (issue 19): the primary process forks N HTTP workers with node:cluster.
 * They share the listening port (the primary hands connections round-robin), the database and the
 * repository directory — exactly as N `gitoku serve` instances behind a load balancer, which the queue
 * (leases, SKIP LOCKED / BEGIN IMMEDIATE), the dispatcher (behavior_runs unique) and SSE already
 * tolerate. What must exist once lives in the primary, which serves no HTTP itself:
 *   - migrations and first-run work (administrator, demo), before any worker starts;
 *   - the one embedded runner (it talks to the workers over the shared port, like a remote runner);
 *   - the event dispatcher and the server job worker (one poller each: N of them would only contend
 *     for SQLite's write lock), the ref reconciler, the job sweeper and session clean-up.
 * On SQLite the in-process 'jobs'/'events' signals are relayed between processes through the primary
 * (PostgreSQL's NOTIFY already reaches every process). A worker that dies is restarted with back-off;
 * SIGTERM/SIGINT to the primary stops the workers gracefully, then the primary.
 */

/** `--workers` / GITOKU_WORKERS; default: the number of cores. */
export function resolveWorkerCount(option: string | undefined, env: NodeJS.ProcessEnv): number {
  const raw = option ?? env.GITOKU_WORKERS;
  if (raw === undefined || raw === '') return Math.max(1, availableParallelism());
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 256) throw new CliError(`--workers (GITOKU_WORKERS) must be a whole number between 1 and 256, got "${raw}"`);
  return Number(raw);
}

/** This process's worker number (1…N) when it is an HTTP worker of a cluster; null otherwise. */
export function clusterWorkerId(): number | null {
  if (!cluster.isWorker) return null;
  const id = Number(process.env.GITOKU_WORKER_ID);
  return Number.isInteger(id) && id > 0 ? id : cluster.worker!.id;
}

type ClusterMessage =
  | { gitoku: 'listening'; port: number; url: string }
  | { gitoku: 'listen-failed'; code: string | null; message: string }
  | { gitoku: 'signal'; name: string };

const RELAYED_SIGNALS = new Set(['jobs', 'events']);

function isClusterMessage(msg: unknown): msg is ClusterMessage {
  return typeof msg === 'object' && msg !== null && typeof (msg as { gitoku?: unknown }).gitoku === 'string';
}

/**
 * Relays the in-process signals of SQLite deployments between the processes of a cluster: an emit here
 * also goes to the primary, which re-emits it locally and passes it on to every other worker.
 * `send` forwards one signal out of this process.
 */
function relayEmits(signals: EventEmitter, send: (name: string) => void): (name: string) => void {
  const localEmit = signals.emit.bind(signals);
  signals.emit = ((name: string | symbol, ...args: unknown[]) => {
    if (typeof name === 'string' && RELAYED_SIGNALS.has(name)) send(name);
    return localEmit(name, ...args);
  }) as typeof signals.emit;
  return (name: string) => void localEmit(name);
}

/** In a worker: relays signals through the primary (SQLite only). */
export function bridgeWorkerSignals(signals: EventEmitter, dialect: 'sqlite' | 'postgres'): void {
  if (!cluster.isWorker || dialect !== 'sqlite') return;
  const receive = relayEmits(signals, (name) => {
    if (process.connected) process.send!({ gitoku: 'signal', name } satisfies ClusterMessage, undefined, undefined, () => undefined);
  });
  process.on('message', (msg: unknown) => {
    if (isClusterMessage(msg) && msg.gitoku === 'signal' && RELAYED_SIGNALS.has(msg.name)) receive(msg.name);
  });
}

/** In a worker: tells the primary it listens (or why it cannot). */
export function reportListening(port: number, url: string): void {
  process.send?.({ gitoku: 'listening', port, url } satisfies ClusterMessage);
}

export function reportListenFailure(err: unknown): void {
  const e = err as NodeJS.ErrnoException;
  process.send?.({ gitoku: 'listen-failed', code: e?.code ?? null, message: e?.message ?? String(err) } satisfies ClusterMessage);
}

export interface WorkerPool {
  /** The port the workers listen on and the URL they answer at (from the first worker that listened). */
  port: number;
  url: string;
  /** Stops every worker gracefully (SIGTERM, then SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
}

export interface WorkerPoolOptions {
  count: number;
  /** Extra command-line arguments are the primary's own (cluster re-runs this script in each worker). */
  log: (line: string) => void;
  /** SQLite: relay in-process signals between the primary (`signals`) and the workers. */
  signals: EventEmitter | null;
}

const FIRST_RESTART_DELAY_MS = 500;
const MAX_RESTART_DELAY_MS = 30_000;
/** A worker that lived this long before dying is restarted without back-off. */
const HEALTHY_UPTIME_MS = 30_000;

/**
 * In the primary: forks `count` workers (each re-runs this command with GITOKU_WORKER_ID=1…N) and
 * resolves once all of them listen. A failure to listen at start-up (port in use …) stops them all
 * and rejects with that error; later deaths are restarted with back-off.
 */
export function startWorkerPool(opts: WorkerPoolOptions): Promise<WorkerPool> {
  let stopping = false;
  let started = false;
  const slots = new Map<number, { worker: Worker; startedAt: number; delay: number }>();
  const listening = new Set<number>();
  let address: { port: number; url: string } | null = null;
  const receive = opts.signals ? relayEmits(opts.signals, (name) => broadcast(name, null)) : null;

  function broadcast(name: string, except: Worker | null): void {
    for (const { worker } of slots.values()) {
      if (worker !== except && worker.isConnected()) worker.send({ gitoku: 'signal', name } satisfies ClusterMessage, undefined, () => undefined);
    }
  }

  return new Promise<WorkerPool>((resolve, reject) => {
    const fail = (err: Error) => {
      if (started || stopping) return;
      stopping = true;
      for (const { worker } of slots.values()) worker.process.kill('SIGKILL');
      reject(err);
    };

    const fork = (slot: number, delay: number) => {
      const worker = cluster.fork({ GITOKU_WORKER_ID: String(slot) });
      slots.set(slot, { worker, startedAt: Date.now(), delay });
      worker.on('message', (msg: unknown) => {
        if (!isClusterMessage(msg)) return;
        if (msg.gitoku === 'signal') {
          if (!RELAYED_SIGNALS.has(msg.name) || !receive) return;
          receive(msg.name);
          broadcast(msg.name, worker);
        } else if (msg.gitoku === 'listening') {
          address ??= { port: msg.port, url: msg.url };
          listening.add(slot);
          if (started) opts.log(`worker ${slot} (pid ${worker.process.pid}) is serving again`);
          if (!started && listening.size === opts.count) {
            started = true;
            resolve({ ...address, stop });
          }
        } else if (msg.gitoku === 'listen-failed') {
          const err = Object.assign(new Error(msg.message), { code: msg.code ?? undefined });
          if (!started) fail(err);
          else opts.log(`worker ${slot} cannot listen: ${msg.message}`);
        }
      });
      worker.on('exit', (code, signal) => {
        if (slots.get(slot)?.worker !== worker) return;
        listening.delete(slot);
        if (stopping) return;
        if (!started) return fail(new Error(`worker ${slot} exited during start-up (${signal ?? `exit code ${code}`})`));
        const lived = Date.now() - slots.get(slot)!.startedAt;
        const next = lived >= HEALTHY_UPTIME_MS ? FIRST_RESTART_DELAY_MS : Math.min(MAX_RESTART_DELAY_MS, delay * 2);
        const wait = lived >= HEALTHY_UPTIME_MS ? 0 : delay;
        opts.log(`worker ${slot} (pid ${worker.process.pid}) died (${signal ?? `exit code ${code}`}) after ${Math.round(lived / 1000)} s; restarting it${wait ? ` in ${wait} ms` : ''}`);
        const timer = setTimeout(() => {
          if (!stopping) fork(slot, next);
        }, wait);
        timer.unref();
      });
    };

    const stop = async (graceMs = 10_000): Promise<void> => {
      stopping = true;
      const exits = [...slots.values()].map(({ worker }) =>
        worker.isDead()
          ? Promise.resolve()
          : new Promise<void>((done) => {
              const timer = setTimeout(() => worker.process.kill('SIGKILL'), graceMs);
              worker.once('exit', () => {
                clearTimeout(timer);
                done();
              });
              worker.process.kill('SIGTERM');
            }),
      );
      await Promise.all(exits);
    };

    for (let slot = 1; slot <= opts.count; slot++) fork(slot, FIRST_RESTART_DELAY_MS);
  });
}
