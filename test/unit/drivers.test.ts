import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { ConfigError, loadConfig, type AgentSettings } from '../../src/config/index.ts';
import { findDriver, listDrivers } from '../../src/services/drivers.ts';
import { agentEnvironment, agentSecretNames } from '../../src/services/agentContext.ts';
import { redactor } from '../../src/runner/promptRun.ts';
import { codexConfig } from '../../src/runner/drivers/codex.ts';
import { expandArgv } from '../../src/runner/drivers/command.ts';
import { processEnvironment } from '../../src/runner/drivers/process.ts';
import type { Run } from '../../src/db/schema.ts';
import type { RepositoryWithOwner } from '../../src/services/repositories.ts';

let dir: string;
let fakeBin: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gitoku-drivers-unit-'));
  fakeBin = join(dir, 'agent-cli');
  await writeFile(fakeBin, '#!/bin/sh\nexit 0\n');
  await chmod(fakeBin, 0o755);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function settings(env: Record<string, string>): AgentSettings {
  return loadConfig(env).agents;
}

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('driver configuration', () => {
  it('parses model lists, the default driver and the command template', () => {
    const s = settings({ GITOKU_OPENAI_MODELS: ' a, b ,,c ', GITOKU_DEFAULT_DRIVER: 'openai', GITOKU_COMMAND_DRIVER: '["/bin/agent","{prompt_file}"]' });
    expect(s.openai.models).toEqual(['a', 'b', 'c']);
    expect(s.defaultDriver).toBe('openai');
    expect(s.command.argv).toEqual(['/bin/agent', '{prompt_file}']);
    expect(s.openai).toMatchObject({ maxSteps: 50, tokenBudget: 2_000_000 });
  });

  it.each([
    [{ GITOKU_DEFAULT_DRIVER: 'gpt' }, /GITOKU_DEFAULT_DRIVER="gpt": expected one of script, codex/],
    [{ GITOKU_COMMAND_DRIVER: '/bin/agent {prompt_file}' }, /GITOKU_COMMAND_DRIVER=.*not valid JSON/],
    [{ GITOKU_COMMAND_DRIVER: '[]' }, /GITOKU_COMMAND_DRIVER=.*expected a JSON array of strings/],
    [{ GITOKU_CODEX_CONFIG: 'model = ' }, /GITOKU_CODEX_CONFIG=\(value hidden\): not valid TOML/],
    [{ GITOKU_OPENAI_BASE_URL: 'localhost:8080' }, /GITOKU_OPENAI_BASE_URL/],
    [{ GITOKU_OPENAI_MODELS: ' , ' }, /GITOKU_OPENAI_MODELS/],
    [{ GITOKU_OPENAI_MAX_STEPS: '0' }, /GITOKU_OPENAI_MAX_STEPS/],
  ])('rejects %j naming the variable', (env, message) => {
    expect(configError(env)).toMatch(message);
  });

  it('never prints a credential-bearing value in a configuration error', () => {
    const message = configError({ GITOKU_COMMAND_ENV: '{"TOKEN": 42, "secret": "hunter2-hunter2"}' });
    expect(message).toContain('GITOKU_COMMAND_ENV=(value hidden)');
    expect(message).not.toContain('hunter2');
  });
});

describe('listDrivers', () => {
  it('says why a driver is unavailable: program missing, credentials missing, not configured', () => {
    const none = listDrivers(settings({ GITOKU_CODEX_BIN: join(dir, 'nope'), GITOKU_CLAUDE_BIN: fakeBin }));
    const by = Object.fromEntries(none.map((d) => [d.name, d]));
    expect(by.script).toMatchObject({ available: true, default: true, models: ['script'] });
    expect(by.codex).toMatchObject({ available: false, reason: expect.stringMatching(/Codex CLI was not found at .*nope \(GITOKU_CODEX_BIN\)/) });
    expect(by.claude).toMatchObject({ available: false, reason: expect.stringMatching(/no credentials: set GITOKU_ANTHROPIC_API_KEY/) });
    expect(by.openai).toMatchObject({ available: false, reason: expect.stringMatching(/GITOKU_OPENAI_BASE_URL/) });
    expect(by.command).toMatchObject({ available: false, reason: expect.stringMatching(/GITOKU_COMMAND_DRIVER/) });
    const noModels = findDriver('openai', settings({ GITOKU_OPENAI_BASE_URL: 'http://127.0.0.1:1/v1' }))!;
    expect(noModels).toMatchObject({ available: false, reason: expect.stringMatching(/GITOKU_OPENAI_MODELS/) });
  });

  it('offers configured drivers with their models, the first being the default', () => {
    const s = settings({
      GITOKU_CODEX_BIN: fakeBin,
      GITOKU_CODEX_API_KEY: 'sk-x',
      GITOKU_CLAUDE_BIN: fakeBin,
      GITOKU_CLAUDE_OAUTH_TOKEN: 'oauth',
      GITOKU_CLAUDE_MODELS: 'opus,sonnet',
      GITOKU_COMMAND_DRIVER: JSON.stringify([fakeBin]),
      GITOKU_DEFAULT_DRIVER: 'claude',
    });
    const by = Object.fromEntries(listDrivers(s).map((d) => [d.name, d]));
    expect(by.codex).toMatchObject({ available: true, reason: null, defaultModel: 'default' });
    expect(by.claude).toMatchObject({ available: true, models: ['opus', 'sonnet'], defaultModel: 'opus', default: true });
    expect(by.command).toMatchObject({ available: true, models: ['default'] });
    expect(findDriver('nope', s)).toBeUndefined();
  });
});

describe('agentEnvironment', () => {
  const repo = { owner_name: 'o', name: 'r' } as RepositoryWithOwner;
  const run = (driver: string) => ({ driver, model: 'm', number: 3, compare_branch: 'gitoku/run-3-x', base_branch: 'main' }) as Run;
  const s = () =>
    settings({
      GITOKU_CODEX_API_KEY: 'codex-key-123456',
      GITOKU_ANTHROPIC_API_KEY: 'claude-key-123456',
      GITOKU_OPENAI_API_KEY: 'openai-key-123456',
      GITOKU_OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
      GITOKU_COMMAND_DRIVER: '["/bin/true"]',
      GITOKU_COMMAND_ENV: '{"AGENT_KEY":"command-key-123456"}',
    });

  it("passes only the chosen driver's credentials, and names them as secrets", () => {
    const codex = agentEnvironment(run('codex'), repo, s());
    expect(codex).toMatchObject({ GITOKU_RUN: 'o/r#3', CODEX_API_KEY: 'codex-key-123456' });
    expect(JSON.stringify(codex)).not.toMatch(/claude-key|openai-key|command-key/);
    expect(agentSecretNames(run('codex'), s())).toEqual(['CODEX_API_KEY']);
    expect(agentSecretNames(run('claude'), s())).toEqual(['ANTHROPIC_API_KEY']);
    expect(agentSecretNames(run('openai'), s())).toEqual(['GITOKU_DRIVER_API_KEY']);
    expect(agentSecretNames(run('command'), s())).toEqual(['AGENT_KEY']);
    const script = agentEnvironment(run('script'), repo, s());
    expect(Object.keys(script).sort()).toEqual(['GITOKU_BASE_BRANCH', 'GITOKU_MODEL', 'GITOKU_RUN', 'GITOKU_RUN_BRANCH']);
  });

  it("keeps the driver's own settings out of the agent's processes", () => {
    const env = agentEnvironment(run('openai'), repo, s());
    expect(env.GITOKU_DRIVER_API_KEY).toBe('openai-key-123456');
    expect(processEnvironment(env)).not.toHaveProperty('GITOKU_DRIVER_API_KEY');
    expect(processEnvironment(env)).toHaveProperty('GITOKU_RUN', 'o/r#3');
  });
});

describe('driver helpers', () => {
  it('redacts secrets, their base64 and their JSON-escaped forms', () => {
    const redact = redactor(['plain-secret-1', 'quo"te\\secret']);
    const text = `a plain-secret-1 b ${Buffer.from('plain-secret-1').toString('base64')} c ${JSON.stringify({ v: 'quo"te\\secret' })}`;
    expect(redact(text)).toBe('a [redacted] b [redacted] c {"v":"[redacted]"}');
    expect(redactor(['short'])('short')).toBe('short');
  });

  it("merges codex's provider with the administrator's TOML", () => {
    const config = parseToml(codexConfig({ GITOKU_DRIVER_BASE_URL: 'http://127.0.0.1:9/v1', CODEX_API_KEY: 'k', GITOKU_DRIVER_CONFIG: 'model_reasoning_effort = "high"\n[model_providers.gitoku]\nrequest_max_retries = 0\n' }));
    expect(config).toEqual({
      model_provider: 'gitoku',
      model_reasoning_effort: 'high',
      model_providers: { gitoku: { name: 'gitoku', base_url: 'http://127.0.0.1:9/v1', wire_api: 'responses', env_key: 'CODEX_API_KEY', request_max_retries: 0 } },
    });
    expect(codexConfig({}).trim()).toBe('');
  });

  it('expands the command template in every argument', () => {
    expect(expandArgv(['/bin/a', '--prompt={prompt_file}', '{workspace}', '-m', '{model}', '{other}'], { prompt_file: '/p', workspace: '/w', model: 'm' })).toEqual(['/bin/a', '--prompt=/p', '/w', '-m', 'm', '{other}']);
  });
});
