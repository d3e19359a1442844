import { describe, expect, it } from 'vitest';
import { formatProblem, parseWorkflowManifest } from '../../src/domain/manifest.ts';
import { globToRegExp, matchesAny } from '../../src/domain/glob.ts';

const GOOD = `# CI
[workflow.test]
name = "Tests"
events = ["push", "pull_request"]
branches = ["main", "feature/**"]
paths = ["src/**", "*.json"]

[[workflow.test.steps]]
name = "unit"
run = "npm test"
env = { CI = "true" }
timeout = 120
`;

function problems(source: string): string[] {
  const r = parseWorkflowManifest(source);
  if (r.ok) throw new Error('expected problems');
  return r.problems.map(formatProblem);
}

describe('gitoku.toml workflows', () => {
  it('parses a valid manifest into GitokuWorkflow', () => {
    const r = parseWorkflowManifest(GOOD);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.workflows).toEqual([
      { key: 'test', name: 'Tests', description: '', events: ['push', 'pull_request'], branches: ['main', 'feature/**'], paths: ['src/**', '*.json'], steps: [{ name: 'unit', run: 'npm test', env: { CI: 'true' }, timeout: 120 }] },
    ]);
  });

  it('names the file, the line and the key of every problem', () => {
    expect(problems('[workflow.test\nx = 1')[0]).toMatch(/^gitoku\.toml:1: invalid TOML/);
    expect(problems('[workflow.test]\nname = 5\n[[workflow.test.steps]]\nrun = "x"\n')).toEqual([expect.stringMatching(/^gitoku\.toml:2 \[workflow\.test\.name\]: /)]);
    expect(problems('[workflow.test]\nsteps = []\n')).toEqual([expect.stringContaining('[workflow.test.steps]: a workflow needs at least one step')]);
    expect(problems('[workflow.test]\nbogus = 1\nsteps = [{ run = "x" }]\n')[0]).toMatch(/^gitoku\.toml:2 \[workflow\.test\.bogus\]: /);
    expect(problems('[workflow.t]\nbranches = ["[abc"]\nsteps = [{ run = "x" }]\n')[0]).toMatch(/^gitoku\.toml:2 \[workflow\.t\.branches\]: invalid glob/);
    expect(problems('[other]\nx = 1\n')[0]).toMatch(/^gitoku\.toml:1 \[other\]: /);
    expect(problems('[workflow.test]\nevents = ["deploy"]\nsteps = [{ run = "x" }]\n')[0]).toMatch(/^gitoku\.toml:2 \[workflow\.test\.events\.0\]/);
    expect(problems('x'.repeat(10 * 1024 * 1024))[0]).toContain('too large');
  });

  it('matches branch and path globs', () => {
    expect(matchesAny(['main', 'feature/**'], 'feature/a/b')).toBe(true);
    expect(matchesAny(['main'], 'mainline')).toBe(false);
    expect(globToRegExp('src/**/*.ts').test('src/a/b/c.ts')).toBe(true);
    expect(globToRegExp('src/**/*.ts').test('src/c.ts')).toBe(true);
    expect(globToRegExp('*.json').test('a/b.json')).toBe(false);
    expect(globToRegExp('{docs,src}/*.md').test('docs/x.md')).toBe(true);
    expect(() => globToRegExp('a{b')).toThrow(/unclosed/);
  });
});
