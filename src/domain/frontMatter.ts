/**
 * Front matter of agent files (`.github/agents/*.agent.md`, `.claude/agents/*.md`): a `---` line, a
 * small, strict subset of YAML, a `---` line, then the markdown body. The subset is what these files
 * use — `key: value` with plain, 'single' or "double" quoted scalars, lists as `[a, "b"]` or as `- a`
 * lines, and nested mappings by indentation (e.g. Copilot's `mcp-servers`) — and anything else
 * (tabs, anchors, tags, block scalars, unterminated quotes…) is an error naming the line.
 */
export type FrontMatterValue = string | FrontMatterValue[] | { [key: string]: FrontMatterValue };

export interface FrontMatter {
  data: Record<string, FrontMatterValue>;
  body: string;
  /** 1-based line of the body's first line in the file. */
  bodyLine: number;
}

export class FrontMatterError extends Error {
  constructor(
    message: string,
    readonly line: number | null,
  ) {
    super(message);
  }
}

interface Line {
  no: number;
  indent: number;
  text: string;
}

/** Splits `text` into front matter and body; a file without a leading `---` line has no front matter. */
export function parseFrontMatter(text: string): FrontMatter {
  const source = text.replace(/^\uFEFF/, '').replace(/\r\n/g, '\n');
  const lines = source.split('\n');
  if (lines[0]?.trimEnd() !== '---') return { data: {}, body: source, bodyLine: 1 };
  const end = lines.findIndex((l, i) => i > 0 && (l.trimEnd() === '---' || l.trimEnd() === '...'));
  if (end < 0) throw new FrontMatterError('front matter is not closed: no "---" line after the opening one', 1);
  const yaml: Line[] = [];
  for (let i = 1; i < end; i++) {
    const raw = lines[i]!;
    if (/^\s*(#.*)?$/.test(raw)) continue;
    if (/^ *\t/.test(raw)) throw new FrontMatterError(`line ${i + 1}: tabs are not allowed for indentation in YAML`, i + 1);
    const indent = raw.length - raw.trimStart().length;
    yaml.push({ no: i + 1, indent, text: raw.trim() });
  }
  const pos = { i: 0 };
  const data = yaml.length ? parseBlock(yaml, pos, yaml[0]!.indent) : {};
  if (Array.isArray(data) || typeof data === 'string') throw new FrontMatterError(`line ${yaml[0]!.no}: front matter must be a mapping of "key: value" lines`, yaml[0]!.no);
  if (pos.i < yaml.length) throw new FrontMatterError(`line ${yaml[pos.i]!.no}: unexpected indentation`, yaml[pos.i]!.no);
  return { data, body: lines.slice(end + 1).join('\n'), bodyLine: end + 2 };
}

/** A mapping or a `- item` list whose lines all have exactly `indent`. */
function parseBlock(lines: Line[], pos: { i: number }, indent: number): Record<string, FrontMatterValue> | FrontMatterValue[] {
  const first = lines[pos.i]!;
  if (first.text === '-' || first.text.startsWith('- ')) {
    const items: FrontMatterValue[] = [];
    while (pos.i < lines.length && lines[pos.i]!.indent === indent && (lines[pos.i]!.text === '-' || lines[pos.i]!.text.startsWith('- '))) {
      const line = lines[pos.i]!;
      const rest = line.text.slice(1).trim();
      pos.i++;
      if (rest === '') throw new FrontMatterError(`line ${line.no}: empty list items are not supported`, line.no);
      if (/^[^"'[{][^:]*:(\s|$)/.test(rest)) throw new FrontMatterError(`line ${line.no}: mappings inside lists are not supported`, line.no);
      items.push(parseScalarOrFlow(rest, line.no));
    }
    return items;
  }
  const map: Record<string, FrontMatterValue> = {};
  while (pos.i < lines.length && lines[pos.i]!.indent >= indent) {
    const line = lines[pos.i]!;
    if (line.indent > indent) throw new FrontMatterError(`line ${line.no}: unexpected indentation`, line.no);
    const m = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[A-Za-z0-9_][A-Za-z0-9_./-]*)\s*:(?:\s+(.*))?$/.exec(line.text);
    if (!m) throw new FrontMatterError(`line ${line.no}: expected "key: value", found "${clip(line.text)}"`, line.no);
    const key = m[1]!.startsWith('"') || m[1]!.startsWith("'") ? (parseScalarOrFlow(m[1]!, line.no) as string) : m[1]!.trim();
    if (Object.prototype.hasOwnProperty.call(map, key)) throw new FrontMatterError(`line ${line.no}: duplicate key "${key}"`, line.no);
    const value = stripComment(m[2] ?? '');
    pos.i++;
    if (value === '') {
      const next = lines[pos.i];
      if (next && (next.indent > indent || (next.indent === indent && (next.text === '-' || next.text.startsWith('- '))))) {
        map[key] = parseBlock(lines, pos, next.indent);
      } else {
        map[key] = '';
      }
    } else {
      map[key] = parseScalarOrFlow(value, line.no);
    }
  }
  return map;
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

/** Drops a ` # comment` after a value, outside quotes. */
function stripComment(value: string): string {
  let quote: string | null = null;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(value[i - 1]!))) return value.slice(0, i).trim();
  }
  return value.trim();
}

function parseScalarOrFlow(text: string, no: number): FrontMatterValue {
  const value = text.trim();
  if (value.startsWith('[')) {
    if (!value.endsWith(']')) throw new FrontMatterError(`line ${no}: a "[" list must end with "]" on the same line`, no);
    const inner = value.slice(1, -1).trim();
    if (inner === '') return [];
    return splitFlow(inner, no).map((item) => {
      if (item === '') throw new FrontMatterError(`line ${no}: empty item in a "[…]" list`, no);
      if (item.startsWith('[') || item.startsWith('{')) throw new FrontMatterError(`line ${no}: nested lists or mappings inside "[…]" are not supported`, no);
      return parseScalar(item, no);
    });
  }
  if (value.startsWith('{')) throw new FrontMatterError(`line ${no}: "{…}" mappings are not supported; write one "key: value" per line`, no);
  return parseScalar(value, no);
}

function splitFlow(inner: string, no: number): string[] {
  const items: string[] = [];
  let current = '';
  let quote: string | null = null;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!;
    if (quote) {
      current += c;
      if (c === '\\' && quote === '"' && i + 1 < inner.length) current += inner[++i];
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
      current += c;
    } else if (c === ',') {
      items.push(current.trim());
      current = '';
    } else current += c;
  }
  if (quote) throw new FrontMatterError(`line ${no}: unterminated ${quote === '"' ? 'double' : 'single'}-quoted string`, no);
  items.push(current.trim());
  return items;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', '/': '/', '0': '\0' };

function parseScalar(text: string, no: number): string {
  if (text.startsWith('"')) {
    let out = '';
    for (let i = 1; i < text.length; i++) {
      const c = text[i]!;
      if (c === '\\') {
        const e = text[++i];
        if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) {
          out += String.fromCharCode(parseInt(text.slice(i + 1, i + 5), 16));
          i += 4;
        } else if (e !== undefined && ESCAPES[e] !== undefined) out += ESCAPES[e];
        else throw new FrontMatterError(`line ${no}: unknown escape "\\${e ?? ''}" in a double-quoted string`, no);
      } else if (c === '"') {
        if (text.slice(i + 1).trim() !== '') throw new FrontMatterError(`line ${no}: unexpected text after a quoted string`, no);
        return out;
      } else out += c;
    }
    throw new FrontMatterError(`line ${no}: unterminated double-quoted string`, no);
  }
  if (text.startsWith("'")) {
    let out = '';
    for (let i = 1; i < text.length; i++) {
      const c = text[i]!;
      if (c === "'") {
        if (text[i + 1] === "'") {
          out += "'";
          i++;
          continue;
        }
        if (text.slice(i + 1).trim() !== '') throw new FrontMatterError(`line ${no}: unexpected text after a quoted string`, no);
        return out;
      }
      out += c;
    }
    throw new FrontMatterError(`line ${no}: unterminated single-quoted string`, no);
  }
  if (/^[&*!|>%@`]/.test(text)) throw new FrontMatterError(`line ${no}: "${text[0]}" (YAML anchors, tags, block scalars, directives) is not supported; quote the value`, no);
  if (/:\s/.test(text)) throw new FrontMatterError(`line ${no}: a plain value may not contain ": "; quote it`, no);
  return text;
}
