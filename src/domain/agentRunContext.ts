/** A run's agent context, stored on the run as `agent_definition` (resolved by services/agents.ts). */

/** What a run's agent context was resolved to (stored on the run as `agent_definition`). */
export interface AgentRunContext {
  /** The source commit everything was read at. */
  commit_sha: string;
  repository_instructions: { path: string; blob_sha: string; text: string } | null;
  agent: {
    key: string;
    name: string;
    description: string;
    format: string;
    /** The file that defines it, its blob and the last commit that changed it (the definition's version). */
    source: string;
    blob_sha: string;
    file_commit_sha: string | null;
    instructions_path: string;
    instructions_blob_sha: string;
    instructions_commit_sha: string | null;
    instructions: string;
    tools: string[];
    /** The driver and model the definition asked for, and how they were mapped. */
    driver: string | null;
    model: string | null;
    driver_note: string | null;
  } | null;
}

export function parseAgentRunContext(json: string | null | undefined): AgentRunContext | null {
  if (!json) return null;
  try {
    const v = JSON.parse(json) as AgentRunContext;
    return v && typeof v === 'object' && typeof v.commit_sha === 'string' ? v : null;
  } catch {
    return null;
  }
}

