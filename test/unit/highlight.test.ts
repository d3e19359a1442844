import { describe, expect, it } from 'vitest';
import { highlightLines, languageFor } from '../../src/web/views/highlight.ts';

describe('server-side highlighting', () => {
  it('knows languages by extension and highlights line by line, escaping the text', () => {
    expect(languageFor('src/a.ts')).toBe('typescript');
    expect(languageFor('notes.unknown-ext')).toBeNull();
    const lines = highlightLines('const a = "<b>";\nreturn a;\n', 'typescript');
    expect(lines[0]).toContain('<span class="hljs-keyword">const</span>');
    expect(lines[0]).toContain('&lt;b&gt;');
    expect(lines[0]).not.toContain('<b>');
    expect(lines[1]).toContain('<span class="hljs-keyword">return</span>');
  });

  it('plain text is only escaped', () => {
    expect(highlightLines('<script>x</script>', null)).toEqual(['&lt;script&gt;x&lt;/script&gt;']);
  });
});
