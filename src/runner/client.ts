/** HTTP client for the runner protocol (src/web/routes/runner.ts). */

export interface ClaimedJob {
  id: number;
  kind: string;
  attempt: number;
  lease_ms: number;
  payload: unknown;
}

export class LeaseLostError extends Error {}

export class RunnerClient {
  constructor(
    readonly serverUrl: string,
    private readonly token: string,
  ) {}

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

  private async post(path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
    return fetch(`${this.serverUrl.replace(/\/+$/, '')}/api/v1/runner${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${this.token}` },
      body: JSON.stringify(body ?? {}),
      signal,
    });
  }

  private async json<T>(res: Response): Promise<T> {
    if (res.status === 409) throw new LeaseLostError(((await res.json().catch(() => ({}))) as { message?: string }).message ?? 'lease lost');
    if (!res.ok) throw new Error(`runner protocol: HTTP ${res.status}: ${(await res.text()).slice(0, 500)}`);
    return (await res.json()) as T;
  }

  /** Long-polls for a job; null when none arrived within `waitSeconds`. */
  async claim(waitSeconds: number, signal?: AbortSignal): Promise<ClaimedJob | null> {
    const res = await this.post(`/claim?wait=${waitSeconds}`, {}, signal);
    if (res.status === 204) return null;
    return (await this.json<{ job: ClaimedJob }>(res)).job;
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

  async fail(jobId: number, error: string, retryable: boolean): Promise<void> {
    await this.json(await this.post(`/jobs/${jobId}/fail`, { error, retryable }));
  }

  async cancelled(jobId: number, reason: string): Promise<void> {
    await this.json(await this.post(`/jobs/${jobId}/cancelled`, { reason }));
  }
}
