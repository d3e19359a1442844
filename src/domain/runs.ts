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
  return `gitoku/run-${number}-${slugify(title)}`;
}

/** A title from the first meaningful line of a prompt. */
export function titleFromPrompt(prompt: string): string {
  const line = prompt
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l && !l.startsWith('```') && !l.startsWith('#!')) ?? 'Agent task';
  const clean = line.replace(/^#+\s*/, '');
  return clean.length > 72 ? `${clean.slice(0, 71)}…` : clean;
}
