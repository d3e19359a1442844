import { describe, expect, it } from 'vitest';
import { formatProblem, parseWorkflowManifest } from '../../src/domain/manifest.ts';

function problems(source: string): string[] {
  const r = parseWorkflowManifest(source);
  if (r.ok) throw new Error('expected problems');
  return r.problems.map(formatProblem);
}

describe('gitoku.toml [workspace]', () => {
  it('parses the set-up beside workflows, with defaults and sorted, unique cache-key files', () => {
    const r = parseWorkflowManifest('[workspace]\nsetup = "npm ci"\ncache_key_files = ["package-lock.json", "a/b.lock", "package-lock.json"]\n\n[workflow.t]\nsteps = [{ run = "true" }]\n');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.workspace).toEqual({ setup: 'npm ci', cacheKeyFiles: ['a/b.lock', 'package-lock.json'], timeout: 900 });
    expect(r.workflows.map((w) => w.key)).toEqual(['t']);
    const minimal = parseWorkflowManifest('[workspace]\nsetup = "make deps"\ntimeout = 3600\n');
    expect(minimal.ok && minimal.workspace).toEqual({ setup: 'make deps', cacheKeyFiles: [], timeout: 3600 });
    const none = parseWorkflowManifest('[workflow.t]\nsteps = [{ run = "true" }]\n');
    expect(none.ok && none.workspace).toBeNull();
  });

  it('names the file, the line and the key of every problem', () => {
    expect(problems('# deps\n[workspace]\ncache_key_files = ["x"]\n')).toEqual([expect.stringMatching(/^gitoku\.toml:2 \[workspace\.setup\]: setup is required/)]);
    expect(problems('[workspace]\nsetup = "   "\n')).toEqual([expect.stringMatching(/^gitoku\.toml:2 \[workspace\.setup\]: setup must not be empty/)]);
    expect(problems(`[workspace]\nsetup = "${'x'.repeat(4097)}"\n`)[0]).toMatch(/^gitoku\.toml:2 \[workspace\.setup\]: setup is too long/);
    expect(problems('[workspace]\nsetup = "npm ci"\ntimeout = 3601\n')[0]).toMatch(/^gitoku\.toml:3 \[workspace\.timeout\]: timeout is at most 3600 seconds/);
    expect(problems('[workspace]\nsetup = "npm ci"\ntimeout = 1.5\n')[0]).toMatch(/^gitoku\.toml:3 \[workspace\.timeout\]/);
    expect(problems('[workspace]\nsetup = "npm ci"\n\ncache_key_files = ["../etc/passwd"]\n')[0]).toMatch(/^gitoku\.toml:4 \[workspace\.cache_key_files\]: cache_key_files entries must be repository paths/);
    expect(problems('[workspace]\nsetup = "npm ci"\ncache_key_files = ["/abs"]\n')[0]).toMatch(/repository paths/);
    expect(problems(`[workspace]\nsetup = "npm ci"\ncache_key_files = [${Array.from({ length: 21 }, (_, i) => `"f${i}"`).join(', ')}]\n`)[0]).toMatch(/\[workspace\.cache_key_files\]: at most 20 cache_key_files/);
    expect(problems('[workspace]\nsetup = "npm ci"\nimage = "node"\n')).toEqual([expect.stringMatching(/^gitoku\.toml:3 \[workspace\.image\]: unknown key "image"/)]);
    expect(problems('workspace = "npm ci"\n')).toEqual([expect.stringMatching(/^gitoku\.toml:1 \[workspace\]: workspace must be a table/)]);
    // A bad [workspace] is reported together with bad workflows.
    expect(problems('[workspace]\n\n[workflow.t]\nsteps = []\n')).toHaveLength(2);
  });
});
