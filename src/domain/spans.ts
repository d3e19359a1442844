/** Pure helpers over line spans: inclusive, 1-based [start, end] ranges of lines in one file version. */

export type Span = [number, number];
/** path → sorted, non-overlapping spans. */
export type FileSpans = Record<string, Span[]>;

/** Sorts and merges overlapping or adjacent spans. */
export function mergeSpans(spans: readonly Span[]): Span[] {
  const sorted = spans.filter((s) => s[0] <= s[1]).map((s) => [s[0], s[1]] as Span).sort((a, b) => a[0] - b[0]);
  const out: Span[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s[0] <= last[1] + 1) last[1] = Math.max(last[1], s[1]);
    else out.push(s);
  }
  return out;
}

/** Whether sorted, merged spans contain a line (binary search). */
export function spansContain(spans: readonly Span[], line: number): boolean {
  let lo = 0;
  let hi = spans.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [start, end] = spans[mid]!;
    if (line < start) hi = mid - 1;
    else if (line > end) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Lines in both span lists. */
export function intersectSpans(a: readonly Span[], b: readonly Span[]): Span[] {
  const out: Span[] = [];
  const x = mergeSpans(a);
  const y = mergeSpans(b);
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    const start = Math.max(x[i]![0], y[j]![0]);
    const end = Math.min(x[i]![1], y[j]![1]);
    if (start <= end) out.push([start, end]);
    if (x[i]![1] < y[j]![1]) i++;
    else j++;
  }
  return out;
}

/** Number of lines covered. */
export function spanLineCount(spans: readonly Span[]): number {
  return spans.reduce((n, [s, e]) => n + (e - s + 1), 0);
}

/** Largest line number accepted from outside sources (a guard against absurd ranges). */
export const MAX_LINE = 10_000_000;

/**
 * Parses "1-4,9-10,12" (the Git AI Standard's line range specification) into merged spans; null when
 * any part is malformed.
 */
export function parseLineRanges(text: string): Span[] | null {
  const spans: Span[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return null;
    const start = Number(m[1]);
    const end = m[2] === undefined ? start : Number(m[2]);
    if (start < 1 || end < start || end > MAX_LINE) return null;
    spans.push([start, end]);
  }
  return spans.length ? mergeSpans(spans) : null;
}

/** "1-4,9" for display. */
export function formatLineRanges(spans: readonly Span[]): string {
  return spans.map(([s, e]) => (s === e ? String(s) : `${s}-${e}`)).join(',');
}

/** Validates and normalizes a path → spans object read from JSON (stored rows, notes); bad entries are dropped. */
export function normalizeFileSpans(value: unknown, isSafePath: (path: string) => boolean): FileSpans {
  const out: FileSpans = {};
  if (!value || typeof value !== 'object' || Array.isArray(value)) return out;
  for (const [path, raw] of Object.entries(value as Record<string, unknown>)) {
    if (!path || !isSafePath(path) || !Array.isArray(raw)) continue;
    const spans: Span[] = [];
    for (const s of raw) {
      if (!Array.isArray(s) || s.length !== 2) continue;
      const [a, b] = s as unknown[];
      if (!Number.isInteger(a) || !Number.isInteger(b)) continue;
      const start = a as number;
      const end = b as number;
      if (start >= 1 && end >= start && end <= MAX_LINE) spans.push([start, end]);
    }
    const merged = mergeSpans(spans);
    if (merged.length) out[path] = merged;
  }
  return out;
}
