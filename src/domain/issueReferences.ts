/**
 * References in markdown and commit messages, as GitHub reads them (pure, no I/O):
 *   `#N`                 an issue or pull request of the same repository
 *   `OWNER/REPO#N`       one of another repository
 *   `@user`              a user
 *   `fixes #N`, `Closes OWNER/REPO#N` … a closing keyword (close, closes, closed, fix, fixes, fixed,
 *                        resolve, resolves, resolved; any case, an optional colon) before a reference.
 * Nothing inside code (fenced or indented blocks, `inline code`) counts. Offsets are into the text
 * given, so a renderer can link exactly the characters that were read.
 */

export interface IssueReference {
  /** Null for `#N` (this repository). */
  owner: string | null;
  repo: string | null;
  number: number;
  /** Preceded by a closing keyword. */
  closes: boolean;
  /** Where `[OWNER/REPO]#N` starts and ends in the text (the keyword is not included). */
  start: number;
  end: number;
}

export interface UserMention {
  login: string;
  /** Where `@login` starts and ends in the text. */
  start: number;
  end: number;
}

/** The largest number a reference can name (the database's integer). */
export const MAX_REFERENCE_NUMBER = 2_147_483_647;

const OWNER = '[A-Za-z0-9](?:[A-Za-z0-9]|[-_.](?=[A-Za-z0-9])){0,38}';
const REPO = '[A-Za-z0-9._-]{1,100}';
// What may precede a reference: start, or a character that cannot be part of a word, a path or a URL.
const ISSUE_REF = new RegExp(`(^|[^\\w/.#&@-])(?:(${OWNER})/(${REPO}))?#([0-9]{1,10})(?![\\w#])`, 'g');
const MENTION = /(^|[^\w@/.`-])@([A-Za-z0-9](?:[A-Za-z0-9]|[-_.](?=[A-Za-z0-9])){0,38})(?![\w@/-])/g;
const CLOSING = /(?:^|[^\w-])(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)[ \t]*:?[ \t]+$/i;

/**
 * The text with code blanked out (every character of a fenced block, an indented code block or an
 * inline code span replaced by a space; newlines kept), so offsets in the result are offsets in the input.
 */
export function blankCode(text: string): string {
  const lines = text.split('\n');
  const out: string[] = [];
  let fence: string | null = null;
  let prevBlank = true;
  for (const line of lines) {
    const f = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (fence) {
      if (f && f[1]![0] === fence[0] && f[1]!.length >= fence.length && line.trim() === f[1]) fence = null;
      out.push(' '.repeat(line.length));
      continue;
    }
    if (f) {
      fence = f[1]!;
      out.push(' '.repeat(line.length));
      continue;
    }
    // An indented code block starts after a blank line (it cannot interrupt a paragraph).
    if (/^( {4}|\t)/.test(line) && prevBlank && line.trim() !== '') {
      out.push(' '.repeat(line.length));
      continue;
    }
    prevBlank = line.trim() === '';
    out.push(line.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (m) => ' '.repeat(m.length)));
  }
  return out.join('\n');
}

/** Every issue reference of a text (markdown or a commit message), in order, code excluded. */
export function parseIssueReferences(text: string): IssueReference[] {
  const scan = blankCode(text);
  const refs: IssueReference[] = [];
  for (const m of scan.matchAll(ISSUE_REF)) {
    const number = Number(m[4]);
    if (!Number.isSafeInteger(number) || number < 1 || number > MAX_REFERENCE_NUMBER) continue;
    const start = m.index! + m[1]!.length;
    const before = scan.slice(Math.max(0, start - 40), start);
    refs.push({ owner: m[2] ?? null, repo: m[3] ?? null, number, closes: CLOSING.test(before), start, end: m.index! + m[0].length });
  }
  return refs;
}

/** Every `@login` of a text, in order, code and e-mail addresses excluded. */
export function parseUserMentions(text: string): UserMention[] {
  const scan = blankCode(text);
  const out: UserMention[] = [];
  for (const m of scan.matchAll(MENTION)) {
    const start = m.index! + m[1]!.length;
    out.push({ login: m[2]!, start, end: start + 1 + m[2]!.length });
  }
  return out;
}

/** A reference's key, unique per target: `#N` or `owner/repo#N` (lower-cased). */
export function referenceKey(ref: Pick<IssueReference, 'owner' | 'repo' | 'number'>): string {
  return ref.owner && ref.repo ? `${ref.owner.toLowerCase()}/${ref.repo.toLowerCase()}#${ref.number}` : `#${ref.number}`;
}

/**
 * The distinct targets of a text's references, each once, `closes` when any of its references has a
 * closing keyword. `self` (owner/repo of the text's repository) folds `OWNER/REPO#N` of the same
 * repository into `#N`.
 */
export function distinctReferences(text: string, self?: { owner: string; repo: string }): IssueReference[] {
  const byKey = new Map<string, IssueReference>();
  for (const r of parseIssueReferences(text)) {
    const local = r.owner && self && r.owner.toLowerCase() === self.owner.toLowerCase() && r.repo!.toLowerCase() === self.repo.toLowerCase();
    const ref = local ? { ...r, owner: null, repo: null } : r;
    const key = referenceKey(ref);
    const seen = byKey.get(key);
    if (seen) seen.closes ||= ref.closes;
    else byKey.set(key, { ...ref });
  }
  return [...byKey.values()];
}

/** `/run <extra instructions>` at the start of a comment (the instructions may be empty). Null otherwise. */
export function parseRunCommand(body: string): { instructions: string } | null {
  const m = /^\s*\/run(?:[ \t]+|[ \t]*(?:\r?\n|$))([\s\S]*)$/.exec(body);
  return m ? { instructions: m[1]!.trim() } : null;
}

/** An agent assignee: `agent:<key>` → key; null for anything else. */
export function agentKeyOfAssignee(assignee: string): string | null {
  const m = /^agent:([A-Za-z0-9][A-Za-z0-9_-]{0,63})$/.exec(assignee);
  return m ? m[1]! : null;
}
