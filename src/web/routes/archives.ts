import type { Context, Hono } from 'hono';
import type { WebEnv } from '../context.ts';
import type { RepositoryAccess } from '../../services/repositories.ts';
import { authorizeRepository } from '../../services/repositories.ts';
import { authenticateAuthorizationHeader } from '../../services/auth.ts';
import { notFound } from '../../services/errors.ts';
import { attachmentDisposition, openArchive, parseArchiveName, planArchive, type ArchivePlan } from '../../services/archives.ts';
import { isValidRepositoryName, isValidUsername } from '../../domain/names.ts';
import { clientAddress, tooManyAttempts } from '../middleware/rateLimit.ts';

/**
 * The archive download as the response: 304 for a matching ETag, headers only for HEAD, else the
 * bytes streamed from git archive (a client that disconnects cancels the stream, which kills git).
 */
export async function archiveResponse(c: Context<WebEnv>, access: RepositoryAccess, plan: ArchivePlan): Promise<Response> {
  const headers: Record<string, string> = {
    'Content-Type': plan.contentType,
    'Content-Disposition': attachmentDisposition(plan.filename),
    ETag: plan.etag,
    'Cache-Control': access.repo.is_private ? 'private, max-age=300' : 'public, max-age=300',
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; sandbox",
  };
  const ifNoneMatch = c.req.header('if-none-match');
  if (ifNoneMatch && ifNoneMatch.split(',').some((v) => v.trim() === plan.etag)) return c.body(null, 304, { ETag: plan.etag, 'Cache-Control': headers['Cache-Control']! });
  if (c.req.method === 'HEAD') return c.body(null, 200, headers);
  const archive = await openArchive(access, plan);
  return c.body(archive.body, 200, headers);
}

/**
 * Who is asking for an archive page: the browser session, or — for curl and scripts — a token or
 * password in the Authorization header (Basic or Bearer), as for git over HTTP.
 */
async function archiveAccess(c: Context<WebEnv>): Promise<RepositoryAccess | Response> {
  const app = c.get('app');
  const owner = c.req.param('owner') ?? '';
  const name = c.req.param('repo') ?? '';
  if (!isValidUsername(owner) || !isValidRepositoryName(name)) throw notFound();
  let viewer = c.get('identity')?.viewer ?? null;
  const header = c.req.header('authorization');
  if (header) {
    const creds = await authenticateAuthorizationHeader(app, header, true, clientAddress(c));
    if (creds.kind === 'limited') return tooManyAttempts(c, creds.retryAfterSeconds);
    if (creds.kind === 'invalid') return c.text('Bad credentials\n', 401, { 'WWW-Authenticate': 'Basic realm="gitoku", charset="UTF-8"' });
    if (creds.kind === 'ok') viewer = creds.identity.viewer;
  }
  return authorizeRepository(app, owner, name, viewer, 'read');
}

/** GET /:owner/:repo/archive/<ref>.zip|.tar.gz, also refs/heads/<b>.zip and refs/tags/<t>.tar.gz. */
export function registerArchiveRoutes(ui: Hono<WebEnv>): void {
  ui.get('/:owner/:repo/archive/:spec{.+}', async (c) => {
    const parsed = parseArchiveName(c.req.param('spec') ?? '');
    if (!parsed) throw notFound();
    const access = await archiveAccess(c);
    if (access instanceof Response) return access;
    return archiveResponse(c, access, await planArchive(access, parsed.ref, parsed.format));
  });
}
