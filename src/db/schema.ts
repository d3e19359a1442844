import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

/**
 * Table types shared by both dialects. Portable conventions:
 * timestamps are ISO-8601 UTC strings (sortable as text), booleans are 0/1 integers, JSON is text.
 */
export interface UsersTable {
  id: Generated<number>;
  username: string;
  lower_name: string;
  email: string;
  full_name: string;
  password_hash: string;
  is_admin: number;
  created_at: string;
  updated_at: string;
  /** Profile (migration 0023): GitHub's `bio`, `blog`, `location`. */
  bio: Generated<string>;
  website: Generated<string>;
  location: Generated<string>;
  /** Set while a site administrator has disabled the account. */
  suspended_at: Generated<string | null>;
  /** The uploaded avatar's file name under <data>/avatars/<id>/, or null for the generated one. */
  avatar: Generated<string | null>;
}

export interface SessionsTable {
  id_hash: string;
  user_id: number;
  created_at: string;
  expires_at: string;
  last_seen_at: Generated<string | null>;
  user_agent: Generated<string>;
  ip: Generated<string>;
}

export interface AccessTokensTable {
  id: Generated<number>;
  user_id: number;
  name: string;
  token_hash: string;
  token_last_eight: string;
  scopes: string;
  expires_at: string | null;
  last_used_at: string | null;
  created_at: string;
}

export interface RepositoriesTable {
  id: Generated<number>;
  owner_id: number;
  name: string;
  lower_name: string;
  description: string;
  is_private: number;
  default_branch: string;
  is_empty: number;
  storage_path: string;
  ai_reviews_enabled: number;
  review_driver: Generated<string>;
  review_model: Generated<string>;
  review_instructions: Generated<string>;
  conflict_resolution_enabled: Generated<number>;
  /** Default agent for new runs ('' = the server's default). */
  default_driver: Generated<string>;
  default_model: Generated<string>;
  /** What agent sandboxes may reach: 'none' | 'model-only' | 'allow-list' | 'open' (domain/network.ts). */
  agent_network: Generated<string>;
  /** Space-separated hosts for 'allow-list'. */
  agent_network_hosts: Generated<string>;
  /** When a run's pull request is closed or merged, delete its branch: 'never' | 'no-commits' | 'always'. */
  run_branch_cleanup: Generated<string>;
  /** 1 when repository_refs is a complete record of the repository's tracked refs (0: not yet baselined). */
  refs_baselined: Generated<number>;
  /** 1 = archived: read-only for everyone (migration 0022). */
  archived: Generated<number>;
  /** How many users starred it (repository_stars; migration 0027). */
  stars_count: Generated<number>;
  pushed_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface RepositoryCountersTable {
  repository_id: number;
  /** Which sequence: 'run'. */
  kind: string;
  value: number;
}

export interface CollaboratorsTable {
  repository_id: number;
  user_id: number;
  role: 'read' | 'write' | 'admin';
  created_at: string;
}

export interface RepositoryStarsTable {
  repository_id: number;
  user_id: number;
  created_at: string;
}

export interface RepositoryWatchesTable {
  repository_id: number;
  user_id: number;
  /** 'watching' (all activity) or 'ignoring' (none); no row: participating and @mentions. */
  state: 'watching' | 'ignoring';
  created_at: string;
}

export interface NotificationsTable {
  id: Generated<number>;
  user_id: number;
  repository_id: number;
  subject_type: 'issue' | 'pull_request' | 'run';
  subject_number: number;
  title: string;
  /** GitHub's reasons: 'subscribed', 'author', 'comment', 'mention', 'assign', 'review_requested'; and 'run' (a task you started). */
  reason: string;
  /** What happened last: 'opened', 'commented', 'merged', 'succeeded' … */
  action: string;
  last_actor_id: number | null;
  unread: Generated<number>;
  updated_at: string;
  last_read_at: string | null;
}

export interface InstanceSettingsTable {
  key: string;
  value: string;
}

export interface GraphNodesTable {
  id: Generated<number>;
  repository_id: number | null;
  kind: string;
  key: string;
  data: string;
  created_at: string;
}

export interface GraphEdgesTable {
  id: Generated<number>;
  src_id: number;
  dst_id: number;
  kind: string;
  data: string;
  created_at: string;
}

export interface GraphEventsTable {
  id: Generated<number>;
  type: string;
  repository_id: number | null;
  subject: string;
  payload: string;
  created_at: string;
  dispatched_at: string | null;
  lease_owner: string | null;
  lease_expires_at: string | null;
}

export interface BehaviorRunsTable {
  id: Generated<number>;
  event_id: number;
  behavior_key: string;
  status: string;
  outcome: string;
  error: string | null;
  attempts: number;
  next_attempt_at: string | null;
  /** JSON list of {kind, id, label} for what the behavior created (jobs, runs, reviews, comments). */
  links: Generated<string>;
  created_at: string;
  updated_at: string;
}

export interface PullRequestsTable {
  id: Generated<number>;
  repository_id: number;
  number: number;
  title: string;
  body: string;
  state: 'open' | 'closed' | 'merged';
  draft: number;
  base_branch: string;
  compare_branch: string;
  head_sha: string;
  base_sha: string;
  merge_base_sha: string | null;
  /** null = not computed yet; 1 = merges cleanly; 0 = conflicts. */
  mergeable: number | null;
  conflict_files: string;
  author_id: number | null;
  merged_at: string | null;
  merged_by_id: number | null;
  merge_commit_sha: string | null;
  merge_method: string | null;
  closed_at: string | null;
  /** Why gitoku closed it itself ('run-no-commits'); '' when a person closed it (or it is open). */
  closed_reason: Generated<string>;
  created_at: string;
  updated_at: string;
}

export interface PullRequestReviewsTable {
  id: Generated<number>;
  pull_request_id: number;
  author_id: number | null;
  state: 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED';
  body: string;
  commit_sha: string;
  created_at: string;
}

export interface PullRequestCommentsTable {
  id: Generated<number>;
  pull_request_id: number;
  author_id: number | null;
  review_id: number | null;
  in_reply_to_id: number | null;
  body: string;
  /** null for conversation comments; set for comments anchored to a diff line. */
  path: string | null;
  line: number | null;
  side: 'LEFT' | 'RIGHT' | null;
  commit_sha: string | null;
  /** The anchored line's text when the comment was made: the comment is outdated once it differs at the head. */
  line_content: string | null;
  diff_hunk: string | null;
  created_at: string;
  updated_at: string;
}

export interface CommitStatusesTable {
  id: Generated<number>;
  repository_id: number;
  sha: string;
  state: 'pending' | 'success' | 'failure' | 'error';
  context: string;
  description: string;
  target_url: string | null;
  creator_id: number | null;
  created_at: string;
  updated_at: string;
}

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface JobsTable {
  id: Generated<number>;
  kind: string;
  repository_id: number | null;
  payload: string;
  status: JobStatus;
  run_after: string;
  attempts: number;
  max_attempts: number;
  lease_owner: string | null;
  lease_expires_at: string | null;
  last_error: string | null;
  result: string | null;
  cancel_requested: number;
  dedup_key: string | null;
  /** Claimed only by this runner during the first seconds after it became claimable (it holds the snapshot the job boots from). */
  preferred_runner_id: Generated<number | null>;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface RunnersTable {
  id: Generated<number>;
  name: string;
  token_hash: string;
  labels: string;
  version: string;
  embedded: number;
  busy_jobs: number;
  last_seen_at: string | null;
  created_at: string;
}

export interface RunnerRegistrationTokensTable {
  id: Generated<number>;
  token_hash: string;
  created_by_id: number | null;
  expires_at: string | null;
  created_at: string;
}

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'blocked';

export interface PromptPullRequestJobsTable {
  id: Generated<number>;
  repository_id: number;
  number: number;
  prompt: string;
  title: string;
  description: string;
  mode: string;
  agent_key: string | null;
  driver: string;
  model: string;
  base_branch: string;
  source_branch: string | null;
  source_commit: string;
  compare_branch: string;
  commit_sha: string | null;
  pull_request_id: number | null;
  forked_from_job_id: number | null;
  /** The step of the source run this fork started from (run_checkpoints.step). */
  forked_from_step: Generated<number | null>;
  /** 'warm' (booted from a snapshot) or 'cold', as the runner reported at completion. */
  workspace_start: Generated<string | null>;
  /** The best-of-N group this run is an attempt of. */
  group_id: Generated<number | null>;
  job_id: number | null;
  status: RunStatus;
  error: string | null;
  result_summary: string | null;
  usage: string;
  rendered_prompt: string | null;
  /** The agent context resolved at the source commit (JSON, services/agents.ts AgentRunContext); null for older runs. */
  agent_definition: Generated<string | null>;
  /** The memory section as rendered into the prompt (issue 14); null when the run was given none. */
  memory_section: Generated<string | null>;
  session_id: string | null;
  /** The model that answered, as the agent reported it (`model` keeps the alias the run was started with); null when unknown. */
  resolved_model: Generated<string | null>;
  /** The issue the run was started for (assignment, label or `/run`); null otherwise. */
  issue_id: Generated<number | null>;
  created_by_id: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

export interface RunEventsTable {
  id: Generated<number>;
  run_id: number;
  attempt: number;
  seq: number;
  kind: string;
  data: string;
  created_at: string;
}

export interface JobTokensTable {
  id: Generated<number>;
  token_hash: string;
  job_id: number;
  repository_id: number;
  user_id: number;
  allowed_ref: string;
  /** Refs under this prefix may be pushed too (a run's checkpoint refs); null: none. */
  allowed_ref_prefix: Generated<string | null>;
  expires_at: string;
  revoked_at: string | null;
  created_at: string;
}

/** The ingress's record of a repository's tracked refs (branches, tags, notes): where it last saw each. */
export interface RepositoryRefsTable {
  repository_id: number;
  ref: string;
  sha: string;
}

export interface RepositoryBehaviorSettingsTable {
  repository_id: number;
  behavior_key: string;
  enabled: number;
}

export interface WorkflowRunsTable {
  id: Generated<number>;
  repository_id: number;
  number: number;
  workflow_key: string;
  name: string;
  event: string;
  ref: string;
  sha: string;
  pull_request_id: number | null;
  status: 'queued' | 'running' | 'completed';
  conclusion: 'success' | 'failure' | 'error' | 'cancelled' | null;
  job_id: number | null;
  steps: string;
  error: string | null;
  created_by_id: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface WorkflowRunEventsTable {
  id: Generated<number>;
  workflow_run_id: number;
  attempt: number;
  seq: number;
  kind: string;
  data: string;
  created_at: string;
}

export interface RunDependenciesTable {
  run_id: number;
  depends_on_run_id: number;
}

export interface CommitAiContextsTable {
  id: Generated<number>;
  repository_id: number;
  commit_sha: string;
  capture_index: number;
  /** codex, claude, openai, script, command — or an ingested tool's name (copilot, cursor, aider …). */
  source_family: string;
  exact_model_name: string;
  prompt: string;
  thinking: string;
  session_id: string | null;
  /** 0–1: 1.0 for gitoku's own runs, lower for ingested evidence. */
  capture_confidence: number;
  /** agent_run, commit_trailer, git_notes, agent_trace, whogitit, gitoku_notes, … */
  evidence_kind: string;
  /** JSON array of the paths the capture wrote in this commit. */
  modified_files: string;
  /** JSON object: path → [[start, end], …] post-image line ranges the capture added or changed in this commit. */
  modified_line_spans_json: string;
  run_id: number | null;
  /** The pull request that brought the commit (a run's, a merge's, or one opened on pushed commits). */
  pull_request_id: number | null;
  /** JSON object with source-specific facts (agent turn, trailer text, note origin …). */
  details: string;
  created_at: string;
}

/** A checkpoint of a run: the code at a step (a commit on a hidden ref) and the snapshot a runner made of it. */
export interface RunCheckpointsTable {
  id: Generated<number>;
  run_id: number;
  step: number;
  attempt: number;
  trace_event_id: number | null;
  commit_sha: string;
  ref: string;
  final: number;
  snapshot_id: string | null;
  snapshot_mode: string | null;
  snapshot_bytes: number | string | null;
  runner_id: number | null;
  created_at: string;
}

/** A runner's snapshot inventory (replaced by the runner whenever it changes). */
export interface RunnerSnapshotsTable {
  runner_id: number;
  snapshot_id: string;
  mode: string;
  bytes: number | string;
  parent: string | null;
  created_at: string;
  last_used_at: string;
}

/** The snapshot of a repository's `[workspace]` set-up per cache key. */
export interface WorkspaceCachesTable {
  repository_id: number;
  cache_key: string;
  snapshot_id: string;
  runner_id: number | null;
  commit_sha: string;
  created_at: string;
}

/** Best-of-N: sibling runs of one task. */
export interface RunGroupsTable {
  id: Generated<number>;
  repository_id: number;
  created_by_id: number | null;
  prompt: string;
  created_at: string;
  kept_run_id: number | null;
}

/** Dedup record of agents started by routing or mentions: one per (repository, agent, event, subject). */
export interface AgentTriggersTable {
  id: Generated<number>;
  repository_id: number;
  agent_key: string;
  event: string;
  subject: string;
  run_id: number | null;
  outcome: Generated<string>;
  created_at: string;
}

export interface ReleasesTable {
  id: Generated<number>;
  repository_id: number;
  tag_name: string;
  target_commitish: string;
  name: string;
  body: string;
  draft: number;
  prerelease: number;
  author_id: number | null;
  created_at: string;
  updated_at: string;
  published_at: string | null;
}

export interface ReleaseAssetsTable {
  id: Generated<number>;
  release_id: number;
  repository_id: number;
  name: string;
  label: string;
  content_type: string;
  size: number;
  download_count: Generated<number>;
  /** Relative to the data directory. */
  storage_path: string;
  uploader_id: number | null;
  /** 'starter' while uploading, 'uploaded' when complete. */
  state: string;
  created_at: string;
  updated_at: string;
}

/** One memory entry (issue 14, services/memory.ts); `kind` ∈ claim | decision | failure | convention. */
export interface MemoryEntriesTable {
  id: Generated<number>;
  repository_id: number;
  node_id: number;
  kind: string;
  subject: string;
  /** The subject normalized for matching (domain/memory.ts normalizeSubject). */
  subject_key: string;
  fact: string;
  fact_key: string;
  reason: string;
  /** JSON: MemoryCitation[]. */
  citations: string;
  scope_agent: string | null;
  /** JSON: path globs. */
  scope_paths: string;
  source_type: string;
  source_id: number | null;
  source_label: string;
  confidence: number;
  pinned: number;
  status: string;
  contradiction: number;
  created_by_id: number | null;
  created_at: string;
  validated_at: string | null;
  expires_at: string;
  updated_at: string;
}

export interface MemoryCitationsTable {
  id: Generated<number>;
  entry_id: number;
  repository_id: number;
  path: string;
  start_line: number;
  end_line: number;
  commit_sha: string;
  content_hash: string;
  /** The cited lines (to find them again when they moved). */
  text: string;
}

/** A repository's webhook, or a server-wide one (repository_id null); `events` is a JSON array. */
export interface WebhooksTable {
  id: Generated<number>;
  repository_id: number | null;
  url: string;
  /** Kept to sign deliveries (X-Hub-Signature-256); never returned by the API. */
  secret: string;
  content_type: string;
  insecure_ssl: number;
  events: string;
  active: number;
  created_by_id: number | null;
  created_at: string;
  updated_at: string;
}

/** One delivery of a webhook (services/webhooks.ts); status ∈ pending | retrying | delivered | failed. */
export interface WebhookDeliveriesTable {
  id: Generated<number>;
  hook_id: number;
  repository_id: number | null;
  source_event_id: number | null;
  event: string;
  action: string | null;
  guid: string;
  redelivery_of: number | null;
  url: string;
  /** JSON object of the headers sent. */
  request_headers: string;
  request_body: string;
  response_status: number | null;
  response_headers: string | null;
  response_body: string | null;
  error: string | null;
  duration_ms: number | null;
  status: string;
  attempts: number;
  job_id: number | null;
  created_at: string;
  delivered_at: string | null;
  updated_at: string;
}

/** An issue (issue 17); its number is drawn from the same per-repository sequence as pull requests. */
export interface IssuesTable {
  id: Generated<number>;
  repository_id: number;
  number: number;
  title: string;
  body: string;
  state: 'open' | 'closed';
  /** Why it was closed (completed, not_planned) or 'reopened'; null while it never was. */
  state_reason: 'completed' | 'not_planned' | 'reopened' | null;
  author_id: number | null;
  closed_by_id: number | null;
  closed_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface IssueCommentsTable {
  id: Generated<number>;
  repository_id: number;
  issue_id: number;
  author_id: number | null;
  body: string;
  created_at: string;
  updated_at: string;
}

/** A repository's label; `agent_key` (or a name `agent:<key>`) makes labelling an issue start that agent. */
export interface LabelsTable {
  id: Generated<number>;
  repository_id: number;
  name: string;
  lower_name: string;
  /** Six hex digits, no '#'. */
  color: string;
  description: string;
  agent_key: string | null;
  created_at: string;
  updated_at: string;
}

/** Labels of an issue or pull request (by number: they share the sequence). */
export interface IssueLabelsTable {
  repository_id: number;
  number: number;
  label_id: number;
  created_at: string;
}

/** Assignees of an issue or pull request: `user:<id>` or `agent:<key>`. */
export interface IssueAssigneesTable {
  repository_id: number;
  number: number;
  assignee: string;
  user_id: number | null;
  agent_key: string | null;
  created_at: string;
}

/** Timeline entries of an issue or pull request (services/issueTimeline.ts). */
export interface IssueEventsTable {
  id: Generated<number>;
  repository_id: number;
  number: number;
  event: string;
  actor_id: number | null;
  /** JSON, per event (label, assignee, commit_id, source, run …). */
  data: string;
  /** Set for entries that must be recorded once (a reference from a given commit or pull request). */
  dedup_key: string | null;
  created_at: string;
}

/** An old owner/name of a renamed or transferred repository (migration 0022). */
export interface RepositoryRedirectsTable {
  id: Generated<number>;
  owner_id: number;
  lower_name: string;
  repository_id: number;
  created_at: string;
}

/** A branch protection rule on a branch name pattern (migration 0022; GitHub's fields). */
export interface BranchProtectionsTable {
  id: Generated<number>;
  repository_id: number;
  pattern: string;
  required_status_checks: number;
  strict: number;
  /** JSON list of status contexts that must be `success`. */
  contexts: string;
  required_reviews: number;
  required_approving_review_count: number;
  dismiss_stale_reviews: number;
  enforce_admins: number;
  allow_force_pushes: number;
  allow_deletions: number;
  created_at: string;
  updated_at: string;
}

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  access_tokens: AccessTokensTable;
  repositories: RepositoriesTable;
  collaborators: CollaboratorsTable;
  repository_stars: RepositoryStarsTable;
  repository_watches: RepositoryWatchesTable;
  notifications: NotificationsTable;
  instance_settings: InstanceSettingsTable;
  graph_nodes: GraphNodesTable;
  graph_edges: GraphEdgesTable;
  graph_events: GraphEventsTable;
  behavior_runs: BehaviorRunsTable;
  pull_requests: PullRequestsTable;
  pull_request_reviews: PullRequestReviewsTable;
  pull_request_comments: PullRequestCommentsTable;
  commit_statuses: CommitStatusesTable;
  jobs: JobsTable;
  runners: RunnersTable;
  runner_registration_tokens: RunnerRegistrationTokensTable;
  prompt_pull_request_jobs: PromptPullRequestJobsTable;
  run_events: RunEventsTable;
  repository_counters: RepositoryCountersTable;
  job_tokens: JobTokensTable;
  commit_ai_contexts: CommitAiContextsTable;
  repository_behavior_settings: RepositoryBehaviorSettingsTable;
  repository_refs: RepositoryRefsTable;
  workflow_runs: WorkflowRunsTable;
  workflow_run_events: WorkflowRunEventsTable;
  run_dependencies: RunDependenciesTable;
  run_checkpoints: RunCheckpointsTable;
  runner_snapshots: RunnerSnapshotsTable;
  workspace_caches: WorkspaceCachesTable;
  run_groups: RunGroupsTable;
  agent_triggers: AgentTriggersTable;
  issues: IssuesTable;
  issue_comments: IssueCommentsTable;
  labels: LabelsTable;
  issue_labels: IssueLabelsTable;
  issue_assignees: IssueAssigneesTable;
  issue_events: IssueEventsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  memory_entries: MemoryEntriesTable;
  memory_citations: MemoryCitationsTable;
  releases: ReleasesTable;
  release_assets: ReleaseAssetsTable;
  repository_redirects: RepositoryRedirectsTable;
  branch_protections: BranchProtectionsTable;
}

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type Repository = Selectable<RepositoriesTable>;
export type RepositoryUpdate = Updateable<RepositoriesTable>;
export type BranchProtection = Selectable<BranchProtectionsTable>;
export type AccessToken = Selectable<AccessTokensTable>;
export type GraphEvent = Selectable<GraphEventsTable>;
export type PullRequest = Selectable<PullRequestsTable>;
export type PullRequestComment = Selectable<PullRequestCommentsTable>;
export type PullRequestReview = Selectable<PullRequestReviewsTable>;
export type CommitStatus = Selectable<CommitStatusesTable>;
export type Job = Selectable<JobsTable>;
export type Runner = Selectable<RunnersTable>;
export type Run = Selectable<PromptPullRequestJobsTable>;
export type RunEvent = Selectable<RunEventsTable>;
export type WorkflowRun = Selectable<WorkflowRunsTable>;
export type BehaviorRun = Selectable<BehaviorRunsTable>;
export type CommitAiContext = Selectable<CommitAiContextsTable>;
export type GraphNode = Selectable<GraphNodesTable>;
export type GraphEdge = Selectable<GraphEdgesTable>;
export type RunCheckpoint = Selectable<RunCheckpointsTable>;
export type RunGroup = Selectable<RunGroupsTable>;
export type Issue = Selectable<IssuesTable>;
export type IssueComment = Selectable<IssueCommentsTable>;
export type Label = Selectable<LabelsTable>;
export type IssueEvent = Selectable<IssueEventsTable>;
export type Webhook = Selectable<WebhooksTable>;
export type WebhookDelivery = Selectable<WebhookDeliveriesTable>;
export type Release = Selectable<ReleasesTable>;
export type ReleaseAsset = Selectable<ReleaseAssetsTable>;
