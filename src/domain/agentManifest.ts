import { z } from 'zod';
import type { ManifestProblem } from './manifest.ts';
import { globToRegExp, GlobError } from './glob.ts';
import { DRIVERS } from './runs.ts';
import { FrontMatterError, type FrontMatterValue, parseFrontMatter } from './frontMatter.ts';

/**
 * Per-repository agents (issue 15), from three formats with one shape:
 *   - `[agent.<key>]` in gitoku.toml (validated here, beside `[workflow.*]`);
 *   - `.github/agents/<key>.agent.md` (GitHub Copilot custom agents) and `.claude/agents/<key>.md`
 *     (Claude Code subagents): front matter + markdown body = instructions;
 *   - `AGENTS.md` at the root: repository-wide instructions for every run (not an agent).
 * A gitoku.toml key wins over a discovered file of the same key; `.github/agents` wins over `.claude/agents`.
 */
export interface GitokuAgent {
  key: string;
  name: string;
  description: string;
  /** A driver name, or null: map `model` onto a configured driver, else the repository default. */
  driver: string | null;
  model: string | null;
  mode: string;
  /** Inline instructions (gitoku.toml `instructions`, or a discovered file's body). */
  instructions: string | null;
  /** gitoku.toml `instructions_file`: markdown in the repository, read at the same commit. */
  instructionsFile: string | null;
  events: AgentEvent[];
  branches: string[];
  paths: string[];
  /** Seconds; null = the server's default run timeout. */
  timeout: number | null;
  /** Tools the file lists (recorded and shown; drivers decide what they offer). */
  tools: string[];
  /** The file that defines it: `gitoku.toml`, `.github/agents/x.agent.md`, `.claude/agents/x.md`. */
  source: string;
  format: AgentFormat;
}

export type AgentFormat = 'gitoku' | 'copilot' | 'claude';

/** Events an agent can run on (the dispatcher's event names). */
export const AGENT_EVENTS = ['push', 'pull_request.opened', 'pull_request.synchronized', 'pull_request.reopened', 'pull_request.ready_for_review'] as const;
export type AgentEvent = (typeof AGENT_EVENTS)[number];
/** Accepted spellings: GitHub's `synchronize`, and `pull_request` for opened + synchronized + reopened. */
const EVENT_ALIASES: Record<string, AgentEvent[]> = {
  'pull_request.synchronize': ['pull_request.synchronized'],
  pull_request: ['pull_request.opened', 'pull_request.synchronized', 'pull_request.reopened'],
};

export const AGENT_KEY = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_INSTRUCTIONS_BYTES = 64 * 1024;
export const AGENTS_MD_PATH = 'AGENTS.md';
export const AGENT_DIRS = [
  { dir: '.github/agents', suffix: '.agent.md', format: 'copilot' as const },
  { dir: '.claude/agents', suffix: '.md', format: 'claude' as const },
];

const eventName = z.string().refine((e) => (AGENT_EVENTS as readonly string[]).includes(e) || e in EVENT_ALIASES, { message: `unknown event; use one of ${[...AGENT_EVENTS, ...Object.keys(EVENT_ALIASES)].join(', ')}` });
const globList = z.array(z.string().min(1)).max(100);
const repoPath = z.string().refine(isInsideRepository, { message: 'must be a relative path inside the repository (no "..", no leading "/")' });
const agentSchema = z
  .strictObject({
    name: z.string().min(1).max(200).optional(),
    description: z.string().max(2000).optional(),
    driver: z.enum(DRIVERS).optional(),
    model: z.string().min(1).max(255).optional(),
    mode: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'mode must be a lowercase word').optional(),
    instructions: z.string().max(MAX_INSTRUCTIONS_BYTES, `instructions are too long (limit ${MAX_INSTRUCTIONS_BYTES} characters)`).optional(),
    instructions_file: repoPath.optional(),
    events: z.array(eventName).max(20).optional(),
    branches: globList.optional(),
    paths: globList.optional(),
    timeout: z.number().int().positive().max(6 * 3600).optional(),
  })
  .refine((a) => !(a.instructions !== undefined && a.instructions_file !== undefined), { message: 'give either instructions or instructions_file, not both', path: ['instructions_file'] })
  .refine((a) => a.instructions !== undefined || a.instructions_file !== undefined, { message: 'an agent needs instructions (inline) or instructions_file', path: ['instructions'] });

export function isInsideRepository(p: string): boolean {
  if (!p || p.length > 1024 || /[\0\n\r\\]/.test(p) || p.startsWith('/')) return false;
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

export function normalizeEvents(events: readonly string[]): AgentEvent[] {
  const out = new Set<AgentEvent>();
  for (const e of events) for (const n of EVENT_ALIASES[e] ?? [e as AgentEvent]) out.add(n);
  return AGENT_EVENTS.filter((e) => out.has(e));
}

function globProblems(field: 'branches' | 'paths', globs: string[], at: (f: string) => { line: number | null; key: string }, file: string): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  for (const glob of globs) {
    try {
      globToRegExp(glob);
    } catch (err) {
      if (!(err instanceof GlobError)) throw err;
      problems.push({ file, ...at(field), message: err.message });
    }
  }
  return problems;
}

/** `[agent.<key>]` sections of gitoku.toml: the agents, or problems naming file, line and key. */
export function validateAgentSections(data: Record<string, unknown> | undefined, lineOf: (path: string[]) => number | null, file: string): { agents: GitokuAgent[]; problems: ManifestProblem[] } {
  const agents: GitokuAgent[] = [];
  const problems: ManifestProblem[] = [];
  for (const [key, raw] of Object.entries(data ?? {})) {
    if (!AGENT_KEY.test(key)) {
      problems.push({ file, line: lineOf(['agent', key]), key: `agent.${key}`, message: 'agent keys may only contain letters, digits, "-" and "_" (at most 64)' });
      continue;
    }
    const parsed = agentSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const sub = issue.code === 'unrecognized_keys' ? [...issue.path.map(String), issue.keys[0]!] : issue.path.map(String);
        problems.push({ file, line: lineOf(['agent', key, ...sub]), key: ['agent', key, ...sub].join('.'), message: issue.message });
      }
      continue;
    }
    const a = parsed.data;
    const at = (field: string) => ({ line: lineOf(['agent', key, field]), key: `agent.${key}.${field}` });
    const globs = [...globProblems('branches', a.branches ?? [], at, file), ...globProblems('paths', a.paths ?? [], at, file)];
    if (globs.length) {
      problems.push(...globs);
      continue;
    }
    agents.push({
      key,
      name: a.name ?? key,
      description: a.description ?? '',
      driver: a.driver ?? null,
      model: a.model ?? null,
      mode: a.mode ?? 'code',
      instructions: a.instructions ?? null,
      instructionsFile: a.instructions_file ?? null,
      events: normalizeEvents(a.events ?? []),
      branches: a.branches ?? [],
      paths: a.paths ?? [],
      timeout: a.timeout ?? null,
      tools: [],
      source: file,
      format: 'gitoku',
    });
  }
  return { agents, problems };
}

/** The agent key a discovered file defines: its name without the directory's suffix. */
export function agentKeyOfFile(name: string, suffix: string): string | null {
  if (!name.endsWith(suffix) || name.length === suffix.length) return null;
  return name.slice(0, -suffix.length);
}

const frontMatterSchema = z.looseObject({
  name: z.string().max(200).optional(),
  description: z.string().max(2000).optional(),
  model: z.string().max(255).optional(),
  tools: z.union([z.array(z.string()), z.string()]).optional(),
  driver: z.enum(DRIVERS).optional(),
  mode: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'mode must be a lowercase word').optional(),
  events: z.union([z.array(eventName), eventName]).optional(),
  branches: z.union([globList, z.string()]).optional(),
  paths: z.union([globList, z.string()]).optional(),
  timeout: z.string().regex(/^\d{1,5}$/, 'timeout must be a number of seconds').optional(),
});

const asList = (v: string[] | string | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : v.split(',').map((s) => s.trim()).filter(Boolean));

/**
 * A discovered agent file (its text already checked for size and binary content): front matter +
 * body. Copilot's and Claude Code's keys are read (`name`, `description`, `model`, `tools`; others
 * such as `target` or `mcp-servers` are accepted and ignored), and gitoku's own (`driver`, `mode`,
 * `events`, `branches`, `paths`, `timeout`) may be added to the same front matter.
 */
export function parseAgentFile(path: string, key: string, format: AgentFormat, text: string): { agent: GitokuAgent | null; problems: ManifestProblem[] } {
  const problem = (line: number | null, field: string, message: string) => ({ agent: null, problems: [{ file: path, line, key: field, message }] });
  if (!AGENT_KEY.test(key)) return problem(null, '', `"${key}" is not a valid agent key (letters, digits, "-" and "_", at most 64): rename the file`);
  let fm;
  try {
    fm = parseFrontMatter(text);
  } catch (err) {
    if (!(err instanceof FrontMatterError)) throw err;
    return problem(err.line, '', `front matter is not valid YAML: ${err.message}`);
  }
  const parsed = frontMatterSchema.safeParse(fm.data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = String(issue.path[0] ?? '');
    return problem(lineOfFrontMatterKey(text, field), field, `${field ? `${field}: ` : ''}${issue.message}`);
  }
  const d = parsed.data;
  const globs = [
    ...globProblems('branches', asList(d.branches), (f) => ({ line: lineOfFrontMatterKey(text, f), key: f }), path),
    ...globProblems('paths', asList(d.paths), (f) => ({ line: lineOfFrontMatterKey(text, f), key: f }), path),
  ];
  if (globs.length) return { agent: null, problems: globs };
  const body = fm.body.trim();
  if (!body) return problem(fm.bodyLine, '', 'the file has no instructions (the markdown body after the front matter is empty)');
  return {
    agent: {
      key,
      name: d.name?.trim() || key,
      description: d.description ?? '',
      driver: d.driver ?? null,
      // Claude Code's `inherit` means "the caller's model": the repository default here.
      model: d.model && d.model !== 'inherit' ? d.model : null,
      mode: d.mode ?? 'code',
      instructions: body,
      instructionsFile: null,
      events: normalizeEvents(asList(d.events as string[] | string | undefined)),
      branches: asList(d.branches),
      paths: asList(d.paths),
      timeout: d.timeout ? Math.min(Number(d.timeout), 6 * 3600) || null : null,
      tools: asList(d.tools),
      source: path,
      format,
    },
    problems: [],
  };
}

function lineOfFrontMatterKey(text: string, key: string): number | null {
  if (!key) return null;
  const i = text.split('\n').findIndex((l) => l.startsWith(`${key}:`));
  return i < 0 ? null : i + 1;
}

export type { FrontMatterValue };
