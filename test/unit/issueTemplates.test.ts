import { describe, expect, it } from 'vitest';
import { parseTemplate, splitFrontMatter } from '../../src/services/issueTemplates.ts';

describe('issue template parsing', () => {
  it('splits a front matter off, with CRLF line ends and a byte order mark', () => {
    expect(splitFrontMatter('\uFEFF---\r\nname: A\r\n---\r\nbody\r\n')).toEqual({ front: 'name: A', body: 'body\n' });
    expect(splitFrontMatter('no front matter\n---\nnot one\n')).toEqual({ front: null, body: 'no front matter\n---\nnot one\n' });
  });

  it('reads labels and assignees as a comma list or a YAML list; keeps the title prefix’s trailing space', () => {
    const a = parseTemplate('a.md', '---\nname: A\nabout: x\ntitle: "[a] "\nlabels: bug, ui ,bug\nassignees: [ann]\n---\nText\n');
    expect(a).toMatchObject({ name: 'A', about: 'x', title: '[a] ', labels: ['bug', 'ui'], assignees: ['ann'], body: 'Text\n' });
    expect(a.error).toBeUndefined();
    expect(parseTemplate('b.md', '---\nlabels:\n  - one\n  - two\n---\n').labels).toEqual(['one', 'two']);
  });

  it('names a template after its file when it has no name, and reports what cannot be read', () => {
    expect(parseTemplate('crash_report.md', 'Just a body\n')).toMatchObject({ name: 'crash report', body: 'Just a body\n' });
    expect(parseTemplate('bad.md', '---\n- a list\n---\n').error).toMatch(/not a mapping/);
    expect(parseTemplate('bad.md', '---\njust text\n---\n').error).toMatch(/not a mapping/);
    expect(parseTemplate('bad.yml', 'name: [\n').error).toMatch(/^bad\.yml: /);
    // YAML's tags for code or dates are not read as such (JSON schema).
    expect(parseTemplate('t.yml', 'name: !!js/function "x"\n').error).toBeDefined();
  });
});
