import type { AppContext } from '../services/app.ts';
import type { GraphEvent } from '../db/schema.ts';
import type { RepositoryWithOwner } from '../services/repositories.ts';

/** An event as behaviors see it: the outbox row with its payload parsed. */
export interface DispatchedEvent {
  id: number;
  type: string;
  repositoryId: number | null;
  subject: string;
  payload: Record<string, unknown>;
  createdAt: string;
}

export interface BehaviorContext {
  app: AppContext;
  /** The event's repository (null for events without one, or when it was deleted). */
  repo: RepositoryWithOwner | null;
}

export interface BehaviorLink {
  kind: 'job' | 'run' | 'workflow_run' | 'review' | 'comment' | 'pull_request' | 'status';
  id: number;
  label: string;
}

export interface BehaviorOutcome {
  outcome: string;
  links?: BehaviorLink[];
}

/**
 * A reaction to events (DESIGN §4.2): runs at most once per event (behavior_runs is unique on the
 * pair), must be idempotent (delivery is at-least-once: enqueue with dedup keys), and never throws
 * for a condition that is not an error — it returns an outcome saying what it did or why not.
 */
export interface Behavior {
  key: string;
  description: string;
  on: readonly string[];
  /** Optional behaviors can be switched off per repository. */
  optional: boolean;
  when(event: DispatchedEvent, ctx: BehaviorContext): boolean;
  run(event: DispatchedEvent, ctx: BehaviorContext): Promise<BehaviorOutcome>;
}

export class BehaviorRegistry {
  private readonly behaviors: Behavior[] = [];

  register(behavior: Behavior): void {
    if (this.behaviors.some((b) => b.key === behavior.key)) throw new Error(`behavior ${behavior.key} is already registered`);
    this.behaviors.push(behavior);
  }

  forType(type: string): Behavior[] {
    return this.behaviors.filter((b) => b.on.includes(type));
  }

  all(): readonly Behavior[] {
    return this.behaviors;
  }
}

export function toDispatchedEvent(row: GraphEvent): DispatchedEvent {
  let payload: Record<string, unknown> = {};
  try {
    payload = JSON.parse(row.payload) as Record<string, unknown>;
  } catch {
    payload = {};
  }
  return { id: row.id, type: row.type, repositoryId: row.repository_id, subject: row.subject, payload, createdAt: row.created_at };
}
