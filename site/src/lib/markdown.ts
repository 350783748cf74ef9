// Catalog Markdown comes from many hands: render it with marked, then keep only a safe subset of
// HTML (no script, style, iframe or form elements, no event handlers, no javascript:/data: links).
import { Marked } from 'marked';
import sanitizeHtml from 'sanitize-html';

const marked = new Marked({ gfm: true, breaks: false, async: false });

const SANITIZE: sanitizeHtml.IOptions = {
  allowedTags: [
    'p',
    'br',
    'hr',
    'h2',
    'h3',
    'h4',
    'h5',
    'h6',
    'blockquote',
    'pre',
    'code',
    'kbd',
    'samp',
    'em',
    'strong',
    'del',
    's',
    'sub',
    'sup',
    'a',
    'ul',
    'ol',
    'li',
    'dl',
    'dt',
    'dd',
    'table',
    'thead',
    'tbody',
    'tr',
    'th',
    'td',
    'span',
    'img',
    'details',
    'summary',
  ],
  allowedAttributes: {
    // rel/target/loading are added by transformTags below, after the input's own were dropped.
    a: ['href', 'title', 'rel', 'target'],
    img: ['src', 'alt', 'title', 'width', 'height', 'loading'],
    th: ['align'],
    td: ['align'],
    code: ['class'],
  },
  allowedClasses: { code: [/^language-[a-z0-9+-]+$/] },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesByTag: { img: ['https'] },
  allowProtocolRelative: false,
  // Headings inside an app's text sit below the page's own h2 sections.
  transformTags: {
    h1: 'h3',
    h2: 'h3',
    a: (tagName, attribs) => ({
      tagName,
      attribs: {
        href: attribs.href ?? '',
        ...(attribs.title ? { title: attribs.title } : {}),
        rel: 'nofollow noopener noreferrer',
        target: '_blank',
      },
    }),
    img: (tagName, attribs) => ({ tagName, attribs: { ...attribs, loading: 'lazy' } }),
  },
  disallowedTagsMode: 'discard',
};

/** Markdown → sanitized HTML, safe to insert with set:html. */
export function renderMarkdown(md: string): string {
  const html = marked.parse(md) as string;
  return sanitizeHtml(html, SANITIZE);
}

/** An http(s) URL from untrusted text, or undefined (no javascript:, data:, relative tricks). */
export function safeUrl(u: string | undefined): string | undefined {
  if (!u) return undefined;
  try {
    const url = new URL(u);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}
