import type { AgentDriver } from './types.ts';
import { scriptDriver } from './script.ts';
import { codexDriver } from './codex.ts';
import { claudeDriver } from './claude.ts';
import { openaiDriver } from './openai.ts';
import { commandDriver } from './command.ts';

const drivers = new Map<string, AgentDriver>([scriptDriver, codexDriver, claudeDriver, openaiDriver, commandDriver].map((d) => [d.name, d]));

export function driverFor(name: string): AgentDriver | undefined {
  return drivers.get(name);
}
