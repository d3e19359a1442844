/**
 * The runner-protocol worker of the queue drain benchmark, in its own process (forked by
 * bench/queueProtocol.ts): 'start' starts a ProtocolWorker against BENCH_SERVER_URL, 'stop' stops it;
 * it reports its counts and the enqueue → start latencies over IPC.
 */
import { performance } from 'node:perf_hooks';
import { RunnerClient, type ClaimedJob } from '../src/runner/client.ts';

/** What the worker process reports (every 5 ms while it has news, and once more when stopped). */
export interface WorkerReport {
  started: number;
  recorded: number;
  latencies: number[];
  stopped: boolean;
}

/**
 * A runner-protocol client running trivial jobs with `concurrency` slots, holding up to WINDOW × its
 * slots (running and claimed ahead): a claim then asks for a batch of up to 32 jobs, so the protocol's
 * cost per request (HTTP, authentication, two statements) is shared by many jobs. (`gitoku runner`
 * claims only its free slots: its jobs run for seconds, not microseconds.)
 */
const WINDOW = 4;
export class ProtocolWorker {
  started = 0;
  recorded = 0;
  private running = true;
  private active = 0;
  private readonly ahead: ClaimedJob[] = [];
  private finished: { id: number; result: Record<string, unknown> }[] = [];
  private readonly abort = new AbortController();
  /** Jobs asked for by the polls in flight. */
  private asking = 0;
  private claimWaiters: (() => void)[] = [];
  private wakeComplete: (() => void) | null = null;
  private readonly loops: Promise<void>[];

  constructor(
    private readonly client: RunnerClient,
    private readonly concurrency: number,
    private readonly onStart: (payload: unknown) => void,
  ) {
    // Two polls: while one is in flight, slots freed meanwhile are asked for by the other.
    this.loops = [this.claimLoop(), this.claimLoop(), this.completeLoop()];
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    this.wakeClaims();
    this.wakeComplete?.();
    await Promise.all(this.loops);
  }

  private wakeClaims(): void {
    for (const wake of this.claimWaiters.splice(0)) wake();
  }

  private async claimLoop(): Promise<void> {
    while (this.running) {
      const want = WINDOW * this.concurrency - this.active - this.ahead.length - this.asking;
      if (want <= 0) {
        await new Promise<void>((resolve) => this.claimWaiters.push(resolve));
        // Let the jobs finishing in the same turn free their slots: one claim then asks for all of them.
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      this.asking += want;
      // The results of the jobs finished since the last request ride along.
      const batch = this.finished;
      this.finished = [];
      try {
        const answer = await this.client.claimAndComplete(25, want, batch, this.abort.signal);
        this.recorded += answer.completed.length;
        this.ahead.push(...answer.jobs);
      } catch (err) {
        // Not known whether they were recorded: report them again (a repeated completion is only reported lost).
        this.finished.unshift(...batch);
        if (!this.running) return;
        throw err;
      } finally {
        this.asking -= want;
      }
      this.startJobs();
      this.wakeClaims();
    }
  }

  private startJobs(): void {
    while (this.active < this.concurrency && this.ahead.length > 0) {
      const job = this.ahead.shift()!;
      this.active++;
      this.started++;
      void Promise.resolve(job.payload).then((payload) => {
        this.onStart(payload);
        this.finished.push({ id: job.id, result: {} });
        this.active--;
        this.wakeComplete?.();
        this.startJobs();
        this.wakeClaims();
      });
    }
  }

  private async completeLoop(): Promise<void> {
    while (this.running || this.finished.length > 0) {
      if (this.finished.length === 0) {
        await new Promise<void>((resolve) => (this.wakeComplete = resolve));
        this.wakeComplete = null;
        // Let the jobs finishing in the same turn join this batch.
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      const batch = this.finished;
      this.finished = [];
      const { completed } = await this.client.completeMany(batch);
      this.recorded += completed.length;
    }
  }
}


const client = new RunnerClient(process.env.BENCH_SERVER_URL!, process.env.BENCH_RUNNER_TOKEN!);
const concurrency = Number(process.env.BENCH_CONCURRENCY);
let worker: ProtocolWorker | null = null;
let started = 0;
let recorded = 0;
let latencies: number[] = [];
let last = '';

function report(stopped: boolean): void {
  const counts = `${started + (worker?.started ?? 0)}/${recorded + (worker?.recorded ?? 0)}`;
  if (!stopped && counts === last && latencies.length === 0) return;
  last = counts;
  const message: WorkerReport = { started: started + (worker?.started ?? 0), recorded: recorded + (worker?.recorded ?? 0), latencies, stopped };
  latencies = [];
  process.send!(message);
}

const ticker = setInterval(() => report(false), 5);
process.on('message', (m: string) => {
  if (m === 'start') {
    worker = new ProtocolWorker(client, concurrency, (payload) => {
      const t = (payload as { t?: number } | null)?.t;
      if (t) latencies.push(performance.timeOrigin + performance.now() - t);
    });
  } else if (m === 'stop') {
    const w = worker;
    void (w ? w.stop() : Promise.resolve()).then(() => {
      started += w?.started ?? 0;
      recorded += w?.recorded ?? 0;
      worker = null;
      report(true);
    });
  }
});
process.on('disconnect', () => {
  clearInterval(ticker);
  process.exit(0);
});
report(true);
