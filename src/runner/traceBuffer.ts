import { LeaseLostError, RunnerAuthError, type RunnerClient } from './client.ts';
import type { TraceEvent } from './drivers/types.ts';

/**
 * Batches trace events to the server (output every 250 ms or 200 events; steps at once, or right after the upload under way), merging consecutive log output
 * of the same stream so a chatty command does not become thousands of rows. Uploads never reject:
 * a failed upload is logged, and once the server says the job is no longer this runner's (409) or
 * no longer accepts the runner's token (401), the buffer stops uploading and drops what it holds.
 */
const BATCH_MS = 250;

export class TraceBuffer {
  private pending: TraceEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private stopped = false;
  private lastFlushAt = 0;
  private timerDue = 0;
  /** Uploads started and not yet answered. */
  private uploading = 0;
  /** A step is pending behind an upload under way. */
  private stepWaiting = false;
  /** Events pushed so far: the server numbers an attempt's events 1, 2, … in this order (run_events.seq). */
  pushed = 0;

  constructor(
    private readonly client: RunnerClient,
    private readonly jobId: number,
    private readonly attempt: number,
    private readonly redact: (text: string) => string,
  ) {}

  push(event: TraceEvent): void {
    this.pushed++;
    if (this.stopped) return;
    const last = this.pending[this.pending.length - 1];
    if (event.kind === 'log' && last?.kind === 'log' && last.data.stream === event.data.stream && last.data.text.length < 16_384) {
      last.data.text += event.data.text;
    } else {
      this.pending.push(structuredClone(event));
    }
    // Output is batched (every 250 ms or 200 events); a step — a command, an edit, a message, a status —
    // goes at once when no upload is under way (else right after it, with whatever came meanwhile), so
    // the run page shows it as it happens and a burst of steps costs one request per round trip.
    if (event.kind !== 'log') {
      if (this.uploading === 0 || this.pending.length >= 200) void this.flush();
      else this.stepWaiting = true; // sent when the upload under way is answered
      return;
    }
    const now = Date.now();
    const due = Math.max(now, this.lastFlushAt + BATCH_MS);
    if (this.pending.length >= 200 || due <= now) void this.flush();
    else if (!this.timer || due < this.timerDue) {
      if (this.timer) clearTimeout(this.timer);
      this.timerDue = due;
      this.timer = setTimeout(() => void this.flush(), due - now);
    }
  }

  /** Stops uploading: the job is no longer this runner's to report. */
  discard(): void {
    this.stopped = true;
    this.pending = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Uploads what is pending; resolves (never rejects) once every upload so far has been attempted. */
  flush(): Promise<void> {
    this.lastFlushAt = Date.now();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending.splice(0);
    this.stepWaiting = false;
    if (batch.length === 0 || this.stopped) return this.flushing;
    this.uploading++;
    this.flushing = this.flushing
      .then(() => {
        if (this.stopped) return;
        const redacted = batch.map((e) => JSON.parse(this.redact(JSON.stringify(e))) as TraceEvent);
        return this.client.events(this.jobId, this.attempt, redacted);
      })
      .finally(() => {
        this.uploading--;
        // Steps that arrived during the upload go now, with the output gathered meanwhile.
        if (this.uploading === 0 && this.stepWaiting && this.pending.length > 0) void this.flush();
      })
      .catch((err: unknown) => {
        if (err instanceof LeaseLostError || err instanceof RunnerAuthError) {
          if (!this.stopped) console.error(`[runner] job ${this.jobId}: trace upload stopped: ${err.message}`);
          this.discard();
          return;
        }
        console.error(`[runner] job ${this.jobId}: trace upload failed: ${err instanceof Error ? err.message : String(err)}`);
      });
    return this.flushing;
  }
}
