import { z } from 'zod';
import type { ApiRegistry } from './registry.ts';
import { errorSchema } from './shapes.ts';
import { repoFromPath } from './repos.ts';
import { checkBlameSize, checkPathOr404, fileAtRefPath, resolveRefOr404 } from '../../../services/code.ts';
import { invalid, notFound } from '../../../services/errors.ts';
import { getPullRequest } from '../../../services/pulls.ts';
import { type CaptureView, loadCommitAiContexts, loadFileAiHistory, loadLineAiContextAtRevision, loadPullRequestAiContexts, loadPullRequestAiLines } from '../../../services/provenance.ts';

/** The JSON shape of a capture (commit_ai_contexts row with its run and pull request). */
export const captureSchema = z.object({
  id: z.number(),
  commit_sha: z.string(),
  capture_index: z.number(),
  source_family: z.string(),
  exact_model_name: z.string(),
  prompt: z.string(),
  thinking: z.string(),
  session_id: z.string().nullable(),
  capture_confidence: z.number(),
  evidence_kind: z.string(),
  modified_files: z.array(z.string()),
  modified_line_spans: z.record(z.string(), z.array(z.tuple([z.number(), z.number()]))),
  details: z.record(z.string(), z.unknown()),
  run: z.object({ id: z.number(), number: z.number(), url: z.string(), html_url: z.string() }).nullable(),
  pull_request: z.object({ number: z.number(), url: z.string(), html_url: z.string() }).nullable(),
  created_at: z.string(),
});

const blameCommitSchema = z.object({ sha: z.string(), summary: z.string(), author_name: z.string(), author_email: z.string(), authored_at: z.string(), path: z.string() });
const rangeSchema = z.object({ start_line: z.number(), end_line: z.number(), commit: blameCommitSchema, captures: z.array(captureSchema) });
const aiBlameSchema = z.object({ ref: z.string(), sha: z.string(), path: z.string(), ranges: z.array(rangeSchema) });

const iso = (s: string) => s.replace(/\.\d{3}Z$/, 'Z');

export function captureJson(c: CaptureView) {
  return { ...c, created_at: iso(c.created_at) };
}

function rangeJson(r: { start_line: number; end_line: number; commit: z.infer<typeof blameCommitSchema>; captures: CaptureView[] }) {
  return { start_line: r.start_line, end_line: r.end_line, commit: r.commit, captures: r.captures.map(captureJson) };
}

const prQuery = z.object({ path: z.string().optional(), line: z.coerce.number().int().min(1).optional() });
const historyQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) });

/** Per-line AI provenance (issue 7): AI blame, a file's AI history, a commit's and a pull request's captures. */
export function registerProvenanceRoutes(api: ApiRegistry): void {
  api.add(
    {
      method: 'get',
      path: '/repos/{owner}/{repo}/ai-blame/{refpath+}',
      summary: 'AI blame of a file at a ref: ranges of lines with their commit and the AI captures that wrote them (gitoku)',
      tag: 'provenance',
      access: 'public',
      responses: { 200: { description: 'Ranges covering every line; captures empty where no AI wrote the lines', schema: aiBlameSchema }, 404: { description: 'No such ref or file', schema: errorSchema } },
    },
    async (c) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const split = await fileAtRefPath(access, c.req.param('refpath')!);
      const path = split.path;
      await checkBlameSize(access, split.sha, path);
      const blame = await loadLineAiContextAtRevision(app, access, split.sha, path);
      if (!blame) throw notFound('Not Found');
      return c.json({ ref: split.ref, sha: blame.sha, path, ranges: blame.ranges.map(rangeJson) });
    },
  );

  api.add(
    {
      method: 'get',
      path: '/repos/{owner}/{repo}/ai-history/{refpath+}',
      summary: "A file's AI history: the commits that touched it (renames followed, newest first) with the captures that wrote it (gitoku)",
      tag: 'provenance',
      access: 'public',
      query: historyQuery,
      responses: { 200: { description: '{ref, sha, path, commits: [{commit, path, captures}]}' }, 404: { description: 'No such ref or file', schema: errorSchema } },
    },
    async (c, { query }) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const split = await fileAtRefPath(access, c.req.param('refpath')!);
      const path = split.path;
      const history = await loadFileAiHistory(app, access, split.sha, path, { limit: query.limit });
      if (!history) throw notFound('Not Found');
      return c.json({ ref: split.ref, sha: history.sha, path, commits: history.entries.map((e) => ({ commit: e.commit, path: e.path, captures: e.captures.map(captureJson) })) });
    },
  );

  api.add(
    {
      method: 'get',
      path: '/repos/{owner}/{repo}/commits/{ref+}/ai-contexts',
      summary: "A commit's AI captures, each with the line spans it wrote per file (gitoku)",
      tag: 'provenance',
      access: 'public',
      responses: { 200: { description: '{sha, captures}', schema: z.object({ sha: z.string(), captures: z.array(captureSchema) }) }, 404: { description: 'No such commit', schema: errorSchema } },
    },
    async (c) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const sha = await resolveRefOr404(access, c.req.param('ref')!);
      return c.json({ sha, captures: (await loadCommitAiContexts(app, access.repo, sha)).map(captureJson) });
    },
  );

  api.add(
    {
      method: 'get',
      path: '/repos/{owner}/{repo}/pulls/{number}/ai-contexts',
      summary: "A pull request's AI captures per commit; with path, the AI-written lines it adds to that file (head line numbers); with path and line, that line's captures (gitoku)",
      tag: 'provenance',
      access: 'public',
      query: prQuery,
      responses: { 200: { description: '{head_sha, commits} or {head_sha, path, ranges} or {head_sha, path, line, commit, captures}' }, 404: { description: 'No such pull request or file', schema: errorSchema } },
    },
    async (c, { query }) => {
      const app = c.get('app');
      const access = await repoFromPath(c);
      const pr = await getPullRequest(app, access, Number(c.req.param('number')));
      if (query.path === undefined) {
        if (query.line !== undefined) throw invalid('line needs path', 'line');
        const result = await loadPullRequestAiContexts(app, access, pr);
        return c.json({ number: pr.number, head_sha: result.head_sha, commits: result.commits.map((x) => ({ sha: x.sha, summary: x.summary, captures: x.captures.map(captureJson) })) });
      }
      const path = checkPathOr404(query.path);
      const lines = await loadPullRequestAiLines(app, access, pr, path, { line: query.line });
      if (!lines) throw notFound('Not Found');
      if (query.line !== undefined) {
        const hit = lines.ranges[0];
        return c.json({ number: pr.number, head_sha: lines.head_sha, path, line: query.line, commit: hit?.commit ?? null, captures: (hit?.captures ?? []).map(captureJson) });
      }
      return c.json({ number: pr.number, head_sha: lines.head_sha, path, ranges: lines.ranges.map(rangeJson) });
    },
  );
}
