import type { AppContext } from './app.ts';
import type { Job } from '../db/schema.ts';
import type { TraceEventInput } from './runs.ts';

/**
 * What the runner protocol needs to know about a kind of job: how to build the runner's payload at
 * claim time, where trace events go, and what completion, failure and cancellation mean. Agent runs,
 * workflow runs and reviews each register one; the protocol routes and the sweeper stay generic.
 */
export interface JobKindHandler {
  /** The runner's payload, or null when the job's subject is gone (the job is then dropped). */
  prepare(app: AppContext, job: Job): Promise<unknown | null>;
  appendEvents(app: AppContext, job: Job, attempt: number, events: TraceEventInput[]): Promise<void>;
  /** Accepts a result; false when it was not accepted (lease lost, invalid result). */
  complete(app: AppContext, job: Job, owner: string, result: unknown): Promise<boolean>;
  /** Accepts many results of this kind at once (a runner's batched completions); the ids accepted. Without it, `complete` runs per job. */
  completeMany?(app: AppContext, items: readonly { job: Job; result: unknown }[], owner: string): Promise<Set<number>>;
  fail(app: AppContext, job: Job, owner: string, error: string, retryable: boolean): Promise<'retry' | 'failed' | null>;
  cancelled(app: AppContext, job: Job, owner: string, reason: string): Promise<boolean>;
  /** A job that ended without its runner (expired lease, no attempts left, or cancelled). */
  closed(app: AppContext, job: Job): Promise<void>;
}

const handlers = new Map<string, JobKindHandler>();

export function registerJobKind(kind: string, handler: JobKindHandler): void {
  handlers.set(kind, handler);
}

export function jobKindHandler(kind: string): JobKindHandler | undefined {
  return handlers.get(kind);
}

export function registeredJobKinds(): string[] {
  return [...handlers.keys()];
}

/** What a server-executed job's attempt came to: done, worth another attempt later, or failed for good. */
export type ServerJobOutcome = { status: 'succeeded'; result?: unknown } | { status: 'retry'; error: string } | { status: 'failed'; error: string };

/**
 * A kind of job the server executes itself rather than a runner (webhook deliveries): the server's
 * job worker (services/serverJobs.ts) claims these kinds from the same queue, with the same leases,
 * and retries with the queue's backoff. Runners never claim them (they claim `registeredJobKinds()`).
 */
export interface ServerJobKindHandler {
  /** `signal` aborts when the server stops: the attempt then ends without an outcome (the job is handed back). */
  execute(app: AppContext, job: Job, signal: AbortSignal): Promise<ServerJobOutcome>;
  /** The job ended for good without a recorded outcome (no attempts left, expired lease, cancelled): close its subject. */
  closed?(app: AppContext, job: Job): Promise<void>;
}

const serverHandlers = new Map<string, ServerJobKindHandler>();

export function registerServerJobKind(kind: string, handler: ServerJobKindHandler): void {
  serverHandlers.set(kind, handler);
}

export function serverJobKindHandler(kind: string): ServerJobKindHandler | undefined {
  return serverHandlers.get(kind);
}

export function registeredServerJobKinds(): string[] {
  return [...serverHandlers.keys()];
}
