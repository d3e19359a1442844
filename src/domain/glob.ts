/** Glob patterns for workflow `branches` and `paths`: `*` (within a segment), `**` (any depth), `?`, `{a,b}`, `[abc]`. */
export class GlobError extends Error {}

export function globToRegExp(glob: string): RegExp {
  if (glob.length === 0 || glob.length > 1024) throw new GlobError(`invalid glob "${glob}": empty or too long`);
  let re = '';
  let braceDepth = 0;
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        const slashAfter = glob[i + 2] === '/';
        re += slashAfter ? '(?:.*/)?' : '.*';
        i += slashAfter ? 2 : 1;
      } else re += '[^/]*';
    } else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) throw new GlobError(`invalid glob "${glob}": unclosed "["`);
      const body = glob.slice(i + 1, end);
      if (!body) throw new GlobError(`invalid glob "${glob}": empty "[]"`);
      re += `[${body.replace(/^!/, '^').replace(/[\\\]]/g, '\\$&')}]`;
      i = end;
    } else if (ch === '{') {
      braceDepth++;
      re += '(?:';
    } else if (ch === '}') {
      if (braceDepth === 0) throw new GlobError(`invalid glob "${glob}": unmatched "}"`);
      braceDepth--;
      re += ')';
    } else if (ch === ',' && braceDepth > 0) re += '|';
    else re += ch.replace(/[.+^$()|\\]/g, '\\$&');
  }
  if (braceDepth !== 0) throw new GlobError(`invalid glob "${glob}": unclosed "{"`);
  return new RegExp(`^${re}$`);
}

export function matchesAny(globs: readonly string[], value: string): boolean {
  return globs.some((g) => globToRegExp(g).test(value));
}
