/**
 * Pure parsers for AI provenance recorded outside gitoku, and gitoku's own portable note format.
 * No I/O: callers hand in commit messages and note texts, and get capture drafts back.
 *
 * Formats (each parser cites its specification):
 * - commit trailers naming AI tools (Co-authored-by / Co-developed-by of known agents, Assisted-by,
 *   Generated-by, Made-with);
 * - the Git AI Standard v3.0.0 "Authorship Log" (git notes under refs/notes/ai, written by git-ai);
 * - Agent Trace 0.1 trace records (git notes under refs/notes/agent-trace);
 * - whogitit AIAttribution (git notes under refs/notes/whogitit);
 * - gitoku-ai/1 (git notes under refs/notes/gitoku-ai, written by gitoku itself).
 */
import { type FileSpans, MAX_LINE, mergeSpans, normalizeFileSpans, parseLineRanges, type Span } from './spans.ts';

/** A capture as a source describes it, before it is attached to a commit row. */
export interface CaptureDraft {
  sourceFamily: string;
  model: string;
  prompt: string;
  thinking: string;
  sessionId: string | null;
  confidence: number;
  evidenceKind: string;
  /** path → post-image spans; null = the commit's whole diff (sources without line data). */
  spans: FileSpans | null;
  details: Record<string, unknown>;
}

export interface ParseResult {
  captures: CaptureDraft[];
  /** Parts skipped as malformed (the rest was kept). */
  warnings: string[];
}

/** A note or record that cannot be read at all. */
export class ProvenanceFormatError extends Error {}

/** Confidence by evidence: gitoku's own runs are certain; outside sources are trusted less. */
export const CONFIDENCE = {
  agent_run: 1,
  gitoku_notes: 0.9,
  git_notes: 0.8,
  agent_trace: 0.8,
  whogitit: 0.8,
  commit_trailer: 0.3,
} as const;

export const MAX_PROMPT_CHARS = 256 * 1024;
export const MAX_THINKING_CHARS = 1024 * 1024;

/** Text safe for both databases (PostgreSQL rejects U+0000), capped. */
export function cleanText(value: unknown, max: number): string {
  if (typeof value !== 'string') return '';
  const text = value.includes('\u0000') ? value.replace(/\u0000/g, '') : value;
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** A repository-relative path as the notes carry it: no absolute paths, "..", NUL or newlines. */
export function isPlausibleRepoPath(path: string): boolean {
  if (!path || path.length > 4096 || /[\0\n\r\\]/.test(path) || path.startsWith('/')) return false;
  return path.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

/** Maps a tool's self-description to a source family: the well-known agents by name, else a slug. */
export function normalizeToolName(raw: string): string {
  const t = raw.trim().toLowerCase();
  const known: [RegExp, string][] = [
    [/claude/, 'claude'],
    [/copilot/, 'copilot'],
    [/codex/, 'codex'],
    [/cursor/, 'cursor'],
    [/aider/, 'aider'],
    [/gemini/, 'gemini'],
    [/windsurf|codeium/, 'windsurf'],
    [/devin/, 'devin'],
    [/opencode/, 'opencode'],
    [/\bamp\b/, 'amp'],
  ];
  for (const [re, family] of known) if (re.test(t)) return family;
  const slug = t.replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64);
  return slug || 'unknown';
}

// ------------------------------------------------------------------------------------------------
// Commit trailers

export interface Trailer {
  key: string;
  value: string;
}

/**
 * The trailers of a commit message: "Key: value" lines of its last paragraph (git-interpret-trailers'
 * trailer block), never the subject. CRLF messages are accepted.
 */
export function parseCommitTrailers(message: string): Trailer[] {
  const paragraphs = message.replace(/\r\n?/g, '\n').trim().split(/\n[ \t]*\n/);
  if (paragraphs.length < 2) return [];
  const out: Trailer[] = [];
  for (const line of paragraphs[paragraphs.length - 1]!.split('\n')) {
    const m = /^([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(\S.*?)[ \t]*$/.exec(line);
    if (m) out.push({ key: m[1]!, value: m[2]! });
  }
  return out;
}

/** Known agents in Co-authored-by / Co-developed-by trailers, recognised by name or e-mail. */
const CO_AUTHOR_AGENTS: { family: string; bare: RegExp; match(name: string, email: string): boolean }[] = [
  // Claude Code: "Co-Authored-By: Claude <noreply@anthropic.com>" (newer: "Claude Opus 4.5 <noreply@anthropic.com>").
  { family: 'claude', bare: /^claude( code)?$/i, match: (n, e) => /@anthropic\.com$/i.test(e) || /^claude\b/i.test(n) },
  // GitHub Copilot coding agent: "Copilot <175728472+Copilot@users.noreply.github.com>", "copilot-swe-agent[bot] <…>".
  { family: 'copilot', bare: /^(github )?copilot$|^copilot-swe-agent\[bot\]$/i, match: (n, e) => /copilot/i.test(n) || /copilot/i.test(e) },
  // OpenAI Codex: "Codex <noreply@openai.com>", "chatgpt-codex-connector[bot]".
  { family: 'codex', bare: /^(openai )?codex$|^chatgpt-codex-connector\[bot\]$/i, match: (n, e) => /\bcodex\b/i.test(n) || /codex/i.test(e) || /^noreply@openai\.com$/i.test(e) },
  // Cursor: "Cursor Agent <cursoragent@cursor.com>", legacy "Cursor <sos@cursor.sh>".
  { family: 'cursor', bare: /^cursor( agent)?$|^cursor-ai$/i, match: (n, e) => /^cursor\b/i.test(n) || /@cursor\.(com|sh)$/i.test(e) },
  // Aider: "aider (gpt-4o) <noreply@aider.chat>" — the model in parentheses.
  { family: 'aider', bare: /^aider$/i, match: (n, e) => /^aider\b/i.test(n) || /@aider\.chat$/i.test(e) },
  { family: 'gemini', bare: /^gemini( cli|-cli| code assist)?$|^gemini-code-assist\[bot\]$/i, match: (n, e) => /gemini/i.test(n) || /gemini/i.test(e) },
  { family: 'devin', bare: /^devin( ai)?$/i, match: (n, e) => /^devin\b/i.test(n) || /devin-ai/i.test(e) },
  { family: 'windsurf', bare: /^windsurf$/i, match: (n, e) => /^windsurf\b/i.test(n) || /@codeium\.com$/i.test(e) },
];

function splitIdentity(value: string): { name: string; email: string } {
  const m = /^(.*?)\s*<([^>]*)>\s*$/.exec(value);
  return m ? { name: m[1]!.trim(), email: m[2]!.trim() } : { name: value.trim(), email: '' };
}

/** "AGENT_NAME:MODEL_VERSION [TOOL1] [TOOL2]" (the Linux kernel's Assisted-by convention) → agent, model. */
function parseAgentModel(value: string): { agent: string; model: string } {
  const { name } = splitIdentity(value);
  const first = name.split(/\s+/)[0] ?? '';
  const colon = first.indexOf(':');
  if (colon > 0) return { agent: first.slice(0, colon), model: first.slice(colon + 1) };
  // "Claude Code (claude-opus-4)" / "Claude claude-opus-4-20250514" style: a parenthesised or second token model.
  const paren = /^(.*?)\s*\(([^)]+)\)\s*$/.exec(name);
  if (paren) return { agent: paren[1]!, model: paren[2]! };
  return { agent: name, model: '' };
}

/**
 * AI coding agents, their makers and model families, as an Assisted-by / Generated-by trailer names
 * them ("Claude:claude-3-opus", "Copilot", "aider (gpt-4o)", "OpenCode:qwen3-coder"). Matched as whole
 * words against the trailer's name part only (never the e-mail: a person working at an AI company is
 * still a person).
 */
const KNOWN_AI_NAMES =
  /(^|[^a-z0-9])(claude|anthropic|codex|openai|chatgpt|gpt|gpt-?\d[\w.-]*|o[134](-mini|-pro|-preview)?|copilot|aider|cursor|gemini|windsurf|codeium|opencode|tabnine|codewhisperer|amazon q|kiro|cline|roo ?code|qwen\d*[\w.-]*|deepseek[\w.-]*|llama[\w.-]*|codellama|mistral|codestral|mixtral|devstral|grok[\w.-]*|starcoder\d*|sonnet|glm-?[\d.]*|swe-agent|openhands|llm)($|[^a-z0-9])/i;
/** Agents whose names are also people's first names: they count only as the whole name ("Devin", "Devin AI", "jules[bot]"). */
const AMBIGUOUS_AI_NAMES = /^(devin|jules|junie|kimi|cody|amp|augment)( ai| agent| code)?(\[bot\])?$/i;

/** Whether a trailer's agent or model text names a known AI agent or model (see KNOWN_AI_NAMES). */
export function namesKnownAi(text: string): boolean {
  const name = splitIdentity(text).name.trim();
  return KNOWN_AI_NAMES.test(name) || AMBIGUOUS_AI_NAMES.test(name);
}

/**
 * Captures for the AI tools a commit message's trailers name. Sources:
 * - `Co-authored-by:` (GitHub's co-author trailer, https://docs.github.com/en/pull-requests/committing-changes-to-your-project/creating-and-editing-commits/creating-a-commit-with-multiple-authors)
 *   and the kernel's `Co-developed-by:` when the co-author is a known agent (by name or e-mail, see CO_AUTHOR_AGENTS);
 * - `Assisted-by: AGENT_NAME:MODEL_VERSION [TOOL…]` (Linux kernel, Documentation/process/coding-assistants.rst),
 *   `Generated-by:` and `AI-assisted-by:` in the same form — only when the agent or the model is a known
 *   AI (KNOWN_AI_NAMES): the same trailers credit people, too;
 * - `Made-with: Cursor` (Cursor's own trailer).
 * These carry no line data: the capture covers the commit's whole diff (spans null), at low confidence.
 */
export function capturesFromTrailers(message: string): ParseResult {
  const captures: CaptureDraft[] = [];
  const warnings: string[] = [];
  const seen = new Set<string>();
  const add = (family: string, model: string, trailer: Trailer) => {
    const id = `${family}\0${model.toLowerCase()}`;
    if (seen.has(id)) return;
    seen.add(id);
    captures.push({
      sourceFamily: family,
      model: cleanText(model, 255),
      prompt: '',
      thinking: '',
      sessionId: null,
      confidence: CONFIDENCE.commit_trailer,
      evidenceKind: 'commit_trailer',
      spans: null,
      details: { trailer: cleanText(`${trailer.key}: ${trailer.value}`, 1000) },
    });
  };
  for (const t of parseCommitTrailers(message)) {
    const key = t.key.toLowerCase();
    if (key === 'co-authored-by' || key === 'co-developed-by') {
      const { name, email } = splitIdentity(t.value);
      const agent = CO_AUTHOR_AGENTS.find((a) => a.match(name, email));
      if (!agent) continue;
      let model = '';
      const paren = /\(([^)]+)\)/.exec(name);
      if (agent.family === 'aider' && paren) model = paren[1]!.trim();
      else if (!agent.bare.test(name)) model = name;
      add(agent.family, model, t);
    } else if (key === 'assisted-by' || key === 'generated-by' || key === 'ai-assisted-by') {
      const { agent, model } = parseAgentModel(t.value);
      if (!agent.trim()) {
        warnings.push(`${t.key} trailer without an agent name: "${t.value.slice(0, 100)}"`);
        continue;
      }
      // "Assisted-by: Jane Doe <jane@example.com>" credits a person (as git's own history does): only a
      // known agent or model makes the trailer AI evidence.
      if (!namesKnownAi(agent) && !namesKnownAi(model)) continue;
      add(normalizeToolName(agent), model, t);
    } else if (key === 'made-with' && /cursor/i.test(t.value)) {
      add('cursor', '', t);
    }
  }
  return { captures, warnings };
}

// ------------------------------------------------------------------------------------------------
// Git AI Standard v3.0.0 — the Authorship Log (https://github.com/git-ai-project/git-ai/blob/main/specs/git_ai_standard_v3.0.0.md)

function asObject(value: unknown): Record<string, unknown> | null {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/**
 * Parses a Git AI Authorship Log (§1.2): an attestation section — file path lines (quoted when they
 * contain whitespace) each followed by two-space-indented "<16-hex session hash> <line ranges>" entries —
 * then a line that is exactly `---`, then a JSON metadata object whose `schema_version` is
 * "authorship/3.0.0" and whose `prompts` map each session hash to a prompt record ({agent_id: {tool, id,
 * model}, human_author, messages: [{type: user|assistant|tool_use, text}], …}). One capture per session
 * hash: prompt = the user messages, thinking = the assistant messages, session = agent_id.id.
 */
export function parseGitAiAuthorshipLog(text: string): ParseResult {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const divider = lines.indexOf('---');
  if (divider < 0) throw new ProvenanceFormatError('git-ai authorship log has no "---" divider');
  let meta: Record<string, unknown> | null;
  try {
    meta = asObject(JSON.parse(lines.slice(divider + 1).join('\n')));
  } catch {
    throw new ProvenanceFormatError('git-ai authorship log metadata is not JSON');
  }
  if (!meta) throw new ProvenanceFormatError('git-ai authorship log metadata is not an object');
  const schema = str(meta.schema_version);
  if (!schema.startsWith('authorship/')) throw new ProvenanceFormatError(`git-ai authorship log has an unknown schema_version "${schema.slice(0, 40)}"`);
  const prompts = asObject(meta.prompts) ?? {};
  const warnings: string[] = [];
  const byHash = new Map<string, FileSpans>();
  let file: string | null = null;
  for (const line of lines.slice(0, divider)) {
    if (line.trim() === '') continue;
    if (!line.startsWith(' ')) {
      const name = line.startsWith('"') && line.endsWith('"') && line.length >= 2 ? line.slice(1, -1) : line;
      file = isPlausibleRepoPath(name) ? name : null;
      if (!file) warnings.push(`git-ai: skipped the file path "${line.slice(0, 100)}"`);
      continue;
    }
    const m = /^ {2}([0-9a-f]{7,64}) (\S+)$/.exec(line);
    const spans = m ? parseLineRanges(m[2]!) : null;
    if (!m || !spans) {
      warnings.push(`git-ai: skipped the attestation "${line.trim().slice(0, 100)}"`);
      continue;
    }
    if (!file) continue;
    const entry = byHash.get(m[1]!) ?? {};
    entry[file] = mergeSpans([...(entry[file] ?? []), ...spans]);
    byHash.set(m[1]!, entry);
  }
  const captures: CaptureDraft[] = [];
  for (const [hash, spans] of byHash) {
    const record = asObject(prompts[hash]);
    if (!record) {
      warnings.push(`git-ai: session ${hash} has no prompt record`);
      continue;
    }
    const agent = asObject(record.agent_id) ?? {};
    const messages = Array.isArray(record.messages) ? record.messages.map(asObject).filter((m): m is Record<string, unknown> => m !== null) : [];
    const said = (type: string) => messages.filter((m) => m.type === type).map((m) => str(m.text)).filter(Boolean).join('\n\n');
    const tool = str(agent.tool);
    captures.push({
      sourceFamily: tool ? normalizeToolName(tool) : 'git-ai',
      model: cleanText(agent.model, 255),
      prompt: cleanText(said('user'), MAX_PROMPT_CHARS),
      thinking: cleanText(said('assistant'), MAX_THINKING_CHARS),
      sessionId: cleanText(agent.id, 255) || null,
      confidence: CONFIDENCE.git_notes,
      evidenceKind: 'git_notes',
      spans,
      details: {
        format: schema,
        tool: cleanText(tool, 100),
        session_hash: hash,
        human_author: cleanText(record.human_author, 255) || null,
        git_ai_version: cleanText(meta.git_ai_version, 64) || null,
        base_commit_sha: cleanText(meta.base_commit_sha, 64) || null,
      },
    });
  }
  return { captures, warnings };
}

// ------------------------------------------------------------------------------------------------
// Agent Trace 0.1 (https://github.com/cursor/agent-trace, schemas.ts TraceRecordSchema)

/** A note holds one trace record, a JSON array of them (the reference trace-store), or JSON lines. */
function parseJsonRecords(text: string, what: string): unknown[] {
  const trimmed = text.trim();
  if (!trimmed) throw new ProvenanceFormatError(`${what} note is empty`);
  try {
    const parsed: unknown = JSON.parse(trimmed);
    return Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    const records: unknown[] = [];
    for (const line of trimmed.split('\n')) {
      if (!line.trim()) continue;
      try {
        records.push(JSON.parse(line));
      } catch {
        throw new ProvenanceFormatError(`${what} note is not JSON`);
      }
    }
    return records;
  }
}

/**
 * Parses Agent Trace records (spec §6.1): {version, id, timestamp, vcs?: {type, revision}, tool?: {name,
 * version}, files: [{path, conversations: [{url?, contributor?: {type: human|ai|mixed|unknown, model_id?},
 * ranges: [{start_line, end_line, content_hash?, contributor?}], related?: [{type, url}]}]}], metadata?}.
 * Ranges whose (range or conversation) contributor is `ai` or `mixed` become spans; one capture per
 * conversation and model. A record whose vcs revision names another commit is skipped (its line numbers
 * refer to that revision, §6.5).
 */
export function parseAgentTraceNote(text: string, commitSha: string): ParseResult {
  const warnings: string[] = [];
  const groups = new Map<string, CaptureDraft>();
  for (const raw of parseJsonRecords(text, 'Agent Trace')) {
    const record = asObject(raw);
    if (!record || !Array.isArray(record.files) || typeof record.version !== 'string') {
      warnings.push('agent-trace: skipped a record without version and files');
      continue;
    }
    const vcs = asObject(record.vcs);
    const revision = str(vcs?.revision).toLowerCase();
    if (vcs && str(vcs.type) === 'git' && revision && !commitSha.startsWith(revision)) {
      warnings.push(`agent-trace: record ${str(record.id).slice(0, 40)} is for revision ${revision.slice(0, 40)}, not ${commitSha}`);
      continue;
    }
    const tool = asObject(record.tool);
    const meta = asObject(record.metadata);
    const metaConfidence = typeof meta?.confidence === 'number' && meta.confidence >= 0 && meta.confidence <= 1 ? meta.confidence : 1;
    for (const fileRaw of record.files) {
      const file = asObject(fileRaw);
      const path = str(file?.path);
      if (!file || !isPlausibleRepoPath(path) || !Array.isArray(file.conversations)) {
        warnings.push(`agent-trace: skipped the file entry "${path.slice(0, 100)}"`);
        continue;
      }
      for (const convRaw of file.conversations) {
        const conv = asObject(convRaw);
        if (!conv || !Array.isArray(conv.ranges)) {
          warnings.push(`agent-trace: skipped a conversation of ${path}`);
          continue;
        }
        const convContributor = asObject(conv.contributor);
        const related = Array.isArray(conv.related) ? conv.related.map(asObject).filter((r): r is Record<string, unknown> => r !== null) : [];
        const session = str(related.find((r) => r.type === 'session')?.url) || str(conv.url);
        for (const rangeRaw of conv.ranges) {
          const range = asObject(rangeRaw);
          const start = range?.start_line;
          const end = range?.end_line;
          if (!range || !Number.isInteger(start) || !Number.isInteger(end) || (start as number) < 1 || (end as number) < (start as number) || (end as number) > MAX_LINE) {
            warnings.push(`agent-trace: skipped a malformed range of ${path}`);
            continue;
          }
          const contributor = asObject(range.contributor) ?? convContributor;
          const type = str(contributor?.type) || 'unknown';
          if (type !== 'ai' && type !== 'mixed') continue;
          const model = str(contributor?.model_id);
          const key = `${str(conv.url)}\0${model}\0${type}`;
          let capture = groups.get(key);
          if (!capture) {
            capture = {
              sourceFamily: str(tool?.name) ? normalizeToolName(str(tool?.name)) : 'agent-trace',
              model: cleanText(model, 255),
              prompt: '',
              thinking: '',
              sessionId: cleanText(session, 255) || null,
              confidence: CONFIDENCE.agent_trace * metaConfidence * (type === 'mixed' ? 0.5 : 1),
              evidenceKind: 'agent_trace',
              spans: {},
              details: { format: `agent-trace/${cleanText(record.version, 16)}`, trace_id: cleanText(record.id, 64), conversation_url: cleanText(conv.url, 2000) || null, tool: cleanText(tool?.name, 100) || null, tool_version: cleanText(tool?.version, 64) || null, contributor_type: type },
            };
            groups.set(key, capture);
          }
          const spans = capture.spans!;
          spans[path] = mergeSpans([...(spans[path] ?? []), [start as number, end as number] as Span]);
        }
      }
    }
  }
  return { captures: [...groups.values()], warnings };
}

// ------------------------------------------------------------------------------------------------
// whogitit AIAttribution (https://github.com/dotsetlabs/whogitit, docs/src/reference/data-formats.md)

const WHOGITIT_AI = new Set(['ai', 'aimodified', 'ai_modified']);

/**
 * Parses a whogitit AIAttribution note (version 3; schema_version 2 accepted): {version, session:
 * {session_id, model: {id, provider}, started_at}, prompts: [{index, text, affected_files}], files:
 * [{path, lines: [{line_number, source: {type: AI|AIModified|Human|Original|Unknown} | "AI", prompt_index,
 * confidence}]}]}. AI and AIModified lines become spans, one capture per prompt.
 */
export function parseWhogititNote(text: string): ParseResult {
  let root: Record<string, unknown> | null;
  try {
    root = asObject(JSON.parse(text));
  } catch {
    throw new ProvenanceFormatError('whogitit note is not JSON');
  }
  if (!root || !Array.isArray(root.files)) throw new ProvenanceFormatError('whogitit note has no files');
  const version = typeof root.version === 'number' ? root.version : typeof root.schema_version === 'number' ? root.schema_version : null;
  if (version === null) throw new ProvenanceFormatError('whogitit note has no version');
  const session = asObject(root.session) ?? {};
  const model = asObject(session.model) ?? {};
  const provider = str(model.provider).toLowerCase();
  const family = provider === 'anthropic' ? 'claude' : provider === 'openai' ? 'openai' : provider ? normalizeToolName(provider) : 'whogitit';
  const prompts = new Map<number, string>();
  for (const p of Array.isArray(root.prompts) ? root.prompts : []) {
    const o = asObject(p);
    if (o && Number.isInteger(o.index)) prompts.set(o.index as number, str(o.text));
  }
  const warnings: string[] = [];
  const groups = new Map<number, { spans: FileSpans; confidences: number[]; modified: number }>();
  for (const fileRaw of root.files) {
    const file = asObject(fileRaw);
    const path = str(file?.path);
    if (!file || !isPlausibleRepoPath(path) || !Array.isArray(file.lines)) {
      warnings.push(`whogitit: skipped the file entry "${path.slice(0, 100)}"`);
      continue;
    }
    for (const lineRaw of file.lines) {
      const line = asObject(lineRaw);
      const n = line?.line_number;
      if (!line || !Number.isInteger(n) || (n as number) < 1 || (n as number) > MAX_LINE) {
        warnings.push(`whogitit: skipped a malformed line of ${path}`);
        continue;
      }
      const source = typeof line.source === 'string' ? line.source : str(asObject(line.source)?.type);
      if (!WHOGITIT_AI.has(source.toLowerCase())) continue;
      const promptIndex = Number.isInteger(line.prompt_index) ? (line.prompt_index as number) : -1;
      const group = groups.get(promptIndex) ?? { spans: {}, confidences: [], modified: 0 };
      group.spans[path] = [...(group.spans[path] ?? []), [n as number, n as number]];
      if (typeof line.confidence === 'number' && line.confidence >= 0 && line.confidence <= 1) group.confidences.push(line.confidence);
      if (source.toLowerCase() !== 'ai') group.modified++;
      groups.set(promptIndex, group);
    }
  }
  const captures: CaptureDraft[] = [];
  for (const [index, group] of [...groups].sort((a, b) => a[0] - b[0])) {
    const spans: FileSpans = {};
    for (const [path, s] of Object.entries(group.spans)) spans[path] = mergeSpans(s);
    const mean = group.confidences.length ? group.confidences.reduce((a, b) => a + b, 0) / group.confidences.length : 1;
    captures.push({
      sourceFamily: family,
      model: cleanText(model.id, 255),
      prompt: cleanText(prompts.get(index) ?? '', MAX_PROMPT_CHARS),
      thinking: '',
      sessionId: cleanText(session.session_id, 255) || null,
      confidence: CONFIDENCE.whogitit * mean,
      evidenceKind: 'whogitit',
      spans,
      details: { format: `whogitit/${version}`, prompt_index: index < 0 ? null : index, ai_modified_lines: group.modified, provider: provider || null },
    });
  }
  return { captures, warnings };
}

// ------------------------------------------------------------------------------------------------
// gitoku-ai/1: gitoku's own note (refs/notes/gitoku-ai), one JSON document per commit

export const GITOKU_NOTE_SCHEMA = 'gitoku-ai/1';

export interface GitokuNoteCapture {
  capture_index: number;
  source_family: string;
  exact_model_name: string;
  prompt: string;
  thinking: string;
  session_id: string | null;
  capture_confidence: number;
  evidence_kind: string;
  modified_files: string[];
  modified_line_spans: FileSpans;
  run: { number: number; repository: string; url: string } | null;
  details: Record<string, unknown>;
}

export interface GitokuNote {
  schema: typeof GITOKU_NOTE_SCHEMA;
  commit: string;
  repository: string;
  captures: GitokuNoteCapture[];
}

export function serializeGitokuNote(note: GitokuNote): string {
  return `${JSON.stringify(note, null, 1)}\n`;
}

/**
 * Reads a gitoku-ai/1 note back (pushed from a clone of another gitoku): captures keep their model,
 * prompt, thinking and spans; the evidence becomes `gitoku_notes` (the original kind is kept in details)
 * and confidence is scaled down, since anyone with push access can write notes.
 */
export function parseGitokuNote(text: string, commitSha: string): ParseResult {
  let root: Record<string, unknown> | null;
  try {
    root = asObject(JSON.parse(text));
  } catch {
    throw new ProvenanceFormatError('gitoku-ai note is not JSON');
  }
  if (!root || root.schema !== GITOKU_NOTE_SCHEMA || !Array.isArray(root.captures)) throw new ProvenanceFormatError(`gitoku-ai note is not ${GITOKU_NOTE_SCHEMA}`);
  if (typeof root.commit === 'string' && root.commit !== commitSha) throw new ProvenanceFormatError(`gitoku-ai note names commit ${root.commit.slice(0, 40)}, not ${commitSha}`);
  const warnings: string[] = [];
  const captures: CaptureDraft[] = [];
  for (const raw of root.captures) {
    const c = asObject(raw);
    if (!c || typeof c.source_family !== 'string' || !c.source_family) {
      warnings.push('gitoku-ai: skipped a capture without source_family');
      continue;
    }
    const confidence = typeof c.capture_confidence === 'number' && c.capture_confidence >= 0 && c.capture_confidence <= 1 ? c.capture_confidence : 0.5;
    const run = asObject(c.run);
    captures.push({
      sourceFamily: cleanText(c.source_family, 64),
      model: cleanText(c.exact_model_name, 255),
      prompt: cleanText(c.prompt, MAX_PROMPT_CHARS),
      thinking: cleanText(c.thinking, MAX_THINKING_CHARS),
      sessionId: cleanText(c.session_id, 255) || null,
      confidence: confidence * CONFIDENCE.gitoku_notes,
      evidenceKind: 'gitoku_notes',
      spans: normalizeFileSpans(c.modified_line_spans, isPlausibleRepoPath),
      details: {
        ...(asObject(c.details) ?? {}),
        original_evidence_kind: cleanText(c.evidence_kind, 32),
        original_repository: cleanText(root.repository, 255) || null,
        original_run: run ? { number: run.number, repository: cleanText(run.repository, 255), url: cleanText(run.url, 2000) } : null,
      },
    });
  }
  return { captures, warnings };
}

// ------------------------------------------------------------------------------------------------
// Agent turns: splitting a run's trace into the turns that wrote files

export interface TraceEventLite {
  kind: string;
  data: Record<string, unknown>;
}

export interface AgentTurn {
  index: number;
  thinking: string[];
  messages: string[];
  edits: { path: string; action: string }[];
}

function normalizeEditPath(path: string): string {
  return path.replace(/^(\.\/)+/, '').replace(/\/{2,}/g, '/');
}

/**
 * Splits a run's trace (normalized driver events, DESIGN §4.7) into agent turns: a turn thinks, edits
 * files and ends with a message. Thinking after the turn edited files, or anything after its closing
 * message, starts the next turn. Events other than thinking, message and file_edit are ignored.
 */
export function splitAgentTurns(events: readonly TraceEventLite[]): AgentTurn[] {
  const turns: AgentTurn[] = [];
  let current: AgentTurn | null = null;
  let closed = false;
  const start = () => {
    current = { index: turns.length, thinking: [], messages: [], edits: [] };
    turns.push(current);
    closed = false;
    return current;
  };
  for (const e of events) {
    const text = typeof e.data.text === 'string' ? e.data.text : '';
    if (e.kind === 'thinking') {
      const turn: AgentTurn = !current || closed || (current as AgentTurn).edits.length > 0 ? start() : current;
      if (text) turn.thinking.push(text);
    } else if (e.kind === 'message') {
      const turn: AgentTurn = !current || closed ? start() : current;
      if (text) turn.messages.push(text);
      if (turn.edits.length > 0) closed = true;
    } else if (e.kind === 'file_edit' && typeof e.data.path === 'string' && e.data.path) {
      const turn: AgentTurn = !current || closed ? start() : current;
      turn.edits.push({ path: normalizeEditPath(e.data.path), action: typeof e.data.action === 'string' ? e.data.action : 'write' });
    }
  }
  return turns;
}

/**
 * Which turns wrote each file of a commit: the turns that edited it since the last turn that wrote it
 * whole or deleted it (earlier contents were replaced); files no turn edited (written by commands the
 * agent ran) belong to the last turn. Returns turn index → files, in turn order.
 */
export function assignFilesToTurns(turns: readonly AgentTurn[], files: readonly string[]): Map<number, string[]> {
  const out = new Map<number, string[]>();
  const add = (turn: number, file: string) => out.set(turn, [...(out.get(turn) ?? []), file]);
  const last = Math.max(0, turns.length - 1);
  for (const file of files) {
    const editing = turns.filter((t) => t.edits.some((e) => e.path === file));
    if (editing.length === 0) {
      add(last, file);
      continue;
    }
    const replacing = editing.filter((t) => t.edits.some((e) => e.path === file && (e.action === 'write' || e.action === 'delete')));
    const from = replacing.length ? replacing[replacing.length - 1]!.index : editing[0]!.index;
    for (const t of editing) if (t.index >= from) add(t.index, file);
  }
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}
