import type { Context, Hono } from 'hono';
import type { WebEnv } from '../../context.ts';
import type { RepositoryAccess } from '../../../services/repositories.ts';
import type { PullRequest } from '../../../db/schema.ts';
import { ServiceError, notFound } from '../../../services/errors.ts';
import { createPullRequest, getPullRequest, listPullRequests, mergePullRequest, updatePullRequest } from '../../../services/pulls.ts';
import { pullRequestBranchDeleted, restorePullRequestBranch } from '../../../services/runPullRequests.ts';
import { createConversationComment, createLineComment, createReview, listLineComments, type ReviewEvent } from '../../../services/pullComments.ts';
import { countPullComments, countPullsByState, enrichPullList, loadConversation, loadPullRequest, pullCommits, pullDiff, userIdByName, usernamesById } from '../../../services/uiPulls.ts';
import { cachedDiff, listRepoRefs } from '../../../services/uiBrowse.ts';
import { roleAtLeast } from '../../../domain/permissions.ts';
import { isValidBranchName } from '../../../domain/refs.ts';
import { countCommits } from '../../../git/log.ts';
import { mergeBase } from '../../../git/merge.ts';
import { isSafeRepoPath, resolveCommit } from '../../../git/tree.ts';
import type { FormError } from '../../views/context.ts';
import { sentence } from '../../views/format.ts';
import { NewPullPage, PullsListPage, type NewPullValues, type PullsFilter } from '../../views/pages/pulls.tsx';
import { PullCommitsPage, PullConversationPage, PullFileChanges, PullFilesBody, PullFilesPage, type OpenLineForm, type PullPageData } from '../../views/pages/pull.tsx';
import { cachedFragment, fragmentKey, versionOf } from '../../fragmentCache.ts';
import { answerChunkedPage, htmlOf, repoKey } from './fragmentPage.tsx';
import { compareUrl, diffFileUrl, pullUrl } from '../../views/urls.ts';
import { pageContext, pageNumber, readForm, render, requireUser, setFlash } from './render.tsx';
import { askToConfirm, isConfirmed } from './confirm.tsx';
import { repoAccess, repoView } from './access.ts';
import { loadCompare, UI_DIFF_MAX_BYTES } from './code.tsx';
import { ComparePage } from '../../views/pages/history.tsx';
import type { DiffResult } from '../../../git/diff.ts';
import { loadCaptureViews, loadPullRequestAiLines, pullRequestCapturedPaths } from '../../../services/provenance.ts';
import { aiLineMarks, type AiLineMark } from '../../views/aiProvenance.tsx';
import { resolveReferenceLinks } from '../../models/references.ts';

const PER_PAGE = 25;
const STATES = ['open', 'closed', 'all'] as const;

function prNumber(c: Context<WebEnv>): number {
  const raw = c.req.param('number') ?? '';
  const n = /^[1-9][0-9]{0,9}$/.test(raw) ? Number(raw) : NaN;
  // Beyond a 32-bit integer no pull request exists (and PostgreSQL would reject the parameter).
  if (!Number.isSafeInteger(n) || n > 2_147_483_647) throw notFound();
  return n;
}

/** A service refusal a user can act on (not a missing page or a sign-in). */
function isUserError(err: unknown): err is ServiceError {
  return err instanceof ServiceError && err.status !== 404 && err.status !== 401;
}

async function pullPageData(c: Context<WebEnv>, access: RepositoryAccess, pr: PullRequest): Promise<PullPageData> {
  const app = c.get('app');
  const identity = c.get('identity');
  const [names, commits, diff, commentCount, branchDeleted] = await Promise.all([usernamesById(app, [pr.author_id, pr.merged_by_id]), pullCommits(access, pr), pullDiff(access, pr, UI_DIFF_MAX_BYTES), countPullComments(app, pr.id), pullRequestBranchDeleted(access, pr)]);
  const canWrite = !!identity && roleAtLeast(access.role, 'write');
  return {
    pr,
    authorName: pr.author_id !== null ? (names.get(pr.author_id) ?? null) : null,
    mergedByName: pr.merged_by_id !== null ? (names.get(pr.merged_by_id) ?? null) : null,
    commits,
    filesCount: diff ? diff.files.length : null,
    canWrite,
    canEdit: canWrite || (!!identity && pr.author_id === identity.user.id),
    commentCount,
    branchDeleted,
  };
}

/** Files of the diff whose added lines may be AI-written are looked up (AI blame at the head) at most this many. */
const MAX_AI_FILES = 50;

/** The AI-written lines the pull request adds, per file of its diff (only files some capture of its commits covers). */
async function pullAiLines(c: Context<WebEnv>, access: RepositoryAccess, pr: PullRequest, diff: DiffResult | null, prCommits: readonly { sha: string }[]): Promise<Map<string, Map<number, AiLineMark>>> {
  const out = new Map<string, Map<number, AiLineMark>>();
  if (!diff || diff.files.length === 0 || prCommits.length === 0) return out;
  const app = c.get('app');
  const commits = new Set(prCommits.map((commit) => commit.sha));
  const captures = await loadCaptureViews(app, access.repo, [...commits]);
  const captured = [...captures.values()].flatMap((list) => list.flatMap((capture) => [...Object.keys(capture.modified_line_spans), ...capture.modified_files]));
  if (captured.length === 0) return out;
  const covered = await pullRequestCapturedPaths(access, pr, captured, new Set(diff.files.map((f) => f.path)));
  const paths = diff.files.filter((f) => f.status !== 'removed' && !f.binary && f.additions > 0 && covered.has(f.path)).map((f) => f.path).slice(0, MAX_AI_FILES);
  for (let i = 0; i < paths.length; i += 8) {
    await Promise.all(
      paths.slice(i, i + 8).map(async (path) => {
        const lines = await loadPullRequestAiLines(app, access, pr, path, { commits });
        if (lines && lines.ranges.length > 0) out.set(path, aiLineMarks(lines.ranges));
      }),
    );
  }
  return out;
}

async function renderFiles(c: Context<WebEnv>, access: RepositoryAccess, pr: PullRequest, open: OpenLineForm | null, status: 200 | 422 = 200): Promise<Response> {
  const app = c.get('app');
  const [data, diff, lineComments, view] = await Promise.all([pullPageData(c, access, pr), pullDiff(access, pr, UI_DIFF_MAX_BYTES), listLineComments(app, access, pr), repoView(c, access)]);
  const aiLines = await pullAiLines(c, access, pr, diff, data.commits);
  data.links = await resolveReferenceLinks(app, c.get('identity')?.viewer ?? null, access, lineComments.map((x) => x.body));
  if (open) return render(c, <PullFilesPage ctx={pageContext(c)} view={view} data={data} body={await htmlOf(<PullFilesBody ctx={pageContext(c)} view={view} data={data} diff={diff} lineComments={lineComments} open={open} aiLines={aiLines} />)} />, status);
  // The diff between two commits with the threads, marks and forms on it: cached under the commits and
  // the version of everything else the tab shows (comments, AI marks, the pull request, the viewer: a
  // signed-in viewer's forms carry their CSRF token, so their fragment is theirs).
  const user = c.get('identity')?.user ?? null;
  const viewerBound = !!user || lineComments.length > 0;
  const inputs = versionOf({
    lineComments,
    ai: [...aiLines].map(([path, marks]) => [path, [...marks]]),
    pr,
    author: data.authorName,
    links: data.links,
    canWrite: data.canWrite,
    canEdit: data.canEdit,
    role: view.role,
    archived: view.archivedRole,
    // Threads and forms carry the CSRF token of this browser: such a fragment is this browser's alone.
    viewer: viewerBound ? [user?.id ?? null, user?.username ?? null, c.get('csrfToken') ?? ''] : null,
  });
  const key = fragmentKey('pull-files', ...repoKey(access), pr.number, pr.merge_base_sha ?? pr.base_sha, pr.head_sha, diff === null, inputs);
  const body = await cachedFragment(key, async () => {
    const ctx = { ...pageContext(c), flash: null };
    return { html: await htmlOf(<PullFilesBody ctx={ctx} view={view} data={data} diff={diff} lineComments={lineComments} open={null} aiLines={aiLines} />), meta: undefined, viewerBound, bytes: true };
  });
  return answerChunkedPage(c, { view, refs: null }, [key, data.commentCount, data.filesCount, data.branchDeleted, data.mergedByName, data.commits.length], body, (ctx, bodyHtml) => <PullFilesPage ctx={ctx} view={view} data={data} body={bodyHtml ?? ''} />);
}

async function renderNewPull(c: Context<WebEnv>, access: RepositoryAccess, values: NewPullValues, error: FormError | null, status: 200 | 422): Promise<Response> {
  const refs = await listRepoRefs(access);
  // Two branches chosen: the compare view (the form, then the commits and the diff) with the values kept.
  if (values.base && values.head && values.base !== values.head && refs.branches.some((b) => b.name === values.base) && refs.branches.some((b) => b.name === values.head)) {
    const cmp = await loadCompare(c, access, `${values.base}...${values.head}`);
    return render(c, <ComparePage ctx={pageContext(c)} view={await repoView(c, access)} refs={refs} cmp={cmp} canOpen form={values} error={error} />, status);
  }
  let summary: { ahead: number; files: number } | null = null;
  if (values.base && values.head && values.base !== values.head && isValidBranchName(values.base) && isValidBranchName(values.head)) {
    const [baseSha, headSha] = await Promise.all([resolveCommit(access.gitDir, `refs/heads/${values.base}`), resolveCommit(access.gitDir, `refs/heads/${values.head}`)]);
    const mb = baseSha && headSha ? await mergeBase(access.gitDir, baseSha, headSha) : null;
    if (mb && headSha && baseSha) {
      const [ahead, diff] = await Promise.all([countCommits(access.gitDir, headSha, baseSha), cachedDiff(access.gitDir, mb, headSha, UI_DIFF_MAX_BYTES)]);
      summary = { ahead, files: diff.files.length };
    }
  }
  return render(c, <NewPullPage ctx={pageContext(c)} view={await repoView(c, access)} values={values} branches={refs.branches.map((b) => b.name)} error={error} summary={summary} />, status);
}

export function registerPullRoutes(ui: Hono<WebEnv>): void {
  ui.get('/:owner/:repo/pulls', async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c);
    const stateParam = c.req.query('state') ?? 'open';
    const state = (STATES as readonly string[]).includes(stateParam) ? (stateParam as PullsFilter['state']) : 'open';
    const page = pageNumber(c.req.query('page'));
    const base = (c.req.query('base') ?? '').trim();
    const author = (c.req.query('author') ?? '').trim();
    const filter: PullsFilter = { state, base: isValidBranchName(base) ? base : '', author: author.slice(0, 100), page };
    const authorId = filter.author ? await userIdByName(app, filter.author) : undefined;
    const [list, counts, refs, view] = await Promise.all([
      filter.author && authorId === undefined ? Promise.resolve({ items: [], total: 0 }) : listPullRequests(app, access, { state, base: filter.base || undefined, authorId, page, perPage: PER_PAGE }),
      countPullsByState(app, access.repo.id),
      listRepoRefs(access),
      repoView(c, access),
    ]);
    const items = await enrichPullList(app, access, list.items);
    return render(
      c,
      <PullsListPage ctx={pageContext(c)} view={view} items={items} total={list.total} counts={counts} filter={filter} perPage={PER_PAGE} branches={refs.branches.map((b) => b.name)} canWrite={!!c.get('identity') && roleAtLeast(access.role, 'write')} />,
    );
  });

  ui.get('/:owner/:repo/pulls/new', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const access = await repoAccess(c, 'write');
    const base = c.req.query('base') || access.repo.default_branch;
    const head = c.req.query('head') ?? '';
    // A branch chosen: GitHub's compare view, where the form is filled in and the changes are shown.
    if (head && head !== base && isValidBranchName(base) && isValidBranchName(head)) return c.redirect(compareUrl(access.repo, base, head), 302);
    return renderNewPull(c, access, { base, head: '', title: '', body: '' }, null, 200);
  });

  ui.post('/:owner/:repo/pulls', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const access = await repoAccess(c, 'write');
    const form = await readForm(c);
    const values: NewPullValues = { base: form.get('base').trim(), head: form.get('head').trim(), title: form.get('title'), body: form.get('body') };
    try {
      const pr = await createPullRequest(c.get('app'), access, identity.user, { title: values.title, body: values.body, head: values.head, base: values.base, draft: form.get('draft') === '1' });
      setFlash(c, 'success', pr.draft ? `Draft pull request #${pr.number} opened.` : `Pull request #${pr.number} opened.`);
      return c.redirect(pullUrl(access.repo, pr.number), 303);
    } catch (err) {
      if (isUserError(err)) return renderNewPull(c, access, values, { message: err.message, field: err.field }, 422);
      throw err;
    }
  });

  ui.get('/:owner/:repo/pull/:number', async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c);
    const pr = await loadPullRequest(app, access, prNumber(c));
    const [data, conv, view] = await Promise.all([pullPageData(c, access, pr), loadConversation(app, access, pr), repoView(c, access)]);
    data.links = await resolveReferenceLinks(app, c.get('identity')?.viewer ?? null, access, [pr.body, ...conv.comments.map((x) => x.body), ...conv.lineComments.map((x) => x.body), ...conv.reviews.map((x) => x.body)]);
    return render(c, <PullConversationPage ctx={pageContext(c)} view={view} data={data} conv={conv} />);
  });

  ui.get('/:owner/:repo/pull/:number/commits', async (c) => {
    const access = await repoAccess(c);
    const pr = await loadPullRequest(c.get('app'), access, prNumber(c));
    const [data, view] = await Promise.all([pullPageData(c, access, pr), repoView(c, access)]);
    return render(c, <PullCommitsPage ctx={pageContext(c)} view={view} data={data} />);
  });

  ui.get('/:owner/:repo/pull/:number/files', async (c) => {
    const access = await repoAccess(c);
    const pr = await loadPullRequest(c.get('app'), access, prNumber(c));
    const linePath = c.req.query('line_path');
    const line = Number(c.req.query('line'));
    const open = c.get('identity') && linePath && Number.isInteger(line) && line > 0 ? { path: linePath, line } : null;
    return renderFiles(c, access, pr, open);
  });

  // "Load diff" on the files tab: one deferred file's changes with the tab's hooks (threads, AI marks,
  // "+" buttons), for the head the page showed. Followed without scripts: the file's own diff page; a page
  // from before the pull request changed goes back to the files tab (409 to the script, which then follows it).
  ui.get('/:owner/:repo/pull/:number/files/diff/:head{[0-9a-f]{40,64}}', async (c) => {
    const app = c.get('app');
    const access = await repoAccess(c);
    const pr = await loadPullRequest(app, access, prNumber(c));
    const path = c.req.query('path') ?? '';
    if (!isSafeRepoPath(path)) throw notFound();
    const current = c.req.param('head') === pr.head_sha;
    if (c.req.header('x-gitoku-fragment') !== 'diff-file') return c.redirect(current ? diffFileUrl(access.repo, pr.merge_base_sha ?? pr.base_sha, pr.head_sha, path) : pullUrl(access.repo, pr.number, 'files'), 302);
    if (!current) return c.text('This pull request changed since the page was loaded.', 409);
    const [data, diff, lineComments, view] = await Promise.all([pullPageData(c, access, pr), pullDiff(access, pr, UI_DIFF_MAX_BYTES), listLineComments(app, access, pr), repoView(c, access)]);
    const file = diff?.files.find((f) => f.path === path);
    if (!diff || !file) throw notFound('That file is not part of this pull request');
    // The hooks need only this file: placing threads parses the patches of the diff they are given.
    const one: DiffResult = { ...diff, files: [file] };
    const aiLines = await pullAiLines(c, access, pr, one, data.commits);
    data.links = await resolveReferenceLinks(app, c.get('identity')?.viewer ?? null, access, lineComments.map((x) => x.body));
    return c.html(await htmlOf(<PullFileChanges ctx={pageContext(c)} view={view} data={data} diff={one} lineComments={lineComments} open={null} aiLines={aiLines} file={file} />), 200, { 'Cache-Control': 'private, no-cache' });
  });

  /** POST handlers: sign-in, read access (services check the rest), then PRG with a flash. */
  const action = (suffix: string, handler: (c: Context<WebEnv>, access: RepositoryAccess, n: number) => Promise<Response>) =>
    ui.post(`/:owner/:repo/pull/:number/${suffix}`, async (c) => {
      const identity = requireUser(c);
      if (identity instanceof Response) return identity;
      const access = await repoAccess(c);
      const n = prNumber(c);
      try {
        return await handler(c, access, n);
      } catch (err) {
        if (!isUserError(err)) throw err;
        setFlash(c, 'error', sentence(err.message));
        return c.redirect(pullUrl(access.repo, n), 303);
      }
    });

  action('edit', async (c, access, n) => {
    const form = await readForm(c);
    await updatePullRequest(c.get('app'), access, c.get('identity')!.user, n, { title: form.get('title'), body: form.get('body') });
    setFlash(c, 'success', 'Pull request updated.');
    return c.redirect(pullUrl(access.repo, n), 303);
  });

  action('state', async (c, access, n) => {
    const app = c.get('app');
    const user = c.get('identity')!.user;
    const form = await readForm(c);
    const state = form.get('state');
    if (state !== 'open' && state !== 'closed') throw new ServiceError(422, 'Choose whether to close or reopen the pull request.');
    const body = form.get('body');
    if (body.trim()) await createConversationComment(app, access, user, n, body);
    await updatePullRequest(app, access, user, n, { state });
    setFlash(c, 'success', state === 'closed' ? 'Pull request closed.' : 'Pull request reopened.');
    return c.redirect(pullUrl(access.repo, n), 303);
  });

  action('restore-branch', async (c, access, n) => {
    const pr = await restorePullRequestBranch(c.get('app'), access, c.get('identity')!.user, n);
    setFlash(c, 'success', `Branch ${pr.compare_branch} restored.`);
    return c.redirect(pullUrl(access.repo, n), 303);
  });

  action('draft', async (c, access, n) => {
    const form = await readForm(c);
    const draft = form.get('draft') === '1';
    await updatePullRequest(c.get('app'), access, c.get('identity')!.user, n, { draft });
    setFlash(c, 'success', draft ? 'Converted to draft.' : 'Marked as ready for review.');
    return c.redirect(pullUrl(access.repo, n), 303);
  });

  action('comment', async (c, access, n) => {
    const form = await readForm(c);
    const comment = await createConversationComment(c.get('app'), access, c.get('identity')!.user, n, form.get('body'));
    return c.redirect(`${pullUrl(access.repo, n)}#comment-${comment.id}`, 303);
  });

  action('review', async (c, access, n) => {
    const form = await readForm(c);
    const event = form.get('event') as ReviewEvent;
    if (!['APPROVE', 'REQUEST_CHANGES', 'COMMENT'].includes(event)) throw new ServiceError(422, 'Choose comment, approve or request changes.');
    const commitSha = form.get('commit_id');
    const review = await createReview(c.get('app'), access, c.get('identity')!.user, n, { event, body: form.get('body'), commitSha: /^[0-9a-f]{40}$/.test(commitSha) ? commitSha : undefined });
    setFlash(c, 'success', event === 'APPROVE' ? 'You approved these changes.' : event === 'REQUEST_CHANGES' ? 'You requested changes.' : 'Review submitted.');
    return c.redirect(`${pullUrl(access.repo, n)}#review-${review.id}`, 303);
  });

  action('merge', async (c, access, n) => {
    const app = c.get('app');
    const form = await readForm(c);
    const method = form.get('merge_method');
    if (method !== 'merge' && method !== 'squash' && method !== 'rebase') throw new ServiceError(422, 'Choose merge, squash or rebase.');
    const sha = form.get('sha');
    const writer = await repoAccess(c, 'write');
    if (!isConfirmed(form)) {
      const pr = await loadPullRequest(app, writer, n);
      const how = { merge: 'with a merge commit', squash: 'squashed into one commit', rebase: 'rebased onto it' }[method];
      const details = [`Merge method: ${how}.`];
      if (form.get('commit_title').trim()) details.push(`Commit title: ${form.get('commit_title').trim()}`);
      if (form.get('delete_branch') === '1') details.push(`The branch ${pr.compare_branch} is deleted afterwards.`);
      return askToConfirm(c, {
        title: `Merge pull request #${n}?`,
        message: `“${pr.title}” goes into ${pr.base_branch} ${how}. A merge cannot be undone from here.`,
        details,
        action: `${pullUrl(access.repo, n)}/merge`,
        fields: (['sha', 'merge_method', 'commit_title', 'commit_message', 'delete_branch'] as const).map((k) => [k, form.get(k)] as [string, string]).filter(([, v]) => v !== ''),
        confirmLabel: 'Confirm merge',
        cancelHref: pullUrl(access.repo, n),
      });
    }
    let result;
    try {
      result = await mergePullRequest(app, writer, c.get('identity')!.user, n, {
        method,
        commitTitle: form.get('commit_title').trim() || undefined,
        commitMessage: form.get('commit_message').trim() || undefined,
        expectedHeadSha: /^[0-9a-f]{40}$/.test(sha) ? sha : undefined,
        deleteBranch: form.get('delete_branch') === '1',
      });
    } catch (err) {
      // Refused by the base branch's protection (reviews, checks): say what is missing on the pull request.
      if (err instanceof ServiceError && err.status === 405 && err.message.startsWith('Protected branch')) {
        setFlash(c, 'error', err.message);
        return c.redirect(pullUrl(access.repo, n), 303);
      }
      throw err;
    }
    setFlash(c, 'success', `Pull request #${n} merged (${method}) as ${result.sha.slice(0, 7)}${form.get('delete_branch') === '1' ? `; branch ${result.pr.compare_branch} deleted` : ''}.`);
    return c.redirect(pullUrl(access.repo, n), 303);
  });

  // Line comments and replies: a refused comment re-renders the files tab with the form open and the text kept.
  ui.post('/:owner/:repo/pull/:number/comments', async (c) => {
    const identity = requireUser(c);
    if (identity instanceof Response) return identity;
    const app = c.get('app');
    const access = await repoAccess(c);
    const n = prNumber(c);
    const form = await readForm(c);
    const back = form.get('back') === 'conversation' ? 'conversation' : 'files';
    const body = form.get('body');
    const replyTo = Number(form.get('in_reply_to'));
    const path = form.get('path');
    const line = Number(form.get('line'));
    const commitId = form.get('commit_id');
    try {
      // pullComments hands the path to `git diff -- <path>`, which fails (500) on paths outside the repository.
      if (!(replyTo > 0) && !isSafeRepoPath(path)) throw new ServiceError(422, `path "${path.slice(0, 200)}" is not part of this pull request's diff`, 'path');
      const comment = Number.isInteger(replyTo) && replyTo > 0
        ? await createLineComment(app, access, identity.user, n, { body, path: '', line: 0, inReplyTo: replyTo })
        : await createLineComment(app, access, identity.user, n, { body, path, line: Number.isInteger(line) ? line : 0, side: form.get('side') === 'LEFT' ? 'LEFT' : 'RIGHT', commitSha: commitId || undefined });
      return c.redirect(`${back === 'files' ? pullUrl(access.repo, n, 'files') : pullUrl(access.repo, n)}#comment-${comment.id}`, 303);
    } catch (err) {
      if (!isUserError(err)) throw err;
      if (back === 'files' && !(replyTo > 0) && path && Number.isInteger(line) && line > 0) {
        const pr = await getPullRequest(app, access, n);
        return renderFiles(c, access, pr, { path, line, body, error: { message: err.message, field: err.field } }, 422);
      }
      setFlash(c, 'error', sentence(err.message));
      return c.redirect(back === 'files' ? pullUrl(access.repo, n, 'files') : pullUrl(access.repo, n), 303);
    }
  });
}

