import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { findRepository, roleFor, type RepositoryWithOwner } from './repositories.ts';
import { findUserById } from './users.ts';
import { closeIssueBy } from './issues.ts';
import { recordTimeline } from './issueEvents.ts';
import { wakeDispatcher } from '../events/wake.ts';
import type { Issue, PullRequest, Repository } from '../db/schema.ts';
import { roleAtLeast, type RepoRole, type Viewer } from '../domain/permissions.ts';
import { distinctReferences, referenceKey, type IssueReference } from '../domain/issueReferences.ts';

/**
 * Cross references (GitHub's): a commit message, an issue, a pull request or a comment that mentions
 * `#N` / `OWNER/REPO#N` adds an entry to that issue's timeline (`referenced` for commits,
 * `cross-referenced` for issues and pull requests); `fixes #N` closes it when the commit reaches the
 * default branch or when the pull request saying it is merged into the default branch.
 *
 * Another repository's issue is touched only when the actor can read it (and closed only when they can
 * write to it); its timeline shows the entry only to viewers who can read the source
 * (services/issueTimeline.ts). A reference the viewer cannot read is never resolved for rendering.
 */

/** A reference resolved for rendering (markdown links): only what the viewer may read. */
export interface ResolvedReference {
  kind: 'issue' | 'pull';
  owner: string;
  repo: string;
  number: number;
  title: string;
  state: 'open' | 'closed' | 'merged';
  /** Site-relative: `/owner/repo/issues/N` or `/owner/repo/pull/N`. */
  url: string;
}

async function viewerRole(app: AppContext, repo: Repository, viewer: Viewer | null): Promise<RepoRole> {
  return roleFor(app, repo, viewer);
}

/**
 * Resolves references for a text of `repo` as `viewer` sees them: key (`#N` or `owner/repo#N`,
 * lower-cased; see `referenceKey`) → issue or pull request. References to repositories the viewer
 * cannot read, and numbers that do not exist, are absent — render them as plain text.
 */
export async function resolveIssueReferences(app: AppContext, viewer: Viewer | null, repo: RepositoryWithOwner, refs: Pick<IssueReference, 'owner' | 'repo' | 'number'>[]): Promise<Map<string, ResolvedReference>> {
  const out = new Map<string, ResolvedReference>();
  const byRepo = new Map<string, { owner: string; name: string; numbers: Set<number>; keys: Map<number, string[]> }>();
  for (const r of refs) {
    const local = !r.owner || !r.repo || (r.owner.toLowerCase() === repo.owner_name.toLowerCase() && r.repo.toLowerCase() === repo.name.toLowerCase());
    const owner = local ? repo.owner_name : r.owner!;
    const name = local ? repo.name : r.repo!;
    const id = `${owner.toLowerCase()}/${name.toLowerCase()}`;
    const entry = byRepo.get(id) ?? { owner, name, numbers: new Set<number>(), keys: new Map<number, string[]>() };
    entry.numbers.add(r.number);
    entry.keys.set(r.number, [...(entry.keys.get(r.number) ?? []), referenceKey(r)]);
    byRepo.set(id, entry);
  }
  for (const entry of byRepo.values()) {
    const target = entry.owner === repo.owner_name && entry.name === repo.name ? repo : await findRepository(app.db, entry.owner, entry.name);
    if (!target) continue;
    if (target.id !== repo.id && !roleAtLeast(await viewerRole(app, target, viewer), 'read')) continue;
    const numbers = [...entry.numbers].slice(0, 500);
    const [issues, pulls] = await Promise.all([
      app.db.selectFrom('issues').select(['number', 'title', 'state']).where('repository_id', '=', target.id).where('number', 'in', numbers).execute(),
      app.db.selectFrom('pull_requests').select(['number', 'title', 'state']).where('repository_id', '=', target.id).where('number', 'in', numbers).execute(),
    ]);
    const base = `/${target.owner_name}/${target.name}`;
    for (const i of issues) for (const key of entry.keys.get(i.number) ?? []) out.set(key, { kind: 'issue', owner: target.owner_name, repo: target.name, number: i.number, title: i.title, state: i.state, url: `${base}/issues/${i.number}` });
    for (const p of pulls) for (const key of entry.keys.get(p.number) ?? []) out.set(key, { kind: 'pull', owner: target.owner_name, repo: target.name, number: p.number, title: p.title, state: p.state, url: `${base}/pull/${p.number}` });
  }
  return out;
}

/** Existing users among `@logins`, by lower-cased login (for linking mentions). */
export async function resolveUserMentions(app: AppContext, logins: string[]): Promise<Map<string, { id: number; username: string }>> {
  const lower = [...new Set(logins.map((l) => l.toLowerCase()))].slice(0, 500);
  if (lower.length === 0) return new Map();
  const rows = await app.db.selectFrom('users').select(['id', 'username', 'lower_name']).where('lower_name', 'in', lower).execute();
  return new Map(rows.map((r) => [r.lower_name, { id: r.id, username: r.username }]));
}

interface Target {
  repo: RepositoryWithOwner;
  issue: Issue;
  /** The actor's role on the target repository. */
  role: RepoRole;
}

/** The issues a text's references point to that the actor can read (pull requests are not issues). */
async function referencedIssues(app: AppContext, source: RepositoryWithOwner, actorId: number | null, refs: IssueReference[]): Promise<(Target & { ref: IssueReference })[]> {
  const actor = actorId !== null ? await findUserById(app.db, actorId) : undefined;
  const viewer: Viewer | null = actor ? { userId: actor.id, isAdmin: actor.is_admin === 1, tokenScopes: null } : null;
  const out: (Target & { ref: IssueReference })[] = [];
  for (const ref of refs.slice(0, 50)) {
    const repo = ref.owner && ref.repo ? await findRepository(app.db, ref.owner, ref.repo) : source;
    if (!repo) continue;
    // Within its own repository the source speaks with the repository's authority (a pushed commit, a merged PR).
    const role: RepoRole = repo.id === source.id ? 'write' : await viewerRole(app, repo, viewer);
    if (!roleAtLeast(role, 'read')) continue;
    const issue = await app.db.selectFrom('issues').selectAll().where('repository_id', '=', repo.id).where('number', '=', ref.number).executeTakeFirst();
    if (issue) out.push({ repo, issue, role, ref });
  }
  return out;
}

/**
 * An issue or pull request (`source`) mentions issues: `cross-referenced` entries on each, once per
 * (issue, source). Returns how many entries were added.
 */
export async function recordCrossReferences(app: AppContext, repo: RepositoryWithOwner, actorId: number | null, source: { kind: 'issue' | 'pull'; number: number }, text: string): Promise<number> {
  const refs = distinctReferences(text, { owner: repo.owner_name, repo: repo.name });
  if (refs.length === 0) return 0;
  let added = 0;
  const at = now();
  for (const t of await referencedIssues(app, repo, actorId, refs)) {
    if (t.repo.id === repo.id && t.issue.number === source.number) continue; // itself
    added += await recordTimeline(app.db, t.repo.id, t.issue.number, [{ event: 'cross-referenced', actorId, data: { source_repository_id: repo.id, source_kind: source.kind, source_number: source.number }, dedupKey: `xref:${repo.id}:${source.number}` }], at);
  }
  return added;
}

export interface CommitForReferences {
  sha: string;
  message: string;
}

/**
 * Commits pushed to a branch of `repo`: a `referenced` entry on every issue they mention (once per
 * commit and issue); when the branch is the default branch, issues they say they fix are closed
 * ("closed this in <commit>") — another repository's only when the pusher can write to it.
 */
export async function recordCommitReferences(app: AppContext, repo: RepositoryWithOwner, actorId: number | null, commits: CommitForReferences[], onDefaultBranch: boolean): Promise<{ referenced: number; closed: string[] }> {
  let referenced = 0;
  const closed: string[] = [];
  // Oldest first, so the first commit that says "fixes" is the one that closes.
  for (const c of [...commits].reverse()) {
    const refs = distinctReferences(c.message, { owner: repo.owner_name, repo: repo.name });
    if (refs.length === 0) continue;
    const at = now();
    const firstLine = c.message.split('\n')[0]!.slice(0, 200);
    for (const t of await referencedIssues(app, repo, actorId, refs)) {
      const done = await app.db.transaction().execute(async (tx) => {
        const n = await recordTimeline(tx, t.repo.id, t.issue.number, [{ event: 'referenced', actorId, data: { commit_id: c.sha, message: firstLine, source_repository_id: repo.id }, dedupKey: `commit:${repo.id}:${c.sha}` }], at);
        const closes = onDefaultBranch && t.ref.closes && roleAtLeast(t.role, 'write');
        const shut = closes ? await closeIssueBy(tx, t.issue, actorId, { commit_id: c.sha, source_repository_id: repo.id }, at) : false;
        return { n, shut };
      });
      referenced += done.n;
      if (done.shut) {
        closed.push(`${t.repo.owner_name}/${t.repo.name}#${t.issue.number}`);
        t.issue.state = 'closed';
      }
    }
  }
  if (closed.length) wakeDispatcher(app);
  return { referenced, closed };
}

/**
 * A pull request was merged: when its base is the default branch, the issues its description says it
 * fixes — and the issue its agent run was started for — are closed ("closed by #M").
 */
export async function closeIssuesForMergedPull(app: AppContext, repo: RepositoryWithOwner, pr: PullRequest, actorId: number | null): Promise<string[]> {
  if (pr.state !== 'merged' || pr.base_branch !== repo.default_branch) return [];
  const refs = distinctReferences(pr.body, { owner: repo.owner_name, repo: repo.name }).filter((r) => r.closes);
  const targets = await referencedIssues(app, repo, actorId, refs);
  const run = await app.db.selectFrom('prompt_pull_request_jobs').select('issue_id').where('pull_request_id', '=', pr.id).executeTakeFirst();
  if (run?.issue_id) {
    const issue = await app.db.selectFrom('issues').selectAll().where('id', '=', run.issue_id).where('repository_id', '=', repo.id).executeTakeFirst();
    if (issue && !targets.some((t) => t.issue.id === issue.id)) targets.push({ repo, issue, role: 'write', ref: { owner: null, repo: null, number: issue.number, closes: true, start: 0, end: 0 } });
  }
  const closed: string[] = [];
  const at = now();
  for (const t of targets) {
    if (!roleAtLeast(t.role, 'write')) continue;
    const shut = await app.db.transaction().execute((tx) => closeIssueBy(tx, t.issue, actorId, { pull_request: pr.number, source_repository_id: repo.id }, at));
    if (shut) closed.push(`${t.repo.owner_name}/${t.repo.name}#${t.issue.number}`);
  }
  if (closed.length) wakeDispatcher(app);
  return closed;
}
