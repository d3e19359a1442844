import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { AppContext } from './app.ts';
import { now } from './app.ts';
import { invalid, notFound, ServiceError } from './errors.ts';
import type { Job, JobStatus, User } from '../db/schema.ts';
import type { RepositoryWithOwner } from './repositories.ts';
import { findRepositoryById } from './repositories.ts';
import { repositoryGitDir } from './storage.ts';
import { removeRepositoryData } from './repositoryDeletion.ts';
import { createUser, findUserByName, type CreateUserInput } from './users.ts';
import { emailInUse } from './accountSettings.ts';
import { destroyOtherSessions } from './sessions.ts';
import { removeAvatarFiles } from './avatars.ts';
import { forgetStarsOf } from './stars.ts';
import { listRunners } from './runners.ts';
import { getJob, jobStatusScope, requestJobCancel, wakeClaimers } from './jobs.ts';
import { serverJobKindHandler } from './jobKinds.ts';

/**
 * Site administration (issue 18): the server at a glance, users (suspend, promote, delete), the
 * repositories and the job queue. Callers check that the actor is a site administrator; the rules
 * here hold for every caller (the web UI, the API and the CLI): an administrator cannot suspend or
 * delete themselves, and the last active administrator can be neither demoted, suspended nor deleted.
 */

export interface Page<T> {
  items: T[];
  total: number;
}

export interface PageQuery {
  q?: string;
  page: number;
  perPage: number;
}

/** `LIKE` pattern for a substring, with `!` escaping the wildcards (works alike on SQLite and PostgreSQL). */
function containsPattern(q: string): string {
  return `%${q.toLowerCase().replace(/[!%_]/g, (ch) => `!${ch}`)}%`;
}

// ---------------------------------------------------------------- overview

export interface DirectorySize {
  bytes: number;
  /** True when the walk stopped at its entry budget: the real size is larger. */
  partial: boolean;
}

/** Bytes under a directory (files' sizes, links not followed), walking at most `budget` entries. */
export async function directorySize(path: string, budget = 200_000): Promise<DirectorySize> {
  let bytes = 0;
  let left = budget;
  const stack = [path];
  while (stack.length) {
    const dir = stack.pop()!;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (--left < 0) return { bytes, partial: true };
      const full = join(dir, entry.name);
      if (entry.isDirectory()) stack.push(full);
      else if (entry.isFile()) bytes += await lstat(full).then((s) => s.size, () => 0);
    }
  }
  return { bytes, partial: false };
}

let version: Promise<string> | null = null;

/** The version in package.json (read once). */
export function serverVersion(): Promise<string> {
  version ??= readFile(new URL('../../package.json', import.meta.url), 'utf8').then(
    (text) => String((JSON.parse(text) as { version?: unknown }).version ?? 'unknown'),
    () => 'unknown',
  );
  return version;
}

export interface ServerOverview {
  version: string;
  node: string;
  database: 'sqlite' | 'postgres';
  dataDir: string;
  baseUrl: string;
  sandbox: string;
  signupEnabled: boolean;
  runners: { online: number; total: number };
  jobs: { queued: number; running: number; failed: number };
  users: { total: number; admins: number; suspended: number };
  repositories: number;
  disk: DirectorySize;
}

/** What the admin dashboard shows: configuration and counts, never a secret. */
export async function serverOverview(app: AppContext): Promise<ServerOverview> {
  const [runners, jobRows, userRow, repoRow, disk] = await Promise.all([
    listRunners(app),
    jobCountsByKind(app),
    app.db
      .selectFrom('users')
      .select((eb) => [
        eb.fn.countAll<number>().as('total'),
        eb.fn.sum<number>(eb.case().when('is_admin', '=', 1).then(1).else(0).end()).as('admins'),
        eb.fn.sum<number>(eb.case().when('suspended_at', 'is not', null).then(1).else(0).end()).as('suspended'),
      ])
      .executeTakeFirstOrThrow(),
    app.db.selectFrom('repositories').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
    directorySize(app.config.dataDir),
  ]);
  const jobs = { queued: 0, running: 0, failed: 0 };
  for (const r of jobRows) for (const status of ['queued', 'running', 'failed'] as const) jobs[status] += r[status];
  return {
    version: await serverVersion(),
    node: process.version,
    database: app.dialect,
    dataDir: app.config.dataDir,
    baseUrl: app.config.baseUrl,
    sandbox: app.config.sandbox,
    signupEnabled: app.config.signupEnabled,
    runners: { online: runners.filter((r) => r.online).length, total: runners.length },
    jobs,
    users: { total: Number(userRow.total), admins: Number(userRow.admins ?? 0), suspended: Number(userRow.suspended ?? 0) },
    repositories: Number(repoRow.n),
    disk,
  };
}

// ---------------------------------------------------------------- users

export type AdminUserRow = User & { repo_count: number };

/** Users by name, filtered by a substring of the login, name or email. */
export async function listUsersForAdmin(app: AppContext, query: PageQuery): Promise<Page<AdminUserRow>> {
  let base = app.db.selectFrom('users');
  const q = query.q?.trim();
  if (q) {
    const p = containsPattern(q);
    base = base.where((eb) => eb.or([sql<boolean>`lower_name like ${p} escape '!'`, sql<boolean>`lower(email) like ${p} escape '!'`, sql<boolean>`lower(full_name) like ${p} escape '!'`]));
  }
  const totalRow = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const rows = await base
    .selectAll('users')
    .select((eb) => eb.selectFrom('repositories').select((e) => e.fn.countAll<number>().as('c')).whereRef('repositories.owner_id', '=', 'users.id').as('repo_count'))
    .orderBy('lower_name')
    .limit(query.perPage)
    .offset((query.page - 1) * query.perPage)
    .execute();
  return { items: rows.map((r) => ({ ...r, repo_count: Number(r.repo_count ?? 0) })), total: Number(totalRow.n) };
}

/** One user with their repository count; 404 when there is none. */
export async function getUserForAdmin(app: AppContext, username: string): Promise<AdminUserRow> {
  const user = await targetUser(app, username);
  const row = await app.db.selectFrom('repositories').select((eb) => eb.fn.countAll<number>().as('n')).where('owner_id', '=', user.id).executeTakeFirstOrThrow();
  return { ...user, repo_count: Number(row.n) };
}

/** Creates a user (as `admin user create`), refusing an email address another account uses. */
export async function adminCreateUser(app: AppContext, input: CreateUserInput): Promise<User> {
  const email = input.email?.trim();
  if (email && (await emailInUse(app.db, email, null))) throw new ServiceError(422, 'That email address is already in use by another account', 'email');
  return createUser(app, input);
}

async function targetUser(app: AppContext, username: string): Promise<User> {
  const user = await findUserByName(app.db, username);
  if (!user) throw notFound(`user "${username}" not found`);
  return user;
}

/** Site administrators who can sign in, other than `exceptId`. */
async function otherActiveAdmins(app: AppContext, exceptId: number): Promise<number> {
  const row = await app.db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('is_admin', '=', 1)
    .where('suspended_at', 'is', null)
    .where('id', '!=', exceptId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function guardLastAdmin(app: AppContext, user: User, doing: string): Promise<void> {
  if (user.is_admin === 1 && !user.suspended_at && (await otherActiveAdmins(app, user.id)) === 0) {
    throw invalid(`Cannot ${doing} "${user.username}": they are the last site administrator`);
  }
}

/**
 * Suspends (disables) or unsuspends an account. A suspended account's sessions end at once; its
 * tokens and password are refused everywhere (services/auth.ts) while the suspension lasts.
 * `actorId`: the administrator acting (null from the CLI); nobody suspends themselves.
 */
export async function setUserSuspended(app: AppContext, actorId: number | null, username: string, suspended: boolean): Promise<User> {
  const user = await targetUser(app, username);
  if (suspended) {
    if (actorId === user.id) throw invalid('You cannot suspend your own account');
    await guardLastAdmin(app, user, 'suspend');
    if (!user.suspended_at) await app.db.updateTable('users').set({ suspended_at: now(), updated_at: now() }).where('id', '=', user.id).execute();
    await destroyOtherSessions(app, user.id, null);
  } else if (user.suspended_at) {
    await app.db.updateTable('users').set({ suspended_at: null, updated_at: now() }).where('id', '=', user.id).execute();
  }
  return (await findUserByName(app.db, username))!;
}

/** Makes a user a site administrator or takes it away; the last active administrator stays one. */
export async function setSiteAdmin(app: AppContext, username: string, admin: boolean): Promise<User> {
  const user = await targetUser(app, username);
  if (!admin) await guardLastAdmin(app, user, 'demote');
  if ((user.is_admin === 1) !== admin) await app.db.updateTable('users').set({ is_admin: admin ? 1 : 0, updated_at: now() }).where('id', '=', user.id).execute();
  return (await findUserByName(app.db, username))!;
}

/**
 * Deletes an account. Refused (422) while it owns repositories unless `purge` is set, in which case
 * each is deleted for good through removeRepositoryData first (as Gitea's `purge`). Its sessions,
 * tokens and collaborations and stars go with it (foreign keys cascade; the starred repositories count one fewer); what it authored elsewhere stays, with
 * no author (set null). Nobody deletes themselves here, nor the last administrator.
 */
export async function deleteUserAccount(app: AppContext, actorId: number | null, username: string, opts: { purge?: boolean } = {}): Promise<{ repositoriesDeleted: number }> {
  const user = await targetUser(app, username);
  if (actorId === user.id) throw invalid('You cannot delete your own account here');
  await guardLastAdmin(app, user, 'delete');
  const owned = await app.db.selectFrom('repositories').select('id').where('owner_id', '=', user.id).execute();
  if (owned.length && !opts.purge) {
    throw invalid(`"${user.username}" owns ${owned.length} ${owned.length === 1 ? 'repository' : 'repositories'}: delete or transfer ${owned.length === 1 ? 'it' : 'them'} first, or purge`);
  }
  let deleted = 0;
  for (const { id } of owned) {
    const repo = await findRepositoryById(app.db, id);
    if (!repo) continue;
    await removeRepositoryData(app, { repo, role: 'admin', gitDir: repositoryGitDir(app, repo) });
    deleted += 1;
  }
  await app.db.transaction().execute(async (tx) => {
    await forgetStarsOf(tx, user.id);
    await tx.deleteFrom('users').where('id', '=', user.id).execute();
  });
  await removeAvatarFiles(app, user.id);
  return { repositoriesDeleted: deleted };
}

// ---------------------------------------------------------------- repositories

export type AdminRepositoryRow = RepositoryWithOwner & { size: DirectorySize };

/** Repositories by owner and name, filtered by a substring of either, with their size on disk. */
export async function listRepositoriesForAdmin(app: AppContext, query: PageQuery): Promise<Page<AdminRepositoryRow>> {
  let base = app.db.selectFrom('repositories').innerJoin('users', 'users.id', 'repositories.owner_id');
  const q = query.q?.trim();
  if (q) {
    const p = containsPattern(q);
    base = base.where((eb) => eb.or([sql<boolean>`repositories.lower_name like ${p} escape '!'`, sql<boolean>`users.lower_name like ${p} escape '!'`]));
  }
  const totalRow = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const rows = await base
    .selectAll('repositories')
    .select(['users.username as owner_name', 'users.is_admin as owner_is_admin'])
    .orderBy('users.lower_name')
    .orderBy('repositories.lower_name')
    .limit(query.perPage)
    .offset((query.page - 1) * query.perPage)
    .execute();
  const items = await Promise.all(rows.map(async (r) => ({ ...r, size: await directorySize(repositoryGitDir(app, r), 50_000) })));
  return { items, total: Number(totalRow.n) };
}

// ---------------------------------------------------------------- jobs

export const ADMIN_JOB_STATUSES: readonly JobStatus[] = ['queued', 'running', 'failed', 'succeeded', 'cancelled'];

export interface JobKindCount {
  kind: string;
  queued: number;
  running: number;
  failed: number;
}

/** Queued, running and failed jobs per kind (each from the index holding its status, never the whole history). */
export async function jobCountsByKind(app: AppContext): Promise<JobKindCount[]> {
  const counts = app.db.selectFrom('jobs').select(['kind', 'status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy(['kind', 'status']);
  const [unfinished, failed] = await Promise.all([
    counts.where(jobStatusScope('queued')).execute(),
    counts.where(jobStatusScope('failed')).where('status', '=', 'failed').execute(),
  ]);
  const rows = [...unfinished, ...failed];
  const byKind = new Map<string, JobKindCount>();
  for (const r of rows) {
    const entry = byKind.get(r.kind) ?? { kind: r.kind, queued: 0, running: 0, failed: 0 };
    entry[r.status as 'queued' | 'running' | 'failed'] = Number(r.n);
    byKind.set(r.kind, entry);
  }
  return [...byKind.values()].sort((a, b) => a.kind.localeCompare(b.kind));
}

/** Jobs with a status (and optionally a kind), newest first. */
export async function listJobsForAdmin(app: AppContext, query: { status: JobStatus; kind?: string; page: number; perPage: number }): Promise<Page<Job>> {
  let base = app.db.selectFrom('jobs').where(jobStatusScope(query.status)).where('status', '=', query.status);
  if (query.kind) base = base.where('kind', '=', query.kind);
  const totalRow = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const items = await base
    .selectAll()
    .orderBy('id', 'desc')
    .limit(query.perPage)
    .offset((query.page - 1) * query.perPage)
    .execute();
  return { items, total: Number(totalRow.n) };
}

/** Puts a failed job back in the queue with its attempts reset (it runs again as if new). 422 unless it failed. */
export async function retryJob(app: AppContext, id: number): Promise<Job> {
  const job = await getJob(app.db, id);
  if (!job) throw notFound(`job ${id} not found`);
  const at = now();
  const res = await app.db
    .updateTable('jobs')
    .set({ status: 'queued', attempts: 0, run_after: at, lease_owner: null, lease_expires_at: null, cancel_requested: 0, finished_at: null, updated_at: at })
    .where('id', '=', id)
    .where('status', '=', 'failed')
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) throw invalid(`Job ${id} is ${job.status}: only failed jobs can be retried`);
  await wakeClaimers(app);
  return (await getJob(app.db, id))!;
}

/** Cancels a queued job at once (a running one is asked to stop); 422 for a finished one. */
export async function cancelJob(app: AppContext, id: number): Promise<{ job: Job; outcome: 'cancelled' | 'requested' }> {
  const job = await getJob(app.db, id);
  if (!job) throw notFound(`job ${id} not found`);
  const outcome = await requestJobCancel(app.db, id, 'cancelled by a site administrator');
  if (outcome === 'finished') throw invalid(`Job ${id} is ${job.status}: only queued or running jobs can be cancelled`);
  if (outcome === 'cancelled') await serverJobKindHandler(job.kind)?.closed?.(app, job);
  return { job: (await getJob(app.db, id))!, outcome };
}
