import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Hono, type Context } from 'hono';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { WebEnv } from '../context.ts';
import { ensureGitokuHooks, type AppContext } from '../../services/app.ts';
import { authenticateAuthorizationHeader, type Identity } from '../../services/auth.ts';
import { clientAddress, retryAfterHeaders } from '../middleware/rateLimit.ts';
import { ARCHIVED_MESSAGE, authorizeRepository, findRepositoryById, type RepositoryAccess } from '../../services/repositories.ts';
import { findRepositoryRedirect } from '../../services/repositoryRedirects.ts';
import { pushPolicy } from '../../services/branchProtection.ts';
import { peekReceivePackCommands } from '../../git/receivePackCommands.ts';
import { ServiceError } from '../../services/errors.ts';
import { handleRepositoryRefChanges } from '../../services/refChanges.ts';
import { reconcileOnRequest, withPushTurn } from '../../services/refReconciler.ts';
import { type GitService, parseGitService, parsePostReceiveLines, pktLine, PKT_FLUSH, safeGitProtocol, spawnGitService } from '../../git/smartHttp.ts';
import { isValidRepositoryName, isValidUsername, stripGitSuffix } from '../../domain/names.ts';

interface GitAccess extends RepositoryAccess {
  identity: Identity | null;
}

const REALM = 'Basic realm="gitoku", charset="UTF-8"';

function plain(c: Context<WebEnv>, status: 400 | 401 | 403 | 404 | 429 | 500, text: string, extraHeaders: Record<string, string> = {}) {
  const headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8', ...extraHeaders };
  if (status === 401) headers['WWW-Authenticate'] = REALM;
  return c.body(`${text}\n`, status, headers);
}

/** Authenticates and authorizes a git request; returns a Response when it must stop. */
async function gitAccess(c: Context<WebEnv>, service: GitService): Promise<GitAccess | Response> {
  const app = c.get('app');
  const owner = c.req.param('owner') ?? '';
  const repoName = stripGitSuffix(c.req.param('repo') ?? '');
  if (!isValidUsername(owner) || !isValidRepositoryName(repoName)) return plain(c, 404, 'Repository not found');
  const creds = await authenticateAuthorizationHeader(app, c.req.header('authorization'), true, clientAddress(c));
  if (creds.kind === 'invalid') return plain(c, 401, 'Invalid username or password/token');
  if (creds.kind === 'limited') return plain(c, 429, `Too many failed authentication attempts; try again in ${creds.retryAfterSeconds} s`, retryAfterHeaders(creds.retryAfterSeconds));
  const identity: Identity | null = creds.kind === 'ok' ? creds.identity : null;
  const needed = service === 'git-receive-pack' ? 'write' : 'read';
  try {
    try {
      return { ...(await authorizeRepository(app, owner, repoName, identity?.viewer ?? null, needed)), identity };
    } catch (err) {
      // A renamed or transferred repository is served under its old owner/name too (git follows
      // redirects only on some requests; serving directly always works).
      const movedId = err instanceof ServiceError && err.status === 404 ? await findRepositoryRedirect(app.db, owner, repoName) : undefined;
      const moved = movedId === undefined ? undefined : await findRepositoryById(app.db, movedId);
      if (!moved) throw err;
      return { ...(await authorizeRepository(app, moved.owner_name, moved.name, identity?.viewer ?? null, needed)), identity };
    }
  } catch (err) {
    if (!(err instanceof ServiceError)) throw err;
    // git prints a text/plain error body as "remote: …" lines.
    if (err.status === 403 && err.message === ARCHIVED_MESSAGE) return plain(c, 403, `ERROR: ${ARCHIVED_MESSAGE}`);
    // Anonymous callers get a challenge for anything not publicly readable, so git prompts and
    // nothing reveals whether a private repository exists.
    if (!identity) return plain(c, 401, 'Authentication required');
    if (err.status === 403) return plain(c, 403, `Permission to ${owner}/${repoName} denied to ${identity.user.username}`);
    return plain(c, 404, 'Repository not found');
  }
}

export function gitRoutes(): Hono<WebEnv> {
  const git = new Hono<WebEnv>();

  git.get('/:owner/:repo/info/refs', async (c) => {
    const service = parseGitService(c.req.query('service'));
    if (!service) return plain(c, 403, 'Unsupported service: only the smart HTTP protocol (git-upload-pack, git-receive-pack) is served');
    const access = await gitAccess(c, service);
    if (access instanceof Response) return access;
    // Every fetch and push starts here: a debounced background check that the repository's refs on disk
    // are all recorded (a crash between git's ref update and the ingress leaves some unrecorded).
    reconcileOnRequest(c.get('app'), access.repo.id);
    const gitProtocol = safeGitProtocol(c.req.header('git-protocol'));
    const child = spawnGitService({ gitDir: access.gitDir, service, advertise: true, gitProtocol });
    const out = c.env.outgoing;
    out.writeHead(200, {
      'Content-Type': `application/x-${service}-advertisement`,
      'Cache-Control': 'no-cache, max-age=0, must-revalidate',
      Expires: 'Fri, 01 Jan 1980 00:00:00 GMT',
      Pragma: 'no-cache',
    });
    // Protocol v2 clients receive the capability advertisement directly, without the service banner.
    if (!gitProtocol?.includes('version=2')) out.write(pktLine(`# service=${service}\n`) + PKT_FLUSH);
    child.stdin!.end();
    child.stderr!.resume();
    await pipeline(child.stdout!, out).catch(() => out.destroy());
    return RESPONSE_ALREADY_SENT;
  });

  git.post('/:owner/:repo/:service{git-(?:upload|receive)-pack}', async (c) => {
    const service = parseGitService(c.req.param('service'))!;
    if (c.req.header('content-type') !== `application/x-${service}-request`) return plain(c, 400, 'Unexpected content type');
    const access = await gitAccess(c, service);
    if (access instanceof Response) return access;
    const app = c.get('app');
    // A push, from git's ref update through the ingress recording it, takes the repository's shared turn:
    // pushes run side by side, the reconciler waits for them (src/services/refReconciler.ts).
    if (service === 'git-receive-pack') return withPushTurn(app, access.repo.id, () => serveService(c, app, access, service));
    return serveService(c, app, access, service);
  });

  return git;
}

async function serveService(c: Context<WebEnv>, app: AppContext, access: GitAccess, service: GitService): Promise<typeof RESPONSE_ALREADY_SENT> {
  const incoming = c.env.incoming;
  const out = c.env.outgoing;
  const isPush = service === 'git-receive-pack';
  const resultFile = isPush ? join(app.config.dataDir, 'tmp', `push-${randomUUID()}`) : null;
  if (resultFile) await mkdir(join(app.config.dataDir, 'tmp'), { recursive: true });
  if (isPush) await ensureGitokuHooks(app.hooksDir);
  let source: Readable = c.req.header('content-encoding') === 'gzip' ? incoming.pipe(createGunzip()) : incoming;
  // Branch protection: the pushed ref updates are read from the request head, the rules decide what the
  // pre-receive hook refuses (it alone can tell a fast-forward: the pushed objects are in its quarantine).
  let protectionFile: string | null = null;
  if (isPush) {
    const policy = await pushPolicy(app, access.repo.id, access.role, async () => {
      const peeked = await peekReceivePackCommands(source);
      source = peeked.stream;
      return peeked.commands;
    });
    if (policy?.length) {
      protectionFile = `${resultFile}.protection`;
      await writeFile(protectionFile, `${policy.join('\n')}\n`);
    }
  }
  const child = spawnGitService({
    gitDir: access.gitDir,
    service,
    advertise: false,
    gitProtocol: safeGitProtocol(c.req.header('git-protocol')),
    hooksDir: isPush ? app.hooksDir : undefined,
    env: resultFile ? { GITOKU_PUSH_RESULT_FILE: resultFile, ...jobRefEnv(access.identity), ...(protectionFile ? { GITOKU_PROTECTION_FILE: protectionFile } : {}) } : undefined,
  });
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  const stderr: Buffer[] = [];
  child.stderr!.on('data', (d: Buffer) => stderr.length < 64 && stderr.push(d));

  const input = pipeline(source, child.stdin!).catch(() => child.kill('SIGTERM'));

  out.writeHead(200, { 'Content-Type': `application/x-${service}-result`, 'Cache-Control': 'no-cache, max-age=0, must-revalidate' });
  // Keep the response open until the ref changes are recorded: when git's push returns, the outbox already holds them.
  await pipeline(child.stdout!, out, { end: false }).catch(() => undefined);
  await Promise.all([input, exited]);
  if (resultFile) {
    try {
      const lines = parsePostReceiveLines(await readFile(resultFile, 'utf8').catch(() => ''));
      // Test-only failpoint: die like a crash at the worst moment — git moved the refs, nothing recorded them.
      if (lines.length && process.env.GITOKU_FAILPOINT === 'after-receive-pack') process.kill(process.pid, 'SIGKILL');
      const identity = access.identity;
      const cause = identity?.method === 'job' ? { kind: 'run' as const, actorId: identity.user.id, details: { job_id: identity.jobId } } : { kind: 'push' as const, actorId: identity?.user.id ?? null };
      await handleRepositoryRefChanges(app, access.repo, lines, cause);
    } catch (err) {
      console.error(`ref-change ingress failed for ${access.repo.owner_name}/${access.repo.name}:`, err);
    } finally {
      await rm(resultFile, { force: true });
    }
  }
  if (protectionFile) await rm(protectionFile, { force: true });
  out.end();
  return RESPONSE_ALREADY_SENT;
}

/** What the pre-receive hook lets a job token push: its compare branch and, for runs, its checkpoint refs. */
function jobRefEnv(identity: Identity | null): Record<string, string> {
  const scope = identity?.viewer.jobScope;
  if (!scope) return {};
  return { GITOKU_ALLOWED_REF: scope.allowedRef, ...(scope.allowedRefPrefix ? { GITOKU_ALLOWED_REF_PREFIX: scope.allowedRefPrefix } : {}) };
}
