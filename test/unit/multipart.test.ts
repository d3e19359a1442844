import { describe, expect, it } from 'vitest';
import { MultipartError, multipartBoundary, readField, readMultipart } from '../../src/web/multipart.ts';

const BOUNDARY = '----gitokuBoundary7MA4YWxkTrZu0gW';

function body(parts: { name: string; filename?: string; type?: string; data: Buffer | string }[], boundary = BOUNDARY): Buffer {
  const chunks: Buffer[] = [Buffer.from('preamble to ignore\r\n')];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`));
    chunks.push(Buffer.from(p.data));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

async function* chunked(buf: Buffer, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function collect(source: AsyncIterable<Uint8Array>) {
  const out: { name: string; filename: string | null; type: string | null; data: Buffer }[] = [];
  for await (const part of readMultipart(source, BOUNDARY)) {
    const pieces: Buffer[] = [];
    for await (const c of part.body) pieces.push(Buffer.from(c));
    out.push({ name: part.name, filename: part.filename, type: part.contentType, data: Buffer.concat(pieces) });
  }
  return out;
}

describe('streaming multipart reader', () => {
  // A file whose bytes contain CRLFs, dashes and a near-boundary, to catch a delimiter split across chunks.
  const tricky = Buffer.concat([Buffer.from(`\r\n--${BOUNDARY.slice(0, -1)}x\r\n--\r\n`), Buffer.alloc(3000, 0x2d), Buffer.from([0, 13, 10, 255])]);
  const form = body([
    { name: '_csrf', data: 'token123' },
    { name: 'body', data: 'line 1\r\nline 2' },
    { name: 'asset', filename: 'a %22b%22.bin', type: 'application/octet-stream', data: tricky },
    { name: 'asset', filename: '', type: 'application/octet-stream', data: '' },
  ]);

  it('reads fields and files in order, whatever the chunk sizes', async () => {
    for (const size of [1, 2, 3, 7, 13, 64, 1000, form.length]) {
      const parts = await collect(chunked(form, size));
      expect(parts.map((p) => [p.name, p.filename]), `chunk ${size}`).toEqual([
        ['_csrf', null],
        ['body', null],
        ['asset', 'a "b".bin'],
        ['asset', ''],
      ]);
      expect(parts[0]!.data.toString()).toBe('token123');
      expect(parts[1]!.data.toString()).toBe('line 1\r\nline 2');
      expect(parts[2]!.data.equals(tricky), `chunk ${size}`).toBe(true);
      expect(parts[2]!.type).toBe('application/octet-stream');
      expect(parts[3]!.data.length).toBe(0);
    }
  });

  it('skips the unread rest of a part', async () => {
    const names: string[] = [];
    for await (const part of readMultipart(chunked(form, 5), BOUNDARY)) names.push(part.name);
    expect(names).toEqual(['_csrf', 'body', 'asset', 'asset']);
  });

  it('limits fields and rejects truncated or foreign bodies', async () => {
    const big = body([{ name: 'body', data: 'x'.repeat(100) }]);
    await expect(
      (async () => {
        for await (const part of readMultipart(chunked(big, 10), BOUNDARY)) await readField(part.body, 50);
      })(),
    ).rejects.toBeInstanceOf(MultipartError);
    await expect(collect(chunked(form.subarray(0, form.length - 60), 16))).rejects.toBeInstanceOf(MultipartError);
    await expect(collect(chunked(Buffer.from('no boundary here at all'), 4))).rejects.toBeInstanceOf(MultipartError);
  });

  it('parses the boundary from the content type', () => {
    expect(multipartBoundary(`multipart/form-data; boundary=${BOUNDARY}`)).toBe(BOUNDARY);
    expect(multipartBoundary('multipart/form-data; boundary="a b"')).toBe('a b');
    expect(multipartBoundary('application/x-www-form-urlencoded')).toBeNull();
    expect(multipartBoundary('multipart/form-data')).toBeNull();
  });
});
