import { describe, expect, it } from 'vitest';
import { parseFrontMatter, FrontMatterError } from '../../src/domain/frontMatter.ts';
import { parseAgentFile, normalizeEvents } from '../../src/domain/agentManifest.ts';
import { formatProblem, parseWorkflowManifest } from '../../src/domain/manifest.ts';
import { parseAgentMentions } from '../../src/domain/mentions.ts';

describe('front matter (strict YAML subset)', () => {
  it('reads key: value, quoted strings, flow and block lists, nested mappings and the body', () => {
    const text = [
      '---',
      'name: Docs writer',
      "description: 'Keeps the README true, doesn''t guess'",
      'model: "claude-sonnet-4"   # a comment',
      'tools: [read, "edit", \'search\']',
      'events:',
      '  - pull_request.opened',
      '  - push',
      'mcp-servers:',
      '  github:',
      '    type: local',
      '    args: [--stdio]',
      '---',
      '# Docs',
      '',
      'Update the docs.',
    ].join('\n');
    const fm = parseFrontMatter(text);
    expect(fm.data).toEqual({
      name: 'Docs writer',
      description: "Keeps the README true, doesn't guess",
      model: 'claude-sonnet-4',
      tools: ['read', 'edit', 'search'],
      events: ['pull_request.opened', 'push'],
      'mcp-servers': { github: { type: 'local', args: ['--stdio'] } },
    });
    expect(fm.body).toBe('# Docs\n\nUpdate the docs.');
    expect(fm.bodyLine).toBe(14);
  });

  it('treats a file without a leading --- as all body', () => {
    expect(parseFrontMatter('Just instructions.\n')).toEqual({ data: {}, body: 'Just instructions.\n', bodyLine: 1 });
  });

  it.each([
    ['---\nname: x\n', /not closed/],
    ['---\nname: "unterminated\n---\nbody', /line 2: unterminated double-quoted string/],
    ['---\n\tname: x\n---\nbody', /line 2: tabs/],
    ['---\njust words\n---\nbody', /line 2: expected "key: value"/],
    ['---\nname: a\nname: b\n---\nbody', /line 3: duplicate key "name"/],
    ['---\ntools: [a, b\n---\nbody', /line 2: a "\[" list must end/],
    ['---\nx: &anchor y\n---\nbody', /line 2: .*anchors/],
    ['---\nx: |\n  block\n---\nbody', /line 2: .*block scalars/],
    ['---\nx: {a: b}\n---\nbody', /line 2: "\{…\}" mappings are not supported/],
    ['---\nname: x\n   deeper: y\n---\nbody', /line 3: unexpected indentation/],
  ])('rejects %j', (text, message) => {
    expect(() => parseFrontMatter(text)).toThrow(FrontMatterError);
    expect(() => parseFrontMatter(text)).toThrow(message);
  });
});

describe('agent files', () => {
  it('reads a Copilot custom agent (name, description, tools, model; target and mcp-servers ignored)', () => {
    const { agent, problems } = parseAgentFile('.github/agents/docs.agent.md', 'docs', 'copilot', '---\nname: Docs\ndescription: Keeps docs true\ntools: ["edit", "search"]\nmodel: GPT-4.1\ntarget: vscode\n---\nKeep the README true.\n');
    expect(problems).toEqual([]);
    expect(agent).toMatchObject({ key: 'docs', name: 'Docs', description: 'Keeps docs true', model: 'GPT-4.1', tools: ['edit', 'search'], instructions: 'Keep the README true.', source: '.github/agents/docs.agent.md', format: 'copilot', events: [] });
  });

  it('reads a Claude Code subagent (tools as a comma list, model inherit = repository default) and gitoku keys in the same front matter', () => {
    const { agent } = parseAgentFile('.claude/agents/fixer.md', 'fixer', 'claude', '---\nname: fixer\ndescription: Fixes\ntools: Read, Edit, Bash\nmodel: inherit\nevents: [pull_request.synchronize]\nbranches: main\n---\nFix it.');
    expect(agent).toMatchObject({ key: 'fixer', tools: ['Read', 'Edit', 'Bash'], model: null, events: ['pull_request.synchronized'], branches: ['main'] });
  });

  it('reports front matter that is not YAML, unknown events, bad keys and empty bodies with file and line', () => {
    const notYaml = parseAgentFile('.claude/agents/x.md', 'x', 'claude', '---\nname: x\nthis is not yaml\n---\nbody');
    expect(notYaml.agent).toBeNull();
    expect(formatProblem(notYaml.problems[0]!)).toBe('.claude/agents/x.md:3: front matter is not valid YAML: line 3: expected "key: value", found "this is not yaml"');
    const badEvent = parseAgentFile('.github/agents/y.agent.md', 'y', 'copilot', '---\nname: y\nevents: [pull_request.merged]\n---\nbody');
    expect(formatProblem(badEvent.problems[0]!)).toMatch(/^\.github\/agents\/y\.agent\.md:3 \[events\]: events: unknown event/);
    expect(parseAgentFile('.claude/agents/a b.md', 'a b', 'claude', 'body').problems[0]!.message).toMatch(/not a valid agent key/);
    expect(parseAgentFile('.claude/agents/e.md', 'e', 'claude', '---\nname: e\n---\n\n').problems[0]!.message).toMatch(/no instructions/);
  });

  it('normalizes event aliases', () => {
    expect(normalizeEvents(['pull_request'])).toEqual(['pull_request.opened', 'pull_request.synchronized', 'pull_request.reopened']);
    expect(normalizeEvents(['pull_request.synchronize', 'push'])).toEqual(['push', 'pull_request.synchronized']);
  });
});

describe('[agent.<key>] in gitoku.toml', () => {
  it('parses agents beside workflows', () => {
    const result = parseWorkflowManifest(`[workflow.test]
steps = [{ run = "true" }]

[agent.reviewer]
name = "Reviewer"
driver = "script"
events = ["pull_request.opened", "pull_request.synchronize"]
branches = ["main"]
instructions_file = ".gitoku/agents/reviewer.md"
timeout = 600

[agent.docs]
instructions = "Keep the README true."
model = "sonnet"
`);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.workflows.map((w) => w.key)).toEqual(['test']);
    expect(result.agents).toEqual([
      expect.objectContaining({ key: 'reviewer', name: 'Reviewer', driver: 'script', events: ['pull_request.opened', 'pull_request.synchronized'], branches: ['main'], instructionsFile: '.gitoku/agents/reviewer.md', instructions: null, timeout: 600, source: 'gitoku.toml', format: 'gitoku' }),
      expect.objectContaining({ key: 'docs', name: 'docs', driver: null, model: 'sonnet', instructions: 'Keep the README true.', events: [] }),
    ]);
  });

  it.each([
    ['[agent.a]\ninstructions = "x"\nbogus = 1\n', 'gitoku.toml:3 [agent.a.bogus]'],
    ['[agent.a]\ninstructions = "x"\nevents = ["pull_request.merged"]\n', 'gitoku.toml:3 [agent.a.events.0]: unknown event'],
    ['[agent.a]\ninstructions_file = "../secrets.md"\n', 'gitoku.toml:2 [agent.a.instructions_file]: must be a relative path inside the repository'],
    ['[agent.a]\ninstructions_file = "/etc/passwd"\n', 'gitoku.toml:2 [agent.a.instructions_file]: must be a relative path'],
    ['[agent.a]\ninstructions = "x"\ninstructions_file = "a.md"\n', 'gitoku.toml:3 [agent.a.instructions_file]: give either instructions or instructions_file'],
    ['[agent.a]\nname = "A"\n', 'gitoku.toml:1 [agent.a.instructions]: an agent needs instructions'],
    ['[agent.a]\ninstructions = "x"\ndriver = "gpt"\n', 'gitoku.toml:3 [agent.a.driver]'],
    ['[agent."a b"]\ninstructions = "x"\n', 'gitoku.toml:1 [agent.a b]: agent keys may only contain'],
    ['[agent.a]\ninstructions = "x"\nbranches = ["[oops"]\n', 'gitoku.toml:3 [agent.a.branches]'],
  ])('reports %j with file, line and key', (source, expected) => {
    const result = parseWorkflowManifest(source);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map(formatProblem).join('\n')).toContain(expected);
  });
});

describe('@mentions', () => {
  const known = (k: string) => ['docs', 'reviewer'].includes(k);
  it('finds known agents with their requests, ignoring code, quotes, e-mail addresses and unknown names', () => {
    expect(parseAgentMentions('@docs update the README', known)).toEqual([{ key: 'docs', request: 'update the README' }]);
    expect(parseAgentMentions('Thanks @alice! @reviewer look again\nplease, then @docs fix typos', known)).toEqual([
      { key: 'reviewer', request: 'look again\nplease, then' },
      { key: 'docs', request: 'fix typos' },
    ]);
    expect(parseAgentMentions('> @docs update the README\n\nmail me at me@docs\n`@docs x`\n```\n@docs y\n```', known)).toEqual([]);
    expect(parseAgentMentions('@docs', known)).toEqual([{ key: 'docs', request: '' }]);
    expect(parseAgentMentions('@docs-bot hi', known)).toEqual([]);
  });
});
