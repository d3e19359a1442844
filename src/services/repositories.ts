import { join } from 'node:path';
import { sql } from 'kysely';
import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { ServiceError, forbidden, invalid, notFound } from './errors.ts';
import type { Repository, User } from '../db/schema.ts';
import type { DbOrTx } from '../db/index.ts';
import { checkRepositoryName } from '../domain/names.ts';
import { isValidBranchName, ZERO_SHA } from '../domain/refs.ts';
import { type RepoRole, type Viewer, repositoryRole, roleAtLeast } from '../domain/permissions.ts';
import { commitFilesToEmptyBranch, initBareRepository, removeRepository, setHead } from '../git/repository.ts';
import { listBranches } from '../git/refs.ts';
import { findUserByName, isUniqueViolation } from './users.ts';
import { handleRepositoryRefChanges } from './refChanges.ts';
import { repositoryGitDir } from './storage.ts';
import { dropRepositoryRedirect } from './repositoryRedirects.ts';
import { findDriver } from './drivers.ts';
import { RUN_BRANCH_CLEANUP } from '../domain/runs.ts';
import { NETWORK_MODES, parseAllowedHosts, type NetworkMode, type NetworkPolicy } from '../domain/network.ts';

/** The network policy of a repository's agent sandboxes, as the runner gets it in a job. */
export function repositoryNetworkPolicy(repo: Pick<Repository, 'agent_network' | 'agent_network_hosts'>): NetworkPolicy {
  const mode = NETWORK_MODES.includes(repo.agent_network as NetworkMode) ? (repo.agent_network as NetworkMode) : 'model-only';
  return { mode, hosts: repo.agent_network_hosts.split(' ').filter(Boolean) };
}

export { repositoryGitDir };

export interface RepositoryWithOwner extends Repository {
  owner_name: string;
  /** The owner's site_admin flag (1/0), so the API says the same of a user wherever it appears. */
  owner_is_admin: number;
}

export interface RepositoryAccess {
  repo: RepositoryWithOwner;
  role: RepoRole;
  gitDir: string;
  /**
   * Set when the repository is archived and `role` was capped at read because of it: the role the
   * viewer has otherwise (the header still offers an administrator the settings, to unarchive).
   */
  archivedRole?: RepoRole;
}

/** What a write to an archived repository answers (403), in git's `remote:` lines too. */
export const ARCHIVED_MESSAGE = 'This repository was archived so it is read-only.';

/** Refuses (403) a write to an archived repository: for writers that load the repository with read access first. */
export function assertNotArchived(access: RepositoryAccess): void {
  if (access.repo.archived === 1) throw forbidden(ARCHIVED_MESSAGE);
}

function selectRepositories(db: DbOrTx) {
  return db.selectFrom('repositories').innerJoin('users', 'users.id', 'repositories.owner_id').selectAll('repositories').select(['users.username as owner_name', 'users.is_admin as owner_is_admin']);
}

export async function findRepository(db: DbOrTx, ownerName: string, repoName: string): Promise<RepositoryWithOwner | undefined> {
  // No name contains a NUL, and PostgreSQL rejects one in a query parameter.
  if (ownerName.includes('\0') || repoName.includes('\0')) return undefined;
  return selectRepositories(db).where('users.lower_name', '=', ownerName.toLowerCase()).where('repositories.lower_name', '=', repoName.toLowerCase()).executeTakeFirst();
}

export async function findRepositoryById(db: DbOrTx, id: number): Promise<RepositoryWithOwner | undefined> {
  return selectRepositories(db).where('repositories.id', '=', id).executeTakeFirst();
}

/**
 * Open pull requests and open issues of a repository (the repository header's counts), in one query:
 * every repository page asks, so it is written out rather than built (the query builder cost more than
 * the two index lookups).
 */
export async function openItemCounts(db: DbOrTx, repositoryId: number, viewerId: number | null = null): Promise<{ pulls: number; issues: number; starred: boolean | null; watch: 'watching' | 'ignoring' | null }> {
  const { rows } = await sql<{ pulls: number | string; issues: number | string; starred: number | string; watch: 'watching' | 'ignoring' | null }>`select
    (select count(*) from pull_requests where repository_id = ${repositoryId} and state = 'open') as pulls,
    (select count(*) from issues where repository_id = ${repositoryId} and state = 'open') as issues,
    (select count(*) from repository_stars where repository_id = ${repositoryId} and user_id = ${viewerId ?? 0}) as starred,
    (select state from repository_watches where repository_id = ${repositoryId} and user_id = ${viewerId ?? 0}) as watch`.execute(db);
  return { pulls: Number(rows[0]?.pulls ?? 0), issues: Number(rows[0]?.issues ?? 0), starred: viewerId === null ? null : Number(rows[0]?.starred ?? 0) > 0, watch: rows[0]?.watch ?? null };
}

/** A user's own role on a repository (with all their rights, not through a token's scopes). */
export function userRole(app: AppContext, repo: Repository, user: Pick<User, 'id' | 'is_admin'>): Promise<RepoRole> {
  return roleFor(app, repo, { userId: user.id, isAdmin: user.is_admin === 1, tokenScopes: null });
}

export async function roleFor(app: AppContext, repo: Repository, viewer: Viewer | null): Promise<RepoRole> {
  let collaboratorRole: 'read' | 'write' | 'admin' | null = null;
  if (viewer && viewer.userId !== repo.owner_id) {
    const row = await app.db.selectFrom('collaborators').select('role').where('repository_id', '=', repo.id).where('user_id', '=', viewer.userId).executeTakeFirst();
    collaboratorRole = row?.role ?? null;
  }
  return repositoryRole(viewer, { repositoryId: repo.id, ownerId: repo.owner_id, isPrivate: repo.is_private === 1, collaboratorRole });
}

/**
 * The single access check for repositories: loads the repository and the viewer's role.
 * Without read access the repository does not exist (404); with read but not `needed`, 403.
 */
export async function authorizeRepository(
  app: AppContext,
  ownerName: string,
  repoName: string,
  viewer: Viewer | null,
  needed: RepoRole = 'read',
): Promise<RepositoryAccess> {
  // Made only when thrown: an error captures its stack, a cost every page would pay otherwise.
  const missing = () => notFound('Not Found');
  const repo = await findRepository(app.db, ownerName, repoName);
  if (!repo) throw missing();
  let role = await roleFor(app, repo, viewer);
  if (!roleAtLeast(role, 'read')) throw missing();
  // Archived: read-only for everyone. Every write needs `write`, so capping the role here refuses them
  // all, present and future; administration (settings, unarchive, delete) still needs and gets `admin`.
  let archivedRole: RepoRole | undefined;
  if (repo.archived === 1 && needed !== 'admin' && roleAtLeast(role, 'write')) {
    archivedRole = role;
    role = 'read';
  }
  if (!roleAtLeast(role, needed)) {
    if (archivedRole) throw forbidden(ARCHIVED_MESSAGE);
    throw viewer ? forbidden(`You need ${needed} access to ${repo.owner_name}/${repo.name}`) : new ServiceError(401, 'Requires authentication');
  }
  return { repo, role, gitDir: repositoryGitDir(app, repo), ...(archivedRole ? { archivedRole } : {}) };
}

export interface CreateRepositoryInput {
  name: string;
  description?: string;
  isPrivate?: boolean;
  autoInit?: boolean;
  defaultBranch?: string;
}

export async function createRepository(app: AppContext, owner: User, input: CreateRepositoryInput): Promise<RepositoryWithOwner> {
  const check = checkRepositoryName(input.name);
  if (!check.ok) throw invalid(check.reason, 'name');
  const description = (input.description ?? '').trim();
  if (description.length > 2000) throw invalid('description is too long (maximum is 2000 characters)', 'description');
  const defaultBranch = input.defaultBranch ?? 'main';
  if (!isValidBranchName(defaultBranch)) throw invalid(`"${defaultBranch}" is not a valid branch name`, 'default_branch');
  if (await findRepository(app.db, owner.username, input.name)) throw invalid(`${owner.username}/${input.name} already exists`, 'name');

  const storagePath = join('repos', owner.lower_name, `${input.name.toLowerCase()}.git`);
  const at = now();
  let repo: Repository;
  try {
    repo = await app.db
      .insertInto('repositories')
      .values({
        owner_id: owner.id,
        name: input.name,
        lower_name: input.name.toLowerCase(),
        description,
        is_private: input.isPrivate ? 1 : 0,
        default_branch: defaultBranch,
        is_empty: 1,
        storage_path: storagePath,
        ai_reviews_enabled: 1,
        // No reviewing agent of its own: the server's, if it has one (automatic AI reviews are off otherwise).
        review_driver: '',
        pushed_at: null,
        created_at: at,
        updated_at: at,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (err) {
    if (isUniqueViolation(err)) throw invalid(`${owner.username}/${input.name} already exists`, 'name');
    throw err;
  }
  // A repository created under a renamed repository's old name takes it over: the redirect goes.
  await dropRepositoryRedirect(app.db, owner.id, repo.lower_name);
  // Its owner watches it (GitHub's default): notified of all its issues, pull requests and tasks.
  await app.db.insertInto('repository_watches').values({ repository_id: repo.id, user_id: owner.id, state: 'watching', created_at: at }).onConflict((oc) => oc.columns(['repository_id', 'user_id']).doNothing()).execute();
  const gitDir = repositoryGitDir(app, repo);
  try {
    await removeRepository(gitDir); // a leftover directory from a crashed earlier attempt
    await initBareRepository(gitDir, defaultBranch);
  } catch (err) {
    await app.db.deleteFrom('repositories').where('id', '=', repo.id).execute();
    throw err;
  }
  const withOwner: RepositoryWithOwner = { ...repo, owner_name: owner.username, owner_is_admin: owner.is_admin };
  if (input.autoInit) {
    const readme = `# ${input.name}\n${description ? `\n${description}\n` : ''}`;
    const sha = await commitFilesToEmptyBranch(gitDir, defaultBranch, [{ path: 'README.md', content: readme }], 'Initial commit', {
      name: owner.full_name || owner.username,
      email: owner.email,
    });
    await handleRepositoryRefChanges(app, withOwner, [{ ref: `refs/heads/${defaultBranch}`, before: ZERO_SHA, after: sha }], { kind: 'api', actorId: owner.id });
  }
  return (await findRepositoryById(app.db, repo.id))!;
}

export interface ListRepositoriesOptions {
  page: number;
  perPage: number;
}

/** Repositories a user owns or collaborates on, newest activity first; only public ones with `publicOnly` (a token without the `repo` scope). */
export async function listRepositoriesForUser(app: AppContext, user: User, opts: ListRepositoriesOptions & { publicOnly?: boolean }): Promise<{ items: RepositoryWithOwner[]; total: number }> {
  const base = (db: DbOrTx) =>
    db
      .selectFrom('repositories')
      .innerJoin('users', 'users.id', 'repositories.owner_id')
      .where((eb) =>
        eb.or([
          eb('repositories.owner_id', '=', user.id),
          eb.exists(eb.selectFrom('collaborators').select('collaborators.user_id').whereRef('collaborators.repository_id', '=', 'repositories.id').where('collaborators.user_id', '=', user.id)),
        ]),
      )
      .$if(opts.publicOnly === true, (qb) => qb.where('repositories.is_private', '=', 0));
  const items = await base(app.db)
    .selectAll('repositories')
    .select(['users.username as owner_name', 'users.is_admin as owner_is_admin'])
    .orderBy('repositories.updated_at', 'desc')
    .orderBy('repositories.id', 'desc')
    .limit(opts.perPage)
    .offset((opts.page - 1) * opts.perPage)
    .execute();
  const total = Number((await base(app.db).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  return { items, total };
}

/** Repositories of an owner that the viewer can see. */
export async function listRepositoriesOfOwner(app: AppContext, owner: User, viewer: Viewer | null, opts: ListRepositoriesOptions): Promise<{ items: RepositoryWithOwner[]; total: number }> {
  const all = await selectRepositories(app.db).where('repositories.owner_id', '=', owner.id).orderBy('repositories.lower_name').execute();
  const visible: RepositoryWithOwner[] = [];
  for (const repo of all) if (roleAtLeast(await roleFor(app, repo, viewer), 'read')) visible.push(repo);
  return { items: visible.slice((opts.page - 1) * opts.perPage, opts.page * opts.perPage), total: visible.length };
}

export interface UpdateRepositoryInput {
  description?: string;
  isPrivate?: boolean;
  defaultBranch?: string;
  name?: string;
  aiReviewsEnabled?: boolean;
  conflictResolutionEnabled?: boolean;
  reviewDriver?: string;
  reviewModel?: string;
  reviewInstructions?: string;
  /** '' resets to the server's default. */
  defaultDriver?: string;
  defaultModel?: string;
  agentNetwork?: string;
  /** Hosts for the allow-list, comma- or space-separated. */
  agentNetworkHosts?: string;
  /** When a run's pull request is closed or merged, delete its branch: 'never' | 'no-commits' | 'always'. */
  runBranchCleanup?: string;
}

export async function updateRepository(app: AppContext, access: RepositoryAccess, input: UpdateRepositoryInput): Promise<RepositoryWithOwner> {
  const { repo, gitDir } = access;
  const changes: Partial<Repository> = {};
  if (input.description !== undefined) {
    if (input.description.length > 2000) throw invalid('description is too long (maximum is 2000 characters)', 'description');
    changes.description = input.description.trim();
  }
  if (input.isPrivate !== undefined) changes.is_private = input.isPrivate ? 1 : 0;
  if (input.aiReviewsEnabled !== undefined) changes.ai_reviews_enabled = input.aiReviewsEnabled ? 1 : 0;
  if (input.conflictResolutionEnabled !== undefined) changes.conflict_resolution_enabled = input.conflictResolutionEnabled ? 1 : 0;
  if (input.reviewDriver === '') changes.review_driver = ''; // the server's reviewer, if any
  else if (input.reviewDriver !== undefined) {
    const driver = findDriver(input.reviewDriver, app.config.agents);
    if (!driver) throw invalid(`unknown driver "${input.reviewDriver}"`, 'review_driver');
    if (!driver.available && input.reviewDriver !== access.repo.review_driver) throw invalid(`driver "${input.reviewDriver}" is not available: ${driver.reason}`, 'review_driver');
    changes.review_driver = input.reviewDriver;
  }
  if (input.runBranchCleanup !== undefined) {
    if (!(RUN_BRANCH_CLEANUP as readonly string[]).includes(input.runBranchCleanup)) throw invalid(`run_branch_cleanup must be one of ${RUN_BRANCH_CLEANUP.join(', ')}`, 'run_branch_cleanup');
    changes.run_branch_cleanup = input.runBranchCleanup;
  }
  if (input.reviewModel !== undefined) changes.review_model = input.reviewModel.slice(0, 255);
  if (input.defaultDriver !== undefined) {
    if (input.defaultDriver !== '') {
      const driver = findDriver(input.defaultDriver, app.config.agents);
      if (!driver) throw invalid(`unknown driver "${input.defaultDriver}"`, 'default_driver');
      if (!driver.available && input.defaultDriver !== access.repo.default_driver) throw invalid(`driver "${input.defaultDriver}" is not available: ${driver.reason}`, 'default_driver');
    }
    changes.default_driver = input.defaultDriver;
  }
  if (input.defaultModel !== undefined) changes.default_model = input.defaultModel.slice(0, 255);
  if (input.agentNetwork !== undefined) {
    if (!NETWORK_MODES.includes(input.agentNetwork as NetworkMode)) throw invalid(`agent_network must be one of ${NETWORK_MODES.join(', ')}`, 'agent_network');
    changes.agent_network = input.agentNetwork;
  }
  if (input.agentNetworkHosts !== undefined) {
    const parsed = parseAllowedHosts(input.agentNetworkHosts);
    if ('error' in parsed) throw invalid(parsed.error, 'agent_network_hosts');
    changes.agent_network_hosts = parsed.hosts.join(' ');
  }
  if (input.reviewInstructions !== undefined) {
    if (input.reviewInstructions.length > 65536) throw invalid('review instructions are too long', 'review_instructions');
    changes.review_instructions = input.reviewInstructions;
  }
  if (input.name !== undefined && input.name !== repo.name) {
    // Renames move the directory and leave a redirect: services/repositorySettings.ts renameRepository.
    throw invalid('rename a repository with renameRepository', 'name');
  }
  if (input.defaultBranch !== undefined && input.defaultBranch !== repo.default_branch) {
    if (!isValidBranchName(input.defaultBranch)) throw invalid(`"${input.defaultBranch}" is not a valid branch name`, 'default_branch');
    const branches = await listBranches(gitDir);
    if (repo.is_empty === 0 && !branches.some((b) => b.name === input.defaultBranch)) {
      throw invalid(`branch "${input.defaultBranch}" does not exist`, 'default_branch');
    }
    await setHead(gitDir, input.defaultBranch);
    changes.default_branch = input.defaultBranch;
  }
  if (Object.keys(changes).length > 0) {
    changes.updated_at = now();
    try {
      await app.db.updateTable('repositories').set(changes).where('id', '=', repo.id).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw invalid(`${repo.owner_name}/${input.name} already exists`, 'name');
      throw err;
    }
  }
  return (await findRepositoryById(app.db, repo.id))!;
}

export async function deleteRepository(app: AppContext, access: RepositoryAccess): Promise<void> {
  await app.db.deleteFrom('repositories').where('id', '=', access.repo.id).execute();
  await removeRepository(access.gitDir);
}

export interface CollaboratorRow {
  user: User;
  role: 'read' | 'write' | 'admin';
}

/**
 * The collaborators of a repository as a caller may see them: as on GitHub, listing them (or one of
 * their permissions) needs push access, so readers of a public repository get a 403.
 */
export async function listCollaboratorsFor(app: AppContext, access: RepositoryAccess): Promise<CollaboratorRow[]> {
  if (!roleAtLeast(access.role, 'write')) throw forbidden('Must have push access to view repository collaborators');
  return listCollaborators(app, access.repo);
}

/** Every collaborator of a repository, unchecked: for callers that already required admin access (settings). */
export async function listCollaborators(app: AppContext, repo: Repository): Promise<CollaboratorRow[]> {
  const rows = await app.db
    .selectFrom('collaborators')
    .innerJoin('users', 'users.id', 'collaborators.user_id')
    .selectAll('users')
    .select('collaborators.role as collaborator_role')
    .where('collaborators.repository_id', '=', repo.id)
    .orderBy('users.lower_name')
    .execute();
  return rows.map(({ collaborator_role, ...user }) => ({ user, role: collaborator_role }));
}

export async function setCollaborator(app: AppContext, repo: Repository, username: string, role: 'read' | 'write' | 'admin'): Promise<{ created: boolean }> {
  const user = await findUserByName(app.db, username);
  if (!user) throw notFound(`user "${username}" not found`);
  if (user.id === repo.owner_id) throw invalid('the owner already has admin access', 'username');
  const existing = await app.db.selectFrom('collaborators').select('role').where('repository_id', '=', repo.id).where('user_id', '=', user.id).executeTakeFirst();
  if (existing) {
    await app.db.updateTable('collaborators').set({ role }).where('repository_id', '=', repo.id).where('user_id', '=', user.id).execute();
    return { created: false };
  }
  await app.db.insertInto('collaborators').values({ repository_id: repo.id, user_id: user.id, role, created_at: now() }).execute();
  return { created: true };
}

export async function removeCollaborator(app: AppContext, repo: Repository, username: string): Promise<void> {
  const user = await findUserByName(app.db, username);
  if (!user) throw notFound(`user "${username}" not found`);
  await app.db.deleteFrom('collaborators').where('repository_id', '=', repo.id).where('user_id', '=', user.id).execute();
}
