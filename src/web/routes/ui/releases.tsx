import type { Context, Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import type { WebEnv } from '../../context.ts';
import type { RepositoryAccess } from '../../../services/repositories.ts';
import { notFound, ServiceError } from '../../../services/errors.ts';
import { canManageReleases, createRelease, deleteRelease, getLatestRelease, getRelease, getReleaseByTag, listReleases, releasesByTag, updateRelease, type ReleaseInput, type ReleaseRecord } from '../../../services/releases.ts';
import { assetNamed, deleteReleaseAsset, getReleaseAsset, uploadReleaseAsset } from '../../../services/releaseAssets.ts';
import { listRepoRefs, readCommitBrief } from '../../../services/uiBrowse.ts';
import { constantTimeEqual } from '../../../domain/secrets.ts';
import { CSRF_COOKIE, csrfTokenFor } from '../../middleware/csrf.ts';
import { renderMarkdown } from '../../markdown.ts';
import { MultipartError, multipartBoundary, readField, readMultipart } from '../../multipart.ts';
import { ReleaseFormPage, ReleasePage, ReleasesPage, releaseEditUrl, releasesUrl, releaseTagUrl, type ReleaseFormValues, type ReleaseItem } from '../../views/pages/releases.tsx';
import { TagsPage } from '../../views/pages/tags.tsx';
import { ErrorPage } from '../../views/pages/error.tsx';
import { assetDownloadResponse } from '../releaseDownloads.ts';
import { uploadBody } from '../../requestBody.ts';
import { askToConfirm, isConfirmed } from './confirm.tsx';
import { pageContext, pageNumber, readForm, render, requireUser, setFlash } from './render.tsx';
import { repoAccess, repoPath, repoView } from './access.ts';

const RELEASES_PER_PAGE = 10;
/** A text field of the release form (the notes are the largest: 125,000 characters). */
const FIELD_LIMIT = 512 * 1024;
const MAX_FIELDS = 32;
const MAX_FILES = 50;

/**
 * The release form posts (create, edit) are multipart and streamed: files go to disk as they arrive, so
 * they bypass the UI's form body limit and the CSRF middleware (which would read the whole body); the
 * handler checks the form's CSRF field itself before it changes anything, and limits each field and file.
 */
export function isStreamedReleaseForm(method: string, path: string): boolean {
  return method === 'POST' && /^\/[^/]+\/[^/]+\/releases(?:\/\d+\/edit)?$/.test(path);
}

/** The CSRF token this browser's forms carry (and the page re-rendered on an error needs), or null without a cookie. */
function expectedCsrf(c: Context<WebEnv>): string | null {
  const cookie = getCookie(c, CSRF_COOKIE);
  if (!cookie || !/^[A-Za-z0-9]{32,64}$/.test(cookie)) return null;
  const token = csrfTokenFor(c.get('app').secret, cookie);
  c.set('csrfToken', token);
  return token;
}

async function releaseItems(access: RepositoryAccess, releases: ReleaseRecord[], latestId: number | null): Promise<ReleaseItem[]> {
  const refs = await listRepoRefs(access);
  const tags = new Map(refs.tags.map((t) => [t.name, t.sha]));
  return releases.map((release) => ({
    release,
    notesHtml: release.body ? renderMarkdown(release.body) : '',
    commitSha: release.draft ? null : (tags.get(release.tag_name) ?? null),
    isLatest: release.id === latestId,
  }));
}

async function latestId(c: Context<WebEnv>, access: RepositoryAccess): Promise<number | null> {
  return getLatestRelease(c.get('app'), access)
    .then((r) => r.id)
    .catch(() => null);
}

function releaseId(c: Context<WebEnv>): number {
  const raw = c.req.param('id') ?? '';
  if (!/^\d{1,15}$/.test(raw)) throw notFound();
  return Number(raw);
}

async function renderForm(c: Context<WebEnv>, access: RepositoryAccess, release: ReleaseRecord | null, values: ReleaseFormValues, error: { message: string; field?: string } | null, status: 200 | 400 | 403 | 413 | 422 = 200) {
  const refs = await listRepoRefs(access);
  const form = { release, values, tags: refs.tags.map((t) => t.name), branches: refs.branches.map((b) => b.name), maxAssetBytes: c.get('app').config.releaseAssetMaxBytes };
  const res = await render(c, <ReleaseFormPage ctx={pageContext(c)} view={await repoView(c, access)} form={form} error={error} />, status);
  // The rest of a refused upload is not wanted: close instead of reading it.
  if (status !== 200) res.headers.set('Connection', 'close');
  return res;
}

function valuesOf(release: ReleaseRecord): ReleaseFormValues {
  return { tagName: release.tag_name, target: release.target_commitish, name: release.name, body: release.body, draft: release.draft === 1, prerelease: release.prerelease === 1 };
}

/**
 * Handles a streamed release form: reads the fields (in form order), and at the first file — or the end
 * — checks the CSRF field and creates or updates the release; then streams each attached file into an
 * asset. Field errors re-render the form (nothing stored); an asset refused (too large, name taken) is
 * reported on the release's edit page, with the release and the other files kept.
 */
const DRAIN_AFTER_REFUSAL = 16 * 1024 * 1024;

async function handleReleaseForm(c: Context<WebEnv>, access: RepositoryAccess, existing: ReleaseRecord | null): Promise<Response> {
  const app = c.get('app');
  const identity = c.get('identity')!;
  const expected = expectedCsrf(c);
  const boundary = multipartBoundary(c.req.header('content-type'));
  const stale = () => render(c, <ErrorPage ctx={pageContext(c)} status={403} message="The form was stale or did not come from this site. Go back, reload the page and try again." />, 403);
  const body = uploadBody(c);
  if (!boundary || !body) return render(c, <ErrorPage ctx={pageContext(c)} status={400} message="This form must be sent as multipart/form-data." />, 400);
  // After a file is refused as too large, the rest of the request is read (and dropped) up to
  // DRAIN_AFTER_REFUSAL bytes, so a browser still sending it gets the answer instead of a reset
  // connection; beyond that the connection is closed rather than gigabytes read.
  let consumed = 0;
  let drainUntil = Number.POSITIVE_INFINITY;
  const source = (async function* () {
    for await (const chunk of body) {
      consumed += chunk.length;
      if (consumed > drainUntil) return;
      yield chunk;
    }
  })();

  const fields = new Map<string, string>();
  let release: ReleaseRecord | null = null;
  const stored: string[] = [];
  const refused: string[] = [];
  let files = 0;

  const apply = async (): Promise<Response | null> => {
    const presented = fields.get('_csrf');
    if (!expected || !presented || !constantTimeEqual(presented, expected)) return stale();
    const formValues: ReleaseFormValues = {
      tagName: (fields.get('tag_name') ?? '').trim(),
      target: (fields.get('target_commitish') ?? '').trim(),
      name: (fields.get('name') ?? '').trim(),
      body: (fields.get('body') ?? '').replace(/\r\n/g, '\n'),
      draft: fields.get('draft') === '1',
      prerelease: fields.get('prerelease') === '1',
    };
    const input: ReleaseInput = { tagName: formValues.tagName, targetCommitish: formValues.target || undefined, name: formValues.name, body: formValues.body, draft: formValues.draft, prerelease: formValues.prerelease };
    try {
      release = existing ? await updateRelease(app, access, identity.user.id, existing.id, input) : await createRelease(app, access, identity.user.id, input);
    } catch (err) {
      if (!(err instanceof ServiceError) || err.status === 404) throw err;
      return renderForm(c, access, existing, formValues, { message: err.message, field: err.field }, err.status === 403 ? 403 : 422);
    }
    return null;
  };

  try {
    for await (const part of readMultipart(source, boundary)) {
      if (part.filename === null) {
        if (release) continue; // fields after the files change nothing
        if (fields.size >= MAX_FIELDS) throw new MultipartError('too many form fields');
        fields.set(part.name, await readField(part.body, FIELD_LIMIT));
        continue;
      }
      if (!release) {
        const stop = await apply();
        if (stop) return stop;
      }
      if (part.name !== 'asset' || part.filename === '') continue;
      if (++files > MAX_FILES) {
        refused.push(`${part.filename}: at most ${MAX_FILES} files per upload`);
        continue;
      }
      try {
        const asset = await uploadReleaseAsset(app, access, identity.user.id, release!.id, { name: part.filename, contentType: part.contentType ?? undefined, body: part.body });
        stored.push(asset.name);
      } catch (err) {
        if (!(err instanceof ServiceError)) throw err;
        refused.push(`${part.filename}: ${err.message}`);
        if (err.status === 413) drainUntil = consumed + DRAIN_AFTER_REFUSAL;
      }
    }
  } catch (err) {
    if (!(err instanceof MultipartError)) throw err;
    // Cut short on purpose after a refused file: the form ends there (the release and earlier files are kept).
    if (consumed <= drainUntil) return render(c, <ErrorPage ctx={pageContext(c)} status={400} message={`The form could not be read: ${err.message}.`} />, 400);
  }
  if (!release) {
    const stop = await apply();
    if (stop) return stop;
  }
  const saved = release as unknown as ReleaseRecord;
  if (refused.length) {
    setFlash(c, 'error', `Saved the release, but not every file: ${refused.join('; ')}`);
    const res = c.redirect(releaseEditUrl(access.repo, saved.id), 303);
    res.headers.set('Connection', 'close');
    return res;
  }
  setFlash(c, 'success', `${existing ? 'Updated' : saved.draft ? 'Saved the draft' : 'Published'} ${saved.name || saved.tag_name}${stored.length ? ` with ${stored.length} ${stored.length === 1 ? 'file' : 'files'}` : ''}.`);
  return c.redirect(saved.draft ? releasesUrl(access.repo) : releaseTagUrl(access.repo, saved.tag_name), 303);
}

export function registerReleasePages(ui: Hono<WebEnv>): void {
  ui.get('/:owner/:repo/releases', async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c);
    const page = pageNumber(c.req.query('page'), 100_000);
    const { items, total } = await listReleases(app, access, { page, perPage: RELEASES_PER_PAGE });
    const view = await repoView(c, access);
    const canWrite = !!c.get('identity') && canManageReleases(access);
    return render(c, <ReleasesPage ctx={pageContext(c)} view={view} items={await releaseItems(access, items, await latestId(c, access))} page={page} pages={Math.max(1, Math.ceil(total / RELEASES_PER_PAGE))} canWrite={canWrite} />);
  });

  ui.get('/:owner/:repo/releases/latest', async (c) => {
    const access = await repoAccess(c);
    const latest = await getLatestRelease(c.get('app'), access).catch(() => null);
    return c.redirect(latest ? releaseTagUrl(access.repo, latest.tag_name) : releasesUrl(access.repo), 302);
  });

  ui.get('/:owner/:repo/releases/tag/:tag{.+}', async (c) => {
    const access = await repoAccess(c);
    const release = await getReleaseByTag(c.get('app'), access, c.req.param('tag')!);
    const [item] = await releaseItems(access, [release], await latestId(c, access));
    return render(c, <ReleasePage ctx={pageContext(c)} view={await repoView(c, access)} item={item!} canWrite={!!c.get('identity') && canManageReleases(access)} />);
  });

  ui.get('/:owner/:repo/releases/download/:rest{.+}', async (c) => {
    const access = await repoAccess(c);
    const rest = c.req.param('rest')!;
    const slash = rest.lastIndexOf('/');
    if (slash <= 0) throw notFound();
    const release = await getReleaseByTag(c.get('app'), access, rest.slice(0, slash));
    return assetDownloadResponse(c, assetNamed(release, rest.slice(slash + 1)));
  });

  ui.get('/:owner/:repo/releases/new', async (c) => {
    const user = requireUser(c);
    if (user instanceof Response) return user;
    const access = await repoAccess(c, 'write');
    const tag = (c.req.query('tag') ?? '').slice(0, 255);
    return renderForm(c, access, null, { tagName: tag, target: access.repo.default_branch, name: '', body: '', draft: false, prerelease: false }, null);
  });

  ui.post('/:owner/:repo/releases', async (c) => {
    const user = requireUser(c);
    if (user instanceof Response) return user;
    return handleReleaseForm(c, await repoAccess(c, 'write'), null);
  });

  ui.get('/:owner/:repo/releases/:id{\\d+}/edit', async (c) => {
    const user = requireUser(c);
    if (user instanceof Response) return user;
    const access = await repoAccess(c, 'write');
    const release = await getRelease(c.get('app'), access, releaseId(c));
    return renderForm(c, access, release, valuesOf(release), null);
  });

  ui.post('/:owner/:repo/releases/:id{\\d+}/edit', async (c) => {
    const user = requireUser(c);
    if (user instanceof Response) return user;
    const access = await repoAccess(c, 'write');
    return handleReleaseForm(c, access, await getRelease(c.get('app'), access, releaseId(c)));
  });

  ui.post('/:owner/:repo/releases/:id{\\d+}/delete', async (c) => {
    const user = requireUser(c);
    if (user instanceof Response) return user;
    const access = await repoAccess(c, 'write');
    const release = await getRelease(c.get('app'), access, releaseId(c));
    const title = release.name || release.tag_name;
    if (!isConfirmed(await readForm(c))) {
      return askToConfirm(c, {
        title: `Delete the release ${title}?`,
        message: `${release.assets.length === 0 ? 'The release is' : `The release and its ${release.assets.length === 1 ? 'file are' : `${release.assets.length} files are`}`} deleted for good. The tag ${release.tag_name} stays.`,
        details: release.assets.map((a) => a.name),
        action: `${repoPath(access)}/releases/${release.id}/delete`,
        fields: [],
        confirmLabel: 'Delete this release',
        cancelHref: releaseEditUrl(access.repo, release.id),
      });
    }
    await deleteRelease(c.get('app'), access, user.user.id, release.id);
    setFlash(c, 'success', `Deleted the release ${title}.`);
    return c.redirect(releasesUrl(access.repo), 303);
  });

  ui.post('/:owner/:repo/releases/assets/:assetId{\\d+}/delete', async (c) => {
    const user = requireUser(c);
    if (user instanceof Response) return user;
    const app = c.get('app');
    const access = await repoAccess(c, 'write');
    const asset = await getReleaseAsset(app, access, Number(c.req.param('assetId')));
    if (!isConfirmed(await readForm(c))) {
      return askToConfirm(c, {
        title: `Delete ${asset.name}?`,
        message: 'The file is removed from the release for good.',
        action: `${repoPath(access)}/releases/assets/${asset.id}/delete`,
        fields: [],
        confirmLabel: 'Delete this asset',
        cancelHref: releaseEditUrl(access.repo, asset.release_id),
      });
    }
    await deleteReleaseAsset(app, access, asset.id);
    setFlash(c, 'success', `Deleted ${asset.name}.`);
    return c.redirect(releaseEditUrl(access.repo, asset.release_id), 303);
  });

  ui.get('/:owner/:repo/tags', async (c) => {
    const access = await repoAccess(c);
    const [refs, releases] = await Promise.all([listRepoRefs(access), releasesByTag(c.get('app'), access)]);
    const tags = await Promise.all(
      refs.tags.map(async (t) => {
        const r = releases.get(t.name);
        return { name: t.name, sha: t.sha, commit: await readCommitBrief(access.gitDir, t.sha), release: r ? { name: r.name, prerelease: r.prerelease } : null };
      }),
    );
    return render(c, <TagsPage ctx={pageContext(c)} view={await repoView(c, access)} tags={tags} canWrite={!!c.get('identity') && canManageReleases(access)} />);
  });
}
