import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('has sensible defaults', () => {
    expect(loadConfig({})).toMatchObject({
      dataDir: resolve('./data'),
      port: 3000,
      host: '0.0.0.0',
      databaseUrl: null,
      baseUrl: 'http://localhost:3000',
      signupEnabled: true,
      adminPassword: null,
      jsonBodyLimit: 1024 * 1024,
      demo: true,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      GITOKU_DATA_DIR: '/srv/gitoku',
      GITOKU_PORT: '8080',
      GITOKU_HOST: '127.0.0.1',
      GITOKU_DATABASE_URL: 'postgresql://u@db/gitoku',
      GITOKU_BASE_URL: 'https://git.example.com/',
      GITOKU_SIGNUP_ENABLED: 'no',
      GITOKU_ADMIN_PASSWORD: 'very-secret',
      GITOKU_JSON_BODY_LIMIT: '2048',
      GITOKU_DEMO: '0',
    });
    expect(config).toMatchObject({
      dataDir: '/srv/gitoku',
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: 'postgresql://u@db/gitoku',
      baseUrl: 'https://git.example.com',
      signupEnabled: false,
      adminPassword: 'very-secret',
      jsonBodyLimit: 2048,
      demo: false,
    });
  });

  it('ignores unrelated and empty variables', () => {
    const config = loadConfig({ PORT: 'abc', GITOKU_PORT: '', HOME: '/root', GITOKU_UNKNOWN: 'x' });
    expect(config.port).toBe(3000);
  });

  it('lets CLI overrides win', () => {
    const config = loadConfig({ GITOKU_PORT: '8080', GITOKU_DATA_DIR: '/a' }, { port: 0, dataDir: '/b', host: '::1' });
    expect(config).toMatchObject({ port: 0, dataDir: '/b', host: '::1', baseUrl: 'http://localhost:0' });
    expect(configError(() => loadConfig({}, { port: 70000 }))).toMatch(/--port=70000/);
  });

  it.each([
    [{ GITOKU_PORT: 'abc' }, /GITOKU_PORT="abc": expected a port number/],
    [{ GITOKU_PORT: '70000' }, /GITOKU_PORT="70000": expected 0\.\.65535/],
    [{ GITOKU_PORT: '-1' }, /GITOKU_PORT="-1"/],
    [{ GITOKU_PORT: '80.5' }, /GITOKU_PORT="80\.5": expected a whole number/],
    [{ GITOKU_DATABASE_URL: 'mysql://x/y' }, /GITOKU_DATABASE_URL="mysql:\/\/x\/y": expected a postgres:\/\/ URL/],
    [{ GITOKU_DATABASE_URL: '/var/db.sqlite' }, /GITOKU_DATABASE_URL/],
    [{ GITOKU_BASE_URL: 'example.com' }, /GITOKU_BASE_URL/],
    [{ GITOKU_BASE_URL: 'ftp://example.com' }, /GITOKU_BASE_URL="ftp:\/\/example.com"/],
    [{ GITOKU_SIGNUP_ENABLED: 'maybe' }, /GITOKU_SIGNUP_ENABLED="maybe": expected true or false/],
    [{ GITOKU_ADMIN_PASSWORD: 'short' }, /GITOKU_ADMIN_PASSWORD="short": must be at least 8 characters/],
    [{ GITOKU_JSON_BODY_LIMIT: '0' }, /GITOKU_JSON_BODY_LIMIT/],
  ])('rejects %j naming the variable', (env, message) => {
    expect(configError(() => loadConfig(env))).toMatch(message);
  });

  it('reports every bad variable at once', () => {
    const message = configError(() => loadConfig({ GITOKU_PORT: 'abc', GITOKU_DEMO: 'perhaps' }));
    expect(message).toMatch(/^invalid configuration:/);
    expect(message).toContain('GITOKU_PORT');
    expect(message).toContain('GITOKU_DEMO');
  });
});
