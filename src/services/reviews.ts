import type { AppContext } from './app.ts';
import { authorizeRepository, findRepositoryById, repositoryNetworkPolicy, type RepositoryWithOwner } from './repositories.ts';
import type { NetworkPolicy } from '../domain/network.ts';
import { enqueueJob, failJobAttempt, finishJob, wakeClaimers } from './jobs.ts';
import { createJobToken, revokeJobTokens } from './jobTokens.ts';
import { registerJobKind } from './jobKinds.ts';
import { driverEnvironment, renderReviewPrompt } from './agentContext.ts';
import { addEdge, ensureNode, upsertNode } from './graph.ts';
import { createReview, isValidLineAnchor, listReviews, type ReviewEvent } from './pullComments.ts';
import { createUser, findUserByName } from './users.ts';
import { findDriver } from './drivers.ts';
import type { Job, PullRequest, User } from '../db/schema.ts';
import { diffCommits } from '../git/diff.ts';
import { parsePatchLines } from '../domain/diffLines.ts';
import { randomPassword } from '../domain/secrets.ts';
import { z } from 'zod';

export const REVIEW_JOB_KIND = 'pr_review';
export const REVIEW_BOT = 'gitoku-bot';

export interface ReviewJobPayload {
  pull_request: number;
  repository: string;
  clone_url: string;
  token: string;
  head_sha: string;
  base_sha: string;
  driver: string;
  model: string;
  prompt: string;
  env: Record<string, string>;
  /** Names of the env entries that are credentials: redacted from everything sent back. */
  secret_env: string[];
  /** What the reviewer's sandbox may reach (the repository's policy). */
  network: NetworkPolicy;
  timeout_ms: number;
  attempt: number;
}

/** Queues an AI review of a pull request at a head commit by `agent` — at most one per (pull request, commit). */
export async function enqueueReview(app: AppContext, repo: RepositoryWithOwner, pr: PullRequest, headSha: string, agent: { driver: string; model: string }): Promise<Job | null> {
  const dedup = `review:${pr.id}:${headSha}`;
  const existing = await app.db.selectFrom('jobs').select('id').where('dedup_key', '=', dedup).executeTakeFirst();
  if (existing) return null;
  const job = await enqueueJob(app.db, { kind: REVIEW_JOB_KIND, repositoryId: repo.id, payload: { pull_request_id: pr.id, head_sha: headSha, driver: agent.driver, model: agent.model }, maxAttempts: 2, dedupKey: dedup }).catch((err: { code?: string }) => {
    if (err.code === '23505' || err.code?.startsWith('SQLITE_CONSTRAINT')) return null;
    throw err;
  });
  if (job) await wakeClaimers(app);
  return job;
}

export type Reviewer = { driver: string; model: string; source: 'repository' | 'server' } | { driver: null; reason: string };

/**
 * The agent that reviews a repository's pull requests automatically: the repository's reviewing agent,
 * else the server's (GITOKU_REVIEW_DRIVER) — or none, and then automatic AI review is off. Nothing falls
 * back to the scripted reviewer: it reviews only where a repository (tests, the demo) or the server names it.
 */
export function reviewAgent(app: AppContext, repo: RepositoryWithOwner): Reviewer {
  if (repo.ai_reviews_enabled !== 1) return { driver: null, reason: 'AI reviews are disabled for this repository' };
  const server = app.config.agents.review;
  const name = repo.review_driver || server?.driver || '';
  if (!name) return { driver: null, reason: "no reviewing agent is set: choose one in the repository's automation settings (or the server's GITOKU_REVIEW_DRIVER)" };
  const info = findDriver(name, app.config.agents);
  if (!info?.available) return { driver: null, reason: `the reviewing agent "${name}" is not available on this server${info?.reason ? `: ${info.reason}` : ''}` };
  const model = (repo.review_driver ? repo.review_model : repo.review_model || server?.model) || info.defaultModel;
  return { driver: info.name, model, source: repo.review_driver ? 'repository' : 'server' };
}

/** The identity AI reviews are posted as. */
export async function reviewBot(app: AppContext): Promise<User> {
  const existing = await findUserByName(app.db, REVIEW_BOT);
  if (existing) return existing;
  try {
    return await createUser(app, { username: REVIEW_BOT, password: randomPassword(), fullName: 'gitoku review bot' });
  } catch {
    return (await findUserByName(app.db, REVIEW_BOT))!;
  }
}

const resultSchema = z.object({
  review: z.object({
    summary: z.string().max(65536).default(''),
    event: z.enum(['COMMENT', 'APPROVE', 'REQUEST_CHANGES']).default('COMMENT'),
    comments: z.array(z.object({ path: z.string(), line: z.number().int().positive(), body: z.string().min(1).max(65536) })).max(100).default([]),
  }),
  usage: z.record(z.string(), z.unknown()).optional(),
});

/**
 * What an AI review may be: advice. It can comment or request changes, never approve — an agent
 * asking to approve (whatever its driver, whatever the pull request told it) is posted as a comment
 * with a note saying so, so it never counts as an approving review.
 */
export function advisoryEvent(requested: 'COMMENT' | 'APPROVE' | 'REQUEST_CHANGES'): { event: Exclude<ReviewEvent, 'APPROVE'>; note: string | null } {
  if (requested === 'REQUEST_CHANGES') return { event: 'REQUEST_CHANGES', note: null };
  if (requested === 'APPROVE') return { event: 'COMMENT', note: AI_CANNOT_APPROVE };
  return { event: 'COMMENT', note: null };
}

export const AI_CANNOT_APPROVE = '> ℹ️ The reviewer asked to approve. AI reviews cannot approve: this review is posted as a comment and does not count as an approval.';

async function load(app: AppContext, job: Job) {
  const { pull_request_id, head_sha, driver, model } = JSON.parse(job.payload) as { pull_request_id: number; head_sha: string; driver?: string; model?: string };
  const pr = await app.db.selectFrom('pull_requests').selectAll().where('id', '=', pull_request_id).executeTakeFirst();
  const repo = pr ? await findRepositoryById(app.db, pr.repository_id) : undefined;
  // The agent chosen when the review was queued (older jobs: the repository's reviewer now).
  const agent = driver ? { driver, model: model ?? '' } : repo ? reviewAgent(app, repo) : null;
  return pr && repo && agent?.driver ? { pr, repo, headSha: head_sha, agent: { driver: agent.driver, model: agent.model } } : null;
}

registerJobKind(REVIEW_JOB_KIND, {
  async prepare(app, job) {
    const loaded = await load(app, job);
    if (!loaded || loaded.pr.state !== 'open') return null;
    const { pr, repo, headSha } = loaded;
    const { driver, model } = loaded.agent;
    const bot = await reviewBot(app);
    const access = await authorizeRepository(app, repo.owner_name, repo.name, { userId: repo.owner_id, isAdmin: true, tokenScopes: null }, 'read');
    const baseSha = pr.merge_base_sha ?? pr.base_sha;
    const diff = await diffCommits(access.gitDir, baseSha, headSha, { maxPatchBytes: 1024 * 1024 });
    const files = diff.files.map((f) => ({ path: f.path, added: f.patch ? parsePatchLines(f.patch).filter((l) => l.kind === 'add').map((l) => ({ line: l.newLine!, text: l.text })) : [] }));
    const token = await createJobToken(app.db, { jobId: job.id, repositoryId: repo.id, userId: bot.id, allowedRef: '-', ttlMs: 3 * 3600_000 });
    const credentials = driverEnvironment(driver, app.config.agents);
    const payload: ReviewJobPayload = {
      pull_request: pr.number,
      repository: `${repo.owner_name}/${repo.name}`,
      clone_url: `${app.config.baseUrl}/${repo.owner_name}/${repo.name}.git`,
      token,
      head_sha: headSha,
      base_sha: baseSha,
      driver,
      model,
      prompt: renderReviewPrompt({ repo, pr, baseSha, headSha, driver, instructions: repo.review_instructions, files }),
      env: { ...credentials.env, GITOKU_REVIEW: `${repo.owner_name}/${repo.name}#${pr.number}` },
      secret_env: credentials.secrets,
      network: repositoryNetworkPolicy(repo),
      timeout_ms: 30 * 60_000,
      attempt: job.attempts,
    };
    return payload;
  },
  async appendEvents() {
    // Review traces are not stored separately: the review itself is the record.
  },
  async complete(app, job, owner, result) {
    const parsed = resultSchema.safeParse(result);
    const loaded = await load(app, job);
    if (!parsed.success || !loaded) return false;
    const { pr, repo, headSha, agent } = loaded;
    const bot = await reviewBot(app);
    const access = await authorizeRepository(app, repo.owner_name, repo.name, { userId: repo.owner_id, isAdmin: true, tokenScopes: null }, 'read');
    // Idempotent: one bot review per (pull request, commit), even if a completion is retried.
    const already = (await listReviews(app, pr)).some((r) => r.author_id === bot.id && r.commit_sha === headSha);
    if (!already && pr.state === 'open') {
      const review = parsed.data.review;
      const body = `🤖 **AI review** (${agent.driver === 'script' ? 'scripted' : `${agent.driver}${agent.model ? ` · ${agent.model}` : ''}`})\n\n${review.summary || 'No summary.'}`;
      // Comments anchored to lines outside the diff are folded into the summary rather than dropped.
      const valid: typeof review.comments = [];
      const skipped: string[] = [];
      for (const c of review.comments) {
        if (await isValidLineAnchor(access, pr, { ...c, commitSha: headSha })) valid.push(c);
        else skipped.push(`- \`${c.path}:${c.line}\`: ${c.body}`);
      }
      const { event, note } = advisoryEvent(review.event);
      const full = [body, ...(skipped.length ? [skipped.join('\n')] : []), ...(note ? [note] : [])].join('\n\n');
      // The review's AI provenance, written with the review: an evidence node about the pull request, naming the agent and model.
      await createReview(app, access, bot, pr.number, { event, body: full, commitSha: headSha, comments: valid }, async (tx, posted) => {
        const evidence = await upsertNode(tx, repo.id, 'evidence', `review:${posted.id}`, {
          evidence_kind: 'ai_review',
          source_family: agent.driver,
          exact_model_name: agent.model,
          review_id: posted.id,
          pull_request: pr.number,
          commit_sha: headSha,
          comments: valid.length,
          usage: parsed.data.usage ?? {},
        });
        await addEdge(tx, evidence, await ensureNode(tx, repo.id, 'pull_request', String(pr.number), { number: pr.number }), 'about');
      });
    }
    const done = await finishJob(app.db, job.id, owner, 'succeeded', { result: parsed.data });
    await revokeJobTokens(app.db, job.id);
    return done || already;
  },
  async fail(app, job, owner, error, retryable) {
    const outcome = await failJobAttempt(app.db, job, owner, error, retryable);
    if (outcome) await revokeJobTokens(app.db, job.id);
    return outcome;
  },
  async cancelled(app, job, owner, reason) {
    return finishJob(app.db, job.id, owner, 'cancelled', { error: reason });
  },
  async closed() {
    // Nothing else to close: the review simply did not happen.
  },
});

