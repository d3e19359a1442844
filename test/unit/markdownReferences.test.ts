import { describe, expect, it } from 'vitest';
import { findReferences, referenceKey, renderMarkdown, renderPlainText, type ReferenceLinks } from '../../src/web/markdown.ts';

const current = { owner: 'alice', name: 'web' };
const links: ReferenceLinks = {
  current,
  issues: new Map([
    [referenceKey('alice', 'web', 12), { href: '/alice/web/issues/12', title: 'A "quoted" <b>title</b>' }],
    [referenceKey('bob', 'lib', 3), { href: '/bob/lib/pull/3', title: 'Lib fix' }],
  ]),
  users: new Map([['carol', '/carol']]),
};

describe('markdown references', () => {
  it('finds #N, OWNER/REPO#N and @user outside code and links, read against the current repository', () => {
    const found = findReferences(['Fixes #12, bob/lib#3 and @Carol; `#4` [#5](https://x) a#6 x/y/z#7 me@host.org ##8', '```\n#9 @dave\n```'], current);
    expect(found.issues).toEqual([
      { owner: 'alice', repo: 'web', number: 12 },
      { owner: 'bob', repo: 'lib', number: 3 },
    ]);
    expect(found.users).toEqual(['Carol']);
    expect(findReferences(['#99999999999 #0'], current).issues).toEqual([]);
  });

  it('links resolved references and leaves the rest as text', () => {
    const html = renderMarkdown('See #12, alice/web#12, bob/lib#3, #13, eve/secret#1, @carol and @dave.', links);
    expect(html).toContain('<a class="issue-ref" href="/alice/web/issues/12" title="A &quot;quoted&quot; &lt;b&gt;title&lt;/b&gt;">#12</a>');
    expect(html).toContain('<a class="issue-ref" href="/alice/web/issues/12" title="A &quot;quoted&quot; &lt;b&gt;title&lt;/b&gt;">alice/web#12</a>');
    expect(html).toContain('<a class="issue-ref" href="/bob/lib/pull/3" title="Lib fix">bob/lib#3</a>');
    expect(html).toContain('#13, eve/secret#1');
    expect(html).toContain('<a class="user-mention" href="/carol">@carol</a> and @dave.');
  });

  it('never links inside code, links or raw anchors', () => {
    const html = renderMarkdown('`#12` <code>#12</code> [#12](https://example.com) <a href="https://example.com">@carol #12</a>\n\n    #12 indented\n', links);
    expect(html).not.toContain('class="issue-ref"');
    expect(html).not.toContain('class="user-mention"');
  });

  it('keeps markdown sanitized with references around', () => {
    const html = renderMarkdown('#12 <script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror=alert(3)> <a href="javascript:alert(4)" class="issue-ref">y</a>', links);
    expect(html).not.toMatch(/<script|javascript:|onerror/i);
    expect(html).toContain('<a class="issue-ref" href="/alice/web/issues/12"');
    // External links keep rel=nofollow; local reference links need none.
    expect(renderMarkdown('[x](https://example.com)')).toContain('rel="nofollow noopener noreferrer"');
    expect(renderMarkdown('#12', links)).not.toContain('rel=');
  });

  it('renders plain text (commit messages) escaped, with references linked', () => {
    expect(renderPlainText('Fix #12 <b>now</b> for @carol', links)).toBe('Fix <a class="issue-ref" href="/alice/web/issues/12" title="A &quot;quoted&quot; &lt;b&gt;title&lt;/b&gt;">#12</a> &lt;b&gt;now&lt;/b&gt; for <a class="user-mention" href="/carol">@carol</a>');
    expect(renderPlainText('<i>x</i> #12')).toBe('&lt;i&gt;x&lt;/i&gt; #12');
  });
});
