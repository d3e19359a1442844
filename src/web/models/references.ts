import type { AppContext } from '../../services/app.ts';
import type { RepositoryAccess } from '../../services/repositories.ts';
import { resolveIssueReferences, resolveUserMentions } from '../../services/issueReferences.ts';
import type { Viewer } from '../../domain/permissions.ts';
import { findReferences, referenceKey, type ReferenceLinks, type ReferenceTarget } from '../markdown.ts';

/** A page resolves at most this many references of each kind (the rest stay text). */
const MAX_NUMBERS = 500;
const MAX_USERS = 200;

/**
 * Resolves the `#N`, `OWNER/REPO#N` and `@user` references of some markdown (or, with `plain`, plain
 * text such as commit messages) for `viewer`, in one lookup per repository named and one for users
 * (services/issueReferences.ts). Another repository's numbers resolve only when the viewer can read it
 * — otherwise the reference stays text and nothing about it (not even that it exists) leaks.
 */
export async function resolveReferenceLinks(app: AppContext, viewer: Viewer | null, current: RepositoryAccess, texts: Iterable<string>, opts: { plain?: boolean } = {}): Promise<ReferenceLinks> {
  const here = { owner: current.repo.owner_name, name: current.repo.name };
  const found = findReferences(texts, here, opts);
  const refs = found.issues.slice(0, MAX_NUMBERS);
  const [resolved, users] = await Promise.all([
    refs.length ? resolveIssueReferences(app, viewer, current.repo, refs.map((r) => ({ owner: r.owner, repo: r.repo, number: r.number }))) : Promise.resolve(new Map()),
    found.users.length ? resolveUserMentions(app, found.users.slice(0, MAX_USERS)) : Promise.resolve(new Map<string, { id: number; username: string }>()),
  ]);
  const issues = new Map<string, ReferenceTarget>();
  for (const target of resolved.values()) issues.set(referenceKey(target.owner, target.repo, target.number), { href: target.url, title: target.title });
  const userLinks = new Map<string, string>();
  for (const [lower, user] of users) userLinks.set(lower, `/${encodeURIComponent(user.username)}`);
  return { current: here, issues, users: userLinks };
}

/** No references resolved: markdown renders as before. */
export function noReferenceLinks(access: RepositoryAccess): ReferenceLinks {
  return { current: { owner: access.repo.owner_name, name: access.repo.name }, issues: new Map(), users: new Map() };
}
