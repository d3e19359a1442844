import type { NetworkPolicy } from '../domain/network.ts';
import { DEFAULT_NETWORK_POLICY } from '../domain/network.ts';
import { driverFor } from './drivers/index.ts';
import { AgentFailure, type DriverContext, type DriverResult, type TraceEvent } from './drivers/types.ts';
import { openRunNetwork } from './network.ts';
import type { SandboxBackend, Workspace } from './sandbox.ts';

export interface AgentPhase {
  driver: string;
  model: string;
  prompt: string;
  env: Record<string, string>;
  network?: NetworkPolicy;
  timeout_ms: number;
}

/**
 * Runs an agent (a run's or a reviewer's) in a prepared workspace, within the repository's network
 * policy: the proxies of its network live exactly as long as the agent. `addSecret` hears of the
 * per-run model token, for redaction.
 */
export async function runAgentPhase(sandbox: SandboxBackend, ws: Workspace, phase: AgentPhase, signal: AbortSignal, emit: (e: TraceEvent) => void, addSecret: (secret: string) => void, hooks: Pick<DriverContext, 'afterStep' | 'resumeSession'> = {}): Promise<DriverResult> {
  const driver = driverFor(phase.driver);
  if (!driver) throw new AgentFailure(`this runner has no "${phase.driver}" driver`);
  const network = await openRunNetwork(sandbox, ws.root, phase.network ?? DEFAULT_NETWORK_POLICY, driver.name, phase.env);
  try {
    if (network.token) addSecret(network.token);
    emit({ kind: 'status', data: { message: `Running the ${driver.name} agent${phase.model ? ` (${phase.model})` : ''}; its sandbox reaches ${network.describe}` } });
    return await driver.run({ prompt: phase.prompt, model: phase.model, workspace: ws, sandbox: network.sandbox, env: network.agentEnv, timeoutMs: phase.timeout_ms, signal, emit, ...hooks });
  } finally {
    await network.close();
  }
}
