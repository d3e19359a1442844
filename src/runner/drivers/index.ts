import type { AgentDriver } from './types.ts';
import { scriptDriver } from './script.ts';

const drivers = new Map<string, AgentDriver>([[scriptDriver.name, scriptDriver]]);

export function driverFor(name: string): AgentDriver | undefined {
  return drivers.get(name);
}
