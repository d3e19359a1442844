import { describe, expect, it } from 'vitest';
import {
  assignFilesToTurns,
  capturesFromTrailers,
  GITOKU_NOTE_SCHEMA,
  parseAgentTraceNote,
  parseCommitTrailers,
  parseGitAiAuthorshipLog,
  parseGitokuNote,
  parseWhogititNote,
  ProvenanceFormatError,
  serializeGitokuNote,
  splitAgentTurns,
} from '../../src/domain/aiProvenance.ts';

const SHA = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0';

describe('commit trailers', () => {
  it('reads the trailer block of the last paragraph only', () => {
    expect(parseCommitTrailers('Subject: not a trailer')).toEqual([]);
    expect(parseCommitTrailers('Fix it\r\n\r\nBody mentions Key: value.\r\n\r\nSigned-off-by: A <a@x>\r\nCo-authored-by: Claude <noreply@anthropic.com>\r\n')).toEqual([
      { key: 'Signed-off-by', value: 'A <a@x>' },
      { key: 'Co-authored-by', value: 'Claude <noreply@anthropic.com>' },
    ]);
  });

  it('recognises the co-author trailers of Claude, Copilot, Codex, Cursor and Aider, and Assisted-by / Generated-by', () => {
    const message = [
      'Add parser',
      '',
      'Longer description.',
      '',
      'Co-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>',
      'Co-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>',
      'Co-authored-by: Codex <noreply@openai.com>',
      'Co-authored-by: Cursor Agent <cursoragent@cursor.com>',
      'Co-authored-by: aider (gpt-4o) <noreply@aider.chat>',
      'Co-authored-by: Jane Developer <jane@example.com>',
      'Co-developed-by: John Human <john@example.com>',
      'Assisted-by: Gemini:gemini-2.5-pro coccinelle',
      'Generated-by: OpenCode:qwen3-coder',
      'Signed-off-by: Jane Developer <jane@example.com>',
    ].join('\n');
    const { captures, warnings } = capturesFromTrailers(message);
    expect(warnings).toEqual([]);
    expect(captures.map((c) => [c.sourceFamily, c.model])).toEqual([
      ['claude', 'Claude Opus 4.5'],
      ['copilot', ''],
      ['codex', ''],
      ['cursor', ''],
      ['aider', 'gpt-4o'],
      ['gemini', 'gemini-2.5-pro'],
      ['opencode', 'qwen3-coder'],
    ]);
    for (const c of captures) {
      expect(c).toMatchObject({ evidenceKind: 'commit_trailer', spans: null });
      expect(c.confidence).toBeLessThan(0.5);
    }
    expect(captures[0]!.details.trailer).toBe('Co-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>');
  });

  it('ignores messages without AI trailers and warns about empty Assisted-by values', () => {
    expect(capturesFromTrailers('Fix\n\nSigned-off-by: A <a@x>').captures).toEqual([]);
    expect(capturesFromTrailers('Fix\n\nAssisted-by: <x@y>').warnings).toHaveLength(1);
  });
});

// Git AI Standard v3.0.0 §1.2.5, adapted: an authorship log attached under refs/notes/ai.
const GIT_AI_LOG = `src/main.rs
  abcd1234abcd1234 1-10,15-20
  efab5678efab5678 25,30-35
"src/my file.rs"
  abcd1234abcd1234 1-50
---
{
  "schema_version": "authorship/3.0.0",
  "git_ai_version": "1.0.23",
  "base_commit_sha": "7734793b756b3921c88db5375a8c156e9532447b",
  "prompts": {
    "abcd1234abcd1234": {
      "agent_id": { "tool": "cursor", "id": "6ef2299e-a67f-432b-aa80-3d2fb4d28999", "model": "claude-4.5-opus" },
      "human_author": "Developer <dev@example.com>",
      "messages": [
        { "type": "user", "text": "Add error handling to the main function", "timestamp": "2025-12-05T01:22:13.211Z" },
        { "type": "assistant", "text": "I'll add comprehensive error handling...", "timestamp": "2025-12-05T01:22:38.724Z" },
        { "type": "tool_use", "name": "edit", "input": { "path": "src/main.rs" } }
      ],
      "total_additions": 25, "total_deletions": 5, "accepted_lines": 20, "overriden_lines": 0
    },
    "efab5678efab5678": {
      "agent_id": { "tool": "claude", "id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "model": "claude-3-sonnet" },
      "messages": [{ "type": "user", "text": "Add logging" }],
      "total_additions": 6, "total_deletions": 0, "accepted_lines": 6, "overriden_lines": 0
    }
  }
}
`;

describe('Git AI authorship log (refs/notes/ai)', () => {
  it('turns each session hash into a capture with its spans, prompt and reasoning', () => {
    const { captures, warnings } = parseGitAiAuthorshipLog(GIT_AI_LOG);
    expect(warnings).toEqual([]);
    expect(captures).toHaveLength(2);
    expect(captures[0]).toMatchObject({
      sourceFamily: 'cursor',
      model: 'claude-4.5-opus',
      prompt: 'Add error handling to the main function',
      thinking: "I'll add comprehensive error handling...",
      sessionId: '6ef2299e-a67f-432b-aa80-3d2fb4d28999',
      evidenceKind: 'git_notes',
      spans: { 'src/main.rs': [[1, 10], [15, 20]], 'src/my file.rs': [[1, 50]] },
    });
    expect(captures[1]).toMatchObject({ sourceFamily: 'claude', model: 'claude-3-sonnet', spans: { 'src/main.rs': [[25, 25], [30, 35]] } });
  });

  it('rejects logs without the divider or metadata, and skips bad attestations', () => {
    expect(() => parseGitAiAuthorshipLog('src/a.rs\n  abcd1234abcd1234 1-2\n')).toThrow(ProvenanceFormatError);
    expect(() => parseGitAiAuthorshipLog('---\nnot json')).toThrow(ProvenanceFormatError);
    expect(() => parseGitAiAuthorshipLog('---\n{"schema_version": "other/1"}')).toThrow(ProvenanceFormatError);
    const partial = parseGitAiAuthorshipLog(GIT_AI_LOG.replace('  efab5678efab5678 25,30-35', '  efab5678efab5678 35-30\n  zz 1\n../../etc/passwd\n  abcd1234abcd1234 1'));
    expect(partial.warnings.length).toBe(3);
    expect(partial.captures.map((c) => c.spans)).toEqual([{ 'src/main.rs': [[1, 10], [15, 20]], 'src/my file.rs': [[1, 50]] }]);
  });
});

// Agent Trace 0.1.0 §6.2, adapted to the annotated commit.
const TRACE = {
  version: '0.1.0',
  id: '550e8400-e29b-41d4-a716-446655440000',
  timestamp: '2026-01-23T14:30:00Z',
  vcs: { type: 'git', revision: SHA },
  tool: { name: 'cursor', version: '2.4.0' },
  files: [
    {
      path: 'src/utils/parser.ts',
      conversations: [
        {
          url: 'https://api.cursor.com/v1/conversations/12345',
          contributor: { type: 'ai', model_id: 'anthropic/claude-opus-4-5-20251101' },
          ranges: [{ start_line: 42, end_line: 67, content_hash: 'murmur3:9f2e8a1b' }, { start_line: 70, end_line: 71, contributor: { type: 'human' } }],
          related: [{ type: 'session', url: 'https://api.cursor.com/v1/sessions/67890' }],
        },
      ],
    },
    { path: 'src/utils/helpers.ts', conversations: [{ url: 'https://api.cursor.com/v1/conversations/12345', contributor: { type: 'ai', model_id: 'openai/gpt-4o' }, ranges: [{ start_line: 10, end_line: 25 }] }] },
  ],
  metadata: { confidence: 0.95, 'dev.cursor': { workspace_id: 'ws-abc123' } },
};

describe('Agent Trace (refs/notes/agent-trace)', () => {
  it('groups AI ranges by conversation and model; human ranges are not attributed', () => {
    for (const text of [JSON.stringify(TRACE), JSON.stringify([TRACE]), `${JSON.stringify(TRACE)}\n`]) {
      const { captures, warnings } = parseAgentTraceNote(text, SHA);
      expect(warnings).toEqual([]);
      expect(captures.map((c) => [c.sourceFamily, c.model, c.spans])).toEqual([
        ['cursor', 'anthropic/claude-opus-4-5-20251101', { 'src/utils/parser.ts': [[42, 67]] }],
        ['cursor', 'openai/gpt-4o', { 'src/utils/helpers.ts': [[10, 25]] }],
      ]);
      expect(captures[0]!.sessionId).toBe('https://api.cursor.com/v1/sessions/67890');
      expect(captures[0]!.confidence).toBeCloseTo(0.8 * 0.95);
      expect(captures[0]!.evidenceKind).toBe('agent_trace');
    }
  });

  it('skips records of another revision and malformed ranges; rejects non-JSON', () => {
    const other = { ...TRACE, vcs: { type: 'git', revision: 'ffff' } };
    expect(parseAgentTraceNote(JSON.stringify(other), SHA)).toMatchObject({ captures: [], warnings: [expect.stringContaining('revision')] });
    const bad = { ...TRACE, files: [{ path: 'a.ts', conversations: [{ contributor: { type: 'ai' }, ranges: [{ start_line: 0, end_line: 3 }, { start_line: 2, end_line: 3 }] }] }] };
    const r = parseAgentTraceNote(JSON.stringify(bad), SHA);
    expect(r.captures.map((c) => c.spans)).toEqual([{ 'a.ts': [[2, 3]] }]);
    expect(r.warnings).toHaveLength(1);
    expect(() => parseAgentTraceNote('{oops', SHA)).toThrow(ProvenanceFormatError);
  });
});

// whogitit docs/src/reference/data-formats.md: AIAttribution version 3.
const WHOGITIT = {
  version: 3,
  session: { session_id: '7f3a4b2c-9d1e-8a7b-c3d4-e5f6a7b8c9d0', model: { id: 'claude-opus-4-5-20251101', provider: 'anthropic' }, started_at: '2026-01-30T14:23:17Z', prompt_count: 2, used_plan_mode: false, subagent_count: 0 },
  prompts: [
    { index: 0, text: 'Add user authentication with bcrypt...', timestamp: '2026-01-30T14:23:45Z', affected_files: ['src/auth.rs', 'src/main.rs'] },
    { index: 1, text: 'Now add tests', timestamp: '2026-01-30T14:30:00Z', affected_files: ['src/auth.rs'] },
  ],
  files: [
    {
      path: 'src/auth.rs',
      lines: [
        { line_number: 1, content: 'use anyhow::Result;', source: { type: 'AI', edit_id: 'e1' }, edit_id: 'e1', prompt_index: 0, confidence: 1.0 },
        { line_number: 2, content: 'use bcrypt;', source: { type: 'AI', edit_id: 'e1' }, prompt_index: 0, confidence: 1.0 },
        { line_number: 3, content: '', source: { type: 'Original' } },
        { line_number: 4, content: 'fn x() {}', source: { type: 'AIModified', edit_id: 'e2', similarity: 0.8 }, prompt_index: 1, confidence: 0.5 },
        { line_number: 5, content: '// mine', source: { type: 'Human' } },
      ],
      summary: { total_lines: 5, ai_lines: 2, ai_modified_lines: 1, human_lines: 1, original_lines: 1, unknown_lines: 0 },
    },
  ],
};

describe('whogitit (refs/notes/whogitit)', () => {
  it('makes one capture per prompt from AI and AI-modified lines', () => {
    const { captures } = parseWhogititNote(JSON.stringify(WHOGITIT));
    expect(captures.map((c) => [c.sourceFamily, c.model, c.prompt, c.spans])).toEqual([
      ['claude', 'claude-opus-4-5-20251101', 'Add user authentication with bcrypt...', { 'src/auth.rs': [[1, 2]] }],
      ['claude', 'claude-opus-4-5-20251101', 'Now add tests', { 'src/auth.rs': [[4, 4]] }],
    ]);
    expect(captures[0]!.sessionId).toBe('7f3a4b2c-9d1e-8a7b-c3d4-e5f6a7b8c9d0');
    expect(captures[1]!.confidence).toBeCloseTo(0.4);
  });

  it('rejects notes that are not whogitit attributions', () => {
    expect(() => parseWhogititNote('nope')).toThrow(ProvenanceFormatError);
    expect(() => parseWhogititNote('{"files": []}')).toThrow(ProvenanceFormatError);
    expect(() => parseWhogititNote('[]')).toThrow(ProvenanceFormatError);
  });
});

describe('gitoku-ai notes', () => {
  it('round-trips, importing as gitoku_notes with lower confidence', () => {
    const text = serializeGitokuNote({
      schema: GITOKU_NOTE_SCHEMA,
      commit: SHA,
      repository: 'alice/app',
      captures: [
        { capture_index: 0, source_family: 'script', exact_model_name: 'scripted', prompt: 'p', thinking: 't', session_id: null, capture_confidence: 1, evidence_kind: 'agent_run', modified_files: ['a.txt'], modified_line_spans: { 'a.txt': [[1, 3]] }, run: { number: 4, repository: 'alice/app', url: 'http://x/alice/app/runs/4' }, details: { turn: 1 } },
      ],
    });
    const { captures } = parseGitokuNote(text, SHA);
    expect(captures).toEqual([
      expect.objectContaining({ sourceFamily: 'script', model: 'scripted', prompt: 'p', thinking: 't', evidenceKind: 'gitoku_notes', spans: { 'a.txt': [[1, 3]] }, details: expect.objectContaining({ turn: 1, original_evidence_kind: 'agent_run', original_run: { number: 4, repository: 'alice/app', url: 'http://x/alice/app/runs/4' } }) }),
    ]);
    expect(captures[0]!.confidence).toBeCloseTo(0.9);
    expect(() => parseGitokuNote(text, 'b'.repeat(40))).toThrow(ProvenanceFormatError);
    expect(() => parseGitokuNote('{"schema": "x"}', SHA)).toThrow(ProvenanceFormatError);
  });
});

describe('agent turns', () => {
  const ev = (kind: string, data: Record<string, unknown>) => ({ kind, data });

  it('splits a trace into turns at thinking after edits and after a closing message', () => {
    const turns = splitAgentTurns([
      ev('status', { message: 'start' }),
      ev('thinking', { text: 'plan A' }),
      ev('file_edit', { path: 'a.txt', action: 'write' }),
      ev('file_edit', { path: './b.txt', action: 'write' }),
      ev('message', { text: 'wrote a and b' }),
      ev('thinking', { text: 'plan B' }),
      ev('file_edit', { path: 'c.txt', action: 'write' }),
      ev('thinking', { text: 'plan C' }),
      ev('file_edit', { path: 'a.txt', action: 'append' }),
      ev('message', { text: 'done' }),
    ]);
    expect(turns.map((t) => [t.thinking, t.messages, t.edits.map((e) => e.path)])).toEqual([
      [['plan A'], ['wrote a and b'], ['a.txt', 'b.txt']],
      [['plan B'], [], ['c.txt']],
      [['plan C'], ['done'], ['a.txt']],
    ]);
    // a.txt was written in turn 0 and appended in turn 2: both wrote lines of it; d.txt (a command's output) goes to the last turn.
    expect([...assignFilesToTurns(turns, ['a.txt', 'b.txt', 'c.txt', 'd.txt'])]).toEqual([
      [0, ['a.txt', 'b.txt']],
      [1, ['c.txt']],
      [2, ['a.txt', 'd.txt']],
    ]);
    // A later whole-file write replaces earlier turns' contributions.
    const rewrite = splitAgentTurns([ev('file_edit', { path: 'a.txt', action: 'append' }), ev('message', { text: 'x' }), ev('file_edit', { path: 'a.txt', action: 'write' })]);
    expect([...assignFilesToTurns(rewrite, ['a.txt'])]).toEqual([[1, ['a.txt']]]);
  });
});
