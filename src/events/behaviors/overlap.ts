import type { Behavior } from '../registry.ts';
import { createConversationComment } from '../../services/pullComments.ts';
import { getRunById } from '../../services/runs.ts';
import { reviewBot } from '../../services/reviews.ts';
import { runGit } from '../../git/exec.ts';
import { systemAccess } from './context.ts';

type Ranges = Map<string, [number, number][]>;

/** Pre-image line ranges each file's hunks touch (`git diff --unified=0`): where two runs' edits can collide. */
async function touchedRanges(gitDir: string, from: string, to: string): Promise<Ranges> {
  const r = await runGit(['diff', '--unified=0', '--no-color', '--no-renames', '--end-of-options', from, to], { gitDir });
  const ranges: Ranges = new Map();
  let file: string | null = null;
  for (const line of r.stdout.toString('utf8').split('\n')) {
    if (line.startsWith('--- ')) file = line === '--- /dev/null' ? null : line.slice(6);
    else if (line.startsWith('+++ ') && file === null) file = line.slice(6);
    else if (line.startsWith('@@') && file) {
      const m = /^@@ -(\d+)(?:,(\d+))?/.exec(line);
      if (!m) continue;
      const start = Number(m[1]);
      const count = m[2] === undefined ? 1 : Number(m[2]);
      const list = ranges.get(file) ?? [];
      list.push([start, start + Math.max(count, 1) - 1]);
      ranges.set(file, list);
    }
  }
  return ranges;
}

function overlaps(a: Ranges, b: Ranges): { path: string; start: number; end: number }[] {
  const out: { path: string; start: number; end: number }[] = [];
  for (const [path, ra] of a) {
    for (const [s1, e1] of ra) {
      for (const [s2, e2] of b.get(path) ?? []) {
        if (s1 <= e2 && s2 <= e1) out.push({ path, start: Math.max(s1, s2), end: Math.min(e1, e2) });
      }
    }
  }
  return out;
}

/**
 * Contradiction flag (first form): when two open pull requests' agent runs edit overlapping line ranges
 * of the same file, both pull requests get a comment linking each other (once per pair).
 */
export const overlappingAiEdits: Behavior = {
  key: 'overlapping-ai-edits',
  description: "Comment on both pull requests when two open pull requests' agent runs edit overlapping lines of the same file",
  on: ['run.succeeded'],
  optional: true,
  when: (event, ctx) => !!ctx.repo && event.payload.changed === true,
  async run(event, { app, repo }) {
    const run = await getRunById(app.db, Number(event.payload.run_id));
    if (!run?.commit_sha || !run.pull_request_id) return { outcome: 'the run has no pull request' };
    const access = systemAccess(app, repo!);
    const mine = await touchedRanges(access.gitDir, run.source_commit, run.commit_sha);
    const others = await app.db
      .selectFrom('prompt_pull_request_jobs')
      .innerJoin('pull_requests', 'pull_requests.id', 'prompt_pull_request_jobs.pull_request_id')
      .selectAll('prompt_pull_request_jobs')
      .select(['pull_requests.number as pr_number'])
      .where('prompt_pull_request_jobs.repository_id', '=', repo!.id)
      .where('prompt_pull_request_jobs.status', '=', 'succeeded')
      .where('prompt_pull_request_jobs.id', '!=', run.id)
      .where('pull_requests.state', '=', 'open')
      .where('prompt_pull_request_jobs.pull_request_id', '!=', run.pull_request_id)
      .execute();
    const myPr = await app.db.selectFrom('pull_requests').select('number').where('id', '=', run.pull_request_id).executeTakeFirstOrThrow();
    const bot = await reviewBot(app);
    const flagged: number[] = [];
    for (const other of others) {
      if (!other.commit_sha) continue;
      const hits = overlaps(mine, await touchedRanges(access.gitDir, other.source_commit, other.commit_sha));
      if (hits.length === 0) continue;
      const pair = [Math.min(myPr.number, other.pr_number), Math.max(myPr.number, other.pr_number)].join('-');
      const marker = `<!-- gitoku:overlap:${pair} -->`;
      const seen = await app.db.selectFrom('pull_request_comments').select('id').where('pull_request_id', 'in', [run.pull_request_id, other.pull_request_id!]).where('body', 'like', `%${marker}%`).executeTakeFirst();
      if (seen) continue;
      const where = hits.slice(0, 10).map((h) => `\`${h.path}\` lines ${h.start}–${h.end}`).join(', ');
      await createConversationComment(app, access, bot, myPr.number, `⚠️ **Overlapping AI edits**: agent run #${other.number} in #${other.pr_number} also changes ${where}. Review them together before merging either.\n${marker}`);
      await createConversationComment(app, access, bot, other.pr_number, `⚠️ **Overlapping AI edits**: agent run #${run.number} in #${myPr.number} also changes ${where}. Review them together before merging either.\n${marker}`);
      flagged.push(other.pr_number);
    }
    return { outcome: flagged.length ? `flagged overlaps with ${flagged.map((n) => `#${n}`).join(', ')}` : 'no overlapping edits', links: flagged.map((n) => ({ kind: 'pull_request' as const, id: n, label: `#${n}` })) };
  },
};
