// The daemon's log lines. Every value is escaped (catalog/text.ts escapeLogValue): a webhook's signed
// but attacker-chosen `full_name` with a newline, or an error message quoting upstream bytes, stays one
// visible value on one line and can never start a forged line. JSON lines are escaped by JSON itself
// (U+2028/U+2029, which JSON leaves raw, are escaped too).
import { escapeLogValue } from '../../catalog/text.ts';

export type LogLevel = 'info' | 'warn' | 'error';

/** One value of a text line: escaped, and quoted when it holds spaces, quotes or '='. */
function textValue(v: unknown): string {
  const s = escapeLogValue(typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v)));
  return /[\s"=]/.test(s) || s === '' ? `"${s.replace(/"/g, '\\"')}"` : s;
}

/** `<at> <level> <msg> k=v …` or one JSON object; never contains a newline except the final one. */
export function formatLogLine(
  at: string,
  level: LogLevel | string,
  msg: string,
  fields: Record<string, unknown>,
  json: boolean,
): string {
  if (json)
    return (
      JSON.stringify({ at, level, msg, ...fields }).replace(/[\u2028\u2029]/g, (c) =>
        c === '\u2028' ? '\\u2028' : '\\u2029',
      ) + '\n'
    );
  const f = Object.entries(fields)
    .map(([k, v]) => `${escapeLogValue(k, 64).replace(/[\s=]/g, '_')}=${textValue(v)}`)
    .join(' ');
  return `${at} ${String(level).padEnd(5)} ${escapeLogValue(msg)}${f ? ` ${f}` : ''}\n`;
}
