// Text that leaves Wharf's hands in a structured place — a git commit message, a log line — is built
// only through these functions. Upstream bodies, webhook payloads and error messages can carry NUL,
// ANSI escapes, lone surrogates and newlines: git refuses a message with NUL, and a newline in a log
// value forges a log line. Commit text is cleaned (control characters dropped, one line where one
// line is expected, capped); log values are escaped (visible as \n, \x1b, …, never interpreted).

/** C0 controls except tab and newline, DEL, C1 controls, and the Unicode line/paragraph separators. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;
/** A UTF-16 surrogate without its partner (not representable in UTF-8: git would store U+FFFD or fail). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Longest commit subject and trailer value kept (characters); longer text is cut with an ellipsis. */
export const SUBJECT_MAX = 200;
export const TRAILER_MAX = 200;
/** Longest commit body kept (characters). */
export const BODY_MAX = 64 * 1024;

function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max - 1;
  // Never split a surrogate pair.
  if (/[\ud800-\udbff]/.test(s[end - 1] ?? '')) end--;
  return s.slice(0, end) + '…';
}

/** Drop control characters and lone surrogates; keep tab and newline. */
export function stripControl(s: string): string {
  return s.replace(LONE_SURROGATE, '\ufffd').replace(CONTROL, '');
}

/** One line of commit text (a subject or a trailer value): no controls, whitespace runs folded, capped. */
export function commitLine(s: string, max = SUBJECT_MAX): string {
  return cut(stripControl(s).replace(/\s+/g, ' ').trim(), max);
}

/**
 * A commit body: no controls, CRLF normalised, capped. Lines that would parse as a `Key: value` trailer
 * are indented by one space so the body can never forge a trailer (git and parseTrailers need the key
 * at the start of the line).
 */
export function commitBody(s: string, max = BODY_MAX): string {
  const lines = stripControl(s.replace(/\r\n?/g, '\n'))
    .trim()
    .split('\n')
    .map((l) => (/^[A-Za-z][A-Za-z0-9-]*:/.test(l) ? ` ${l}` : l.trimEnd()));
  return cut(lines.join('\n'), max);
}

/** Trailer keys: git's token grammar, narrowed. */
export const TRAILER_KEY_RE = /^[A-Z][A-Za-z0-9-]{0,63}$/;

/**
 * A value for a log line: every control character (newline included) escaped as \n, \r, \t or
 * \xNN / \uNNNN, backslashes doubled, and capped, so one value is always one piece of one line.
 */
export function escapeLogValue(s: string, max = 4096): string {
  const escaped = s
    .replace(LONE_SURROGATE, '\ufffd')
    .replace(/\\/g, '\\\\')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
      if (c === '\n') return '\\n';
      if (c === '\r') return '\\r';
      if (c === '\t') return '\\t';
      const code = c.charCodeAt(0);
      return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
    });
  return cut(escaped, max);
}
