import { resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { DRIVERS, type DriverName } from '../domain/runs.ts';
import { parseAllowList, type TargetPolicy } from '../domain/ssrf.ts';

/**
 * Agent driver settings (server-side; the credentials are secrets that only reach the environment of
 * the driver that needs them, see src/services/agentContext.ts).
 */
export interface AgentSettings {
  defaultDriver: DriverName;
  codex: { bin: string | null; apiKey: string | null; baseUrl: string | null; models: string[] | null; config: string | null };
  claude: { bin: string | null; apiKey: string | null; oauthToken: string | null; baseUrl: string | null; models: string[] | null; settings: string | null };
  openai: { baseUrl: string | null; apiKey: string | null; models: string[] | null; maxSteps: number; tokenBudget: number };
  command: { argv: string[] | null; models: string[] | null; env: Record<string, string> };
  /** The server's reviewer (GITOKU_REVIEW_DRIVER / _MODEL): reviews repositories that name none. Unset: automatic AI reviews stay off there. */
  review?: { driver: DriverName | null; model: string | null };
}

/** Server configuration, read from the environment (and CLI overrides) and validated once at start-up. */
export interface Config {
  dataDir: string;
  port: number;
  host: string;
  databaseUrl: string | null;
  baseUrl: string;
  signupEnabled: boolean;
  adminPassword: string | null;
  jsonBodyLimit: number;
  demo: boolean;
  /** How long a claimed job stays leased without a heartbeat before another runner may take it over. */
  jobLeaseMs: number;
  /** How long a job waits for the runner holding its snapshot (jobs.preferred_runner_id) before any runner may claim it. */
  runnerPreferenceMs: number;
  /** The embedded runner's sandbox: `auto` (bubblewrap, else no agent processes at all), `bubblewrap`, or `directory` (no isolation). */
  sandbox: 'auto' | 'bubblewrap' | 'directory';
  /**
   * Back-off after failed password checks and bad credentials (policy in services/auth.ts): the free
   * failures per (account, address) pair, the first lock and the longest one.
   */
  authLimits: { freeFailures: number; backoffMs: number; maxBackoffMs: number };
  /** Behind a reverse proxy: take the client address from the last X-Forwarded-For entry. */
  trustProxy: boolean;
  /** Tokens of memory a run's prompt may carry (GITOKU_MEMORY_BUDGET_TOKENS; 0 turns retrieval off). */
  memoryBudgetTokens: number;
  /** Which internal targets webhooks may reach (GITOKU_WEBHOOK_ALLOW_PRIVATE, GITOKU_WEBHOOK_ALLOWED_HOSTS); public ones always. */
  webhooks: TargetPolicy;
  /** The largest release asset an upload may store (GITOKU_RELEASE_ASSET_MAX_BYTES); larger ones get a 413. */
  releaseAssetMaxBytes: number;
  agents: AgentSettings;
}

const boolean = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'], { message: 'expected true or false' })
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

const httpUrl = z.url({ message: 'expected an absolute http(s) URL' }).regex(/^https?:\/\//, 'expected http:// or https://');
/** "a, b ,c" → ["a","b","c"]; the first is the driver's default model. */
const modelList = z
  .string()
  .transform((v) => v.split(',').map((m) => m.trim()).filter(Boolean))
  .refine((v) => v.length > 0, 'expected a comma-separated list of model names');

function tomlProblem(text: string): string | null {
  try {
    parseToml(text);
    return null;
  } catch (err) {
    return (err as Error).message.split('\n')[0]!;
  }
}

function jsonOf<T>(schema: z.ZodType<T>, message: string) {
  return z.string().transform((text, ctx): T => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: `${message} (not valid JSON)` });
      return z.NEVER;
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
    return parsed.data;
  });
}

const envSchema = z.object({
  GITOKU_DATA_DIR: z.string().min(1).default('./data'),
  GITOKU_PORT: z.coerce
    .number({ message: 'expected a port number' })
    .int('expected a whole number')
    .min(0, 'expected 0..65535')
    .max(65535, 'expected 0..65535')
    .default(3000),
  GITOKU_HOST: z.string().min(1).default('0.0.0.0'),
  GITOKU_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL (leave unset for the embedded SQLite database)')
    .optional(),
  GITOKU_BASE_URL: z.url({ message: 'expected an absolute http(s) URL' }).regex(/^https?:\/\//, 'expected http:// or https://').optional(),
  GITOKU_SIGNUP_ENABLED: boolean.default(true),
  GITOKU_ADMIN_PASSWORD: z.string().min(8, 'must be at least 8 characters').optional(),
  GITOKU_JSON_BODY_LIMIT: z.coerce.number().int().positive().default(1024 * 1024),
  GITOKU_DEMO: boolean.default(true),
  GITOKU_JOB_LEASE_MS: z.coerce.number().int().min(1000, 'at least 1000').max(3_600_000).default(30_000),
  GITOKU_RUNNER_PREFERENCE_MS: z.coerce.number().int().min(0).max(600_000).default(15_000),
  GITOKU_SANDBOX: z.enum(['auto', 'bubblewrap', 'directory'], { message: 'expected auto, bubblewrap or directory' }).default('auto'),
  GITOKU_AUTH_FREE_FAILURES: z.coerce.number().int().min(1, 'at least 1').max(1000).default(5),
  GITOKU_AUTH_BACKOFF_MS: z.coerce.number().int().min(1, 'at least 1').max(3_600_000).default(1000),
  GITOKU_AUTH_BACKOFF_MAX_MS: z.coerce.number().int().min(1000, 'at least 1000').max(86_400_000).default(900_000),
  GITOKU_TRUST_PROXY: boolean.default(false),
  GITOKU_MEMORY_BUDGET_TOKENS: z.coerce.number().int('expected a whole number').min(0).max(100_000).default(2000),
  GITOKU_WEBHOOK_ALLOW_PRIVATE: boolean.default(false),
  GITOKU_WEBHOOK_ALLOWED_HOSTS: z
    .string()
    .transform((text, ctx) => {
      try {
        return parseAllowList(text);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `expected host names and CIDRs separated by commas: ${(err as Error).message}` });
        return z.NEVER;
      }
    })
    .optional(),
  GITOKU_RELEASE_ASSET_MAX_BYTES: z.coerce.number().int().min(1, 'at least 1').default(2 * 1024 * 1024 * 1024),
  GITOKU_DEFAULT_DRIVER: z.enum(DRIVERS, { message: `expected one of ${DRIVERS.join(', ')}` }).default('script'),
  GITOKU_REVIEW_DRIVER: z.enum(DRIVERS, { message: `expected one of ${DRIVERS.join(', ')}` }).optional(),
  GITOKU_REVIEW_MODEL: z.string().max(255).optional(),
  GITOKU_CODEX_BIN: z.string().optional(),
  GITOKU_CODEX_API_KEY: z.string().optional(),
  GITOKU_CODEX_BASE_URL: httpUrl.optional(),
  GITOKU_CODEX_MODELS: modelList.optional(),
  GITOKU_CODEX_CONFIG: z
    .string()
    .superRefine((v, ctx) => {
      const problem = tomlProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: `not valid TOML: ${problem}` });
    })
    .optional(),
  GITOKU_CLAUDE_BIN: z.string().optional(),
  GITOKU_ANTHROPIC_API_KEY: z.string().optional(),
  GITOKU_CLAUDE_OAUTH_TOKEN: z.string().optional(),
  GITOKU_ANTHROPIC_BASE_URL: httpUrl.optional(),
  GITOKU_CLAUDE_MODELS: modelList.optional(),
  GITOKU_CLAUDE_SETTINGS: jsonOf(z.record(z.string(), z.unknown()), 'expected a JSON object (Claude Code settings)').optional(),
  GITOKU_OPENAI_BASE_URL: httpUrl.optional(),
  GITOKU_OPENAI_API_KEY: z.string().optional(),
  GITOKU_OPENAI_MODELS: modelList.optional(),
  GITOKU_OPENAI_MAX_STEPS: z.coerce.number().int().min(1).max(1000).default(50),
  GITOKU_OPENAI_TOKEN_BUDGET: z.coerce.number().int().min(1000).default(2_000_000),
  GITOKU_COMMAND_DRIVER: jsonOf(z.array(z.string()).min(1), 'expected a JSON array of strings, e.g. ["/usr/local/bin/agent","--prompt-file","{prompt_file}"]').optional(),
  GITOKU_COMMAND_MODELS: modelList.optional(),
  GITOKU_COMMAND_ENV: jsonOf(z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()), 'expected a JSON object of variable names to string values').optional(),
});

/** Settings that hold (or may hold) credentials: an error names them but never prints their value. */
const HIDDEN_VALUES = new Set(['GITOKU_CODEX_API_KEY', 'GITOKU_CODEX_CONFIG', 'GITOKU_ANTHROPIC_API_KEY', 'GITOKU_CLAUDE_OAUTH_TOKEN', 'GITOKU_CLAUDE_SETTINGS', 'GITOKU_OPENAI_API_KEY', 'GITOKU_COMMAND_ENV']);

export interface ConfigOverrides {
  port?: number;
  dataDir?: string;
  host?: string;
}

import { ConfigError } from './errors.ts';

export { ConfigError };

/** Reads configuration; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: ConfigOverrides = {}): Config {
  const relevant = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('GITOKU_') && v !== ''));
  const parsed = envSchema.safeParse(relevant);
  if (!parsed.success) {
    const shown = (name: string) => (HIDDEN_VALUES.has(name) ? '(value hidden)' : JSON.stringify(relevant[name] ?? ''));
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}=${shown(String(i.path[0]))}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const port = overrides.port ?? e.GITOKU_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`invalid configuration:\n  --port=${port}: expected 0..65535`);
  const host = overrides.host ?? e.GITOKU_HOST;
  return {
    dataDir: resolve(overrides.dataDir ?? e.GITOKU_DATA_DIR),
    port,
    host,
    databaseUrl: e.GITOKU_DATABASE_URL ?? null,
    baseUrl: (e.GITOKU_BASE_URL ?? `http://localhost:${port}`).replace(/\/+$/, ''),
    signupEnabled: e.GITOKU_SIGNUP_ENABLED,
    adminPassword: e.GITOKU_ADMIN_PASSWORD ?? null,
    jsonBodyLimit: e.GITOKU_JSON_BODY_LIMIT,
    demo: e.GITOKU_DEMO,
    jobLeaseMs: e.GITOKU_JOB_LEASE_MS,
    runnerPreferenceMs: e.GITOKU_RUNNER_PREFERENCE_MS,
    sandbox: e.GITOKU_SANDBOX,
    authLimits: { freeFailures: e.GITOKU_AUTH_FREE_FAILURES, backoffMs: e.GITOKU_AUTH_BACKOFF_MS, maxBackoffMs: Math.max(e.GITOKU_AUTH_BACKOFF_MAX_MS, e.GITOKU_AUTH_BACKOFF_MS) },
    trustProxy: e.GITOKU_TRUST_PROXY,
    memoryBudgetTokens: e.GITOKU_MEMORY_BUDGET_TOKENS,
    webhooks: { allowPrivate: e.GITOKU_WEBHOOK_ALLOW_PRIVATE, allowedHosts: e.GITOKU_WEBHOOK_ALLOWED_HOSTS?.hosts ?? [], allowedRanges: e.GITOKU_WEBHOOK_ALLOWED_HOSTS?.ranges ?? [] },
    releaseAssetMaxBytes: e.GITOKU_RELEASE_ASSET_MAX_BYTES,
    agents: {
      defaultDriver: e.GITOKU_DEFAULT_DRIVER,
      codex: { bin: e.GITOKU_CODEX_BIN ?? null, apiKey: e.GITOKU_CODEX_API_KEY ?? null, baseUrl: e.GITOKU_CODEX_BASE_URL ?? null, models: e.GITOKU_CODEX_MODELS ?? null, config: e.GITOKU_CODEX_CONFIG ?? null },
      claude: {
        bin: e.GITOKU_CLAUDE_BIN ?? null,
        apiKey: e.GITOKU_ANTHROPIC_API_KEY ?? null,
        oauthToken: e.GITOKU_CLAUDE_OAUTH_TOKEN ?? null,
        baseUrl: e.GITOKU_ANTHROPIC_BASE_URL ?? null,
        models: e.GITOKU_CLAUDE_MODELS ?? null,
        settings: e.GITOKU_CLAUDE_SETTINGS ? JSON.stringify(e.GITOKU_CLAUDE_SETTINGS) : null,
      },
      openai: { baseUrl: e.GITOKU_OPENAI_BASE_URL ?? null, apiKey: e.GITOKU_OPENAI_API_KEY ?? null, models: e.GITOKU_OPENAI_MODELS ?? null, maxSteps: e.GITOKU_OPENAI_MAX_STEPS, tokenBudget: e.GITOKU_OPENAI_TOKEN_BUDGET },
      command: { argv: e.GITOKU_COMMAND_DRIVER ?? null, models: e.GITOKU_COMMAND_MODELS ?? null, env: e.GITOKU_COMMAND_ENV ?? {} },
      review: { driver: e.GITOKU_REVIEW_DRIVER ?? null, model: e.GITOKU_REVIEW_MODEL ?? null },
    },
  };
}

