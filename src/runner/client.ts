/** HTTP client for the runner protocol (src/web/routes/runner.ts). */

export interface ClaimedJob {
  id: number;
  kind: string;
  attempt: number;
  lease_ms: number;
  /** This runner's id on the server (snapshots named in a payload belong to a runner by id). */
  runner_id?: number;
  payload: unknown;
}

/** A run's checkpoint as the runner reports it (its commit already pushed to the step's hidden ref). */
export interface CheckpointReport {
  attempt: number;
  step: number;
  trace_event_id: null;
  /** The checkpoint's place in the attempt's trace: the seq of the last event emitted before it. */
  trace_seq: number;
  commit_sha: string;
  final: boolean;
  snapshot: { id: string; mode: 'overlay' | 'copy'; bytes: number } | null;
  setup_cache_key?: string;
}

/** The server no longer lets this runner hold the job (409): another runner took it over, or it ended. */
export class LeaseLostError extends Error {}

/**
 * The server rejected this runner's token (401): the runner record was deleted or its token replaced.
 * `generation` is the client's token generation the request was sent with, so that an answer to a
 * request sent before a re-registration is not mistaken for a rejection of the new token.
 */
export class RunnerAuthError extends Error {
  constructor(
    message: string,
    readonly generation: number,
  ) {
    super(message);
  }
}

export class RunnerClient {
  private currentToken: string;
  private tokenGeneration = 0;
  private readonly rejectionListeners: ((err: RunnerAuthError) => void)[] = [];

  constructor(
    readonly serverUrl: string,
    token: string,
  ) {
    this.currentToken = token;
  }

  static async register(serverUrl: string, registrationToken: string, name: string, labels: string[], version: string): Promise<{ id: number; token: string }> {
    const res = await fetch(`${serverUrl.replace(/\/+$/, '')}/api/v1/runner/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: registrationToken, name, labels, version }),
    });
    const body = (await res.json().catch(() => ({}))) as { id?: number; token?: string; message?: string };
    if (res.status !== 201 || !body.token) throw new Error(`registration failed (${res.status}): ${body.message ?? 'no token returned'}`);
    return { id: body.id!, token: body.token };
  }

  /** Which token this client presents: bumped by every `setToken`. */
  get generation(): number {
    return this.tokenGeneration;
  }

  /** Switches to a new runner token (after a re-registration); requests in flight keep the old one. */
  setToken(token: string): void {
    this.currentToken = token;
    this.tokenGeneration++;
  }

  /** Called on every 401 answer, whoever made the request (a job's trace upload, a heartbeat, a claim). */
  onCredentialsRejected(listener: (err: RunnerAuthError) => void): void {
    this.rejectionListeners.push(listener);
  }

  private async post(path: string, body: unknown, signal?: AbortSignal): Promise<{ res: Response; generation: number }> {
    const generation = this.tokenGeneration;
    const res = await fetch(`${this.serverUrl.replace(/\/+$/, '')}/api/v1/runner${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${this.currentToken}` },
      body: JSON.stringify(body ?? {}),
      signal,
    });
    if (res.status === 401) {
      const message = ((await res.json().catch(() => ({}))) as { message?: string }).message ?? 'Bad runner credentials';
      const err = new RunnerAuthError(`the server rejected this runner's token: ${message}`, generation);
      for (const listener of this.rejectionListeners) {
        try {
          listener(err);
        } catch (e) {
          console.error('[runner] credentials listener failed:', e);
        }
      }
      throw err;
    }
    return { res, generation };
  }

  private async json<T>({ res }: { res: Response }): Promise<T> {
    if (res.status === 409) throw new LeaseLostError(((await res.json().catch(() => ({}))) as { message?: string }).message ?? 'lease lost');
    if (!res.ok) throw new Error(`runner protocol: HTTP ${res.status}: ${(await res.text().catch(() => '')).slice(0, 500)}`);
    return (await res.json()) as T;
  }

  /** Long-polls for a job; null when none arrived within `waitSeconds`. */
  async claim(waitSeconds: number, signal?: AbortSignal): Promise<ClaimedJob | null> {
    const answer = await this.post(`/claim?wait=${waitSeconds}`, {}, signal);
    if (answer.res.status === 204) return null;
    return (await this.json<{ job: ClaimedJob }>(answer)).job;
  }

  /** Long-polls for up to `max` jobs at once (one claim statement on the server); [] when none arrived within `waitSeconds`. */
  async claimMany(waitSeconds: number, max: number, signal?: AbortSignal): Promise<ClaimedJob[]> {
    const answer = await this.post(`/claim?wait=${waitSeconds}&max=${max}`, {}, signal);
    if (answer.res.status === 204) return [];
    const body = await this.json<{ job: ClaimedJob; jobs?: ClaimedJob[] }>(answer);
    return body.jobs ?? [body.job];
  }

  /**
   * Long-polls for up to `max` jobs and, in the same request, reports results of jobs that finished
   * (recorded before the poll looks for jobs): the jobs claimed, and which results were accepted or lost.
   */
  async claimAndComplete(waitSeconds: number, max: number, complete: { id: number; result: Record<string, unknown> }[], signal?: AbortSignal): Promise<{ jobs: ClaimedJob[]; completed: number[]; lost: number[] }> {
    const answer = await this.post(`/claim?wait=${waitSeconds}&max=${max}`, complete.length > 0 ? { complete } : {}, signal);
    if (answer.res.status === 204) return { jobs: [], completed: [], lost: [] };
    const body = await this.json<{ jobs: ClaimedJob[]; completed?: { id: number }[]; lost?: number[] }>(answer);
    return { jobs: body.jobs, completed: (body.completed ?? []).map((j) => j.id), lost: body.lost ?? [] };
  }

  /** Extends the leases of many jobs in one request: which are still held (and whether to cancel them), which were lost. */
  async heartbeatMany(jobIds: number[], busy: number): Promise<{ jobs: { id: number; cancel_requested: boolean }[]; lost: number[] }> {
    return this.json(await this.post('/jobs/heartbeat', { jobs: jobIds, busy }));
  }

  async heartbeat(jobId: number, busy: number): Promise<{ cancel_requested: boolean }> {
    return this.json(await this.post(`/jobs/${jobId}/heartbeat`, { busy }));
  }

  async events(jobId: number, attempt: number, events: { kind: string; data: unknown }[]): Promise<void> {
    await this.json(await this.post(`/jobs/${jobId}/events`, { attempt, events }));
  }

  async complete(jobId: number, result: unknown): Promise<void> {
    await this.json(await this.post(`/jobs/${jobId}/complete`, { result }));
  }

  /** Reports many finished jobs in one request: which were accepted, and which this runner no longer held (lost: their outcome is not its to report). */
  async completeMany(jobs: { id: number; result: Record<string, unknown> }[]): Promise<{ completed: number[]; lost: number[] }> {
    const body = await this.json<{ jobs: { id: number }[]; lost: number[] }>(await this.post('/jobs/complete', { jobs }));
    return { completed: body.jobs.map((j) => j.id), lost: body.lost };
  }

  async fail(jobId: number, error: string, retryable: boolean): Promise<void> {
    await this.json(await this.post(`/jobs/${jobId}/fail`, { error, retryable }));
  }

  async checkpoint(jobId: number, report: CheckpointReport): Promise<void> {
    await this.json(await this.post(`/jobs/${jobId}/checkpoints`, report));
  }

  /** Replaces this runner's snapshot inventory on the server. */
  async reportSnapshots(snapshots: { id: string; mode: string; bytes: number; parent: string | null; created_at: string; last_used_at: string }[]): Promise<void> {
    const res = await fetch(`${this.serverUrl.replace(/\/+$/, '')}/api/v1/runner/snapshots`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${this.currentToken}` },
      body: JSON.stringify({ snapshots }),
    });
    if (!res.ok && res.status !== 204) throw new Error(`runner protocol: HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
  }

  async cancelled(jobId: number, reason: string): Promise<void> {
    await this.json(await this.post(`/jobs/${jobId}/cancelled`, { reason }));
  }
}
