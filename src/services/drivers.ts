import type { DriverName } from '../domain/runs.ts';
import { DRIVERS } from '../domain/runs.ts';
import { checkScriptPrompt } from '../domain/script.ts';

export interface DriverInfo {
  name: DriverName;
  label: string;
  available: boolean;
  reason: string | null;
  defaultModel: string;
  models: string[];
}

/** Which agent drivers this server offers. Real CLIs and model endpoints arrive with their own issue. */
export function listDrivers(): DriverInfo[] {
  return DRIVERS.map((name) =>
    name === 'script'
      ? { name, label: 'Scripted (deterministic, offline)', available: true, reason: null, defaultModel: 'script', models: ['script'] }
      : { name, label: name, available: false, reason: `the ${name} driver is not installed on this server yet`, defaultModel: '', models: [] },
  );
}

export function findDriver(name: string): DriverInfo | undefined {
  return listDrivers().find((d) => d.name === name);
}

/** Driver-specific validation of a prompt before anything is created; an error message or null. */
export function checkPromptForDriver(driver: DriverName, prompt: string): string | null {
  return driver === 'script' ? checkScriptPrompt(prompt) : null;
}
