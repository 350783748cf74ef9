// A small RFC 4180 CSV reader that keeps the physical line on which every record starts, so a bad
// row can be reported as file:line. Quoted fields may contain commas, doubled quotes and newlines;
// both CRLF and LF line ends are accepted.

export interface CsvRecord {
  /** 1-based physical line where the record starts. */
  line: number;
  fields: string[];
}

export interface CsvParseResult {
  records: CsvRecord[];
  /** Syntax errors (a quote inside an unquoted field, an unterminated quote) with their line. */
  errors: { line: number; message: string }[];
}

export function parseCsv(text: string): CsvParseResult {
  const records: CsvRecord[] = [];
  const errors: { line: number; message: string }[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  if (text.charCodeAt(0) === 0xfeff) i = 1; // BOM
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    let field = '';
    let endOfRecord = false;
    while (!endOfRecord) {
      if (text[i] === '"') {
        // quoted field
        i++;
        let closed = false;
        while (i < n) {
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            closed = true;
            break;
          }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        if (!closed) {
          errors.push({ line: start, message: 'unterminated quoted field' });
          break;
        }
        if (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          errors.push({ line, message: 'characters after a closing quote' });
          while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') field += text[i++];
        }
      } else {
        while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          if (text[i] === '"') errors.push({ line, message: 'quote inside an unquoted field' });
          field += text[i++];
        }
      }
      fields.push(field);
      field = '';
      if (i >= n) endOfRecord = true;
      else if (text[i] === ',') i++;
      else {
        if (text[i] === '\r') i++;
        if (text[i] === '\n') i++;
        line++;
        endOfRecord = true;
      }
    }
    // A completely empty line is not a record.
    if (!(fields.length === 1 && fields[0] === '')) records.push({ line: start, fields });
  }
  return { records, errors };
}
