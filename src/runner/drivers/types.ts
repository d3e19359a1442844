import type { SandboxBackend, Workspace } from '../sandbox.ts';

/** One normalized trace event (DESIGN §4.7), whatever agent produced it. */
export type TraceEvent =
  | { kind: 'message'; data: { text: string } }
  | { kind: 'thinking'; data: { text: string } }
  | { kind: 'tool_call'; data: { tool: string; input: unknown; output?: string } }
  | { kind: 'command'; data: { command: string; exit_code: number | null; output: string; timed_out?: boolean } }
  | { kind: 'file_edit'; data: { path: string; action: 'write' | 'append' | 'delete'; bytes?: number } }
  | { kind: 'usage'; data: { input_tokens?: number; output_tokens?: number; total_tokens?: number } }
  | { kind: 'error'; data: { message: string } }
  | { kind: 'status'; data: { message: string } }
  | { kind: 'log'; data: { stream: 'stdout' | 'stderr'; text: string } };

export interface DriverContext {
  prompt: string;
  model: string;
  workspace: Workspace;
  sandbox: SandboxBackend;
  env: Record<string, string>;
  timeoutMs: number;
  signal: AbortSignal;
  emit(event: TraceEvent): void;
  /**
   * Called by drivers whose steps the runner sees one by one (script, openai) after each step that
   * changed files, with nothing running in the workspace: the runner takes a checkpoint there.
   */
  afterStep?: () => Promise<void>;
  /** A session of this driver's agent to resume (a fork that keeps the driver; its home holds the session). */
  resumeSession?: string | null;
}

export interface DriverResult {
  /** What the agent says it did (its last message). */
  summary: string;
  usage: Record<string, number>;
  sessionId: string | null;
  /** The model that answered, as the agent reports it (an alias such as `sonnet` or `default` resolved); null when unknown. */
  model?: string | null;
}

/** Raised by a driver when the agent failed (not retryable: the same prompt would fail again). */
export class AgentFailure extends Error {}

export interface AgentDriver {
  name: string;
  run(ctx: DriverContext): Promise<DriverResult>;
}
