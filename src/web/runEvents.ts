import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { WebEnv } from './context.ts';
import type { Run, RunEvent } from '../db/schema.ts';
import { getRunById, listRunEvents } from '../services/runs.ts';

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

/** A trace event as the API and the run page send it. */
export function runEventJson(e: RunEvent) {
  let data: unknown;
  try {
    data = JSON.parse(e.data);
  } catch {
    data = { value: e.data };
  }
  return { id: e.id, attempt: e.attempt, seq: e.seq, kind: e.kind, data, created_at: e.created_at.replace(/\.\d{3}Z$/, 'Z') };
}

/**
 * A run's trace as Server-Sent Events, for the API and the run page alike: `trace` {id, attempt, seq,
 * kind, data, created_at}, `status` {status} when it changes, and `end` {status, commit_sha, error}
 * once the run finished and every event was sent. Woken by the run's in-process signal.
 */
export function streamRunEvents(c: Context<WebEnv>, run: Run, after: number) {
  const app = c.get('app');
  return streamSSE(c, async (stream) => {
    let cursor = after;
    let wake: () => void = () => undefined;
    const onSignal = () => wake();
    app.signals.on(`run:${run.id}`, onSignal);
    stream.onAbort(() => {
      app.signals.off(`run:${run.id}`, onSignal);
      wake();
    });
    try {
      let lastStatus = '';
      while (!stream.aborted) {
        const events = await listRunEvents(app, run.id, cursor, 500);
        for (const e of events) {
          await stream.writeSSE({ id: String(e.id), event: 'trace', data: JSON.stringify(runEventJson(e)) });
          cursor = e.id;
        }
        if (events.length === 500) continue;
        const current = await getRunById(app.db, run.id);
        if (!current || FINISHED.has(current.status)) {
          if ((await listRunEvents(app, run.id, cursor, 1)).length) continue;
          await stream.writeSSE({ event: 'end', data: JSON.stringify({ status: current?.status ?? 'cancelled', commit_sha: current?.commit_sha ?? null, error: current?.error ?? null }) });
          return;
        }
        if (current.status !== lastStatus) {
          lastStatus = current.status;
          await stream.writeSSE({ event: 'status', data: JSON.stringify({ status: current.status }) });
        } else {
          await stream.write(': keep-alive\n\n');
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 15_000);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      app.signals.off(`run:${run.id}`, onSignal);
    }
  });
}
