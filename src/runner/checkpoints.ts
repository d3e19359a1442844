import type { CheckpointReport, RunnerClient } from './client.ts';
import type { SandboxBackend, Workspace } from './sandbox.ts';
import { WorkspaceUnmountedError, type SnapshotInfo, type SnapshotStore } from './snapshots.ts';
import type { WorkspaceGit } from './workspaceGit.ts';
import type { TraceEvent } from './drivers/types.ts';

/** A live snapshot slower than this makes the rest of the run's steps code-only checkpoints. */
const LIVE_SNAPSHOT_BUDGET_MS = 2_000;

/** Replaces the runner's snapshot inventory on the server (best effort: a failure is logged, never fatal). */
export function reportSnapshots(client: RunnerClient, store: SnapshotStore, log: (line: string) => void): Promise<void> {
  const inventory = store.list().map((s) => ({ id: s.id, mode: s.mode, bytes: s.bytes, parent: s.parent, created_at: s.created_at, last_used_at: s.last_used_at }));
  return client.reportSnapshots(inventory).catch((err: unknown) => log(`reporting snapshots failed: ${(err as Error)?.message ?? String(err)}`));
}

interface Taken {
  step: number;
  traceSeq: number;
  commit: string;
  final: boolean;
  snapshot: CheckpointReport['snapshot'];
  setupCacheKey?: string;
}

/**
 * A run's checkpoints (issue 13): after the workspace is prepared (step 0), after each agent step that
 * changed files, and at the success point. Each is the checkout's state as a commit (the previous
 * checkpoint as parent, made in the runner's git with an index of its own, so the code survives
 * without the snapshot) and, where the backend keeps snapshots, a snapshot of the workspace. They are
 * pushed to the run's hidden step refs and reported when the run ends — in every terminal state, so a
 * failed run can be forked from the step before it went wrong.
 */
export class CheckpointRecorder {
  private readonly taken: Taken[] = [];
  private parent: string;
  /** A live snapshot went over its budget (the agent changed a lot of files): later steps keep their code only. */
  private liveTooSlow = false;

  constructor(
    private readonly sandbox: SandboxBackend,
    private readonly ws: Workspace,
    private readonly git: WorkspaceGit,
    source: string,
    private readonly emit: (e: TraceEvent) => void,
    private readonly onSnapshot: () => void,
    private readonly tracePosition: () => number,
  ) {
    this.parent = source;
  }

  get count(): number {
    return this.taken.length;
  }

  /** The last step number taken (-1 before the first). */
  get lastStep(): number {
    return this.taken.at(-1)?.step ?? -1;
  }

  /** Takes the next checkpoint. Nothing may run in the workspace meanwhile. A failure is reported in the trace, never fatal. */
  async take(opts: { final?: boolean; commit?: string; setupCacheKey?: string; label?: string; live?: boolean; reuse?: SnapshotInfo } = {}): Promise<void> {
    const step = this.lastStep + 1;
    const traceSeq = this.tracePosition();
    try {
      const commit = opts.commit ?? (await this.commitWorkTree(step));
      let snapshot: Taken['snapshot'] = null;
      try {
        const started = Date.now();
        const info = opts.reuse ?? (opts.live && this.liveTooSlow ? null : await this.sandbox.snapshot(this.ws, opts.live ? { live: true } : undefined));
        if (opts.live && Date.now() - started > LIVE_SNAPSHOT_BUDGET_MS && !this.liveTooSlow) {
          this.liveTooSlow = true;
          this.emit({ kind: 'status', data: { message: `Checkpoint ${step}: snapshotting the running workspace took ${Date.now() - started} ms; the next steps keep their code only` } });
        }
        if (info) {
          snapshot = { id: info.id, mode: info.mode, bytes: info.bytes };
          this.onSnapshot();
        }
      } catch (err) {
        if (err instanceof WorkspaceUnmountedError) throw err;
        this.emit({ kind: 'status', data: { message: `Checkpoint ${step}: no snapshot (${(err as Error).message.split('\n')[0]}); its code is kept` } });
      }
      this.taken.push({ step, traceSeq, commit, final: !!opts.final, snapshot, setupCacheKey: opts.setupCacheKey });
      this.parent = commit;
      this.emit({ kind: 'status', data: { message: `Checkpoint ${step}${opts.label ? ` (${opts.label})` : ''}: ${commit.slice(0, 12)}${snapshot ? `, ${snapshot.mode} snapshot` : ''}` } });
    } catch (err) {
      // A workspace that lost its mount ends the run: going on would work in an empty directory.
      if (err instanceof WorkspaceUnmountedError) throw err;
      this.emit({ kind: 'status', data: { message: `Checkpoint ${step} was not taken: ${(err as Error).message.split('\n')[0]}` } });
    }
  }

  private async commitWorkTree(step: number): Promise<string> {
    const env = { GIT_INDEX_FILE: `${this.ws.view.gitDir}/checkpoint-index`, GIT_AUTHOR_NAME: 'gitoku', GIT_AUTHOR_EMAIL: 'gitoku@gitoku.invalid', GIT_COMMITTER_NAME: 'gitoku', GIT_COMMITTER_EMAIL: 'gitoku@gitoku.invalid' };
    await this.git(['read-tree', this.parent], { env });
    await this.git(['add', '-A'], { env });
    const tree = (await this.git(['write-tree'], { env })).trim();
    return (await this.git(['commit-tree', tree, '-p', this.parent, '-m', `gitoku checkpoint: step ${step}`], { env })).trim();
  }

  private queue: Promise<void> = Promise.resolve();

  /**
   * For agents that run as one process (the Codex, Claude Code and command drivers): a checkpoint after
   * each step the trace shows changing files, taken while the agent goes on — its code, and a live
   * snapshot where the store makes that cheap (overlay: the changes since boot; the agent's session
   * files in its home included, so a fork resumes the conversation as it was at that step). Serialized;
   * `settled` waits for them.
   */
  onTraceEvent(event: TraceEvent): void {
    if (event.kind !== 'file_edit' && !(event.kind === 'command' && event.data.exit_code !== null)) return;
    this.queue = this.queue.then(() => this.take({ live: true }));
  }

  settled(): Promise<void> {
    return this.queue;
  }

  /** Pushes every checkpoint's commit to its step ref in one push, then reports them. */
  async flush(client: RunnerClient, jobId: number, attempt: number, cloneUrl: string, refPrefix: string | undefined): Promise<void> {
    await this.queue;
    if (!this.taken.length || !refPrefix) return;
    try {
      await this.git(['push', '-q', '--force', cloneUrl, ...this.taken.map((t) => `${t.commit}:${refPrefix}${t.step}`)], { auth: true });
      for (const t of this.taken) {
        await client.checkpoint(jobId, { attempt, step: t.step, trace_event_id: null, trace_seq: t.traceSeq, commit_sha: t.commit, final: t.final, snapshot: t.snapshot, ...(t.setupCacheKey ? { setup_cache_key: t.setupCacheKey } : {}) });
      }
    } catch (err) {
      this.emit({ kind: 'status', data: { message: `Checkpoints were not recorded: ${(err as Error).message.split('\n')[0]}` } });
    }
  }
}
