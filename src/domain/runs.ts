/** Pure rules for agent runs. */

export const MAX_PROMPT_BYTES = 256 * 1024;
export const DRIVERS = ['script', 'codex', 'claude', 'openai', 'command'] as const;
export type DriverName = (typeof DRIVERS)[number];

export function slugify(text: string, max = 40): string {
  const slug = text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, max)
    .replace(/-+$/, '');
  return slug || 'task';
}

export function compareBranchName(number: number, title: string): string {
  return `${RUN_BRANCH_PREFIX}${number}-${slugify(title)}`;
}

/** Every run's compare branch starts with this: pickers group these branches apart. */
export const RUN_BRANCH_PREFIX = 'gitoku/run-';

/** A `gitoku/run-*` branch: an agent run's compare branch. */
export const isRunBranch = (name: string): boolean => name.startsWith(RUN_BRANCH_PREFIX);

/** When a run's branch is deleted after its pull request is closed or merged (repositories.run_branch_cleanup). */
export const RUN_BRANCH_CLEANUP = ['never', 'no-commits', 'always'] as const;
export type RunBranchCleanup = (typeof RUN_BRANCH_CLEANUP)[number];

/** A title from the first meaningful line of a prompt. */
export function titleFromPrompt(prompt: string): string {
  const line = prompt
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l && !l.startsWith('```') && !l.startsWith('#!')) ?? 'Agent task';
  const clean = line.replace(/^#+\s*/, '');
  return clean.length > 72 ? `${clean.slice(0, 71)}…` : clean;
}

/** Tokens a run used, from its stored usage JSON (total, else input + output); null when unknown. */
export function tokensOf(usage: string): number | null {
  try {
    const u = JSON.parse(usage) as Record<string, unknown>;
    if (typeof u.total_tokens === 'number') return u.total_tokens;
    const sum = Number(u.input_tokens ?? 0) + Number(u.output_tokens ?? 0);
    return Number.isFinite(sum) && sum > 0 ? sum : null;
  } catch {
    return null;
  }
}
