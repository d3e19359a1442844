import type { DriverName } from '../domain/runs.ts';
import { DRIVERS } from '../domain/runs.ts';
import { checkScriptPrompt } from '../domain/script.ts';
import type { AgentSettings } from '../config/index.ts';
import { findExecutable } from '../runner/drivers/process.ts';

export interface DriverInfo {
  name: DriverName;
  label: string;
  available: boolean;
  /** Why the driver cannot be used (null when it can): a missing program or missing credentials. */
  reason: string | null;
  defaultModel: string;
  models: string[];
  /** The server's default driver (GITOKU_DEFAULT_DRIVER), preselected in the New-task form. */
  default: boolean;
}

/**
 * Model names offered per driver unless the server lists its own (GITOKU_<DRIVER>_MODELS, the first
 * being the default). `default` lets the CLI use the model it is configured with (no --model flag).
 */
const BUILTIN_MODELS: Record<'codex' | 'claude' | 'command', string[]> = {
  codex: ['default', 'gpt-5.5', 'gpt-5.4', 'gpt-5.3-codex'],
  claude: ['sonnet', 'opus', 'haiku', 'default'],
  command: ['default'],
};

const LABELS: Record<DriverName, string> = {
  script: 'Scripted (deterministic, offline)',
  codex: 'Codex CLI',
  claude: 'Claude Code',
  openai: 'OpenAI-compatible model',
  command: 'Custom command',
};

function info(name: DriverName, settings: AgentSettings, models: string[], reason: string | null): DriverInfo {
  return { name, label: LABELS[name], available: reason === null && models.length > 0, reason, defaultModel: models[0] ?? '', models, default: settings.defaultDriver === name };
}

function describe(name: DriverName, settings: AgentSettings): DriverInfo {
  switch (name) {
    case 'script':
      return info(name, settings, ['script'], null);
    case 'codex': {
      const s = settings.codex;
      const bin = s.bin ?? 'codex';
      const reason = !findExecutable(bin)
        ? s.bin
          ? `the Codex CLI was not found at ${s.bin} (GITOKU_CODEX_BIN)`
          : 'the Codex CLI is not installed on this server (npm install -g @openai/codex, or set GITOKU_CODEX_BIN)'
        : !s.apiKey && !s.baseUrl
          ? 'no credentials: set GITOKU_CODEX_API_KEY (or GITOKU_CODEX_BASE_URL for a provider without a key)'
          : null;
      return info(name, settings, s.models ?? BUILTIN_MODELS.codex, reason);
    }
    case 'claude': {
      const s = settings.claude;
      const bin = s.bin ?? 'claude';
      const reason = !findExecutable(bin)
        ? s.bin
          ? `the Claude Code CLI was not found at ${s.bin} (GITOKU_CLAUDE_BIN)`
          : 'the Claude Code CLI is not installed on this server (npm install -g @anthropic-ai/claude-code, or set GITOKU_CLAUDE_BIN)'
        : !s.apiKey && !s.oauthToken
          ? 'no credentials: set GITOKU_ANTHROPIC_API_KEY (or GITOKU_CLAUDE_OAUTH_TOKEN)'
          : null;
      return info(name, settings, s.models ?? BUILTIN_MODELS.claude, reason);
    }
    case 'openai': {
      const s = settings.openai;
      const reason = !s.baseUrl && !s.apiKey ? 'not configured: set GITOKU_OPENAI_BASE_URL (and GITOKU_OPENAI_API_KEY if the endpoint needs one)' : !s.models ? 'no models: set GITOKU_OPENAI_MODELS to the model names the endpoint serves' : null;
      return info(name, settings, s.models ?? [], reason);
    }
    case 'command': {
      const s = settings.command;
      const reason = !s.argv ? 'not configured: set GITOKU_COMMAND_DRIVER to a JSON argv template' : !findExecutable(s.argv[0]!) ? `the program ${s.argv[0]} (GITOKU_COMMAND_DRIVER) was not found` : null;
      return info(name, settings, s.models ?? BUILTIN_MODELS.command, reason);
    }
  }
}

/** Which agent drivers this server offers, each with whether it can be used and why not. */
export function listDrivers(settings: AgentSettings): DriverInfo[] {
  return DRIVERS.map((name) => describe(name, settings));
}

export function findDriver(name: string, settings: AgentSettings): DriverInfo | undefined {
  return (DRIVERS as readonly string[]).includes(name) ? describe(name as DriverName, settings) : undefined;
}

/** The server's default driver when it is available, else the scripted one. */
export function defaultDriver(settings: AgentSettings): DriverInfo {
  const preferred = describe(settings.defaultDriver, settings);
  return preferred.available ? preferred : describe('script', settings);
}

/** Driver-specific validation of a prompt before anything is created; an error message or null. */
export function checkPromptForDriver(driver: DriverName, prompt: string): string | null {
  return driver === 'script' ? checkScriptPrompt(prompt) : null;
}
