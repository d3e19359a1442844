/**
 * `@<agent-key> <request>` in a comment. Mentions inside code (fenced blocks, `inline code`) and in
 * quoted lines (`> …`, e.g. a reply quoting an earlier summons) do not count. Each known key is taken
 * once, with the text after it up to the next known mention as its request.
 */
export interface AgentMention {
  key: string;
  request: string;
}

const MENTION = /(^|[^\w@/.`-])@([A-Za-z0-9_-]{1,64})(?![\w-])/g;

/** The comment with code and quoted lines blanked (same length per line is not needed, only the words). */
export function mentionableText(body: string): string {
  const lines = body.replace(/\r\n/g, '\n').split('\n');
  const out: string[] = [];
  let fence: string | null = null;
  for (const line of lines) {
    const f = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (fence) {
      if (f && f[1]![0] === fence[0] && f[1]!.length >= fence.length) fence = null;
      out.push('');
      continue;
    }
    if (f) {
      fence = f[1]!;
      out.push('');
      continue;
    }
    if (/^\s{0,3}>/.test(line)) {
      out.push('');
      continue;
    }
    out.push(line.replace(/(`+)[\s\S]*?\1/g, ' '));
  }
  return out.join('\n');
}

export function parseAgentMentions(body: string, isAgent: (key: string) => boolean): AgentMention[] {
  const text = mentionableText(body);
  const hits: { key: string; start: number; end: number }[] = [];
  for (const m of text.matchAll(MENTION)) {
    const key = m[2]!;
    if (!isAgent(key)) continue;
    const start = m.index! + m[1]!.length;
    hits.push({ key, start, end: start + 1 + key.length });
  }
  const seen = new Set<string>();
  const mentions: AgentMention[] = [];
  hits.forEach((h, i) => {
    if (seen.has(h.key)) return;
    seen.add(h.key);
    const next = hits[i + 1]?.start ?? text.length;
    mentions.push({ key: h.key, request: text.slice(h.end, next).trim() });
  });
  return mentions;
}
