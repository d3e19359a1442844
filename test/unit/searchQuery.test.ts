import { describe, expect, it } from 'vitest';
import { escapeLike, matchRanges, parseSearchQuery, tokenize } from '../../src/domain/searchQuery.ts';
import { grepPathspecs } from '../../src/git/grep.ts';
import { pathFilter } from '../../src/git/grepIndex.ts';
import { repositoryOfPath } from '../../src/web/views/searchBox.tsx';

const parse = (q: string) => {
  const r = parseSearchQuery(q);
  if (!r.ok) throw new Error(r.message);
  return r.query;
};

describe('parseSearchQuery', () => {
  it('splits words, phrases and qualifiers as GitHub writes them', () => {
    const q = parse('find "two words" repo:alice/shop user:Bob path:src/web language:TypeScript is:open is:pr in:title,body');
    expect(q.terms).toEqual(['find', 'two words']);
    expect(q.text).toBe('find two words');
    expect(q.repos).toEqual([{ owner: 'alice', name: 'shop' }]);
    expect(q.owners).toEqual(['Bob']);
    expect(q.paths).toEqual(['src/web']);
    expect(q.extensions).toEqual(['ts', 'tsx', 'mts', 'cts']);
    expect(q.state).toBe('open');
    expect(q.kind).toBe('pr');
    expect(q.inFields).toEqual(['title', 'body']);
  });

  it('keeps unknown key:value pairs, quoted qualifiers and option-like words as text', () => {
    expect(parse('http://example.com/x').terms).toEqual(['http://example.com/x']);
    expect(parse('"repo:alice/shop"').terms).toEqual(['repo:alice/shop']);
    expect(parse('"repo:alice/shop"').repos).toEqual([]);
    expect(parse('--output=/tmp/x -e --').terms).toEqual(['--output=/tmp/x', '-e', '--']);
    expect(parse('regex.*meta[chars]+').text).toBe('regex.*meta[chars]+');
    expect(parse('path:"docs/user guide" x').paths).toEqual(['docs/user guide']);
    expect(parse('extension:.PY x').extensions).toEqual(['py']);
    expect(parse('user:alice').text).toBe('');
  });

  it('refuses empty, long, control-character and malformed queries with a message', () => {
    for (const bad of ['', '   ', 'x'.repeat(257), 'a\u0000b', 'a\u001bb', 'repo:alice', 'repo:a/b/c', 'language:klingon', 'is:weird', 'in:nowhere', 'path:../etc', 'user:a/b', 'path:', 'extension:a/b']) {
      const r = parseSearchQuery(bad);
      expect(r.ok, JSON.stringify(bad)).toBe(false);
      if (!r.ok) expect(r.message.length).toBeGreaterThan(5);
    }
    expect(parseSearchQuery(undefined).ok).toBe(false);
  });

  it('tokenizes an unbalanced quote as a phrase to the end', () => {
    expect(tokenize('a "b c').map((t) => t.token)).toEqual(['a', 'b c']);
  });
});

describe('search helpers', () => {
  it('escapes LIKE wildcards', () => {
    expect(escapeLike('100%_done\\x')).toBe('100\\%\\_done\\\\x');
  });

  it('finds case-insensitive match ranges', () => {
    expect(matchRanges('FindWidget and findwidget', 'findwidget')).toEqual([
      [0, 10],
      [15, 25],
    ]);
    expect(matchRanges('abc', '')).toEqual([]);
  });

  it('turns paths and extensions into pathspecs with explicit magic, refusing escapes', () => {
    expect(grepPathspecs(['src/web'], [])).toEqual([':(literal)src/web']);
    expect(grepPathspecs(['src/*.ts'], [])).toEqual([':(glob)src/*.ts', ':(glob)src/*.ts/**']);
    expect(grepPathspecs([], ['ts'])).toEqual([':(glob,icase)**/*.ts']);
    expect(grepPathspecs(['a[b'], ['py'])).toEqual([':(glob,icase)a[b/**/*.py']);
    expect(grepPathspecs([':(exclude)x'], [])).toEqual([':(literal):(exclude)x']);
    expect(grepPathspecs(['../etc'], [])).toBeNull();
    expect(grepPathspecs([], ['a/b'])).toBeNull();
  });

  it('filters paths in memory as the pathspecs do', () => {
    const f = pathFilter(['src/web'], ['ts'])!;
    expect(f('src/web/app.ts')).toBe(true);
    expect(f('src/web/app.css')).toBe(false);
    expect(f('src/webby/app.ts')).toBe(false);
    const g = pathFilter(['files/f000*'])!;
    expect(g('files/f0001.txt')).toBe(true);
    expect(g('files/f0101.txt')).toBe(false);
    expect(pathFilter(['../x'])).toBeNull();
  });

  it('knows which pages belong to a repository (the header box searches it)', () => {
    expect(repositoryOfPath('/alice/shop/blob/main/x.ts?plain=1')).toEqual({ owner: 'alice', repo: 'shop' });
    expect(repositoryOfPath('/alice')).toBeNull();
    expect(repositoryOfPath('/-/settings/tokens')).toBeNull();
    expect(repositoryOfPath('/search?q=x')).toBeNull();
    expect(repositoryOfPath('/explore/x')).toBeNull();
    expect(repositoryOfPath('/alice/shop.git/info/refs')).toBeNull();
  });
});
