import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const semver = require('semver') as { satisfies(version: string, range: string): boolean };

/** The Node 20 release `npm install` must not warn about (EBADENGINE) — the project says Node ≥ 20. */
const NODE_20 = '20.19.0';

describe('package-lock.json', () => {
  it(`installs only packages whose engines admit Node ${NODE_20} (no EBADENGINE warning)`, () => {
    const lock = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: { node?: string } | string[] }> };
    const refused = Object.entries(lock.packages)
      .map(([path, p]) => ({ path, range: !Array.isArray(p.engines) ? p.engines?.node : undefined }))
      .filter((p): p is { path: string; range: string } => typeof p.range === 'string' && !semver.satisfies(NODE_20, p.range))
      .map((p) => `${p.path} (node ${p.range})`);
    expect(refused).toEqual([]);
  });
});
