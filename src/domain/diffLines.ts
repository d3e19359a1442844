/** Pure helpers over unified-diff text. */

export interface DiffLine {
  kind: 'context' | 'add' | 'del' | 'hunk';
  text: string;
  oldLine: number | null;
  newLine: number | null;
}

/** Parses one file's unified patch (starting at its first "@@") into numbered lines. */
export function parsePatchLines(patch: string): DiffLine[] {
  const out: DiffLine[] = [];
  let oldLine = 0;
  let newLine = 0;
  for (const raw of patch.split('\n')) {
    if (raw.startsWith('@@')) {
      const m = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(raw);
      if (m) {
        oldLine = Number(m[1]);
        newLine = Number(m[2]);
      }
      out.push({ kind: 'hunk', text: raw, oldLine: null, newLine: null });
    } else if (raw.startsWith('+')) {
      out.push({ kind: 'add', text: raw.slice(1), oldLine: null, newLine: newLine++ });
    } else if (raw.startsWith('-')) {
      out.push({ kind: 'del', text: raw.slice(1), oldLine: oldLine++, newLine: null });
    } else if (raw.startsWith(' ')) {
      out.push({ kind: 'context', text: raw.slice(1), oldLine: oldLine++, newLine: newLine++ });
    }
    // "\ No newline at end of file" and the trailing empty string carry no line.
  }
  return out;
}

/** GitHub's diff_hunk: the hunk header and the lines of the hunk up to the commented line. */
export function hunkUpToLine(patch: string, line: number, side: 'LEFT' | 'RIGHT'): string | null {
  const rows = patch.split('\n');
  let header = -1;
  let oldLine = 0;
  let newLine = 0;
  for (let i = 0; i < rows.length; i++) {
    const raw = rows[i]!;
    if (raw.startsWith('@@')) {
      const m = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(raw);
      header = i;
      oldLine = Number(m?.[1] ?? 0);
      newLine = Number(m?.[2] ?? 0);
      continue;
    }
    let hit = false;
    if (raw.startsWith('+')) hit = side === 'RIGHT' && newLine++ === line;
    else if (raw.startsWith('-')) hit = side === 'LEFT' && oldLine++ === line;
    else if (raw.startsWith(' ')) {
      hit = (side === 'RIGHT' ? newLine : oldLine) === line;
      oldLine++;
      newLine++;
    }
    if (hit && header >= 0) return rows.slice(header, i + 1).join('\n');
  }
  return null;
}
