import { describe, expect, it } from 'vitest';
import { PageLinks } from '../../src/web/views/components.tsx';

const html = async (node: unknown) => String(await node);
const href = (n: number) => `/list?page=${n}`;

describe('PageLinks', () => {
  it('first of several pages: a disabled "newer", the count, and a link to the next', async () => {
    const out = await html(<PageLinks page={1} pages={3} href={href} navClass="run-pager" />);
    expect(out).toContain('<nav class="run-pager" aria-label="Pages">');
    expect(out).toContain('<span class="btn btn-sm disabled" aria-disabled="true">← Newer</span>');
    expect(out).toContain('<span class="muted">Page 1 of 3</span>');
    expect(out).toContain('<a class="btn btn-sm" href="/list?page=2" rel="next">Older →</a>');
  });

  it('last page: a link back and a disabled "older"', async () => {
    const out = await html(<PageLinks page={3} pages={3} href={href} />);
    expect(out).toContain('<a class="btn btn-sm" href="/list?page=2" rel="prev">← Newer</a>');
    expect(out).toContain('<span class="btn btn-sm disabled" aria-disabled="true">Older →</span>');
  });

  it('without a page count: no "Page N of M", and hasMore decides the next link; labels can change', async () => {
    const more = await html(<PageLinks page={2} hasMore href={href} prevText="← Previous" nextText="Next →" />);
    expect(more).not.toContain('Page 2');
    expect(more).toContain('<a class="btn btn-sm" href="/list?page=1" rel="prev">← Previous</a>');
    expect(more).toContain('<a class="btn btn-sm" href="/list?page=3" rel="next">Next →</a>');
    expect(await html(<PageLinks page={2} href={href} />)).toContain('<span class="btn btn-sm disabled" aria-disabled="true">Older →</span>');
  });
});
