import { parse, TomlError } from 'smol-toml';
import { z } from 'zod';
import { globToRegExp, GlobError } from './glob.ts';
import { validateWorkspaceSection, type WorkspaceSetup } from './workspaceManifest.ts';
import { validateAgentSections, type GitokuAgent } from './agentManifest.ts';

export type { GitokuAgent } from './agentManifest.ts';

/**
 * `gitoku.toml`: `[workflow.<key>]` and `[agent.<key>]` sections (domain/agentManifest.ts), parsed with smol-toml and
 * validated with zod. Every problem names the file, the line and the key; a bad manifest never blocks a push.
 */
export const MANIFEST_PATH = 'gitoku.toml';
export const MAX_MANIFEST_BYTES = 256 * 1024;

export type WorkflowEvent = 'push' | 'pull_request' | 'manual';

export interface WorkflowStep {
  name: string;
  run: string;
  env: Record<string, string>;
  /** Seconds. */
  timeout: number;
}

export interface GitokuWorkflow {
  key: string;
  name: string;
  description: string;
  events: WorkflowEvent[];
  branches: string[];
  paths: string[];
  steps: WorkflowStep[];
}

export interface ManifestProblem {
  file: string;
  line: number | null;
  key: string;
  message: string;
}

export type ManifestResult = { ok: true; workflows: GitokuWorkflow[]; agents: GitokuAgent[]; workspace?: WorkspaceSetup | null } | { ok: false; problems: ManifestProblem[] };

const KEY = /^[A-Za-z0-9_-]{1,64}$/;
const globList = z.array(z.string().min(1)).max(100);
const stepSchema = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  run: z.string().min(1, 'run must not be empty').max(100_000),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env names must be shell variable names'), z.string()).optional(),
  timeout: z.number().int().positive().max(6 * 3600).optional(),
});
const workflowSchema = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  description: z.string().max(2000).optional(),
  events: z.array(z.enum(['push', 'pull_request', 'manual'])).min(1).default(['push', 'pull_request']),
  branches: globList.optional(),
  paths: globList.optional(),
  steps: z.array(stepSchema).min(1, 'a workflow needs at least one step').max(100),
});
const manifestSchema = z.strictObject({
  workflow: z.record(z.string(), z.unknown()).optional(),
  agent: z.record(z.string(), z.unknown()).optional(),
  workspace: z.unknown().optional(),
});

/** The 1-based line where a key path is defined (`[workflow.test]` header, then `key =` inside it). */
export function lineOfKey(source: string, path: (string | number)[]): number | null {
  const lines = source.split('\n');
  const [section, name, ...rest] = path.map(String);
  if (!section) return null;
  if (!name) return findLine(lines, new RegExp(`^\\s*\\[\\s*${escape(section)}[.\\]]`)) ?? null;
  const header = findLine(lines, new RegExp(`^\\s*\\[\\s*${escape(section)}\\s*\\.\\s*"?${escape(name)}"?\\s*\\]`));
  if (header === null) return findLine(lines, new RegExp(`^\\s*\\[\\[?\\s*${escape(section)}\\s*\\.\\s*"?${escape(name)}"?`));
  const field = rest.find((r) => !/^\d+$/.test(r));
  if (!field) return header;
  for (let i = header; i < lines.length; i++) {
    if (i > header && /^\s*\[/.test(lines[i]!) && !lines[i]!.includes(`${section}.${name}.`)) break;
    if (new RegExp(`^\\s*"?${escape(field)}"?\\s*=`).test(lines[i]!)) return i + 1;
  }
  return header;
}

function findLine(lines: string[], re: RegExp): number | null {
  const i = lines.findIndex((l) => re.test(l));
  return i < 0 ? null : i + 1;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function parseWorkflowManifest(source: string, file = MANIFEST_PATH): ManifestResult {
  if (Buffer.byteLength(source) > MAX_MANIFEST_BYTES) return { ok: false, problems: [{ file, line: null, key: '', message: `${file} is too large (limit ${MAX_MANIFEST_BYTES} bytes)` }] };
  let data: unknown;
  try {
    data = parse(source);
  } catch (err) {
    const e = err as TomlError & { line?: number };
    return { ok: false, problems: [{ file, line: e.line ?? null, key: '', message: `invalid TOML: ${(e.message ?? String(err)).split('\n')[0]}` }] };
  }
  return validateWorkflowManifest(data, source, file);
}

export function validateWorkflowManifest(data: unknown, source: string, file = MANIFEST_PATH): ManifestResult {
  const problems: ManifestProblem[] = [];
  const top = manifestSchema.safeParse(data);
  if (!top.success) {
    for (const issue of top.error.issues) {
      const key = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.');
      problems.push({ file, line: lineOfKey(source, issue.code === 'unrecognized_keys' ? [issue.keys[0]!] : issue.path as string[]), key, message: issue.message });
    }
    return { ok: false, problems };
  }
  const workflows: GitokuWorkflow[] = [];
  for (const [key, raw] of Object.entries(top.data.workflow ?? {})) {
    if (!KEY.test(key)) {
      problems.push({ file, line: lineOfKey(source, ['workflow', key]), key: `workflow.${key}`, message: 'workflow keys may only contain letters, digits, "-" and "_"' });
      continue;
    }
    const parsed = workflowSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const sub = issue.code === 'unrecognized_keys' ? [...issue.path.map(String), issue.keys[0]!] : issue.path.map(String);
        problems.push({ file, line: lineOfKey(source, ['workflow', key, ...sub]), key: ['workflow', key, ...sub].join('.'), message: issue.message });
      }
      continue;
    }
    const w = parsed.data;
    for (const field of ['branches', 'paths'] as const) {
      for (const glob of w[field] ?? []) {
        try {
          globToRegExp(glob);
        } catch (err) {
          if (!(err instanceof GlobError)) throw err;
          problems.push({ file, line: lineOfKey(source, ['workflow', key, field]), key: `workflow.${key}.${field}`, message: err.message });
        }
      }
    }
    workflows.push({
      key,
      name: w.name ?? key,
      description: w.description ?? '',
      events: [...new Set(w.events)],
      branches: w.branches ?? [],
      paths: w.paths ?? [],
      steps: w.steps.map((s, i) => ({ name: s.name ?? `step ${i + 1}`, run: s.run, env: s.env ?? {}, timeout: s.timeout ?? 600 })),
    });
  }
  const agents = validateAgentSections(top.data.agent, (p) => lineOfKey(source, p), file);
  problems.push(...agents.problems);
  const workspace = validateWorkspaceSection(top.data.workspace, source, file);
  problems.push(...workspace.problems);
  if (problems.length) return { ok: false, problems };
  return { ok: true, workflows, agents: agents.agents, workspace: workspace.workspace };
}

export function formatProblem(p: ManifestProblem): string {
  return `${p.file}${p.line ? `:${p.line}` : ''}${p.key ? ` [${p.key}]` : ''}: ${p.message}`;
}
