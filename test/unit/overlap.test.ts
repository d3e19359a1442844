import { describe, expect, it } from 'vitest';
import { describeOverlap, overlaps, parseTouchedRanges } from '../../src/events/behaviors/overlap.ts';

const NEW_FILE = ['diff --git a/NOTES.md b/NOTES.md', 'new file mode 100644', '--- /dev/null', '+++ b/NOTES.md', '@@ -0,0 +1,2 @@', '+a', '+b'].join('\n');
const EDIT = ['diff --git a/src/a.txt b/src/a.txt', '--- a/src/a.txt', '+++ b/src/a.txt', '@@ -2 +2 @@', '-two', '+TWO', '@@ -0,0 +1 @@', '+top'].join('\n');

describe('overlapping AI edits: where (issue 16, point 20)', () => {
  it('describes a file both sides add as a new file, not "lines 0–0"', () => {
    const hits = overlaps(parseTouchedRanges(NEW_FILE), parseTouchedRanges(NEW_FILE));
    expect(hits.map(describeOverlap)).toEqual(['`NOTES.md` (a new file)']);
  });

  it('names a single line as "line N", and an insertion at the top as line 1', () => {
    const ranges = parseTouchedRanges(EDIT);
    expect(ranges.get('src/a.txt')).toEqual([
      { start: 2, end: 2, created: false },
      { start: 1, end: 1, created: false },
    ]);
    expect(overlaps(ranges, ranges).map(describeOverlap)).toEqual(['`src/a.txt` line 2', '`src/a.txt` line 1']);
    expect(describeOverlap({ path: 'x', start: 3, end: 9, created: false })).toBe('`x` lines 3–9');
  });
});
