import type { AppContext } from './app.ts';
import { invalid } from './errors.ts';
import type { RepositoryAccess } from './repositories.ts';
import { listDrivers } from './drivers.ts';
import { loadWorkflowManifestForBranch } from './workflows.ts';
import type { RunRequest } from './runs.ts';
import { AGENT_DIRS, AGENTS_MD_PATH, agentKeyOfFile, type GitokuAgent, MAX_INSTRUCTIONS_BYTES, parseAgentFile } from '../domain/agentManifest.ts';
import { formatProblem, MANIFEST_PATH, type ManifestProblem } from '../domain/manifest.ts';
import { isSha, isValidBranchName } from '../domain/refs.ts';
import { entryAtPath, isBinary, listTree, readBlobAtPath, resolveCommit } from '../git/tree.ts';
import { LruCache } from '../git/lru.ts';
import { runGit } from '../git/exec.ts';
import { type AgentRunContext } from '../domain/agentRunContext.ts';

export { parseAgentRunContext, type AgentRunContext } from '../domain/agentRunContext.ts';

/**
 * The one loader of per-repository agents (DESIGN §9): `[agent.*]` in gitoku.toml (the workflow
 * manifest's parse path), `.github/agents/*.agent.md`, `.claude/agents/*.md` and `AGENTS.md`, all read
 * at one commit. Problems never throw: they are reported per file, naming the line and key.
 */
export interface AgentDefinition {
  agent: GitokuAgent;
  /** Blob of the file that defines the agent (gitoku.toml or the agent file). */
  blobSha: string;
  /** The instructions, read from the file they live in. */
  instructions: string;
  instructionsPath: string;
  instructionsBlobSha: string;
}

export interface BrokenAgent {
  /** The agent key when the problem belongs to one; null for a file-wide problem. */
  key: string | null;
  source: string;
  problems: ManifestProblem[];
}

export interface RepositoryInstructions {
  path: string;
  blobSha: string;
  text: string;
}

export interface AgentManifest {
  commitSha: string;
  agents: AgentDefinition[];
  broken: BrokenAgent[];
  /** Discovered files whose key a higher-precedence source defines too. */
  shadowed: { key: string; source: string; by: string }[];
  repositoryInstructions: RepositoryInstructions | null;
}

type FileText = { ok: true; text: string; blobSha: string } | { ok: false; message: string };

/** A markdown file of the repository at a commit: a regular text file of at most 64 KB, or why not. */
async function readInstructionsFile(gitDir: string, sha: string, path: string): Promise<FileText> {
  const entry = await entryAtPath(gitDir, sha, path);
  if (!entry) return { ok: false, message: `"${path}" does not exist at ${sha.slice(0, 12)}` };
  if (entry.type !== 'blob') return { ok: false, message: `"${path}" is not a file` };
  if (entry.mode === '120000') return { ok: false, message: `"${path}" is a symbolic link (it could point outside the repository); commit the file itself` };
  const blob = await readBlobAtPath(gitDir, sha, path, MAX_INSTRUCTIONS_BYTES);
  if (!blob) return { ok: false, message: `"${path}" does not exist at ${sha.slice(0, 12)}` };
  if (blob.truncated) return { ok: false, message: `"${path}" is too large (${blob.size} bytes; the limit is ${MAX_INSTRUCTIONS_BYTES})` };
  if (isBinary(blob.content)) return { ok: false, message: `"${path}" is a binary file; instructions must be text` };
  return { ok: true, text: blob.content.toString('utf8'), blobSha: blob.sha };
}

/** The agents and repository instructions of a commit. */
/** Agent definitions at a commit never change: kept per (repository, commit) for the events that ask again. */
const manifestCache = new LruCache<string, Promise<AgentManifest>>(512);

export function loadAgentManifestForBranch(gitDir: string, sha: string): Promise<AgentManifest> {
  const key = `${gitDir}\0${sha}`;
  let hit = manifestCache.get(key);
  if (!hit) {
    hit = readAgentManifest(gitDir, sha);
    manifestCache.set(key, hit);
    hit.catch(() => manifestCache.delete(key));
  }
  return hit;
}

async function readAgentManifest(gitDir: string, sha: string): Promise<AgentManifest> {
  const out: AgentManifest = { commitSha: sha, agents: [], broken: [], shadowed: [], repositoryInstructions: null };
  const byKey = new Map<string, string>();

  const manifest = await loadWorkflowManifestForBranch(gitDir, sha);
  if (manifest && !manifest.ok) {
    const perKey = new Map<string | null, ManifestProblem[]>();
    for (const p of manifest.problems) {
      const key = /^agent\.([^.]+)/.exec(p.key)?.[1] ?? null;
      perKey.set(key, [...(perKey.get(key) ?? []), p]);
    }
    for (const [key, problems] of perKey) {
      out.broken.push({ key, source: MANIFEST_PATH, problems });
      if (key) byKey.set(key, MANIFEST_PATH);
    }
  } else if (manifest?.ok) {
    const tomlBlob = (await entryAtPath(gitDir, sha, MANIFEST_PATH))!.sha;
    for (const agent of manifest.agents) {
      byKey.set(agent.key, MANIFEST_PATH);
      if (agent.instructionsFile) {
        const file = await readInstructionsFile(gitDir, sha, agent.instructionsFile);
        if (!file.ok) {
          const line = manifestLine(await readBlobAtPath(gitDir, sha, MANIFEST_PATH), agent.key);
          out.broken.push({ key: agent.key, source: MANIFEST_PATH, problems: [{ file: MANIFEST_PATH, line, key: `agent.${agent.key}.instructions_file`, message: `instructions file ${file.message}` }] });
          continue;
        }
        out.agents.push({ agent, blobSha: tomlBlob, instructions: file.text, instructionsPath: agent.instructionsFile, instructionsBlobSha: file.blobSha });
      } else {
        out.agents.push({ agent, blobSha: tomlBlob, instructions: agent.instructions ?? '', instructionsPath: MANIFEST_PATH, instructionsBlobSha: tomlBlob });
      }
    }
  }

  for (const { dir, suffix, format } of AGENT_DIRS) {
    const entries = (await listTree(gitDir, sha, dir)) ?? [];
    for (const entry of entries) {
      const key = agentKeyOfFile(entry.name, suffix);
      if (key === null || entry.type !== 'blob') continue;
      const earlier = byKey.get(key);
      if (earlier) {
        out.shadowed.push({ key, source: entry.path, by: earlier });
        continue;
      }
      byKey.set(key, entry.path);
      const file = await readInstructionsFile(gitDir, sha, entry.path);
      if (!file.ok) {
        out.broken.push({ key, source: entry.path, problems: [{ file: entry.path, line: null, key: '', message: file.message }] });
        continue;
      }
      const parsed = parseAgentFile(entry.path, key, format, file.text);
      if (!parsed.agent) {
        out.broken.push({ key, source: entry.path, problems: parsed.problems });
        continue;
      }
      out.agents.push({ agent: parsed.agent, blobSha: file.blobSha, instructions: parsed.agent.instructions ?? '', instructionsPath: entry.path, instructionsBlobSha: file.blobSha });
    }
  }

  if (await entryAtPath(gitDir, sha, AGENTS_MD_PATH)) {
    const file = await readInstructionsFile(gitDir, sha, AGENTS_MD_PATH);
    if (file.ok) out.repositoryInstructions = { path: AGENTS_MD_PATH, blobSha: file.blobSha, text: file.text };
    else out.broken.push({ key: null, source: AGENTS_MD_PATH, problems: [{ file: AGENTS_MD_PATH, line: null, key: '', message: file.message }] });
  }
  out.agents.sort((a, b) => a.agent.key.localeCompare(b.agent.key));
  return out;
}

function manifestLine(blob: { content: Buffer } | null, key: string): number | null {
  if (!blob) return null;
  const lines = blob.content.toString('utf8').split('\n');
  const header = lines.findIndex((l) => new RegExp(`^\\s*\\[\\s*agent\\s*\\.\\s*"?${key}"?\\s*\\]`).test(l));
  if (header < 0) return null;
  for (let i = header + 1; i < lines.length && !/^\s*\[/.test(lines[i]!); i++) if (/^\s*"?instructions_file"?\s*=/.test(lines[i]!)) return i + 1;
  return header + 1;
}

/** Problems of agent definitions that the gitoku.toml parse itself does not see (files it names). */
export function agentFileProblems(manifest: AgentManifest): ManifestProblem[] {
  return manifest.broken.filter((b) => b.source === MANIFEST_PATH && b.problems.some((p) => p.key.endsWith('.instructions_file') && p.message.startsWith('instructions file'))).flatMap((b) => b.problems);
}

/** The last commit (reachable from `sha`) that changed `path`: the version of a definition, for lineage. */
export async function lastCommitOf(gitDir: string, sha: string, path: string): Promise<string | null> {
  const res = await runGit(['log', '-1', '--format=%H', '--end-of-options', sha, '--', path], { gitDir });
  const out = res.stdout.toString('utf8').trim();
  return res.code === 0 && isSha(out) ? out : null;
}

// --- the run's agent context --------------------------------------------------------------------

/**
 * The driver and model an agent runs with: its `driver` when it names one; else a configured, available
 * driver that serves its `model`; else the repository default (undefined here), saying so.
 */
export function agentDriver(app: AppContext, agent: GitokuAgent): { driver?: string; model?: string; note: string | null } {
  if (agent.driver) return { driver: agent.driver, model: agent.model ?? undefined, note: null };
  if (!agent.model) return { note: null };
  const drivers = listDrivers(app.config.agents).filter((d) => d.available);
  const exact = drivers.find((d) => d.models.includes(agent.model!)) ?? drivers.find((d) => d.models.some((m) => m.toLowerCase() === agent.model!.toLowerCase()));
  if (exact) return { driver: exact.name, model: exact.models.find((m) => m.toLowerCase() === agent.model!.toLowerCase()), note: null };
  return { note: `model "${agent.model}" is not served by a configured driver; the repository default is used` };
}

/** Unknown or broken agent keys are a 422 naming the branch and what is defined there. */
export async function resolveAgentRunContext(app: AppContext, gitDir: string, commitSha: string, agentKey: string | null, where: string): Promise<AgentRunContext> {
  return (await resolveAgent(app, gitDir, commitSha, agentKey, where)).ctx;
}

async function resolveAgent(app: AppContext, gitDir: string, commitSha: string, agentKey: string | null, where: string): Promise<{ ctx: AgentRunContext; def: AgentDefinition | null; mapped: ReturnType<typeof agentDriver> }> {
  const manifest = await loadAgentManifestForBranch(gitDir, commitSha);
  const ctx: AgentRunContext = {
    commit_sha: commitSha,
    repository_instructions: manifest.repositoryInstructions ? { path: manifest.repositoryInstructions.path, blob_sha: manifest.repositoryInstructions.blobSha, text: manifest.repositoryInstructions.text } : null,
    agent: null,
  };
  if (!agentKey) return { ctx, def: null, mapped: { note: null } };
  const def = manifest.agents.find((a) => a.agent.key === agentKey);
  if (!def) {
    const broken = manifest.broken.find((b) => b.key === agentKey);
    if (broken) throw invalid(`agent "${agentKey}" at ${where} has problems: ${broken.problems.map(formatProblem).join('; ')}`, 'agent');
    const known = manifest.agents.map((a) => a.agent.key);
    throw invalid(`unknown agent "${agentKey}" at ${where}${known.length ? ` (defined: ${known.join(', ')})` : ' (no agents are defined there)'}`, 'agent');
  }
  const mapped = agentDriver(app, def.agent);
  const [fileCommit, instructionsCommit] = await Promise.all([
    lastCommitOf(gitDir, commitSha, def.agent.source),
    def.instructionsPath === def.agent.source ? Promise.resolve(null) : lastCommitOf(gitDir, commitSha, def.instructionsPath),
  ]);
  ctx.agent = {
    key: def.agent.key,
    name: def.agent.name,
    description: def.agent.description,
    format: def.agent.format,
    source: def.agent.source,
    blob_sha: def.blobSha,
    file_commit_sha: fileCommit,
    instructions_path: def.instructionsPath,
    instructions_blob_sha: def.instructionsBlobSha,
    instructions_commit_sha: instructionsCommit ?? fileCommit,
    instructions: def.instructions,
    tools: def.agent.tools,
    driver: def.agent.driver,
    model: def.agent.model,
    driver_note: mapped.note,
  };
  return { ctx, def, mapped };
}

async function requestSourceCommit(access: RepositoryAccess, request: RunRequest): Promise<{ sha: string; where: string } | null> {
  if (request.sourceCommit) {
    if (!isSha(request.sourceCommit)) return null;
    const sha = await resolveCommit(access.gitDir, request.sourceCommit);
    return sha ? { sha, where: sha.slice(0, 12) } : null;
  }
  const branch = request.sourceBranch || request.baseBranch || access.repo.default_branch;
  if (!isValidBranchName(branch)) return null;
  const sha = await resolveCommit(access.gitDir, `refs/heads/${branch}`);
  return sha ? { sha, where: `branch ${branch}` } : null;
}

/**
 * The agent builder step before `buildPromptPullRequestJob`: resolves AGENTS.md and the named agent at
 * the run's source, and applies the agent's driver, model, mode and timeout unless the request sets
 * them. A source that does not resolve is left to the launch path's validation.
 */
export async function applyAgentToRequest(app: AppContext, access: RepositoryAccess, request: RunRequest): Promise<RunRequest> {
  if (request.agentContext) return request;
  const agentKey = request.agentKey?.trim() || null;
  const source = await requestSourceCommit(access, request);
  if (!source) return request; // the launch path's validation says what is wrong with the source
  const { ctx, def, mapped } = await resolveAgent(app, access.gitDir, source.sha, agentKey, source.where);
  if (!def) return { ...request, agentKey, agentContext: ctx };
  const driver = request.driver || mapped.driver;
  const model = request.model || (!request.driver || request.driver === mapped.driver ? mapped.model : undefined);
  return {
    ...request,
    agentKey,
    driver,
    model,
    mode: request.mode || def.agent.mode,
    timeoutMs: request.timeoutMs ?? (def.agent.timeout ? def.agent.timeout * 1000 : undefined),
    agentContext: ctx,
  };
}

/** The scripted driver checks the text it will run: the agent's trusted instructions and the task. */
export function promptForDriverCheck(ctx: AgentRunContext | null | undefined, prompt: string): string {
  return [ctx?.repository_instructions?.text, ctx?.agent?.instructions, prompt].filter((s): s is string => !!s).join('\n\n');
}

/** Repository agents at a branch (for the Agents tab and the API). */
export async function agentsAtRef(access: { gitDir: string }, ref: string): Promise<AgentManifest | null> {
  const sha = isSha(ref) ? await resolveCommit(access.gitDir, ref) : isValidBranchName(ref) ? await resolveCommit(access.gitDir, `refs/heads/${ref}`) : null;
  if (!sha) return null;
  return loadAgentManifestForBranch(access.gitDir, sha);
}
