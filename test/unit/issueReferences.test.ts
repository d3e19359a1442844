import { describe, expect, it } from 'vitest';
import { agentKeyOfAssignee, blankCode, distinctReferences, parseIssueReferences, parseRunCommand, parseUserMentions, referenceKey } from '../../src/domain/issueReferences.ts';

const refs = (text: string) => parseIssueReferences(text).map((r) => ({ key: referenceKey(r), closes: r.closes }));

describe('issue references', () => {
  it('reads #N and OWNER/REPO#N with their offsets', () => {
    const text = 'See #12 and alice/tools#3, (#7).';
    const found = parseIssueReferences(text);
    expect(found.map(referenceKey)).toEqual(['#12', 'alice/tools#3', '#7']);
    expect(found.map((r) => text.slice(r.start, r.end))).toEqual(['#12', 'alice/tools#3', '#7']);
    expect(found[1]).toMatchObject({ owner: 'alice', repo: 'tools', number: 3 });
  });

  it('recognises every closing keyword, in any case, with an optional colon', () => {
    for (const kw of ['close', 'closes', 'closed', 'fix', 'fixes', 'fixed', 'resolve', 'resolves', 'resolved', 'FIXES', 'Closes:']) {
      expect(refs(`${kw} #4`), kw).toEqual([{ key: '#4', closes: true }]);
    }
    expect(refs('Fixes alice/tools#9 and mentions #10')).toEqual([
      { key: 'alice/tools#9', closes: true },
      { key: '#10', closes: false },
    ]);
    // A keyword must be a word of its own.
    expect(refs('prefixes #4 and unfixed #5')).toEqual([
      { key: '#4', closes: false },
      { key: '#5', closes: false },
    ]);
  });

  it('ignores code spans, fenced and indented blocks, URLs, anchors and entities', () => {
    const text = ['`fixes #1`', '```', 'fixes #2', '```', '', '    fixes #3', '', 'https://example.com/page#4 and x#5 and &#39; and ##6', 'but fixes #8'].join('\n');
    expect(refs(text)).toEqual([{ key: '#8', closes: true }]);
    // Offsets survive the blanking.
    expect(blankCode(text).length).toBe(text.length);
  });

  it('rejects numbers out of range and zero', () => {
    expect(refs('#0 #99999999999 #2147483647')).toEqual([{ key: '#2147483647', closes: false }]);
  });

  it('folds references to the same target, closing when any says so', () => {
    const d = distinctReferences('see #3, ALICE/Tools#3 and fixes alice/tools#3; also bob/x#3', { owner: 'alice', repo: 'tools' });
    expect(d.map((r) => ({ key: referenceKey(r), closes: r.closes }))).toEqual([
      { key: '#3', closes: true },
      { key: 'bob/x#3', closes: false },
    ]);
  });

  it('reads @mentions but not e-mail addresses or code', () => {
    const text = 'cc @alice, @bob-smith. mail me at carol@example.com `@dave`';
    expect(parseUserMentions(text).map((m) => text.slice(m.start, m.end))).toEqual(['@alice', '@bob-smith']);
  });

  it('parses /run commands and agent assignees', () => {
    expect(parseRunCommand('/run')).toEqual({ instructions: '' });
    expect(parseRunCommand('  /run add tests\nand docs')).toEqual({ instructions: 'add tests\nand docs' });
    expect(parseRunCommand('please /run')).toBeNull();
    expect(parseRunCommand('/running late')).toBeNull();
    expect(agentKeyOfAssignee('agent:codex')).toBe('codex');
    expect(agentKeyOfAssignee('agent:')).toBeNull();
    expect(agentKeyOfAssignee('alice')).toBeNull();
    expect(agentKeyOfAssignee('agent:../x')).toBeNull();
  });
});
