import type { Behavior } from '../registry.ts';
import { createConversationComment } from '../../services/pullComments.ts';
import { getRunById } from '../../services/runs.ts';
import { reviewBot } from '../../services/reviews.ts';
import { runGit } from '../../git/exec.ts';
import { systemAccess } from './context.ts';

/** A hunk's pre-image lines [start, end]; `created`: the file is new (it has no pre-image lines at all). */
type Range = { start: number; end: number; created: boolean };
type Ranges = Map<string, Range[]>;
export interface Overlap {
  path: string;
  start: number;
  end: number;
  /** Both sides add the file: there are no lines to name. */
  created: boolean;
}

/**
 * Pre-image line ranges each file's hunks touch (`git diff --unified=0`): where two runs' edits can
 * collide. A pure insertion (`-N,0`) touches the line it follows (line 1 at the top); a new file has none.
 */
export function parseTouchedRanges(diff: string): Ranges {
  const ranges: Ranges = new Map();
  let file: string | null = null;
  let created = false;
  for (const line of diff.split('\n')) {
    if (line.startsWith('--- ')) {
      created = line === '--- /dev/null';
      file = created ? null : line.slice(6);
    } else if (line.startsWith('+++ ') && file === null) file = line.slice(6);
    else if (line.startsWith('@@') && file) {
      const m = /^@@ -(\d+)(?:,(\d+))?/.exec(line);
      if (!m) continue;
      const start = Math.max(1, Number(m[1]));
      const count = m[2] === undefined ? 1 : Number(m[2]);
      const list = ranges.get(file) ?? [];
      list.push({ start, end: start + Math.max(count, 1) - 1, created });
      ranges.set(file, list);
    }
  }
  return ranges;
}

async function touchedRanges(gitDir: string, from: string, to: string): Promise<Ranges> {
  const r = await runGit(['diff', '--unified=0', '--no-color', '--no-renames', '--end-of-options', from, to], { gitDir });
  return parseTouchedRanges(r.stdout.toString('utf8'));
}

export function overlaps(a: Ranges, b: Ranges): Overlap[] {
  const out: Overlap[] = [];
  for (const [path, ra] of a) {
    for (const r1 of ra) {
      for (const r2 of b.get(path) ?? []) {
        if (r1.created && r2.created) out.push({ path, start: 0, end: 0, created: true });
        else if (r1.created || r2.created) out.push({ path, ...(r1.created ? r2 : r1), created: false }); // new on one side: the other side's lines
        else if (r1.start <= r2.end && r2.start <= r1.end) out.push({ path, start: Math.max(r1.start, r2.start), end: Math.min(r1.end, r2.end), created: false });
      }
    }
  }
  return out;
}

/** "`NOTES.md` (a new file)", "`src/a.ts` line 4", "`src/a.ts` lines 4–9". */
export function describeOverlap(h: Overlap): string {
  if (h.created) return `\`${h.path}\` (a new file)`;
  return h.start === h.end ? `\`${h.path}\` line ${h.start}` : `\`${h.path}\` lines ${h.start}–${h.end}`;
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
      const where = hits.slice(0, 10).map(describeOverlap).join(', ');
      await createConversationComment(app, access, bot, myPr.number, `⚠️ **Overlapping AI edits**: agent run #${other.number} in #${other.pr_number} also changes ${where}. Review them together before merging either.\n${marker}`);
      await createConversationComment(app, access, bot, other.pr_number, `⚠️ **Overlapping AI edits**: agent run #${run.number} in #${myPr.number} also changes ${where}. Review them together before merging either.\n${marker}`);
      flagged.push(other.pr_number);
    }
    return { outcome: flagged.length ? `flagged overlaps with ${flagged.map((n) => `#${n}`).join(', ')}` : 'no overlapping edits', links: flagged.map((n) => ({ kind: 'pull_request' as const, id: n, label: `#${n}` })) };
  },
};
