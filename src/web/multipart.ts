/**
 * A streaming multipart/form-data reader (RFC 7578) for uploads that must never sit whole in memory:
 * parts come one at a time, in the order the browser sent them (form order), each with a body that is
 * itself a stream. A part's body must be read (or is skipped) before the next part is produced.
 */

export interface MultipartPart {
  /** The form field name. */
  name: string;
  /** The file name for file inputs (possibly ""), null for plain fields. */
  filename: string | null;
  contentType: string | null;
  body: AsyncIterable<Uint8Array>;
}

export class MultipartError extends Error {}

/** Upper bound on one part's header block: anything longer is not a browser's form. */
const MAX_HEADER_BYTES = 16 * 1024;

/** The boundary of a multipart/form-data Content-Type, or null. */
export function multipartBoundary(contentType: string | undefined): string | null {
  if (!contentType || !/^multipart\/form-data\s*;/i.test(contentType)) return null;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2]!) : null;
}

function parseHeaders(block: string): { name: string; filename: string | null; contentType: string | null } {
  let name: string | null = null;
  let filename: string | null = null;
  let contentType: string | null = null;
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === 'content-disposition') {
      if (!/^form-data\b/i.test(value)) throw new MultipartError('a part is not form-data');
      const n = /;\s*name="((?:[^"\\]|\\.)*)"/i.exec(value);
      const f = /;\s*filename="((?:[^"\\]|\\.)*)"/i.exec(value);
      // Browsers escape exactly ", CR and LF in these names as %22, %0D and %0A (the HTML form encoding).
      const unescape = (v: string) => v.replace(/\\(.)/g, '$1').replace(/%22/g, '"').replace(/%0D/gi, '\r').replace(/%0A/gi, '\n');
      name = n ? unescape(n[1]!) : null;
      filename = f ? unescape(f[1]!) : null;
    } else if (key === 'content-type') contentType = value;
  }
  if (name === null) throw new MultipartError('a part has no field name');
  return { name, filename, contentType };
}

/** Reads the parts of a multipart body lazily. */
export async function* readMultipart(source: AsyncIterable<Uint8Array>, boundary: string): AsyncGenerator<MultipartPart> {
  const iterator = source[Symbol.asyncIterator]();
  // The body's first boundary has no leading CRLF: prepend one so every delimiter looks alike.
  let buf: Buffer = Buffer.from('\r\n');
  let ended = false;
  const delimiter = Buffer.from(`\r\n--${boundary}`);

  const fill = async (): Promise<boolean> => {
    if (ended) return false;
    const r = await iterator.next();
    if (r.done) {
      ended = true;
      return false;
    }
    buf = buf.length ? Buffer.concat([buf, r.value]) : Buffer.from(r.value);
    return true;
  };

  // Preamble: everything up to the first delimiter is ignored.
  for (;;) {
    const at = buf.indexOf(delimiter);
    if (at >= 0) {
      buf = buf.subarray(at + delimiter.length);
      break;
    }
    buf = buf.subarray(Math.max(0, buf.length - delimiter.length));
    if (!(await fill())) throw new MultipartError('no multipart boundary in the body');
  }

  for (;;) {
    while (buf.length < 2) if (!(await fill())) throw new MultipartError('the body ended inside a boundary');
    if (buf[0] === 0x2d && buf[1] === 0x2d) return; // "--": the closing delimiter
    // Transport padding, then CRLF.
    let eol = buf.indexOf('\r\n');
    while (eol < 0) {
      if (buf.length > 1024 || !(await fill())) throw new MultipartError('malformed boundary line');
      eol = buf.indexOf('\r\n');
    }
    buf = buf.subarray(eol + 2);
    let headerEnd = buf.indexOf('\r\n\r\n');
    while (headerEnd < 0) {
      if (buf.length > MAX_HEADER_BYTES) throw new MultipartError('part headers are too long');
      if (!(await fill())) throw new MultipartError('the body ended inside part headers');
      headerEnd = buf.indexOf('\r\n\r\n');
    }
    const headers = parseHeaders(buf.subarray(0, headerEnd).toString('utf8'));
    buf = buf.subarray(headerEnd + 4);

    let done = false;
    /** The next piece of this part's body, or null at its end. */
    const next = async (): Promise<Buffer | null> => {
      while (!done) {
        const at = buf.indexOf(delimiter);
        if (at >= 0) {
          const chunk = buf.subarray(0, at);
          buf = buf.subarray(at + delimiter.length);
          done = true;
          return chunk.length ? chunk : null;
        }
        // Keep a tail that could be the start of the delimiter; hand out the rest.
        const keep = delimiter.length - 1;
        if (buf.length > keep) {
          const chunk = buf.subarray(0, buf.length - keep);
          buf = Buffer.from(buf.subarray(buf.length - keep));
          return chunk;
        }
        if (!(await fill())) throw new MultipartError('the body ended inside a part');
      }
      return null;
    };
    const body: AsyncIterable<Uint8Array> = {
      async *[Symbol.asyncIterator]() {
        for (let chunk = await next(); chunk; chunk = await next()) yield chunk;
      },
    };
    yield { ...headers, body };
    // Whatever the consumer left unread is skipped.
    while ((await next()) !== null);
  }
}

/** A plain field's value as text, refusing more than `limit` bytes. */
export async function readField(body: AsyncIterable<Uint8Array>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) throw new MultipartError(`a form field is larger than ${limit} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}
