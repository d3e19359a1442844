import { Marked } from 'marked';
import sanitizeHtml from 'sanitize-html';

/** GitHub-flavoured markdown; raw HTML passes through marked and is then sanitized. */
const marked = new Marked({ gfm: true, breaks: false, async: false });

const SANITIZE: sanitizeHtml.IOptions = {
  allowedTags: [
    'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'p', 'br', 'hr', 'blockquote', 'pre', 'code', 'kbd', 'samp', 'var',
    'b', 'i', 'strong', 'em', 'del', 's', 'ins', 'mark', 'sub', 'sup', 'small', 'abbr', 'q', 'cite', 'dfn',
    'ul', 'ol', 'li', 'dl', 'dt', 'dd', 'a', 'img', 'picture', 'source',
    'table', 'thead', 'tbody', 'tfoot', 'tr', 'th', 'td', 'caption', 'colgroup', 'col',
    'details', 'summary', 'div', 'span', 'figure', 'figcaption', 'input',
  ],
  allowedAttributes: {
    a: ['href', 'title', 'name', 'id'],
    img: ['src', 'alt', 'title', 'width', 'height', 'align'],
    source: ['srcset', 'media', 'type'],
    code: ['class'],
    pre: ['lang'],
    th: ['align', 'colspan', 'rowspan'],
    td: ['align', 'colspan', 'rowspan'],
    ol: ['start'],
    li: ['value'],
    details: ['open'],
    input: ['type', 'checked', 'disabled'],
    abbr: ['title'],
    p: ['align'],
    div: ['align'],
    h1: ['id'], h2: ['id'], h3: ['id'], h4: ['id'], h5: ['id'], h6: ['id'],
  },
  allowedClasses: { code: [/^language-[\w+#.-]+$/] },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesByTag: { img: ['http', 'https'], source: ['http', 'https'] },
  allowedSchemesAppliedToAttributes: ['href', 'src', 'cite', 'srcset'],
  allowProtocolRelative: false,
  disallowedTagsMode: 'discard',
  transformTags: {
    a: (tagName, attribs) => ({ tagName, attribs: attribs.href && !attribs.href.startsWith('#') ? { ...attribs, rel: 'nofollow noopener noreferrer' } : attribs }),
    // Only GFM task-list checkboxes survive: anything else named <input> becomes a disabled checkbox.
    input: (tagName, attribs) => ({ tagName, attribs: { type: 'checkbox', disabled: '', ...('checked' in attribs ? { checked: '' } : {}) } }),
  },
  exclusiveFilter: (frame) => frame.tag === 'img' && !frame.attribs.src,
};
// rel is produced by transformTags and must survive the attribute filter.
(SANITIZE.allowedAttributes as Record<string, string[]>).a!.push('rel');

/** Renders user-supplied markdown (READMEs, descriptions, comments) to safe HTML. */
export function renderMarkdown(text: string): string {
  const html = marked.parse(text) as string;
  return sanitizeHtml(html, SANITIZE);
}
