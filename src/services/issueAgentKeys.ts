import type { AppContext } from './app.ts';
import type { RepositoryAccess } from './repositories.ts';
import { listDrivers } from './drivers.ts';
import { agentsAtRef } from './agents.ts';

/**
 * What an issue can be assigned to besides people (`agent:<key>`): the server's drivers (codex,
 * claude, openai, command, script) and the repository's named agents (services/agents.ts) at the head
 * of its default branch. A named agent shadows a driver of the same name.
 */
export interface IssueAgent {
  key: string;
  name: string;
  kind: 'driver' | 'agent';
  available: boolean;
  /** Why it cannot run (null when it can). */
  reason: string | null;
  description: string;
}

export async function listIssueAgents(app: AppContext, access: RepositoryAccess): Promise<IssueAgent[]> {
  const manifest = access.repo.is_empty ? null : await agentsAtRef(access, access.repo.default_branch).catch(() => null);
  const named: IssueAgent[] = (manifest?.agents ?? []).map((d) => ({ key: d.agent.key, name: d.agent.name, kind: 'agent', available: true, reason: null, description: d.agent.description }));
  const keys = new Set(named.map((a) => a.key));
  const drivers: IssueAgent[] = listDrivers(app.config.agents)
    .filter((d) => !keys.has(d.name))
    .map((d) => ({ key: d.name, name: d.label, kind: 'driver', available: d.available, reason: d.reason, description: d.label }));
  return [...named, ...drivers];
}

export async function findIssueAgent(app: AppContext, access: RepositoryAccess, key: string): Promise<IssueAgent | null> {
  return (await listIssueAgents(app, access)).find((a) => a.key === key) ?? null;
}
