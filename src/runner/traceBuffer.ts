import type { RunnerClient } from './client.ts';
import type { TraceEvent } from './drivers/types.ts';

/**
 * Batches trace events to the server (every 250 ms or 200 events), merging consecutive log output
 * of the same stream so a chatty command does not become thousands of rows.
 */
export class TraceBuffer {
  private pending: TraceEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: RunnerClient,
    private readonly jobId: number,
    private readonly attempt: number,
    private readonly redact: (text: string) => string,
  ) {}

  push(event: TraceEvent): void {
    const last = this.pending[this.pending.length - 1];
    if (event.kind === 'log' && last?.kind === 'log' && last.data.stream === event.data.stream && last.data.text.length < 16_384) {
      last.data.text += event.data.text;
    } else {
      this.pending.push(structuredClone(event));
    }
    if (this.pending.length >= 200) void this.flush();
    else if (!this.timer) this.timer = setTimeout(() => void this.flush(), 250);
  }

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending.splice(0);
    if (batch.length === 0) return this.flushing;
    const redacted = batch.map((e) => JSON.parse(this.redact(JSON.stringify(e))) as TraceEvent);
    this.flushing = this.flushing.then(() => this.client.events(this.jobId, this.attempt, redacted)).catch((err) => console.error('trace upload failed:', (err as Error).message));
    return this.flushing;
  }
}
