import { z } from 'zod';
import type { AppContext } from '../../../services/app.ts';
import type { User } from '../../../db/schema.ts';
import { type RepositoryWithOwner } from '../../../services/repositories.ts';
import type { CommitSummary } from '../../../git/refs.ts';
// The shapes services send too (webhook payloads) are built below the web layer.
import { simpleUserJson } from '../../../services/apiShapes/users.ts';

export { simpleUserJson };
export { repositoryJson } from '../../../services/apiShapes/repositories.ts';

/** JSON shapes of the API, following GitHub's REST API field names. */

export const simpleUserSchema = z.object({
  login: z.string(),
  id: z.number(),
  type: z.literal('User'),
  site_admin: z.boolean(),
  avatar_url: z.string(),
  html_url: z.string(),
  url: z.string(),
});

export const userSchema = simpleUserSchema.extend({
  name: z.string().nullable(),
  email: z.string().nullable(),
  bio: z.string().nullable(),
  blog: z.string().nullable(),
  location: z.string().nullable(),
  suspended_at: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});

export const repositorySchema = z.object({
  id: z.number(),
  name: z.string(),
  full_name: z.string(),
  owner: simpleUserSchema,
  private: z.boolean(),
  visibility: z.enum(['public', 'private']),
  description: z.string().nullable(),
  fork: z.boolean(),
  html_url: z.string(),
  url: z.string(),
  clone_url: z.string(),
  default_branch: z.string(),
  empty: z.boolean(),
  archived: z.boolean(),
  stargazers_count: z.number(),
  watchers_count: z.number(),
  created_at: z.string(),
  updated_at: z.string(),
  pushed_at: z.string().nullable(),
  permissions: z.object({ admin: z.boolean(), maintain: z.boolean(), push: z.boolean(), triage: z.boolean(), pull: z.boolean() }).optional(),
});

export const branchSchema = z.object({
  name: z.string(),
  commit: z.object({ sha: z.string(), url: z.string() }),
  protected: z.boolean(),
});

export const errorSchema = z.object({ message: z.string() });

const iso = (s: string | null) => (s ? s.replace(/\.\d{3}Z$/, 'Z') : null);

export function userJson(app: AppContext, user: User, showEmail: boolean) {
  return {
    ...simpleUserJson(app, user),
    name: user.full_name || null,
    email: showEmail ? user.email : null,
    bio: user.bio || null,
    blog: user.website || null,
    location: user.location || null,
    suspended_at: iso(user.suspended_at ?? null),
    created_at: iso(user.created_at)!,
    updated_at: iso(user.updated_at)!,
  };
}

export function branchJson(app: AppContext, repo: RepositoryWithOwner, name: string, sha: string, isProtected = false) {
  return {
    name,
    commit: { sha, url: `${app.config.baseUrl}/api/v1/repos/${repo.owner_name}/${repo.name}/commits/${sha}` },
    protected: isProtected,
  };
}

export function gitCommitJson(app: AppContext, repo: RepositoryWithOwner, commit: CommitSummary) {
  const base = `${app.config.baseUrl}/api/v1/repos/${repo.owner_name}/${repo.name}`;
  return {
    sha: commit.sha,
    url: `${base}/commits/${commit.sha}`,
    html_url: `${app.config.baseUrl}/${repo.owner_name}/${repo.name}/commit/${commit.sha}`,
    commit: {
      author: { name: commit.authorName, email: commit.authorEmail, date: commit.authorDate },
      committer: { name: commit.committerName, email: commit.committerEmail, date: commit.committerDate },
      message: commit.message,
      tree: { sha: commit.treeSha, url: `${base}/git/trees/${commit.treeSha}` },
    },
    parents: commit.parents.map((sha) => ({ sha, url: `${base}/commits/${sha}` })),
  };
}
