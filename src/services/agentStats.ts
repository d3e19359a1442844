import type { AppContext } from './app.ts';
import { tokensOf } from '../domain/runs.ts';
import type { Run } from '../db/schema.ts';
import { agentsAtRef, parseAgentRunContext, type AgentManifest } from './agents.ts';
import type { RepositoryAccess } from './repositories.ts';

/** One agent's record in a repository: its runs and how their pull requests ended. */
export interface AgentRecord {
  key: string;
  runs: number;
  succeeded: number;
  failed: number;
  /** Pull requests of its runs merged, and closed without merging. */
  merged: number;
  closed: number;
  /** merged / (merged + closed); null before any pull request was decided. */
  successRate: number | null;
  /** Mean wall time of finished runs, in milliseconds; null when none finished. */
  averageMs: number | null;
  /** Mean tokens per run that reported usage; null when none did. */
  averageTokens: number | null;
}

export interface AgentRunRow {
  run: Run;
  pullRequest: { number: number; state: string } | null;
  /** The definition version the run used: blob of the instructions and the last commit of the defining file. */
  instructionsBlob: string | null;
  definitionCommit: string | null;
}


const MAX_RUNS = 2000;

/** Runs of the repository's agents (newest first, bounded) with their pull requests' states. */
export async function listAgentRuns(app: AppContext, repositoryId: number, agentKey?: string): Promise<AgentRunRow[]> {
  let q = app.db
    .selectFrom('prompt_pull_request_jobs')
    .leftJoin('pull_requests', 'pull_requests.id', 'prompt_pull_request_jobs.pull_request_id')
    .selectAll('prompt_pull_request_jobs')
    .select(['pull_requests.number as pr_number', 'pull_requests.state as pr_state'])
    .where('prompt_pull_request_jobs.repository_id', '=', repositoryId)
    .where('prompt_pull_request_jobs.agent_key', 'is not', null);
  if (agentKey) q = q.where('prompt_pull_request_jobs.agent_key', '=', agentKey);
  const rows = await q.orderBy('prompt_pull_request_jobs.id', 'desc').limit(MAX_RUNS).execute();
  return rows.map(({ pr_number, pr_state, ...run }) => {
    const def = parseAgentRunContext(run.agent_definition)?.agent;
    return { run: run as Run, pullRequest: pr_number !== null && pr_state !== null ? { number: pr_number, state: pr_state } : null, instructionsBlob: def?.instructions_blob_sha ?? null, definitionCommit: def?.instructions_commit_sha ?? def?.file_commit_sha ?? null };
  });
}

export function agentRecords(rows: AgentRunRow[]): Map<string, AgentRecord> {
  const out = new Map<string, AgentRecord & { ms: number[]; tokens: number[] }>();
  for (const { run, pullRequest } of rows) {
    const key = run.agent_key!;
    const r = out.get(key) ?? { key, runs: 0, succeeded: 0, failed: 0, merged: 0, closed: 0, successRate: null, averageMs: null, averageTokens: null, ms: [], tokens: [] };
    r.runs++;
    if (run.status === 'succeeded') r.succeeded++;
    if (run.status === 'failed') r.failed++;
    if (pullRequest?.state === 'merged') r.merged++;
    if (pullRequest?.state === 'closed') r.closed++;
    if (run.started_at && run.finished_at) r.ms.push(Date.parse(run.finished_at) - Date.parse(run.started_at));
    const t = tokensOf(run.usage);
    if (t !== null) r.tokens.push(t);
    out.set(key, r);
  }
  const mean = (xs: number[]) => (xs.length ? Math.round(xs.reduce((a, b) => a + b, 0) / xs.length) : null);
  return new Map(
    [...out].map(([key, { ms, tokens, ...r }]) => [key, { ...r, successRate: r.merged + r.closed ? r.merged / (r.merged + r.closed) : null, averageMs: mean(ms), averageTokens: mean(tokens) }]),
  );
}

export interface AgentsOverview {
  ref: string;
  sha: string | null;
  manifest: AgentManifest | null;
  records: Map<string, AgentRecord>;
  runs: AgentRunRow[];
}

/** The agents at a branch (or commit) with every agent's record: the Agents tab and its API. */
export async function agentsOverview(app: AppContext, access: RepositoryAccess, ref: string): Promise<AgentsOverview> {
  const manifest = await agentsAtRef(access, ref);
  const runs = await listAgentRuns(app, access.repo.id);
  return { ref, sha: manifest?.commitSha ?? null, manifest, records: agentRecords(runs), runs };
}
