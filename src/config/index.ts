import { resolve } from 'node:path';
import { z } from 'zod';

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
}

const boolean = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'], { message: 'expected true or false' })
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

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
});

export interface ConfigOverrides {
  port?: number;
  dataDir?: string;
  host?: string;
}

export class ConfigError extends Error {}

/** Reads configuration; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: ConfigOverrides = {}): Config {
  const relevant = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('GITOKU_') && v !== ''));
  const parsed = envSchema.safeParse(relevant);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}=${JSON.stringify(relevant[String(i.path[0])] ?? '')}: ${i.message}`);
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
  };
}
