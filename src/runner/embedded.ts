import type { AppContext } from '../services/app.ts';
import { createEmbeddedRunner } from '../services/runners.ts';
import { RunnerClient } from './client.ts';
import { hostname } from 'node:os';
import { JobRunner } from './runner.ts';
import { detectSandbox } from './sandbox.ts';

/**
 * The runner inside `gitoku serve`: its own runner record and token, and the same HTTP protocol as a
 * remote runner (pointed at this process's listening port) — one runner code path.
 */
export async function startEmbeddedRunner(app: AppContext, serverUrl: string, concurrency = 2): Promise<JobRunner> {
  const { token } = await createEmbeddedRunner(app, `embedded@${hostname()}`);
  const sandbox = await detectSandbox('auto');
  const runner = new JobRunner({ client: new RunnerClient(serverUrl, token), sandbox, concurrency, log: (l) => console.log(`[runner] ${l}`) });
  runner.start();
  return runner;
}
